"""An upstream answer read per dialect into a provider-neutral Transcript: from a whole JSON body (`read_body`), or
from the SSE events relay.py read as they arrived (`read_stream`)."""

from __future__ import annotations

import array
import base64
import struct
import sys
from collections.abc import Sequence
from typing import Any

from fake_llm.dialects.anthropic.messages import OPENAI_USAGE, STOP_REASONS
from fake_llm.dialects.cohere import transcript as cohere
from fake_llm.dialects.gemini.generate import FINISH_REASONS, USAGE_NAMES
from fake_llm.dialects.ollama import transcript as ollama
from fake_llm.model.transcript import Transcript, as_dict, as_list, inverse, parse_json, pick_usage
from fake_llm.record.relay import SSEEvent

# Derived from the dialects' own forward tables, so record mode reads exactly what replay writes.
ANTHROPIC_STOPS = inverse(STOP_REASONS, stop_sequence="stop")
GEMINI_FINISH = inverse(FINISH_REASONS)
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
_ANTHROPIC_USAGE = inverse(OPENAI_USAGE)
_GEMINI_USAGE = inverse(USAGE_NAMES)


def _anthropic_usage(raw: Any) -> dict[str, Any]:
    usage = pick_usage(raw, _ANTHROPIC_USAGE)
    # Cache counts keep Anthropic's names (the dialect passes unknown keys through); zero is what replay computes.
    for name in ("cache_creation_input_tokens", "cache_read_input_tokens"):
        if as_dict(raw).get(name):
            usage[name] = raw[name]
    return usage


# ---------------------------------------------------------------------------------------------- per dialect


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


#: Dialects whose answers carry vectors in OpenAI's list shape.
_EMBEDDING_LISTS = ("embeddings", "mistral-embeddings")


def read_body(api: str, body: Any, documents: int = 0) -> Transcript:
    """The transcript of a whole (non-streamed) 2xx JSON body (`documents`: how many a rerank request sent)."""
    if api in ("ollama", "ollama-generate"):
        return ollama.read_lines([(body, 0.0)])
    if api in ("ollama-embed", "ollama-embeddings"):
        return ollama.read_embeddings(body)
    if api == "cohere":
        return cohere.read_chat(body)
    if api == "cohere-embed":
        return cohere.read_embed(body)
    if api == "cohere-rerank":
        return cohere.read_rerank(body, documents)
    if api == "anthropic":
        return anthropic_transcript(body)
    if api == "responses":
        return _responses(body)
    if api == "gemini":
        # Without `alt=sse`, a Gemini stream is one JSON array of chunks.
        return _gemini([(chunk, 0.0) for chunk in body] if isinstance(body, list) else [(body, 0.0)])
    if api in _EMBEDDING_LISTS:
        return _embeddings(body)
    return _chat(body)


def read_stream(api: str, events: Sequence[SSEEvent]) -> Transcript:
    """The transcript of a stream's events."""
    if api == "anthropic":
        return anthropic_stream_transcript(events)
    if api == "responses":
        return _responses_stream(events)
    if api == "gemini":
        return _gemini([(parse_json(e.data), e.at_ms) for e in events])
    if api in ("ollama", "ollama-generate"):  # NDJSON lines, read by relay.py as data-only events
        return ollama.read_lines([(parse_json(e.data), e.at_ms) for e in events])
    if api == "cohere":
        return cohere.read_stream([(parse_json(e.data), e.at_ms) for e in events])
    return _chat_stream(events)  # chat, Azure and legacy completions share the chunk shape
