"""The rule a recorded exchange becomes: a `match` that picks its request again (and the rule's name), and the
`reply`, `error:` or `raw:` mapping of the upstream answer, written so that replay sends the same back."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from fake_llm.dialects import DIALECTS
from fake_llm.model.request import ChatRequest
from fake_llm.model.transcript import Transcript, as_dict, parse_json
from fake_llm.record.transcripts import reader

#: Error headers a recorded error keeps: the ones the SDKs' retry logic reads (wire-format §8.1), and rate-limit state.
ERROR_HEADERS = frozenset({"retry-after", "retry-after-ms", "x-should-retry"})
ERROR_HEADER_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-")
FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})
#: The lengths of text a match quotes in full; a longer system prompt is matched by its start.
SYSTEM_PREFIX = 160


class FlowList(list[Any]):
    """A list the recorder writes in flow style (`[0.1, 0.2]`), for long vectors."""


class FlowMap(dict[str, Any]):
    """A mapping the recorder writes in flow style (`{text: Hi, after_ms: 12}`), for timeline chunks."""


def _concise(usage: Mapping[str, Any]) -> dict[str, Any]:
    """Usage without what replay computes anyway: a total that is the sum, details that are all zero."""
    out = {k: v for k, v in usage.items() if not (isinstance(v, dict) and not any(v.values()))}
    if out.get("total_tokens") == sum(
        out.get(k) or 0 for k in ("prompt_tokens", "completion_tokens", "reasoning_tokens")
    ):
        del out["total_tokens"]
    return out


# ---------------------------------------------------------------------------------------------- match and reply


def literal(text: str) -> str:
    """Text as a reply writes it: a literal `{{` would start a template (README, Templates)."""
    return text.replace("{{", '{{ "{{" }}') if "{{" in text else text


def _literal_value(value: Any) -> Any:
    if isinstance(value, str):
        return literal(value)
    if isinstance(value, dict):
        return {k: _literal_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_literal_value(v) for v in value]
    return value


def _glob_escape(name: str) -> str:
    """A model name as an fnmatch pattern that matches only itself."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def _lookup(kind: str, text: str) -> dict[str, Any]:
    """A text lookup, on one line when the text is short."""
    return FlowMap({kind: text}) if len(text) <= 60 and "\n" not in text else {kind: text}


#: Dialects without a conversation: their inputs are user messages, matched by text alone (a rerank's query is the
#: last one, its first document the first).
VECTOR_APIS = ("embeddings", "mistral-embeddings", "ollama-embed", "ollama-embeddings", "cohere-embed", "cohere-rerank")


def build_match(request: ChatRequest) -> dict[str, Any]:
    """A match that picks this request again: dialect, model, stream, turn, last role and the texts that tell it
    from its neighbours (last user message, system prompt, the tool result just sent)."""
    match: dict[str, Any] = {"api": request.api, "model": _glob_escape(request.model), "stream": request.stream}
    users = [m.text for m in request.messages if m.role == "user"]
    if request.api in VECTOR_APIS:
        if not users:
            return match
        match["user"] = _lookup("equals", users[-1])
        if len(users) > 1:
            match["any_message"] = _lookup("equals", users[0])
        return match
    match["turn"] = request.turn
    if request.last_role:  # none when a Responses request only continues a stored one
        match["last_role"] = request.last_role
    if users:
        match["user"] = _lookup("equals", request.last_user)
    if request.system:
        short = len(request.system) <= SYSTEM_PREFIX
        system = _lookup("equals", request.system) if short else _lookup("startswith", request.system[:SYSTEM_PREFIX])
        match["system"] = system
    results = request.tool_results
    if results:
        name = request.tool_names_by_call_id.get(results[-1].tool_call_id or "")
        if name:
            match["tool_result_for"] = name
        match["tool_result"] = _lookup("equals", results[-1].text)
    if request.has_image:
        match["has_image"] = True
    return match


def rule_name(match: Mapping[str, Any]) -> str:
    """`<api>-<first words of the user text>-<digest of the match>`: readable, and the same for the same match."""
    text = as_dict(match.get("user")).get("equals") or match.get("tool_result_for") or ""
    slug = "-".join(re.findall(r"[a-z0-9]+", str(text).lower())[:6])[:40].strip("-")
    digest = hashlib.blake2b(json.dumps(match, sort_keys=True).encode(), digest_size=3).hexdigest()
    return "-".join(part for part in (str(match.get("api")), slug, digest) if part)


def _arguments(raw: Any) -> Any:
    """A mapping when the arguments are a JSON object replay sends back byte for byte, else the raw string."""
    if isinstance(raw, dict):
        return _literal_value(raw)
    text = raw if isinstance(raw, str) else json.dumps(raw)
    value = parse_json(text)
    if isinstance(value, dict) and json.dumps(value, ensure_ascii=False, separators=(",", ":")) == text:
        return _literal_value(value)
    return literal(text)


def _tool_call(call: Mapping[str, Any]) -> dict[str, Any]:
    arguments = call.get("arguments")
    out: dict[str, Any] = {
        "name": call.get("name") or "",
        "arguments": _arguments("" if arguments is None else arguments),
    }
    if call.get("id"):
        out["id"] = call["id"]
    return out


def _stream(t: Transcript, reply: Mapping[str, Any], timing: bool) -> dict[str, Any]:
    """A text-only reply streams as a `chunks` timeline (the boundaries, and with `timing` the gaps); anything
    else (tool calls, choices) only gets its pace: time to first delta and the mean gap between deltas."""
    spec: dict[str, Any] = {}
    text = "".join(piece for piece, _ in t.pieces)
    body_keys = {"content", "tool_calls", "refusal", "choices", "embedding", "scores"} & set(reply)
    # A template escape would change the chunk texts, which replay sends as written: no timeline then.
    if t.pieces and body_keys == {"content"} and text == t.content and "{{" not in text:
        chunks, previous = [], 0.0
        for piece, at_ms in t.pieces:
            chunk = FlowMap(text=piece)
            if timing:
                chunk["after_ms"] = max(0, round(at_ms - previous))
                previous = at_ms
            chunks.append(chunk)
        spec["chunks"] = chunks
    elif timing and t.deltas:
        spec["ttft_ms"] = max(0, round(t.deltas[0]))
        if len(t.deltas) > 1:
            spec["chunk_ms"] = max(0, round((t.deltas[-1] - t.deltas[0]) / (len(t.deltas) - 1)))
    if t.stream_error is not None:
        spec["error_after"] = len(t.deltas)  # content steps before the error (core/faults.py)
        spec["error"] = _stream_error(t.stream_error)
    return spec


def _stream_error(raw: Mapping[str, Any]) -> dict[str, Any]:
    error = {"message": raw.get("message"), "type": raw.get("type") or raw.get("status"), "code": raw.get("code")}
    error["param"] = raw.get("param")
    return {k: v for k, v in error.items() if v is not None and (k != "type" or isinstance(v, str))}


def build_reply(t: Transcript, request: ChatRequest, *, timing: bool = True) -> dict[str, Any]:
    """The reply mapping of a 2xx transcript: what was said, how it finished, usage, model and stream shape."""
    reply: dict[str, Any] = {}
    if t.scores is not None:
        reply["scores"] = FlowList(t.scores)
    elif t.embedding is not None:
        reply["embedding"] = FlowList(t.embedding)
    elif len(t.choices) > 1:
        reply["choices"] = [
            {"content": literal(text), **({"finish_reason": f} if f in FINISH_REASONS and f != "stop" else {})}
            for text, f in t.choices
        ]
    else:
        if t.refusal and not t.content:
            reply["refusal"] = literal(t.refusal)
        elif t.content or not t.tool_calls:
            reply["content"] = literal(t.content or "")
        if t.tool_calls:
            reply["tool_calls"] = [_tool_call(call) for call in t.tool_calls]
        if t.reasoning:
            reply["reasoning_content"] = literal(t.reasoning)
        default = "tool_calls" if t.tool_calls else "stop"
        if t.finish_reason in FINISH_REASONS and t.finish_reason != default:
            reply["finish_reason"] = t.finish_reason
    if t.model and t.model != request.model:
        reply["model"] = t.model
    usage = _concise(t.usage)
    if usage:
        reply["usage"] = usage
    if request.stream:
        spec = _stream(t, reply, timing)
        if spec:
            reply["stream"] = spec
    return reply


def _error_fields(api: str, data: Any) -> dict[str, Any] | None:
    """The fields the dialect's error envelope is built from (`error_body` keywords), or None if not its shape."""
    data = as_dict(data)
    read = reader(api).error
    if read is not None:
        return read(data)
    flat = not isinstance(data.get("error"), dict)
    error = data if flat else data["error"]
    keys = ("message", "type", "param", "code")
    return {**{k: error.get(k) for k in keys}, "flat": flat}


def build_error(api: str, status: int, content_type: str, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """An `error:` mapping: the envelope's fields when the dialect renders them back to the same JSON, else the
    body as received; plus the retry and rate-limit headers."""
    error: dict[str, Any] = {"status": status}
    data = parse_json(body)
    if isinstance(data, dict) and "x-amzn-errortype" in headers:
        # AWS sends the error's type in a header (`ThrottlingException:http://...`); our envelope keeps it in the body.
        data = {**data, "__type": headers["x-amzn-errortype"].partition(":")[0]}
    fields = _error_fields(api, data) if isinstance(data, dict) else None
    if fields is not None and isinstance(fields.get("message"), str):
        flat = bool(fields.pop("flat", False))
        if DIALECTS["bedrock" if api.startswith("bedrock") else api].error_body(status, **fields, flat=flat) == data:
            error.update({k: v for k, v in fields.items() if v is not None})
            if flat:
                error["envelope"] = "flat"
    if len(error) == 1:  # not the dialect's envelope, or more than it says: the body as received
        error["body"] = literal_body(body)
        if content_type:
            error["content_type"] = content_type
    kept = {k: v for k, v in headers.items() if k in ERROR_HEADERS or k.startswith(ERROR_HEADER_PREFIXES)}
    if "body" in error and "x-amzn-errortype" in headers:
        kept["x-amzn-errortype"] = headers["x-amzn-errortype"]  # the only place such a body says what it is
    if kept:
        error["headers"] = dict(sorted(kept.items()))
    return error


def literal_body(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")


def build_raw(status: int, content_type: str, body: bytes) -> dict[str, Any]:
    """A `raw:` mapping for an answer the dialect's shapes cannot express (a 2xx that is not its JSON, a 3xx)."""
    raw: dict[str, Any] = {"status": status, "body": literal_body(body)}
    if content_type:
        raw["content_type"] = content_type
    return raw
