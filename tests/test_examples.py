"""Every bundled scenario file loads cleanly and every rule in it is reached by a request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fake_llm.scenarios.loader import load_scenario, shadowed_rules
from fake_llm.settings import bundled_scenarios
from fake_llm.testing.server import FakeLLMServer

BUNDLED = sorted(bundled_scenarios().glob("*.yaml"))


def _tool(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    parameters = {"type": "object", "properties": properties, "required": sorted(properties)}
    return {"type": "function", "function": {"name": name, "parameters": parameters}}


WEATHER = _tool("get_weather", {"city": {"type": "string"}})
TIME = _tool("get_time", {"timezone": {"type": "string"}})
CONTACT = _tool("extract_contact", {"name": {"type": "string"}, "email": {"type": "string", "format": "email"}})
FORCE_CONTACT = {"type": "function", "function": {"name": "extract_contact"}}
PERSON_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "person", "schema": {"type": "object", "properties": {"name": {"type": "string"}}}},
}


def _loop(tool: str) -> list[dict[str, Any]]:
    call = {"id": "call_1", "type": "function", "function": {"name": tool, "arguments": "{}"}}
    return [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]


WEATHER_LOOP = _loop("get_weather")
TIME_LOOP = _loop("get_time")


def says(text: str) -> list[dict[str, str]]:
    """A one-message conversation."""
    return [{"role": "user", "content": text}]


#: For each bundled file: requests (last user message, extra body fields, extra headers) and the rule each must hit.
TRIGGERS: dict[str, list[tuple[dict[str, Any], str]]] = {
    "basics.yaml": [
        ({"user": "hello"}, "greet"),
        ({"user": "Please write an essay about rivers"}, "essay"),
        ({"user": "three choices please", "body": {"n": 3}}, "three-choices"),
        ({"user": "truncate this"}, "truncated"),
        ({"user": "rate limit me"}, "rate-limited"),
        ({"user": "server error please"}, "server-error"),
        ({"user": "retry me"}, "flaky"),
        ({"user": "ahoy", "system": "You are a pirate."}, "pirate"),
    ],
    "faults.yaml": [
        ({"user": f"fault: {trigger}"}, f"fault-{name}")
        for trigger, name in [
            ("429 then ok", "429-retry"),
            ("rate limit headers", "rate-limit-headers"),
            ("500 no retry", "no-retry-500"),
            ("529", "overloaded-529"),
            ("flat error", "flat-error"),
            ("json failed", "json-mode-failed"),
            ("html 502", "html-gateway"),
            ("limiter", "limiter"),
            ("slow stream", "slow-stream"),
            ("timeline", "timeline"),
            ("stall", "stall"),
            ("delay", "delay"),
            ("hang", "hang"),
            ("disconnect", "disconnect"),
            ("early end", "early-end"),
            ("no done", "no-done"),
            ("mid-stream error", "mid-stream-error"),
            ("malformed chunk", "malformed-chunk"),
            ("framing", "framing"),
            ("not json", "not-json"),
            ("truncated body", "truncated-body"),
            ("json cut", "json-cut-by-length"),
        ]
    ],
    "providers.yaml": [
        (
            {
                "path": "/v1/messages",
                "json": {"model": "claude-x", "max_tokens": 50, "messages": says("provider: ping")},
            },
            "provider-anthropic",
        ),
        ({"path": "/v1/responses", "json": {"model": "gpt-4o", "input": "provider: ping"}}, "provider-responses"),
        (
            {
                "path": "/v1beta/models/gemini-2.5-flash:generateContent",
                "json": {"contents": [{"role": "user", "parts": [{"text": "provider: ping"}]}]},
            },
            "provider-gemini",
        ),
        (
            {
                "path": "/openai/deployments/gpt4/chat/completions?api-version=2024-10-21",
                "json": {"messages": says("provider: ping")},
            },
            "provider-azure",
        ),
        (
            {"path": "/v1/completions", "json": {"model": "gpt-3.5-turbo-instruct", "prompt": "provider: capital?"}},
            "provider-completions",
        ),
        (
            {"path": "/v1/embeddings", "json": {"model": "text-embedding-3-small", "input": "provider: fixed vector"}},
            "provider-embedding",
        ),
        (
            {"path": "/v5/chat/completions", "json": {"model": "openai/gpt-4o", "messages": says("provider: ping")}},
            "provider-scale",
        ),
        (
            {"path": "/api/chat", "json": {"model": "llama3.2", "messages": says("provider: ping"), "stream": False}},
            "provider-ollama",
        ),
        (
            {"path": "/api/embed", "json": {"model": "nomic-embed-text", "input": "provider: x"}},
            "provider-ollama-embed",
        ),
        (
            {
                "path": "/mistral/v1/chat/completions",
                "json": {"model": "mistral-small", "messages": says("provider: ping")},
            },
            "provider-mistral",
        ),
        ({"path": "/v2/chat", "json": {"model": "command-a", "messages": says("provider: ping")}}, "provider-cohere"),
        (
            {"path": "/v2/rerank", "json": {"model": "rerank-v3.5", "query": "provider: q", "documents": ["a", "b"]}},
            "provider-cohere-rerank",
        ),
        (
            {"user": "provider: cerebras json", "body": {"response_format": {"type": "json_object"}}},
            "provider-cerebras-json-failure",
        ),
        ({"user": "provider: cerebras"}, "provider-cerebras"),
        ({"user": "provider: gradient"}, "provider-gradient"),
        (
            {
                "path": "/model/anthropic.claude-3-5-sonnet-20240620-v1:0/converse",
                "json": {"messages": [{"role": "user", "content": [{"text": "provider: ping"}]}]},
            },
            "provider-bedrock",
        ),
        (
            {
                "path": "/model/meta.llama3-70b-instruct-v1:0/invoke",
                "json": {"prompt": "provider: ping", "max_gen_len": 32},
            },
            "provider-bedrock-invoke",
        ),
        ({"path": "/v1/moderations", "json": {"input": "provider: threat"}}, "provider-moderation-flagged"),
        ({"path": "/v1/moderations", "json": {"input": "a kind word"}}, "provider-moderation"),
        ({"path": "/v1/images/generations", "json": {"prompt": "a cat", "size": "256x256"}}, "provider-image"),
        (
            {
                "path": "/v1/audio/speech",
                "json": {"model": "tts-1", "voice": "alloy", "input": "provider: read this", "response_format": "wav"},
            },
            "provider-speech",
        ),
        (
            {"path": "/v1/audio/transcriptions", "files": {"file": ("a.wav", b"RIFF")}, "data": {"model": "whisper-1"}},
            "provider-transcription",
        ),
    ],
    "zz-fallback.yaml": [({"user": "help"}, "help"), ({"user": "something else entirely"}, "catch-all")],
    "agents.yaml": [
        ({"user": "What is the weather in Paris?", "body": {"tools": [WEATHER]}}, "agent-weather-call"),
        ({"messages": WEATHER_LOOP, "body": {"tools": [WEATHER]}}, "agent-weather-answer"),
        ({"user": "weather and time please", "body": {"tools": [WEATHER, TIME]}}, "agent-parallel-calls"),
        ({"messages": TIME_LOOP, "body": {"tools": [WEATHER, TIME]}}, "agent-parallel-answer"),
        ({"user": "call a tool that does not exist"}, "agent-hallucinated-tool"),
        (
            {"user": "extract: Ann, ann@example.com", "body": {"tools": [CONTACT], "tool_choice": FORCE_CONTACT}},
            "agent-forced-function",
        ),
        ({"user": "something dangerous", "body": {"response_format": PERSON_FORMAT}}, "agent-refusal"),
        ({"user": "order status?", "body": {"response_format": {"type": "json_object"}}}, "agent-scripted-json"),
        ({"user": "a person", "body": {"response_format": PERSON_FORMAT}}, "agent-generated-json"),
        ({"user": "think hard"}, "agent-reasoning"),
        ({"user": "generate something"}, "agent-generated-text"),
    ],
}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    options = {"freeze_time": 1767225600, "time_scale": 0, "max_hang_seconds": 0.05}
    with FakeLLMServer(scenarios=[bundled_scenarios()], **options) as running:
        yield running


def _send(server: FakeLLMServer, request: dict[str, Any]) -> httpx.Response:
    if "files" in request:  # a multipart upload (the audio endpoints)
        return httpx.post(server.url + request["path"], files=request["files"], data=request["data"], timeout=5)
    if "path" in request:  # another dialect: its own path and body
        return httpx.post(server.url + request["path"], json=request["json"], timeout=5)
    messages = [{"role": "system", "content": request["system"]}] if "system" in request else []
    messages += request.get("messages") or [{"role": "user", "content": request["user"]}]
    body = {"model": "gpt-4o-mini", "messages": messages, **request.get("body", {})}
    return httpx.post(server.base_url + "/chat/completions", json=body, timeout=5)


def test_every_bundled_file_has_triggers() -> None:
    assert sorted(p.name for p in BUNDLED) == sorted(TRIGGERS)


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_bundled_file_is_valid(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.rules
    assert path.read_text().startswith("# yaml-language-server: $schema=")


def test_no_bundled_rule_is_shadowed() -> None:
    assert shadowed_rules([load_scenario(path) for path in BUNDLED]) == []


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_every_rule_is_reached(server: FakeLLMServer, path: Path) -> None:
    server.reset(rules=False)
    for request, rule in TRIGGERS[path.name]:
        response = _send(server, request)
        assert server.journal.last.rule == rule, (request, response.text)
    assert {rule.name for rule in load_scenario(path).rules} == {rule for _, rule in TRIGGERS[path.name]}


def test_basics_pack_replies(server: FakeLLMServer) -> None:
    server.reset(rules=False)
    assert _send(server, {"user": "hi"}).json()["choices"][0]["message"]["content"].startswith("Hello there")
    essay = _send(server, {"user": "write an essay", "body": {"max_tokens": 4}}).json()["choices"][0]
    assert (essay["message"]["content"], essay["finish_reason"]) == ("The Quiet Work of", "length")
    assert [
        c["message"]["content"][:8] for c in _send(server, {"user": "choices", "body": {"n": 3}}).json()["choices"]
    ] == [
        "Option A",
        "Option B",
        "Option C",
    ]
    limited = _send(server, {"user": "rate limit"})
    assert (limited.status_code, limited.headers["retry-after-ms"]) == (429, "20")
    assert [_send(server, {"user": "retry me"}).status_code for _ in range(3)] == [503, 200, 200]


def test_compose_example_scenarios_are_valid() -> None:
    """examples/compose mounts this folder into the container: it must load (make docker-test runs the rest)."""
    from fake_llm.scenarios.loader import load_scenarios

    folder = Path(__file__).resolve().parent.parent / "examples" / "compose" / "scenarios"
    assert sum(len(s.rules) for s in load_scenarios([folder])) >= 1
