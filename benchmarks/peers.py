"""fake-llm against its peers, one after another under identical load: `make bench-peers`.

    .venv/bin/python benchmarks/peers.py [--duration S] [--rounds N] [--connections N] [--aimock-version V]

Servers, each alone on the first CPU (the load generator on the others), on 127.0.0.1 only:
  - bare Starlette on the standard asyncio loop, and on uvloop (both uvicorn + httptools): one POST route replaying
    fake-llm's own answer bytes, the ceiling of our stack;
  - aimock (CopilotKit, Node), installed from npm into a temporary folder (skipped, saying so, without npm), serving
    one JSON fixture with the same 220-character reply cut into the same 20 content chunks (`--chunk-size 11`);
  - fake-llm with every feature on (journal, matching, validation, CORS, ids), the bench scenario of bench.py.
Each is loaded with a non-stream chat completion and a zero-delay 20-chunk stream (wrk -t1 when installed, else
benchmarks/_loadgen.py), best of --rounds runs, and the table gives req/s, requests per server CPU-second (what
other load on a shared machine moves least), resident memory, and fake-llm's ratios to aimock and to bare uvloop.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import bench
from bench import CONTENT, REQUEST, STREAM_CHUNKS, HarnessError, LoadGen, Server

AIMOCK_PACKAGE = "@copilotkit/aimock"
AIMOCK_VERSION = "1.43.0"


@dataclass
class Result:
    name: str
    rps: dict[str, float] = field(default_factory=dict)
    per_cpu: dict[str, float] = field(default_factory=dict)
    rss_mib: float = 0.0


def install_aimock(version: str, into: Path) -> Path | None:
    """aimock's CLI script, installed from npm into `into`; None (with the reason printed) when that cannot be."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        print("aimock: skipped, npm/node are not installed (apt-get install nodejs npm to include it)")
        return None
    cmd = [npm, "install", "--prefix", str(into), "--no-audit", "--no-fund", "--silent", f"{AIMOCK_PACKAGE}@{version}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    cli = into / "node_modules" / AIMOCK_PACKAGE / "dist" / "cli.js"
    if done.returncode != 0 or not cli.exists():
        print(f"aimock: skipped, npm install failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        return None
    print(f"aimock: {AIMOCK_PACKAGE}@{version} from npm, node {_node_version()}")
    return cli


def _node_version() -> str:
    return subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def aimock_server(cli: Path, workdir: Path, cpus: set[int] | None) -> Iterator[Server]:
    """aimock on 127.0.0.1 with one catch-all fixture replying CONTENT in STREAM_CHUNKS chunks, pinned to `cpus`."""
    fixtures = workdir / "aimock-fixtures.json"
    fixture = {"match": {"userMessage": "benchmark"}, "response": {"content": CONTENT}}
    fixtures.write_text(json.dumps({"fixtures": [fixture]}))
    chunk = -(-len(CONTENT) // STREAM_CHUNKS)
    port = _free_port()
    cmd = ["node", str(cli), "-p", str(port), "-h", "127.0.0.1", "-f", str(fixtures), "-c", str(chunk)]
    stderr_path = workdir / "aimock.stderr"

    def pin() -> None:  # before exec, so that every thread node starts inherits the CPU set
        if cpus:
            os.sched_setaffinity(0, cpus)

    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [*cmd, "--log-level", "silent"], stdout=subprocess.DEVNULL, stderr=stderr, preexec_fn=pin
        )
    try:
        bench._wait_healthy(port, "/health", proc, time.monotonic() + bench.READY_TIMEOUT)
        yield Server(proc, port, {"loop": "node", "http": "node:http"}, stderr_path)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def measure(name: str, srv: Server, bodies: dict[str, Path], loadgen: LoadGen, opts: argparse.Namespace) -> Result:
    """Best req/s and requests per CPU-second of `srv` for each body, over `opts.rounds` runs after a warm-up."""
    result = Result(name)
    for kind, body in bodies.items():
        _check_answer(name, kind, srv.port, body)
        loadgen.timed(srv.port, body, opts.warmup)
        for _ in range(opts.rounds):
            before = bench.cpu_seconds(srv.pid)
            run = loadgen.timed(srv.port, body, opts.duration)
            cpu = max(bench.cpu_seconds(srv.pid) - before, 1e-9)
            result.rps[kind] = max(result.rps.get(kind, 0.0), run.rps)
            result.per_cpu[kind] = max(result.per_cpu.get(kind, 0.0), run.completed / cpu)
            print(f"  {name:22s} {kind:10s} {run.rps:8.0f} req/s, {run.completed / cpu:8.0f} per CPU-s", flush=True)
    result.rss_mib = bench.rss_kib(srv.pid) / 1024
    return result


def _check_answer(name: str, kind: str, port: int, body: Path) -> None:
    """Every server must really answer the benchmark request: a 200, and a stream of STREAM_CHUNKS content chunks."""
    status, _, payload = bench.post(port, body.read_bytes())
    if status != 200:
        raise HarnessError(f"{name} answered {status} to the {kind} request: {payload[:300]!r}")
    if kind == "stream" and bench.content_chunks(payload) != STREAM_CHUNKS:
        raise HarnessError(f"{name}'s stream has {bench.content_chunks(payload)} content chunks, not {STREAM_CHUNKS}")


def run(opts: argparse.Namespace) -> list[Result]:
    cpus = sorted(os.sched_getaffinity(0))
    pin = len(cpus) >= 2 and not opts.no_pin
    server_cpus, load_cpus = ({cpus[0]}, set(cpus[1:])) if pin else (None, None)
    kind = "wrk" if shutil.which("wrk") else "python"
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="fake-llm-peers-") as tmp:
        workdir = Path(tmp)
        loadgen = LoadGen(kind, opts.connections, workdir, load_cpus)
        print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; python {platform.python_version()}")
        print(f"  on {platform.platform()}, {os.cpu_count()} CPUs; load generator: {loadgen.describe()}")
        where = f"servers on CPU {cpus[0]}, load on {sorted(load_cpus or [])}" if pin else "no pinning"
        print(f"  {opts.duration:g} s runs after {opts.warmup:g} s warm-up, best of {opts.rounds}; {where}")
        bodies = {"non-stream": workdir / "request.json", "stream": workdir / "request-stream.json"}
        bodies["non-stream"].write_text(json.dumps(REQUEST))
        bodies["stream"].write_text(json.dumps({**REQUEST, "stream": True}))
        scenario = workdir / "bench.yaml"
        scenario.write_text(bench.SCENARIO)
        cli = install_aimock(opts.aimock_version, workdir / "aimock")

        with bench.server(["fake", "--scenario", str(scenario)], "/_fake/health", workdir, server_cpus) as fake:
            json_body, json_headers, _ = bench.capture(fake.port, bodies["non-stream"].read_bytes(), workdir, "json")
            sse_body, sse_headers, _ = bench.capture(fake.port, bodies["stream"].read_bytes(), workdir, "sse")
        replay = {"json": (json_body, json_headers), "sse": (sse_body, sse_headers)}
        for loop in ("asyncio", "uvloop"):
            merged = Result(f"bare Starlette {loop}")
            for mode, kind_ in (("json", "non-stream"), ("sse", "stream")):
                payload, headers = replay[mode]
                args = ["bare", "--mode", mode, "--body", str(payload), "--headers", str(headers)]
                args += ["--loop", "asyncio"] if loop == "asyncio" else []
                with bench.server(args, "/health", workdir, server_cpus) as srv:
                    part = measure(merged.name, srv, {kind_: bodies[kind_]}, loadgen, opts)
                merged.rps.update(part.rps)
                merged.per_cpu.update(part.per_cpu)
                merged.rss_mib = max(merged.rss_mib, part.rss_mib)
            results.append(merged)
        if cli is not None:
            with aimock_server(cli, workdir, server_cpus) as srv:
                results.append(measure(f"aimock {opts.aimock_version}", srv, bodies, loadgen, opts))
        with bench.server(["fake", "--scenario", str(scenario)], "/_fake/health", workdir, server_cpus) as fake:
            results.append(measure("fake-llm", fake, bodies, loadgen, opts))
    return results


def table(results: list[Result]) -> str:
    """A Markdown table of every server, then fake-llm's ratios to aimock and to bare uvloop Starlette."""
    lines = [
        "| server | non-stream req/s | per CPU-s | zero-delay streams/s | per CPU-s | RSS MiB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        cells = [f"{r.rps.get(k, 0):,.0f} | {r.per_cpu.get(k, 0):,.0f}" for k in ("non-stream", "stream")]
        lines.append(f"| {r.name} | {cells[0]} | {cells[1]} | {r.rss_mib:.0f} |")
    fake = next(r for r in results if r.name == "fake-llm")
    for other in results[:-1]:
        if other.name.startswith(("aimock", "bare Starlette uvloop")):
            ratios = [
                f"{fake.rps[k] / other.rps[k]:.2f}x | {fake.per_cpu[k] / other.per_cpu[k]:.2f}x"
                for k in ("non-stream", "stream")
            ]
            lines.append(f"| fake-llm / {other.name} | {ratios[0]} | {ratios[1]} | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load per run (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first (default 1)")
    parser.add_argument("--rounds", type=int, default=2, help="runs per server and request, best kept (default 2)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("--aimock-version", default=AIMOCK_VERSION, help=f"npm version (default {AIMOCK_VERSION})")
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers and load generator to CPUs")
    opts = parser.parse_args(argv)
    try:
        results = run(opts)
    except HarnessError as exc:
        print(f"\nbench-peers: error: {exc}", file=sys.stderr)
        return 2
    print()
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
