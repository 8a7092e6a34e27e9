"""`fake-llm serve --workers 2 --state redis://...`: two processes on one port, one state."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.redis_server import free_port

#: Longest wait for the workers to start answering (interpreter start-up, twice, on a busy machine).
START_TIMEOUT = 60.0
RULES = "name: w\nrules:\n  - name: seq\n    replies: [{content: one}, {content: two}]\n"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.fixture
def workers(redis_url: str, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    scenario = tmp_path / "w.yaml"
    scenario.write_text(RULES)
    port = free_port()
    command = [sys.executable, "-m", "fake_llm", "serve", "--workers", "2", "--state", redis_url]
    command += ["--namespace", uuid.uuid4().hex, "--port", str(port), "--scenarios", str(scenario)]
    proc = subprocess.Popen([*command, "--log-level", "warning"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            try:
                if httpx.get(url + "/_fake/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"fake-llm --workers 2 did not start: {proc.stdout.read().decode() if proc.stdout else ''}")
            time.sleep(0.05)  # poll interval
        yield url, proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()


def test_two_workers_share_one_port_and_one_state(workers: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, proc = workers
    workers_pids = [pid for pid in _children(proc.pid) if b"spawn" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert len(workers_pids) == 2

    async def conversation(i: int) -> list[str]:
        body = {"model": "m", "messages": [{"role": "user", "content": f"conversation {i}"}]}
        replies = []
        for _ in range(3):
            # A new connection each turn, so the kernel may hand it to either worker.
            async with httpx.AsyncClient(timeout=30) as client:
                response = await client.post(url + "/v1/chat/completions", json=body)
            assert response.status_code == 200, response.text
            replies.append(response.json()["choices"][0]["message"]["content"])
        return replies

    async def run() -> list[list[str]]:
        return await asyncio.gather(*(conversation(i) for i in range(40)))

    assert all(replies == ["one", "two", "two"] for replies in asyncio.run(run()))
    entries = httpx.get(url + "/_fake/journal", timeout=10).json()["entries"]
    assert sorted(e["seq"] for e in entries) == list(range(1, 121))
    replicas = {e["replica"] for e in entries}
    assert replicas <= {f"{os.uname().nodename}:{pid}" for pid in workers_pids}
    health = httpx.get(url + "/_fake/health", timeout=10).json()
    assert health["state"]["workers"] == 2
    assert health["state"]["backend"] == "redis"
