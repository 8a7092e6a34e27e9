"""A shared state store that fails: unreachable at start (clear error, non-zero exit), lost mid-run (503 in each
dialect's envelope naming Redis, health says so, never stale local state) and back (automatic recovery)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fake_llm import FakeLLMServer
from fake_llm.cli import main
from fake_llm.core.redis_store import public_url
from fake_llm.errors import StateUnavailable
from fake_llm.healthcheck import check
from tests.redis_server import RedisServer, free_port

RULES = "name: s\nrules:\n  - name: seq\n    replies: [{content: one}, {content: two}, {content: three}]\n"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
MESSAGES = {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own, which it may kill and restart."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian package redis-server; .ci/run installs it)")
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def test_redis_lost_mid_run_gives_503s_naming_it_and_recovers(own_redis: RedisServer) -> None:
    with FakeLLMServer(rules=RULES, state=own_redis.url, namespace=uuid.uuid4().hex) as server:
        chat = server.base_url + "/chat/completions"
        assert httpx.post(chat, json=CHAT, timeout=10).json()["choices"][0]["message"]["content"] == "one"
        assert httpx.get(server.url + "/_fake/health", timeout=10).json()["state"]["ok"] is True

        own_redis.stop()
        lost = httpx.post(chat, json=CHAT, timeout=10)
        assert lost.status_code == 503
        error = lost.json()["error"]
        assert error["code"] == "fake_llm_state_unavailable"
        assert f"Redis at {own_redis.url}" in error["message"]
        anthropic = httpx.post(server.url + "/v1/messages", json=MESSAGES, timeout=10)
        assert anthropic.status_code == 503
        assert anthropic.json()["type"] == "error"  # Anthropic's envelope
        assert "Redis" in anthropic.json()["error"]["message"]
        health = httpx.get(server.url + "/_fake/health", timeout=10)
        assert health.status_code == 503
        assert health.json()["status"] == "unavailable"
        assert "Redis" in health.json()["state"]["error"]
        healthy, why = check(server.url, timeout=5)  # `fake-llm health`, the image's HEALTHCHECK
        assert not healthy
        assert "answered 503: the shared state store (Redis at" in why
        journal = httpx.get(server.url + "/_fake/journal", timeout=10)
        assert journal.status_code == 503
        assert "Redis" in journal.json()["error"]["message"]

        own_redis.start()  # same port, empty (no persistence): the sequence starts again, nothing was stale
        assert httpx.get(server.url + "/_fake/health", timeout=10).json()["status"] == "ok"
        back = httpx.post(chat, json=CHAT, timeout=10)
        assert back.status_code == 200
        assert back.json()["choices"][0]["message"]["content"] == "one"
        assert [e.seq for e in server.journal.entries] == [1]


def test_rule_changes_are_dropped_when_redis_comes_back_empty(own_redis: RedisServer) -> None:
    with FakeLLMServer(rules=RULES, state=own_redis.url) as server:
        server.add_rules("- name: late\n  match: {user: late}\n  reply: {content: late}\n")
        own_redis.stop()
        own_redis.start()
        ask = {"model": "m", "messages": [{"role": "user", "content": "late"}]}
        answer = httpx.post(server.base_url + "/chat/completions", json=ask, timeout=10)
        assert answer.json()["choices"][0]["message"]["content"] == "one"  # the file's rules only


def test_unreachable_redis_at_start_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    assert main(["serve", "--state", url, "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert f"the shared state store (Redis at {url}) is unavailable" in err
    with pytest.raises(StateUnavailable, match="Redis at"):
        FakeLLMServer(state=url)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--workers", "2"], "--workers 2 needs --state redis://..."),
        (["--state", "postgres://x"], "state must be memory or a redis://"),
        (["--workers", "-1"], "workers must be in 0..512, got -1"),
        (["--namespace", ""], "namespace must be 1 to 200 printable characters"),
    ],
)
def test_bad_scaling_options_are_refused(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", *argv]) == 2
    assert message in capsys.readouterr().err


def test_redis_urls_lose_their_password_in_messages() -> None:
    assert public_url("redis://user:secret@db:6379/0") == "redis://user:****@db:6379/0"
    assert public_url("redis://:secret@db/1") == "redis://:****@db/1"
    assert public_url("redis://db:6379/0") == "redis://db:6379/0"


def test_a_malformed_redis_url_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--state", "redis://127.0.0.1:notaport/0"]) == 2
    assert "fake-llm: state: " in capsys.readouterr().err
