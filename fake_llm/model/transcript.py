"""Transcript: an upstream answer in provider-neutral terms, as record mode reads it from any dialect, and the
forgiving JSON accessors the per-dialect readers share (an upstream may send any shape)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Transcript:
    """A reply as received, in provider-neutral terms."""

    content: str | None = None
    reasoning: str | None = None
    refusal: str | None = None
    #: `{id, name, arguments}`; arguments a JSON string, or a mapping when the dialect sends an object.
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    #: The dialect's finish reason in OpenAI's terms (None: the default, `stop` or `tool_calls`).
    finish_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    #: n > 1: (text, finish reason) of each choice.
    choices: list[tuple[str, str | None]] = field(default_factory=list)
    embedding: list[float] | None = None
    #: Rerank: each document's relevance score, in document order (documents left out of the answer score 0).
    scores: list[float] | None = None
    #: Streams: each content delta with its arrival time, and the arrival of every delta (text, reasoning, tool
    #: arguments), which paces what a chunk timeline cannot carry.
    pieces: list[tuple[str, float]] = field(default_factory=list)
    deltas: list[float] = field(default_factory=list)
    #: A mid-stream error event, and how many data events came before it.
    stream_error: dict[str, Any] | None = None
    events_before_error: int = 0


def parse_json(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def pick_usage(raw: Any, names: Mapping[str, str]) -> dict[str, Any]:
    """Usage fields renamed to the neutral names a scenario's `usage:` uses (each dialect maps them back)."""
    usage = as_dict(raw)
    return {neutral: usage[name] for name, neutral in names.items() if usage.get(name) is not None}


def inverse(forward: Mapping[str, str], **extra: str) -> dict[str, str]:
    """A dialect's table read backwards (its word -> the neutral one), for reading what an upstream sent: the first
    neutral name that maps to a word wins (`tool_use` reads as `tool_calls`, not `function_call`), and `extra`
    adds the words the dialect sends without a table entry (Anthropic's `stop_sequence`)."""
    out: dict[str, str] = {}
    for neutral, word in forward.items():
        out.setdefault(word, neutral)
    return {**out, **extra}
