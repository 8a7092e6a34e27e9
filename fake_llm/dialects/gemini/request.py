"""Gemini request validation: 400s worded as Google words them (proto field paths), and the contents, system
instruction, function declarations, tool config and JSON mode read into provider-neutral form (wire-format §6)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from fake_llm.errors import ProviderRequestError
from fake_llm.model.request import Message, ToolCall, ToolSpec

PROTO = "type.googleapis.com/google.ai.generativelanguage.v1beta."

MIME_TYPES = ("text/plain", "application/json", "application/xml", "application/yaml", "text/x.enum")
MODES = ("MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED")
FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}")
#: Part fields that carry data; a part needs one of them (Part.data is a oneof).
DATA_FIELDS: tuple[str, ...] = ("text", "inlineData", "fileData", "functionCall", "functionResponse")
DATA_FIELDS += ("executableCode", "codeExecutionResult")
_COUNT_KEYS = ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties")


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def get_field(obj: Mapping[str, Any], name: str) -> Any:
    """A field by its JSON name or its proto name: Google's JSON parser accepts both (`inlineData`, `inline_data`)."""
    return obj[name] if name in obj else obj.get(_snake(name))


def invalid(field: str, message: str) -> ProviderRequestError:
    """A validation failure as Google words it; fields use proto (snake_case) paths, as Google's messages do."""
    return ProviderRequestError(f"* GenerateContentRequest.{field}: {message}\n", param=field)


def bad_value(field: str, kind: str, value: Any) -> ProviderRequestError:
    """A JSON value of the wrong type, as Google's JSON parser reports it."""
    return ProviderRequestError(f"Invalid value at '{field}' ({kind}), {dumps(value)}", param=field)


def object_field(value: Any, field: str, kind: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_value(field, PROTO + kind, value)
    return value


def number_field(config: Mapping[str, Any], name: str, low: float, high: float, *, integer: bool = False) -> Any:
    """A numeric generationConfig field; proto JSON also accepts numbers written as strings."""
    field = f"generation_config.{_snake(name)}"
    value = get_field(config, name)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = int(value) if integer else float(value)
        except ValueError:
            raise bad_value(field, "TYPE_INT32" if integer else "TYPE_FLOAT", value) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise bad_value(field, "TYPE_INT32" if integer else "TYPE_FLOAT", value)
    if not low <= value <= high:
        shown = f"[{low:g}, {high:g}]" if high < 2**31 else f">= {low:g}"
        raise invalid(field, f"{_snake(name)} must be {'in the range ' if high < 2**31 else ''}{shown}.")
    return value


def json_schema(schema: Any) -> Any:
    """A Gemini (OpenAPI subset) Schema as JSON Schema: lower-case types, `nullable`, int64 counts sent as strings."""
    if isinstance(schema, list):
        return [json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for raw_key, value in schema.items():
        key = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), raw_key)
        if key in ("nullable", "propertyOrdering"):
            continue
        if key == "type" and isinstance(value, str):
            if value.upper() == "TYPE_UNSPECIFIED":
                continue
            value = value.lower()
        elif key in _COUNT_KEYS and isinstance(value, str) and value.isdigit():
            value = int(value)
        elif key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            value = {name: json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties", "prefixItems", "not"):
            value = json_schema(value)
        out[key] = value
    if get_field(schema, "nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def _result_text(response: Any) -> str:
    """A functionResponse's `response` as tool-result text: a lone string value (`{"result": "sunny"}`, as the SDK's
    automatic function calling sends) is the text itself, anything else its JSON."""
    if isinstance(response, dict) and len(response) == 1:
        (value,) = response.values()
        if isinstance(value, str):
            return value
    return dumps(response)


def parse_system(body: Mapping[str, Any]) -> list[Message]:
    raw = get_field(body, "systemInstruction")
    if raw is None:
        return []
    if isinstance(raw, str):
        return [Message("system", raw)]
    parts = object_field(raw, "system_instruction", "Content").get("parts") or []
    if not isinstance(parts, list):
        raise bad_value("system_instruction.parts", PROTO + "Part", parts)
    texts = [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return [Message("system", "\n".join(texts))]


def parse_contents(raw: Any) -> list[Message]:
    """Turns into Messages: a model turn is one assistant message (its functionCalls as tool calls, with ids
    invented from position when the client sent none); each functionResponse a tool message answering the call
    of the preceding model turn with the same id or name, which is what `tool_result_for` matches on."""
    if not raw:
        raise invalid("contents", "contents is not specified")
    if not isinstance(raw, list):
        raise bad_value("contents", PROTO + "Content", raw)
    messages: list[Message] = []
    pending: list[ToolCall] = []  # the calls of the preceding model turn that have no response yet
    for i, content in enumerate(raw):
        field = f"contents[{i}]"
        content = object_field(content, field, "Content")
        role = content.get("role") or "user"
        if role not in ("user", "model", "function"):
            raise ProviderRequestError("Please use a valid role: user, model.", param=f"{field}.role")
        parts = content.get("parts")
        if not parts:
            raise invalid(f"{field}.parts", "contents.parts must not be empty.")
        if not isinstance(parts, list):
            raise bad_value(f"{field}.parts", PROTO + "Part", parts)
        texts: list[str] = []
        calls: list[ToolCall] = []
        results: list[Message] = []
        has_image = False
        for j, part in enumerate(parts):
            where = f"{field}.parts[{j}]"
            part = object_field(part, where, "Part")
            if not any(get_field(part, name) is not None for name in DATA_FIELDS):
                raise invalid(f"{where}.data", "required oneof field 'data' must have one initialized field")
            if "text" in part:
                if not isinstance(part["text"], str):
                    raise bad_value(f"{where}.text", "TYPE_STRING", part["text"])
                if not part.get("thought"):  # thought summaries are not conversation text
                    texts.append(part["text"])
            for name in ("inlineData", "fileData"):
                media = get_field(part, name)
                if media is not None:
                    mime = get_field(object_field(media, f"{where}.{_snake(name)}", "Blob"), "mimeType")
                    has_image = has_image or str(mime or "").startswith("image/")
            call = get_field(part, "functionCall")
            if call is not None:
                calls.append(_call(object_field(call, f"{where}.function_call", "FunctionCall"), where, i, j))
            response = get_field(part, "functionResponse")
            if response is not None:
                results.append(_result(response, f"{where}.function_response", pending))
        if results and pending:
            raise ProviderRequestError(
                "Please ensure that the number of function response parts is equal to the number of function "
                "call parts of the function call turn.",
                param=f"{field}.parts",
            )
        messages.extend(results)
        if role == "model":
            messages.append(Message("assistant", "".join(texts), tuple(calls)))
        elif texts or has_image or not results:
            messages.append(Message("user", "\n".join(texts), has_image=has_image))
        pending = calls
    return messages


def _call(call: Mapping[str, Any], where: str, i: int, j: int) -> ToolCall:
    name, args = call.get("name"), call.get("args")
    if not isinstance(name, str) or not name:
        raise invalid(f"{where}.function_call.name", "function_call.name must not be empty.")
    if args is not None and not isinstance(args, dict):
        raise bad_value(f"{where}.function_call.args", "type.googleapis.com/google.protobuf.Struct", args)
    call_id = call.get("id")
    return ToolCall(call_id if isinstance(call_id, str) and call_id else f"{name}@{i}.{j}", name, dumps(args or {}))


def _result(raw: Any, where: str, pending: list[ToolCall]) -> Message:
    response = object_field(raw, where, "FunctionResponse")
    name, given = response.get("name"), response.get("id")
    if not isinstance(name, str) or not name:
        raise invalid(f"{where}.name", "function_response.name must not be empty.")
    if not pending:
        raise ProviderRequestError(
            "Please ensure that function response turn comes immediately after a function call turn.", param=where
        )
    by_id = [c for c in pending if given and c.id == given]
    matches = by_id or [c for c in pending if c.name == name]
    if not matches:
        called = ", ".join(sorted({c.name for c in pending}))
        raise ProviderRequestError(
            f"Function response '{name}' answers no function call of the preceding model turn (it called {called}).",
            param=f"{where}.name",
        )
    pending.remove(matches[0])
    return Message("tool", _result_text(response.get("response")), tool_call_id=matches[0].id, name=name)


def parse_tools(raw: Any) -> tuple[ToolSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise bad_value("tools", PROTO + "Tool", raw)
    specs = []
    for i, tool in enumerate(raw):
        declarations = get_field(object_field(tool, f"tools[{i}]", "Tool"), "functionDeclarations")
        for k, declaration in enumerate(declarations or []):  # googleSearch, codeExecution ...: not functions
            where = f"tools[{i}].function_declarations[{k}]"
            declaration = object_field(declaration, where, "FunctionDeclaration")
            name = declaration.get("name")
            if not isinstance(name, str) or not FUNCTION_NAME.fullmatch(name):
                raise invalid(
                    f"{where}.name",
                    "Invalid function name. Must start with a letter or an underscore. Must be alphameric "
                    "(a-z, A-Z, 0-9), underscores (_), dots (.), colons (:), or dashes (-), with a maximum "
                    "length of 64.",
                )
            schema = get_field(declaration, "parametersJsonSchema")
            if schema is None:
                schema = json_schema(declaration.get("parameters"))
            description = declaration.get("description")
            specs.append(ToolSpec(name, description, schema if isinstance(schema, dict) else None))
    return tuple(specs)


def parse_tool_choice(tool_config: Mapping[str, Any]) -> Any:
    """functionCallingConfig as the tool_choice values ChatRequest.tool_choice_name reads: NONE → none,
    AUTO/VALIDATED → auto, ANY → required, or the function when ANY allows exactly one."""
    where = "tool_config.function_calling_config"
    config = get_field(tool_config, "functionCallingConfig")
    if config is None:
        return None
    mode = object_field(config, where, "FunctionCallingConfig").get("mode", "AUTO")
    if mode not in MODES:
        kind = PROTO + "FunctionCallingConfig.Mode"
        raise bad_value(f"{where}.mode", kind, mode)
    allowed = get_field(config, "allowedFunctionNames") or []
    if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
        raise bad_value(f"{where}.allowed_function_names", "TYPE_STRING", allowed)
    if mode == "NONE":
        return "none"
    if mode != "ANY":
        return "auto"
    return {"type": "function", "function": {"name": allowed[0]}} if len(allowed) == 1 else "required"


def parse_response_format(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """JSON mode as the response_format `generate:` replies read (replies.scripted_text)."""
    mime = get_field(config, "responseMimeType")
    if mime is not None and mime not in MIME_TYPES:
        raise invalid(
            "generation_config.response_mime_type",
            "allowed mimetypes are `text/plain`, `application/json`, `application/xml`, `application/yaml` "
            "and `text/x.enum`.",
        )
    schema = get_field(config, "responseJsonSchema")
    if schema is None:
        schema = json_schema(get_field(config, "responseSchema"))
    if schema is not None and mime not in ("application/json", "text/x.enum"):
        raise invalid(
            "generation_config.response_mime_type",
            "response_mime_type must be `application/json` or `text/x.enum` when a response schema is set.",
        )
    if mime != "application/json":
        return None
    return {"type": "json_schema", "json_schema": {"schema": schema}} if schema else {"type": "json_object"}
