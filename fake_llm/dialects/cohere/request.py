"""Cohere v2 request validation (`/v2/chat`, `/v2/embed`, `/v2/rerank`): messages with typed content parts, tool
calls and tool results, tools, `response_format`, `tool_choice`; 400s in Cohere's words, naming the field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fake_llm.errors import ProviderRequestError
from fake_llm.model.request import Message, ToolCall, ToolSpec

ROLES = ("system", "user", "assistant", "tool")
RESPONSE_FORMATS = ("text", "json_object")
TOOL_CHOICES = ("REQUIRED", "NONE")


def invalid(message: str, param: str | None = None, status: int = 400) -> ProviderRequestError:
    """Cohere prefixes its validation messages with `invalid request: `."""
    return ProviderRequestError(f"invalid request: {message}", param=param, status=status)


def text_field(body: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise invalid(f"{name} must be specified.", name)
        return None
    if not isinstance(value, str) or (required and not value):
        raise invalid(f"{name} must be a non-empty string.", name)
    return value


def number(body: Mapping[str, Any], name: str, low: float, high: float, *, integer: bool = False) -> Any:
    value = body.get(name)
    if value is None:
        return None
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not low <= value <= high:
        what = "an integer" if integer else "a number"
        raise invalid(f"{name} must be {what} between {low:g} and {high:g}.", name)
    return value


def _content(raw: Any, param: str) -> tuple[str, bool]:
    """The text of a message's content (a string or typed parts) and whether it holds an image."""
    if raw is None:
        return "", False
    if isinstance(raw, str):
        return raw, False
    if not isinstance(raw, list):
        raise invalid(f"{param} must be a string or a list of content items.", param)
    texts: list[str] = []
    image = False
    for i, part in enumerate(raw):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            texts.append(str(part.get("text", "")))
        elif kind == "image_url":
            image = True
        elif kind == "document":
            data = part.get("document", {}).get("data") if isinstance(part.get("document"), dict) else None
            texts.append(data if isinstance(data, str) else str(data))
        elif kind != "thinking":
            raise invalid(f"{param}[{i}].type must be one of text, image_url, document.", f"{param}[{i}].type")
    return "\n".join(texts), image


def _tool_calls(raw: Any, param: str) -> tuple[ToolCall, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise invalid(f"{param} must be a list.", param)
    calls = []
    for i, call in enumerate(raw):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise invalid(f"{param}[{i}].function.name must be specified.", f"{param}[{i}].function.name")
        arguments = function.get("arguments", "{}")
        calls.append(ToolCall(str(call.get("id", f"call_{i}")), function["name"], str(arguments)))
    return tuple(calls)


def parse_messages(raw: Any) -> tuple[Message, ...]:
    if raw is None:
        raise invalid("messages must be specified.", "messages")
    if not isinstance(raw, list) or not raw:
        raise invalid("messages must be a non-empty list.", "messages")
    messages = []
    for i, item in enumerate(raw):
        param = f"messages[{i}]"
        if not isinstance(item, dict):
            raise invalid(f"{param} must be an object.", param)
        role = item.get("role")
        if role not in ROLES:
            raise invalid(f"{param}.role must be one of {', '.join(ROLES)}.", f"{param}.role")
        text, image = _content(item.get("content"), f"{param}.content")
        calls = _tool_calls(item.get("tool_calls"), f"{param}.tool_calls") if role == "assistant" else ()
        call_id = item.get("tool_call_id")
        if role == "tool" and not isinstance(call_id, str):
            raise invalid(f"{param}.tool_call_id must be specified.", f"{param}.tool_call_id")
        if role == "user" and not text and not image:
            raise invalid("message must be at least 1 token long or tool results must be specified.", param)
        messages.append(Message(role, text, calls, call_id if role == "tool" else None, None, image))
    return tuple(messages)


def parse_tools(raw: Any) -> tuple[ToolSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise invalid("tools must be a list.", "tools")
    specs = []
    for i, tool in enumerate(raw):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise invalid(f"tools[{i}].function.name must be specified.", f"tools[{i}].function.name")
        params = function.get("parameters")
        specs.append(
            ToolSpec(function["name"], function.get("description"), params if isinstance(params, dict) else None)
        )
    return tuple(specs)


def parse_response_format(raw: Any) -> Mapping[str, Any] | None:
    """`{"type": "json_object", "json_schema": {...}}`: JSON mode, with a schema when one is given."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("type") not in RESPONSE_FORMATS:
        raise invalid("response_format.type must be one of text, json_object.", "response_format.type")
    if raw["type"] == "text":
        return None
    schema = raw.get("json_schema")
    if isinstance(schema, dict):
        return {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}
    return {"type": "json_object"}


def parse_tool_choice(raw: Any) -> str | None:
    """Cohere's `REQUIRED` / `NONE`, as the neutral `required` / `none`."""
    if raw is None:
        return None
    if raw not in TOOL_CHOICES:
        raise invalid("tool_choice must be one of REQUIRED, NONE.", "tool_choice")
    return str(raw).lower()
