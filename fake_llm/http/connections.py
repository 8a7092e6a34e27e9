"""Connection limits for uvicorn: a header timeout and a cap on open connections that sheds idle sockets first, so
clients that connect and send nothing cannot lock everyone else out (issue 11, finding 8).

uvicorn has `timeout_keep_alive` (idle time between requests) but no timeout for the first request's headers, and
its `limit_concurrency` answers 503 to the *new* client while idle sockets keep their slots. This protocol subclass
closes a connection that has not sent complete request headers within `header_timeout`, and when more than
`max_connections` are open it closes the oldest idle one (no request in flight) to make room.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("fake_llm")


def _base_protocol() -> type[Any]:
    """httptools' protocol when installed (uvicorn's own `auto` choice), else h11's."""
    if importlib.util.find_spec("httptools") is not None:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return HttpToolsProtocol
    return H11Protocol  # pragma: no cover - uvicorn[standard] brings httptools


def guarded_protocol(*, header_timeout: float, max_connections: int, base: type[Any] | None = None) -> type[Any]:
    """An uvicorn HTTP protocol class enforcing `header_timeout` and `max_connections` (pass it as `http=`)."""
    parent = base or _base_protocol()

    class GuardedProtocol(parent):  # type: ignore[misc, valid-type]
        _fake_llm_timer: asyncio.TimerHandle | None = None
        _fake_llm_opened = 0.0

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            self._fake_llm_opened = self.loop.time()
            self._fake_llm_timer = self.loop.call_later(header_timeout, self._fake_llm_header_timeout)
            if len(self.connections) > max_connections:
                self._fake_llm_shed()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._fake_llm_timer is not None:
                self._fake_llm_timer.cancel()
            super().connection_lost(exc)

        def _fake_llm_header_timeout(self) -> None:
            self._fake_llm_timer = None
            if self.cycle is None and not self.transport.is_closing():
                log.info("closing a connection that sent no request headers within %g s", header_timeout)
                self.transport.close()

        def _fake_llm_idle(self) -> bool:
            cycle = self.cycle
            return cycle is None or (cycle.response_complete and not self.pipeline)

        def _fake_llm_shed(self) -> None:
            idle = [c for c in self.connections if c is not self and getattr(c, "_fake_llm_idle", lambda: False)()]
            victim = min(idle, key=lambda c: c._fake_llm_opened) if idle else self
            log.warning(
                "more than %d open connections: closing %s", max_connections, "an idle one" if idle else "the new one"
            )
            victim.transport.close()

    return GuardedProtocol
