"""Record mode: the official clients talk through the recording proxy to a second fake-llm (the upstream), then a
fresh server replays the recorded file and the clients must see the same content, tool calls, usage and chunks."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from textwrap import dedent
from typing import Any

import httpx
import pytest
import yaml
from starlette.requests import Request
from starlette.testclient import TestClient

from fake_llm.cli import main
from fake_llm.core.matching import explain
from fake_llm.dialects import DIALECTS
from fake_llm.errors import ScenarioError
from fake_llm.model.request import ChatRequest
from fake_llm.record.proxy import Cassette, Recorder, _replays, dump_yaml
from fake_llm.record.relay import SSEEvent, SSEReader
from fake_llm.record.rules import build_error, build_match, build_reply, rule_name
from fake_llm.record.transcripts import read_body, read_stream
from fake_llm.scenarios.loader import load_scenario, parse_rules
from fake_llm.testing.recording import RecordingServer
from fake_llm.testing.server import FakeLLMServer

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")
genai = pytest.importorskip("google.genai")
from google.genai import types as genai_types  # noqa: E402

KEY = "sk-live-RECORDER-SECRET-0123456789"
CHUNK_MS = 25

UPSTREAM_RULES = f"""
- name: greet
  match: {{user: hello}}
  reply: {{content: "Hello there, how may I assist you today?", stream: {{chunk_tokens: 2, chunk_ms: {CHUNK_MS}}}}}
- name: weather-call
  match: {{user: weather, last_role: user}}
  reply: {{tool_calls: [{{name: get_weather, arguments: {{city: Paris}}}}]}}
- name: weather-answer
  match: {{tool_result_for: get_weather}}
  reply: {{content: "It is sunny in Paris today.", stream: {{chunk_tokens: 3, chunk_ms: {CHUNK_MS}}}}}
- name: think
  match: {{user: think}}
  reply: {{reasoning_content: "Six times seven.", content: "42, of course."}}
- name: flaky
  match: {{user: flaky}}
  replies:
    - error: {{status: 429, message: "Rate limit reached", retry_after_ms: 10,
              headers: {{x-ratelimit-remaining-requests: "0", x-team: "do-not-keep"}}}}
    - content: "ok after retry"
- name: teapot
  match: {{user: teapot}}
  reply: {{error: {{status: 418, message: "I'm a teapot", code: teapot, param: messages}}}}
- name: broken
  match: {{user: broken}}
  reply:
    content: "one two three four"
    stream: {{error_after: 3, error: {{message: overloaded, type: server_error}}}}
- name: echo
  match: {{user: echo}}
  reply: {{content: "you sent {{{{ request.headers.authorization }}}} and {{{{ request.headers.x-team-token }}}}"}}
- name: braces
  match: {{user: braces}}
  reply: {{content: 'use {{{{ "{{{{" }}}} name }}}} in a template'}}
- name: embed
  match: {{api: embeddings}}
  reply: {{content: ""}}
"""

WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
CHAT_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(rules=UPSTREAM_RULES, api_keys=(KEY,), freeze_time=1767225600) as running:
        yield running


@pytest.fixture
def cassette(tmp_path: Path) -> Path:
    return tmp_path / "cassettes" / "recorded.yaml"


def recorded(path: Path) -> dict[str, Any]:
    """The recorded file, after checking that it is valid, passes `fake-llm check` and holds no key."""
    text = path.read_text(encoding="utf-8")
    assert KEY not in text
    load_scenario(path)
    assert main(["check", str(path)]) == 0
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def round_trip(upstream: FakeLLMServer, path: Path, run: Callable[[str], Any], **options: Any) -> tuple[Any, Any]:
    """What `run(url)` observes through the recording proxy, then against a server replaying the recorded file."""
    with RecordingServer(upstream.url, path, **options) as proxy:
        live = run(proxy.url)
    recorded(path)
    with FakeLLMServer(scenarios=[path], freeze_time=1767225600) as replay:
        again = run(replay.url)
        assert replay.journal.unmatched == []
    return live, again


# ---------------------------------------------------------------------------------------------- the dialects


def _chat_turn(client: Any, messages: list[dict[str, Any]], stream: bool, **extra: Any) -> dict[str, Any]:
    if not stream:
        reply = client.chat.completions.create(model="gpt-4o", messages=messages, **extra)
        message = reply.choices[0].message
        return {
            "content": message.content,
            "reasoning": getattr(message, "reasoning_content", None),
            "tool_calls": [c.model_dump() for c in message.tool_calls or []],
            "finish": reply.choices[0].finish_reason,
            "usage": reply.usage.model_dump(),
        }
    out: dict[str, Any] = {"chunks": [], "calls": {}, "usage": None, "finish": None}
    options = {"stream_options": {"include_usage": True}}
    for chunk in client.chat.completions.create(model="gpt-4o", messages=messages, stream=True, **options, **extra):
        if chunk.usage:
            out["usage"] = chunk.usage.model_dump()
        for choice in chunk.choices:
            if choice.delta.content:
                out["chunks"].append(choice.delta.content)
            for call in choice.delta.tool_calls or []:
                slot = out["calls"].setdefault(call.index, {"id": call.id, "name": "", "arguments": ""})
                slot["name"] += call.function.name or ""
                slot["arguments"] += call.function.arguments or ""
            out["finish"] = choice.finish_reason or out["finish"]
    return out


def run_chat(stream: bool, **client_options: Any) -> Callable[[str], Any]:
    def run(url: str) -> list[dict[str, Any]]:
        with openai.OpenAI(base_url=url + "/v1", api_key=KEY, **client_options) as client:
            hello = _chat_turn(client, [{"role": "user", "content": "hello"}], stream)
            ask = [{"role": "user", "content": "what is the weather in Paris?"}]
            call = _chat_turn(client, ask, stream, tools=[CHAT_TOOL])
            call_id = call["tool_calls"][0]["id"] if not stream else call["calls"][0]["id"]
            echoed = {"role": "assistant", "tool_calls": [_chat_call(call_id)]}
            result = {"role": "tool", "tool_call_id": call_id, "content": "sunny, 24C"}
            answer = _chat_turn(client, [*ask, echoed, result], stream, tools=[CHAT_TOOL])
            think = _chat_turn(client, [{"role": "user", "content": "think"}], stream)
            return [hello, call, answer, think]

    return run


def _chat_call(call_id: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}


@pytest.mark.parametrize("stream", [False, True])
def test_openai_chat_replays_as_recorded(upstream: FakeLLMServer, cassette: Path, stream: bool) -> None:
    live, again = round_trip(upstream, cassette, run_chat(stream))
    assert again == live
    hello, call, answer, _ = live
    if stream:
        assert hello["chunks"] == ["Hello there", ", how", " may I", " assist you", " today?"]
        assert call["calls"][0]["name"] == "get_weather"
        assert call["calls"][0]["arguments"] == '{"city":"Paris"}'
        assert answer["chunks"] == ["It is sunny", " in Paris today", "."]
    else:
        assert hello["content"] == "Hello there, how may I assist you today?"
        assert call["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    rules = recorded(cassette)["rules"]
    assert [r["match"]["turn"] for r in rules] == [1, 1, 2, 1]
    assert rules[2]["match"]["tool_result_for"] == "get_weather"
    assert rules[2]["match"]["tool_result"] == {"equals": "sunny, 24C"}
    assert rules[3]["reply"]["reasoning_content"] == "Six times seven."


def _content_times(entry: Any) -> list[float]:
    """When a journaled stream planned each content chunk (ms from the start of the stream)."""
    return [event.at_ms for event in entry.events if event.kind == "content"]


def test_stream_timing_is_recorded_and_replayed(upstream: FakeLLMServer, cassette: Path) -> None:
    """The recorder writes when each chunk arrived; replay plans exactly that timeline. Observed wall-clock times are
    only checked as lower bounds, which hold however busy the machine is: a chunk may arrive late, never before the
    server planned to send it (comparing observed gaps with the scripted ones failed under load)."""

    def run(url: str) -> list[float]:
        arrived = []
        with openai.OpenAI(base_url=url + "/v1", api_key=KEY) as client:
            messages = [{"role": "user", "content": "hello"}]
            started = time.monotonic()
            for chunk in client.chat.completions.create(model="gpt-4o", messages=messages, stream=True):
                if chunk.choices and chunk.choices[0].delta.content:
                    arrived.append((time.monotonic() - started) * 1000)
        return arrived

    with RecordingServer(upstream.url, cassette) as proxy:
        live = run(proxy.url)
    planned = _content_times(upstream.journal.last)
    assert planned == [i * CHUNK_MS for i in range(5)]  # chunk_ms apart, as scripted
    chunks = recorded(cassette)["rules"][0]["reply"]["stream"]["chunks"]
    assert [chunk["text"] for chunk in chunks] == ["Hello there", ", how", " may I", " assist you", " today?"]
    # The first gap counts from the request, each next one from the chunk before: their sums are arrival times.
    recorded_at = list(itertools.accumulate(chunk["after_ms"] for chunk in chunks))
    # Each after_ms is rounded to the ms: allow half a ms per chunk so far.
    assert all(at >= want - (i + 1) / 2 for i, (at, want) in enumerate(zip(recorded_at, planned, strict=True))), (
        recorded_at,
        planned,
    )
    assert all(got >= want for got, want in zip(live, planned, strict=True)), (live, planned)

    with FakeLLMServer(scenarios=[cassette], freeze_time=1767225600) as replay:
        again = run(replay.url)
        assert replay.journal.unmatched == []
        replayed = _content_times(replay.journal.last)
    assert replayed == recorded_at  # the recorded timeline, exactly
    assert all(got >= want for got, want in zip(again, replayed, strict=True)), (again, replayed)


def test_no_timing_keeps_the_chunks_only(upstream: FakeLLMServer, cassette: Path) -> None:
    live, again = round_trip(upstream, cassette, run_chat(True), timing=False)
    assert again == live
    text = cassette.read_text(encoding="utf-8")
    assert "after_ms" not in text
    assert "ttft_ms" not in text
    assert "{text: ', how'}" in text


ANTHROPIC_TOOL = {"name": "get_weather", "input_schema": WEATHER_SCHEMA}


def _anthropic_turn(client: Any, messages: list[dict[str, Any]], stream: bool, **extra: Any) -> dict[str, Any]:
    options = {"model": "claude-test-model", "max_tokens": 200, "messages": messages, **extra}
    if not stream:
        message = client.messages.create(**options)
        return {
            "content": [b.model_dump() for b in message.content],
            "stop": message.stop_reason,
            "usage": message.usage,
        }
    chunks = []
    with client.messages.stream(**options) as events:
        for event in events:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                chunks.append(event.delta.text)
        final = events.get_final_message()
    return {"chunks": chunks, "content": [b.model_dump() for b in final.content], "usage": final.usage}


def run_anthropic(stream: bool) -> Callable[[str], Any]:
    def run(url: str) -> list[dict[str, Any]]:
        with anthropic.Anthropic(base_url=url, api_key=KEY) as client:
            hello = _anthropic_turn(client, [{"role": "user", "content": "hello"}], stream)
            ask = [{"role": "user", "content": "what is the weather in Paris?"}]
            call = _anthropic_turn(client, ask, stream, tools=[ANTHROPIC_TOOL])
            use = next(b for b in call["content"] if b["type"] == "tool_use")
            result = {"type": "tool_result", "tool_use_id": use["id"], "content": "sunny, 24C"}
            turns = [*ask, {"role": "assistant", "content": call["content"]}, {"role": "user", "content": [result]}]
            answer = _anthropic_turn(client, turns, stream, tools=[ANTHROPIC_TOOL])
            # Claude thinks only when asked: the thinking block is recorded and replayed for a request enabling it.
            thinking = {"type": "enabled", "budget_tokens": 1024}
            ask_think = [{"role": "user", "content": "think"}]
            think = _anthropic_turn(client, ask_think, stream, thinking=thinking, max_tokens=2048)
            return [hello, call, answer, think]

    return run


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_replays_as_recorded(upstream: FakeLLMServer, cassette: Path, stream: bool) -> None:
    live, again = round_trip(upstream, cassette, run_anthropic(stream))
    assert again == live
    hello, call, _, think = live
    assert call["content"][0]["input"] == {"city": "Paris"}
    assert think["content"][0]["type"] == "thinking"
    if stream:
        assert hello["chunks"] == ["Hello there", ", how", " may I", " assist you", " today?"]
    rules = recorded(cassette)["rules"]
    assert rules[0]["reply"]["usage"] == {"prompt_tokens": hello["usage"].input_tokens, "completion_tokens": 10}
    assert rules[1]["reply"]["tool_calls"][0]["id"].startswith("toolu_")


RESPONSES_TOOL = {"type": "function", "name": "get_weather", "parameters": WEATHER_SCHEMA}


def _responses_turn(client: Any, items: Any, stream: bool, **extra: Any) -> dict[str, Any]:
    if not stream:
        response = client.responses.create(model="gpt-4o", input=items, **extra)
        return {"output": _output(response), "usage": response.usage.model_dump(), "text": response.output_text}
    chunks, final = [], None
    for event in client.responses.create(model="gpt-4o", input=items, stream=True, **extra):
        if event.type == "response.output_text.delta":
            chunks.append(event.delta)
        elif event.type == "response.completed":
            final = event.response
    assert final is not None
    return {"chunks": chunks, "output": _output(final), "usage": final.usage.model_dump()}


def _output(response: Any) -> list[dict[str, Any]]:
    """Output items without their ids (item ids derive from the response id, which differs on each server)."""
    return [{k: v for k, v in item.model_dump().items() if k != "id"} for item in response.output]


def run_responses(stream: bool) -> Callable[[str], Any]:
    def run(url: str) -> list[dict[str, Any]]:
        with openai.OpenAI(base_url=url + "/v1", api_key=KEY) as client:
            hello = _responses_turn(client, "hello", stream)
            ask = [{"role": "user", "content": "what is the weather in Paris?"}]
            call = _responses_turn(client, ask, stream, tools=[RESPONSES_TOOL])
            fc = next(item for item in call["output"] if item["type"] == "function_call")
            echoed = {
                "type": "function_call",
                "call_id": fc["call_id"],
                "name": fc["name"],
                "arguments": fc["arguments"],
            }
            result = {"type": "function_call_output", "call_id": fc["call_id"], "output": "sunny, 24C"}
            answer = _responses_turn(client, [*ask, echoed, result], stream, tools=[RESPONSES_TOOL])
            think = _responses_turn(client, "think", stream)
            return [hello, call, answer, think]

    return run


@pytest.mark.parametrize("stream", [False, True])
def test_responses_replays_as_recorded(upstream: FakeLLMServer, cassette: Path, stream: bool) -> None:
    live, again = round_trip(upstream, cassette, run_responses(stream))
    assert again == live
    hello, call, _, think = live
    assert call["output"][0]["arguments"] == '{"city":"Paris"}'
    assert think["output"][0]["type"] == "reasoning"
    if stream:
        assert hello["chunks"] == ["Hello there", ", how", " may I", " assist you", " today?"]


def run_gemini(stream: bool) -> Callable[[str], Any]:
    tool = genai_types.Tool(
        function_declarations=[
            genai_types.FunctionDeclaration(name="get_weather", parameters_json_schema=WEATHER_SCHEMA)
        ]
    )
    config = genai_types.GenerateContentConfig(
        tools=[tool], automatic_function_calling=genai_types.AutomaticFunctionCallingConfig(disable=True)
    )

    def ask(client: Any, contents: Any, **extra: Any) -> dict[str, Any]:
        if not stream:
            reply = client.models.generate_content(model="gemini-2.5-flash", contents=contents, **extra)
            return {"content": reply.candidates[0].content.model_dump(), "usage": reply.usage_metadata.model_dump()}
        chunks, usage = [], None
        for chunk in client.models.generate_content_stream(model="gemini-2.5-flash", contents=contents, **extra):
            chunks.append(chunk.candidates[0].content.model_dump() if chunk.candidates[0].content else None)
            usage = chunk.usage_metadata.model_dump()
        return {"chunks": chunks, "usage": usage}

    def run(url: str) -> list[dict[str, Any]]:
        options = genai_types.HttpOptions(base_url=url, api_version="v1beta")
        with genai.Client(api_key=KEY, http_options=options) as client:
            hello = ask(client, "hello")
            question = genai_types.Content(role="user", parts=[genai_types.Part(text="what is the weather in Paris?")])
            call = ask(client, [question], config=config)
            called = genai_types.Content(
                role="model",
                parts=[genai_types.Part(function_call=genai_types.FunctionCall(name="get_weather", args={}))],
            )
            result = genai_types.Part.from_function_response(name="get_weather", response={"result": "sunny, 24C"})
            answer = ask(client, [question, called, genai_types.Content(role="user", parts=[result])], config=config)
            return [hello, call, answer]

    return run


@pytest.mark.parametrize("stream", [False, True])
def test_gemini_replays_as_recorded(upstream: FakeLLMServer, cassette: Path, stream: bool) -> None:
    live, again = round_trip(upstream, cassette, run_gemini(stream))
    assert again == live
    if stream:
        assert [c["parts"][0]["text"] for c in live[0]["chunks"] if c] == [
            "Hello there",
            ", how",
            " may I",
            " assist you",
            " today?",
            "",
        ]


@pytest.mark.parametrize("stream", [False, True])
def test_legacy_completions_and_azure_replay_as_recorded(upstream: FakeLLMServer, cassette: Path, stream: bool) -> None:
    def run(url: str) -> list[Any]:
        out: list[Any] = []
        with openai.OpenAI(base_url=url + "/v1", api_key=KEY) as client:
            if stream:
                out.append(
                    [c.choices[0].text for c in client.completions.create(model="m", prompt="hello", stream=True)]
                )
            else:
                out.append(
                    client.completions.create(model="m", prompt="hello", max_tokens=50).model_dump(exclude={"id"})
                )
        with openai.AzureOpenAI(azure_endpoint=url, api_key=KEY, api_version="2024-10-21") as azure:
            out.append(_chat_turn(azure, [{"role": "user", "content": "hello"}], stream))
        return out

    live, again = round_trip(upstream, cassette, run)
    assert again == live
    assert [r["match"]["api"] for r in recorded(cassette)["rules"]] == ["completions", "azure"]


def test_embeddings_replay_as_recorded(upstream: FakeLLMServer, cassette: Path) -> None:
    def run(url: str) -> list[Any]:
        with openai.OpenAI(base_url=url + "/v1", api_key=KEY) as client:
            # openai-python asks for base64 by default; the recorder stores the float32 values
            packed = client.embeddings.create(model="text-embedding-3-small", input="hello", dimensions=8)
            floats = client.embeddings.create(
                model="text-embedding-3-small", input="world", dimensions=4, encoding_format="float"
            )
            return [e.model_dump() for e in (packed, floats)]

    live, again = round_trip(upstream, cassette, run)
    assert again == live
    assert len(live[0]["data"][0]["embedding"]) == 8
    rules = recorded(cassette)["rules"]
    assert rules[0]["match"] == {
        "api": "embeddings",
        "model": "text-embedding-3-small",
        "stream": False,
        "user": {"equals": "hello"},
    }
    assert "embedding: [" in cassette.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------- errors


def test_a_recorded_429_replays_with_its_headers_then_the_retry(upstream: FakeLLMServer, cassette: Path) -> None:
    def run(url: str) -> str | None:
        with openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=2) as client:
            reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "flaky"}])
            return reply.choices[0].message.content

    upstream.reset(rules=False)
    live, again = round_trip(upstream, cassette, run)
    assert live == again == "ok after retry"
    (rule,) = recorded(cassette)["rules"]
    error = rule["replies"][0]["error"]
    assert error == {
        "status": 429,
        "message": "Rate limit reached",
        "type": "requests",
        "code": "rate_limit_exceeded",
        "headers": {"retry-after-ms": "10", "x-ratelimit-remaining-requests": "0"},
    }
    with FakeLLMServer(scenarios=[cassette]) as replay:
        response = httpx.post(
            replay.base_url + "/chat/completions",
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "flaky"}]},
        )
        assert response.status_code == 429
        assert response.headers["retry-after-ms"] == "10"
        assert response.headers["x-ratelimit-remaining-requests"] == "0"


def test_errors_keep_their_fields_and_mid_stream_errors_their_place(upstream: FakeLLMServer, cassette: Path) -> None:
    def run(url: str) -> list[Any]:
        out: list[Any] = []
        with openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0) as client:
            with pytest.raises(openai.APIStatusError) as teapot:
                client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "teapot"}])
            out.append((teapot.value.status_code, teapot.value.body))
            chunks: list[str | None] = []
            stream = client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "broken"}], stream=True
            )
            with pytest.raises(openai.APIError) as broken:
                chunks.extend(c.choices[0].delta.content for c in stream if c.choices)
            out.append((chunks, broken.value.message))
        with anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0) as claude:
            with pytest.raises(anthropic.APIStatusError) as teapot:
                claude.messages.create(
                    model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "teapot"}]
                )
            out.append((teapot.value.status_code, teapot.value.body))
        return out

    live, again = round_trip(upstream, cassette, run)
    assert again == live
    assert live[0] == (
        418,
        {"message": "I'm a teapot", "type": "invalid_request_error", "param": "messages", "code": "teapot"},
    )
    rules = recorded(cassette)["rules"]
    assert rules[1]["reply"]["stream"]["error_after"] == 3
    assert rules[1]["reply"]["stream"]["error"] == {"message": "overloaded", "type": "server_error"}


def test_unreachable_upstream_answers_502_in_the_dialect_shape(tmp_path: Path, dead_url: str) -> None:
    with RecordingServer(dead_url, tmp_path / "out.yaml") as proxy:
        chat = httpx.post(proxy.base_url + "/chat/completions", json={"model": "m", "messages": []}, timeout=5)
        claude = httpx.post(
            proxy.url + "/v1/messages",
            json={"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
            timeout=5,
        )
    assert (chat.status_code, chat.headers["x-should-retry"]) == (502, "false")
    assert chat.json()["error"]["message"].startswith("fake-llm record: cannot reach the upstream http://127.0.0.1:")
    assert claude.json()["type"] == "error"
    assert not (tmp_path / "out.yaml").exists()


# ---------------------------------------------------------------------------------------------- modes and the file


def test_mode_new_replays_what_the_file_has_and_appends_the_rest(upstream: FakeLLMServer, cassette: Path) -> None:
    def ask(proxy: FakeLLMServer, text: str) -> str:
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}
        response = httpx.post(
            proxy.base_url + "/chat/completions", json=body, headers={"authorization": f"Bearer {KEY}"}
        )
        return str(response.json()["choices"][0]["message"]["content"])

    with RecordingServer(upstream.url, cassette) as proxy:
        assert ask(proxy, "hello") == "Hello there, how may I assist you today?"
    first = cassette.read_text(encoding="utf-8")
    cassette.write_text(first.replace("rules:\n", "# a comment the recorder keeps\nrules:\n"), encoding="utf-8")
    upstream.reset(rules=False)
    with RecordingServer(upstream.url, cassette) as proxy:
        assert ask(proxy, "hello") == "Hello there, how may I assist you today?"
        assert upstream.journal.entries == []  # answered from the file
        assert proxy.journal.last.rule == recorded(cassette)["rules"][0]["name"]
        assert ask(proxy, "think") == "42, of course."
    assert len(upstream.journal) == 1
    text = cassette.read_text(encoding="utf-8")
    assert text.startswith(first.replace("rules:\n", "# a comment the recorder keeps\nrules:\n"))
    assert [r["match"]["user"]["equals"] for r in recorded(cassette)["rules"]] == ["hello", "think"]


def test_mode_all_records_again_in_place(upstream: FakeLLMServer, cassette: Path) -> None:
    def ask(proxy: FakeLLMServer, text: str) -> None:
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}
        httpx.post(proxy.base_url + "/chat/completions", json=body, headers={"authorization": f"Bearer {KEY}"})

    with RecordingServer(upstream.url, cassette) as proxy:
        ask(proxy, "hello")
        ask(proxy, "think")
    data = recorded(cassette)
    data["rules"][0]["name"] = "my-hello"
    data["rules"][0]["reply"]["content"] = "stale"
    cassette.write_text("# kept\n" + dump_yaml(data), encoding="utf-8")
    upstream.reset(rules=False)
    with RecordingServer(upstream.url, cassette, mode="all") as proxy:
        ask(proxy, "hello")
    assert len(upstream.journal) == 1
    rules = recorded(cassette)["rules"]
    assert (rules[0]["name"], rules[0]["reply"]["content"]) == (
        "my-hello",
        "Hello there, how may I assist you today?",
    )
    assert len(rules) == 2
    assert cassette.read_text(encoding="utf-8").startswith("# kept\n")


def test_secrets_never_reach_the_file(upstream: FakeLLMServer, cassette: Path) -> None:
    def run(url: str) -> list[str | None]:
        headers = {"x-team-token": "team-secret-42"}
        with openai.OpenAI(base_url=url + "/v1", api_key=KEY, default_headers=headers, max_retries=1) as client:
            echo = client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "echo cust-4242"}], user="cust-4242"
            )
            flaky = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "flaky"}])
            return [echo.choices[0].message.content, flaky.choices[0].message.content]

    upstream.reset(rules=False)
    with RecordingServer(
        upstream.url, cassette, redact=["x-team-token", "user", "x-ratelimit-remaining-requests"]
    ) as p:
        assert run(p.url)[0] == f"you sent Bearer {KEY} and team-secret-42"
    text = cassette.read_text(encoding="utf-8")
    for secret in (KEY, "team-secret-42", "cust-4242", "x-ratelimit-remaining-requests", "x-team", "do-not-keep"):
        assert secret not in text
    rules = recorded(cassette)["rules"]
    assert rules[0]["reply"]["content"] == "you sent [redacted] and [redacted]"
    assert rules[0]["match"]["user"] == {"equals": "echo [redacted]"}
    assert rules[1]["replies"][0]["error"]["headers"] == {"retry-after-ms": "10"}


def test_template_braces_in_replies_are_written_literally(upstream: FakeLLMServer, cassette: Path) -> None:
    live, again = round_trip(upstream, cassette, run_text("braces", stream=True))
    assert live == again
    assert "".join(live) == "use {{ name }} in a template"


def run_text(text: str, *, stream: bool) -> Callable[[str], Any]:
    def run(url: str) -> list[str]:
        with openai.OpenAI(base_url=url + "/v1", api_key=KEY) as client:
            messages = [{"role": "user", "content": text}]
            if not stream:
                return [client.chat.completions.create(model="gpt-4o", messages=messages).choices[0].message.content]
            chunks = client.chat.completions.create(model="gpt-4o", messages=messages, stream=True)
            return [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]

    return run


def test_same_request_twice_becomes_a_reply_sequence(upstream: FakeLLMServer, cassette: Path) -> None:
    with RecordingServer(upstream.url, cassette) as proxy:
        run_text("hello", stream=False)(proxy.url)
        run_text("hello", stream=False)(proxy.url)
    (rule,) = recorded(cassette)["rules"]
    assert len(rule["replies"]) == 2


def test_client_that_leaves_mid_stream_records_nothing(upstream: FakeLLMServer, cassette: Path) -> None:
    upstream.reset(rules=False)
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}], "stream": True}
    with RecordingServer(upstream.url, cassette) as proxy:
        headers = {"authorization": f"Bearer {KEY}"}
        with httpx.stream("POST", proxy.base_url + "/chat/completions", json=body, headers=headers) as response:
            next(response.iter_bytes())
        deadline = time.monotonic() + 5
        while upstream.journal.last.stream_outcome is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert upstream.journal.last.stream_outcome == "client disconnected"
    assert not cassette.exists()


def test_what_is_not_a_dialect_request_passes_through_unrecorded(upstream: FakeLLMServer, cassette: Path) -> None:
    with RecordingServer(upstream.url, cassette, api=["anthropic"]) as proxy:
        models = httpx.get(proxy.base_url + "/models")
        chat = httpx.post(proxy.base_url + "/chat/completions", json={"model": "m", "messages": []})
        bad = httpx.post(proxy.url + "/v1/messages", json={"model": "m"}, headers={"x-api-key": KEY})
    assert models.status_code == 200
    assert "gpt-4o-mini" in [m["id"] for m in models.json()["data"]]
    assert chat.status_code == 404
    assert chat.json()["error"]["message"] == "fake-llm record: this recorder only proxies anthropic (--api)"
    assert bad.json()["error"]["message"] == "max_tokens: Field required"
    assert not cassette.exists()


def test_upstream_path_prefix_and_options_are_checked(tmp_path: Path) -> None:
    recorder = Recorder("http://user:pw@gateway.test/openai/?key=x", tmp_path / "a.yaml")
    assert recorder.shown_upstream == "http://gateway.test/openai/"
    scope = {"path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions", "query_string": b"a=1"}
    assert str(recorder.target(scope)) == "http://user:pw@gateway.test/openai/v1/chat/completions?a=1"
    v1 = Recorder("https://api.openai.com/v1", tmp_path / "a.yaml")
    assert str(v1.target({**scope, "query_string": b""})) == "https://api.openai.com/v1/chat/completions"
    for bad, message in [
        ({"mode": "once"}, "mode must be new or all"),
        ({"api": ["openai"]}, "unknown dialect openai"),
    ]:
        with pytest.raises(ValueError, match=message):
            Recorder("http://x.test", tmp_path / "a.yaml", **bad)
    with pytest.raises(ValueError, match="must be an http"):
        Recorder("ftp://x.test", tmp_path / "a.yaml")


def test_a_file_that_cannot_take_appends_is_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text("# head\nname: flow\nrules: []\n", encoding="utf-8")
    file = Cassette(path, mode="new")
    file.add({"api": "openai-chat", "user": {"equals": "a\nb"}}, {"content": "multi\nline"})
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# head\nname: flow\nrules:\n  - name: openai-chat-a-b-")
    assert "content: |-\n        multi\n        line" in text
    load_scenario(path)


# ---------------------------------------------------------------------------------------------- CLI and pytest


def test_cli_record_serves_the_proxy(
    upstream: FakeLLMServer, cassette: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))
    args = ["record", "--upstream", upstream.url, "--out", str(cassette), "--port", "0", "--api", "openai-chat"]
    assert main([*args, "--no-timing", "--redact", "x-team-token"]) == 0
    assert f"recording {upstream.url} into {cassette} (mode new)" in capsys.readouterr().out
    assert (served["host"], served["port"]) == ("127.0.0.1", 0)
    with TestClient(served["app"]) as client:
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}], "stream": True}
        client.post("/v1/chat/completions", json=body, headers={"authorization": f"Bearer {KEY}"})
    assert recorded(cassette)["rules"][0]["reply"]["stream"]["chunks"][0] == {"text": "Hello there"}
    assert main(["record", "--upstream", "nope", "--out", str(cassette)]) == 2
    assert "must be an http(s) URL" in capsys.readouterr().err


CASSETTE_TEST = dedent(f"""\
    import openai
    import pytest

    @pytest.mark.fake_llm(cassette="cassettes/chat.yaml")
    def test_chat(fake_llm):
        with openai.OpenAI(base_url=fake_llm.base_url, api_key="{KEY}", max_retries=0) as client:
            reply = client.chat.completions.create(model="gpt-4o", messages=[{{"role": "user", "content": "hello"}}])
        assert reply.choices[0].message.content == "Hello there, how may I assist you today?"
        assert fake_llm.journal.last.model == "gpt-4o"
    """)


def test_pytest_records_with_the_option_and_replays_without(pytester: pytest.Pytester, upstream: FakeLLMServer) -> None:
    pytester.makepyfile(test_cassette=CASSETTE_TEST)
    missing = pytester.runpytest("-p", "no:randomly")
    missing.assert_outcomes(errors=1)
    missing.stdout.fnmatch_lines(["*cassette*chat.yaml does not exist: record it with --fake-llm-record=URL*"])
    upstream.reset(rules=False)
    pytester.runpytest("-p", "no:randomly", f"--fake-llm-record={upstream.url}").assert_outcomes(passed=1)
    assert len(upstream.journal) == 1
    path = pytester.path / "cassettes" / "chat.yaml"
    assert recorded(path)["rules"][0]["match"]["user"] == {"equals": "hello"}
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)
    pytester.runpytest("-p", "no:randomly", f"--fake-llm-record={upstream.url}").assert_outcomes(passed=1)
    assert len(upstream.journal) == 1  # replayed both times: the cassette already answers
    result = pytester.runpytest("-p", "no:randomly", f"--fake-llm-record={upstream.url}", "--fake-llm-record-mode=all")
    result.assert_outcomes(passed=1)
    assert len(upstream.journal) == 2
    assert json.dumps(recorded(path)).count('"hello"') == 1


# ---------------------------------------------------------------------------------------- transcripts, unit by unit


def parsed(api: str, body: dict[str, Any], **params: str) -> ChatRequest:
    return DIALECTS[api].parse(body, {}, params)


CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
STREAM = {**CHAT, "stream": True}


def sse(*payloads: Any, gap: float = 10.0) -> list[SSEEvent]:
    return [SSEEvent(p if isinstance(p, str) else json.dumps(p), None, gap * (i + 1)) for i, p in enumerate(payloads)]


def test_sse_reader_follows_the_framing_rules() -> None:
    reader = SSEReader()
    reader.feed(b': keep-alive\r\n\r\nevent: ping\r\ndata: {"a":\r\ndata:1}\r\n\r\ndata: [DO', 1.0)
    reader.feed(b"NE]\n\nid: 3\n\nevent: x\ndata: tail-without-blank-line\n", 2.0)
    assert reader.events == [SSEEvent('{"a":\n1}', "ping", 1.0), SSEEvent("[DONE]", None, 2.0)]


@pytest.mark.parametrize(
    ("api", "request_body", "body", "reply"),
    [
        (
            "openai-chat",
            {**CHAT, "n": 2},
            {
                "choices": [
                    {"message": {"content": "A"}, "finish_reason": "stop"},
                    {"message": {"content": "B"}, "finish_reason": "length"},
                ]
            },
            {"choices": [{"content": "A"}, {"content": "B", "finish_reason": "length"}]},
        ),
        (
            "openai-chat",
            CHAT,
            {
                "model": "gpt-4o-2024-08-06",
                "choices": [{"message": {"content": None, "refusal": "No."}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 9},
            },
            {
                "refusal": "No.",
                "model": "gpt-4o-2024-08-06",
                "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 9},
            },
        ),
        (
            "openai-chat",
            CHAT,
            {
                "choices": [
                    {
                        "message": {
                            "content": "cut",
                            "tool_calls": [
                                {"id": "c1", "function": {"name": "f", "arguments": '{"a": 1}'}},
                                {"id": "c2", "function": {"name": "g", "arguments": '{"t":"{{x}}"}'}},
                                {"function": {"name": "h", "arguments": "not json {{"}},
                            ],
                        },
                        "finish_reason": "length",
                    }
                ]
            },
            {
                "content": "cut",
                "tool_calls": [
                    {"name": "f", "arguments": '{"a": 1}', "id": "c1"},
                    {"name": "g", "arguments": {"t": '{{ "{{" }}x}}'}, "id": "c2"},
                    {"name": "h", "arguments": 'not json {{ "{{" }}'},
                ],
                "finish_reason": "length",
            },
        ),
        (
            "completions",
            {"model": "m", "prompt": "hi"},
            {
                "choices": [{"text": "so", "finish_reason": "length"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1},
            },
            {"content": "so", "finish_reason": "length", "usage": {"prompt_tokens": 1, "completion_tokens": 1}},
        ),
        (
            "responses",
            {"model": "gpt-4o", "input": "hi"},
            {
                "status": "incomplete",
                "incomplete_details": {"reason": "max_output_tokens"},
                "output": [{"type": "message", "content": [{"type": "refusal", "refusal": "No."}]}],
                "usage": {
                    "input_tokens": 5,
                    "output_tokens": 2,
                    "total_tokens": 7,
                    "output_tokens_details": {"reasoning_tokens": 1},
                },
            },
            {
                "refusal": "No.",
                "finish_reason": "length",
                "usage": {
                    "prompt_tokens": 5,
                    "completion_tokens": 2,
                    "completion_tokens_details": {"reasoning_tokens": 1},
                },
            },
        ),
        (
            "anthropic",
            {"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
            {
                "content": [{"type": "text", "text": "no"}],
                "stop_reason": "refusal",
                "usage": {"input_tokens": 4, "output_tokens": 1, "cache_read_input_tokens": 2},
            },
            {
                "content": "no",
                "finish_reason": "content_filter",
                "usage": {"prompt_tokens": 4, "completion_tokens": 1, "cache_read_input_tokens": 2},
            },
        ),
        (
            "gemini",
            {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"candidateCount": 2}},
            [
                {
                    "candidates": [
                        {"index": 0, "content": {"parts": [{"text": "hm", "thought": True}, {"text": "A"}]}},
                        {"index": 1, "content": {"parts": [{"text": "B"}]}},
                    ]
                },
                {
                    "candidates": [{"index": 0, "finishReason": "MAX_TOKENS"}, {"index": 1, "finishReason": "STOP"}],
                    "usageMetadata": {
                        "promptTokenCount": 2,
                        "candidatesTokenCount": 2,
                        "totalTokenCount": 5,
                        "thoughtsTokenCount": 1,
                    },
                    "modelVersion": "gemini-x-001",
                },
            ],
            {
                "choices": [{"content": "A", "finish_reason": "length"}, {"content": "B"}],
                "model": "gemini-x-001",
                "usage": {"prompt_tokens": 2, "completion_tokens": 2, "reasoning_tokens": 1},
            },
        ),
    ],
)
def test_bodies_become_replies(api: str, request_body: dict[str, Any], body: Any, reply: dict[str, Any]) -> None:
    params = {"target": "gemini-x:generateContent"} if api == "gemini" else {}
    assert build_reply(read_body(api, body), parsed(api, request_body, **params)) == reply


def test_streams_that_a_timeline_cannot_carry_get_their_pace() -> None:
    chat = parsed("openai-chat", STREAM)
    events = sse(
        {"model": "gpt-4o", "choices": [{"index": 0, "delta": {"role": "assistant", "content": None}}]},
        {"choices": [{"index": 0, "delta": {"reasoning_content": "hm"}}]},
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": ""}}]},
                }
            ]
        },
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}}]},
        {"choices": [{"index": 1, "delta": {"content": "other choice"}, "finish_reason": "stop"}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        "[DONE]",
    )
    reply = build_reply(read_stream("openai-chat", events), chat)
    assert reply == {
        "choices": [{"content": "", "finish_reason": "tool_calls"}, {"content": "other choice"}],
        "stream": {"ttft_ms": 20, "chunk_ms": 10},
    }
    single = [e for e in events if "other choice" not in e.data]
    reply = build_reply(read_stream("openai-chat", single), chat)
    assert reply == {
        "tool_calls": [{"name": "f", "arguments": {}, "id": "c"}],
        "reasoning_content": "hm",
        "stream": {"ttft_ms": 20, "chunk_ms": 10},
    }
    assert "stream" not in build_reply(read_stream("openai-chat", single), chat, timing=False)


@pytest.mark.parametrize(
    ("api", "request_body", "events", "stream"),
    [
        (
            "anthropic",
            {"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], "stream": True},
            [
                {"type": "message_start", "message": {"model": "c", "usage": {"input_tokens": 3}}},
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
                {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            ],
            {
                "chunks": [{"text": "Hel", "after_ms": 30}],
                "error_after": 1,
                "error": {"message": "Overloaded", "type": "overloaded_error"},
            },
        ),
        (
            "responses",
            {"model": "gpt-4o", "input": "hi", "stream": True},
            [
                {"type": "response.created"},
                {"type": "response.output_text.delta", "delta": "Hel"},
                {"type": "error", "code": "server_error", "message": "boom", "sequence_number": 2},
            ],
            {
                "chunks": [{"text": "Hel", "after_ms": 20}],
                "error_after": 1,
                "error": {"message": "boom", "code": "server_error"},
            },
        ),
        (
            "responses",
            {"model": "gpt-4o", "input": "hi", "stream": True},
            [{"type": "response.failed", "response": {"error": {"code": "server_error", "message": "failed"}}}],
            {"error_after": 0, "error": {"message": "failed", "code": "server_error"}},
        ),
        (
            "gemini",
            {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
            [
                {"candidates": [{"content": {"parts": [{"text": "Hel"}]}}]},
                {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}},
            ],
            {
                "chunks": [{"text": "Hel", "after_ms": 10}],
                "error_after": 1,
                "error": {"message": "overloaded", "type": "UNAVAILABLE", "code": 503},
            },
        ),
    ],
)
def test_mid_stream_errors_are_placed_after_what_came_before(
    api: str, request_body: dict[str, Any], events: list[Any], stream: dict[str, Any]
) -> None:
    params = {"target": "g:streamGenerateContent"} if api == "gemini" else {}
    reply = build_reply(read_stream(api, sse(*events)), parsed(api, request_body, **params))
    assert reply["stream"] == stream
    assert reply["content"] == ("" if events[0].get("type") == "response.failed" else "Hel")


def test_anthropic_stream_tool_input_that_is_not_json_stays_a_string() -> None:
    events = sse(
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
        },
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": '{"a": '}},
        {"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 2}},
    )
    request = parsed(
        "anthropic", {"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "stream": True}
    )
    reply = build_reply(read_stream("anthropic", events), request, timing=False)
    assert reply == {
        "tool_calls": [{"name": "f", "arguments": '{"a": ', "id": "toolu_1"}],
        "finish_reason": "length",
        "usage": {"completion_tokens": 2},
    }


@pytest.mark.parametrize(
    ("api", "status", "body", "error"),
    [
        (
            "openai-chat",
            400,
            {"message": "flat", "type": "invalid_request_error", "param": None, "code": None},
            {"message": "flat", "type": "invalid_request_error", "envelope": "flat"},
        ),
        (
            "openai-chat",
            429,
            {"error": {"message": "m", "type": "requests", "param": None, "code": None}},
            {
                "body": '{"error": {"message": "m", "type": "requests", "param": null, "code": null}}',
                "content_type": "application/json",
            },
        ),
        (
            "anthropic",
            529,
            {
                "type": "error",
                "error": {"type": "overloaded_error", "message": "Overloaded", "details": {"error_code": "busy"}},
            },
            {"message": "Overloaded", "type": "overloaded_error", "code": "busy"},
        ),
        (
            "anthropic",
            500,
            {"type": "error", "error": {"type": "api_error", "message": "x"}, "request_id": "req_1"},
            {
                "body": '{"type": "error", "error": {"type": "api_error", "message": "x"}, "request_id": "req_1"}',
                "content_type": "application/json",
            },
        ),
        (
            "gemini",
            400,
            {
                "error": {
                    "code": 400,
                    "message": "bad",
                    "status": "INVALID_ARGUMENT",
                    "details": [
                        {
                            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "API_KEY_INVALID",
                            "domain": "googleapis.com",
                            "metadata": {"service": "generativelanguage.googleapis.com"},
                        },
                        {
                            "@type": "type.googleapis.com/google.rpc.BadRequest",
                            "fieldViolations": [{"field": "contents", "description": "bad"}],
                        },
                    ],
                }
            },
            {"message": "bad", "type": "INVALID_ARGUMENT", "code": "API_KEY_INVALID", "param": "contents"},
        ),
        (
            "openai-chat",
            502,
            "<html>Bad gateway</html>",
            {"body": "<html>Bad gateway</html>", "content_type": "text/html"},
        ),
    ],
)
def test_errors_keep_the_envelope_fields_or_the_body(api: str, status: int, body: Any, error: dict[str, Any]) -> None:
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    content_type = "text/html" if isinstance(body, str) else "application/json"
    headers = {"retry-after": "3", "x-request-id": "req_9", "anthropic-ratelimit-requests-remaining": "0"}
    built = build_error(api, status, content_type, raw, headers)
    assert built == {
        "status": status,
        **error,
        "headers": {"anthropic-ratelimit-requests-remaining": "0", "retry-after": "3"},
    }
    rule = {"name": "e", "reply": {"error": built}}
    parse_rules([rule])  # the mapping is a valid reply


def test_matches_name_what_tells_requests_apart() -> None:
    system = "You are terse. " * 20
    chat = parsed(
        "openai-chat",
        {
            "model": "gpt-[4]o*",
            "messages": [
                {"role": "system", "content": system},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "look"},
                        {"type": "image_url", "image_url": {"url": "data:,"}},
                    ],
                },
            ],
        },
    )
    match = build_match(chat)
    assert match["model"] == "gpt-[[]4]o[*]"
    assert match["system"] == {"startswith": system[:160]}
    assert match["has_image"] is True
    embeddings = build_match(parsed("embeddings", {"model": "e", "input": ["first", "last"]}))
    assert embeddings == {
        "api": "embeddings",
        "model": "e",
        "stream": False,
        "user": {"equals": "last"},
        "any_message": {"equals": "first"},
    }
    assert rule_name({"api": "embeddings"}).startswith("embeddings-")
    scenario = parse_rules([{"name": "r", "match": json.loads(json.dumps(match)), "reply": {"content": "x"}}])
    assert explain(scenario.rules[0].match, chat)[0] is None


def test_answers_the_dialects_cannot_express_are_raw(upstream: FakeLLMServer, tmp_path: Path) -> None:
    recorder = Recorder(upstream.url, tmp_path / "raw.yaml")
    chat = parsed("openai-chat", CHAT)
    html = httpx.Response(200, headers={"content-type": "text/html"}, content=b"<p>hi</p>")
    moved = httpx.Response(302, headers={"location": "/x"}, content=b"")
    assert recorder.reply(chat, html, b"<p>hi</p>", []) == {
        "raw": {"status": 200, "body": "<p>hi</p>", "content_type": "text/html"}
    }
    assert recorder.reply(chat, moved, b"", []) == {"raw": {"status": 302, "body": ""}}
    # Without an app around it, the recorder still writes (it only has no journal).
    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": [], "query_string": b""}
    recorder.record(chat, Request(scope), html, b"<p>hi</p>", [], [])
    assert recorded(tmp_path / "raw.yaml")["rules"][0]["reply"]["raw"]["body"] == "<p>hi</p>"


def test_odd_shapes_are_read_without_failing() -> None:
    chat = parsed("openai-chat", CHAT)
    assert build_reply(read_body("openai-chat", {"object": "chat.completion"}), chat) == {"content": ""}
    responses = read_body(
        "responses",
        {"output": [{"type": "web_search_call"}, {"type": "message", "content": [{"type": "annotation"}]}]},
    )
    assert responses.content == ""
    claude = read_body("anthropic", {"content": [{"type": "server_tool_use"}, {"type": "text", "text": "ok"}]})
    assert claude.content == "ok"
    gemini = read_body("gemini", {"candidates": [{"content": {"parts": [{"inlineData": {}}, {"text": "ok"}]}}]})
    assert gemini.content == "ok"
    args = {
        "choices": [
            {"message": {"tool_calls": [{"id": "c", "function": {"name": "f", "arguments": '{"a":["{{",1]}'}}]}}
        ]
    }
    assert build_reply(read_body("openai-chat", args), chat)["tool_calls"][0]["arguments"] == {"a": ['{{ "{{" }}', 1]}
    later = parsed(
        "responses",
        {
            "model": "m",
            "previous_response_id": "resp_1",
            "input": [{"type": "function_call_output", "call_id": "c", "output": "42"}],
        },
    )
    assert build_match(later)["tool_result"] == {"equals": "42"}
    assert "tool_result_for" not in build_match(later)
    assert "content_type" not in build_error("openai-chat", 500, "", b"oops", {})
    assert "last_role" not in build_match(parsed("responses", {"model": "m", "previous_response_id": "r", "input": []}))


def test_names_stay_unique_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "names.yaml"
    match = {"api": "openai-chat", "user": {"equals": "a"}}
    taken = {"name": rule_name(match), "match": {"user": "other"}, "reply": {"content": "x"}}
    path.write_text(dump_yaml({"name": "names", "rules": [taken]}), encoding="utf-8")
    assert Cassette(path, mode="new").add(match, {"content": "y"}) == rule_name(match) + "-2"
    duplicated = "rules:\n  - {name: a, reply: {content: x}}\n  - {name: a, reply: {content: y}}\n"
    path.write_text(duplicated, encoding="utf-8")
    with pytest.raises(ScenarioError, match="duplicate rule name 'a'"):
        Cassette(path, mode="new")


def test_a_failed_write_is_journaled_and_the_client_still_answered(
    upstream: FakeLLMServer, cassette: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Cassette) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Cassette, "_write", broken)
    with RecordingServer(upstream.url, cassette) as proxy:
        assert run_text("hello", stream=False)(proxy.url) == ["Hello there, how may I assist you today?"]
        (entry,) = proxy.journal.errors
    assert entry.error == "fake-llm record could not write the exchange: OSError('disk full')"


def test_an_upstream_that_breaks_off_is_not_recorded(upstream: FakeLLMServer, cassette: Path) -> None:
    upstream.add_rules("- {name: cut, match: {user: cut}, reply: {content: a b c d, stream: {disconnect_after: 2}}}")
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "cut"}], "stream": True}
    try:
        with RecordingServer(upstream.url, cassette) as proxy:
            headers = {"authorization": f"Bearer {KEY}"}
            with pytest.raises(httpx.RemoteProtocolError):
                httpx.post(proxy.base_url + "/chat/completions", json=body, headers=headers)
    finally:
        upstream.reset(rules=True)
    assert not cassette.exists()


def test_mode_new_skips_disabled_scenarios(tmp_path: Path) -> None:
    engine = FakeLLMServer(rules="name: switched\nrules: [{name: any, reply: {content: x}}]").engine
    chat = parsed("openai-chat", CHAT)
    assert _replays(engine, chat)
    engine.selector.set_disabled(["switched"])
    assert not _replays(engine, chat)
