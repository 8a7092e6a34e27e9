"""A shared state store that stalls (a SIGSTOP'd redis-server: connections open, nothing answers): the requests that
need it get a 503 naming Redis after --state-timeout, while health, /v1/models and streams already under way keep
answering; the event loop never waits for Redis."""

from __future__ import annotations

import json
import os
import shutil
import signal
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from fake_llm import FakeLLMServer
from fake_llm.cli import build_parser
from tests.redis_server import RedisServer

RULES = """
name: stall
rules:
  - name: slow-stream
    match: {user: stream}
    reply:
      content: "one two three four five six seven eight nine ten eleven twelve"
      stream: {chunk_tokens: 1, chunk_ms: 150}
  - name: hello
    reply: {content: hello}
"""
#: Per Redis call; the requests that need Redis get their 503 after about this long.
TIMEOUT_S = 5.0
#: The bound on waits for things that must not wait for Redis at all (well under TIMEOUT_S).
QUICK_S = 3.0


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian package redis-server; .ci/run installs it)")
    server = RedisServer(tmp_path).start()
    yield server
    assert server.proc is not None
    os.kill(server.proc.pid, signal.SIGCONT)
    server.stop()


def _chat(base_url: str, text: str, **extra: object) -> dict[str, object]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}


def test_a_stalled_redis_gives_503s_after_the_timeout_and_stalls_nothing_else(own_redis: RedisServer) -> None:
    redis_pid = own_redis.proc.pid if own_redis.proc else 0
    with FakeLLMServer(rules=RULES, state=own_redis.url, namespace=uuid.uuid4().hex, state_timeout=TIMEOUT_S) as server:
        chat = server.base_url + "/chat/completions"
        # Warm-up, unbounded: the test suite's conformance recorder loads its schemas on first use.
        assert httpx.post(chat, json=_chat(chat, "hi"), timeout=30).status_code == 200
        assert httpx.post(chat, json=_chat(chat, "stream", stream=True), timeout=30).status_code == 200
        assert httpx.get(server.base_url + "/models", timeout=30).status_code == 200
        with httpx.Client(timeout=QUICK_S) as client, ThreadPoolExecutor(8) as pool:
            with client.stream("POST", chat, json=_chat(chat, "stream", stream=True)) as stream:
                lines = stream.iter_lines()
                first = next(line for line in lines if line.startswith("data: "))
                assert json.loads(first[6:])["object"] == "chat.completion.chunk"

                os.kill(redis_pid, signal.SIGSTOP)  # Redis holds its connections and answers nothing
                stalled = [
                    pool.submit(httpx.post, chat, json=_chat(chat, "hi"), timeout=4 * TIMEOUT_S) for _ in range(8)
                ]

                # While those wait for Redis: the stream goes on chunk by chunk (each read bounded well under the
                # timeout), and so do endpoints that need no shared state.
                assert next(line for line in lines if line.startswith("data: "))
                assert client.get(server.base_url + "/models").status_code == 200
                assert not any(f.done() for f in stalled)  # they can only end by the timeout
                rest = [line for line in lines if line.startswith("data: ")]
                assert rest[-1] == "data: [DONE]"

            for future in stalled:  # each a clear 503 within its bound (httpx raises past 4x the timeout)
                answer = future.result()
                assert answer.status_code == 503
                assert answer.json()["error"]["code"] == "fake_llm_state_unavailable"
                assert f"Redis at {own_redis.url}" in answer.json()["error"]["message"]
                assert answer.headers["retry-after"] == "1"
            health = httpx.get(server.url + "/_fake/health", timeout=4 * TIMEOUT_S)
            assert health.status_code == 503
            assert "Redis" in health.json()["state"]["error"]
            journal = httpx.get(server.url + "/_fake/journal", timeout=4 * TIMEOUT_S)
            assert journal.status_code == 503

        os.kill(redis_pid, signal.SIGCONT)  # recovery: nothing was lost, nothing half-done counted
        assert httpx.get(server.url + "/_fake/health", timeout=10).json()["status"] == "ok"
        assert (
            httpx.post(chat, json=_chat(chat, "hi"), timeout=10).json()["choices"][0]["message"]["content"] == "hello"
        )
        entries = httpx.get(server.url + "/_fake/journal", timeout=10).json()["entries"]
        assert [e["rule"] for e in entries] == ["hello", "slow-stream", "slow-stream", "hello"]


def test_the_state_timeout_is_an_option() -> None:
    args = build_parser().parse_args(["serve", "--state-timeout", "0.5"])
    assert args.state_timeout == 0.5
    with pytest.raises(ValueError, match=r"state_timeout must be in 0\.\.60"):
        FakeLLMServer(state_timeout=0)


def test_the_event_loop_path_reconnects_to_a_restarted_redis(own_redis: RedisServer) -> None:
    with FakeLLMServer(rules=RULES, state=own_redis.url, namespace=uuid.uuid4().hex) as server:
        chat = server.base_url + "/chat/completions"
        assert httpx.post(chat, json=_chat(chat, "hi"), timeout=10).status_code == 200
        own_redis.stop()
        lost = httpx.post(chat, json=_chat(chat, "hi"), timeout=10)
        assert lost.status_code == 503
        assert "Redis at" in lost.json()["error"]["message"]
        own_redis.start()  # empty, and without the batch script: loaded again, numbering starts again
        back = httpx.post(chat, json=_chat(chat, "hi"), timeout=10)
        assert back.status_code == 200
        assert [e.seq for e in server.journal.entries] == [1]
