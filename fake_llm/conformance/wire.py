"""Reading what went over the wire back into events: SSE as a client parses it (WHATWG event-stream rules:
any line ending, comments, multi-line `data:`), and Gemini's JSON-array stream."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fake_llm.conformance.registry import SSEEvent


@dataclass(slots=True)
class Parsed:
    """The decoded events, and the `data:` payloads that were not JSON (by index in the stream)."""

    events: list[SSEEvent] = field(default_factory=list)
    not_json: list[tuple[int, str]] = field(default_factory=list)


def parse_sse(body: bytes) -> Parsed:
    out = Parsed()
    text = body.decode("utf-8", errors="replace")
    event: str | None = None
    data: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line:
            if data:
                _emit(out, event, "\n".join(data))
            event, data = None, []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
    if data:  # a stream cut before its blank line: the client never dispatches it
        out.not_json.append((len(out.events), "\n".join(data)))
    return out


def _emit(out: Parsed, event: str | None, payload: str) -> None:
    if payload == "[DONE]":
        out.events.append(SSEEvent("[DONE]", event))
        return
    try:
        out.events.append(SSEEvent(json.loads(payload), event))
    except json.JSONDecodeError:
        out.not_json.append((len(out.events), payload))


def parse_json_array(body: bytes) -> Parsed:
    """Gemini without `alt=sse`: one JSON array whose elements arrive as they are generated."""
    out = Parsed()
    try:
        items: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        out.not_json.append((0, body.decode("utf-8", errors="replace")[:200]))
        return out
    if not isinstance(items, list):
        out.not_json.append((0, "not a JSON array"))
        return out
    out.events = [SSEEvent(item) for item in items]
    return out


def parse_ndjson(body: bytes) -> Parsed:
    """Ollama's streams: one JSON object per line, no blank lines, no SSE framing."""
    out = Parsed()
    lines = body.decode("utf-8", errors="replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last object
    for line in lines:
        try:
            out.events.append(SSEEvent(json.loads(line)))
        except json.JSONDecodeError:
            out.not_json.append((len(out.events), line[:200]))
    return out


def parse_eventstream(body: bytes) -> Parsed:
    """AWS's binary event stream (Bedrock), read with botocore's own decoder: each frame's `:event-type` (or
    `:exception-type`) and its JSON payload. A frame botocore cannot decode is reported, not raised."""
    from botocore.eventstream import EventStreamBuffer, ParserError  # type: ignore[import-untyped]

    out = Parsed()
    buffer = EventStreamBuffer()
    buffer.add_data(body)
    try:
        for frame in buffer:
            headers = frame.headers
            name = headers.get(":event-type") or headers.get(":exception-type")
            if headers.get(":message-type") not in ("event", "exception"):
                out.not_json.append((len(out.events), f":message-type {headers.get(':message-type')!r}"))
                continue
            try:
                out.events.append(SSEEvent(json.loads(frame.payload), name))
            except (json.JSONDecodeError, UnicodeDecodeError):
                out.not_json.append((len(out.events), repr(frame.payload[:80])))
    except ParserError as exc:
        out.not_json.append((len(out.events), f"undecodable frame: {exc}"))
    return out
