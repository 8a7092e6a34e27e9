"""Anthropic Messages (`POST /v1/messages`): the dialect and its wire shapes (wire-format §5); request validation
lives in request.py, and the `count_tokens` dialect in count_tokens.py."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

from fake_llm.core.dialect import key_error
from fake_llm.core.replies import merge
from fake_llm.core.steps import stream_steps
from fake_llm.dialects.anthropic.request import (
    dumps,
    invalid,
    number_field,
    parse_messages,
    parse_response_format,
    parse_system,
    parse_thinking,
    parse_tool_choice,
    parse_tools,
    parse_turns,
    required,
    string_field,
)
from fake_llm.dialects.base import ReplyMeta
from fake_llm.errors import ProviderRequestError
from fake_llm.model.plan import PlannedChoice, PlannedReply, PlannedToolCall, Usage
from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import StreamError
from fake_llm.model.steps import Step, StepKind
from fake_llm.model.stream import Event

#: Error `type` by HTTP status (§5.5); other 4xx are `invalid_request_error`, other 5xx `api_error`.
STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
#: Messages Anthropic sends for each error type, used when a scenario's error gives none.
TYPE_MESSAGES = {
    "invalid_request_error": "Invalid request.",
    "authentication_error": "invalid x-api-key",
    "billing_error": "Your credit balance is too low to access the Anthropic API.",
    "permission_error": "Your API key does not have permission to use the specified resource.",
    "not_found_error": "Not found",
    "request_too_large": "Request exceeds the maximum allowed number of bytes.",
    "rate_limit_error": "Number of requests has exceeded your rate limit. Please try again later.",
    "api_error": "Internal server error",
    "timeout_error": "Request timed out",
    "overloaded_error": "Overloaded",
}
#: `code` values the engine passes in OpenAI's sense; Anthropic has no counterpart, so they are not sent.
OPENAI_CODES = frozenset({"invalid_api_key", "rate_limit_exceeded", "request_too_large"})

#: OpenAI finish reasons -> Anthropic stop reasons (§5.3).
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
#: A provider-neutral rule may give usage in OpenAI's names: these map onto Anthropic's, the rest are dropped.
OPENAI_USAGE = {"prompt_tokens": "input_tokens", "completion_tokens": "output_tokens"}
OPENAI_ONLY_USAGE = frozenset({"total_tokens", "prompt_tokens_details", "completion_tokens_details"})


# ---------------------------------------------------------------------------------------------- rendering


def tool_use_id(call_id: str) -> str:
    """Anthropic's `toolu_` prefix on the engine's `call_` ids; ids a scenario scripts otherwise stay as given."""
    return "toolu_" + call_id[len("call_") :] if call_id.startswith("call_") else call_id


def tool_input(arguments: str) -> Any:
    """`tool_use.input` is an object on the wire (§5.3). Arguments that do not parse as a JSON object (scripted
    malformed JSON, or JSON cut by max_tokens) go out as the raw string instead, so the client meets the bytes the
    scenario scripted rather than an empty object that hides the fault. Streamed, the same text arrives as
    `partial_json`: the SDK parses cut JSON leniently and raises on malformed JSON."""
    if not arguments:
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        return arguments
    return value if isinstance(value, dict) else arguments


def thinking_signature(reasoning: str, seed: int) -> str:
    """A stable stand-in for the opaque signature that authenticates a thinking block."""
    return base64.b64encode(hashlib.blake2b(f"{seed}:{reasoning}".encode(), digest_size=64).digest()).decode()


def stop_reason(choice: PlannedChoice) -> tuple[str, str | None]:
    """`stop_reason` and `stop_sequence` of a choice (§5.3)."""
    # plan_reply does not (yet) record which stop sequence cut the text: read it when it does.
    matched: str | None = getattr(choice, "stop_sequence", None)
    reason = STOP_REASONS.get(choice.finish_reason, choice.finish_reason)
    if reason == "end_turn" and choice.refusal is not None:
        return "refusal", None
    if reason == "end_turn" and matched:
        return "stop_sequence", matched
    return reason, None


class AnthropicMessages:
    """The Anthropic Messages dialect."""

    api = "anthropic"
    id_prefix = "msg_"
    routes: tuple[str, ...] = ("/v1/messages",)
    #: Anthropic's edge answers an oversized body with 413 `request_too_large` (wire-format §5.5).
    body_too_large_status = 413
    profile: str | None = None
    counts_tokens = False
    body_format = "json"
    answers_json = True
    stream_framing = "sse"
    path_prefix = ""
    error_type_header: str | None = None
    stream_media_type: str | None = None

    def api_key(self, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> str | None:
        """`x-api-key` (anthropic-python 0.x/1.x) or `Authorization: Bearer` (2.x); §5.1."""
        key = headers.get("x-api-key", "").strip()
        if key:
            return key
        scheme, _, token = headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> ChatRequest:
        """Validate a Messages request as Anthropic does (400s name the field); any `anthropic-version` is fine."""
        return self.parse_request(body, headers)

    def parse_request(self, body: Any, headers: Mapping[str, str], *, counting: bool = False) -> ChatRequest:
        """`counting`: a count_tokens request, which has no max_tokens and no sampling options."""
        if not isinstance(body, dict):
            raise ProviderRequestError("Input should be a valid dictionary")
        model = string_field(body.get("model"), "model")
        max_tokens = None
        if not counting:
            if body.get("max_tokens") is None:
                raise required("max_tokens")
            max_tokens = number_field(body, "max_tokens", 1, integer=True)
        turns = parse_turns(body.get("messages"))
        system = parse_system(body.get("system"))
        stream = body.get("stream", False)
        if stream is None:
            stream = False
        if not isinstance(stream, bool):
            raise invalid("stream", "Input should be a valid boolean")
        stop = body.get("stop_sequences") or []
        if not isinstance(stop, list):
            raise invalid("stop_sequences", "Input should be a valid list")
        for j, sequence in enumerate(stop):
            string_field(sequence, f"stop_sequences.{j}")
        number_field(body, "temperature", 0, 1)
        number_field(body, "top_p", 0, 1)
        number_field(body, "top_k", 0, integer=True)
        metadata = body.get("metadata")
        if metadata is not None:
            if not isinstance(metadata, dict):
                raise invalid("metadata", "Input should be a valid dictionary")
            if metadata.get("user_id") is not None:
                string_field(metadata["user_id"], "metadata.user_id")
        parse_thinking(body.get("thinking"), max_tokens)
        thinking = body.get("thinking")
        return ChatRequest(
            api=self.api,
            # Claude thinks (and sends thinking blocks) only when the request enables it.
            reasoning_allowed=isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"),
            model=model,
            messages=parse_messages(turns, system),
            stream=stream,
            max_tokens=max_tokens,
            stop=tuple(stop),
            tools=parse_tools(body.get("tools")),
            tool_choice=parse_tool_choice(body.get("tool_choice")),
            response_format=parse_response_format(body),
            headers=headers,
            body=body,
        )

    # ------------------------------------------------------------------ rendering

    def usage(self, usage: Usage) -> dict[str, Any]:
        computed = {
            "input_tokens": usage.prompt_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
            "output_tokens": usage.completion_tokens,
            "service_tier": "standard",
        }
        overrides: dict[str, Any] = {}
        for key, value in usage.overrides.items():
            name = OPENAI_USAGE.get(key, key)
            if key not in OPENAI_ONLY_USAGE and not (name != key and name in usage.overrides):
                overrides[name] = value
        return merge(computed, overrides)

    def _blocks(self, choice: PlannedChoice, seed: int) -> list[dict[str, Any]]:
        """The content blocks in the order Claude produces them: thinking, text, tool_use (§5.3). A refusal is sent
        as text (Anthropic signals it only by `stop_reason: refusal`)."""
        blocks: list[dict[str, Any]] = []
        if choice.reasoning is not None:
            signature = thinking_signature(choice.reasoning, seed)
            blocks.append({"type": "thinking", "thinking": choice.reasoning, "signature": signature})
        text = "".join(choice.tokens)
        if text or not (blocks or choice.tool_calls):
            blocks.append({"type": "text", "text": text})
        blocks.extend(self._tool_use(call) for call in choice.tool_calls)
        return blocks

    @staticmethod
    def _tool_use(call: PlannedToolCall, arguments: Any = None) -> dict[str, Any]:
        value = tool_input(call.arguments) if arguments is None else arguments
        return {"type": "tool_use", "id": tool_use_id(call.id), "name": call.name, "input": value}

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        choice = completion.choices[0]  # Anthropic has no `n`: a request always plans one choice
        reason, sequence = stop_reason(choice)
        return {
            "id": meta.id,
            "type": "message",
            "role": "assistant",
            "model": completion.model,
            "content": self._blocks(choice, meta.seed),
            "stop_reason": reason,
            "stop_sequence": sequence,
            "usage": self.usage(completion.usage),
        }

    def stream_events(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        """message_start, then each block opened, filled and closed in index order, a ping after the first block
        start, message_delta with the cumulative usage, message_stop; every event names its type on an `event:`
        line, which the Python SDK requires (§5.4). No [DONE]. Blocks open as the neutral pieces change kind:
        thinking, text (a refusal too: Anthropic signals it only by `stop_reason`), one per tool call."""
        choice = completion.choices[0]  # Anthropic has no `n`: a request always plans one choice
        usage = self.usage(completion.usage)
        events: list[Event] = []
        blocks: list[tuple[str, int]] = []  # (type, tool call) of each block opened so far

        def emit(data: dict[str, Any], kind: str = "content", tokens: int = 0, piece: int = -1) -> None:
            events.append(Event(dumps(data), event=data["type"], kind=kind, tokens=tokens, step=piece))

        def close() -> None:
            if blocks and blocks[-1][0] == "thinking":
                signature = thinking_signature(choice.reasoning or "", meta.seed)
                emit({"type": "content_block_delta", "index": len(blocks) - 1, "delta": signature_delta(signature)})
            if blocks:
                emit({"type": "content_block_stop", "index": len(blocks) - 1}, kind="block")

        def open_block(block: str, call: int = -1) -> None:
            close()
            start: dict[str, Any] = {"type": block}
            if block == "thinking":
                start.update(thinking="", signature="")
            elif block == "text":
                start["text"] = ""
            else:
                start = self._tool_use(choice.tool_calls[call], {})
            blocks.append((block, call))
            emit({"type": "content_block_start", "index": len(blocks) - 1, "content_block": start}, kind="role")
            if len(blocks) == 1:
                emit({"type": "ping"}, kind="role")

        for step in stream_steps(completion):
            if step.kind is StepKind.ROLE:
                emit({"type": "message_start", "message": self._message_start(completion, meta, usage)}, kind="role")
            elif step.kind is StepKind.FINISH:
                if not blocks:  # nothing to say still says it with an empty text block
                    open_block("text")
                close()
                emit(self._message_delta(choice, usage), kind="finish")
            elif step.kind is not StepKind.USAGE:  # the usage went out with message_delta
                block, payload = _piece_delta(step)
                if not blocks or blocks[-1] != (block, step.call) or step.kind is StepKind.TOOL_CALL:
                    open_block(block, step.call)
                delta = {"type": "content_block_delta", "index": len(blocks) - 1, "delta": payload}
                emit(delta, tokens=len(step.tokens), piece=step.piece)
        emit({"type": "message_stop"}, kind="done")
        return events

    @staticmethod
    def _message_start(completion: PlannedReply, meta: ReplyMeta, usage: dict[str, Any]) -> dict[str, Any]:
        """message_start's message: the input counts and a token-or-so of output; the total comes in message_delta."""
        return {
            "id": meta.id,
            "type": "message",
            "role": "assistant",
            "model": completion.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**usage, "output_tokens": 1},
        }

    @staticmethod
    def _message_delta(choice: PlannedChoice, usage: dict[str, Any]) -> dict[str, Any]:
        reason, sequence = stop_reason(choice)
        final_usage = {
            key: usage[key]
            for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")
            if key in usage
        }
        return {
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": sequence},
            "usage": final_usage,
        }

    def encode_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> tuple[bytes, str] | None:
        return None  # JSON: completion_body

    def load_body(self, request: ChatRequest, meta: ReplyMeta) -> dict[str, Any] | None:
        return None  # every request goes to the rules

    def count_body(self, tokens: int) -> dict[str, Any]:
        """`POST /v1/messages/count_tokens`' answer."""
        return {"input_tokens": tokens}

    def stream_failure(
        self, error: StreamError, position: int, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest
    ) -> list[Event]:
        return [self.stream_error_event(error, position)]

    def auth_error(self, given: str | None) -> ProviderRequestError:
        return key_error(given)

    def stream_error_event(self, error: StreamError, position: int) -> Event:
        """`event: error` always: the SDK raises only on that event name (§5.4, §8.5). With no type scripted, the
        classic mid-stream failure: `overloaded_error`."""
        status = 529 if error.type is None else 500
        body = self.error_body(status, error.message or "", type=error.type, code=error.code)
        return Event(dumps(body), event="error", kind="error")

    def error_body(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        param: str | None = None,
        code: Any = None,
        extra: Mapping[str, Any] | None = None,
        flat: bool = False,
    ) -> dict[str, Any]:
        """`{"type": "error", "error": {type, message}}` (§5.5). A scripted `type` is used when it is one of
        Anthropic's, else the type follows the status (the engine passes OpenAI-flavoured types for its own errors).
        A string `code` goes to `error.details.error_code`, which anthropic-python 2.x maps to its finer error
        classes. Anthropic has no `param`: the message names the field. `request_id` is in the `request-id` header
        only, since no reply metadata reaches this method."""
        if type not in TYPE_MESSAGES:
            type = STATUS_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        error: dict[str, Any] = {"type": type, "message": message or TYPE_MESSAGES[type]}
        # fake-llm's own codes (`fake_llm_no_match`...) are not Anthropic error codes: the message says it all.
        if isinstance(code, str) and code not in OPENAI_CODES and not code.startswith("fake_llm_"):
            error["details"] = {"error_code": code}
        error.update(extra or {})
        return error if flat else {"type": "error", "error": error}

    def response_headers(self, meta: ReplyMeta) -> dict[str, str]:
        org = uuid.UUID(bytes=hashlib.blake2b(f"{meta.seed}:org".encode(), digest_size=16).digest())
        return {"request-id": meta.request_id, "anthropic-organization-id": str(org)}


def _piece_delta(step: Step) -> tuple[str, dict[str, Any]]:
    """The block type a content piece belongs to, and its delta. A tool call's arguments arrive as string
    fragments, the first one (the call opening) empty (§5.4)."""
    if step.kind is StepKind.REASONING:
        return "thinking", {"type": "thinking_delta", "thinking": step.text}
    if step.kind in (StepKind.TEXT, StepKind.REFUSAL):
        return "text", {"type": "text_delta", "text": step.text}
    return "tool_use", {"type": "input_json_delta", "partial_json": step.text}


def signature_delta(signature: str) -> dict[str, str]:
    return {"type": "signature_delta", "signature": signature}
