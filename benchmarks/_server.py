"""One benchmark server in its own process: fake-llm, or a bare Starlette app that returns canned bytes.

    python benchmarks/_server.py fake --scenario FILE [--profile OUT.prof]
    python benchmarks/_server.py bare --mode json|sse --body FILE --headers FILE
    python benchmarks/_server.py bare --mode sse-timed --body FILE --headers FILE --schedule FILE
    (any of them with --loop asyncio: the standard library's event loop instead of uvloop)

Binds 127.0.0.1 on a free port (port 0), serves with uvicorn (uvloop + httptools when installed) and, once the
socket accepts connections, prints one line `READY {"port": ..., "pid": ..., "loop": ..., "http": ...}` on stdout.
SIGINT or SIGTERM stops it gracefully (and writes the cProfile dump when `--profile` is given).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import uvicorn

#: Settings shared by both sides of every comparison.
UVICORN_OPTIONS: dict[str, Any] = {"log_level": "warning", "access_log": False, "lifespan": "off"}


def _impl(kind: str, preferred: str) -> str:
    """`preferred` (uvloop / httptools) when importable, else uvicorn's pure-asyncio fallback."""
    if importlib.util.find_spec(preferred) is not None:
        return preferred
    return "asyncio" if kind == "loop" else "h11"


def fake_app(scenario: str) -> Any:
    from fake_llm.http.app import create_app
    from fake_llm.settings import Settings

    return create_app(Settings(scenarios=(scenario,), log_level="warning"))


def bare_app(mode: str, body_file: str, headers_file: str, schedule_file: str | None = None) -> Any:
    """A tiny Starlette app: one POST route answering the captured bytes, and a health route.

    `sse-timed` sends event k at `start + schedule[k]` ms on the monotonic clock (events due at the same moment in
    one `send`, as fake-llm does), `start` being taken once the response head is sent: the plainest way to pace a
    stream on this stack, for the timing run to compare fake-llm with."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    payload = Path(body_file).read_bytes()
    headers: dict[str, str] = json.loads(Path(headers_file).read_text())  # content-type included
    # SSE: one frame per event (every frame ends with a blank line), one `send` per event.
    events = [frame + b"\n\n" for frame in payload.split(b"\n\n") if frame]
    slots: list[tuple[float, bytes]] = []  # sse-timed: (due in s after the start, bytes due then)
    if schedule_file is not None:
        schedule: list[float] = json.loads(Path(schedule_file).read_text())
        if len(schedule) != len(events):
            raise SystemExit(f"the schedule has {len(schedule)} times for {len(events)} events")
        for at_ms, event in zip(schedule, events, strict=True):
            if slots and slots[-1][0] == at_ms / 1000:
                slots[-1] = (slots[-1][0], slots[-1][1] + event)
            else:
                slots.append((at_ms / 1000, event))

    async def chat(request: Request) -> Response:
        await request.body()
        if mode == "sse":

            async def stream() -> Any:
                for event in events:
                    yield event

            return StreamingResponse(stream(), headers=headers)
        if mode == "sse-timed":

            async def paced() -> Any:
                start = time.monotonic()
                for due, chunk in slots:
                    wait = start + due - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    yield chunk

            return StreamingResponse(paced(), headers=headers)
        return Response(payload, headers=headers)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[Route("/v1/chat/completions", chat, methods=["POST"]), Route("/health", health, methods=["GET"])]
    )


class _Server(uvicorn.Server):
    """Announces the port and the loop / HTTP implementations once it is accepting connections."""

    def __init__(self, config: uvicorn.Config, port: int) -> None:
        super().__init__(config)
        self.port = port

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        loop = type(asyncio.get_running_loop())
        protocol = self.config.http_protocol_class
        info = {
            "port": self.port,
            "pid": os.getpid(),
            "loop": f"{loop.__module__}.{loop.__qualname__}",
            "http": f"{protocol.__module__}.{protocol.__qualname__}",
        }
        print("READY " + json.dumps(info), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["fake", "bare"])
    parser.add_argument("--scenario", help="fake: the scenario file to serve")
    parser.add_argument(
        "--mode", choices=["json", "sse", "sse-timed"], default="json", help="bare: answer JSON, SSE or paced SSE"
    )
    parser.add_argument("--body", help="bare: file with the response body to replay")
    parser.add_argument("--headers", help="bare: JSON file with the response headers to replay")
    parser.add_argument("--schedule", help="bare sse-timed: JSON list, when each event is due (ms from the start)")
    parser.add_argument("--profile", help="write a cProfile dump of the server to this file on exit")
    parser.add_argument(
        "--loop", choices=["auto", "asyncio"], default="auto", help="auto: uvloop when installed; asyncio: never"
    )
    args = parser.parse_args(argv)

    if args.kind == "fake":
        if not args.scenario:
            parser.error("fake needs --scenario")
        app = fake_app(args.scenario)
    else:
        if not (args.body and args.headers):
            parser.error("bare needs --body and --headers")
        if (args.mode == "sse-timed") != bool(args.schedule):
            parser.error("--schedule goes with --mode sse-timed, and only with it")
        app = bare_app(args.mode, args.body, args.headers, args.schedule)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    loop = "asyncio" if args.loop == "asyncio" else _impl("loop", "uvloop")
    config = uvicorn.Config(app, loop=loop, http=_impl("http", "httptools"), **UVICORN_OPTIONS)
    server = _Server(config, sock.getsockname()[1])

    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        server.run(sockets=[sock])
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
