"""Record mode's reader of Gemini answers: one GenerateContentResponse, a JSON array of them, or an SSE stream."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fake_llm.dialects.gemini.generate import FINISH_REASONS, USAGE_NAMES
from fake_llm.model.request import ChatRequest
from fake_llm.model.transcript import (
    SSEEvent,
    Transcript,
    TranscriptReader,
    as_dict,
    as_list,
    inverse,
    parse_json,
    pick_usage,
)

# Derived from the dialect's own forward tables, so record mode reads exactly what replay writes.
GEMINI_FINISH = inverse(FINISH_REASONS)
_GEMINI_USAGE = inverse(USAGE_NAMES)


def _gemini(chunks: Sequence[tuple[Any, float]]) -> Transcript:
    """A whole GenerateContentResponse is one chunk; a stream is many, each with the new parts only (§6)."""
    t = Transcript()
    texts: dict[int, list[str]] = {}
    finishes: dict[int, str | None] = {}
    thoughts: list[str] = []
    for n, (raw, at_ms) in enumerate(chunks):
        chunk = as_dict(raw)
        if chunk.get("error"):
            t.stream_error, t.events_before_error = as_dict(chunk["error"]), n
            break
        t.model = chunk.get("modelVersion") or t.model
        if chunk.get("usageMetadata"):
            t.usage = pick_usage(chunk["usageMetadata"], _GEMINI_USAGE)
        for candidate in map(as_dict, as_list(chunk.get("candidates"))):
            index = candidate.get("index", 0)
            for part in map(as_dict, as_list(as_dict(candidate.get("content")).get("parts"))):
                if part.get("thought") and isinstance(part.get("text"), str):
                    thoughts.append(part["text"])
                elif isinstance(part.get("text"), str):
                    texts.setdefault(index, []).append(part["text"])
                    if index == 0 and part["text"]:
                        t.pieces.append((part["text"], at_ms))
                elif index == 0 and isinstance(part.get("functionCall"), dict):
                    call = part["functionCall"]
                    t.tool_calls.append({"id": call.get("id"), "name": call.get("name"), "arguments": call.get("args")})
                if index == 0 and (part.get("text") or "functionCall" in part):
                    t.deltas.append(at_ms)
            if candidate.get("finishReason"):
                finishes[index] = candidate["finishReason"]
    t.reasoning = "".join(thoughts) or None
    t.content = "".join(texts.get(0, [])) if texts.get(0) or not t.tool_calls else None
    reason = GEMINI_FINISH.get(finishes.get(0) or "")
    t.finish_reason = None if reason == "stop" else reason  # STOP also ends a tool call: the default either way
    if len(set(texts) | set(finishes)) > 1:
        t.choices = [
            ("".join(texts.get(i, [])), GEMINI_FINISH.get(finishes.get(i) or ""))
            for i in sorted(set(texts) | set(finishes))
        ]
    return t


def _body(body: Any, request: ChatRequest | None) -> Transcript:
    # Without `alt=sse`, a Gemini stream is one JSON array of chunks.
    return _gemini([(chunk, 0.0) for chunk in body] if isinstance(body, list) else [(body, 0.0)])


def _stream(events: Sequence[SSEEvent]) -> Transcript:
    return _gemini([(parse_json(e.data), e.at_ms) for e in events])


def _error(data: Any) -> dict[str, Any] | None:
    """A google.rpc.Status: its message and status, the ErrorInfo reason, the first field violation."""
    status = as_dict(as_dict(data).get("error"))
    infos = [as_dict(d) for d in as_list(status.get("details"))]
    reason = next((d.get("reason") for d in infos if str(d.get("@type")).endswith("ErrorInfo")), None)
    violations = next((as_list(d.get("fieldViolations")) for d in infos if "fieldViolations" in d), [])
    param = as_dict(violations[0]).get("field") if violations else None
    return {"message": status.get("message"), "type": status.get("status"), "code": reason, "param": param}


GENERATE = TranscriptReader(_body, _stream, _error)
