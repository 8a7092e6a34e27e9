"""Bedrock Converse and ConverseStream: rendering a PlannedReply as ConverseResponse or as the event-stream frames of
ConverseStreamOutput (messageStart, contentBlock*, messageStop, metadata), as botocore's service model requires."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from fake_llm.core.steps import Calls, StepOptions, choice_steps
from fake_llm.dialects.anthropic.messages import tool_input
from fake_llm.dialects.base import ReplyMeta
from fake_llm.dialects.bedrock.eventstream import frame_event
from fake_llm.model.plan import PlannedChoice, PlannedReply, PlannedToolCall, Usage
from fake_llm.model.steps import Step, StepKind
from fake_llm.model.stream import Event

#: Neutral finish reasons -> Converse stop reasons (StopReason in the service model).
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "content_filtered",
}
#: A provider-neutral rule's `usage:` in OpenAI's names maps onto Converse's.
USAGE_NAMES = {"prompt_tokens": "inputTokens", "completion_tokens": "outputTokens", "total_tokens": "totalTokens"}


def stop_reason(choice: PlannedChoice) -> str:
    if choice.stop_sequence and choice.finish_reason == "stop":
        return "stop_sequence"
    return STOP_REASONS.get(choice.finish_reason, choice.finish_reason)


def tool_use_id(call_id: str) -> str:
    """Bedrock's `tooluse_` ids in place of the engine's `call_` ones; scripted ids are kept."""
    return "tooluse_" + call_id[len("call_") :] if call_id.startswith("call_") else call_id


def usage(usage: Usage) -> dict[str, Any]:
    """TokenUsage: inputTokens, outputTokens and totalTokens are all required; overrides may use either naming."""
    body: dict[str, Any] = {"inputTokens": usage.prompt_tokens, "outputTokens": usage.completion_tokens}
    for key, value in usage.overrides.items():
        body[USAGE_NAMES.get(key, key)] = value
    body.setdefault("totalTokens", body["inputTokens"] + body["outputTokens"])
    if "totalTokens" not in usage.overrides and "total_tokens" not in usage.overrides:
        body["totalTokens"] = body["inputTokens"] + body["outputTokens"]
    return body


def latency_ms(completion: PlannedReply) -> int:
    """A plausible, deterministic `metrics.latencyMs`: a fixed first-token time plus a steady token rate."""
    return 180 + 12 * completion.usage.completion_tokens


def reasoning_signature(text: str, seed: int) -> str:
    return base64.b64encode(hashlib.blake2b(f"{seed}:{text}".encode(), digest_size=48).digest()).decode()


def _tool_use(call: PlannedToolCall) -> dict[str, Any]:
    arguments = tool_input(call.arguments)
    return {"toolUse": {"toolUseId": tool_use_id(call.id), "name": call.name, "input": arguments}}


def converse_body(completion: PlannedReply, meta: ReplyMeta) -> dict[str, Any]:
    """ConverseResponse: output, stopReason, usage and metrics are required members."""
    choice = completion.choices[0]  # Converse has no `n`
    content: list[dict[str, Any]] = []
    if choice.reasoning is not None:
        signature = reasoning_signature(choice.reasoning, meta.seed)
        content.append({"reasoningContent": {"reasoningText": {"text": choice.reasoning, "signature": signature}}})
    text = "".join(choice.tokens)
    if text or not (content or choice.tool_calls):
        content.append({"text": text})
    content.extend(_tool_use(call) for call in choice.tool_calls)
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason(choice),
        "usage": usage(completion.usage),
        "metrics": {"latencyMs": latency_ms(completion)},
    }


def converse_stream_events(completion: PlannedReply, meta: ReplyMeta) -> list[Event]:
    """ConverseStream frames. A text or reasoning block gets no contentBlockStart (the event sets exactly one member
    of ContentBlockStart, and text has none); a tool block opens with its id and name, and its input arrives as
    string fragments. Every block gets at least one delta. The `metadata` event must carry both usage and
    metrics."""
    choice = completion.choices[0]
    events: list[Event] = []
    blocks: list[tuple[str, int]] = []  # (kind, call) of each block opened so far

    def emit(kind: str, name: str, payload: dict[str, Any], tokens: int = 0, piece: int = -1) -> None:
        events.append(frame_event(name, payload, kind=kind, tokens=tokens, step=piece))

    def close() -> None:
        if not blocks:
            return
        index = len(blocks) - 1
        if blocks[-1][0] == "reasoning":
            signature = {"reasoningContent": {"signature": reasoning_signature(choice.reasoning or "", meta.seed)}}
            emit("content", "contentBlockDelta", {"delta": signature, "contentBlockIndex": index})
        emit("block", "contentBlockStop", {"contentBlockIndex": index})

    emit("role", "messageStart", {"role": "assistant"})
    for step in choice_steps(choice, _STEPS):
        block = (_BLOCKS.get(step.kind, "tool"), step.call)
        if not blocks or blocks[-1] != block or step.kind is StepKind.TOOL_CALL:
            close()
            blocks.append(block)
        index = len(blocks) - 1
        if step.kind is StepKind.TOOL_CALL:
            call = choice.tool_calls[step.call]
            start = {"toolUse": {"toolUseId": tool_use_id(call.id), "name": call.name}}
            emit("role", "contentBlockStart", {"start": start, "contentBlockIndex": index})
            continue
        delta = _delta(step)
        emit("content", "contentBlockDelta", {"delta": delta, "contentBlockIndex": index}, len(step.tokens), step.piece)
    close()
    emit("finish", "messageStop", {"stopReason": stop_reason(choice)})
    emit("usage", "metadata", {"usage": usage(completion.usage), "metrics": {"latencyMs": latency_ms(completion)}})
    return events


#: Converse streams what a reply has (a refusal as text), every block with at least one delta; a call opens with
#: a contentBlockStart that carries no content.
_STEPS = StepOptions(calls=Calls.OPENED_APART, empty_pieces=True)
_BLOCKS = {StepKind.REASONING: "reasoning", StepKind.TEXT: "text", StepKind.REFUSAL: "text"}


def _delta(step: Step) -> dict[str, Any]:
    if step.kind is StepKind.REASONING:
        return {"reasoningContent": {"text": step.text}}
    if step.kind is StepKind.ARGUMENTS:
        return {"toolUse": {"input": step.text}}
    return {"text": step.text}
