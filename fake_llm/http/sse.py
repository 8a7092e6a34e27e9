"""Sending bytes on time: SSE framing, the event-stream response, and delayed or hanging responses.

We frame SSE ourselves (two lines per event) because fault scripts need byte-level control over every write, and
because undelayed events are coalesced into one write, which a per-event SSE library cannot do. Every delay in
fake-llm happens in this module, scaled by the server's time_scale.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fake_llm.model.stream import Event

SSE_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "connection": "keep-alive",
}
#: Ollama streams bare JSON lines (NDJSON): no `data:` prefix, no blank line between objects.
NDJSON_HEADERS = {"content-type": "application/x-ndjson"}

Sleep = Callable[[float], Awaitable[None]]


def split_bytes(frame: bytes, parts: int, *, inside_utf8: bool = False) -> list[bytes]:
    """`frame` cut into `parts` pieces; with `inside_utf8`, the first cut falls inside a multi-byte character."""
    cuts = [len(frame) * i // parts for i in range(1, parts)]
    if inside_utf8:
        multibyte = next((i for i, b in enumerate(frame) if b >= 0xC0), None)
        if multibyte is not None:
            cuts[0] = multibyte + 1
            cuts = sorted(set(cuts))
    edges = [0, *cuts, len(frame)]
    return [frame[a:b] for a, b in itertools.pairwise(edges) if b > a]


class ScriptedDisconnect(Exception):
    """Raised to make the server drop the connection mid-stream (the `disconnect_after` fault)."""


class _QuietScriptedDisconnects(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ScriptedDisconnect))


def silence_scripted_disconnects() -> None:
    """Keep uvicorn from logging a scripted disconnect as an application error (idempotent)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietScriptedDisconnects) for f in logger.filters):
        logger.addFilter(_QuietScriptedDisconnects())


class EventStreamResponse:
    """Sends `events` as `text/event-stream`, each at `start + at_ms * time_scale` on a monotonic clock.

    Events due at the same moment go out in one write; delays are scheduled against the start time, so no drift
    accumulates along a long stream. If the client goes away the response stops at once and leaves no task behind.
    With `abort`, the connection is dropped after the last event instead of ending the body.
    """

    def __init__(
        self,
        events: Sequence[Event],
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        time_scale: float = 1.0,
        line_ending: str = "\n",
        abort: bool = False,
        on_close: Callable[[str], None] | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        ndjson: bool = False,
    ) -> None:
        self.events = events
        self.status_code = status_code
        self.ndjson = ndjson
        self.headers = {**(NDJSON_HEADERS if ndjson else SSE_HEADERS), **(headers or {})}
        self.time_scale = time_scale
        self.line_ending = line_ending
        self.abort = abort
        self.on_close = on_close
        self.sleep = sleep
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.abort and all(e.at_ms * self.time_scale <= 0 and e.parts == 1 for e in self.events):
            # Nothing to wait for between events: one write, and no watcher task needed (the fast path of
            # zero-delay streams, which test suites with time_scale 0 take all the time).
            await send(_start(self.status_code, self.headers))
            body = b"".join(event.frame(self.line_ending, ndjson=self.ndjson) for event in self.events)
            await send({"type": "http.response.body", "body": body, "more_body": False})
            if self.on_close is not None:
                self.on_close("completed")
            return
        outcome = "client disconnected"
        try:
            await send(_start(self.status_code, self.headers))
            # The schedule starts when the headers go out, not when the writer task first runs: under a burst of
            # requests the writer may be queued behind every other request, and the whole stream would run late.
            start = self.clock()
            if await until_done_or_disconnect(self._write(send, start), receive):
                outcome = "disconnected (scripted)" if self.abort else "completed"
        finally:
            if self.on_close is not None:
                self.on_close(outcome)
        if self.abort and outcome != "client disconnected":
            raise ScriptedDisconnect("scripted disconnect_after fault")

    async def _write(self, send: Send, start: float) -> None:
        pending: list[bytes] = []
        for event in self.events:
            wait = start + event.at_ms * self.time_scale / 1000.0 - self.clock()
            if wait > 0 or event.parts > 1:
                if pending:
                    await send({"type": "http.response.body", "body": b"".join(pending), "more_body": True})
                    pending = []
                if wait > 0:
                    await self.sleep(wait)
            frame = event.frame(self.line_ending, ndjson=self.ndjson)
            if event.parts > 1:
                for piece in split_bytes(frame, event.parts, inside_utf8=event.split_utf8):
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
                    await asyncio.sleep(0)  # let each piece leave as its own write
            else:
                pending.append(frame)
        await send({"type": "http.response.body", "body": b"".join(pending), "more_body": self.abort})


class DelayedResponse:
    """Waits `delay_s` (or until the client leaves) before handing over to `inner`."""

    def __init__(self, inner: ASGIApp, delay_s: float, sleep: Sleep = asyncio.sleep) -> None:
        self.inner = inner
        self.delay_s = delay_s
        self.sleep = sleep

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if await until_done_or_disconnect(self.sleep(self.delay_s), receive):
            await self.inner(scope, receive, send)


class HangResponse:
    """Never answers, until the client gives up or `max_s` passes; then answers with `timeout_reply`."""

    def __init__(self, max_s: float, timeout_reply: ASGIApp, sleep: Sleep = asyncio.sleep) -> None:
        self.max_s = max_s
        self.timeout_reply = timeout_reply
        self.sleep = sleep

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if await until_done_or_disconnect(self.sleep(self.max_s), receive):
            await self.timeout_reply(scope, receive, send)


def _start(status: int, headers: Mapping[str, str]) -> Message:
    return {
        "type": "http.response.start",
        "status": status,
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
    }


async def until_done_or_disconnect(work: Awaitable[None], receive: Receive) -> bool:
    """Run `work` while watching for the client to disconnect; True if `work` finished first.

    Both tasks are always cancelled and awaited, so nothing outlives the request.
    """
    worker = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_wait_for_disconnect(receive))
    try:
        done, _ = await asyncio.wait({worker, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (worker, watcher):
            task.cancel()
        await asyncio.gather(worker, watcher, return_exceptions=True)
    if worker in done:
        worker.result()  # re-raise a failure of the work itself
        return True
    return False


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return


def json_array(events: Sequence[Event], *, closed: bool = True) -> list[Event]:
    """`events` as one JSON array sent element by element, as Google streams `streamGenerateContent` without
    `alt=sse`: `[` before the first element, `\r\n,` between elements, `]` at the end (left out when the stream is
    cut). Comments (keep-alives) have no place in JSON and are dropped."""
    out: list[Event] = []
    for event in events:
        if event.kind == "comment":
            continue
        out.append(dataclasses.replace(event, data=("[" if not out else "\r\n,") + event.data, raw=True))
    if closed:
        out.append(Event("]" if out else "[]", kind="done", at_ms=out[-1].at_ms if out else 0.0, raw=True))
    return out
