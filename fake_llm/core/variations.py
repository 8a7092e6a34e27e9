"""Seeded stream variations (`stream: {vary: {seed: N}}`): shapes the SSE spec and the provider's spec allow,
that real providers send, and that naive client parsers break on. The opposite of faults: the stream stays
correct and a correct client must read the same content.

Each variation is drawn from a generator seeded by `seed` alone, so the same seed gives the same shapes; the
names of the ones applied go to the journal.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fake_llm.model.stream import Event

#: Dialects whose chunks are Chat Completions chunks (empty deltas and split tool-call fragments apply).
CHAT_CHUNKS = frozenset({"openai-chat", "azure", "scale"})
#: google-genai fails on SSE comments (wire-format §6) and reads each `data:` line alone: neither is sent there.
NO_COMMENTS = frozenset({"gemini"})


@dataclass(frozen=True, slots=True)
class Varied:
    events: list[Event]
    line_ending: str | None
    names: list[str]


def vary(events: Sequence[Event], api: str, seed: int, *, sse: bool = True) -> Varied:
    """`events` in the shapes the seed picks; `line_ending` is `\\r\\n` when CRLF was picked, else None. Without
    `sse` (NDJSON, Bedrock's binary frames, Gemini's JSON array) there are no comments or multi-line `data:`."""
    rng = random.Random(f"vary:{seed}")
    names: list[str] = []
    out = list(events)
    if api in CHAT_CHUNKS:
        out, found = _split_tool_call_ids(out)
        if found:
            names.append("tool-call index before id")
        if rng.random() < 0.7:
            out = _empty_deltas(out, rng)
            names.append("empty deltas")
    if sse and api not in NO_COMMENTS:
        if rng.random() < 0.7:
            out = _comments(out, rng)
            names.append("SSE comments")
        if rng.random() < 0.5:
            out = [_multiline(e) if e.kind != "comment" and rng.random() < 0.5 else e for e in out]
            names.append("data split over several lines")
    cuts = 0
    for i, event in enumerate(out):
        if rng.random() < 0.6:
            out[i] = dataclasses.replace(event, parts=rng.randint(2, 4), split_utf8=rng.random() < 0.5)
            cuts += 1
    if cuts:
        names.append(f"{cuts} events cut across writes (inside UTF-8 where there is any)")
    crlf = rng.random() < 0.5
    if crlf:
        names.append("CRLF line endings")
    return Varied(out, "\r\n" if crlf else None, names)


def _chunk(event: Event) -> dict[str, Any] | None:
    if event.kind in ("done", "comment", "error", "malformed"):
        return None
    try:
        data = json.loads(event.data)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) and data.get("choices") else None


def _empty_deltas(events: list[Event], rng: random.Random) -> list[Event]:
    """A chunk whose delta is an empty content string, as OpenAI sends around tool calls and refusals."""
    out: list[Event] = []
    for event in events:
        chunk = _chunk(event)
        if chunk is not None and event.kind == "content" and rng.random() < 0.3:
            empty = {**chunk, "choices": [{**c, "delta": {"content": ""}} for c in chunk["choices"]]}
            out.append(dataclasses.replace(event, data=_dump(empty), tokens=0))
        out.append(event)
    return out


def _split_tool_call_ids(events: list[Event]) -> tuple[list[Event], bool]:
    """The first fragment of each tool call as two chunks: `index` and the function name first, `id` and `type`
    after (the spec requires only `index` on a fragment); clients must merge fragments by index."""
    out: list[Event] = []
    found = False
    for event in events:
        chunk = _chunk(event)
        choices = chunk["choices"] if chunk is not None else []
        calls = choices[0].get("delta", {}).get("tool_calls") if len(choices) == 1 else None
        if chunk is None or not calls or not all("id" in c for c in calls):
            out.append(event)
            continue
        found = True
        first = [{k: v for k, v in c.items() if k not in ("id", "type")} for c in calls]
        # openai-python's stream helper needs `function` on every fragment of a function call once its type is
        # known, so the late fragment carries an empty arguments piece.
        second = [
            {"index": c["index"], "id": c["id"], "type": c.get("type", "function"), "function": {"arguments": ""}}
            for c in calls
        ]
        for part in (first, second):
            delta = {**choices[0]["delta"], "tool_calls": part}
            if part is second:
                delta = {"tool_calls": part}
            data = {**chunk, "choices": [{**choices[0], "delta": delta}]}
            out.append(dataclasses.replace(event, data=_dump(data), tokens=event.tokens if part is first else 0))
    return out, found


def _comments(events: list[Event], rng: random.Random) -> list[Event]:
    out: list[Event] = []
    for event in events:
        if rng.random() < 0.25:
            out.append(
                Event(rng.choice(["", "keep-alive", "OPENROUTER PROCESSING"]), kind="comment", at_ms=event.at_ms)
            )
        out.append(event)
    return out


def _multiline(event: Event) -> Event:
    """The JSON re-dumped with a newline after each structural comma: the same value over several `data:` lines."""
    try:
        value = json.loads(event.data)
    except json.JSONDecodeError:
        return event
    return dataclasses.replace(event, data=json.dumps(value, ensure_ascii=False, separators=(",\n", ":")))


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
