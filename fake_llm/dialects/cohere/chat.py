"""Cohere v2 chat (`POST /v2/chat`): the answer as one JSON object, or, with `stream: true`, typed SSE events
(`message-start`, `content-start/delta/end`, `tool-plan-delta`, `tool-call-start/delta/end`, `message-end`) that
the cohere client tells apart by the `type` inside `data` (it skips a malformed event with a mere warning)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from fake_llm.core.dialect import key_error
from fake_llm.core.steps import Calls, StepOptions, choice_steps
from fake_llm.dialects.base import ReplyMeta
from fake_llm.dialects.cohere import request as req
from fake_llm.dialects.openai.completions import bare_prompt_tokens
from fake_llm.errors import ProviderRequestError
from fake_llm.model.plan import PlannedChoice, PlannedReply, PlannedToolCall, Usage
from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import StreamError
from fake_llm.model.steps import Step, StepKind
from fake_llm.model.stream import Event

FINISH_REASONS = {"stop": "COMPLETE", "length": "MAX_TOKENS", "tool_calls": "TOOL_CALL", "content_filter": "ERROR"}
#: Cohere's words for statuses a scenario's error leaves without a message.
ERROR_MESSAGES = {
    400: "invalid request",
    401: "invalid api token",
    404: "model not found",
    422: "unprocessable entity",
    429: "You are past the rate limit for this API key. Please wait and try again.",
    500: "internal server error, this has been reported to our developers.",
    503: "service unavailable",
}
_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyz"


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def response_id(meta: ReplyMeta) -> str:
    """Cohere ids are UUIDs: one derived from the reply's deterministic id."""
    return str(uuid.UUID(bytes=hashlib.blake2b(meta.id.encode(), digest_size=16).digest()))


def tool_call_id(call: PlannedToolCall) -> str:
    """Cohere names a call `<tool>_<12 characters>`; a scripted id is kept."""
    if not call.id.startswith("call_"):
        return call.id
    digest = hashlib.blake2b(call.id.encode(), digest_size=12).digest()
    return f"{call.name}_" + "".join(_ALNUM[b % 36] for b in digest)


def usage_body(usage: Usage, request: ChatRequest) -> dict[str, Any]:
    """`billed_units` count what Cohere bills (the texts alone), `tokens` what the model saw (with the chat
    template). A scenario's `usage:` sets the billed ones with `input_tokens`/`output_tokens` and the seen ones (and
    the billed, unless given) with `prompt_tokens`/`completion_tokens`."""
    o = usage.overrides
    seen_in = int(o.get("prompt_tokens", usage.prompt_tokens))
    seen_out = int(o.get("completion_tokens", usage.completion_tokens))
    billed_in = int(o.get("input_tokens", seen_in if "prompt_tokens" in o else bare_prompt_tokens(usage, request)))
    return {
        "billed_units": {"input_tokens": billed_in, "output_tokens": int(o.get("output_tokens", seen_out))},
        "tokens": {"input_tokens": seen_in, "output_tokens": seen_out},
    }


def error_body(status: int, message: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`{"message": ...}`; the cohere client raises its per-status error (TooManyRequestsError for 429)."""
    return {"message": message or ERROR_MESSAGES.get(status, f"error {status}"), **(extra or {})}


class CohereChat:
    """The Cohere v2 chat dialect."""

    api = "cohere"
    id_prefix = "cohere-"
    routes: tuple[str, ...] = ("/v2/chat",)
    body_too_large_status = 400
    profile: str | None = None
    counts_tokens = False
    answers_json = True
    body_format = "json"
    stream_framing = "sse"
    path_prefix = ""
    error_type_header: str | None = None
    stream_media_type: str | None = None

    def api_key(self, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> str | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> ChatRequest:
        if not isinstance(body, dict):
            raise req.invalid("the request body must be a JSON object.")
        model = req.text_field(body, "model") or ""
        messages = req.parse_messages(body.get("messages"))
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise req.invalid("stream must be a boolean.", "stream")
        req.number(body, "temperature", 0, 1)
        req.number(body, "p", 0.01, 0.99)
        req.number(body, "k", 0, 500, integer=True)
        max_tokens = req.number(body, "max_tokens", 1, 2**31, integer=True)
        seed = req.number(body, "seed", 0, 2**63, integer=True)
        stop = body.get("stop_sequences") or []
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop) or len(stop) > 5:
            raise req.invalid("stop_sequences must be a list of at most 5 strings.", "stop_sequences")
        thinking = body.get("thinking")
        if thinking is not None and (
            not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "disabled")
        ):
            raise req.invalid("thinking.type must be one of enabled, disabled.", "thinking.type")
        return ChatRequest(
            api=self.api,
            model=model,
            messages=messages,
            stream=stream,
            max_tokens=max_tokens,
            stop=tuple(stop),
            tools=req.parse_tools(body.get("tools")),
            tool_choice=req.parse_tool_choice(body.get("tool_choice")),
            response_format=req.parse_response_format(body.get("response_format")),
            seed=seed,
            reasoning_shown=_thinking(body),
            headers=headers,
            body=body,
        )

    # ------------------------------------------------------------------ rendering

    def _tool_plan_events(
        self, choice: PlannedChoice, steps: list[Step], event: Callable[..., Event]
    ) -> Iterator[Event]:
        """The text as tool-plan deltas, then each call: started with its id and name, its argument fragments,
        ended."""
        for step in steps:
            if step.kind in (StepKind.TEXT, StepKind.REFUSAL):
                plan = {"message": {"tool_plan": step.text}}
                yield event("tool-plan-delta", {"delta": plan}, tokens=len(step.tokens), step=step.piece)
            elif step.kind is StepKind.TOOL_CALL:
                if step.call:
                    yield event("tool-call-end", {"index": step.call - 1}, kind="tool_end")
                first = {"message": {"tool_calls": self._call(choice.tool_calls[step.call], "")}}
                yield event("tool-call-start", {"index": step.call, "delta": first}, kind="tool_start")
            elif step.kind is StepKind.ARGUMENTS:
                fragment = {"message": {"tool_calls": {"function": {"arguments": step.text}}}}
                delta = {"index": step.call, "delta": fragment}
                yield event("tool-call-delta", delta, tokens=len(step.tokens), step=step.piece)
        yield event("tool-call-end", {"index": len(choice.tool_calls) - 1}, kind="tool_end")

    @staticmethod
    def _content_events(steps: list[Step], event: Callable[..., Event]) -> Iterator[Event]:
        """A thinking block when the reasoning is shown, then the text block (always, even empty)."""
        index = 0
        thoughts = [step for step in steps if step.kind is StepKind.REASONING]
        if thoughts:
            blank = {"message": {"content": {"type": "thinking", "thinking": ""}}}
            yield event("content-start", {"index": 0, "delta": blank}, kind="block_start")
            for step in thoughts:
                delta = {"message": {"content": {"thinking": step.text}}}
                yield event("content-delta", {"index": 0, "delta": delta}, tokens=len(step.tokens), step=step.piece)
            yield event("content-end", {"index": 0}, kind="block_end")
            index = 1
        blank = {"message": {"content": {"type": "text", "text": ""}}}
        yield event("content-start", {"index": index, "delta": blank}, kind="block_start")
        for step in steps:
            if step.kind in (StepKind.TEXT, StepKind.REFUSAL):
                delta = {"message": {"content": {"text": step.text}}}
                yield event("content-delta", {"index": index, "delta": delta}, tokens=len(step.tokens), step=step.piece)
        yield event("content-end", {"index": index}, kind="block_end")

    @staticmethod
    def finish_reason(choice: PlannedChoice) -> str:
        if choice.finish_reason == "stop" and choice.stop_sequence:
            return "STOP_SEQUENCE"
        return FINISH_REASONS.get(choice.finish_reason, "COMPLETE")

    @staticmethod
    def _call(call: PlannedToolCall, arguments: str | None = None) -> dict[str, Any]:
        function = {"name": call.name, "arguments": call.arguments if arguments is None else arguments}
        return {"id": tool_call_id(call), "type": "function", "function": function}

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        """Text as a content list; with tool calls, `tool_plan` (the text) and `tool_calls` instead (Cohere puts
        the model's words before a call in `tool_plan`)."""
        choice = completion.choices[0]
        message: dict[str, Any] = {"role": "assistant"}
        if choice.tool_calls:
            message["tool_plan"] = choice.text or ""
            message["tool_calls"] = [self._call(call) for call in choice.tool_calls]
        else:
            content: list[dict[str, Any]] = []
            if choice.reasoning and request.reasoning_shown:
                content.append({"type": "thinking", "thinking": choice.reasoning})
            content.append({"type": "text", "text": choice.text or ""})
            message["content"] = content
        return {
            "id": response_id(meta),
            "message": message,
            "finish_reason": self.finish_reason(choice),
            "usage": usage_body(completion.usage, request),
        }

    def stream_events(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        choice = completion.choices[0]

        def event(name: str, payload: dict[str, Any], **options: Any) -> Event:
            return Event(dumps({"type": name, **payload}), event=name, **options)

        start = {"message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}
        events = [event("message-start", {"id": response_id(meta), "delta": start}, kind="role")]
        thinking = request.reasoning_shown and not choice.tool_calls  # a tool plan stands in for the thinking
        steps = choice_steps(choice, StepOptions(reasoning=thinking, calls=Calls.OPENED_APART))
        if choice.tool_calls:
            events.extend(self._tool_plan_events(choice, steps, event))
        else:
            events.extend(self._content_events(steps, event))
        end = {"finish_reason": self.finish_reason(choice), "usage": usage_body(completion.usage, request)}
        events.append(event("message-end", {"delta": end}, kind="finish"))
        return events

    def encode_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> tuple[bytes, str] | None:
        return None  # JSON: completion_body

    def load_body(self, request: ChatRequest, meta: ReplyMeta) -> dict[str, Any] | None:
        return None  # every request goes to the rules

    def count_body(self, tokens: int) -> dict[str, Any]:
        """Cohere's tokenize-style count."""
        return {"meta": {"billed_units": {"input_tokens": tokens}}}

    def stream_failure(
        self, error: StreamError, position: int, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest
    ) -> list[Event]:
        return [self.stream_error_event(error, position)]

    def auth_error(self, given: str | None) -> ProviderRequestError:
        return key_error(given)

    def stream_error_event(self, error: StreamError, position: int) -> Event:
        """Cohere ends a failed stream with `message-end`, `finish_reason: ERROR` and the error text."""
        delta = {"error": error.message or ERROR_MESSAGES[500], "finish_reason": "ERROR"}
        return Event(dumps({"type": "message-end", "delta": delta}), event="message-end", kind="error")

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
        if code == "invalid_api_key":
            message = ERROR_MESSAGES[401]
        return error_body(status, message, extra)

    def response_headers(self, meta: ReplyMeta) -> dict[str, str]:
        return {"x-request-id": meta.request_id, "x-debug-trace-id": meta.request_id}


def _thinking(body: Mapping[str, Any]) -> bool:
    """Thinking is sent only when `thinking.type` is `enabled`."""
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") == "enabled"
