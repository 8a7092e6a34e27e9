"""Cost growth, the last phase of `make bench`: fake-llm's req/s and RSS against rule count and prompt size.

    .venv/bin/python benchmarks/growth.py [--duration S] [--rules 1,100,10000] [--sizes 1024,...]

- Rule count: 1, 100 and 10k rules, each `match: {user: 'topic N.'}` (a plain string: a substring ignoring case,
  the form scenarios use most) and the request asking for the last one, so every earlier rule is a miss. With the
  rule index, a rule's substring is one `in` test rather than a run of every check.
- Prompt size: one catch-all rule and a user message of 1 KB to 1 MB (the whole body is read, parsed, validated,
  tokenized for usage and journaled).
Each row is a fresh server pinned to the first CPU, sent --requests distinct requests (fewer for big prompts) by
benchmarks/_loadgen.py after a tenth as many to warm up; RSS is read after the run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import bench
from bench import REQUEST, LoadGen, Row


def rules_scenario(count: int) -> str:
    rules = "".join(
        f"  - name: r{i}\n    match: {{user: 'topic {i}.'}}\n    reply: {{content: 'answer {i}'}}\n"
        for i in range(count)
    )
    return f"name: growth\nrules:\n{rules}"


def _serve_and_load(
    scenario: str, body: bytes, label: str, loadgen: LoadGen, opts: argparse.Namespace, workdir: Path
) -> tuple[float, float, float, float]:
    """req/s, per server CPU-second, RSS MiB and start-up seconds of a fake-llm serving `scenario`."""
    path = workdir / "growth.yaml"
    path.write_text(scenario)
    request = workdir / "growth-request.json"
    request.write_bytes(body)
    started = time.monotonic()
    with bench.server(["fake", "--scenario", str(path)], "/_fake/health", workdir, opts.server_cpus) as srv:
        startup = time.monotonic() - started
        status, _, payload = bench.post(srv.port, body)
        if status != 200:
            raise bench.HarnessError(f"{label}: fake-llm answered {status}: {payload[:300]!r}")
        # Every request distinct (`@N@` becomes the request number): what a test suite sends, and what the reply
        # cache cannot answer, so each one goes through the whole pipeline.
        count = max(100, min(opts.requests, int(opts.requests * 4096 / max(len(body), 4096))))
        loadgen.counted(srv.port, [request], max(20, count // 10))
        before = bench.cpu_seconds(srv.pid)
        result = loadgen.counted(srv.port, [request], count)
        cpu = max(bench.cpu_seconds(srv.pid) - before, 1e-9)
        rss = bench.rss_kib(srv.pid) / 1024
    print(
        f"  {label:28s} {result.rps:8.0f} req/s, {result.completed / cpu:8.0f} per CPU-s, RSS {rss:5.1f} MiB "
        f"(server up in {startup:.1f} s)",
        flush=True,
    )
    return result.rps, result.completed / cpu, rss, startup


def measure_growth(opts: argparse.Namespace, loadgen: LoadGen, workdir: Path) -> list[Row]:
    rows: list[Row] = []
    base: tuple[float, float] | None = None
    for count in opts.rule_counts:
        ask = {**REQUEST, "messages": [{"role": "user", "content": f"Tell me about topic {count - 1}. Ask @N@"}]}
        rps, per_cpu, rss, _ = _serve_and_load(
            rules_scenario(count), json.dumps(ask).encode(), f"{count} rules, last matches", loadgen, opts, workdir
        )
        base = base or (rps, per_cpu)
        ratio = f"{per_cpu / base[1]:.2f}x per CPU-s of 1 rule"
        rows.append(Row(f"{count} rules (last matches) req/s, RSS MiB", f"{rps:.0f}, {rss:.0f}", "", ratio, "-", None))
    base = None
    for size in opts.sizes:
        text = "@N@ " + "lorem ipsum " * (size // 12 + 1)
        ask = {**REQUEST, "messages": [{"role": "user", "content": text[:size]}]}
        rps, per_cpu, rss, _ = _serve_and_load(
            bench.SCENARIO, json.dumps(ask).encode(), f"{_size(size)} prompt", loadgen, opts, workdir
        )
        base = base or (rps, per_cpu)
        ratio = f"{per_cpu / base[1]:.2f}x per CPU-s of {_size(opts.sizes[0])}"
        rows.append(Row(f"{_size(size)} prompt req/s, RSS MiB", f"{rps:.0f}, {rss:.0f}", "", ratio, "-", None))
    return rows


def _size(size: int) -> str:
    return f"{size // (1 << 20)} MB" if size >= 1 << 20 else f"{size // 1024} KB"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rules", dest="rule_counts", default="1,100,10000", help="rule counts, comma-separated (default 1,100,10000)"
    )
    parser.add_argument(
        "--sizes", default="1024,10240,102400,1048576", help="prompt sizes in bytes (default 1 KB, 10 KB, 100 KB, 1 MB)"
    )


def parse_lists(opts: argparse.Namespace) -> None:
    opts.rule_counts = [int(n) for n in str(opts.rule_counts).split(",")]
    opts.sizes = [int(n) for n in str(opts.sizes).split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000, help="requests per row up to 4 KB prompts (default 3000)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    add_arguments(parser)
    opts = parser.parse_args(argv)
    parse_lists(opts)
    cpus = sorted(os.sched_getaffinity(0))
    opts.server_cpus, load_cpus = ({cpus[0]}, set(cpus[1:])) if len(cpus) >= 2 else (None, None)
    with tempfile.TemporaryDirectory(prefix="fake-llm-growth-") as tmp:
        loadgen = LoadGen("wrk" if shutil.which("wrk") else "python", opts.connections, Path(tmp), load_cpus)
        try:
            rows = measure_growth(opts, loadgen, Path(tmp))
        except bench.HarnessError as exc:
            print(f"growth: error: {exc}", file=sys.stderr)
            return 2
    bench.print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
