"""InvokeModel and InvokeModelWithResponseStream: the model's own body inside Bedrock's envelope. Anthropic bodies
(`anthropic_version: bedrock-2023-05-31`, the Messages API without `model`) and Meta Llama bodies (`prompt`,
`max_gen_len`) are served; each stream event is a `chunk` frame whose `bytes` is the base64 of one JSON event."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fake_llm.core.steps import StepOptions, choice_steps
from fake_llm.dialects.anthropic.messages import AnthropicMessages
from fake_llm.dialects.base import ReplyMeta
from fake_llm.dialects.bedrock.converse_request import invalid
from fake_llm.dialects.bedrock.eventstream import frame_event
from fake_llm.errors import ProviderRequestError
from fake_llm.model.plan import PlannedReply
from fake_llm.model.request import ChatRequest, Message, options_of
from fake_llm.model.steps import Step, StepKind
from fake_llm.model.stream import Event

ANTHROPIC_VERSION = "bedrock-2023-05-31"
INVOKE_API = "bedrock-invoke"
_ANTHROPIC = AnthropicMessages()
#: Llama 3 chat template: `<|start_header_id|>role<|end_header_id|>\n\ntext<|eot_id|>`.
_LLAMA_TURN = re.compile(r"<\|start_header_id\|>(\w+)<\|end_header_id\|>\s*(.*?)(?:<\|eot_id\|>|$)", re.S)
_LLAMA_STOP = {"stop": "stop", "length": "length"}


@dataclass(frozen=True, slots=True)
class InvokeOptions:
    """What InvokeModel's renderer needs beyond the neutral request."""

    #: The body is an Anthropic Messages body (answered in Messages shapes), else a Llama one.
    anthropic: bool = True


def is_anthropic(body: Mapping[str, Any]) -> bool:
    return "anthropic_version" in body or "messages" in body


def parse_invoke(body: Any, model: str, stream: bool, headers: Mapping[str, str]) -> ChatRequest:
    """An Anthropic or Llama body, told apart by shape (Bedrock tells them apart by model; the body is what
    clients get wrong, so it is what we check)."""
    if not isinstance(body, dict):
        raise ProviderRequestError("Malformed input request: expected a JSON object, please reformat your input.")
    if is_anthropic(body):
        version = body.get("anthropic_version")
        if version != ANTHROPIC_VERSION:
            raise ProviderRequestError(
                f"Malformed input request: #: anthropic_version must be {ANTHROPIC_VERSION!r}, got "
                f"{json.dumps(version)}, please reformat your input and try again.",
                param="anthropic_version",
            )
        if "model" in body or "stream" in body:
            extra = "model" if "model" in body else "stream"
            raise ProviderRequestError(
                f"Malformed input request: #: extraneous key [{extra}] is not permitted, please reformat your input "
                "and try again.",
                param=extra,
            )
        parsed = _ANTHROPIC.parse_request({**body, "model": model}, headers)
        return ChatRequest(
            api=INVOKE_API,
            model=model,
            messages=parsed.messages,
            stream=stream,
            max_tokens=parsed.max_tokens,
            stop=parsed.stop,
            tools=parsed.tools,
            tool_choice=parsed.tool_choice,
            response_format=parsed.response_format,
            options=InvokeOptions(anthropic=True),
            headers=headers,
            body=body,
        )
    prompt = body.get("prompt")
    if not isinstance(prompt, str):
        raise invalid("prompt", "Member must not be null" if prompt is None else "Member must be a string", prompt)
    max_gen_len = body.get("max_gen_len")
    if max_gen_len is not None and (
        isinstance(max_gen_len, bool) or not isinstance(max_gen_len, int) or max_gen_len < 1
    ):
        raise invalid("max_gen_len", "Member must have value greater than or equal to 1", max_gen_len)
    return ChatRequest(
        api=INVOKE_API,
        model=model,
        messages=llama_messages(prompt),
        stream=stream,
        max_tokens=max_gen_len,
        options=InvokeOptions(anthropic=False),
        headers=headers,
        body=body,
    )


def llama_messages(prompt: str) -> tuple[Message, ...]:
    """The turns of a Llama 3 chat-template prompt, so `user:` matches the last user turn; a bare prompt is one
    user message."""
    turns = [(role, text.strip()) for role, text in _LLAMA_TURN.findall(prompt)]
    turns = [(role, text) for role, text in turns if text or role != "assistant"]  # the open assistant header
    if not turns:
        return (Message("user", prompt),)
    return tuple(Message(role if role in ("system", "user", "assistant") else "user", text) for role, text in turns)


def invocation_metrics(completion: PlannedReply) -> dict[str, int]:
    latency = 180 + 12 * completion.usage.completion_tokens
    return {
        "inputTokenCount": completion.usage.prompt_tokens,
        "outputTokenCount": completion.usage.completion_tokens,
        "invocationLatency": latency,
        "firstByteLatency": 180,
    }


def invoke_body(completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
    if options_of(request, InvokeOptions).anthropic:
        return _ANTHROPIC.completion_body(completion, meta, request)
    choice = completion.choices[0]
    return {
        "generation": "".join(choice.tokens),
        "prompt_token_count": completion.usage.prompt_tokens,
        "generation_token_count": completion.usage.completion_tokens,
        "stop_reason": _LLAMA_STOP.get(choice.finish_reason, "stop"),
    }


def _chunk(payload: Mapping[str, Any], event: Event | None = None, **fields: Any) -> Event:
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    if event is not None:
        fields = {"kind": event.kind, "tokens": event.tokens, "step": event.step}
    return frame_event("chunk", {"bytes": base64.b64encode(raw).decode()}, **fields)


def invoke_stream_events(completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
    """Anthropic: the Messages stream events (no pings), `message_stop` carrying Bedrock's invocation metrics.
    Llama: one chunk per text chunk with the running generation count, the last with stop_reason and metrics."""
    metrics = {"amazon-bedrock-invocationMetrics": invocation_metrics(completion)}
    if options_of(request, InvokeOptions).anthropic:
        events = []
        for event in _ANTHROPIC.stream_events(completion, meta, request):
            if event.event == "ping":
                continue
            data = json.loads(event.data)
            if data.get("type") == "message_stop":
                data.update(metrics)
            events.append(_chunk(data, event))
        return events
    choice = completion.choices[0]
    pieces = [s for s in choice_steps(choice, StepOptions(reasoning=False, refusal=False)) if s.kind is StepKind.TEXT]
    pieces = pieces or [Step(StepKind.TEXT, piece=0)]  # the stop reason and metrics need a chunk to ride on
    out: list[Event] = []
    generated = 0
    for piece in pieces:
        generated += len(piece.tokens)
        last = piece is pieces[-1]
        payload: dict[str, Any] = {
            "generation": piece.text,
            "prompt_token_count": completion.usage.prompt_tokens if piece.piece == 0 else None,
            "generation_token_count": generated,
            "stop_reason": _LLAMA_STOP.get(choice.finish_reason, "stop") if last else None,
        }
        if last:
            payload.update(metrics)
        out.append(_chunk(payload, kind="content", tokens=len(piece.tokens), step=piece.piece))
    return out
