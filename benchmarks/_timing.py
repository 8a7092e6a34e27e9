"""The timing-accuracy client: N concurrent streaming requests, the arrival time of every SSE event.

    python benchmarks/_timing.py --port P --body FILE --streams N [--warmup N] [--timeout S]

Opens N HTTP/1.1 connections to 127.0.0.1 (raw asyncio protocols, on uvloop when installed), then sends one
streaming request on each, all in the same loop iteration; `@N@` in the body becomes the stream number (`w0`, `w1`...
for the unmeasured warm-up streams, sent first, together). Each response is read incrementally: the chunked transfer
encoding is decoded as bytes arrive and an SSE event is complete when its blank line arrives. Every event is stamped
with time.monotonic() at the `data_received` call that completed it. Prints one JSON line:

    {"loop": ..., "streams": [{"n": "0", "status": 200, "sent": s, "headers_ms": ms, "events_ms": [ms, ...],
      "complete": bool}, ...]}

`sent` is the monotonic time the request was written; `headers_ms` and `events_ms` are milliseconds after `sent`
(headers: when the whole response head had arrived).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

PATH = "/v1/chat/completions"
#: The end of an SSE event: a blank line, whatever the line ending.
EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")

_HEAD, _CHUNKED, _DONE = 0, 1, 2


class Stream(asyncio.Protocol):
    """One connection, one streaming request; records when the head and each SSE event arrive."""

    def __init__(self, name: str, request: bytes, done: asyncio.Future[None]) -> None:
        self.name = name
        self.request = request
        self.done = done
        self.transport: Any = None  # uvloop's transports do not derive from asyncio.Transport
        self.raw = bytearray()  # bytes as received, not yet decoded
        self.body = bytearray()  # decoded body bytes not yet cut into events
        self.state = _HEAD
        self.status = 0
        self.sent = 0.0
        self.headers_at = 0.0
        self.events: list[float] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def send(self) -> None:
        self.sent = time.monotonic()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.raw += data
        try:
            self._parse(now)
        except ValueError as exc:
            self._finish(exc)

    def _parse(self, now: float) -> None:
        raw = self.raw
        if self.state == _HEAD:
            end = raw.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(raw[:end]).lower()
            del raw[: end + 4]
            self.status = int(head[9:12])
            self.headers_at = now
            if b"\r\ntransfer-encoding: chunked" not in head:
                raise ValueError(f"stream {self.name}: status {self.status}, not a chunked response: {head[:200]!r}")
            self.state = _CHUNKED
        while self.state == _CHUNKED:  # size line, data, CRLF; the 0-chunk (no trailers) ends the body
            line_end = raw.find(b"\r\n")
            if line_end < 0:
                break
            size = int(bytes(raw[:line_end]).split(b";")[0], 16)
            if len(raw) < line_end + 2 + size + 2:
                break
            self.body += raw[line_end + 2 : line_end + 2 + size]
            del raw[: line_end + 2 + size + 2]
            if size == 0:
                self.state = _DONE
        while (match := EVENT_END.search(self.body)) is not None:
            self.events.append(now)
            del self.body[: match.end()]
        if self.state == _DONE:
            self._finish(None)

    def _finish(self, exc: Exception | None) -> None:
        if not self.done.done():
            if exc is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(exc)
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():  # closed before the end of the body: reported as incomplete
            self.done.set_result(None)

    def result(self) -> dict[str, Any]:
        return {
            "n": self.name,
            "status": self.status,
            "sent": self.sent,
            "headers_ms": (self.headers_at - self.sent) * 1000 if self.headers_at else None,
            "events_ms": [(t - self.sent) * 1000 for t in self.events],
            "complete": self.state == _DONE and not self.body.strip(),
        }


def _request(port: int, body: bytes) -> bytes:
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer sk-bench\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def run_streams(port: int, body: bytes, names: list[str], timeout: float) -> list[Stream]:
    """Connect all, then send every request in one go; wait (bounded) until every response has ended."""
    loop = asyncio.get_running_loop()
    streams: list[Stream] = []
    for name in names:
        done: asyncio.Future[None] = loop.create_future()
        stream = Stream(name, _request(port, body.replace(b"@N@", name.encode())), done)
        await asyncio.wait_for(loop.create_connection(lambda s=stream: s, "127.0.0.1", port), 10)  # type: ignore[misc]
        streams.append(stream)
    for stream in streams:
        stream.send()
    try:
        await asyncio.wait_for(asyncio.gather(*(s.done for s in streams)), timeout)
    finally:
        for stream in streams:
            stream.transport.close()
    return streams


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    body = Path(args.body).read_bytes()
    if args.warmup > 0:
        await run_streams(args.port, body, [f"w{i}" for i in range(args.warmup)], args.timeout)
    streams = await run_streams(args.port, body, [str(i) for i in range(args.streams)], args.timeout)
    loop = type(asyncio.get_running_loop())
    return {"loop": f"{loop.__module__}.{loop.__qualname__}", "streams": [s.result() for s in streams]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body", required=True, help="request body file; @N@ is replaced by the stream number")
    parser.add_argument("--streams", type=int, required=True, help="concurrent streams to measure")
    parser.add_argument("--warmup", type=int, default=0, help="unmeasured concurrent streams sent first")
    parser.add_argument("--timeout", type=float, default=60.0, help="longest wait for a group of streams, s")
    args = parser.parse_args(argv)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(main_async(args))
    else:
        result = uvloop.run(main_async(args))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
