"""`stream: {vary: {seed: N}}`: valid but unusual stream shapes, reproducible from the seed and journaled, that the
official SDKs still read to the same content (and that the session's conformance check still accepts)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from textwrap import dedent

import anthropic
import httpx
import pytest
from google import genai
from google.genai import types

from fake_llm.core.variations import vary
from fake_llm.model.stream import Event
from fake_llm.testing.server import FakeLLMServer
from tests.sdk_clients import closing, openai_client

SEEDS = range(8)
TEXT = "Grüße aus Köln — naïve café ☕ and 東京 too."


def rules(seed: int) -> str:
    return dedent(f"""\
        - name: text-{seed}
          match: {{user: "text {seed}"}}
          reply: {{content: "{TEXT}", stream: {{vary: {{seed: {seed}}}}}}}
        - name: call-{seed}
          match: {{user: "call {seed}"}}
          reply:
            tool_calls: [{{name: get_weather, arguments: {{city: "Zürich", note: "ünïcödé"}}}}]
            stream: {{vary: {{seed: {seed}}}, chunk_tokens: 2}}
        """)


WEATHER = {"type": "object", "properties": {"city": {"type": "string"}, "note": {"type": "string"}}}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    text = "".join(rules(seed) for seed in SEEDS)
    with FakeLLMServer(rules=text, freeze_time=1767225600, time_scale=0) as running:
        yield running


@pytest.mark.parametrize("seed", SEEDS)
def test_openai_chat_reads_the_same_text_and_tool_call(server: FakeLLMServer, seed: int) -> None:
    client = openai_client(server)
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"text {seed}"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == TEXT
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}]
    with client.chat.completions.stream(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": f"call {seed}"}],
        tools=tools,  # type: ignore[arg-type]
    ) as helper:
        final = helper.get_final_completion()
    call = (final.choices[0].message.tool_calls or [])[0]
    assert call.id.startswith("call_")
    assert json.loads(call.function.arguments) == {"city": "Zürich", "note": "ünïcödé"}  # type: ignore[union-attr]


@pytest.mark.parametrize("seed", SEEDS)
def test_anthropic_reads_the_same_text_and_tool_input(server: FakeLLMServer, seed: int) -> None:
    client = closing(anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0, timeout=10))
    with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=256, messages=[{"role": "user", "content": f"text {seed}"}]
    ) as stream:
        assert stream.get_final_text() == TEXT
    tools = [{"name": "get_weather", "input_schema": WEATHER}]
    with client.messages.stream(
        model="claude-sonnet-4-5",
        max_tokens=256,
        tools=tools,
        messages=[{"role": "user", "content": f"call {seed}"}],  # type: ignore[list-item]
    ) as stream:
        block = stream.get_final_message().content[0]
    assert block.type == "tool_use"
    assert block.input == {"city": "Zürich", "note": "ünïcödé"}


@pytest.mark.parametrize("seed", SEEDS)
def test_gemini_and_responses_read_the_same_text(server: FakeLLMServer, seed: int) -> None:
    with genai.Client(api_key="k", http_options=types.HttpOptions(base_url=server.url, api_version="v1beta")) as gem:
        chunks = gem.models.generate_content_stream(model="gemini-2.5-flash", contents=f"text {seed}")
        assert "".join(c.text or "" for c in chunks) == TEXT
    client = openai_client(server)
    with client.responses.stream(model="gpt-4.1-mini", input=f"text {seed}") as stream:
        assert stream.get_final_response().output_text == TEXT


def test_variations_are_journaled_and_reproducible(server: FakeLLMServer) -> None:
    seen: dict[int, list[str]] = {}
    bodies = []
    for seed in (3, 3, 5):
        body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": f"call {seed}"}]}
        tools = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}]
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            bodies.append(http.post("/chat/completions", json={**body, "tools": tools}).content)
        seen.setdefault(seed, server.journal.last.variations)
        assert server.journal.last.variations == seen[seed]
    assert seen[3]
    assert "tool-call index before id" in seen[3]
    # The same seed gives the same bytes but for the ids, which follow the journal's sequence.
    first, second = (b.decode() for b in bodies[:2])
    assert len(first) == len(second)
    assert first.count("data:") == second.count("data:")


def test_every_variation_is_reachable() -> None:
    chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    events = [
        Event(json.dumps({**chunk, "choices": [{"index": 0, "delta": {"content": "é"}}]})),
        Event(json.dumps({**chunk, "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}]}}]})),
        Event("[DONE]", kind="done"),
    ]  # fmt: skip
    names = {
        name.split(" events cut")[0] if "cut" in name else name
        for s in range(40)
        for name in vary(events, "openai-chat", s).names
    }
    assert {
        "tool-call index before id",
        "empty deltas",
        "SSE comments",
        "data split over several lines",
        "CRLF line endings",
    } <= names
    gemini = {name for s in range(40) for name in vary(events, "gemini", s).names}
    assert not gemini & {"SSE comments", "data split over several lines"}
