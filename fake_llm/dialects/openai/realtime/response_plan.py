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

from fake_llm.core.steps import Calls, StepOptions, choice_steps
from fake_llm.dialects.openai.realtime.render import BETA, Generation, function_call_item, message_item, speech, usage
from fake_llm.model.plan import PlannedChoice, PlannedReply, PlannedToolCall
from fake_llm.model.steps import Step, StepKind
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
    """Writes a response's events: numbers nothing itself (event ids come from the session), tracks the output
    items closed so far and the audio length sent."""

    def __init__(self, generation: Generation, event_id: Callable[[], str], spec: ResponseSpec) -> None:
        self.generation = generation
        self.event_id = event_id
        self.spec = spec
        self.response_id = spec.response_id
        self.events: list[Event] = []
        self.items: list[dict[str, Any]] = []
        self.previous = spec.previous_item_id
        self.audio_ms = 0.0

    def emit(self, kind: str, type_: str, *, tokens: int = 0, step: int = -1, **fields: Any) -> None:
        payload = {"type": type_, "event_id": self.event_id(), **fields}
        self.events.append(Event(dumps(payload), event=type_, kind=kind, tokens=tokens, step=step))

    def part(self, kind: str, type_: str, at: dict[str, Any], **fields: Any) -> None:
        self.emit(kind, type_, response_id=self.response_id, **at, **fields)

    def open_item(self, item: dict[str, Any]) -> None:
        index = len(self.items)
        self.emit("content", "response.output_item.added", response_id=self.response_id, output_index=index, item=item)
        self.emit("content", self.generation.item_added, previous_item_id=self.previous, item=item)

    def close_item(self, item: dict[str, Any]) -> None:
        index = len(self.items)
        self.emit("finish", "response.output_item.done", response_id=self.response_id, output_index=index, item=item)
        if self.generation.item_done:
            self.emit("finish", self.generation.item_done, previous_item_id=self.previous, item=item)
        self.items.append(item)
        self.previous = item["id"]

    def message(self, message_id: str, choice: PlannedChoice, pieces: list[Step]) -> None:
        """The assistant message: its text pieces as text deltas, or as transcript and audio deltas (each piece
        spoken) when the response has audio."""
        generation = self.generation
        self.open_item(message_item(message_id, "assistant", [], "in_progress"))
        at = {"item_id": message_id, "output_index": len(self.items), "content_index": 0}
        text = choice.text or ""
        if self.spec.audio:
            part: dict[str, Any] = {"type": generation.audio_part, "transcript": ""}
            self.part("content", "response.content_part.added", at, part=event_part(part))
            for piece in pieces:
                tokens, step = len(piece.tokens), piece.piece
                self.part("content", generation.transcript_delta, at, delta=piece.text, tokens=tokens, step=step)
                pcm = speech(piece.text, self.spec.seed)
                self.audio_ms += len(pcm) / 48
                self.part("content", generation.audio_delta, at, delta=base64.b64encode(pcm).decode(), step=step)
            self.part("finish", generation.audio_done, at)
            self.part("finish", generation.transcript_done, at, transcript=text)
            part = {"type": generation.audio_part, "transcript": text}
        else:
            part = {"type": generation.text_part, "text": ""}
            self.part("content", "response.content_part.added", at, part=event_part(part))
            for piece in pieces:
                delta, tokens = piece.text, len(piece.tokens)
                self.part("content", generation.text_delta, at, delta=delta, tokens=tokens, step=piece.piece)
            self.part("finish", generation.text_done, at, text=text)
            part = {"type": generation.text_part, "text": text}
        self.part("finish", "response.content_part.done", at, part=event_part(part))
        status = "incomplete" if choice.finish_reason in INCOMPLETE else "completed"
        self.close_item(message_item(message_id, "assistant", [part], status))

    def call(self, call_item: str, call: PlannedToolCall, fragments: list[Step]) -> None:
        """A function call item: opened empty, its arguments as deltas, then done."""
        self.open_item(function_call_item(call_item, call.id, call.name, "", "in_progress"))
        at = {"item_id": call_item, "output_index": len(self.items), "call_id": call.id}
        for fragment in fragments:
            self.part("content", "response.function_call_arguments.delta", at, delta=fragment.text, step=fragment.piece)
        beta = self.generation is BETA
        done = {"arguments": call.arguments} if beta else {"name": call.name, "arguments": call.arguments}
        self.part("finish", "response.function_call_arguments.done", at, **done)
        self.close_item(function_call_item(call_item, call.id, call.name, call.arguments, "completed"))


def plan_response(
    generation: Generation,
    spec: ResponseSpec,
    completion: PlannedReply,
    event_id: Callable[[], str],
    item_id: Callable[[], str],
    rate_limits: list[dict[str, Any]],
) -> ResponsePlan:
    """The events of a response that plays `completion` (its first choice), from its neutral pieces: the text as a
    message item (or its audio), then each tool call as a function call item."""
    choice = completion.choices[0]
    pieces = choice_steps(choice, StepOptions(reasoning=False, refusal=False, calls=Calls.OPENED_APART))
    out = _Writer(generation, event_id, spec)
    out.emit("role", "response.created", response=response_object(generation, spec, "in_progress", [], None))
    out.emit("role", "rate_limits.updated", rate_limits=rate_limits)
    if choice.has_text and (choice.tokens or not choice.tool_calls):
        out.message(item_id(), choice, [p for p in pieces if p.kind is StepKind.TEXT])
    for index, call in enumerate(choice.tool_calls):
        fragments = [p for p in pieces if p.kind is StepKind.ARGUMENTS and p.call == index]
        out.call(item_id(), call, fragments)
    reason = INCOMPLETE.get(choice.finish_reason)
    text_out = completion.usage.completion_tokens
    usage_ = usage(
        spec.input_text_tokens, spec.input_audio_ms, text_out, out.audio_ms, dict(completion.usage.overrides)
    )
    final = response_object(generation, spec, "incomplete" if reason else "completed", out.items, usage_)
    if reason:
        final["status_details"] = {"type": "incomplete", "reason": reason}
    out.emit("done", "response.done", response=final)
    return ResponsePlan(out.events, out.items, final)


def event_part(part: dict[str, Any]) -> dict[str, Any]:
    """The part as `response.content_part.added/done` carry it: typed `text`/`audio` (the OpenAPI document's
    `RealtimeServerEventResponseContentPartAdded.part.type` and openai-python's `Literal["text", "audio"]`), while the
    item's own content says `output_text`/`output_audio` in GA."""
    return {**part, "type": {"output_text": "text", "output_audio": "audio"}.get(part["type"], part["type"])}
