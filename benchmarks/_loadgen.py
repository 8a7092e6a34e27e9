"""The built-in load generator (used when `wrk` is not installed, and always for count-bounded runs).

    python benchmarks/_loadgen.py --port P --body FILE [--body FILE2 ...] (--duration S | --requests N)

N keep-alive HTTP/1.1 connections (raw asyncio protocols, on uvloop when installed), one request in flight per
connection, each response read in full: Content-Length bodies, or chunked bodies up to the terminal 0-chunk.
Bodies rotate request by request; with `--vary`, `@N@` in a body is replaced by the request number. Prints one
JSON line: {"completed", "errors", "statuses", "elapsed", "rps"}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

PATH = "/v1/chat/completions"


class Run:
    """Shared state of one run: which request goes next, when to stop, what came back."""

    def __init__(self, port: int, bodies: list[bytes], *, vary: bool, duration: float | None, requests: int | None):
        self.host = f"127.0.0.1:{port}"
        self.bodies = bodies
        self.vary = vary
        self.requests = requests
        self.start = time.monotonic()
        self.end = self.start + duration if duration is not None else float("inf")
        self.issued = 0
        self.completed = 0
        self.errors = 0
        self.statuses: dict[int, int] = {}
        self.last_done = self.start
        self.prebuilt = [self._request(body) for body in bodies]

    def _request(self, body: bytes) -> bytes:
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer sk-bench\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    def next_request(self) -> bytes | None:
        if (self.requests is not None and self.issued >= self.requests) or time.monotonic() >= self.end:
            return None
        n = self.issued
        self.issued += 1
        index = n % len(self.bodies)
        if self.vary:
            return self._request(self.bodies[index].replace(b"@N@", str(n).encode()))
        return self.prebuilt[index]

    def record(self, status: int) -> None:
        self.completed += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status != 200:
            self.errors += 1
        self.last_done = time.monotonic()


_HEAD, _BODY, _CHUNKED = 0, 1, 2


class Client(asyncio.Protocol):
    """One keep-alive connection: send a request, parse the whole response, send the next one."""

    def __init__(self, run: Run, done: asyncio.Future[None]) -> None:
        self.run = run
        self.done = done
        self.buf = bytearray()
        self.state = _HEAD
        self.status = 0
        self.remaining = 0
        self.in_flight = False
        self.transport: Any = None  # uvloop's transports do not derive from asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self._send_next()

    def _send_next(self) -> None:
        request = self.run.next_request()
        if request is None:
            self.in_flight = False
            self.transport.close()
            return
        self.in_flight = True
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        try:
            while self._parse():
                self.run.record(self.status)
                self._send_next()
                if not self.in_flight:
                    return
        except ValueError as exc:  # a malformed response: fail the run at once
            if not self.done.done():
                self.done.set_exception(exc)
            self.in_flight = False
            self.transport.close()

    def _parse(self) -> bool:
        """Consume what is buffered; True once a whole response has been read."""
        buf = self.buf
        if self.state == _HEAD:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return False
            head = bytes(buf[:end]).lower()
            del buf[: end + 4]
            self.status = int(head[9:12])
            if b"\r\ntransfer-encoding: chunked" in head:
                self.state = _CHUNKED
            else:
                at = head.find(b"\r\ncontent-length:")
                if at < 0:
                    raise ValueError("response without Content-Length or chunked encoding")
                stop = head.find(b"\r\n", at + 2)
                self.remaining = int(head[at + 17 : stop if stop >= 0 else len(head)])
                self.state = _BODY
        if self.state == _BODY:
            if len(buf) < self.remaining:
                return False
            del buf[: self.remaining]
            self.state = _HEAD
            return True
        while True:  # _CHUNKED: size line, data, CRLF; the 0-chunk (no trailers) ends the body
            line_end = buf.find(b"\r\n")
            if line_end < 0:
                return False
            size = int(bytes(buf[:line_end]).split(b";")[0], 16)
            if len(buf) < line_end + 2 + size + 2:
                return False
            del buf[: line_end + 2 + size + 2]
            if size == 0:
                self.state = _HEAD
                return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.in_flight:  # the server closed the connection in the middle of a response
            self.run.errors += 1
        if not self.done.done():
            self.done.set_result(None)


async def run_load(
    port: int, bodies: list[bytes], connections: int, *, vary: bool, duration: float | None, requests: int | None
) -> Run:
    loop = asyncio.get_running_loop()
    run = Run(port, bodies, vary=vary, duration=duration, requests=requests)
    waiters = []
    for _ in range(connections):
        done: asyncio.Future[None] = loop.create_future()
        await loop.create_connection(lambda done=done: Client(run, done), "127.0.0.1", port)  # type: ignore[misc]
        waiters.append(done)
    # Bounded: a time-limited run ends shortly after its deadline; a count-limited one gets a generous cap.
    timeout = (duration or 0) + 30 if requests is None else 60 + requests / 100
    await asyncio.wait_for(asyncio.gather(*waiters), timeout)
    return run


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    bodies = [Path(p).read_bytes() for p in args.body]
    if args.warmup > 0:
        await run_load(args.port, bodies, args.connections, vary=args.vary, duration=args.warmup, requests=None)
    run = await run_load(
        args.port, bodies, args.connections, vary=args.vary, duration=args.duration, requests=args.requests
    )
    elapsed = max(run.last_done - run.start, 1e-9)
    return {
        "completed": run.completed,
        "errors": run.errors,
        "statuses": run.statuses,
        "elapsed": elapsed,
        "rps": run.completed / elapsed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body", action="append", required=True, help="request body file (repeatable: rotated)")
    parser.add_argument("--connections", type=int, default=32)
    limit = parser.add_mutually_exclusive_group(required=True)
    limit.add_argument("--duration", type=float, help="seconds to send requests for")
    limit.add_argument("--requests", type=int, help="number of requests to send")
    parser.add_argument("--warmup", type=float, default=0.0, help="seconds of unmeasured load first")
    parser.add_argument("--vary", action="store_true", help="replace @N@ in bodies by the request number")
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
