"""FakeLLMServer: uvicorn in a daemon thread on a free port, usable with `with` and without pytest."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from fake_llm.core.journal import Journal
from fake_llm.http.app import create_app
from fake_llm.http.connections import guarded_protocol
from fake_llm.http.engine import FakeLLM
from fake_llm.model.spec import Scenario
from fake_llm.scenarios.loader import load_scenarios
from fake_llm.settings import Settings

#: Longest wait for the server thread to start or stop; a healthy server needs a few milliseconds.
STARTUP_TIMEOUT = 15.0


class _Server(uvicorn.Server):
    """uvicorn.Server that signals start-up through an Event, and stops at once when asked from another thread.

    uvicorn checks `should_exit` every 0.1 s and always sleeps 0.1 s in `shutdown`; a test suite that starts many
    servers pays that on every stop. Here the main loop wakes on a stop event, and an idle server (no open
    connection, no running request) closes without the sleep.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        await super().startup(sockets)
        self.ready.set()

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            assert self._wake is not None
            with contextlib.suppress(asyncio.TimeoutError):  # a tick passed: on_tick updates the date header
                await asyncio.wait_for(self._wake.wait(), 0.1)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.server_state.connections or self.server_state.tasks:
            await super().shutdown(sockets)  # the graceful path, with uvicorn's own waiting
            return
        for server in self.servers:
            server.close()
        for server in self.servers:
            await server.wait_closed()
        await self.lifespan.shutdown()

    def request_stop(self) -> None:
        """Ask the server to exit, from any thread."""
        self.should_exit = True
        if self._loop is not None and self._wake is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    def install_signal_handlers(self) -> None:  # pragma: no cover - uvicorn skips this off the main thread anyway
        pass


class FakeLLMServer:
    """A fake-llm server running in a background thread.

    >>> with FakeLLMServer(scenarios=["scenarios/"]) as server:  # doctest: +SKIP
    ...     openai.OpenAI(base_url=server.base_url, api_key="x")
    """

    def __init__(
        self,
        scenarios: Sequence[str | Path] | None = None,
        *,
        settings: Settings | None = None,
        rules: Any = None,
        **options: Any,
    ) -> None:
        """`scenarios`: files or folders to serve (none: no rules, add them with `add_rules`); `rules`: inline
        rules; `options`: any Settings field (`seed=1`, `time_scale=0`...). Port 0 (the default) picks a free port."""
        base = settings or Settings(port=0)
        if scenarios is not None:
            options["scenarios"] = tuple(str(s) for s in scenarios)
        self.settings = base.replace(**options)
        self.engine = FakeLLM.from_settings(self.settings, default_to_bundled=False)
        if rules is not None:
            self.engine.load_rules(rules, source="<rules>", share=False)
            self.engine.base_scenarios = self.engine.selector.scenarios
        self.app = create_app(engine=self.engine)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.port = 0

    # ------------------------------------------------------------------ life cycle

    def start(self) -> FakeLLMServer:
        """Bind, start serving in a daemon thread and return once requests can be answered."""
        if self._thread is not None:
            raise RuntimeError("this FakeLLMServer is already running")
        family = socket.AF_INET6 if ":" in self.settings.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.settings.host, self.settings.port))
        sock.listen(128)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self.engine.url = self.url
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            # The watcher, and a shared store's event-loop connections, start and end with the app's lifespan.
            lifespan="on" if self.settings.watch or self.settings.state != "memory" else "off",
            access_log=False,
            timeout_graceful_shutdown=min(2.0, self.settings.graceful_timeout),  # type: ignore[arg-type]
            timeout_keep_alive=self.settings.header_timeout,  # type: ignore[arg-type]
            http=guarded_protocol(
                header_timeout=self.settings.header_timeout, max_connections=self.settings.max_connections
            ),
        )
        self._server = _Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-llm", daemon=True
        )
        self._thread.start()
        if not self._server.ready.wait(STARTUP_TIMEOUT):
            self.stop()
            raise RuntimeError(f"fake-llm did not start within {STARTUP_TIMEOUT} s")
        return self

    def stop(self) -> None:
        """Stop serving and wait (bounded) for the thread to end."""
        if self._server is not None:
            self._server.request_stop()
        if self._thread is not None:
            self._thread.join(STARTUP_TIMEOUT)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses and control

    @property
    def url(self) -> str:
        """The server's root URL, e.g. `http://127.0.0.1:54321`."""
        host = f"[{self.settings.host}]" if ":" in self.settings.host else self.settings.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (`<url>/v1`), ready for `openai.OpenAI(base_url=...)`."""
        return self.url + "/v1"

    @property
    def journal(self) -> Journal:
        return self.engine.journal

    def session(self, name: str) -> FakeLLM:
        """The engine of the namespace that requests with `X-Fake-LLM-Session: name` use: its `journal`, `reset()`
        and rules are that session's own."""
        return self.engine.space(name)

    def add_rules(self, rules: Any, *, replace: bool = False) -> None:
        """Add rules: YAML text, a list of rule mappings, or a whole scenario mapping."""
        self.engine.load_rules(rules, replace=replace, source="<add_rules>")

    def load(self, *paths: str | Path, replace: bool = True) -> list[Scenario]:
        """Serve the scenario files or folders `paths` (replacing the current rules unless `replace=False`)."""
        loaded = load_scenarios(paths)
        self.engine.install(loaded, replace=replace)
        return loaded

    def activate(self, *scenarios: str) -> None:
        """Switch every scenario off except these (none given: switch every one back on). A name that is not loaded
        raises ValueError naming the loaded scenarios, rather than silently switching everything off."""
        names = {s.name for s in self.engine.selector.scenarios}
        unknown = [name for name in scenarios if name not in names]
        if unknown:
            raise ValueError(
                f"cannot activate unknown scenario {', '.join(map(repr, unknown))}; "
                f"loaded scenarios: {self.engine.selector.scenario_names()}"
            )
        self.engine.set_disabled(names - set(scenarios) if scenarios else ())

    @staticmethod
    def headers(*, scenario: str | None = None, session: str | None = None) -> dict[str, str]:
        """Request headers that pick a scenario and keep `replies:` sequences per session, for clients of a shared
        server: `openai.OpenAI(..., default_headers=server.headers(scenario="faults", session="test-1"))`."""
        headers = {}
        if scenario is not None:
            headers["X-Fake-LLM-Scenario"] = scenario
        if session is not None:
            headers["X-Fake-LLM-Session"] = session
        return headers

    def reset(self, *, rules: bool = True) -> None:
        """Clear the journal and rule counters; by default also drop rules added since start."""
        self.engine.reset(rules=rules)
