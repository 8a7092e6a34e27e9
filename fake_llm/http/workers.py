"""`serve --workers N`: uvicorn's process manager over the socket the command bound; each worker process builds its
app with `worker_app` from the settings the parent checked and exported."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import socket
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.supervisors import Multiprocess

from fake_llm.http.app import create_app
from fake_llm.settings import Settings

#: Internal: how the parent hands its settings to the workers (they start as fresh interpreters).
SETTINGS_VARIABLE = "_FAKE_LLM_WORKER_SETTINGS"


def run_workers(settings: Settings, url: str, sock: socket.socket, workers: int, options: dict[str, Any]) -> None:
    """Serve with `workers` processes accepting on `sock` (the parent keeps it bound; a worker that dies is
    replaced), until the parent is stopped."""
    os.environ[SETTINGS_VARIABLE] = json.dumps({"settings": dataclasses.asdict(settings), "url": url})
    config = uvicorn.Config("fake_llm.http.workers:worker_app", factory=True, workers=workers, **options)
    if "target" in inspect.signature(Multiprocess.__init__).parameters:  # pragma: no cover - uvicorn before 0.36
        Multiprocess(config, target=uvicorn.Server(config).run, sockets=[sock]).run()  # type: ignore[call-arg]
    else:
        Multiprocess(config, sockets=[sock]).run()


def worker_app() -> Starlette:
    """One worker's app, from the settings the parent exported."""
    exported = json.loads(os.environ[SETTINGS_VARIABLE])
    data: dict[str, Any] = {
        name: tuple(value) if isinstance(value, list) else value for name, value in exported["settings"].items()
    }
    app = create_app(Settings(**data))
    app.state.fake_llm.url = exported["url"]
    return app
