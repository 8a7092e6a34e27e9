"""fake-llm benchmark harness: fake-llm against a bare Starlette app on the same uvicorn stack, in one run.

    .venv/bin/python benchmarks/bench.py [--quick] [--duration S] [--connections N] [--requests N] ...

Measures (see benchmarks/README.md): non-stream throughput, zero-delay 20-chunk stream throughput, resident memory
after 1k and after --requests requests, FakeLLMServer start/stop time, and the timing accuracy of paced streams
(when --timing-streams concurrent SSE events reach the client vs when fake-llm planned them, benchmarks/_timing.py).
Servers and the load generator run in separate processes on 127.0.0.1 (wrk when installed, else
benchmarks/_loadgen.py). Targets are reported, not enforced: the exit status is 0 unless the harness itself failed (2).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import re
import resource
import selectors
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _scaling

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
CHAT_PATH = "/v1/chat/completions"
#: Longest wait for a server process to report it is listening and to answer its health route.
READY_TIMEOUT = 20.0
#: Content chunks the streamed reply must be cut into.
STREAM_CHUNKS = 20
CHUNK_TOKENS = 2
#: 40 one-token words (approx tokenizer): with chunk_tokens 2, exactly 20 content chunks. Checked at run time.
CONTENT = (
    "the quick brown fox jumps over lazy dogs while seven bright stars shine above calm water and small birds "
    "sing soft songs near old stone walls under warm morning light as green leaves drift down slowly past the "
    "river bend"
)
SCENARIO = f"""\
name: bench
rules:
  - name: catch-all
    reply:
      content: "{CONTENT}"
      stream: {{chunk_tokens: {CHUNK_TOKENS}}}
"""
REQUEST = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say something for the benchmark."}]}
#: Response headers the bare app does not replay: uvicorn adds them to every response, on both sides.
SERVER_HEADERS = frozenset({"date", "server", "content-length", "transfer-encoding"})


class HarnessError(Exception):
    """The benchmark itself could not run (as opposed to a target being missed)."""


@dataclass
class Row:
    metric: str
    fake: str
    bare: str
    ratio: str
    target: str
    ok: bool | None  # None: informational


# ---------------------------------------------------------------------------------------------------- servers


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    info: dict[str, Any]
    stderr_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr_tail(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""


def _wait_ready_line(proc: subprocess.Popen[bytes], deadline: float) -> dict[str, Any]:
    """The READY line the server prints once listening, read with a deadline (never a fixed sleep)."""
    assert proc.stdout is not None
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=max(0.0, min(0.5, deadline - time.monotonic()))):
                if proc.poll() is not None:
                    break
                continue
            data = os.read(proc.stdout.fileno(), 65536)
            if not data:
                break
            buffer += data
            for line in buffer.splitlines():
                if line.startswith(b"READY "):
                    info: dict[str, Any] = json.loads(line[6:])
                    return info
    raise HarnessError(
        "server process did not report READY in time" + (" (it exited)" if proc.poll() is not None else "")
    )


def _wait_healthy(port: int, path: str, proc: subprocess.Popen[bytes], deadline: float) -> None:
    """Poll the health route until it answers 200, the process dies, or the deadline passes."""
    last: object = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise HarnessError(f"server exited with status {proc.returncode} before becoming healthy")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                return
            last = f"status {response.status}"
        except OSError as exc:
            last = exc
        finally:
            conn.close()
        time.sleep(0.02)  # poll interval
    raise HarnessError(f"{path} did not answer 200 within {READY_TIMEOUT} s (last: {last})")


@contextmanager
def server(args: list[str], health: str, workdir: Path, cpus: set[int] | None) -> Iterator[Server]:
    """Start `_server.py args` as a subprocess (pinned to `cpus`), wait until healthy, stop it (SIGINT) at exit."""
    name = args[0]
    stderr_path = workdir / f"{name}-{time.monotonic_ns()}.stderr"
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen([PYTHON, str(HERE / "_server.py"), *args], stdout=subprocess.PIPE, stderr=stderr)
    try:
        if cpus:
            os.sched_setaffinity(proc.pid, cpus)
        deadline = time.monotonic() + READY_TIMEOUT
        try:
            info = _wait_ready_line(proc, deadline)
            _wait_healthy(int(info["port"]), health, proc, deadline)
        except HarnessError as exc:
            raise HarnessError(
                f"{exc}\n--- {name} server stderr ---\n{stderr_path.read_text(errors='replace')}"
            ) from None
        srv = Server(proc, int(info["port"]), info, stderr_path)
        try:
            yield srv
        except HarnessError as exc:  # e.g. failed responses: show what the server said
            tail = srv.stderr_tail()
            if not tail:
                raise
            raise HarnessError(f"{exc}\n--- {name} server stderr (end) ---\n{tail}") from None
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(2)  # SIGINT: uvicorn's graceful shutdown (and the cProfile dump)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if proc.stdout is not None:
        proc.stdout.close()


def rss_kib(pid: int) -> int:
    """Resident set size of `pid` from /proc/<pid>/status, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise HarnessError(f"no VmRSS in /proc/{pid}/status")


# ---------------------------------------------------------------------------------------------------- one-shot HTTP


def post(port: int, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """One POST with http.client (chunked bodies are decoded): status, lower-cased headers, body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", CHAT_PATH, body, {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def capture(port: int, body: bytes, workdir: Path, name: str) -> tuple[Path, Path, bytes]:
    """Capture one fake-llm answer: body file, replayable headers file, and the body bytes."""
    status, headers, payload = post(port, body)
    if status != 200:
        raise HarnessError(f"fake-llm answered {status} to the benchmark request: {payload[:300]!r}")
    replay = {k: v for k, v in headers.items() if k not in SERVER_HEADERS}
    body_path, headers_path = workdir / f"{name}.body", workdir / f"{name}.headers.json"
    body_path.write_bytes(payload)
    headers_path.write_text(json.dumps(replay))
    return body_path, headers_path, payload


def sse_events(payload: bytes) -> list[str]:
    """The `data:` payloads of an SSE body."""
    return [
        line[len("data: ") :]
        for frame in payload.decode().split("\n\n")
        for line in frame.splitlines()
        if line.startswith("data: ")
    ]


def content_chunks(payload: bytes) -> int:
    """How many events of an OpenAI chat stream carry content (the role chunk excluded)."""
    count = 0
    for data in sse_events(payload):
        if data == "[DONE]":
            continue
        for choice in json.loads(data)["choices"]:
            delta = choice.get("delta", {})
            if delta.get("content") and "role" not in delta:
                count += 1
    return count


# ---------------------------------------------------------------------------------------------------- load generators


def run_client(cmd: list[str], cpus: set[int] | None, timeout: float) -> str:
    """Run a client process (pinned to `cpus`) to its end, at most `timeout` seconds; its stdout."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if cpus:
        os.sched_setaffinity(proc.pid, cpus)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise HarnessError(f"client timed out after {timeout:.0f} s: {' '.join(cmd)}") from None
    if proc.returncode != 0:
        raise HarnessError(f"client failed ({proc.returncode}): {' '.join(cmd)}\n{err.decode()[-2000:]}")
    return out.decode()


@dataclass
class LoadResult:
    rps: float
    completed: int
    elapsed: float
    detail: str = ""


class LoadGen:
    """Runs one load generator process (wrk or benchmarks/_loadgen.py) against a server, pinned to `cpus`."""

    def __init__(self, kind: str, connections: int, workdir: Path, cpus: set[int] | None) -> None:
        self.kind = kind
        self.connections = connections
        self.workdir = workdir
        self.cpus = cpus

    def describe(self) -> str:
        if self.kind == "wrk":
            return f"wrk ({shutil.which('wrk')}), 1 thread, {self.connections} connections"
        return f"built-in asyncio client (benchmarks/_loadgen.py), {self.connections} connections"

    def _run(self, cmd: list[str], timeout: float) -> str:
        return run_client(cmd, self.cpus, timeout)

    def timed(self, port: int, body: Path, duration: float) -> LoadResult:
        """Requests/s over `duration` seconds."""
        if self.kind == "wrk":
            return self._wrk(port, body, duration)
        return self._python(port, [body], ["--duration", str(duration)], duration)

    def counted(self, port: int, bodies: list[Path], requests: int) -> LoadResult:
        """Exactly `requests` requests (bodies rotated, `@N@` replaced by the request number); always Python."""
        return self._python(port, bodies, ["--requests", str(requests), "--vary"], 60 + requests / 100)

    def _python(self, port: int, bodies: list[Path], extra: list[str], expected: float) -> LoadResult:
        cmd = [PYTHON, str(HERE / "_loadgen.py"), "--port", str(port), "--connections", str(self.connections)]
        for body in bodies:
            cmd += ["--body", str(body)]
        result = json.loads(self._run(cmd + extra, expected + 60).strip().splitlines()[-1])
        if result["errors"]:
            raise HarnessError(f"load generator saw {result['errors']} failed responses: {result['statuses']}")
        return LoadResult(result["rps"], result["completed"], result["elapsed"])

    def _wrk(self, port: int, body: Path, duration: float) -> LoadResult:
        script = self.workdir / "post.lua"
        script.write_text(WRK_SCRIPT.replace("@BODY@", str(body)))
        seconds = max(1, round(duration))
        cmd = ["wrk", "-t1", f"-c{self.connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script)]
        out = self._run([*cmd, f"http://127.0.0.1:{port}{CHAT_PATH}"], seconds + 60)
        match = re.search(r"^WRK_JSON (.*)$", out, re.MULTILINE)
        if match is None:
            raise HarnessError(f"could not read wrk's summary:\n{out}")
        result = json.loads(match.group(1))
        errors = {k: result[k] for k in ("connect", "read", "write", "status", "timeout") if result[k]}
        if errors:
            raise HarnessError(f"wrk reported errors {errors}:\n{out}")
        elapsed = result["duration_us"] / 1e6
        detail = f"latency p50 {result['p50_us'] / 1000:.2f} ms, p99 {result['p99_us'] / 1000:.2f} ms"
        return LoadResult(result["requests"] / elapsed, result["requests"], elapsed, detail)


WRK_SCRIPT = """\
local f = assert(io.open([==[@BODY@]==], "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,'
      .. '"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


# ---------------------------------------------------------------------------------------------------- the phases


def compare(
    label: str,
    unit: str,
    target: float,
    fake: Server,
    bare: Server,
    body: Path,
    loadgen: LoadGen,
    opts: argparse.Namespace,
) -> list[Row]:
    """Alternate fake-llm and bare runs `opts.rounds` times (each after a warm-up); the best run of each side,
    the least disturbed by other work on the machine. Also prints responses per CPU-second of the server process,
    which other load on the machine barely moves."""
    best = {"fake-llm": 0.0, "bare": 0.0}
    per_cpu = {"fake-llm": 0.0, "bare": 0.0}
    global OTHER_LOAD
    for round_no in range(1, opts.rounds + 1):
        order = [("fake-llm", fake), ("bare", bare)]
        if round_no % 2 == 0:
            order.reverse()
        for name, srv in order:
            if opts.warmup > 0:
                loadgen.timed(srv.port, body, opts.warmup)
            cpu_before, machine_before, children_before = cpu_seconds(srv.pid), machine_busy(), children_cpu()
            result = loadgen.timed(srv.port, body, opts.duration)
            cpu = max(cpu_seconds(srv.pid) - cpu_before, 1e-9)
            # CPU used by neither the server nor the load generator (other processes on the machine), in CPUs.
            other = (machine_busy() - machine_before - cpu - (children_cpu() - children_before)) / result.elapsed
            OTHER_LOAD = max(OTHER_LOAD, other)
            best[name] = max(best[name], result.rps)
            per_cpu[name] = max(per_cpu[name], result.completed / cpu)
            detail = f", {result.detail}" if result.detail else ""
            print(
                f"  {label} round {round_no} {name:8s}: {result.rps:9.0f} {unit} ({result.completed} in "
                f"{result.elapsed:.2f} s; server CPU {cpu:.2f} s = {result.completed / cpu:.0f} per CPU-s; "
                f"other processes {max(other, 0):.2f} CPU{detail})",
                flush=True,
            )
    ratio, cpu_ratio = best["fake-llm"] / best["bare"], per_cpu["fake-llm"] / per_cpu["bare"]
    return [
        Row(
            f"{label} {unit}",
            f"{best['fake-llm']:.0f}",
            f"{best['bare']:.0f}",
            fmt_ratio(ratio),
            f">= {target:g}x",
            ratio >= target,
        ),
        Row(
            "  same, per server CPU-s",
            f"{per_cpu['fake-llm']:.0f}",
            f"{per_cpu['bare']:.0f}",
            fmt_ratio(cpu_ratio),
            f">= {target:g}x",
            cpu_ratio >= target,
        ),
    ]


#: The most CPU other processes used during a measured run (in CPUs); a warning is printed when it is high.
OTHER_LOAD = 0.0


def machine_busy() -> float:
    """Busy CPU-seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    guest = sum(values[8:10])  # guest time is already counted in user time
    return (sum(values) - idle - guest) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    """User + system CPU-seconds of the finished child processes (the load generator runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_startup(repeats: int) -> tuple[float, float, float]:
    """Median construct+start, stop and total seconds of an in-process FakeLLMServer with one inline rule."""
    from fake_llm.testing.server import FakeLLMServer

    rules = [{"name": "catch-all", "reply": {"content": "hi"}}]
    starts, stops, totals = [], [], []
    for i in range(repeats):
        t0 = time.perf_counter()
        fixture = FakeLLMServer(rules=rules)
        fixture.start()
        t1 = time.perf_counter()
        if i == 0:  # once, outside the timing: the fixture really answers
            status, _, payload = post(fixture.port, json.dumps(REQUEST).encode())
            if status != 200:
                fixture.stop()
                raise HarnessError(f"FakeLLMServer answered {status}: {payload[:300]!r}")
        t2 = time.perf_counter()
        fixture.stop()
        t3 = time.perf_counter()
        starts.append(t1 - t0)
        stops.append(t3 - t2)
        totals.append((t1 - t0) + (t3 - t2))
    return statistics.median(starts), statistics.median(stops), statistics.median(totals)


#: Phase 5: the scripted pace of the timing-accuracy streams (time_scale 1), and its targets.
TIMING_TTFT_MS = 100
TIMING_CHUNK_MS = 20
TIMING_P99_MS = 2.0
#: Phase 3: resident memory after --requests requests.
RSS_LIMIT_MIB = 60
TIMING_DRIFT_MS = 1.0
#: The most CPU other processes used during the timing run (in CPUs).
TIMING_LOAD = 0.0


def timing_scenario(chunks: int) -> str:
    """One rule streaming `chunks` one-token content chunks, paced by ttft_ms and chunk_ms."""
    words = CONTENT.split()
    content = " ".join(words[i % len(words)] for i in range(chunks))
    return f"""\
name: bench-timing
rules:
  - name: paced
    reply:
      content: "{content}"
      stream: {{ttft_ms: {TIMING_TTFT_MS}, chunk_ms: {TIMING_CHUNK_MS}, chunk_tokens: 1}}
"""


def get_json(port: int, path: str) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        payload = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise HarnessError(f"GET {path} answered {response.status}: {payload[:300]!r}")
    return json.loads(payload)


def pct(values: list[float], q: float) -> float:
    """The nearest-rank `q`th percentile of `values`."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))]


@dataclass
class TimingRun:
    """One timing run against one server: the error of every event, in ms (observed - scripted, signed)."""

    side: str
    errors: list[float]
    first: list[float]  # |error| of the first third of each stream's events
    last: list[float]  # ... of the last third
    ttft: list[float]  # |error| of each stream's first event (the one after ttft_ms)
    from_request: list[float]  # |error| if observed times counted from sending the request instead
    heads: list[float]  # response head arrival after the request was sent
    events_per_stream: int
    loop: str
    elapsed: float
    server_cpu: float
    client_cpu: float
    other: float

    @property
    def absolute(self) -> list[float]:
        return [abs(e) for e in self.errors]

    @property
    def p99(self) -> float:
        return pct(self.absolute, 99)

    def absorb(self, other: TimingRun) -> None:
        """Pool the events of `other` (another round against the same side) into this run."""
        for name in ("errors", "first", "last", "ttft", "from_request", "heads"):
            getattr(self, name).extend(getattr(other, name))
        self.elapsed += other.elapsed
        self.server_cpu += other.server_cpu
        self.client_cpu += other.client_cpu
        self.other = max(self.other, other.other)

    def summary(self) -> str:
        absolute = self.absolute
        return f"{pct(absolute, 50):.2f} / {pct(absolute, 99):.2f} / {max(absolute):.2f}"

    def drift(self) -> str:
        return f"{pct(self.first, 99):.2f} -> {pct(self.last, 99):.2f}"

    def report(self, round_no: int) -> None:
        absolute, early = self.absolute, sum(1 for e in self.errors if e < 0)
        print(
            f"  round {round_no} {self.side:8s}: |err| p50 {pct(absolute, 50):.2f}, p99 {pct(absolute, 99):.2f}, "
            f"max {max(absolute):.2f} ms; p99 first event {pct(self.ttft, 99):.2f}, first third "
            f"{pct(self.first, 99):.2f}, last third {pct(self.last, 99):.2f} ms; signed mean "
            f"{statistics.fmean(self.errors):+.2f} ms, {early}/{len(self.errors)} early (min {min(self.errors):+.2f})",
            flush=True,
        )
        print(
            f"    {len(self.errors)} events in {self.elapsed:.1f} s; response head after the request p50 "
            f"{pct(self.heads, 50):.1f}, max {max(self.heads):.1f} ms (|err| counted from the request: p50 "
            f"{pct(self.from_request, 50):.1f}, p99 {pct(self.from_request, 99):.1f} ms); server CPU "
            f"{self.server_cpu:.2f} s, client CPU {self.client_cpu:.2f} s, "
            f"other processes {max(self.other, 0):.2f} CPU",
            flush=True,
        )


def timing_run(
    side: str,
    srv: Server,
    body: Path,
    opts: argparse.Namespace,
    cpus: set[int] | None,
    plans: dict[str, list[float]] | None,
) -> TimingRun:
    """Run the timing client against `srv` and set each event's arrival against its planned time: `plans` maps
    stream names to schedules; None reads them from fake-llm's journal (and checks the streams it reports)."""
    global TIMING_LOAD
    streams, warmup = opts.timing_streams, min(opts.timing_streams, 5)
    timeout = 30 + 2 * (TIMING_TTFT_MS + opts.timing_chunks * TIMING_CHUNK_MS) / 1000
    cmd = [PYTHON, str(HERE / "_timing.py"), "--port", str(srv.port), "--body", str(body)]
    cmd += ["--streams", str(streams), "--warmup", str(warmup), "--timeout", str(timeout)]
    cpu_before, machine_before, children_before = cpu_seconds(srv.pid), machine_busy(), children_cpu()
    started = time.monotonic()
    result = json.loads(run_client(cmd, cpus, 2 * timeout + 30).strip().splitlines()[-1])
    elapsed = time.monotonic() - started
    server_cpu, client_cpu = cpu_seconds(srv.pid) - cpu_before, children_cpu() - children_before
    other = (machine_busy() - machine_before - server_cpu - client_cpu) / elapsed
    TIMING_LOAD = max(TIMING_LOAD, other)
    if plans is None:
        plans = {}
        for entry in get_json(srv.port, f"/_fake/journal?limit={streams}")["entries"]:
            match = re.fullmatch(r"Timing stream (\w+)\.", entry["body"]["messages"][0]["content"])
            if match is None:
                continue
            content = sum(1 for event in entry["events"] if event["kind"] == "content")
            if entry["stream_outcome"] != "completed" or content != opts.timing_chunks:
                raise HarnessError(
                    f"timing stream {match.group(1)}: fake-llm says {entry['stream_outcome']!r}, {content} content "
                    f"chunks (expected {opts.timing_chunks})"
                )
            plans[match.group(1)] = entry["schedule"]
    run = TimingRun(side, [], [], [], [], [], [], 0, result["loop"], elapsed, server_cpu, client_cpu, other)
    for stream in result["streams"]:
        name, arrived = stream["n"], stream["events_ms"]
        plan = plans.get(name, plans.get("*"))
        if plan is None:
            raise HarnessError(f"timing stream {name} is not in fake-llm's journal")
        if stream["status"] != 200 or not stream["complete"] or len(arrived) != len(plan):
            raise HarnessError(
                f"{side} timing stream {name}: status {stream['status']}, complete {stream['complete']}, "
                f"{len(arrived)} events received, {len(plan)} planned"
            )
        run.events_per_stream = len(plan)
        run.heads.append(stream["headers_ms"])
        diffs = [t - stream["headers_ms"] - at for t, at in zip(arrived, plan, strict=True)]
        third = len(diffs) // 3
        run.errors += diffs
        run.first += [abs(d) for d in diffs[:third]]
        run.last += [abs(d) for d in diffs[-third:]]
        run.ttft.append(abs(diffs[0]))
        run.from_request += [abs(t - at) for t, at in zip(arrived, plan, strict=True)]
    return run


def measure_timing(opts: argparse.Namespace, server_cpus: set[int] | None, client_cpus: set[int] | None) -> list[Row]:
    """`opts.timing_streams` concurrent paced streams: when each SSE event reaches the client vs when the server
    planned it (the journal's `schedule`), for fake-llm and for a bare paced StreamingResponse sending the same
    bytes on the same schedule. Observed times count from the arrival of the response head, which both servers
    write just before they start their clock: what is left is how late (or early) each event was sent, plus any
    difference in delivery, not the time it took to parse, match and plan the request (printed apart)."""
    streams, chunks = opts.timing_streams, opts.timing_chunks
    stream_ms = TIMING_TTFT_MS + (chunks - 1) * TIMING_CHUNK_MS
    print(
        f"\n[5] timing accuracy: {streams} concurrent streams of {chunks} chunks (ttft_ms {TIMING_TTFT_MS}, chunk_ms "
        f"{TIMING_CHUNK_MS}: {stream_ms} ms each), {opts.rounds} round(s), each after {min(streams, 5)} warm-up streams"
    )
    pooled: dict[str, TimingRun] = {}
    with tempfile.TemporaryDirectory(prefix="fake-llm-bench-timing-") as tmp:
        workdir = Path(tmp)
        scenario = workdir / "timing.yaml"
        scenario.write_text(timing_scenario(chunks))
        body = workdir / "timing.json"
        messages = [{"role": "user", "content": "Timing stream @N@."}]
        body.write_text(json.dumps({**REQUEST, "messages": messages, "stream": True}))
        with server(["fake", "--scenario", str(scenario)], "/_fake/health", workdir, server_cpus) as fake:
            # One stream, read whole: the bytes and the schedule the bare app replays.
            sse_body, sse_headers, _ = capture(fake.port, body.read_bytes().replace(b"@N@", b"x"), workdir, "timed")
            schedule = workdir / "schedule.json"
            schedule.write_text(json.dumps(get_json(fake.port, "/_fake/journal?limit=1")["entries"][0]["schedule"]))
            bare_args = ["bare", "--mode", "sse-timed", "--body", str(sse_body), "--headers", str(sse_headers)]
            with server([*bare_args, "--schedule", str(schedule)], "/health", workdir, server_cpus) as bare:
                bare_plans = {"*": json.loads(schedule.read_text())}
                for round_no in range(1, opts.rounds + 1):
                    order = [("fake-llm", fake, None), ("bare", bare, bare_plans)]
                    if round_no % 2 == 0:
                        order.reverse()
                    for side, srv, plans in order:
                        run = timing_run(side, srv, body, opts, client_cpus, plans)
                        run.report(round_no)
                        if side in pooled:
                            pooled[side].absorb(run)
                        else:
                            pooled[side] = run
    fake_run, bare_run = pooled["fake-llm"], pooled["bare"]
    first_p99, last_p99 = pct(fake_run.first, 99), pct(fake_run.last, 99)
    return [
        Row(
            f"stream timing |err| p50/p99/max ms ({opts.rounds}x{streams}x{fake_run.events_per_stream} ev)",
            fake_run.summary(),
            bare_run.summary(),
            "-",
            f"p99 <= {TIMING_P99_MS:g} ms",
            fake_run.p99 <= TIMING_P99_MS,
        ),
        Row(
            "  drift: p99 first -> last third ms",
            fake_run.drift(),
            bare_run.drift(),
            "-",
            f"<= first + {TIMING_DRIFT_MS:g} ms",
            last_p99 <= first_p99 + TIMING_DRIFT_MS,
        ),
    ]


def fmt_ratio(value: float) -> str:
    return f"{value:.2f}x"


def run(opts: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    pin = not opts.no_pin and hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    server_cpus = {cpus[0]} if pin else None
    load_cpus = set(cpus[1:]) if pin else None
    kind = opts.loadgen if opts.loadgen != "auto" else ("wrk" if shutil.which("wrk") else "python")
    if kind == "wrk" and not shutil.which("wrk"):
        raise HarnessError("--loadgen wrk: wrk is not installed")

    with tempfile.TemporaryDirectory(prefix="fake-llm-bench-") as tmp:
        workdir = Path(tmp)
        loadgen = LoadGen(kind, opts.connections, workdir, load_cpus)
        scenario = workdir / "bench.yaml"
        scenario.write_text(SCENARIO)
        plain = workdir / "request.json"
        plain.write_text(json.dumps(REQUEST))
        streamed = workdir / "request-stream.json"
        streamed.write_text(json.dumps({**REQUEST, "stream": True}))
        varied = [workdir / "vary.json", workdir / "vary-stream.json"]
        for path, stream in zip(varied, (False, True), strict=True):
            messages = [{"role": "user", "content": "Say something for the benchmark, request @N@."}]
            path.write_text(json.dumps({**REQUEST, "messages": messages, "stream": stream}))

        print(f"python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs")
        print(f"load generator: {loadgen.describe()}")
        where = f"servers on CPU {cpus[0]}, load generator on CPU {sorted(load_cpus or [])}" if pin else "no pinning"
        print(f"duration {opts.duration:g} s per run (+{opts.warmup:g} s warm-up), {opts.rounds} round(s), {where}")

        fake_args = ["fake", "--scenario", str(scenario)]
        profile_args = ["--profile", str(Path(opts.profile).resolve())] if opts.profile else []
        with server([*fake_args, *profile_args], "/_fake/health", workdir, server_cpus) as fake:
            print(f"server stack: uvicorn, loop {fake.info['loop']}, http {fake.info['http']}")
            json_body, json_headers, _ = capture(fake.port, plain.read_bytes(), workdir, "json")
            sse_body, sse_headers, sse_payload = capture(fake.port, streamed.read_bytes(), workdir, "sse")
            chunks = content_chunks(sse_payload)
            events = len(sse_events(sse_payload))
            if chunks != STREAM_CHUNKS:
                raise HarnessError(f"the streamed reply has {chunks} content chunks, expected {STREAM_CHUNKS}")
            print(
                f"non-stream reply: {json_body.stat().st_size} bytes; stream: {events} events "
                f"({chunks} content chunks), {sse_body.stat().st_size} bytes"
            )

            # 1. Non-stream throughput.
            print("\n[1] non-stream chat completion, requests/s")
            bare_args = ["bare", "--mode", "json", "--body", str(json_body), "--headers", str(json_headers)]
            with server(bare_args, "/health", workdir, server_cpus) as bare:
                if bare.info["loop"] != fake.info["loop"] or bare.info["http"] != fake.info["http"]:
                    raise HarnessError(f"the two servers run different stacks: {fake.info} vs {bare.info}")
                _check_same_bytes(fake.port, bare.port, plain.read_bytes())
                rows += compare("non-stream", "req/s", 0.9, fake, bare, plain, loadgen, opts)

            # 2. Zero-delay 20-chunk stream throughput.
            print(f"\n[2] zero-delay {STREAM_CHUNKS}-chunk stream, streams/s")
            bare_args = ["bare", "--mode", "sse", "--body", str(sse_body), "--headers", str(sse_headers)]
            with server(bare_args, "/health", workdir, server_cpus) as bare:
                _check_same_bytes(fake.port, bare.port, streamed.read_bytes())
                rows += compare(f"{STREAM_CHUNKS}-chunk stream", "streams/s", 4.5, fake, bare, streamed, loadgen, opts)
        if opts.profile:
            print(f"\ncProfile dump of the fake-llm server (phases 1-2): {opts.profile}")

        # 3. Memory: a fresh fake-llm, mixed JSON / stream requests with distinct messages.
        baseline = min(1000, opts.requests // 2)
        print(f"\n[3] fake-llm RSS after {baseline} and after {opts.requests} requests (half streamed, all distinct)")
        python_gen = LoadGen("python", opts.connections, workdir, load_cpus)
        with server(fake_args, "/_fake/health", workdir, server_cpus) as fake:
            before = rss_kib(fake.pid)
            python_gen.counted(fake.port, varied, baseline)
            rss_1k = rss_kib(fake.pid)
            result = python_gen.counted(fake.port, varied, opts.requests - baseline)
            rss_end = rss_kib(fake.pid)
            print(
                f"  RSS idle {before / 1024:.1f} MiB, after {baseline}: {rss_1k / 1024:.1f} MiB, "
                f"after {opts.requests}: {rss_end / 1024:.1f} MiB ({result.rps:.0f} req/s under the Python client)"
            )
        ratio = rss_end / rss_1k
        rows.append(
            Row(
                f"RSS MiB, {_k(baseline)} -> {_k(opts.requests)} req",
                f"{rss_1k / 1024:.1f} -> {rss_end / 1024:.1f}",
                "-",
                fmt_ratio(ratio),
                f"<= {RSS_LIMIT_MIB} MiB, <= 1.2x",
                ratio <= 1.2 and rss_end / 1024 <= RSS_LIMIT_MIB,
            )
        )

    # 4. Fixture start-up, in process.
    print(f"\n[4] FakeLLMServer start() + stop() in process, median of {opts.startup_repeats}")
    start_s, stop_s, total_s = measure_startup(opts.startup_repeats)
    print(f"  construct+start {start_s * 1000:.1f} ms, stop {stop_s * 1000:.1f} ms, total {total_s * 1000:.1f} ms")
    rows.append(
        Row(
            "fixture start+stop ms",
            f"{total_s * 1000:.0f} ({start_s * 1000:.0f}+{stop_s * 1000:.0f})",
            "-",
            "-",
            "<= 100 ms",
            total_s <= 0.1,
        )
    )

    # 5. Timing accuracy of paced streams.
    rows += measure_timing(opts, server_cpus, load_cpus)

    # 6. Scaling out: workers and the Redis state store.
    if not opts.no_scaling:
        rows += measure_scaling(opts, kind, load_cpus)

    # 7. Cost growth: rule count and prompt size (benchmarks/growth.py).
    if not opts.no_growth:
        print("\n[7] cost growth: rule count (the last rule matches) and prompt size")
        # Its own process (it pins its servers the same way) and its own table, printed as it goes.
        cmd = [PYTHON, str(HERE / "growth.py"), "--requests", str(max(200, opts.requests // 30)), "--connections"]
        cmd += [str(opts.connections), "--rules", opts.rules, "--sizes", opts.sizes]
        if subprocess.run(cmd, check=False, timeout=1800).returncode != 0:
            raise HarnessError("benchmarks/growth.py failed")
    return rows


def measure_scaling(opts: argparse.Namespace, kind: str, load_cpus: set[int] | None) -> list[Row]:
    """`--workers 2` vs 1 (both on Redis, unpinned: two workers need two CPUs), and Redis vs in-process state."""
    print("\n[6] scaling out: non-stream req/s of `fake-llm serve`, in-process state vs Redis, 1 vs 2 workers")
    if shutil.which("redis-server") is None:
        print("  skipped: redis-server is not installed (apt-get install redis-server)")
        return []
    with tempfile.TemporaryDirectory(prefix="fake-llm-bench-scaling-") as tmp:
        workdir = Path(tmp)
        scenario = workdir / "bench.yaml"
        scenario.write_text(SCENARIO)
        body = workdir / "request.json"
        body.write_text(json.dumps(REQUEST))
        loadgen = LoadGen(kind, opts.connections, workdir, load_cpus)
        try:
            best = _scaling.measure(loadgen, scenario, body, opts)
        except _scaling.ScalingError as exc:
            raise HarnessError(str(exc)) from None
    memory, redis_one, redis_two = best["memory, 1 worker"], best["redis, 1 worker"], best["redis, 2 workers"]
    workers_ratio = redis_two[0] / redis_one[0]
    cost = memory[0] / redis_one[0] - 1  # extra time per request with Redis, from throughput
    cpu_cost = memory[1] / redis_one[1] - 1
    return [
        Row(
            "--workers 2 vs 1 req/s (Redis state)",
            f"{redis_two[0]:.0f}",
            f"{redis_one[0]:.0f}",
            fmt_ratio(workers_ratio),
            ">= 1.6x",
            workers_ratio >= 1.6,
        ),
        Row(
            "Redis vs in-process state req/s",
            f"{redis_one[0]:.0f}",
            f"{memory[0]:.0f}",
            f"+{cost * 100:.0f}%",
            "<= +25% per req",
            cost <= 0.25,
        ),
        Row(
            "  same, per server CPU-s",
            f"{redis_one[1]:.0f}",
            f"{memory[1]:.0f}",
            f"+{cpu_cost * 100:.0f}%",
            "<= +25% per req",
            cpu_cost <= 0.25,
        ),
    ]


def _k(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def _check_same_bytes(fake_port: int, bare_port: int, body: bytes) -> None:
    """The bare app must answer what fake-llm answers: same length and headers; same bytes but for ids, times."""
    f_status, f_headers, f_body = post(fake_port, body)
    b_status, b_headers, b_body = post(bare_port, body)
    if (f_status, b_status) != (200, 200):
        raise HarnessError(f"check request failed: fake-llm {f_status}, bare {b_status}")
    if len(f_body) != len(b_body):
        raise HarnessError(f"bare answers {len(b_body)} bytes, fake-llm {len(f_body)}")
    if sorted(f_headers) != sorted(b_headers):
        raise HarnessError(f"headers differ: fake-llm sends {sorted(f_headers)}, bare {sorted(b_headers)}")
    varying = re.compile(rb'(chatcmpl-|req_)[0-9A-Za-z]+|"created":[0-9]+')
    if varying.sub(b"", f_body) != varying.sub(b"", b_body):
        raise HarnessError("bare and fake-llm bodies differ beyond their ids and times")


def print_table(rows: list[Row]) -> None:
    header = ("metric", "fake-llm", "bare", "ratio", "target", "result")
    cells = [header] + [
        (r.metric, r.fake, r.bare, r.ratio, r.target, "-" if r.ok is None else ("PASS" if r.ok else "MISS"))
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    print("\n" + line)
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            print(line)
    print(line)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: every count and duration scaled down ~20x")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load per measured run (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each run (default 1)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("--requests", type=int, default=100_000, help="requests for the memory test (default 100000)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs per side, best kept (default 2)")
    parser.add_argument("--startup-repeats", type=int, default=10, help="start/stop cycles (default 10)")
    parser.add_argument(
        "--loadgen",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="auto: wrk when installed, else the built-in Python client",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers and load generator to CPUs")
    parser.add_argument(
        "--no-scaling", action="store_true", help="skip phase 6 (--workers and the Redis store; needs redis-server)"
    )
    parser.add_argument("--profile", metavar="FILE", help="cProfile the fake-llm server of phases 1-2 into FILE")
    parser.add_argument(
        "--timing-streams", type=int, default=50, help="concurrent paced streams of the timing run (default 50)"
    )
    parser.add_argument(
        "--timing-chunks", type=int, default=50, help="content chunks per timing-run stream (default 50)"
    )
    parser.add_argument("--no-growth", action="store_true", help="skip phase 7 (rule count and prompt size)")
    parser.add_argument("--rules", default="1,100,10000", help="phase 7 rule counts (default 1,100,10000)")
    parser.add_argument("--sizes", default="1024,10240,102400,1048576", help="phase 7 prompt sizes in bytes")
    opts = parser.parse_args(argv)
    if opts.quick:
        opts.rules, opts.sizes = "1,100", "1024,10240"
        opts.duration = max(1.0, opts.duration / 5)
        opts.warmup = min(opts.warmup, 0.5)
        opts.rounds = 1
        opts.requests = max(2, opts.requests // 20)
        opts.startup_repeats = max(3, opts.startup_repeats // 3)
        opts.timing_streams = max(1, opts.timing_streams // 5)
        opts.timing_chunks = max(3, opts.timing_chunks * 2 // 5)
    for name in ("duration", "connections", "requests", "rounds", "startup_repeats", "timing_streams"):
        if getattr(opts, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if opts.requests < 2:
        parser.error("--requests must be at least 2")
    if opts.timing_chunks < 3:
        parser.error("--timing-chunks must be at least 3")
    return opts


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    started = time.monotonic()
    try:
        rows = run(opts)
    except HarnessError as exc:
        print(f"\nbench: error: {exc}", file=sys.stderr)
        return 2
    print_table(rows)
    if OTHER_LOAD > 0.25:
        print(
            f"warning: other processes used up to {OTHER_LOAD:.1f} CPU during the throughput runs: the req/s rows are "
            "disturbed, the per-CPU-second rows less so"
        )
    if TIMING_LOAD > 0.25:
        print(
            f"warning: other processes used up to {TIMING_LOAD:.1f} CPU during the timing run: late events may be "
            "theirs rather than fake-llm's"
        )
    print(f"targets are reported, not enforced; {time.monotonic() - started:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
