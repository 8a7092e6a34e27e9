"""Ollama request validation (`/api/chat`, `/api/generate`): messages with dict tool arguments, `options`, `format`
(`json` or a JSON schema) and `think`, reduced to a ChatRequest; 400s worded as Ollama words them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fake_llm.errors import ProviderRequestError
from fake_llm.model.request import Message, ToolCall, ToolSpec

ROLES = ("system", "user", "assistant", "tool")


def bad(message: str, param: str | None = None) -> ProviderRequestError:
    return ProviderRequestError(message, param=param)


def json_type(value: Any) -> str:
    """How Go's encoding/json names a JSON value in an unmarshal error."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "null" if value is None else "object"


def unmarshal_error(value: Any, go_type: str, field: str) -> ProviderRequestError:
    """Ollama answers a body that does not fit its Go struct with the decoder's own text."""
    return bad(f"json: cannot unmarshal {json_type(value)} into Go struct field {field} of type {go_type}", field)


def model_of(body: Any) -> str:
    if not isinstance(body, dict):
        raise bad(f"json: cannot unmarshal {json_type(body)} into Go value of type api.ChatRequest")
    model = body.get("model")
    if model is None or model == "":
        raise bad("model is required", "model")
    if not isinstance(model, str):
        raise unmarshal_error(model, "string", "model")
    return model


def _arguments(raw: Any, field: str) -> str:
    """Tool-call arguments are an object on Ollama's wire (a JSON string is refused, as by Ollama's decoder)."""
    if raw is None:
        return "{}"
    if not isinstance(raw, dict):
        raise unmarshal_error(raw, "api.ToolCallFunctionArguments", field)
    return json.dumps(raw, ensure_ascii=False, separators=(",", ":"))


def parse_messages(raw: Any) -> tuple[Message, ...]:
    """Ollama messages; assistant tool calls get synthetic ids so that a later `tool` message (which names the
    tool, not a call id) links back to the call it answers."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise unmarshal_error(raw, "[]api.Message", "messages")
    messages: list[Message] = []
    open_calls: dict[str, str] = {}  # tool name -> id of its latest call
    for i, item in enumerate(raw):
        field = f"messages[{i}]"
        if not isinstance(item, dict):
            raise unmarshal_error(item, "api.Message", field)
        role = item.get("role")
        if not isinstance(role, str) or not role:
            raise bad(f"{field}.role is required", f"{field}.role")
        if role not in ROLES:
            raise bad(f'invalid role "{role}": must be one of {", ".join(ROLES)}', f"{field}.role")
        content = item.get("content", "")
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise unmarshal_error(content, "string", f"{field}.content")
        calls: list[ToolCall] = []
        for j, call in enumerate(item.get("tool_calls") or ()):
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise bad(f"{field}.tool_calls[{j}].function.name is required", f"{field}.tool_calls[{j}]")
            call_id = call.get("id") if isinstance(call.get("id"), str) else f"call_{i}_{j}"
            calls.append(ToolCall(call_id, function["name"], _arguments(function.get("arguments"), f"{field}")))
            open_calls[function["name"]] = call_id
        tool_name = item.get("tool_name") or item.get("name")
        call_id = None
        if role == "tool":
            call_id = open_calls.get(tool_name) if isinstance(tool_name, str) else None
            if call_id is None and open_calls:  # no name given: the latest call is the one answered
                call_id = list(open_calls.values())[-1]
        images = item.get("images")
        messages.append(
            Message(
                role,
                content,
                tuple(calls),
                call_id,
                tool_name if isinstance(tool_name, str) else None,
                bool(images),
            )
        )
    return tuple(messages)


def parse_tools(raw: Any) -> tuple[ToolSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise unmarshal_error(raw, "api.Tools", "tools")
    specs = []
    for i, tool in enumerate(raw):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise bad(f"tools[{i}].function.name is required", f"tools[{i}]")
        params = function.get("parameters")
        specs.append(
            ToolSpec(function["name"], function.get("description"), params if isinstance(params, dict) else None)
        )
    return tuple(specs)


def parse_format(raw: Any) -> Mapping[str, Any] | None:
    """`format: json` is JSON mode; an object is a JSON schema the answer must fit (structured outputs)."""
    if raw is None or raw == "":
        return None
    if raw == "json":
        return {"type": "json_object"}
    if isinstance(raw, dict):
        return {"type": "json_schema", "json_schema": {"name": "format", "schema": raw}}
    raise bad(f'invalid format: {json.dumps(raw)}: expected "json" or a JSON schema', "format")


def parse_options(raw: Any) -> dict[str, Any]:
    """`options` (the Modelfile parameters): numbers checked by type, `stop` a list of strings."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise unmarshal_error(raw, "map[string]interface {}", "options")
    for name in ("temperature", "top_p", "top_k", "num_predict", "seed", "num_ctx"):
        value = raw.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise bad(f"option {name!r} must be of type number, got {json_type(value)}", f"options.{name}")
    stop = raw.get("stop")
    if stop is not None and (not isinstance(stop, list) or not all(isinstance(s, str) for s in stop)):
        raise bad("option 'stop' must be of type array of strings", "options.stop")
    return dict(raw)


def check_stream(body: Mapping[str, Any]) -> bool:
    """Ollama streams unless `stream: false` (the opposite of OpenAI's default)."""
    stream = body.get("stream", True)
    if stream is None:
        return True
    if not isinstance(stream, bool):
        raise unmarshal_error(stream, "bool", "stream")
    return stream
