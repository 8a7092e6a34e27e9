"""One realtime response as the list of server events the service sends for it, in its order.

response.created, rate_limits.updated, then per output item: output_item.added, the item's conversation event,
its content part, the deltas (text; or audio transcript + audio), the done events; last response.done. Deltas
get content steps so the scenario's stream timing paces them, exactly as it paces SSE chunks.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fake_llm.core.replies import Completion
from fake_llm.dialects.openai.realtime.render import BETA, Generation, function_call_item, message_item, speech, usage
from fake_llm.model.stream import Event

#: finish_reason -> the response's incomplete reason.
INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


@dataclass(slots=True)
class ResponseSpec:
    """Everything about one response that does not come from the scenario reply."""

    response_id: str
    conversation_id: str | None
    audio: bool
    voice: str | None
    max_output_tokens: Any
    metadata: Any
    previous_item_id: str | None
    input_text_tokens: int
    input_audio_ms: float
    seed: str


@dataclass(slots=True)
class ResponsePlan:
    """The planned events, and the items they add to the conversation."""

    events: list[Event] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)


def response_object(
    generation: Generation, spec: ResponseSpec, status: str, output: list[dict[str, Any]], usage_: Any
) -> dict[str, Any]:
    """The response resource of `response.created` / `response.done`."""
    details: dict[str, Any] | None = None
    if status != "in_progress" and status != "completed":
        details = {"type": status}
    head = {"object": "realtime.response", "id": spec.response_id, "status": status, "status_details": details}
    body: dict[str, Any] = {**head, "output": output, "conversation_id": spec.conversation_id}
    modalities = ["audio"] if spec.audio else ["text"]
    if generation is BETA:
        body.update(modalities=["text", "audio"] if spec.audio else ["text"], voice=spec.voice)
        body.update(output_audio_format="pcm16", temperature=0.8)
    else:
        body["output_modalities"] = modalities
        body["audio"] = {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": spec.voice}}
    body.update(max_output_tokens=spec.max_output_tokens, usage=usage_, metadata=spec.metadata)
    return body


class _Writer:
    def __init__(self, generation: Generation, event_id: Callable[[], str], response_id: str) -> None:
        self.generation = generation
        self.event_id = event_id
        self.response_id = response_id
        self.events: list[Event] = []
        self.step = -1  # the first delta is content step 0: it goes out at the time to first token

    def emit(self, kind: str, type_: str, *, tokens: int = 0, step: int = -1, **fields: Any) -> None:
        payload = {"type": type_, "event_id": self.event_id(), **fields}
        self.events.append(Event(dumps(payload), event=type_, kind=kind, tokens=tokens, step=step))

    def part(self, kind: str, type_: str, at: dict[str, Any], **fields: Any) -> None:
        self.emit(kind, type_, response_id=self.response_id, **at, **fields)

    def next_step(self) -> int:
        self.step += 1
        return self.step


def plan_response(
    generation: Generation,
    spec: ResponseSpec,
    completion: Completion,
    event_id: Callable[[], str],
    item_id: Callable[[], str],
    rate_limits: list[dict[str, Any]],
) -> ResponsePlan:
    """The events of a response that plays `completion` (its first choice)."""
    choice = completion.choices[0]
    out = _Writer(generation, event_id, spec.response_id)
    out.emit("role", "response.created", response=response_object(generation, spec, "in_progress", [], None))
    out.emit("role", "rate_limits.updated", rate_limits=rate_limits)
    items: list[dict[str, Any]] = []
    previous = spec.previous_item_id
    audio_ms = 0.0

    def open_item(item: dict[str, Any]) -> None:
        index = len(items)
        out.emit("content", "response.output_item.added", response_id=spec.response_id, output_index=index, item=item)
        out.emit("content", generation.item_added, previous_item_id=previous, item=item)

    def close_item(item: dict[str, Any]) -> None:
        nonlocal previous
        index = len(items)
        out.emit("finish", "response.output_item.done", response_id=spec.response_id, output_index=index, item=item)
        if generation.item_done:
            out.emit("finish", generation.item_done, previous_item_id=previous, item=item)
        items.append(item)
        previous = item["id"]

    if choice.has_text and (choice.tokens or not choice.tool_calls):
        message_id = item_id()
        open_item(message_item(message_id, "assistant", [], "in_progress"))
        at = {"item_id": message_id, "output_index": len(items), "content_index": 0}
        text = choice.text or ""
        if spec.audio:
            part: dict[str, Any] = {"type": generation.audio_part, "transcript": ""}
            out.part("content", "response.content_part.added", at, part=event_part(part))
            for chunk in choice.chunks:
                piece, step = "".join(chunk), out.next_step()
                out.part("content", generation.transcript_delta, at, delta=piece, tokens=len(chunk), step=step)
                pcm = speech(piece, spec.seed)
                audio_ms += len(pcm) / 48
                out.part("content", generation.audio_delta, at, delta=base64.b64encode(pcm).decode(), step=step)
            out.part("finish", generation.audio_done, at)
            out.part("finish", generation.transcript_done, at, transcript=text)
            part = {"type": generation.audio_part, "transcript": text}
        else:
            part = {"type": generation.text_part, "text": ""}
            out.part("content", "response.content_part.added", at, part=event_part(part))
            for chunk in choice.chunks:
                step = out.next_step()
                out.part("content", generation.text_delta, at, delta="".join(chunk), tokens=len(chunk), step=step)
            out.part("finish", generation.text_done, at, text=text)
            part = {"type": generation.text_part, "text": text}
        out.part("finish", "response.content_part.done", at, part=event_part(part))
        status = "incomplete" if choice.finish_reason in INCOMPLETE else "completed"
        close_item(message_item(message_id, "assistant", [part], status))
    for call in choice.tool_calls:
        call_item = item_id()
        open_item(function_call_item(call_item, call.id, call.name, "", "in_progress"))
        at = {"item_id": call_item, "output_index": len(items), "call_id": call.id}
        for chunk in call.chunks:
            out.part(
                "content", "response.function_call_arguments.delta", at, delta="".join(chunk), step=out.next_step()
            )
        done = (
            {"name": call.name, "arguments": call.arguments}
            if generation is not BETA
            else {"arguments": call.arguments}
        )
        out.part("finish", "response.function_call_arguments.done", at, **done)
        close_item(function_call_item(call_item, call.id, call.name, call.arguments, "completed"))
    reason = INCOMPLETE.get(choice.finish_reason)
    text_out = completion.usage.completion_tokens
    usage_ = usage(spec.input_text_tokens, spec.input_audio_ms, text_out, audio_ms, dict(completion.usage.overrides))
    final = response_object(generation, spec, "incomplete" if reason else "completed", items, usage_)
    if reason:
        final["status_details"] = {"type": "incomplete", "reason": reason}
    out.emit("done", "response.done", response=final)
    return ResponsePlan(out.events, items, final)


def event_part(part: dict[str, Any]) -> dict[str, Any]:
    """The part as `response.content_part.added/done` carry it: typed `text`/`audio` (the OpenAPI document's
    `RealtimeServerEventResponseContentPartAdded.part.type` and openai-python's `Literal["text", "audio"]`), while the
    item's own content says `output_text`/`output_audio` in GA."""
    return {**part, "type": {"output_text": "text", "output_audio": "audio"}.get(part["type"], part["type"])}
