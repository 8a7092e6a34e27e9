"""Regexes from requests and run-time rules run in linear time (issue 11, finding 4), over a real socket: the
catastrophic patterns of the report answer at once, refused ones get a 400 naming the field, and disk rules with
catastrophic shapes get a load warning."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent

import httpx
import pytest

from fake_llm.http.engine import FakeLLM
from fake_llm.scenarios.safe_regex import UnsafeRegex, catastrophic_parts, compile_linear
from fake_llm.settings import Settings
from fake_llm.testing.server import FakeLLMServer

RULES = "rules: [{name: anything, reply: {content: " + "a" * 60 + "X}}]"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(rules=RULES) as running:
        yield running


def _chat(server: FakeLLMServer, **extra: object) -> httpx.Response:
    body = {"model": "m", "messages": [{"role": "user", "content": "a" * 50_000 + "!"}], **extra}
    return httpx.post(server.url + "/v1/chat/completions", json=body, timeout=10)


def test_a_catastrophic_guided_regex_answers_at_once(server: FakeLLMServer) -> None:
    response = _chat(server, guided_regex="(.+)+Z")
    assert response.status_code == 400  # the scripted reply does not end in Z: a mismatch, found in linear time
    assert "guided_regex" in response.json()["error"]["message"]


@pytest.mark.parametrize(("regex", "why"), [("a{100000000}", "repetition"), ("(a)\\1", "backreferences")])
def test_refused_guided_regexes_get_a_400_naming_the_field(server: FakeLLMServer, regex: str, why: str) -> None:
    response = _chat(server, guided_regex=regex)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "guided_regex"
    assert why in error["message"]


def test_a_schema_pattern_in_a_tool_is_checked(server: FakeLLMServer) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "f",
            "parameters": {"type": "object", "properties": {"code": {"type": "string", "pattern": "(x)\\1{5}"}}},
        },
    }
    response = _chat(server, tools=[tool])
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "tools[0].function.parameters.properties.code.pattern"


def test_a_catastrophic_run_time_rule_regex_is_linear(server: FakeLLMServer) -> None:
    rules = "rules: [{name: redos, match: {user: {regex: '^(a+)+$'}}, reply: {content: matched}}]"
    assert httpx.post(server.url + "/_fake/rules", content=rules, timeout=10).status_code == 200
    try:
        body = {"model": "m", "messages": [{"role": "user", "content": "a" * 30 + "!"}]}
        response = httpx.post(server.url + "/v1/chat/completions", json=body, timeout=10)
        assert response.json()["choices"][0]["message"]["content"].endswith("X")  # redos did not match
    finally:
        server.reset(rules=True)


def test_a_run_time_rule_with_a_backreference_is_refused(server: FakeLLMServer) -> None:
    rules = "rules: [{name: back, match: {user: {regex: '(a)\\1'}}, reply: {content: x}}]"
    response = httpx.post(server.url + "/_fake/rules", content=rules, timeout=10)
    assert response.status_code == 400
    assert "rules[0].match.user.regex" in response.json()["error"]["message"]
    assert "backreferences" in response.json()["error"]["message"]


def test_disk_rules_keep_python_regexes_and_warn_on_catastrophic_ones(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        dedent(
            """
            rules:
              - name: lookahead
                match: {user: {regex: 'a(?=b)'}}
                reply: {content: ok}
              - name: risky
                match: {user: {regex: '^(a+)+$'}}
                reply: {content: ok}
            """
        )
    )
    engine = FakeLLM.from_settings(Settings(scenarios=(str(tmp_path),)))
    assert [w for w in engine.warnings if "risky" in w and "backtrack catastrophically" in w]
    assert not [w for w in engine.warnings if "lookahead" in w]


@pytest.mark.parametrize(
    ("pattern", "risky"), [("(a+)+$", True), ("(.*)*x", True), ("(?:ab|c)+", False), ("\\w+@\\w+", False)]
)
def test_catastrophic_parts(pattern: str, risky: bool) -> None:
    assert bool(catastrophic_parts(pattern)) is risky


def test_compile_linear_refuses_long_patterns() -> None:
    with pytest.raises(UnsafeRegex, match="longer than"):
        compile_linear("a" * 5000)
    assert compile_linear("HELLO", ignore_case=True).search("say hello") is not None
