"""OpenAI Chat Completions (`POST /v1/chat/completions`): request validation and wire shapes (wire-format §2)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any

from fake_llm.chat import ChatRequest, Message, ToolCall, ToolSpec
from fake_llm.errors import ProviderRequestError
from fake_llm.logprobs import logprobs_for
from fake_llm.providers.base import ReplyMeta
from fake_llm.replies import Completion, PlannedChoice, PlannedToolCall, Usage, merge
from fake_llm.scenarios import StreamError
from fake_llm.streaming import Event

ROLES = ("system", "assistant", "user", "function", "tool", "developer")
RESPONSE_FORMATS = ("text", "json_object", "json_schema")

#: Error `type` OpenAI uses for each status (wire-format §2.5); scenarios may override it.
ERROR_TYPES = {429: "requests"}
ERROR_CODES = {429: "rate_limit_exceeded"}
#: Messages OpenAI sends for each status, used when a scenario's error gives none.
ERROR_MESSAGES = {
    400: "Bad request.",
    401: "Incorrect API key provided.",
    403: "You are not allowed to make this request.",
    404: "The model does not exist or you do not have access to it.",
    429: "Rate limit reached for requests. Please try again later.",
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The server is overloaded or not ready yet.",
    504: "Gateway timeout.",
}


def dumps(value: Any) -> str:
    """Compact JSON as OpenAI sends it (non-ASCII kept as UTF-8)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def type_name(value: Any) -> str:
    """How OpenAI names a JSON type in its validation messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def invalid_type(param: str, expected: str, value: Any) -> ProviderRequestError:
    return ProviderRequestError(
        f"Invalid type for '{param}': expected {expected}, but got {type_name(value)} instead.",
        param=param,
        code="invalid_type",
    )


def missing(param: str) -> ProviderRequestError:
    return ProviderRequestError(
        f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def _number(body: Mapping[str, Any], name: str, low: float, high: float, *, integer: bool = False) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise invalid_type(name, "an integer" if integer else "a number", value)
    kind = "integer" if integer else "decimal"
    if value < low:
        raise ProviderRequestError(
            f"Invalid '{name}': {kind} below minimum value. Expected a value >= {low:g}, but got {value} instead.",
            param=name,
            code=f"{kind}_below_min_value",
        )
    if value > high:
        raise ProviderRequestError(
            f"Invalid '{name}': {kind} above maximum value. Expected a value <= {high:g}, but got {value} instead.",
            param=name,
            code=f"{kind}_above_max_value",
        )
    return value


def _text_of(content: Any, param: str, *, allow_null: bool = False) -> tuple[str, bool]:
    """Text of a message's content (string or parts) and whether it holds an image part."""
    if content is None:
        if allow_null:
            return "", False
        raise missing(param)
    if isinstance(content, str):
        return content, False
    if isinstance(content, dict):  # some compatible providers accept a single part object
        content = [content]
    if not isinstance(content, list):
        raise invalid_type(param, "one of a string or array of objects", content)
    texts: list[str] = []
    has_image = False
    for i, part in enumerate(content):
        if isinstance(part, str):
            texts.append(part)
            continue
        if not isinstance(part, dict):
            raise invalid_type(f"{param}[{i}]", "an object", part)
        kind = part.get("type")
        if kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise invalid_type(f"{param}[{i}].text", "a string", text)
            texts.append(text)
        elif kind == "refusal":
            texts.append(str(part.get("refusal", "")))
        elif kind == "image_url":
            has_image = True
        elif not isinstance(kind, str):
            raise missing(f"{param}[{i}].type")
    return "\n".join(texts), has_image


def _tool_calls(raw: Any, param: str) -> tuple[ToolCall, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise invalid_type(param, "an array", raw)
    calls = []
    for i, call in enumerate(raw):
        if not isinstance(call, dict):
            raise invalid_type(f"{param}[{i}]", "an object", call)
        function = call.get("function")
        if not isinstance(function, dict):
            raise missing(f"{param}[{i}].function")
        if not isinstance(call.get("id"), str):
            raise missing(f"{param}[{i}].id")
        name, arguments = function.get("name"), function.get("arguments", "")
        if not isinstance(name, str):
            raise missing(f"{param}[{i}].function.name")
        if not isinstance(arguments, str):
            raise invalid_type(f"{param}[{i}].function.arguments", "a string", arguments)
        calls.append(ToolCall(call["id"], name, arguments))
    return tuple(calls)


def parse_messages(raw: Any) -> tuple[Message, ...]:
    """Validate `messages` as OpenAI does and reduce each to a Message."""
    if raw is None:
        raise missing("messages")
    if not isinstance(raw, list):
        raise invalid_type("messages", "an array", raw)
    if not raw:
        raise ProviderRequestError(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    messages = []
    for i, item in enumerate(raw):
        param = f"messages[{i}]"
        if not isinstance(item, dict):
            raise invalid_type(param, "an object", item)
        role = item.get("role")
        if role is None:
            raise missing(f"{param}.role")
        if role not in ROLES:
            supported = ", ".join(f"'{r}'" for r in ROLES[:-1]) + f", and '{ROLES[-1]}'"
            raise ProviderRequestError(
                f"Invalid value: {json.dumps(role)}. Supported values are: {supported}.",
                param=f"{param}.role",
                code="invalid_value",
            )
        tool_calls = _tool_calls(item.get("tool_calls"), f"{param}.tool_calls") if role == "assistant" else ()
        may_be_empty = role == "assistant" and (bool(tool_calls) or item.get("function_call") is not None)
        if role == "assistant" and "content" not in item and not may_be_empty:
            raise missing(f"{param}.content")
        text, has_image = _text_of(item.get("content"), f"{param}.content", allow_null=role == "assistant")
        tool_call_id = item.get("tool_call_id")
        if role == "tool" and not isinstance(tool_call_id, str):
            raise (
                missing(f"{param}.tool_call_id")
                if tool_call_id is None
                else invalid_type(f"{param}.tool_call_id", "a string", tool_call_id)
            )
        name = item.get("name")
        messages.append(
            Message(role, text, tool_calls, tool_call_id, name if isinstance(name, str) else None, has_image)
        )
    check_tool_traffic(messages)
    return tuple(messages)


def check_tool_traffic(messages: list[Message]) -> None:
    """Reject what OpenAI rejects: a tool result that answers no preceding tool call, and tool calls left without
    results before the conversation moves on."""
    pending: dict[str, int] = {}  # tool_call_id -> index of the assistant message that made the call
    answerable: set[str] = set()
    for i, message in enumerate(messages):
        if message.role == "tool":
            if not answerable:
                raise ProviderRequestError(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceding message with "
                    "'tool_calls'.",
                    param=f"messages[{i}].role",
                )
            if message.tool_call_id not in answerable:
                raise ProviderRequestError(
                    f"Invalid parameter: 'tool_call_id' of '{message.tool_call_id}' not found in 'tool_calls' of "
                    "previous message.",
                    param=f"messages[{i}].tool_call_id",
                )
            pending.pop(message.tool_call_id or "", None)
            continue
        _unanswered(pending)
        answerable = {call.id for call in message.tool_calls}
        pending = {call.id: i for call in message.tool_calls}
    _unanswered(pending)


def _unanswered(pending: dict[str, int]) -> None:
    if pending:
        index = min(pending.values())
        raise ProviderRequestError(
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
            f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(pending)}",
            param=f"messages[{index}].role",
        )


def _tools(raw: Any) -> tuple[ToolSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise invalid_type("tools", "an array", raw)
    specs = []
    for i, tool in enumerate(raw):
        if not isinstance(tool, dict):
            raise invalid_type(f"tools[{i}]", "an object", tool)
        function = tool.get("function")
        if tool.get("type", "function") != "function":
            continue  # custom tools: accepted, not offered as functions
        if not isinstance(function, dict):
            raise missing(f"tools[{i}].function")
        name = function.get("name")
        if not isinstance(name, str):
            raise missing(f"tools[{i}].function.name")
        params = function.get("parameters")
        specs.append(ToolSpec(name, function.get("description"), params if isinstance(params, dict) else None))
    return tuple(specs)


@dataclass(frozen=True, slots=True)
class Guided:
    """The guided-decoding fields of vLLM-based servers such as Scale's (wire-format §7b)."""

    schema: Mapping[str, Any] | None = None
    choice: tuple[str, ...] = ()
    regex: str | None = None
    include_stop: bool = False
    last_k: int | None = None


def parse_guided(body: Mapping[str, Any]) -> Guided:
    """Validate `guided_json`, `guided_choice`, `guided_regex`, `include_stop_str_in_output` and
    `memory_strategy` (only `last_k`: the last k messages count). `guided_grammar` is accepted as is."""
    if not any(key in body for key in _GUIDED_KEYS):
        return Guided()
    schema = body.get("guided_json")
    if schema is not None and not isinstance(schema, dict):
        raise invalid_type("guided_json", "an object", schema)
    choice = body.get("guided_choice")
    if choice is not None and (
        not isinstance(choice, list) or not choice or not all(isinstance(c, str) for c in choice)
    ):
        raise invalid_type("guided_choice", "a non-empty array of strings", choice)
    regex = body.get("guided_regex")
    if regex is not None:
        if not isinstance(regex, str):
            raise invalid_type("guided_regex", "a string", regex)
        try:
            re.compile(regex)
        except re.error as exc:
            raise ProviderRequestError(f"Invalid 'guided_regex': {exc}.", param="guided_regex") from None
    include_stop = body.get("include_stop_str_in_output", False)
    if not isinstance(include_stop, bool):
        raise invalid_type("include_stop_str_in_output", "a boolean", include_stop)
    strategy = body.get("memory_strategy")
    last_k = None
    if strategy is not None:
        if not isinstance(strategy, dict) or strategy.get("name") != "last_k":
            raise ProviderRequestError(
                'Invalid \'memory_strategy\': only {"name": "last_k", "k": <int>} is supported.',
                param="memory_strategy",
            )
        k = strategy.get("k")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise invalid_type("memory_strategy.k", "an integer of 1 or more", k)
        last_k = k
    return Guided(schema, tuple(choice or ()), regex, include_stop, last_k)


_GUIDED_KEYS = ("guided_json", "guided_choice", "guided_regex", "include_stop_str_in_output", "memory_strategy")


class OpenAIChat:
    """The OpenAI Chat Completions dialect."""

    api = "openai-chat"
    id_prefix = "chatcmpl-"
    routes: tuple[str, ...] = ("/v1/chat/completions",)

    def api_key(self, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> str | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

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
        n = _number(body, "n", 1, 128, integer=True) or 1
        _number(body, "temperature", 0, 2)
        _number(body, "top_p", 0, 1)
        _number(body, "frequency_penalty", -2, 2)
        _number(body, "presence_penalty", -2, 2)
        _number(body, "top_logprobs", 0, 20, integer=True)
        max_tokens = _number(body, "max_completion_tokens", 1, 2**31, integer=True)
        if max_tokens is None:
            max_tokens = _number(body, "max_tokens", 1, 2**31, integer=True)
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise invalid_type("seed", "an integer", seed)
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
            tools=_tools(body.get("tools")),
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
        if request.body.get("logprobs") is not True:
            return None
        top = request.body.get("top_logprobs") or 0
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

    def completion_body(self, completion: Completion, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
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
                    "logprobs": self._logprobs(request, choice.tokens if choice.has_text else (), meta.id),
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

    def stream_events(self, completion: Completion, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        """Per choice: the role chunk, reasoning chunks, content (or refusal) chunks, tool-call fragments, and the
        finish chunk; choices interleave step by step. Then the usage chunk when `stream_options.include_usage`
        asked for it, and `[DONE]` (§2.4)."""
        head = (
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
        tail = ',"usage":null}' if request.include_usage else "}"

        def chunk(index: int, delta: dict[str, Any], finish_reason: str | None = None, logprobs: Any = None) -> str:
            if logprobs is None and finish_reason is None and len(delta) == 1 and "content" in delta:
                # The common chunk, built from a template: only the text needs escaping (same bytes as dumps).
                return (
                    f'{head}[{{"index":{index},"delta":{{"content":{encode_basestring(delta["content"])}}},'
                    f'"logprobs":null,"finish_reason":null}}]{tail}'
                )
            choice = {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}
            return head + dumps([choice]) + tail

        events = [
            Event(
                chunk(
                    c.index,
                    {"role": "assistant", "content": "" if c.has_text or c.refusal is None else None, "refusal": None},
                ),
                kind="role",
            )
            for c in completion.choices
        ]
        plans = [self._choice_steps(choice, request, meta.id) for choice in completion.choices]
        for step in range(max((len(p) for p in plans), default=0)):
            for choice, plan in zip(completion.choices, plans, strict=True):
                if step < len(plan):
                    delta, tokens, logprobs = plan[step]
                    events.append(Event(chunk(choice.index, delta, None, logprobs), tokens=tokens, step=step))
        events.extend(Event(chunk(c.index, {}, c.finish_reason), kind="finish") for c in completion.choices)
        if request.include_usage:
            events.append(Event(head + '[],"usage":' + dumps(self.usage(completion.usage)) + "}", kind="usage"))
        events.append(Event("[DONE]", kind="done"))
        return events

    def _choice_steps(
        self, choice: PlannedChoice, request: ChatRequest, seed: str
    ) -> list[tuple[dict[str, Any], int, Any]]:
        """The deltas of one choice after its role chunk: (delta, tokens, logprobs) per chunk. Tool calls carry
        `index` on every fragment and id/type/name on the first only (§2.4, trap 14)."""
        steps: list[tuple[dict[str, Any], int, Any]] = []
        for piece in choice.reasoning_chunks:
            steps.append(({"reasoning_content": "".join(piece)}, len(piece), None))
        position = 0
        for piece in choice.chunks:
            key = "content" if choice.has_text else "refusal"
            logprobs = self._logprobs(request, piece, seed, position) if choice.has_text else None
            steps.append(({key: "".join(piece)}, len(piece), logprobs))
            position += len(piece)
        for index, call in enumerate(choice.tool_calls):
            first = {
                "index": index,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            steps.append(({"tool_calls": [first]}, 0, None))
            for piece in call.chunks:
                fragment = {"index": index, "function": {"arguments": "".join(piece)}}
                steps.append(({"tool_calls": [fragment]}, len(piece), None))
        return steps

    def stream_error_event(self, error: StreamError) -> Event:
        """A mid-stream error: a data object with a top-level `error` (what the SDKs raise on, §2.5/§8.3)."""
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
        """The error envelope `{"error": {message, type, param, code}}`; `flat` sends the object alone, as some
        OpenAI-compatible providers do (wire-format §7a)."""
        default_type = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        error = {
            "message": message or ERROR_MESSAGES.get(status, f"Error {status}."),
            "type": type or default_type,
            "param": param,
            "code": ERROR_CODES.get(status) if code is None else code,
            **(extra or {}),
        }
        return error if flat else {"error": error}

    def response_headers(self, meta: ReplyMeta) -> dict[str, str]:
        return {"x-request-id": meta.request_id, "openai-version": "2020-10-01", "openai-processing-ms": "0"}
