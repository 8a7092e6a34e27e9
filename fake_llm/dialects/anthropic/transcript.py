"""Record mode's reader of Anthropic Messages answers, whole or as their event sequence (wire-format §5.4)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fake_llm.dialects.anthropic.messages import OPENAI_USAGE, STOP_REASONS
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
ANTHROPIC_STOPS = inverse(STOP_REASONS, stop_sequence="stop")
_ANTHROPIC_USAGE = inverse(OPENAI_USAGE)


def _anthropic_usage(raw: Any) -> dict[str, Any]:
    usage = pick_usage(raw, _ANTHROPIC_USAGE)
    # Cache counts keep Anthropic's names (the dialect passes unknown keys through); zero is what replay computes.
    for name in ("cache_creation_input_tokens", "cache_read_input_tokens"):
        if as_dict(raw).get(name):
            usage[name] = raw[name]
    return usage


def anthropic_transcript(body: Any) -> Transcript:
    body = as_dict(body)
    t = Transcript(model=body.get("model"), usage=_anthropic_usage(body.get("usage")))
    texts, thinking = [], []
    for block in map(as_dict, as_list(body.get("content"))):
        if block.get("type") == "text":
            texts.append(block.get("text") or "")
        elif block.get("type") == "thinking":
            thinking.append(block.get("thinking") or "")
        elif block.get("type") == "tool_use":
            t.tool_calls.append({"id": block.get("id"), "name": block.get("name"), "arguments": block.get("input")})
    t.content = "".join(texts) if texts or not t.tool_calls else None
    t.reasoning = "".join(thinking) if thinking else None
    t.finish_reason = ANTHROPIC_STOPS.get(body.get("stop_reason") or "")
    return t


def anthropic_stream_transcript(events: Sequence[SSEEvent]) -> Transcript:
    """message_start, content blocks (start, deltas, stop), message_delta, message_stop (wire-format §5.4)."""
    message: dict[str, Any] = {"content": [], "usage": {}}
    blocks: dict[int, dict[str, Any]] = {}
    t = Transcript()
    for n, event in enumerate(events):
        payload = as_dict(parse_json(event.data))
        kind = payload.get("type")
        if kind == "message_start":
            message = {**as_dict(payload.get("message")), "content": []}
        elif kind == "content_block_start":
            block = dict(as_dict(payload.get("content_block")))
            if block.get("type") == "tool_use":
                block["input"] = ""  # the arguments come as partial_json fragments
            blocks[payload.get("index", len(blocks))] = block
        elif kind == "content_block_delta":
            block, delta = blocks.setdefault(payload.get("index", 0), {}), as_dict(payload.get("delta"))
            for key, target in (("text", "text"), ("thinking", "thinking"), ("partial_json", "input")):
                if key in delta:
                    block[target] = (block.get(target) or "") + (delta[key] or "")
                    t.deltas.append(event.at_ms)
                    if key == "text" and delta[key]:
                        t.pieces.append((delta[key], event.at_ms))
        elif kind == "message_delta":
            message.update(as_dict(payload.get("delta")))
            message["usage"] = {**as_dict(message.get("usage")), **as_dict(payload.get("usage"))}
        elif kind == "error":
            t.stream_error, t.events_before_error = as_dict(payload.get("error")), n
            break
    for index in sorted(blocks):
        block = blocks[index]
        if block.get("type") == "tool_use":
            parsed = parse_json(block["input"] or "{}")
            block["input"] = parsed if isinstance(parsed, dict) else block["input"]
        message["content"].append(block)
    result = anthropic_transcript(message)
    result.pieces, result.deltas = t.pieces, t.deltas
    result.stream_error, result.events_before_error = t.stream_error, t.events_before_error
    return result


def _body(body: Any, request: ChatRequest | None) -> Transcript:
    return anthropic_transcript(body)


def _error(data: Any) -> dict[str, Any] | None:
    data = as_dict(data)
    error = as_dict(data.get("error"))
    details = as_dict(error.get("details"))
    flat = "error" not in data
    error = data if flat else error
    return {"message": error.get("message"), "type": error.get("type"), "code": details.get("error_code"), "flat": flat}


MESSAGES = TranscriptReader(_body, anthropic_stream_transcript, _error)
