"""No input gets a 5xx (issue 11, finding 7): lone surrogates, huge integers, deep nesting and NaN/Infinity get each
dialect's own 400 envelope naming the field, over a real socket; the journal stays readable afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from textwrap import dedent

import httpx
import pytest

from fake_llm.testing.server import FakeLLMServer

RULES = dedent(
    """
    rules:
      - name: echo
        reply: {content: "You said {{ last_user }}"}
    """
)

#: (path, a valid body as JSON text with `@` where the bad value goes)
USER = '[{"role": "user", "content": "hi"}]'
DIALECTS = {
    "openai-chat": ("/v1/chat/completions", '{"model": "gpt-4o-mini", "max_tokens": @, "messages": ' + USER + "}"),
    "anthropic": ("/v1/messages", '{"model": "claude-sonnet-4-5", "max_tokens": @, "messages": ' + USER + "}"),
    "responses": ("/v1/responses", '{"model": "gpt-4o-mini", "max_output_tokens": @, "input": "hi"}'),
    "completions": ("/v1/completions", '{"model": "gpt-3.5-turbo-instruct", "max_tokens": @, "prompt": "hi"}'),
    "embeddings": ("/v1/embeddings", '{"model": "text-embedding-3-small", "dimensions": @, "input": "hi"}'),
    "gemini": (
        "/v1beta/models/gemini-2.0-flash:generateContent",
        '{"generationConfig": {"maxOutputTokens": @}, "contents": [{"role": "user", "parts": [{"text": "hi"}]}]}',
    ),
    "azure": (
        "/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21",
        '{"max_tokens": @, "messages": ' + USER + "}",
    ),
    "scale": ("/v5/chat/completions", '{"model": "m", "max_tokens": @, "messages": ' + USER + "}"),
}
BAD_VALUES = {
    "huge int": ("9" * 5000, "digits is out of range"),
    "NaN": ("NaN", "NaN is not valid JSON"),
    "Infinity": ("-Infinity", "-Infinity is not valid JSON"),
    "overflowing float": ("1e999", "out of range"),
    "lone surrogate": ('"\\ud800"', "lone surrogate"),
    "deep nesting": ("[" * 5000 + "]" * 5000, "nest"),
    "moderately deep nesting": ("[" * 600 + "]" * 600, "nest"),
}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(rules=RULES) as running:
        yield running


def _message(dialect: str, body: dict[str, object]) -> str:
    error = body["error"]
    assert isinstance(error, dict), body
    return str(error["message"])


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("bad", BAD_VALUES)
def test_bad_values_get_the_dialects_400(server: FakeLLMServer, dialect: str, bad: str) -> None:
    path, template = DIALECTS[dialect]
    value, why = BAD_VALUES[bad]
    response = httpx.post(
        server.url + path,
        content=template.replace("@", value),
        headers={"content-type": "application/json", "x-api-key": "k", "anthropic-version": "2023-06-01"},
        timeout=10,
    )
    assert response.status_code == 400, response.text
    message = _message(dialect, response.json())
    assert why in message
    if bad not in ("deep nesting", "moderately deep nesting"):
        assert "max" in message.lower() or "dimensions" in message  # the field is named
    journal = httpx.get(server.url + "/_fake/journal?limit=1", timeout=10)
    assert journal.status_code == 200


@pytest.mark.parametrize("field", ["model", "messages[0].content"])
def test_a_lone_surrogate_anywhere_is_named(server: FakeLLMServer, field: str) -> None:
    body = '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}'
    body = body.replace('"gpt-4o-mini"' if field == "model" else '"hi"', '"x\\udfff"')
    response = httpx.post(
        server.url + "/v1/chat/completions", content=body, headers={"content-type": "application/json"}, timeout=10
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == field
    assert httpx.get(server.url + "/_fake/journal", timeout=10).status_code == 200


def test_temperature_nan_is_refused(server: FakeLLMServer) -> None:
    body = '{"model": "gpt-4o-mini", "temperature": NaN, "messages": [{"role": "user", "content": "hi"}]}'
    response = httpx.post(server.url + "/v1/chat/completions", content=body, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "temperature"


def test_deep_but_reasonable_values_still_work(server: FakeLLMServer) -> None:
    nested: object = "deep"
    for _ in range(40):
        nested = {"k": nested}
    body = {"model": "gpt-4o-mini", "metadata_like": nested, "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(server.url + "/v1/chat/completions", json=body, timeout=10)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "You said hi"


@pytest.mark.parametrize("schema", [{"type": "object", "required": 5}])
def test_a_malformed_tool_schema_gets_a_400(server: FakeLLMServer, schema: dict[str, object]) -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": schema}}
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "tools": [tool]}
    with FakeLLMServer(rules="rules: [{name: call, reply: {tool_calls: [{name: f}]}}]") as caller:
        response = httpx.post(caller.url + "/v1/chat/completions", json=body, timeout=10)
    assert response.status_code == 400, response.text
    assert "schema" in response.json()["error"]["message"]
