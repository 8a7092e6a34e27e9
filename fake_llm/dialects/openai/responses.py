"""OpenAI Responses API (`POST /v1/responses`): the dialect, the response object and its strict streaming event
sequence (wire-format §3); parsing input items and flat tools lives in responses_request.py."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping
from typing import Any

from fake_llm.core.dialect import key_error
from fake_llm.core.logprobs import logprobs_for
from fake_llm.core.replies import merge
from fake_llm.core.steps import Calls, StepOptions, choice_steps
from fake_llm.dialects.base import ReplyMeta
from fake_llm.dialects.openai import envelope
from fake_llm.dialects.openai.envelope import dumps
from fake_llm.dialects.openai.request import missing, number_field

# The `name as name` imports are re-exports: the other OpenAI dialects import them from here.
from fake_llm.dialects.openai.responses_request import (
    FIELD_TYPES,
    parse_input,
    parse_text_format,
    parse_tool_choice,
    parse_tools,
)
from fake_llm.dialects.openai.responses_request import check_type as check_type
from fake_llm.dialects.openai.responses_request import invalid_value as invalid_value
from fake_llm.dialects.openai.responses_request import parse_model as parse_model
from fake_llm.errors import ProviderRequestError
from fake_llm.model.plan import PlannedChoice, PlannedReply, Usage
from fake_llm.model.request import ChatRequest, Message
from fake_llm.model.spec import StreamError
from fake_llm.model.steps import Step, StepKind
from fake_llm.model.stream import Event

#: The include value that asks for token log probabilities on output_text parts.
LOGPROBS_INCLUDE = "message.output_text.logprobs"
#: Scenario `usage:` keys use Chat's names; the Responses usage object names them differently (§3.2).
USAGE_NAMES = {
    "prompt_tokens": "input_tokens",
    "completion_tokens": "output_tokens",
    "prompt_tokens_details": "input_tokens_details",
    "completion_tokens_details": "output_tokens_details",
}
#: Request fields the response object echoes (§3.2), with what it reports when the request left them out.
ECHOED: dict[str, Any] = {
    **dict.fromkeys(("instructions", "max_output_tokens", "max_tool_calls", "previous_response_id"), None),
    **dict.fromkeys(("prompt_cache_key", "safety_identifier"), None),
    **{"background": False, "parallel_tool_calls": True, "store": True, "temperature": 1.0, "tool_choice": "auto"},
    **{"top_logprobs": 0, "top_p": 1.0, "truncation": "disabled", "metadata": {}},
}
#: The codes a failed response's `error.code` may take (the spec's ResponseErrorCode).
RESPONSE_ERROR_CODES = frozenset({"server_error", "rate_limit_exceeded", "invalid_prompt", "vector_store_timeout"})
#: finish_reason -> incomplete_details.reason; anything else completes (§3.2).
INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


def _or(body: Mapping[str, Any], key: str, default: Any) -> Any:
    value = body.get(key)
    return default if value is None else value


def _item_id(meta: ReplyMeta, prefix: str, index: int) -> str:
    """A stable item id per response and output position (`msg_`, `fc_`, `rs_` as the real API names them)."""
    return prefix + "_" + hashlib.blake2b(f"{meta.id}:{index}".encode(), digest_size=24).hexdigest()


class OpenAIResponses:
    """The OpenAI Responses dialect; auth, error envelope and headers are inherited from Chat (§2.5, §2.6)."""

    api = "responses"
    id_prefix = "resp_"
    routes: tuple[str, ...] = ("/v1/responses",)

    body_too_large_status = 400
    profile: str | None = None
    counts_tokens = False
    body_format = "json"
    answers_json = True
    stream_framing = "sse"
    path_prefix = ""
    error_type_header: str | None = None
    stream_media_type: str | None = None

    def api_key(self, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> str | None:
        return envelope.bearer_key(headers)

    def encode_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> tuple[bytes, str] | None:
        return None  # JSON: completion_body

    def load_body(self, request: ChatRequest, meta: ReplyMeta) -> dict[str, Any] | None:
        return None  # every request goes to the rules

    def count_body(self, tokens: int) -> dict[str, Any]:
        return envelope.input_tokens_body(tokens)

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
        return envelope.error_body(status, message, type=type, param=param, code=code, extra=extra, flat=flat)

    def response_headers(self, meta: ReplyMeta) -> dict[str, str]:
        return envelope.response_headers(meta)

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> ChatRequest:
        """Validate a request body as OpenAI does (400s name the param) and return the ChatRequest."""
        model = parse_model(body)
        for name, types, expected in FIELD_TYPES:
            check_type(body, name, types, expected)
        previous = body.get("previous_response_id")
        if body.get("input") is None and previous is None:
            raise missing("input")
        messages = parse_input(_or(body, "input", []), stored_calls=previous is not None)
        if body.get("instructions"):
            messages.insert(0, Message("system", body["instructions"]))
        number_field(body, "temperature", 0, 2)
        number_field(body, "top_p", 0, 1)
        number_field(body, "top_logprobs", 0, 20, integer=True)
        # The Responses API refuses budgets below 16 tokens (unlike Chat's max_tokens).
        max_tokens = number_field(body, "max_output_tokens", 16, 2**31, integer=True)
        return ChatRequest(
            api=self.api,
            model=model,
            messages=tuple(messages),
            stream=bool(body.get("stream")),
            max_tokens=max_tokens,
            tools=parse_tools(body.get("tools")),
            tool_choice=parse_tool_choice(body.get("tool_choice")),
            response_format=parse_text_format(body.get("text")),
            logprobs=(body.get("top_logprobs") or 0) if LOGPROBS_INCLUDE in (body.get("include") or ()) else None,
            headers=headers,
            body=body,
        )

    # ------------------------------------------------------------------ rendering

    def usage(self, usage: Usage) -> dict[str, Any]:
        computed = {
            "input_tokens": usage.prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": usage.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
            "total_tokens": usage.total_tokens,
        }
        overrides = {USAGE_NAMES.get(key, key): value for key, value in usage.overrides.items()}
        merged = merge(computed, overrides)
        if "total_tokens" not in overrides:
            merged["total_tokens"] = merged["input_tokens"] + merged["output_tokens"]
        return merged

    @staticmethod
    def _text_logprobs(
        request: ChatRequest, tokens: tuple[str, ...], seed: str, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Token log probabilities of an output_text part: filled only when `include` asks for them."""
        top = request.logprobs
        if top is None:
            return []
        return [
            {
                "token": entry.token,
                "logprob": entry.logprob,
                "bytes": list(entry.token.encode()),
                "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in entry.top[:top]],
            }
            for entry in logprobs_for(tokens, max(top, 1), seed, offset)
        ]

    def _output(self, choice: PlannedChoice, meta: ReplyMeta, request: ChatRequest) -> list[dict[str, Any]]:
        """The output items of a finished response: reasoning, the message, then one item per function call; the
        last item is `incomplete` when the reply was cut (§3.2)."""
        items: list[dict[str, Any]] = []
        if choice.reasoning is not None:
            summary = [{"type": "summary_text", "text": choice.reasoning}]
            items.append({"id": _item_id(meta, "rs", len(items)), "type": "reasoning", "summary": summary})
        if choice.refusal is not None or (choice.has_text and (choice.tokens or not choice.tool_calls)):
            if choice.refusal is not None:
                part: dict[str, Any] = {"type": "refusal", "refusal": choice.refusal}
            else:
                logprobs = self._text_logprobs(request, choice.tokens, meta.content_seed)
                part = {"type": "output_text", "text": choice.text, "annotations": [], "logprobs": logprobs}
            message_id = _item_id(meta, "msg", len(items))
            items.append(
                {"id": message_id, "type": "message", "status": "completed", "content": [part], "role": "assistant"}
            )
        for call in choice.tool_calls:
            items.append(
                {
                    "id": _item_id(meta, "fc", len(items)),
                    "type": "function_call",
                    "status": "completed",
                    "arguments": call.arguments,
                    "call_id": call.id,
                    "name": call.name,
                }
            )
        if choice.finish_reason in INCOMPLETE_REASONS and items and "status" in items[-1]:
            items[-1]["status"] = "incomplete"
        return items

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        """The response object (§3.2); the Responses API has no `n`, so only the first planned choice is sent."""
        choice = completion.choices[0]
        body = request.body
        reason = INCOMPLETE_REASONS.get(choice.finish_reason)
        reasoning = _or(body, "reasoning", {})
        tools = [
            {"description": None, "parameters": None, "strict": True, **tool}
            if tool.get("type") == "function"
            else tool
            for tool in _or(body, "tools", [])
        ]
        rest = {key: _or(body, key, default) for key, default in ECHOED.items()}
        if isinstance(body.get("user"), str):  # the spec types `user` as a string: absent, never null
            rest["user"] = body["user"]
        rest.update(
            completed_at=None if reason else meta.created,
            error=None,
            incomplete_details={"reason": reason} if reason else None,
            model=completion.model,
            output=self._output(choice, meta, request),
            reasoning={"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            service_tier="default",
            text={"format": _or(_or(body, "text", {}), "format", {"type": "text"}), "verbosity": "medium"},
            tools=tools,
            usage=self.usage(completion.usage),
        )
        metadata = rest.pop("metadata")
        head = {"id": meta.id, "object": "response", "created_at": meta.created}
        # The real key order: the head, the rest alphabetically, metadata last.
        return {
            **head,
            "status": "incomplete" if reason else "completed",
            **dict(sorted(rest.items())),
            "metadata": metadata,
        }

    def stream_events(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        """The §3.3 sequence: created, in_progress, then per output item `output_item.added`, its part and deltas,
        its done events and `output_item.done`; last `response.completed` (or `response.incomplete`) with the whole
        response. Every event has `event:` + `type` + `sequence_number` from 0, and no `[DONE]` follows.

        Kinds for the fault scripts: the item-finishing `*.done` events are `finish` (`finish_chunk: false` drops
        them; the final response still carries every item, which the SDK's strict helper accepts), the terminal
        lifecycle event is `done` (`done: false` ends the stream without it)."""
        final = self.completion_body(completion, meta, request)
        opening = {**final, "status": "in_progress", "completed_at": None, "incomplete_details": None}
        opening["output"] = []
        opening.pop("usage")  # ResponseUsage is not nullable: an unfinished response has none
        out = _EventWriter()
        pieces = _pieces_by_part(completion)
        out.emit("role", "response.created", response=opening)
        out.emit("role", "response.in_progress", response=opening)
        calls = itertools.count()
        for index, item in enumerate(final["output"]):
            ids = {"item_id": item["id"], "output_index": index}
            out.emit(
                "content", "response.output_item.added", output_index=index, item={**item, **_OPENED[item["type"]]}
            )
            if item["type"] == "message":
                part, at = item["content"][0], {**ids, "content_index": 0}
                if part["type"] == "output_text":
                    out.emit("content", "response.content_part.added", **at, part={**part, "text": "", "logprobs": []})
                    out.deltas("response.output_text.delta", pieces["text"], at, request, meta.content_seed)
                    out.emit("finish", "response.output_text.done", **at, text=part["text"], logprobs=part["logprobs"])
                else:
                    out.emit("content", "response.content_part.added", **at, part={**part, "refusal": ""})
                    out.deltas("response.refusal.delta", pieces["text"], at)
                    out.emit("finish", "response.refusal.done", **at, refusal=part["refusal"])
                out.emit("finish", "response.content_part.done", **at, part=part)
            elif item["type"] == "function_call":
                out.deltas("response.function_call_arguments.delta", pieces[next(calls)], ids)
                done = {"name": item["name"], "arguments": item["arguments"]}
                out.emit("finish", "response.function_call_arguments.done", **ids, **done)
            else:  # reasoning: the summary streams as summary-text deltas
                at, text = {**ids, "summary_index": 0}, item["summary"][0]["text"]
                out.emit("content", "response.reasoning_summary_part.added", **at, part=_summary(""))
                out.deltas("response.reasoning_summary_text.delta", pieces["reasoning"], at)
                out.emit("finish", "response.reasoning_summary_text.done", **at, text=text)
                out.emit("finish", "response.reasoning_summary_part.done", **at, part=_summary(text))
            out.emit("finish", "response.output_item.done", output_index=index, item=item)
        terminal = "response.completed" if final["status"] == "completed" else "response.incomplete"
        out.emit("done", terminal, response=final)
        return out.events

    def auth_error(self, given: str | None) -> ProviderRequestError:
        return key_error(given)

    def stream_error_event(self, error: StreamError, position: int) -> Event:
        """The error event: the spec's flat `code`/`message`/`param` (ResponseErrorEvent requires them) plus the
        nested `error` real streams send (§3.3), whose truthiness makes openai-python raise APIError.
        Its `sequence_number` is its position: one past the last event sent before it."""
        inner = self.error_body(500, error.message or "", type=error.type, param=error.param, code=error.code)["error"]
        flat = {"code": inner.get("code"), "message": inner["message"], "param": inner.get("param")}
        payload = {"type": "error", **flat, "sequence_number": position, "error": inner}
        return Event(dumps(payload), event="error", kind="error")

    def stream_failure(
        self, error: StreamError, position: int, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest
    ) -> list[Event]:
        """A failed stream: the error event with its real sequence number, then `response.failed` carrying the
        response with `status: failed` and its `error` (code from ResponseErrorCode, else `server_error`)."""
        final = self.completion_body(completion, meta, request)
        code = error.code if error.code in RESPONSE_ERROR_CODES else "server_error"
        failed = {**final, "status": "failed", "completed_at": None, "incomplete_details": None, "output": []}
        failed["error"] = {"code": code, "message": error.message or "The model failed to generate a response."}
        failed.pop("usage", None)
        ended = {"type": "response.failed", "sequence_number": position + 1, "response": failed}
        return [
            self.stream_error_event(error, position),
            Event(dumps(ended), event="response.failed", kind="error"),
        ]


#: A call opens with its `output_item.added` event, which carries no content: only its fragments are pieces.
_STEPS = StepOptions(calls=Calls.OPENED_APART)

#: What each output item looks like in its `output_item.added` event, before any delta.
_OPENED: dict[str, dict[str, Any]] = {
    "message": {"status": "in_progress", "content": []},
    "function_call": {"status": "in_progress", "arguments": ""},
    "reasoning": {"summary": []},
}


def _summary(text: str) -> dict[str, str]:
    return {"type": "summary_text", "text": text}


class _EventWriter:
    """Numbers events from 0 (§3.3) and gives every delta its own content step, so the stream timing paces them."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, kind: str, type_: str, tokens: int = 0, step: int = -1, **fields: Any) -> None:
        payload = {"type": type_, "sequence_number": len(self.events), **fields}
        self.events.append(Event(dumps(payload), event=type_, kind=kind, tokens=tokens, step=step))

    def deltas(
        self,
        type_: str,
        pieces: list[Step],
        at: Mapping[str, Any],
        request: ChatRequest | None = None,
        seed: str = "",
    ) -> None:
        """One delta event per neutral piece; with `request`, output-text deltas carry their tokens' logprobs."""
        position = 0
        for piece in pieces:
            tokens = piece.tokens
            extra = {"logprobs": OpenAIResponses._text_logprobs(request, tokens, seed, position)} if request else {}
            self.emit("content", type_, len(tokens), piece.piece, **at, delta=piece.text, **extra)
            position += len(tokens)


def _pieces_by_part(completion: PlannedReply) -> dict[str | int, list[Step]]:
    """The neutral pieces of the one choice by the output item they fill: `reasoning`, `text` (or refusal), and each
    tool call's argument fragments by its index."""
    parts: dict[str | int, list[Step]] = {"reasoning": [], "text": []}
    for step in choice_steps(completion.choices[0], _STEPS):
        if step.kind is StepKind.REASONING:
            parts["reasoning"].append(step)
        elif step.kind in (StepKind.TEXT, StepKind.REFUSAL):
            parts["text"].append(step)
        else:
            parts.setdefault(step.call, [])
            if step.kind is StepKind.ARGUMENTS:
                parts[step.call].append(step)
    return parts
