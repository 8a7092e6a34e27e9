"""Transcript: an upstream answer in provider-neutral terms, as record mode reads it from any dialect, and the
forgiving JSON accessors the per-dialect readers share (an upstream may send any shape)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fake_llm.model.request import ChatRequest


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One server-sent event (or NDJSON line, or event-stream frame) and when it arrived (ms since the request went
    upstream)."""

    data: str
    event: str | None
    at_ms: float


@dataclass(frozen=True, slots=True)
class TranscriptReader:
    """How record mode reads one dialect's upstream answers: a whole 2xx body (with the request it answers), or the
    events of a stream as they arrived. Each dialect keeps its reader beside its parser and renderer."""

    body: Callable[[Any, ChatRequest | None], Transcript]
    #: None for a dialect whose answers never stream (record mode then reads events as OpenAI chat chunks).
    stream: Callable[[Sequence[SSEEvent]], Transcript] | None = None
    #: The fields an error body's envelope is built from (the dialect's `error_body` keywords), or None when the
    #: body is not in the dialect's error shape; None here for OpenAI's envelope, which most dialects share.
    error: Callable[[Any], dict[str, Any] | None] | None = None


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
