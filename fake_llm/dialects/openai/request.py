"""OpenAI Chat Completions request validation: 400s worded as OpenAI words them (type_name, invalid_type, missing),
`messages` and their tool traffic, function tools, and vLLM's guided-decoding fields (wire-format §2, §7b)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fake_llm.errors import ProviderRequestError
from fake_llm.model.request import Message, ToolCall, ToolSpec
from fake_llm.scenarios.safe_regex import UnsafeRegex, compile_linear

ROLES = ("system", "assistant", "user", "function", "tool", "developer")


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


def number_field(body: Mapping[str, Any], name: str, low: float, high: float, *, integer: bool = False) -> Any:
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


def parse_tools(raw: Any) -> tuple[ToolSpec, ...]:
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
        try:  # RE2: linear time whatever the pattern (safe_regex.py)
            compile_linear(regex)
        except UnsafeRegex as exc:
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
