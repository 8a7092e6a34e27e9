"""Record mode's reader of Ollama answers: a chat or generate answer, whole or as NDJSON lines, and embeddings."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fake_llm.model.request import ChatRequest
from fake_llm.model.transcript import SSEEvent, Transcript, TranscriptReader, as_dict, as_list, parse_json

_USAGE = {"prompt_eval_count": "prompt_tokens", "eval_count": "completion_tokens"}


def _usage(line: dict[str, Any]) -> dict[str, Any]:
    return {neutral: line[name] for name, neutral in _USAGE.items() if isinstance(line.get(name), int)}


def read_lines(lines: Sequence[tuple[Any, float]]) -> Transcript:
    """A whole answer is one line; a stream many, the last with `done`. A line with `error` is a mid-stream error."""
    t = Transcript()
    texts: list[str] = []
    thinking: list[str] = []
    for n, (raw, at_ms) in enumerate(lines):
        line = as_dict(raw)
        if isinstance(line.get("error"), str):
            t.stream_error, t.events_before_error = {"message": line["error"]}, n
            break
        t.model = t.model or line.get("model")
        message = as_dict(line.get("message"))
        text = message.get("content") if "message" in line else line.get("response")
        thought = message.get("thinking") if "message" in line else line.get("thinking")
        if isinstance(text, str) and text:
            texts.append(text)
            t.pieces.append((text, at_ms))
        if isinstance(thought, str) and thought:
            thinking.append(thought)
        for call in map(as_dict, as_list(message.get("tool_calls"))):
            function = as_dict(call.get("function"))
            arguments = function.get("arguments")
            t.tool_calls.append(
                {
                    "id": call.get("id"),
                    "name": function.get("name"),
                    "arguments": json.dumps(arguments) if not isinstance(arguments, (dict, str)) else arguments,
                }
            )
        if text or thought or message.get("tool_calls"):
            t.deltas.append(at_ms)
        if line.get("done"):
            t.usage = _usage(line)
            t.finish_reason = "length" if line.get("done_reason") == "length" else None
    t.content = "".join(texts) if texts or not t.tool_calls else None
    t.reasoning = "".join(thinking) or None
    return t


def read_embeddings(body: Any) -> Transcript:
    """`/api/embed` answers `embeddings` (a list per input), `/api/embeddings` one `embedding`; a reply has one
    vector, which replay gives to every input, so the first is kept."""
    data = as_dict(body)
    vectors = as_list(data.get("embeddings")) or [data.get("embedding")]
    first = vectors[0] if vectors and isinstance(vectors[0], list) else None
    usage = {"prompt_tokens": data["prompt_eval_count"]} if isinstance(data.get("prompt_eval_count"), int) else {}
    return Transcript(model=data.get("model"), embedding=[float(x) for x in first] if first else None, usage=usage)


def _chat_body(body: Any, request: ChatRequest | None) -> Transcript:
    return read_lines([(body, 0.0)])


def _chat_stream(events: Sequence[SSEEvent]) -> Transcript:
    """NDJSON lines, read by the relay as data-only events."""
    return read_lines([(parse_json(e.data), e.at_ms) for e in events])


def _embeddings_body(body: Any, request: ChatRequest | None) -> Transcript:
    return read_embeddings(body)


def _error(data: Any) -> dict[str, Any] | None:
    """`{"error": "<string>"}`."""
    error = as_dict(data).get("error")
    return {"message": error} if isinstance(error, str) else None


#: Chat and generate answers.
CHAT = TranscriptReader(_chat_body, _chat_stream, _error)
#: Both embedding endpoints.
EMBEDDINGS = TranscriptReader(_embeddings_body, error=_error)
