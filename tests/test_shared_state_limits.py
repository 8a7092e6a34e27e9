"""Issue 11's limits hold with issue 18's shared state too: the Redis journal clips big bodies and keeps a byte
budget, reading it never fails, namespaces keep the file rules of run-time rules, and health's short answer keeps
the state's status code."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from textwrap import dedent
from typing import Any

import httpx
import pytest

from fake_llm import FakeLLMServer
from fake_llm.core.journal import MAX_BODY_CHARS

RULES = dedent(
    """\
    name: limits
    rules:
      - name: any
        match: {}
        reply: {content: ok}
    """
)


def chat(text: str) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}


@pytest.fixture
def namespace() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


def test_the_redis_journal_clips_big_bodies_and_keeps_its_byte_budget(redis_url: str, namespace: str) -> None:
    budget = 3 * MAX_BODY_CHARS  # room for two clipped entries, not three
    with (
        FakeLLMServer(rules=RULES, state=redis_url, namespace=namespace, journal_bytes=budget) as first,
        FakeLLMServer(rules=RULES, state=redis_url, namespace=namespace, journal_bytes=budget) as second,
    ):
        for i in range(6):
            server = (first, second)[i % 2]
            response = httpx.post(f"{server.url}/v1/chat/completions", json=chat(f"{i}" + "x" * 400_000), timeout=30)
            assert response.status_code == 200, response.text
        entries = httpx.get(f"{first.url}/_fake/journal", timeout=10).json()["entries"]
        assert 1 <= len(entries) <= 2
        assert [e["seq"] for e in entries] == list(range(7 - len(entries), 7))
        body = entries[-1]["body"]
        assert isinstance(body, str)
        assert body.startswith('{"model"')
        assert "[truncated by fake-llm:" in body
        assert len(body) < MAX_BODY_CHARS + 200


def test_the_redis_journal_reads_back_lone_surrogates_and_deep_bodies(redis_url: str, namespace: str) -> None:
    with FakeLLMServer(rules=RULES, state=redis_url, namespace=namespace) as server:
        raw = '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "a\\ud800b"}]}'
        first = httpx.post(
            f"{server.url}/v1/chat/completions", content=raw, headers={"content-type": "application/json"}
        )
        deep = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "metadata": {}}
        node = deep["metadata"]
        for _ in range(60):
            node["k"] = {}
            node = node["k"]
        second = httpx.post(f"{server.url}/v1/chat/completions", json=deep)
        assert first.status_code < 500
        assert second.status_code < 500
        journal = httpx.get(f"{server.url}/_fake/journal", timeout=10)
        assert journal.status_code == 200
        assert len(journal.json()["entries"]) == 2


def test_a_namespace_reads_content_files_from_the_scenario_folders_only(tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "base.yaml").write_text(RULES)
    (folder / "answer.txt").write_text("from the folder")
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-live-secret")
    with FakeLLMServer([folder]) as server:
        session = {"X-Fake-LLM-Session": "team-a"}
        allowed = "rules:\n  - name: filed\n    match: {user: file}\n    reply: {content_file: answer.txt}\n"
        posted = httpx.post(f"{server.url}/_fake/rules", content=allowed, headers=session)
        assert posted.status_code == 200, posted.text
        reply = httpx.post(f"{server.url}/v1/chat/completions", json=chat("file"), headers=session)
        assert reply.json()["choices"][0]["message"]["content"] == "from the folder"
        outside = "rules:\n  - name: leak\n    reply: {content_file: ../.env}\n"
        refused = httpx.post(f"{server.url}/_fake/rules", content=outside, headers=session)
        assert refused.status_code == 400
        assert "sk-live" not in refused.text


def test_health_short_answer_for_callers_without_the_token() -> None:
    with FakeLLMServer(rules=RULES, admin_token="s3cret") as server:
        short = httpx.get(f"{server.url}/_fake/health")
        assert short.status_code == 200
        assert short.json() == {"status": "ok", "load_errors": 0}
        full = httpx.get(f"{server.url}/_fake/health", headers={"X-Fake-LLM-Admin-Token": "s3cret"})
        assert full.json()["state"]["ok"] is True
        assert json.loads(full.text)["rules"] == 1


def test_fake_llm_health_sends_the_admin_token_and_reads_the_short_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    from fake_llm import healthcheck

    with FakeLLMServer(rules=RULES, admin_token="s3cret") as server:
        monkeypatch.setenv("FAKE_LLM_ADMIN_TOKEN", "s3cret")
        assert healthcheck.check(server.url, 5) == (True, f"ok: 1 rules at {server.url}")
        monkeypatch.setenv("FAKE_LLM_ADMIN_TOKEN", "wrong")
        healthy, _ = healthcheck.check(server.url, 5)
        assert healthy
        server.engine.load_errors.append("s.yaml:1: expected a mapping")
        healthy, message = healthcheck.check(server.url, 5)
        assert not healthy
        assert "1 load error(s)" in message


def test_workers_enforce_the_header_timeout_and_scrub_their_access_logs(redis_url: str, tmp_path: Path) -> None:
    import signal
    import socket
    import subprocess
    import sys
    import time

    from tests.redis_server import free_port

    scenario = tmp_path / "w.yaml"
    scenario.write_text(RULES)
    port = free_port()
    command = [sys.executable, "-m", "fake_llm", "serve", "--workers", "2", "--state", redis_url, "--port", str(port)]
    command += ["--namespace", uuid.uuid4().hex, "--scenarios", str(scenario), "--header-timeout", "0.5"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # two interpreters starting on a busy machine
        while True:
            try:
                if httpx.get(url + "/_fake/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None
            assert time.monotonic() < deadline, "fake-llm --workers 2 did not start"
            time.sleep(0.05)  # poll interval
        with socket.create_connection(("127.0.0.1", port), timeout=15) as silent:
            assert silent.recv(1) == b""  # closed by the worker's header timeout, not by our 15 s bound
        secret = "AIzaSECRET-do-not-log"
        response = httpx.post(
            f"{url}/v1beta/models/gemini-2.0-flash:generateContent?key={secret}",
            json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
            timeout=10,
        )
        assert response.status_code == 200, response.text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate(timeout=5)
    assert b"generateContent?key=[redacted]" in output
    assert secret.encode() not in output
