"""Record mode's reader of Cohere v2 answers: chat (whole, or its typed stream events), embed and rerank."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fake_llm.model.request import ChatRequest
from fake_llm.model.transcript import SSEEvent, Transcript, TranscriptReader, as_dict, as_list, parse_json

FINISH = {"MAX_TOKENS": "length", "ERROR": "content_filter"}


def _usage(raw: Any) -> dict[str, Any]:
    """Billed counts as `input_tokens`/`output_tokens`, what the model saw as `prompt_tokens`/`completion_tokens`
    (the names the dialect's usage reads back)."""
    usage: dict[str, Any] = {}
    for group, names in (("billed_units", ("input_tokens", "output_tokens")), ("tokens", _SEEN)):
        counts = as_dict(as_dict(raw).get(group))
        for name, neutral in zip(("input_tokens", "output_tokens"), names, strict=True):
            if isinstance(counts.get(name), (int, float)):
                usage[neutral] = int(counts[name])
    return usage


_SEEN = ("prompt_tokens", "completion_tokens")


def read_chat(body: Any) -> Transcript:
    data = as_dict(body)
    message = as_dict(data.get("message"))
    t = Transcript(usage=_usage(data.get("usage")))
    texts = [as_dict(p).get("text") or "" for p in as_list(message.get("content")) if as_dict(p).get("type") == "text"]
    thoughts = [as_dict(p).get("thinking") or "" for p in as_list(message.get("content")) if "thinking" in as_dict(p)]
    for call in map(as_dict, as_list(message.get("tool_calls"))):
        function = as_dict(call.get("function"))
        t.tool_calls.append(
            {"id": call.get("id"), "name": function.get("name"), "arguments": function.get("arguments")}
        )
    plan = message.get("tool_plan")
    t.content = "".join(texts) if texts else (plan if isinstance(plan, str) and plan else None)
    if t.content is None and not t.tool_calls:
        t.content = ""
    t.reasoning = "".join(thoughts) or None
    t.finish_reason = FINISH.get(str(data.get("finish_reason")))
    return t


def read_stream(payloads: Sequence[tuple[Any, float]]) -> Transcript:
    """Rebuild the whole answer from the events (told apart by `type`), then read it as a whole one."""
    text: list[str] = []
    thinking: list[str] = []
    plan: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    end: dict[str, Any] = {}
    pieces: list[tuple[str, float]] = []
    deltas: list[float] = []
    error: dict[str, Any] | None = None
    before_error = 0
    for n, (raw, at_ms) in enumerate(payloads):
        event = as_dict(raw)
        kind, delta = event.get("type"), as_dict(as_dict(event.get("delta")).get("message"))
        content = as_dict(delta.get("content"))
        if kind == "content-delta":
            if isinstance(content.get("text"), str):
                text.append(content["text"])
                pieces.append((content["text"], at_ms))
            if isinstance(content.get("thinking"), str):
                thinking.append(content["thinking"])
            deltas.append(at_ms)
        elif kind == "tool-plan-delta" and isinstance(delta.get("tool_plan"), str):
            plan.append(delta["tool_plan"])
            deltas.append(at_ms)
        elif kind in ("tool-call-start", "tool-call-delta"):
            call = as_dict(delta.get("tool_calls"))
            into = calls.setdefault(int(event.get("index") or 0), {"id": None, "name": None, "arguments": ""})
            function = as_dict(call.get("function"))
            into["id"] = call.get("id") or into["id"]
            into["name"] = function.get("name") or into["name"]
            into["arguments"] += function.get("arguments") or ""
            deltas.append(at_ms)
        elif kind == "message-end":
            end = as_dict(event.get("delta"))
            if end.get("error"):
                error, before_error = {"message": end["error"]}, n
    body: dict[str, Any] = {"finish_reason": end.get("finish_reason"), "usage": end.get("usage")}
    content_items = [{"type": "thinking", "thinking": "".join(thinking)}] if thinking else []
    if text or not (calls or plan):
        content_items.append({"type": "text", "text": "".join(text)})
    tool_calls = [{"id": c["id"], "function": {"name": c["name"], "arguments": c["arguments"]}} for c in calls.values()]
    body["message"] = {"content": content_items, "tool_plan": "".join(plan), "tool_calls": tool_calls}
    t = read_chat(body)
    t.pieces, t.deltas = pieces, deltas
    if error is not None:
        t.stream_error, t.events_before_error, t.finish_reason = error, before_error, None
    return t


def read_embed(body: Any) -> Transcript:
    """The float vectors when the answer has them (replay derives the other types from them), else nothing."""
    data = as_dict(body)
    floats = as_list(as_dict(data.get("embeddings")).get("float"))
    billed = as_dict(as_dict(data.get("meta")).get("billed_units"))
    usage = {"input_tokens": billed["input_tokens"]} if isinstance(billed.get("input_tokens"), int) else {}
    first = floats[0] if floats and isinstance(floats[0], list) else None
    return Transcript(embedding=[float(x) for x in first] if first else None, usage=usage)


def read_rerank(body: Any, documents: int) -> Transcript:
    """Scores back in document order; a document the answer left out (top_n) scores 0."""
    scores = [0.0] * documents
    for result in map(as_dict, as_list(as_dict(body).get("results"))):
        index, score = result.get("index"), result.get("relevance_score")
        if isinstance(index, int) and 0 <= index < documents and isinstance(score, (int, float)):
            scores[index] = float(score)
    return Transcript(scores=scores)


def _chat_body(body: Any, request: ChatRequest | None) -> Transcript:
    return read_chat(body)


def _chat_stream(events: Sequence[SSEEvent]) -> Transcript:
    return read_stream([(parse_json(e.data), e.at_ms) for e in events])


def _embed_body(body: Any, request: ChatRequest | None) -> Transcript:
    return read_embed(body)


def _rerank_body(body: Any, request: ChatRequest | None) -> Transcript:
    """`documents`: how many the rerank request sent (none known without it)."""
    return read_rerank(body, len(request.body.get("documents") or ()) if request is not None else 0)


def _error(data: Any) -> dict[str, Any] | None:
    """`{"message": ...}`."""
    return {"message": as_dict(data).get("message")}


CHAT = TranscriptReader(_chat_body, _chat_stream, _error)
EMBED = TranscriptReader(_embed_body, error=_error)
RERANK = TranscriptReader(_rerank_body, error=_error)
