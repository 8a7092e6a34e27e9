"""OpenAI Chat Completions (`POST /v1/chat/completions`): request validation and wire shapes (wire-format §2)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fake_llm.chat import ChatRequest, Message, ToolCall, ToolSpec
from fake_llm.errors import ProviderRequestError
from fake_llm.providers.base import ReplyMeta
from fake_llm.replies import Completion, Usage, merge
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
    return ProviderRequestError(f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")


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
            raise missing(f"{param}.tool_call_id") if tool_call_id is None else invalid_type(
                f"{param}.tool_call_id", "a string", tool_call_id
            )
        name = item.get("name")
        messages.append(Message(role, text, tool_calls, tool_call_id, name if isinstance(name, str) else None, has_image))
    return tuple(messages)


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


class OpenAIChat:
    """The OpenAI Chat Completions dialect."""

    api = "openai-chat"
    id_prefix = "chatcmpl-"

    def api_key(self, headers: Mapping[str, str]) -> str | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def parse(self, body: Any, headers: Mapping[str, str]) -> ChatRequest:
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
        return ChatRequest(
            api=self.api,
            model=model,
            messages=messages,
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
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        merged = merge(computed, usage.overrides)
        if "total_tokens" not in usage.overrides:
            merged["total_tokens"] = merged["prompt_tokens"] + merged["completion_tokens"]
        return merged

    def completion_body(self, completion: Completion, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        return {
            "id": meta.id,
            "object": "chat.completion",
            "created": meta.created,
            "model": completion.model,
            "choices": [
                {
                    "index": choice.index,
                    "message": {"role": "assistant", "content": choice.text, "refusal": None, "annotations": []},
                    "logprobs": None,
                    "finish_reason": choice.finish_reason,
                }
                for choice in completion.choices
            ],
            "usage": self.usage(completion.usage),
            "service_tier": "default",
            "system_fingerprint": meta.system_fingerprint,
        }

    def stream_events(self, completion: Completion, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        """Role chunk per choice, content chunks (`chunk_tokens` tokens each, choices interleaved), a finish chunk
        per choice, the usage chunk when `stream_options.include_usage` asked for it, then `[DONE]` (§2.4)."""
        head = (
            '{"id":' + dumps(meta.id) + ',"object":"chat.completion.chunk","created":' + str(meta.created)
            + ',"model":' + dumps(completion.model) + ',"service_tier":"default","system_fingerprint":'
            + dumps(meta.system_fingerprint) + ',"choices":'
        )
        tail = ',"usage":null}' if request.include_usage else "}"

        def chunk(index: int, delta: dict[str, Any], finish_reason: str | None = None) -> str:
            choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return head + dumps([choice]) + tail

        events = [
            Event(chunk(c.index, {"role": "assistant", "content": "", "refusal": None}), kind="role")
            for c in completion.choices
        ]
        for step in range(max((len(c.chunks) for c in completion.choices), default=0)):
            for choice in completion.choices:
                if step < len(choice.chunks):
                    text, tokens = choice.chunks[step]
                    events.append(Event(chunk(choice.index, {"content": text}), tokens=tokens, step=step))
        events.extend(Event(chunk(c.index, {}, c.finish_reason), kind="finish") for c in completion.choices)
        if request.include_usage:
            events.append(Event(head + '[],"usage":' + dumps(self.usage(completion.usage)) + "}", kind="usage"))
        events.append(Event("[DONE]", kind="done"))
        return events

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
