"""Cohere v2 through the official `cohere.ClientV2(base_url=...)`: chat and chat_stream (typed SSE events), tool
calls, embed (float and int8), rerank (scores from a rule or the deterministic default), and errors (429 as
TooManyRequestsError)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from fake_llm.testing.server import FakeLLMServer
from tests.helpers import serve, user_turn

cohere = pytest.importorskip("cohere")

RULES = """
- name: greet
  match: {user: hello}
  reply: {content: "Hello there, how may I assist you today?", stream: {chunk_tokens: 2}}
- name: think
  match: {user: think}
  reply: {reasoning_content: "Six times seven.", content: "42."}
- name: weather
  match: {user: weather, last_role: user}
  reply: {content: "I will look it up.", tool_calls: [{name: get_weather, arguments: {city: Paris}}]}
- name: weather-answer
  match: {tool_result_for: get_weather}
  reply: {content: "Sunny in Paris."}
- name: busy
  match: {user: busy}
  reply: {error: {status: 429}}
- name: broken
  match: {user: broken}
  reply: {content: "one two three four", stream: {error_after: 3, error: {message: "upstream failed"}}}
- name: scripted-rerank
  match: {api: cohere-rerank, user: scripted}
  reply: {scores: [0.1, 0.9]}
- name: other-endpoints
  match: {api: [cohere-embed, cohere-rerank]}
  reply: {content: ""}
"""
#: The cohere client retries a 429 twice with backoff; one answer is what these tests look at.
NO_RETRIES: cohere.RequestOptions = {"max_retries": 0}
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
def client(server: FakeLLMServer) -> Iterator[cohere.ClientV2]:
    server.reset(rules=False)
    with httpx.Client(timeout=10) as http:
        yield cohere.ClientV2(api_key="test-key", base_url=server.url, httpx_client=http)


def test_chat(client: cohere.ClientV2) -> None:
    reply = client.chat(model="command-a-03-2025", messages=user_turn("hello"))
    assert reply.message.content
    assert reply.message.content[0].text == "Hello there, how may I assist you today?"
    assert reply.finish_reason == "COMPLETE"
    assert reply.usage
    assert reply.usage.tokens
    assert reply.usage.billed_units
    assert reply.usage.tokens.output_tokens == 10
    assert reply.usage.billed_units.input_tokens
    assert reply.usage.billed_units.input_tokens > 0
    assert (reply.usage.tokens.input_tokens or 0) > reply.usage.billed_units.input_tokens


def test_chat_stream_typed_events_lose_no_text(client: cohere.ClientV2, caplog: pytest.LogCaptureFixture) -> None:
    events = list(client.chat_stream(model="command-a-03-2025", messages=user_turn("hello")))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["message-start", "content-start"]
    assert kinds[-2:] == ["content-end", "message-end"]
    text = "".join(e.delta.message.content.text for e in events if e.type == "content-delta")
    assert text == "Hello there, how may I assist you today?"
    assert events[-1].delta.finish_reason == "COMPLETE"
    assert events[-1].delta.usage.tokens.output_tokens == 10
    assert not [r for r in caplog.records if "Skipping" in r.getMessage()]  # no malformed event was dropped


def test_thinking_when_enabled(client: cohere.ClientV2) -> None:
    reply = client.chat(model="command-a-reasoning", messages=user_turn("think"), thinking={"type": "enabled"})
    assert [c.type for c in reply.message.content or []] == ["thinking", "text"]
    events = list(
        client.chat_stream(model="command-a-reasoning", messages=user_turn("think"), thinking={"type": "enabled"})
    )
    thoughts = [e.delta.message.content.thinking for e in events if e.type == "content-delta" and e.index == 0]
    assert "".join(thoughts) == "Six times seven."


def test_tool_call_with_plan_and_result(client: cohere.ClientV2) -> None:
    reply = client.chat(model="command-a-03-2025", messages=user_turn("weather?"), tools=[WEATHER_TOOL])
    assert reply.finish_reason == "TOOL_CALL"
    assert reply.message.tool_plan == "I will look it up."
    (call,) = reply.message.tool_calls or []
    assert call.id
    assert call.id.startswith("get_weather_")
    assert call.function
    assert json.loads(call.function.arguments or "") == {"city": "Paris"}
    events = list(client.chat_stream(model="command-a-03-2025", messages=user_turn("weather?"), tools=[WEATHER_TOOL]))
    arguments = "".join(
        e.delta.message.tool_calls.function.arguments
        for e in events
        if e.type in ("tool-call-start", "tool-call-delta")
    )
    assert json.loads(arguments) == {"city": "Paris"}
    assert "".join(e.delta.message.tool_plan for e in events if e.type == "tool-plan-delta") == "I will look it up."
    followup = [
        *user_turn("weather?"),
        {"role": "assistant", "tool_plan": reply.message.tool_plan, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": [{"type": "text", "text": "sunny"}]},
    ]
    answer = client.chat(model="command-a-03-2025", messages=followup, tools=[WEATHER_TOOL])
    assert answer.message.content
    assert answer.message.content[0].text == "Sunny in Paris."


def test_429_is_too_many_requests(client: cohere.ClientV2) -> None:
    with pytest.raises(cohere.errors.TooManyRequestsError) as raised:
        client.chat(model="command-a-03-2025", messages=user_turn("busy"), request_options=NO_RETRIES)
    assert raised.value.status_code == 429
    assert raised.value.body == {"message": "You are past the rate limit for this API key. Please wait and try again."}
    with pytest.raises(cohere.errors.TooManyRequestsError):
        list(client.chat_stream(model="command-a-03-2025", messages=user_turn("busy"), request_options=NO_RETRIES))


def test_a_failed_stream_ends_with_an_error_message_end(client: cohere.ClientV2) -> None:
    events = list(client.chat_stream(model="command-a-03-2025", messages=user_turn("broken")))
    assert events[-1].type == "message-end"
    assert events[-1].delta.finish_reason == "ERROR"
    assert events[-1].delta.error == "upstream failed"


def test_bad_request_is_a_400_naming_the_field(client: cohere.ClientV2) -> None:
    with pytest.raises(cohere.errors.BadRequestError) as raised:
        client.chat(model="command-a-03-2025", messages=user_turn("hello"), temperature=3)
    assert raised.value.body == {"message": "invalid request: temperature must be a number between 0 and 1."}


def test_embed_float_and_int8(client: cohere.ClientV2) -> None:
    result = client.embed(
        model="embed-v4.0", texts=["first", "second"], input_type="search_document", embedding_types=["float", "int8"]
    )
    floats, ints = result.embeddings.float_ or [], result.embeddings.int8 or []
    assert [len(v) for v in floats] == [1536, 1536]
    assert floats[0] != floats[1]
    assert ints[0] == [max(-128, min(127, round(x * 127))) for x in floats[0]]
    assert result.texts == ["first", "second"]
    assert result.meta
    assert result.meta.billed_units
    assert result.meta.billed_units.input_tokens == 2
    short = client.embed(model="embed-v4.0", texts=["first"], input_type="search_query", output_dimension=256)
    assert len((short.embeddings.float_ or [[]])[0]) == 256
    with pytest.raises(cohere.errors.BadRequestError, match="input_type"):
        client.embed(model="embed-v4.0", texts=["x"], input_type="poetry")


def test_rerank_default_and_scripted(client: cohere.ClientV2) -> None:
    documents = ["Paris is the capital of France.", "Bananas are yellow.", "The capital of Italy is Rome."]
    ranked = client.rerank(model="rerank-v3.5", query="capital of France", documents=documents, top_n=2)
    assert [r.index for r in ranked.results] == [0, 2]
    assert ranked.results[0].relevance_score > ranked.results[1].relevance_score
    again = client.rerank(model="rerank-v3.5", query="capital of France", documents=documents, top_n=2)
    assert again.results == ranked.results
    scripted = client.rerank(model="rerank-v3.5", query="scripted", documents=["a", "b", "c"])
    assert [(r.index, r.relevance_score) for r in scripted.results] == [(1, 0.9), (0, 0.1), (2, 0.0)]
