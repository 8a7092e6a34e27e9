"""FakeLLMServer: a real uvicorn in a thread, on a free port, with bounded start and stop."""

from __future__ import annotations

import threading
from pathlib import Path
from textwrap import dedent

import httpx
import pytest

from fake_llm.errors import ScenarioError
from fake_llm.testing.server import FakeLLMServer

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def test_serves_on_a_free_port_and_stops(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("rules:\n  - name: hi\n    reply: {content: Hi}\n")
    with FakeLLMServer(scenarios=[tmp_path]) as server:
        assert server.port > 0
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        reply = httpx.post(server.base_url + "/chat/completions", json=BODY, timeout=5)
        assert reply.json()["choices"][0]["message"]["content"] == "Hi"
        assert httpx.get(server.url + "/_fake/health", timeout=5).json()["rules"] == 1
    assert not any(t.name == "fake-llm" and t.is_alive() for t in threading.enumerate())
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/_fake/health", timeout=2)


def test_two_servers_side_by_side() -> None:
    with (
        FakeLLMServer(rules=[{"reply": {"content": "one"}}]) as a,
        FakeLLMServer(rules=[{"reply": {"content": "two"}}]) as b,
    ):
        assert a.port != b.port
        for server, text in ((a, "one"), (b, "two")):
            reply = httpx.post(server.base_url + "/chat/completions", json=BODY, timeout=5)
            assert reply.json()["choices"][0]["message"]["content"] == text


def test_starting_twice_is_refused() -> None:
    with FakeLLMServer() as server, pytest.raises(RuntimeError, match="already running"):
        server.start()


def test_bad_scenario_fails_before_serving(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        dedent("""\
        rules:
          - name: x
            reply: {contnt: hi}
        """)
    )
    with pytest.raises(ScenarioError, match=r"bad.yaml:3: rules\[0\]\.reply\.contnt: unknown key"):
        FakeLLMServer(scenarios=[bad])


def test_add_rules_load_and_reset(tmp_path: Path) -> None:
    (tmp_path / "file.yaml").write_text("rules:\n  - name: from-file\n    reply: {content: file}\n")
    with FakeLLMServer(rules=[{"name": "base", "match": {"user": "base"}, "reply": {"content": "base"}}]) as server:
        server.add_rules("- name: added\n  reply: {content: added}\n")
        # Rules added at run time are tried before the ones the server started with.
        assert [r.name for r in server.engine.selector.rules] == ["added", "base"]
        server.reset()
        assert [r.name for r in server.engine.selector.rules] == ["base"]
        server.load(tmp_path / "file.yaml", replace=False)
        assert [r.name for r in server.engine.selector.rules] == ["from-file", "base"]
        server.load(tmp_path / "file.yaml")
        assert [r.name for r in server.engine.selector.rules] == ["from-file"]


def test_settings_options_are_passed_through() -> None:
    with FakeLLMServer(api_keys=("secret",), seed=7) as server:
        assert server.settings.seed == 7
        denied = httpx.post(server.base_url + "/chat/completions", json=BODY, timeout=5)
        assert denied.status_code == 401
        assert denied.json()["error"]["code"] == "invalid_api_key"
