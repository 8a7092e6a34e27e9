"""`serve --workers N`: uvicorn's process manager over the socket the command bound; each worker process builds its
app with `worker_app` from the settings the parent checked and exported. Each worker enforces the connection limits
(header timeout, --max-connections) on its own connections and scrubs secrets from its own access log."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import socket
from functools import cache
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.supervisors import Multiprocess

from fake_llm.http import log_scrub
from fake_llm.http.app import create_app
from fake_llm.http.connections import guarded_protocol
from fake_llm.settings import Settings

#: Internal: how the parent hands its settings to the workers (they start as fresh interpreters).
SETTINGS_VARIABLE = "_FAKE_LLM_WORKER_SETTINGS"


def run_workers(settings: Settings, url: str, sock: socket.socket, workers: int, options: dict[str, Any]) -> None:
    """Serve with `workers` processes accepting on `sock` (the parent keeps it bound; a worker that dies is
    replaced), until the parent is stopped."""
    os.environ[SETTINGS_VARIABLE] = json.dumps({"settings": dataclasses.asdict(settings), "url": url})
    # uvicorn pickles the config into each worker, so the guarded protocol goes by its import path (the class
    # itself is built in the worker from the exported settings).
    config = uvicorn.Config(
        "fake_llm.http.workers:worker_app",
        factory=True,
        workers=workers,
        http="fake_llm.http.workers:worker_protocol",
        **options,
    )
    if "target" in inspect.signature(Multiprocess.__init__).parameters:  # pragma: no cover - uvicorn before 0.36
        Multiprocess(config, target=uvicorn.Server(config).run, sockets=[sock]).run()  # type: ignore[call-arg]
    else:
        Multiprocess(config, sockets=[sock]).run()


def _exported() -> tuple[Settings, str]:
    exported = json.loads(os.environ[SETTINGS_VARIABLE])
    data: dict[str, Any] = {
        name: tuple(value) if isinstance(value, list) else value for name, value in exported["settings"].items()
    }
    return Settings(**data), exported["url"]


def worker_app() -> Starlette:
    """One worker's app, from the settings the parent exported."""
    settings, url = _exported()
    log_scrub.install()  # a worker is a fresh interpreter: its loggers have no filters yet
    app = create_app(settings)
    app.state.fake_llm.url = url
    return app


@cache
def _protocol_class() -> type[Any]:
    settings, _ = _exported()
    return guarded_protocol(header_timeout=settings.header_timeout, max_connections=settings.max_connections)


def worker_protocol(**kwargs: Any) -> Any:
    """One connection's protocol in a worker: uvicorn calls this as its HTTP protocol class."""
    return _protocol_class()(**kwargs)
