"""Output caps over a real socket (issue 11, finding 5): a reply past max_reply_bytes is an error naming the rule,
found before the text is built; generated JSON stays bounded whatever a schema asks for."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from fake_llm.testing.server import FakeLLMServer

ECHO = "rules: [{name: echo-1000, reply: {content: '" + "{{ last_user }}" * 1000 + "'}}]"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(rules=ECHO, max_reply_bytes=1_000_000) as running:
        yield running


def _chat(server: FakeLLMServer, text: str, **extra: object) -> httpx.Response:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}
    return httpx.post(server.url + "/v1/chat/completions", json=body, timeout=10)


@pytest.mark.parametrize("stream", [False, True])
def test_a_template_blow_up_is_an_error_naming_the_rule(server: FakeLLMServer, stream: bool) -> None:
    response = _chat(server, "x" * 100_000, stream=stream)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "fake_llm_reply_too_large"
    assert "rule 'echo-1000'" in error["message"]
    assert "max_reply_bytes" in error["message"]


def test_replies_under_the_cap_are_served(server: FakeLLMServer) -> None:
    response = _chat(server, "ab")
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "ab" * 1000


def test_many_choices_count_too() -> None:
    rules = "rules: [{name: big, reply: {content: '" + "y" * 5000 + "'}}]"
    with FakeLLMServer(rules=rules, max_reply_bytes=100_000) as server:
        assert _chat(server, "hi").status_code == 200
        response = _chat(server, "hi", n=50)
        assert response.status_code == 400
        assert "rule 'big'" in response.json()["error"]["message"]


@pytest.mark.parametrize("keyword", [{"minItems": 10**9}, {"minProperties": 10**9}, {"minLength": 10**9}])
def test_generated_json_is_bounded(keyword: dict[str, int]) -> None:
    kind = "array" if "minItems" in keyword else "object" if "minProperties" in keyword else "string"
    tool = {
        "type": "function",
        "function": {
            "name": "f",
            "parameters": {"type": "object", "properties": {"v": {"type": kind, **keyword}}, "required": ["v"]},
        },
    }
    rules = "rules: [{name: call, reply: {tool_calls: [{name: f}]}}]"
    with FakeLLMServer(rules=rules) as server:
        response = _chat(server, "hi", tools=[tool])
        assert response.status_code == 400
        assert "more than fake-llm generates" in response.json()["error"]["message"]


def test_a_long_model_name_repeated_in_every_chunk_is_caught_before_the_events_are_built() -> None:
    # Found by `make fuzz`: each SSE chunk repeats the model, so 20,000 one-token chunks of a 200 kB model name
    # would build 4 GB of events before any check on the finished stream.
    rules = "rules: [{name: chunky, reply: {content: '{{ last_user }}', stream: {chunk_tokens: 1}}}]"
    with FakeLLMServer(rules=rules) as server:
        body = {"model": "m" * 200_000, "stream": True, "messages": [{"role": "user", "content": "word " * 20_000}]}
        response = httpx.post(server.url + "/v1/chat/completions", json=body, timeout=10)
        assert response.status_code == 400
        assert "rule 'chunky'" in response.json()["error"]["message"]
