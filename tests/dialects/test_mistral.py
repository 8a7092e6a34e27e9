"""Mistral through the official `mistralai` client (server_url `<fake-llm>/mistral`): chat streamed and not, tool
calls with 9-character ids, embeddings, and errors in Mistral's flat envelope (429 as SDKError with its status)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from fake_llm.testing.server import FakeLLMServer

mistralai = pytest.importorskip("mistralai")
from mistralai.client import Mistral  # noqa: E402
from mistralai.client.errors import SDKError  # noqa: E402

from tests.helpers import serve, user_turn  # noqa: E402

RULES = """
- name: greet
  match: {user: hello}
  reply: {content: "Hello there, how may I assist you today?", stream: {chunk_tokens: 2}}
- name: weather
  match: {user: weather, last_role: user}
  reply: {tool_calls: [{name: get_weather, arguments: {city: Paris}}]}
- name: weather-answer
  match: {tool_result_for: get_weather}
  reply: {content: "Sunny in Paris."}
- name: busy
  match: {user: busy}
  reply: {error: {status: 429}}
- name: vectors
  match: {api: mistral-embeddings}
  reply: {content: ""}
"""
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    yield from serve(RULES, time_scale=1.0)


@pytest.fixture
def client(server: FakeLLMServer) -> Iterator[Mistral]:
    server.reset(rules=False)
    with Mistral(api_key="test-key", server_url=server.url + "/mistral", timeout_ms=10_000) as made:
        yield made


def test_chat_completion(client: Mistral) -> None:
    reply = client.chat.complete(model="mistral-small-latest", messages=user_turn("hello"), random_seed=3)
    assert reply.choices[0].message.content == "Hello there, how may I assist you today?"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.model == "mistral-small-latest"
    assert reply.usage.completion_tokens == 10
    assert reply.usage.prompt_tokens
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + 10


def test_chat_stream_reports_usage_on_the_last_chunk(client: Mistral) -> None:
    events = list(client.chat.stream(model="mistral-small-latest", messages=user_turn("hello")))
    text = "".join(str(e.data.choices[0].delta.content or "") for e in events)
    assert text == "Hello there, how may I assist you today?"
    assert events[-1].data.choices[0].finish_reason == "stop"
    assert events[-1].data.usage
    assert events[-1].data.usage.completion_tokens == 10
    assert all(e.data.usage is None for e in events[:-1])


def test_tool_call_round_trip(client: Mistral) -> None:
    reply = client.chat.complete(
        model="mistral-large-latest", messages=user_turn("weather?"), tools=[WEATHER_TOOL], tool_choice="any"
    )
    message = reply.choices[0].message
    (call,) = message.tool_calls or []
    assert reply.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(str(call.function.arguments)) == {"city": "Paris"}
    assert len(call.id or "") == 9
    assert (call.id or "").isalnum()
    streamed = list(
        client.chat.stream(model="mistral-large-latest", messages=user_turn("weather?"), tools=[WEATHER_TOOL])
    )
    calls = [c for e in streamed for c in e.data.choices[0].delta.tool_calls or []]
    assert [len(c.id or "") for c in calls] == [9]
    followup = [
        *user_turn("weather?"),
        {"role": "assistant", "content": "", "tool_calls": [call.model_dump()]},
        {"role": "tool", "name": "get_weather", "content": "sunny", "tool_call_id": call.id},
    ]
    assert client.chat.complete(model="mistral-large-latest", messages=followup).choices[0].message.content == (
        "Sunny in Paris."
    )


def test_429_is_an_sdk_error_with_mistral_envelope(client: Mistral) -> None:
    with pytest.raises(SDKError) as raised:
        client.chat.complete(model="mistral-small-latest", messages=user_turn("busy"))
    assert raised.value.status_code == 429
    assert json.loads(raised.value.body) == {
        "object": "error",
        "message": "Requests rate limit exceeded",
        "type": "rate_limited",
        "param": None,
        "code": None,
    }


def test_bad_request_names_the_field(server: FakeLLMServer) -> None:
    answer = httpx.post(
        server.url + "/mistral/v1/chat/completions",
        json={"model": "m", "messages": user_turn("hi"), "tool_choice": "sometimes"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["param"] == "tool_choice"
    assert answer.json()["object"] == "error"


def test_embeddings(client: Mistral) -> None:
    result = client.embeddings.create(model="mistral-embed", inputs=["first", "second"])
    assert [len(d.embedding or []) for d in result.data] == [1024, 1024]
    assert result.data[0].embedding != result.data[1].embedding
    assert result.usage.prompt_tokens
    assert result.usage.prompt_tokens > 0
    shorter = client.embeddings.create(model="codestral-embed", inputs="first", output_dimension=256)
    assert len(shorter.data[0].embedding or []) == 256
