"""OpenAI Responses request validation: `input` items (messages, function calls and their outputs) as Messages,
flat function tools, tool_choice and `text.format`, with OpenAI's 400 wording (wire-format §3.1)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from fake_llm.dialects.openai.request import invalid_type, missing, type_name
from fake_llm.errors import ProviderRequestError
from fake_llm.model.request import Message, ToolCall, ToolSpec

ROLES = ("user", "assistant", "system", "developer")
TEXT_FORMATS = ("text", "json_object", "json_schema")
PART_TYPES = ("input_text", "input_image", "input_file", "input_audio", "output_text", "refusal", "summary_text")
#: Top-level fields checked only for their JSON type.
FIELD_TYPES: tuple[tuple[str, type, str], ...] = (
    *((name, bool, "a boolean") for name in ("stream", "store", "background", "parallel_tool_calls")),
    *((name, str, "a string") for name in ("instructions", "previous_response_id", "user")),
    *((name, dict, "an object") for name in ("reasoning", "metadata", "stream_options")),
    ("include", list, "an array"),
)


def check_type(body: Mapping[str, Any], name: str, kind: type, expected: str, param: str | None = None) -> Any:
    """`body[name]` when absent, null or a `kind` (booleans are not numbers); else the 400 OpenAI sends."""
    value = body.get(name)
    if value is not None and (not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)):
        raise invalid_type(param or name, expected, value)
    return value


def parse_model(body: Any) -> str:
    """The `model` of a request body that must be a JSON object (the checks every OpenAI endpoint makes first)."""
    if not isinstance(body, dict):
        raise ProviderRequestError(
            f"Invalid request body: expected a JSON object, but got {type_name(body)} instead.", code="invalid_type"
        )
    if body.get("model") is None:
        raise missing("model")
    return str(check_type(body, "model", str, "a string"))


def invalid_value(value: Any, supported: tuple[str, ...], param: str) -> ProviderRequestError:
    listed = ", ".join(f"'{v}'" for v in supported[:-1]) + f", and '{supported[-1]}'"
    return ProviderRequestError(
        f"Invalid value: {json.dumps(value)}. Supported values are: {listed}.", param=param, code="invalid_value"
    )


def _content_text(content: Any, param: str) -> tuple[str, bool]:
    """Text of a message item's content (a string or input/output parts) and whether it holds an image."""
    if isinstance(content, str):
        return content, False
    if not isinstance(content, list):
        raise invalid_type(param, "one of a string or array of input content", content)
    texts: list[str] = []
    has_image = False
    for i, part in enumerate(content):
        if not isinstance(part, dict):
            raise invalid_type(f"{param}[{i}]", "an object", part)
        kind = part.get("type")
        if kind is None:
            raise missing(f"{param}[{i}].type")
        if kind not in PART_TYPES:  # e.g. Chat's `text` part, a common porting mistake
            raise invalid_value(kind, PART_TYPES, f"{param}[{i}].type")
        if kind in ("input_text", "output_text", "summary_text"):
            text = part.get("text")
            if not isinstance(text, str):
                raise invalid_type(f"{param}[{i}].text", "a string", text)
            texts.append(text)
        elif kind == "refusal":
            texts.append(str(part.get("refusal", "")))
        elif kind == "input_image":
            has_image = True
    return "\n".join(texts), has_image


def parse_input(raw: Any, *, stored_calls: bool) -> list[Message]:
    """`input` as Messages: message items, `function_call` items echoed back (joined to the assistant message of
    their turn, as Chat carries them) and `function_call_output` items as tool messages (§3.1). `stored_calls`: a
    previous_response_id holds calls we cannot see, so outputs are not checked against them."""
    if isinstance(raw, str):
        return [Message("user", raw)]
    if not isinstance(raw, list):
        raise invalid_type("input", "one of a string or array of input items", raw)
    messages: list[Message] = []
    calls: list[str] = []  # in input order, so the first unanswered call is the one named
    answered: set[str] = set()
    for i, item in enumerate(raw):
        param = f"input[{i}]"
        if not isinstance(item, dict):
            raise invalid_type(param, "an object", item)
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            role = item.get("role")
            if role is None:
                raise missing(f"{param}.role")
            if role not in ROLES:
                raise invalid_value(role, ROLES, f"{param}.role")
            if "content" not in item:
                raise missing(f"{param}.content")
            text, has_image = _content_text(item["content"], f"{param}.content")
            messages.append(Message(role, text, has_image=has_image))
        elif kind == "function_call":
            call_id, name, arguments = (_required_string(item, key, param) for key in ("call_id", "name", "arguments"))
            call = ToolCall(call_id, name, arguments)
            calls.append(call_id)
            if messages and messages[-1].role == "assistant":
                messages[-1] = dataclasses.replace(messages[-1], tool_calls=(*messages[-1].tool_calls, call))
            else:
                messages.append(Message("assistant", "", (call,)))
        elif kind == "function_call_output":
            call_id = _required_string(item, "call_id", param)
            output = item.get("output")
            if output is None:
                raise missing(f"{param}.output")
            text = output if isinstance(output, str) else _content_text(output, f"{param}.output")[0]
            if call_id not in calls and not stored_calls:
                raise ProviderRequestError(
                    f"No tool call found for function call output with call_id {call_id}.", param="input"
                )
            answered.add(call_id)
            messages.append(Message("tool", text, tool_call_id=call_id))
        elif kind is None:
            raise missing(f"{param}.type")
        # reasoning items, item references and hosted-tool calls are accepted: nothing matching reads is in them
    unanswered = [call for call in calls if call not in answered]
    if unanswered:
        raise ProviderRequestError(f"No tool output found for function call {unanswered[0]}.", param="input")
    return messages


def _required_string(item: Mapping[str, Any], key: str, param: str) -> str:
    if item.get(key) is None:
        raise missing(f"{param}.{key}")
    return str(check_type(item, key, str, "a string", f"{param}.{key}"))


def parse_tools(raw: Any) -> tuple[ToolSpec, ...]:
    """Function tools are flat here (§3.1); a Chat-shaped `{"function": {...}}` tool lacks `name` and is refused."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise invalid_type("tools", "an array", raw)
    specs = []
    for i, tool in enumerate(raw):
        if not isinstance(tool, dict):
            raise invalid_type(f"tools[{i}]", "an object", tool)
        if tool.get("type") is None:
            raise missing(f"tools[{i}].type")
        if tool["type"] != "function":
            continue  # hosted tools (web_search, file_search ...): accepted, never called by a scripted reply
        name = _required_string(tool, "name", f"tools[{i}]")
        params = tool.get("parameters")
        specs.append(ToolSpec(name, tool.get("description"), params if isinstance(params, dict) else None))
    return tuple(specs)


def parse_tool_choice(raw: Any) -> Any:
    """tool_choice in the form ChatRequest.tool_choice_name reads; `allowed_tools` becomes its mode and a hosted
    tool `auto`, since scripted replies only call functions."""
    if isinstance(raw, dict):
        if raw.get("type") == "function":
            _required_string(raw, "name", "tool_choice")
            return raw
        return raw.get("mode", "auto") if raw.get("type") == "allowed_tools" else "auto"
    if raw is not None and raw not in ("none", "auto", "required"):
        if not isinstance(raw, str):
            raise invalid_type("tool_choice", "one of a string or an object", raw)
        raise invalid_value(raw, ("none", "auto", "required"), "tool_choice")
    return raw


def parse_text_format(raw: Any) -> Mapping[str, Any] | None:
    """`text.format` as the Chat-style response_format the reply planner reads (`generate:` fills a json_schema)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise invalid_type("text", "an object", raw)
    fmt = raw.get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict):
        raise invalid_type("text.format", "an object", fmt)
    kind = fmt.get("type")
    if kind not in TEXT_FORMATS:
        raise missing("text.format.type") if kind is None else invalid_value(kind, TEXT_FORMATS, "text.format.type")
    if kind != "json_schema":
        return {"type": kind}
    name = _required_string(fmt, "name", "text.format")
    schema = fmt.get("schema")
    if schema is None:
        raise missing("text.format.schema")
    if not isinstance(schema, dict):
        raise invalid_type("text.format.schema", "an object", schema)
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": fmt.get("strict")}}
