"""Server-sent events: framing, and an ASGI response that sends events at their scheduled times.

We frame SSE ourselves (it is two lines per event) because fault scripts need byte-level control over every write,
and because undelayed events are coalesced into one write, which a per-event SSE library cannot do.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from starlette.types import Message, Receive, Scope, Send

SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "connection": "keep-alive"}


@dataclass(frozen=True, slots=True)
class Event:
    """One SSE event: its `data:` payload, optional `event:` name, and the completion tokens it carries."""

    data: str
    event: str | None = None
    tokens: int = 0
    #: Milliseconds after the start of the stream at which the event is due (0 = at once).
    at_ms: float = 0.0

    def frame(self) -> bytes:
        """The event on the wire; every event, the last one included, ends with a blank line (wire-format §1.3)."""
        head = f"event: {self.event}\n" if self.event else ""
        return f"{head}data: {self.data}\n\n".encode()


class EventStreamResponse:
    """Sends `events` as `text/event-stream`, each at `start + at_ms * time_scale`, measured on a monotonic clock.

    Events due at the same moment go out in one write. Delays are scheduled against the start time, so no
    drift accumulates along a long stream. If the client goes away the response stops at once and leaves
    no task behind.
    """

    def __init__(
        self,
        events: Sequence[Event],
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        time_scale: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.events = events
        self.status_code = status_code
        self.headers = {**SSE_HEADERS, **(headers or {})}
        self.time_scale = time_scale
        self.sleep = sleep
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()],
            }
        )
        writer = asyncio.ensure_future(self._write(send))
        watcher = asyncio.ensure_future(_wait_for_disconnect(receive))
        try:
            done, _ = await asyncio.wait({writer, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (writer, watcher):
                task.cancel()
            await asyncio.gather(writer, watcher, return_exceptions=True)
        if writer in done:
            writer.result()  # re-raise a failure of the writer

    async def _write(self, send: Send) -> None:
        start = self.clock()
        pending: list[bytes] = []
        for event in self.events:
            due = start + event.at_ms * self.time_scale / 1000.0
            wait = due - self.clock()
            if wait > 0:
                if pending:
                    await send({"type": "http.response.body", "body": b"".join(pending), "more_body": True})
                    pending = []
                await self.sleep(wait)
            pending.append(event.frame())
        await send({"type": "http.response.body", "body": b"".join(pending), "more_body": False})


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return
