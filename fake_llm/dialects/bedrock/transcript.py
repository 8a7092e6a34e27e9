"""Bedrock answers read into a Transcript for record mode: Converse bodies and ConverseStream frames, and the
InvokeModel bodies (Anthropic Messages or Llama) whole or as `chunk` frames. Frames arrive from relay.py as events
named by their `:event-type` (`exception:<type>` for an error frame)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from fake_llm.dialects.anthropic.transcript import anthropic_stream_transcript, anthropic_transcript
from fake_llm.dialects.bedrock.converse import STOP_REASONS, USAGE_NAMES
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

# Derived from the Converse dialect's forward tables (plus the stop reasons it never sends but Bedrock does).
CONVERSE_STOPS = inverse(STOP_REASONS, stop_sequence="stop", guardrail_intervened="content_filter")
CONVERSE_USAGE = inverse(USAGE_NAMES)
LLAMA_USAGE = {"prompt_token_count": "prompt_tokens", "generation_token_count": "completion_tokens"}


def _converse(body: Any) -> Transcript:
    body = as_dict(body)
    t = Transcript(usage=pick_usage(body.get("usage"), CONVERSE_USAGE))
    texts, thoughts = [], []
    for block in map(as_dict, as_list(as_dict(as_dict(body.get("output")).get("message")).get("content"))):
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif "reasoningContent" in block:
            thoughts.append(str(as_dict(as_dict(block["reasoningContent"]).get("reasoningText")).get("text") or ""))
        elif "toolUse" in block:
            use = as_dict(block["toolUse"])
            t.tool_calls.append({"id": use.get("toolUseId"), "name": use.get("name"), "arguments": use.get("input")})
    t.content = "".join(texts) if texts or not t.tool_calls else None
    t.reasoning = "".join(thoughts) or None
    t.finish_reason = CONVERSE_STOPS.get(str(body.get("stopReason")))
    return t


def _converse_stream(events: Sequence[SSEEvent]) -> Transcript:
    """Rebuilds the ConverseResponse the frames add up to, then reads it as a whole body."""
    blocks: dict[int, dict[str, Any]] = {}
    body: dict[str, Any] = {}
    t = Transcript()
    for n, event in enumerate(events):
        payload = as_dict(parse_json(event.data))
        name = event.event or ""
        if name.startswith("exception:"):
            t.stream_error = {"type": name.partition(":")[2], "message": payload.get("message")}
            t.events_before_error = n
            break
        index = payload.get("contentBlockIndex", 0)
        if name == "contentBlockStart":
            use = as_dict(as_dict(payload.get("start")).get("toolUse"))
            blocks[index] = {"toolUse": {**use, "input": ""}}
        elif name == "contentBlockDelta":
            delta = as_dict(payload.get("delta"))
            block = blocks.setdefault(index, {})
            if isinstance(delta.get("text"), str):
                block["text"] = block.get("text", "") + delta["text"]
                if delta["text"]:
                    t.pieces.append((delta["text"], event.at_ms))
            elif "toolUse" in delta:
                use = block.setdefault("toolUse", {"input": ""})
                use["input"] += str(as_dict(delta["toolUse"]).get("input") or "")
            elif "reasoningContent" in delta:
                text = as_dict(delta["reasoningContent"]).get("text")
                if isinstance(text, str):
                    reasoning = block.setdefault("reasoningContent", {"reasoningText": {"text": ""}})
                    reasoning["reasoningText"]["text"] += text
            t.deltas.append(event.at_ms)
        elif name == "messageStop":
            body["stopReason"] = payload.get("stopReason")
        elif name == "metadata":
            body["usage"] = payload.get("usage")
    for block in blocks.values():
        if "toolUse" in block:
            parsed = parse_json(block["toolUse"]["input"] or "{}")
            block["toolUse"]["input"] = parsed if isinstance(parsed, dict) else block["toolUse"]["input"]
    body["output"] = {"message": {"content": [blocks[i] for i in sorted(blocks)]}}
    result = _converse(body)
    result.pieces, result.deltas = t.pieces, t.deltas
    result.stream_error, result.events_before_error = t.stream_error, t.events_before_error
    return result


def _llama(chunks: Sequence[tuple[dict[str, Any], float]]) -> Transcript:
    t = Transcript()
    texts = []
    for chunk, at_ms in chunks:
        piece = chunk.get("generation")
        if isinstance(piece, str):
            texts.append(piece)
            if piece:
                t.pieces.append((piece, at_ms))
                t.deltas.append(at_ms)
        t.usage.update(pick_usage({k: v for k, v in chunk.items() if v is not None}, LLAMA_USAGE))
        if chunk.get("stop_reason") == "length":
            t.finish_reason = "length"
    t.content = "".join(texts)
    return t


def _chunks(events: Sequence[SSEEvent]) -> tuple[list[tuple[dict[str, Any], float]], SSEEvent | None, int]:
    """The JSON events inside `chunk` frames, and the first exception frame with how many chunks preceded it."""
    decoded: list[tuple[dict[str, Any], float]] = []
    for n, event in enumerate(events):
        if (event.event or "").startswith("exception:"):
            return decoded, event, n
        try:
            raw = base64.b64decode(str(as_dict(parse_json(event.data)).get("bytes") or ""))
        except binascii.Error:
            continue
        decoded.append((as_dict(parse_json(raw)), event.at_ms))
    return decoded, None, len(events)


def _invoke_body(body: Any, request: ChatRequest | None) -> Transcript:
    if isinstance(body, dict) and "generation" in body:
        return _llama([(body, 0.0)])
    return anthropic_transcript(body)


def _converse_body(body: Any, request: ChatRequest | None) -> Transcript:
    return _converse(body)


def _invoke_stream(events: Sequence[SSEEvent]) -> Transcript:
    chunks, error, before = _chunks(events)
    if chunks and "generation" in chunks[0][0]:
        t = _llama(chunks)
    else:
        t = anthropic_stream_transcript([SSEEvent(json.dumps(c), c.get("type"), at) for c, at in chunks])
    if error is not None:
        t.stream_error = {
            "type": (error.event or "").partition(":")[2],
            "message": as_dict(parse_json(error.data)).get("message"),
        }
        t.events_before_error = before
    return t


def _error(data: Any) -> dict[str, Any] | None:
    """`{"message": ...}` with the type in `__type` (as botocore reads it)."""
    data = as_dict(data)
    return {"message": data.get("message"), "type": data.get("__type")}


CONVERSE = TranscriptReader(_converse_body, _converse_stream, _error)
#: InvokeModel: an Anthropic Messages body or a Llama one, whole or as `chunk` frames.
INVOKE = TranscriptReader(_invoke_body, _invoke_stream, _error)
