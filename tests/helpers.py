"""Helpers every test module shares: request bodies, a served rule set, and SSE parsers that check the framing.

One place for what used to be copied into each module (`ask`, `server()`, the SSE parsers)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fake_llm.testing.server import FakeLLMServer

#: The frozen clock of every served test scenario (2026-01-01T00:00:00Z).
FROZEN = 1767225600


def chat_body(text: str = "hello", model: str = "gpt-4o-mini", **extra: Any) -> dict[str, Any]:
    """An OpenAI chat request with one user message."""
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def user_turn(text: str) -> list[dict[str, str]]:
    """A conversation of one user message, in the `{role, content}` shape most SDKs take."""
    return [{"role": "user", "content": text}]


def serve(rules: str, **settings: Any) -> Iterator[FakeLLMServer]:
    """A server for `rules` on a free port, frozen in time and with unscaled waits skipped (`time_scale=0`) unless
    `settings` say otherwise; for module fixtures: `yield from serve(RULES)`."""
    options: dict[str, Any] = {"freeze_time": FROZEN, "time_scale": 0, **settings}
    with FakeLLMServer(rules=rules, **options) as running:
        yield running


def data_events(raw: bytes) -> list[str]:
    """The data payloads of an unnamed SSE body (OpenAI chat), checking the framing: one `data: ` line per event,
    a blank line after each, the last one included."""
    assert raw.endswith(b"\n\n")
    out = []
    for frame in raw.decode().split("\n\n")[:-1]:
        assert frame.startswith("data: ")
        assert "\n" not in frame
        out.append(frame[len("data: ") :])
    return out


def named_events(raw: str, *, typed: bool = True) -> list[tuple[str, dict[str, Any]]]:
    """(event name, JSON data) of a named SSE body (Anthropic, Responses), checking the framing: an `event:` line
    then one `data:` line, every event ending with a blank line; with `typed`, each payload's `type` is its name."""
    assert raw.endswith("\n\n")
    out = []
    for frame in raw.split("\n\n")[:-1]:
        event, data = frame.split("\n")
        assert event.startswith("event: ")
        assert data.startswith("data: ")
        name, payload = event[len("event: ") :], json.loads(data[len("data: ") :])
        if typed:
            assert payload["type"] == name
        out.append((name, payload))
    return out
