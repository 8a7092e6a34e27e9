"""Fuzz material shared by tests/test_fuzz.py (hypothesis, bounded) and `make fuzz` (tests/fuzz_run.py, long runs):
a valid request per dialect, the values that broke fake-llm before (issue 11), and a seeded body mutator."""

from __future__ import annotations

import copy
import json
import random
from textwrap import dedent
from typing import Any

#: Rules that exercise templates (echoes of the request), tool calls, generated JSON and streams.
RULES = dedent(
    """
    rules:
      - name: tools
        match: {tools: [get_weather]}
        reply: {tool_calls: [{name: get_weather}]}
      - name: json
        match: {response_format: json_schema}
        reply: {generate: {words: 5}}
      - name: echo
        match: {user: echo}
        reply: {content: "{{ last_user }} / {{ request.model }}", stream: {chunk_tokens: 3}}
      - name: default
        reply: {content: "Hello from the fuzz server", stream: {chunk_tokens: 2}}
    """
)
USER = [{"role": "user", "content": "echo hello"}]
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
#: (name, path, a valid body, headers)
DIALECTS: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
    (
        "openai-chat",
        "/v1/chat/completions",
        {"model": "gpt-4o-mini", "messages": USER, "max_tokens": 50, "temperature": 0.5, "tools": [TOOL]},
        {},
    ),
    (
        "anthropic",
        "/v1/messages",
        {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": USER, "system": "be brief"},
        {"anthropic-version": "2023-06-01", "x-api-key": "k"},
    ),
    ("responses", "/v1/responses", {"model": "gpt-4o-mini", "input": "echo hi", "max_output_tokens": 50}, {}),
    ("completions", "/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "echo", "max_tokens": 20}, {}),
    ("embeddings", "/v1/embeddings", {"model": "text-embedding-3-small", "input": ["a", "b"], "dimensions": 8}, {}),
    (
        "gemini",
        "/v1beta/models/gemini-2.0-flash:generateContent",
        {"contents": [{"role": "user", "parts": [{"text": "echo hi"}]}], "generationConfig": {"maxOutputTokens": 9}},
        {"x-goog-api-key": "k"},
    ),
    (
        "gemini-stream",
        "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
        {"contents": [{"role": "user", "parts": [{"text": "echo hi"}]}]},
        {},
    ),
    (
        "azure",
        "/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21",
        {"messages": USER, "stream": True},
        {"api-key": "k"},
    ),
    ("scale", "/v5/chat/completions", {"model": "openai/gpt-4o", "messages": USER}, {}),
]

#: Raw JSON texts for values Python's json.dumps cannot write or that broke the server before.
NASTY_RAW = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "9" * 5000,
    "-" + "9" * 1200,
    '"\\ud800"',
    '"a\\udfffb"',
    "[" * 2000 + "]" * 2000,
    '{"a":' * 700 + "1" + "}" * 700,
    '"' + "x" * 200_000 + '"',
    '"{{ last_user }}{{ last_user }}"',
    '"(.+)+Z"',
    "18446744073709551616",
    "-0.0",
    "1e-400",
]
NASTY_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**31,
    2**63,
    0.5,
    -1e308,
    "",
    "\u0000",
    "é" * 10,
    [],
    {},
    [1, "a"],
]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON-able value: scalars, strings with odd characters, and small nested containers."""
    roll = rng.random()
    if depth > 3 or roll < 0.4:
        return copy.deepcopy(rng.choice(NASTY_VALUES))  # a fresh [] / {}: the mutator may add keys to it
    if roll < 0.6:
        return "".join(
            chr(rng.choice([rng.randint(32, 126), rng.randint(0, 0x10FFFF)])) for _ in range(rng.randint(0, 30))
        )
    if roll < 0.8:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {random_key(rng): random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def random_key(rng: random.Random) -> str:
    keys = ["model", "messages", "role", "content", "stream", "tools", "n", "stop", "pattern", "guided_regex", "type"]
    return rng.choice(keys) if rng.random() < 0.7 else f"k{rng.randint(0, 99)}"


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += _paths(child, (*prefix, index))
    return out


def replaced(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A copy of `body` with the value at `path` replaced."""
    if not path:
        return value
    copy: Any = json.loads(json.dumps(body))
    parent = copy
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return copy


def encode(body: Any, raw: dict[str, str]) -> bytes:
    """JSON text of `body` where each string `__RAW_i__` is swapped for its raw JSON text (NaN, huge ints...)."""
    text = json.dumps(body, ensure_ascii=True)
    for marker, replacement in raw.items():
        text = text.replace(json.dumps(marker), replacement)
    return text.encode("utf-8")


def mutate(rng: random.Random) -> tuple[str, str, bytes, dict[str, str]]:
    """(dialect, path, body bytes, headers) for one fuzz request, derived from a valid request."""
    name, url, template, headers = rng.choice(DIALECTS)
    body: Any = dict(template)
    raw: dict[str, str] = {}
    for _ in range(rng.randint(1, 3)):
        target = rng.choice(_paths(body))
        roll = rng.random()
        if roll < 0.35:
            marker = f"__RAW_{len(raw)}__"
            raw[marker] = rng.choice(NASTY_RAW)
            body = replaced(body, target, marker)
        elif roll < 0.8:
            body = replaced(body, target, random_value(rng))
        elif isinstance(body, dict):
            body[random_key(rng)] = random_value(rng)
    if isinstance(body, dict) and rng.random() < 0.3:
        body["stream"] = True  # the streamed path of each dialect (Gemini streams by URL)
    data = encode(body, raw)
    roll = rng.random()
    if roll < 0.05:
        data = data[: rng.randint(0, len(data))]  # truncated JSON
    elif roll < 0.08:
        data = bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 64)))  # not JSON at all
    return name, url, data, {"content-type": "application/json", **headers}
