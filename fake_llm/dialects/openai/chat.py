"""OpenAI Chat Completions (`POST /v1/chat/completions`): the dialect and its wire shapes (wire-format §2); request
validation helpers, shared with the other OpenAI-style dialects, live in request.py."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring
from typing import Any

from fake_llm.core.dialect import key_error
from fake_llm.core.logprobs import logprobs_for
from fake_llm.core.replies import merge
from fake_llm.core.steps import stream_steps
from fake_llm.dialects.base import ReplyMeta
from fake_llm.dialects.openai.envelope import (
    bearer_key,
    dumps,
    error_body,
    input_tokens_body,
    response_headers,
    stream_error_event,
)
from fake_llm.dialects.openai.request import invalid_type as invalid_type
from fake_llm.dialects.openai.request import missing as missing

# The `name as name` imports are re-exports: the other OpenAI-style dialects import them from here.
from fake_llm.dialects.openai.request import number_field as number_field
from fake_llm.dialects.openai.request import parse_guided, parse_messages, parse_tools
from fake_llm.dialects.openai.request import type_name as type_name
from fake_llm.errors import ProviderRequestError
from fake_llm.model.plan import PlannedChoice, PlannedReply, PlannedToolCall, Usage
from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import StreamError
from fake_llm.model.steps import Step, StepKind
from fake_llm.model.stream import Event

RESPONSE_FORMATS = ("text", "json_object", "json_schema")


class OpenAIChat:
    """The OpenAI Chat Completions dialect."""

    api = "openai-chat"
    id_prefix = "chatcmpl-"
    routes: tuple[str, ...] = ("/v1/chat/completions",)
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
        return bearer_key(headers)

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> ChatRequest:
        """Validate a request body as OpenAI does (400s name the param) and return the ChatRequest."""
        if not isinstance(body, dict):
            raise ProviderRequestError(
                f"Invalid request body: expected a JSON object, but got {type_name(body)} instead.", code="invalid_type"
            )
        model = body.get("model")
        if model is None:
            raise missing("model")
        if not isinstance(model, str):
            raise invalid_type("model", "a string", model)
        messages = parse_messages(body.get("messages"))
        stream, stream_options = parse_stream(body)
        n = number_field(body, "n", 1, 128, integer=True) or 1
        number_field(body, "temperature", 0, 2)
        number_field(body, "top_p", 0, 1)
        number_field(body, "frequency_penalty", -2, 2)
        number_field(body, "presence_penalty", -2, 2)
        number_field(body, "top_logprobs", 0, 20, integer=True)
        max_tokens = number_field(body, "max_completion_tokens", 1, 2**31, integer=True)
        if max_tokens is None:
            max_tokens = number_field(body, "max_tokens", 1, 2**31, integer=True)
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise invalid_type("seed", "an integer", seed)
        stop = parse_stop(body)
        response_format = parse_response_format(body)
        guided = parse_guided(body)
        if guided.schema is not None and response_format is None:
            response_format = {"type": "json_schema", "json_schema": {"name": "guided_json", "schema": guided.schema}}
        return ChatRequest(
            api=self.api,
            model=model,
            messages=messages[-guided.last_k :] if guided.last_k else messages,
            guided_choice=guided.choice,
            guided_regex=guided.regex,
            include_stop=guided.include_stop,
            stream=stream,
            n=n,
            max_tokens=max_tokens,
            stop=tuple(stop),
            include_usage=bool((stream_options or {}).get("include_usage")),
            logprobs=(body.get("top_logprobs") or 0) if body.get("logprobs") is True else None,
            tools=parse_tools(body.get("tools")),
            tool_choice=body.get("tool_choice"),
            response_format=response_format,
            seed=seed,
            headers=headers,
            body=body,
        )

    # ------------------------------------------------------------------ rendering

    def usage(self, usage: Usage) -> dict[str, Any]:
        computed = {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": usage.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        merged = merge(computed, usage.overrides)
        if "total_tokens" not in usage.overrides:
            merged["total_tokens"] = merged["prompt_tokens"] + merged["completion_tokens"]
        return merged

    @staticmethod
    def _logprobs(request: ChatRequest, tokens: tuple[str, ...], seed: str, offset: int = 0) -> dict[str, Any] | None:
        """`{"content": [...], "refusal": null}` when the request asked for logprobs (§2.3), else None."""
        top = request.logprobs
        if top is None:
            return None
        entries = [
            {
                "token": entry.token,
                "logprob": entry.logprob,
                "bytes": list(entry.token.encode()),
                "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in entry.top]
                if top
                else [],
            }
            for entry in logprobs_for(tokens, max(top, 1), seed, offset)
        ]
        return {"content": entries, "refusal": None}

    @staticmethod
    def _tool_call(call: PlannedToolCall) -> dict[str, Any]:
        return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        choices = []
        for choice in completion.choices:
            message: dict[str, Any] = {
                "role": "assistant",
                "content": choice.text,
                "refusal": choice.refusal,
                "annotations": [],
            }
            if choice.reasoning is not None:
                message["reasoning_content"] = choice.reasoning
            if choice.tool_calls:
                message["tool_calls"] = [self._tool_call(call) for call in choice.tool_calls]
            choices.append(
                {
                    "index": choice.index,
                    "message": message,
                    "logprobs": self._logprobs(request, choice.tokens if choice.has_text else (), meta.content_seed),
                    "finish_reason": choice.finish_reason,
                }
            )
        return {
            "id": meta.id,
            "object": "chat.completion",
            "created": meta.created,
            "model": completion.model,
            "choices": choices,
            "usage": self.usage(completion.usage),
            "service_tier": "default",
            "system_fingerprint": meta.system_fingerprint,
        }

    def stream_events(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        """Per choice: the role chunk, reasoning chunks, content (or refusal) chunks, tool-call fragments, and the
        finish chunk; choices interleave step by step. Then the usage chunk when `stream_options.include_usage`
        asked for it, and `[DONE]` (§2.4)."""
        return self.chunk_events(completion, meta, request)

    def chunk_events(
        self,
        completion: PlannedReply,
        meta: ReplyMeta,
        request: ChatRequest,
        annotate: Callable[[str, str | None], str] | None = None,
    ) -> list[Event]:
        """The chunks of `stream_events`; `annotate(kind, finish_reason)` returns JSON members (`,"key":value`)
        appended to each choice of a role, content or finish chunk (Azure's content-filter verdicts), so a
        dialect built on these chunks never decodes and re-encodes them."""
        chunk = _Chunks(completion, meta, request, annotate)
        events: list[Event] = []
        choices = completion.choices
        positions = [0] * len(choices)  # tokens of text sent so far per choice, for logprobs
        for step in stream_steps(completion):
            kind = step.kind
            if kind is StepKind.ROLE:
                c = choices[step.choice]
                role = {
                    "role": "assistant",
                    "content": "" if c.has_text or c.refusal is None else None,
                    "refusal": None,
                }
                events.append(Event(chunk.encode(c.index, role, kind="role"), kind="role"))
            elif kind is StepKind.FINISH:
                c = choices[step.choice]
                events.append(Event(chunk.encode(c.index, {}, c.finish_reason, kind="finish"), kind="finish"))
            elif kind is StepKind.USAGE:
                if request.include_usage:
                    events.append(
                        Event(chunk.head + '[],"usage":' + dumps(self.usage(completion.usage)) + "}", kind="usage")
                    )
            else:
                delta, logprobs = self._delta(step, choices[step.choice], request, meta.content_seed, positions)
                events.append(
                    Event(chunk.encode(step.choice, delta, None, logprobs), tokens=len(step.tokens), step=step.piece)
                )
        events.append(Event("[DONE]", kind="done"))
        return events

    def _delta(
        self, step: Step, choice: PlannedChoice, request: ChatRequest, seed: str, positions: list[int]
    ) -> tuple[dict[str, Any], Any]:
        """The delta (and logprobs) of one content piece. Tool calls carry `index` on every fragment and
        id/type/name on the first only (§2.4, trap 14)."""
        if step.kind is StepKind.REASONING:
            return {"reasoning_content": step.text}, None
        if step.kind is StepKind.TEXT:
            position = positions[step.choice]
            positions[step.choice] += len(step.tokens)
            return {"content": step.text}, self._logprobs(request, step.tokens, seed, position)
        if step.kind is StepKind.REFUSAL:
            return {"refusal": step.text}, None
        if step.kind is StepKind.TOOL_CALL:
            call = choice.tool_calls[step.call]
            opened = {
                "index": step.call,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            return {"tool_calls": [opened]}, None
        return {"tool_calls": [{"index": step.call, "function": {"arguments": step.text}}]}, None

    def encode_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> tuple[bytes, str] | None:
        return None  # JSON: completion_body

    def load_body(self, request: ChatRequest, meta: ReplyMeta) -> dict[str, Any] | None:
        return None  # every request goes to the rules

    def count_body(self, tokens: int) -> dict[str, Any]:
        return input_tokens_body(tokens)

    def stream_failure(
        self, error: StreamError, position: int, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest
    ) -> list[Event]:
        return [self.stream_error_event(error, position)]

    def auth_error(self, given: str | None) -> ProviderRequestError:
        return key_error(given)

    def stream_error_event(self, error: StreamError, position: int) -> Event:
        return stream_error_event(error)

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
        return error_body(status, message, type=type, param=param, code=code, extra=extra, flat=flat)

    def response_headers(self, meta: ReplyMeta) -> dict[str, str]:
        return response_headers(meta)


class _Chunks:
    """Encodes the `chat.completion.chunk` objects of one stream: the head every chunk repeats is built once."""

    def __init__(
        self,
        completion: PlannedReply,
        meta: ReplyMeta,
        request: ChatRequest,
        annotate: Callable[[str, str | None], str] | None,
    ) -> None:
        self.head = (
            '{"id":'
            + dumps(meta.id)
            + ',"object":"chat.completion.chunk","created":'
            + str(meta.created)
            + ',"model":'
            + dumps(completion.model)
            + ',"service_tier":"default","system_fingerprint":'
            + dumps(meta.system_fingerprint)
            + ',"choices":'
        )
        self.tail = ',"usage":null}' if request.include_usage else "}"
        self.annotate = annotate

    def encode(
        self,
        index: int,
        delta: dict[str, Any],
        finish_reason: str | None = None,
        logprobs: Any = None,
        kind: str = "content",
    ) -> str:
        extra = self.annotate(kind, finish_reason) if self.annotate else ""
        if logprobs is None and finish_reason is None and len(delta) == 1 and "content" in delta:
            # The common chunk, built from a template: only the text needs escaping (same bytes as dumps).
            return (
                f'{self.head}[{{"index":{index},"delta":{{"content":{encode_basestring(delta["content"])}}},'
                f'"logprobs":null,"finish_reason":null{extra}}}]{self.tail}'
            )
        choice = {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}
        return self.head + dumps([choice])[:-2] + extra + "}]" + self.tail


def parse_stream(body: Mapping[str, Any]) -> tuple[bool, dict[str, Any] | None]:
    """`stream` and `stream_options` (only allowed with `stream`)."""
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise invalid_type("stream", "a boolean", stream)
    stream_options = body.get("stream_options")
    if stream_options is not None:
        if not isinstance(stream_options, dict):
            raise invalid_type("stream_options", "an object", stream_options)
        if not stream:
            raise ProviderRequestError(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options",
                code="invalid_value",
            )
    return stream, stream_options


def parse_stop(body: Mapping[str, Any]) -> list[str]:
    """`stop`: a string or up to 4 strings."""
    stop = body.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    elif stop is None:
        stop = []
    elif not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise invalid_type("stop", "one of a string or array of strings", stop)
    if len(stop) > 4:
        raise ProviderRequestError(
            f"Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with "
            f"length {len(stop)} instead.",
            param="stop",
            code="array_above_max_length",
        )
    return stop


def parse_response_format(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """`response_format`, one of OpenAI's three types."""
    response_format = body.get("response_format")
    if response_format is not None:
        if not isinstance(response_format, dict):
            raise invalid_type("response_format", "an object", response_format)
        if response_format.get("type") not in RESPONSE_FORMATS:
            raise ProviderRequestError(
                f"Invalid value: {json.dumps(response_format.get('type'))}. Supported values are: 'text', "
                "'json_object', and 'json_schema'.",
                param="response_format.type",
                code="invalid_value",
            )
    return response_format
