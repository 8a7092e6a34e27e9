"""Record mode's reader of OpenAI answers: chat and legacy completions (whole or as chunks), Responses (whole or as
its event sequence) and embeddings, read into a provider-neutral Transcript."""

from __future__ import annotations

import array
import base64
import struct
import sys
from collections.abc import Sequence
from typing import Any

from fake_llm.model.request import ChatRequest
from fake_llm.model.transcript import SSEEvent, Transcript, TranscriptReader, as_dict, as_list, parse_json, pick_usage

RESPONSES_INCOMPLETE = {"max_output_tokens": "length", "content_filter": "content_filter"}
_OPENAI_USAGE = {k: k for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
_OPENAI_USAGE |= {k: k for k in ("prompt_tokens_details", "completion_tokens_details")}
_RESPONSES_USAGE = {
    "input_tokens": "prompt_tokens",
    "output_tokens": "completion_tokens",
    "total_tokens": "total_tokens",
}
_RESPONSES_USAGE |= {
    "input_tokens_details": "prompt_tokens_details",
    "output_tokens_details": "completion_tokens_details",
}


def _chat(body: Any) -> Transcript:
    """Chat completions, and legacy completions (whose choices hold `text` instead of a message)."""
    body = as_dict(body)
    t = Transcript(model=body.get("model"), usage=pick_usage(body.get("usage"), _OPENAI_USAGE))
    choices = [as_dict(c) for c in as_list(body.get("choices"))]
    messages = [as_dict(c.get("message")) if "message" in c else {"content": c.get("text") or ""} for c in choices]
    if len(choices) > 1:
        t.choices = [(m.get("content") or "", c.get("finish_reason")) for m, c in zip(messages, choices, strict=True)]
    if choices:
        message = messages[0]
        t.content, t.refusal = message.get("content"), message.get("refusal")
        t.reasoning = message.get("reasoning_content")
        for call in as_list(message.get("tool_calls")):
            function = as_dict(as_dict(call).get("function"))
            t.tool_calls.append(
                {"id": call.get("id"), "name": function.get("name"), "arguments": function.get("arguments")}
            )
        t.finish_reason = choices[0].get("finish_reason")
    return t


def _chat_stream(events: Sequence[SSEEvent]) -> Transcript:
    t = Transcript()
    texts: dict[int, list[str]] = {}
    finishes: dict[int, str | None] = {}
    reasoning: list[str] = []
    refusal: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    for n, event in enumerate(events):
        chunk = as_dict(parse_json(event.data)) if event.data != "[DONE]" else {}
        if chunk.get("error"):
            t.stream_error, t.events_before_error = as_dict(chunk["error"]), n
            break
        t.model = t.model or chunk.get("model") or None  # Azure's prompt-filter chunk has an empty model
        if chunk.get("usage"):
            t.usage = pick_usage(chunk["usage"], _OPENAI_USAGE)
        for choice in as_list(chunk.get("choices")):
            index, delta = choice.get("index", 0), as_dict(choice.get("delta"))
            text = delta.get("content") or choice.get("text")  # legacy completions chunks carry `text`
            if text:
                texts.setdefault(index, []).append(text)
            if choice.get("finish_reason"):
                finishes[index] = choice["finish_reason"]
            if index:
                continue
            if text:
                t.pieces.append((text, event.at_ms))
            reasoning.append(delta.get("reasoning_content") or "")
            refusal.append(delta.get("refusal") or "")
            for fragment in as_list(delta.get("tool_calls")):
                call = calls.setdefault(fragment.get("index", 0), {"id": None, "name": "", "arguments": ""})
                call["id"] = fragment.get("id") or call["id"]
                function = as_dict(fragment.get("function"))
                call["name"] += function.get("name") or ""
                call["arguments"] += function.get("arguments") or ""
            if text or reasoning[-1] or refusal[-1] or delta.get("tool_calls"):
                t.deltas.append(event.at_ms)
    t.tool_calls = [calls[i] for i in sorted(calls)]
    t.reasoning = "".join(reasoning) or None
    t.refusal = "".join(refusal) or None
    t.content = "".join(texts.get(0, [])) if texts.get(0) or not (t.tool_calls or t.refusal) else None
    t.finish_reason = finishes.get(0)
    if len(set(texts) | set(finishes)) > 1:
        t.choices = [("".join(texts.get(i, [])), finishes.get(i)) for i in sorted(set(texts) | set(finishes))]
    return t


def _responses(body: Any) -> Transcript:
    body = as_dict(body)
    t = Transcript(model=body.get("model"), usage=pick_usage(body.get("usage"), _RESPONSES_USAGE))
    texts: list[str] = []
    for item in map(as_dict, as_list(body.get("output"))):
        if item.get("type") == "reasoning":
            t.reasoning = "".join(as_dict(s).get("text", "") for s in as_list(item.get("summary")))
        elif item.get("type") == "message":
            for part in map(as_dict, as_list(item.get("content"))):
                if part.get("type") == "refusal":
                    t.refusal = part.get("refusal")
                elif "text" in part:
                    texts.append(part["text"])
        elif item.get("type") == "function_call":
            t.tool_calls.append(
                {"id": item.get("call_id"), "name": item.get("name"), "arguments": item.get("arguments")}
            )
    t.content = "".join(texts) if texts or not (t.tool_calls or t.refusal) else None
    if body.get("status") == "incomplete":
        t.finish_reason = RESPONSES_INCOMPLETE.get(as_dict(body.get("incomplete_details")).get("reason", ""))
    return t


_RESPONSES_DELTAS = (
    "response.refusal.delta",
    "response.reasoning_summary_text.delta",
    "response.function_call_arguments.delta",
)


def _responses_stream(events: Sequence[SSEEvent]) -> Transcript:
    pieces: list[tuple[str, float]] = []
    deltas: list[float] = []
    t = Transcript()
    for n, event in enumerate(events):
        payload = as_dict(parse_json(event.data))
        kind = payload.get("type")
        if kind == "response.output_text.delta":
            pieces.append((payload.get("delta") or "", event.at_ms))
            deltas.append(event.at_ms)
        elif kind in _RESPONSES_DELTAS:
            deltas.append(event.at_ms)
        elif kind in ("response.completed", "response.incomplete"):
            t = _responses(payload.get("response"))  # the whole response, items and usage included (§3.3)
        elif kind in ("error", "response.failed"):
            nested = payload.get("error") or as_dict(payload.get("response")).get("error")
            error = nested if isinstance(nested, dict) else {k: v for k, v in payload.items() if k != "type"}
            t.stream_error, t.events_before_error = error, n
            t.content = "".join(text for text, _ in pieces)
            break
    t.pieces, t.deltas = [p for p in pieces if p[0]], deltas
    return t


def _vector(raw: Any) -> list[float]:
    """An embedding as floats: a JSON list as sent, or base64 little-endian float32 (wire-format §4.2), each value
    written with the fewest digits that give back the same float32."""
    if isinstance(raw, list):
        return [float(x) for x in raw]
    packed = array.array("f", base64.b64decode(str(raw)))
    if sys.byteorder == "big":  # pragma: no cover - the test machines are little-endian
        packed.byteswap()
    return [_short_float32(x) for x in packed]


def _short_float32(value: float) -> float:
    exact = struct.pack("<f", value)
    for digits in range(6, 10):
        short = float(f"{value:.{digits}g}")
        if struct.pack("<f", short) == exact:
            return short
    return value  # pragma: no cover - 9 significant digits always round-trip a float32


def _embeddings(body: Any) -> Transcript:
    body = as_dict(body)
    t = Transcript(model=body.get("model"), usage=pick_usage(body.get("usage"), _OPENAI_USAGE))
    vectors = [_vector(as_dict(item).get("embedding")) for item in as_list(body.get("data"))]
    # A reply has one vector, which replay gives to every input: the first input's is kept.
    t.embedding = vectors[0] if vectors else None
    return t


def _chat_body(body: Any, request: ChatRequest | None) -> Transcript:
    return _chat(body)


def _responses_body(body: Any, request: ChatRequest | None) -> Transcript:
    return _responses(body)


def _embeddings_body(body: Any, request: ChatRequest | None) -> Transcript:
    return _embeddings(body)


#: Chat, Azure, Scale and legacy completions share the chunk shape.
CHAT = TranscriptReader(_chat_body, _chat_stream)
RESPONSES = TranscriptReader(_responses_body, _responses_stream)
#: Vectors in OpenAI's list shape (Mistral's embeddings too); an embeddings answer never streams.
EMBEDDINGS = TranscriptReader(_embeddings_body)
