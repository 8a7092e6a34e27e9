"""Phase 6 of benchmarks/bench.py: `fake-llm serve --workers 2` against one worker, and the Redis state store
against the in-process one, each a real `fake-llm serve` process (the command users run).

Needs Debian's `redis-server`; started here on a free loopback port without persistence, and stopped at the end.
Every server gets its own namespace, so no run sees another's counters or journal.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Longest wait for a server (two interpreters with --workers 2) or Redis to answer.
READY_TIMEOUT = 60.0


class ScalingError(Exception):
    """The scaling phase could not run."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _healthy(port: int, path: str) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status == 200
    except OSError:
        return False
    finally:
        conn.close()


def _redis_pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _wait(ready: Callable[[], bool], proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while not ready():
        if proc.poll() is not None:
            raise ScalingError(f"{what} exited with status {proc.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise ScalingError(f"{what} was not ready within {READY_TIMEOUT:g} s")
        time.sleep(0.02)  # poll interval


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(2)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise ScalingError("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen([*command, "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(lambda: _redis_pong(port), proc, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(proc)


@contextmanager
def fake_llm(scenario: Path, workers: int, state: str) -> Iterator[tuple[int, list[int]]]:
    """`fake-llm serve` on a free port; yields the port and the pids that serve (the workers, or the process)."""
    port = _free_port()
    command = [sys.executable, "-m", "fake_llm", "serve", "--port", str(port), "--scenarios", str(scenario)]
    command += ["--workers", str(workers), "--state", state, "--namespace", f"bench-{uuid.uuid4().hex[:8]}"]
    proc = subprocess.Popen([*command, "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait(lambda: _healthy(port, "/_fake/health"), proc, f"fake-llm --workers {workers}")
        yield port, (_children(proc.pid) if workers > 1 else [proc.pid])
    finally:
        _stop(proc)
        if proc.stderr is not None:
            proc.stderr.close()


def _children(pid: int) -> list[int]:
    """uvicorn's worker processes of `pid` (multiprocessing spawn children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"spawn" in cmdline:
            found.append(int(entry.name))
    return found


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def measure(loadgen: Any, scenario: Path, body: Path, opts: Any) -> dict[str, tuple[float, float]]:
    """Best req/s and best requests per server CPU-second of each configuration, over `opts.rounds` rounds."""
    configs = [("memory, 1 worker", 1, None), ("redis, 1 worker", 1, "redis"), ("redis, 2 workers", 2, "redis")]
    best: dict[str, tuple[float, float]] = {}
    with redis_server(Path(scenario).parent) as redis_url:
        for round_no in range(1, opts.rounds + 1):
            for name, workers, backend in configs if round_no % 2 else reversed(configs):
                state = redis_url if backend else "memory"
                with fake_llm(scenario, workers, state) as (port, pids):
                    if opts.warmup > 0:
                        loadgen.timed(port, body, opts.warmup)
                    before = _cpu(pids)
                    result = loadgen.timed(port, body, opts.duration)
                    per_cpu = result.completed / max(_cpu(pids) - before, 1e-9)
                print(
                    f"  round {round_no} {name:17s}: {result.rps:8.0f} req/s ({result.completed} in "
                    f"{result.elapsed:.2f} s; {per_cpu:.0f} per server CPU-s, Redis's own CPU not counted)",
                    flush=True,
                )
                rps, cpu = best.get(name, (0.0, 0.0))
                best[name] = (max(rps, result.rps), max(cpu, per_cpu))
    return best
