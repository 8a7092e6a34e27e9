"""`make fuzz`: send many mutated bodies (default 100,000) across every dialect to a fake-llm in a child process and
report 5xx answers, connection resets and timeouts; each failing body is saved for replay.

    python -m tests.fuzz_run [--bodies N] [--seed S] [--workers W] [--out DIR]
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from tests.fuzz_corpus import RULES, mutate

CHILD = """
import sys
from fake_llm.testing.server import FakeLLMServer
with FakeLLMServer(rules=sys.argv[1], time_scale=0, journal_size=200) as server:
    print(server.port, flush=True)
    sys.stdin.readline()
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bodies", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds one request may take")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "fake-llm-fuzz")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    counts: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()
    next_index = iter(range(args.bodies))
    started = time.monotonic()

    with subprocess.Popen(
        [sys.executable, "-c", CHILD, RULES], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        assert child.stdin is not None
        base = f"http://127.0.0.1:{int(child.stdout.readline())}"

        def worker() -> None:
            import random

            with httpx.Client(timeout=args.timeout) as client:
                while True:
                    with lock:
                        index = next(next_index, None)
                    if index is None:
                        return
                    try:
                        dialect, path, body, headers = mutate(random.Random(f"{args.seed}:{index}"))
                    except RecursionError:  # pragma: no cover - a fuzzer bug, counted so it cannot go unseen
                        with lock:
                            counts["fuzzer-error"] += 1
                        continue
                    try:
                        status = client.post(base + path, content=body, headers=headers).status_code
                        kind = "5xx" if status >= 500 else f"{status // 100}xx"
                    except httpx.TimeoutException:
                        kind = "timeout"
                    except httpx.TransportError:
                        kind = "reset"
                    with lock:
                        counts[kind] += 1
                        counts[f"{dialect}:{kind}"] += 1
                        done = sum(counts[k] for k in ("2xx", "4xx", "5xx", "timeout", "reset", "3xx"))
                        if done % 5000 == 0:
                            print(f"{done} bodies, {dict(_totals(counts))}", flush=True)
                    if kind in ("5xx", "timeout", "reset"):
                        (args.out / f"{kind}-{index}.json").write_bytes(path.encode() + b"\n" + body)

        threads = [threading.Thread(target=worker) for _ in range(args.workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        child.stdin.close()
        child.wait(30)
    elapsed = time.monotonic() - started
    totals = _totals(counts)
    sent = sum(totals.values())
    print(f"fuzz: {sent} of {args.bodies} bodies in {elapsed:.0f} s (seed {args.seed}): {dict(totals)}")
    for key in sorted(k for k in counts if ":" in k):
        print(f"  {key}: {counts[key]}")
    bad = totals.get("5xx", 0) + totals.get("timeout", 0) + totals.get("reset", 0) + (sent != args.bodies)
    print(f"fuzz: {totals.get('5xx', 0)} x 5xx, {totals.get('reset', 0)} resets, {totals.get('timeout', 0)} timeouts")
    if bad:
        print(f"fuzz: failing bodies saved in {args.out}")
    return 1 if bad else 0


def _totals(counts: collections.Counter[str]) -> dict[str, int]:
    return {k: v for k, v in sorted(counts.items()) if ":" not in k}


if __name__ == "__main__":
    sys.exit(main())
