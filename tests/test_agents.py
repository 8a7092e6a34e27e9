"""Agent loops with the official openai client: tool calls, tool results, structured output, generated replies."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pydantic
import pytest

from fake_llm.testing.server import FakeLLMServer

openai = pytest.importorskip("openai")

RULES = """
- name: weather-call
  match: {tools: get_weather, last_role: user, user: {regex: "weather in (?P<city>[A-Z][a-z]+)"}}
  reply:
    content: "Let me check."
    tool_calls: [{name: get_weather, arguments: {city: "{{ match.city }}"}}]
- name: weather-answer
  match: {last_role: tool, tool_result_for: get_weather}
  reply: {content: "In {{ request.model }} terms: {{ tool_result }}."}
- name: parallel
  match: {user: parallel}
  reply: {tool_calls: [{name: get_weather}, {name: get_time, arguments: '{"tz": '}], stream: {chunk_tokens: 2}}
- name: only-text
  match: {user: plain}
  reply: {content: "Just text."}
- name: ghost
  match: {user: {equals: ghost}}
  reply: {tool_calls: [{name: launch_rockets}]}
- name: ghost-allowed
  match: {user: allowed ghost}
  allow_unknown_tools: true
  reply: {tool_calls: [{name: launch_rockets, arguments: {count: 3}}]}
- name: counter
  match: {user: count}
  replies: [{content: "one"}, {content: "two"}, {content: "three"}]
- name: refuse
  match: {user: refuse}
  reply: {refusal: "I can't help with that."}
- name: generated
  match: {user: {startswith: generate}}
  reply: {generate: {words: 12}}
- name: think
  match: {user: think}
  reply: {reasoning_content: "Six times seven.", content: "42"}
"""

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(rules=RULES, freeze_time=1767225600) as running:
        yield running


@pytest.fixture
def client(server: FakeLLMServer) -> Iterator[openai.OpenAI]:
    server.reset(rules=False)
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0, timeout=10) as made:
        yield made


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def run_weather_loop(client: openai.OpenAI, city: str, *, stream: bool) -> tuple[str, list[Any]]:
    """The loop an agent runs: ask, execute the tool the model asks for, send the result, read the answer."""
    messages: list[dict[str, Any]] = user(f"What's the weather in {city}?")
    if stream:
        with client.chat.completions.stream(model="gpt-4o", messages=messages, tools=[WEATHER]) as events:
            first = events.get_final_completion()
    else:
        first = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER])
    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls"
    messages.append(
        {
            "role": "assistant",
            "content": message.content,
            "tool_calls": [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.function.name, "arguments": c.function.arguments},
                }
                for c in message.tool_calls or []
            ],
        }
    )
    for call in message.tool_calls or []:
        arguments = json.loads(call.function.arguments)
        messages.append({"role": "tool", "tool_call_id": call.id, "content": f"sunny in {arguments['city']}"})
    final = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER])
    return final.choices[0].message.content or "", message.tool_calls or []


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_complete_agent_loop(client: openai.OpenAI, stream: bool) -> None:
    answer, calls = run_weather_loop(client, "Paris", stream=stream)
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [("get_weather", {"city": "Paris"})]
    assert calls[0].id.startswith("call_")
    assert answer == "In gpt-4o terms: sunny in Paris."


def test_two_concurrent_loops_do_not_interfere(server: FakeLLMServer, client: openai.OpenAI) -> None:
    results: dict[str, str] = {}

    def loop(city: str) -> None:
        with openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=10) as own:
            for _ in range(5):
                results[city] = run_weather_loop(own, city, stream=city == "Lima")[0]

    threads = [threading.Thread(target=loop, args=(city,)) for city in ("Oslo", "Lima")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == {"Oslo": "In gpt-4o terms: sunny in Oslo.", "Lima": "In gpt-4o terms: sunny in Lima."}


def test_parallel_tool_calls_stream_with_an_index_on_every_fragment(
    server: FakeLLMServer, client: openai.OpenAI
) -> None:
    with client.chat.completions.stream(model="gpt-4o", messages=user("parallel"), tools=[WEATHER, TIME]) as events:
        final = events.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    generated = json.loads(calls[0].function.arguments)
    jsonschema.validate(generated, WEATHER["function"]["parameters"])  # type: ignore[arg-type]
    assert calls[1].function.arguments == '{"tz": '  # scripted invalid JSON passes through untouched
    body = {"model": "gpt-4o", "stream": True, "messages": user("parallel"), "tools": [WEATHER, TIME]}
    raw = httpx.post(server.base_url + "/chat/completions", json=body, timeout=5).text
    fragments = [
        call
        for line in raw.splitlines()
        if line.startswith("data: {")
        for choice in json.loads(line[6:])["choices"]
        for call in choice["delta"].get("tool_calls", [])
    ]
    assert all("index" in f and isinstance(f["function"], dict) for f in fragments)
    firsts = [f for f in fragments if "id" in f]
    assert [(f["index"], f["function"]["name"], f["type"]) for f in firsts] == [
        (0, "get_weather", "function"),
        (1, "get_time", "function"),
    ]
    assert all("name" not in f["function"] for f in fragments if "id" not in f)
    assert len(fragments) > 4  # arguments arrive split across chunks


def test_tool_choice_none_sends_no_tool_calls(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o", messages=user("weather in Rome"), tools=[WEATHER], tool_choice="none"
    )
    assert completion.choices[0].message.tool_calls is None
    assert completion.choices[0].message.content == "Let me check."
    assert completion.choices[0].finish_reason == "stop"


def test_forced_tool_with_a_text_only_rule_is_explained(server: FakeLLMServer, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=user("plain"), tools=[WEATHER], tool_choice="required")
    assert caught.value.code == "fake_llm_reply_mismatch"
    assert (
        "forces a tool call (tool_choice 'required') but rule 'only-text' replies without one" in caught.value.message
    )
    assert server.journal.last.outcome == "mismatch"


def test_unknown_tool_is_refused_unless_allowed(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=user("ghost"), tools=[WEATHER])
    assert "calls 'launch_rockets', which the request does not offer (it offers get_weather)" in caught.value.message
    allowed = client.chat.completions.create(model="gpt-4o", messages=user("allowed ghost"), tools=[WEATHER])
    assert allowed.choices[0].message.tool_calls[0].function.arguments == '{"count":3}'  # type: ignore[index]


def test_replies_advance_per_session(server: FakeLLMServer, client: openai.OpenAI) -> None:
    def ask(session: str) -> str:
        completion = client.chat.completions.create(
            model="gpt-4o", messages=user("count"), extra_headers={"X-Fake-LLM-Session": session}
        )
        return completion.choices[0].message.content or ""

    assert [ask("a"), ask("b"), ask("a"), ask("a"), ask("a"), ask("b")] == [
        "one",
        "one",
        "two",
        "three",
        "three",
        "two",
    ]


class Person(pydantic.BaseModel):
    name: str
    email: str
    age: int = pydantic.Field(ge=0, le=120)
    tags: list[str]


def test_parse_with_a_pydantic_model_gets_a_generated_valid_object(server: FakeLLMServer) -> None:
    server.reset(rules=True)
    server.add_rules([{"name": "structured", "match": {"response_format": "json_schema"}, "reply": {"generate": {}}}])
    with openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as client:
        first = client.chat.completions.parse(model="gpt-4o", messages=user("who?"), response_format=Person)
        again = client.chat.completions.parse(model="gpt-4o", messages=user("who?"), response_format=Person)
        other = client.chat.completions.parse(model="gpt-4o", messages=user("someone else"), response_format=Person)
    person = first.choices[0].message.parsed
    assert isinstance(person, Person)
    assert "@" in person.email
    assert person == again.choices[0].message.parsed  # the same request gets the same object
    assert person != other.choices[0].message.parsed
    server.reset(rules=True)


def test_refusal_is_sent_in_the_refusal_field(client: openai.OpenAI) -> None:
    message = client.chat.completions.create(model="gpt-4o", messages=user("refuse")).choices[0].message
    assert (message.content, message.refusal) == (None, "I can't help with that.")
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=user("refuse"), stream=True))
    assert "".join(c.choices[0].delta.refusal or "" for c in chunks if c.choices) == "I can't help with that."


def test_generated_text_is_deterministic_and_sized(client: openai.OpenAI) -> None:
    def text(prompt: str) -> str:
        return client.chat.completions.create(model="gpt-4o", messages=user(prompt)).choices[0].message.content or ""

    first = text("generate a story")
    assert len(first.split()) == 12
    assert text("generate a story") == first
    assert text("generate another") != first


def test_reasoning_content_and_reasoning_tokens(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o", messages=user("think"))
    assert completion.choices[0].message.model_extra == {"reasoning_content": "Six times seven."}
    assert completion.usage is not None
    assert completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == 4
    assert completion.usage.completion_tokens == 5
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=user("think"), stream=True))
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    reasoning = "".join((d.model_extra or {}).get("reasoning_content", "") for d in deltas)
    assert reasoning == "Six times seven."
    first_content = next(i for i, d in enumerate(deltas) if d.content)
    assert all(not (d.model_extra or {}).get("reasoning_content") for d in deltas[first_content:])


def test_logprobs_are_well_formed_and_deterministic(client: openai.OpenAI) -> None:
    def logprobs() -> Any:
        completion = client.chat.completions.create(
            model="gpt-4o", messages=user("plain"), logprobs=True, top_logprobs=3
        )
        return completion.choices[0].logprobs

    first = logprobs()
    assert [t.token for t in first.content] == ["Just", " text", "."]
    for token in first.content:
        assert token.logprob <= 0
        assert bytes(token.bytes) == token.token.encode()
        assert token.top_logprobs[0].token == token.token
        values = [alt.logprob for alt in token.top_logprobs]
        assert values == sorted(values, reverse=True)
        assert len(values) == 3
        assert len(set(values)) == 3
    # Identical requests get identical logprobs (seeded by request and rule, not by the counting completion id),
    # streamed or not; a different request gets different ones.
    assert logprobs() == first
    stream = client.chat.completions.create(
        model="gpt-4o", messages=user("plain"), logprobs=True, top_logprobs=3, stream=True
    )
    streamed = [
        t for chunk in stream for c in chunk.choices if c.logprobs and c.logprobs.content for t in c.logprobs.content
    ]
    assert streamed == first.content
    other = client.chat.completions.create(model="gpt-4o", messages=user("plain"), logprobs=True, top_logprobs=2)
    assert other.choices[0].logprobs is not None
    assert [t.logprob for t in other.choices[0].logprobs.content] != [t.logprob for t in first.content]


@pytest.mark.parametrize(
    ("messages", "param", "text"),
    [
        (
            [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "call_1", "content": "r"}],
            "messages[1].role",
            "must be a response to a preceding message with 'tool_calls'",
        ),
        (
            [
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
                },
                {"role": "tool", "tool_call_id": "call_2", "content": "r"},
            ],
            "messages[2].tool_call_id",
            "'tool_call_id' of 'call_2' not found",
        ),
        (
            [
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
                },
                {"role": "user", "content": "and?"},
            ],
            "messages[1].role",
            "did not have response messages: call_1",
        ),
    ],
    ids=["tool-without-call", "unknown-call-id", "unanswered-call"],
)
def test_invalid_tool_traffic_gets_openais_400(
    client: openai.OpenAI, messages: list[Any], param: str, text: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=messages)
    assert caught.value.param == param
    assert text in caught.value.message
