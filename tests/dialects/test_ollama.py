"""Ollama through the official `ollama` client (`Client(host=...)`): chat and generate, streamed as NDJSON and not,
tool calls with object arguments, embeddings old and new, the model endpoints, and `{"error": ...}` errors."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from fake_llm.testing.server import FakeLLMServer
from tests.helpers import serve, user_turn
from tests.sdk_clients import closing

ollama = pytest.importorskip("ollama")

RULES = """
- name: greet
  match: {user: hello}
  reply: {content: "Hello there, how may I assist you today?", stream: {chunk_tokens: 2}}
- name: think
  match: {user: think}
  reply: {reasoning_content: "Six times seven.", content: "42."}
- name: weather
  match: {user: weather, last_role: user}
  reply: {tool_calls: [{name: get_weather, arguments: {city: Paris}}]}
- name: weather-answer
  match: {tool_result_for: get_weather}
  reply: {content: "Sunny in {{ request.model }}"}
- name: json
  match: {response_format: json_schema}
  reply: {generate: {}}
- name: busy
  match: {user: busy}
  reply: {error: {status: 429, message: "too many requests, slow down"}}
- name: broken
  match: {user: broken}
  reply: {content: "one two three four", stream: {error_after: 2, error: {message: "model runner crashed"}}}
- name: paced
  match: {user: paced}
  reply: {content: "one two three four", stream: {chunk_tokens: 1, chunk_ms: 1, keepalive_every: 1}}
- name: vectors
  match: {api: [ollama-embed, ollama-embeddings], user: fixed}
  reply: {embedding: [3, 4]}
- name: any-embed
  match: {api: [ollama-embed, ollama-embeddings]}
  reply: {content: ""}
"""
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    yield from serve(RULES, time_scale=1.0)


@pytest.fixture
def client(server: FakeLLMServer) -> ollama.Client:
    server.reset(rules=False)
    return closing(ollama.Client(host=server.url, timeout=10))


def test_chat_answers_with_message_and_real_token_counts(client: ollama.Client) -> None:
    reply = client.chat(model="llama3.2", messages=user_turn("hello"))
    assert reply.message.role == "assistant"
    assert reply.message.content == "Hello there, how may I assist you today?"
    assert reply.done is True
    assert reply.done_reason == "stop"
    assert reply.model == "llama3.2"
    assert reply.created_at == "2026-01-01T00:00:00Z"
    assert reply.eval_count == 10  # the tokenizer's count of the reply
    assert reply.prompt_eval_count
    assert reply.prompt_eval_count > 0
    assert reply.total_duration == reply.load_duration + reply.prompt_eval_duration + reply.eval_duration


def test_chat_stream_is_bare_ndjson_ending_with_done(client: ollama.Client, server: FakeLLMServer) -> None:
    parts = list(client.chat(model="llama3.2", messages=user_turn("hello"), stream=True))
    assert "".join(p.message.content for p in parts) == "Hello there, how may I assist you today?"
    assert [p.done for p in parts] == [False] * (len(parts) - 1) + [True]
    assert parts[-1].done_reason == "stop"
    assert parts[-1].eval_count == 10
    with httpx.stream(
        "POST", server.url + "/api/chat", json={"model": "m", "messages": user_turn("hello")}, timeout=10
    ) as raw:  # Ollama streams unless told not to
        assert raw.headers["content-type"] == "application/x-ndjson"
        body = raw.read().decode()
    assert "data:" not in body
    assert "\n\n" not in body
    assert body.endswith("}\n")
    assert all(json.loads(line)["model"] == "m" for line in body.splitlines())


def test_chat_thinking_is_separate_only_when_asked(client: ollama.Client) -> None:
    thought = client.chat(model="qwen3", messages=user_turn("think"), think=True)
    assert thought.message.thinking == "Six times seven."
    assert thought.message.content == "42."
    plain = client.chat(model="qwen3", messages=user_turn("think"))
    assert plain.message.thinking is None


def test_tool_call_arguments_are_an_object_and_the_result_matches_back(client: ollama.Client) -> None:
    reply = client.chat(model="llama3.2", messages=user_turn("weather in Paris?"), tools=[WEATHER_TOOL])
    (call,) = reply.message.tool_calls or []
    assert call.function.name == "get_weather"
    assert call.function.arguments == {"city": "Paris"}
    streamed = list(
        client.chat(model="llama3.2", messages=user_turn("weather in Paris?"), tools=[WEATHER_TOOL], stream=True)
    )
    assert [c.function.arguments for p in streamed for c in p.message.tool_calls or []] == [{"city": "Paris"}]
    followup = [
        *user_turn("weather in Paris?"),
        reply.message.model_dump(exclude_none=True),
        {"role": "tool", "content": "sunny", "tool_name": "get_weather"},
    ]
    assert client.chat(model="llama3.2", messages=followup).message.content == "Sunny in llama3.2"


def test_format_json_schema_gets_a_fitting_object(client: ollama.Client) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    reply = client.chat(model="llama3.2", messages=user_turn("count"), format=schema)
    assert isinstance(json.loads(reply.message.content or "")["n"], int)


def test_generate_streamed_and_not(client: ollama.Client) -> None:
    reply = client.generate(model="llama3.2", prompt="hello", system="be brief")
    assert reply.response == "Hello there, how may I assist you today?"
    assert reply.done_reason == "stop"
    assert reply.context
    assert len(reply.context) == (reply.prompt_eval_count or 0) + (reply.eval_count or 0)
    parts = list(client.generate(model="llama3.2", prompt="hello", stream=True))
    assert "".join(p.response for p in parts) == reply.response
    assert parts[-1].done is True


def test_errors_are_response_errors_with_ollama_status(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as busy:
        client.chat(model="llama3.2", messages=user_turn("busy"))
    assert busy.value.status_code == 429
    assert busy.value.error == "too many requests, slow down"
    with pytest.raises(ollama.ResponseError) as unmatched:
        client.chat(model="llama3.2", messages=user_turn("nothing matches this"))
    assert unmatched.value.status_code == 400
    assert "no rule matched" in unmatched.value.error


def test_a_mid_stream_error_line_raises(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError, match="model runner crashed"):
        list(client.chat(model="llama3.2", messages=user_turn("broken"), stream=True))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": []}, "model is required"),
        ({"model": "m", "messages": "hi"}, "cannot unmarshal string into Go struct field messages"),
        ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, 'invalid role "robot"'),
        ({"model": "m", "messages": [], "format": 3}, "invalid format: 3"),
        ({"model": "m", "messages": [], "options": {"temperature": "hot"}}, "option 'temperature' must be"),
    ],
)
def test_bad_requests_get_ollama_400s(server: FakeLLMServer, body: dict[str, object], message: str) -> None:
    answer = httpx.post(server.url + "/api/chat", json=body, timeout=10)
    assert answer.status_code == 400
    assert message in answer.json()["error"]
    assert list(answer.json()) == ["error"]


def test_embed_and_the_older_embeddings(client: ollama.Client) -> None:
    batch = client.embed(model="nomic-embed-text", input=["first", "second"])
    assert len(batch.embeddings) == 2
    assert [len(v) for v in batch.embeddings] == [768, 768]
    assert batch.embeddings[0] != batch.embeddings[1]
    assert abs(sum(x * x for x in batch.embeddings[0]) - 1) < 1e-5
    assert batch.prompt_eval_count
    assert batch.prompt_eval_count > 0
    again = client.embed(model="nomic-embed-text", input="first")
    assert again.embeddings[0] == batch.embeddings[0]
    assert client.embed(model="all-minilm", input="x", dimensions=64).embeddings[0].__len__() == 64
    assert client.embed(model="m", input="fixed").embeddings == [[3.0, 4.0]]
    assert list(client.embeddings(model="nomic-embed-text", prompt="first").embedding) == batch.embeddings[0]


def test_model_endpoints(client: ollama.Client) -> None:
    listed = client.list()
    assert [m.model for m in listed.models] == ["gpt-4o-mini:latest"]
    assert listed.models[0].details
    assert listed.models[0].details.format == "gguf"
    shown = client.show("gpt-4o-mini")
    assert shown.capabilities == ["completion", "tools"]
    with pytest.raises(ollama.ResponseError) as missing:
        client.show("nope")
    assert missing.value.status_code == 404
    assert [m.model for m in client.ps().models] == ["gpt-4o-mini:latest"]
    assert httpx.get(client._client.base_url.join("/api/version"), timeout=10).json() == {"version": "0.12.6"}


def test_a_paced_stream_stays_ndjson_and_drops_sse_keepalives(client: ollama.Client, server: FakeLLMServer) -> None:
    parts = list(client.chat(model="llama3.2", messages=user_turn("paced"), stream=True))
    assert "".join(p.message.content for p in parts) == "one two three four"
    body = {"model": "m", "messages": user_turn("paced")}
    with httpx.stream("POST", server.url + "/api/chat", json=body, timeout=10) as raw:
        lines = raw.read().decode().splitlines()
    assert [json.loads(line)["done"] for line in lines] == [False] * 4 + [True]


@pytest.mark.parametrize(
    ("path", "shape"),
    [("/api/pull", {"error"}), ("/v2/classify", {"message"}), ("/mistral/v1/fim/completions", {"object", "message"})],
)
def test_unknown_urls_answer_in_the_dialect_shape(server: FakeLLMServer, path: str, shape: set[str]) -> None:
    answer = httpx.post(server.url + path, json={}, timeout=10)
    assert answer.status_code == 404
    assert shape <= set(answer.json())
    assert "Unknown request URL" in str(answer.json())


def test_a_request_with_nothing_to_answer_loads_the_model_without_a_rule(
    client: ollama.Client, server: FakeLLMServer
) -> None:
    assert client.generate(model="llama3.2").done_reason == "load"
    loaded = client.chat(model="llama3.2", messages=[])
    assert (loaded.done, loaded.done_reason, loaded.message.content) == (True, "load", "")
    assert client.chat(model="llama3.2", messages=[], keep_alive=0).done_reason == "unload"
    assert [e.reply for e in server.journal.entries] == ["load (answered by the dialect)"] * 2 + [
        "unload (answered by the dialect)"
    ]
    assert server.journal.unmatched == []
