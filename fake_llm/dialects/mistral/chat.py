"""Mistral chat completions (`POST /mistral/v1/chat/completions`): OpenAI's wire with Mistral's differences. Requests
carry `random_seed`, `tool_choice: any`, object tool arguments and tool messages without ids; answers have hex ids,
9-character tool-call ids, usage on the last chunk of every stream, and errors in Mistral's flat envelope."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from fake_llm.core.steps import Calls, StepOptions, stream_steps
from fake_llm.dialects.base import ReplyMeta
from fake_llm.dialects.openai.chat import OpenAIChat, invalid_type
from fake_llm.dialects.openai.envelope import dumps
from fake_llm.errors import ProviderRequestError
from fake_llm.model.plan import PlannedChoice, PlannedReply, PlannedToolCall
from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import StreamError
from fake_llm.model.steps import StepKind
from fake_llm.model.stream import Event

_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#: Error `type` Mistral sends for each status (its gateway's words); others are `invalid_request_error`.
ERROR_TYPES = {401: "unauthorized", 404: "not_found", 422: "invalid_request_message_error", 429: "rate_limited"}
ERROR_MESSAGES = {
    400: "Bad request.",
    401: "Unauthorized",
    404: "Not Found",
    429: "Requests rate limit exceeded",
    500: "Internal server error",
    503: "Service unavailable",
}
#: Mistral streams no reasoning and no refusal, and never splits a tool call's arguments.
_STEPS = StepOptions(reasoning=False, refusal=False, calls=Calls.WHOLE)
TOOL_CHOICES = ("auto", "none", "any", "required")


def tool_call_id(call_id: str) -> str:
    """Mistral's tool-call ids are 9 characters from [a-zA-Z0-9] (its API refuses others): the planned id, mapped."""
    if len(call_id) == 9 and call_id.isalnum():
        return call_id
    digest = hashlib.blake2b(call_id.encode(), digest_size=9).digest()
    return "".join(_ALNUM[b % 62] for b in digest)


def response_id(meta: ReplyMeta) -> str:
    """Mistral's ids are 32 lowercase hex digits: derived from the reply's deterministic id."""
    return hashlib.blake2b(meta.id.encode(), digest_size=16).hexdigest()


def normalise(body: dict[str, Any]) -> dict[str, Any]:
    """The body in OpenAI's terms for the shared validation: object arguments as JSON strings, tool messages linked
    to their call by name when they carry no id, `random_seed` as `seed`, `tool_choice: any` as `required`."""
    out = dict(body)
    if "random_seed" in out:
        out["seed"] = out.pop("random_seed")
    choice = out.get("tool_choice")
    if isinstance(choice, str):
        if choice not in TOOL_CHOICES:
            raise ProviderRequestError(
                f"Invalid tool_choice {choice!r}: expected one of {', '.join(TOOL_CHOICES)}.", param="tool_choice"
            )
        out["tool_choice"] = "required" if choice == "any" else choice
    messages = out.get("messages")
    if not isinstance(messages, list):
        return out
    latest: dict[str, str] = {}
    fixed: list[Any] = []
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "assistant" and message.get("tool_calls"):
            message = {**message, "tool_calls": [_call(c, latest) for c in message["tool_calls"]]}
        elif isinstance(message, dict) and message.get("role") == "tool" and not message.get("tool_call_id"):
            found = latest.get(message.get("name") or "") or next(reversed(latest.values()), None)
            if found:
                message = {**message, "tool_call_id": found}
        fixed.append(message)
    out["messages"] = fixed
    return out


def _call(call: Any, latest: dict[str, str]) -> Any:
    if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
        return call
    function = dict(call["function"])
    if isinstance(function.get("arguments"), dict):
        function["arguments"] = json.dumps(function["arguments"], ensure_ascii=False)
    call_id = call.get("id") if isinstance(call.get("id"), str) and call.get("id") != "null" else None
    call_id = call_id or f"call{len(latest)}"
    latest[str(function.get("name"))] = call_id
    return {**call, "id": call_id, "function": function}


class MistralChat(OpenAIChat):
    """The Mistral dialect: OpenAI's parsing and chunk plan, Mistral's shapes."""

    api = "mistral"
    id_prefix = ""
    routes: tuple[str, ...] = ("/mistral/v1/chat/completions",)
    #: fake-llm serves Mistral under this prefix (its paths are OpenAI's); record mode drops it going upstream.
    path_prefix = "/mistral"

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> ChatRequest:
        if not isinstance(body, dict):
            raise invalid_type("body", "an object", body)
        normalised = normalise(body)
        chat = super().parse(normalised, headers, params)
        # Mistral always reports usage on the last chunk, whatever stream_options says.
        return dataclasses.replace(chat, api=self.api, include_usage=chat.stream, body=normalised)

    @staticmethod
    def _tool(call: PlannedToolCall, index: int) -> dict[str, Any]:
        return {
            "id": tool_call_id(call.id),
            "function": {"name": call.name, "arguments": call.arguments},
            "index": index,
        }

    def usage_body(self, completion: PlannedReply) -> dict[str, Any]:
        usage = self.usage(completion.usage)
        return {k: usage[k] for k in ("prompt_tokens", "total_tokens", "completion_tokens")}

    def _message(self, choice: PlannedChoice) -> dict[str, Any]:
        calls = [self._tool(call, i) for i, call in enumerate(choice.tool_calls)]
        return {"role": "assistant", "tool_calls": calls or None, "content": choice.text or ""}

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        return {
            "id": response_id(meta),
            "object": "chat.completion",
            "created": meta.created,
            "model": completion.model,
            "choices": [
                {"index": c.index, "message": self._message(c), "finish_reason": c.finish_reason}
                for c in completion.choices
            ],
            "usage": self.usage_body(completion),
        }

    def stream_events(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        """A role chunk per choice, content chunks, each tool call whole in one chunk (Mistral never splits the
        arguments), the finish chunk with `usage` (always), and `[DONE]`."""
        head = {
            "id": response_id(meta),
            "object": "chat.completion.chunk",
            "created": meta.created,
            "model": completion.model,
        }

        def chunk(index: int, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            return dumps({**head, "choices": [{"index": index, "delta": delta, "finish_reason": finish}], **extra})

        events: list[Event] = []
        for step in stream_steps(completion, _STEPS):
            if step.kind is StepKind.ROLE:
                events.append(Event(chunk(step.choice, {"role": "assistant", "content": ""}), kind="role"))
            elif step.kind is StepKind.TEXT:
                events.append(
                    Event(chunk(step.choice, {"content": step.text}), tokens=len(step.tokens), step=step.piece)
                )
            elif step.kind is StepKind.TOOL_CALL:
                call = completion.choices[step.choice].tool_calls[step.call]
                delta = {"content": "", "tool_calls": [self._tool(call, step.call)]}
                events.append(Event(chunk(step.choice, delta), tokens=len(step.tokens), step=step.piece))
            elif step.kind is StepKind.FINISH:
                c = completion.choices[step.choice]
                extra = {"usage": self.usage_body(completion)} if step.choice == len(completion.choices) - 1 else {}
                events.append(Event(chunk(c.index, {"content": ""}, c.finish_reason, **extra), kind="finish"))
        events.append(Event("[DONE]", kind="done"))
        return events

    def stream_error_event(self, error: StreamError, position: int) -> Event:
        body = self.error_body(500, error.message or "", type=error.type, param=error.param, code=error.code)
        return Event(dumps(body), event="error" if error.event_line else None, kind="error")

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
        """Mistral's flat envelope: `{"object": "error", "message", "type", "param", "code"}` (`flat` is moot)."""
        if code == "invalid_api_key":
            message, code = ERROR_MESSAGES[401], None
        if code == "rate_limit_exceeded":
            code = None
        return {
            "object": "error",
            "message": message or ERROR_MESSAGES.get(status, f"Error {status}."),
            "type": type
            if type not in (None, "requests", "tokens")
            else ERROR_TYPES.get(status, "invalid_request_error"),
            "param": param,
            "code": code,
            **(extra or {}),
        }

    def response_headers(self, meta: ReplyMeta) -> dict[str, str]:
        return {"mistral-correlation-id": meta.request_id, "x-kong-request-id": meta.request_id}
