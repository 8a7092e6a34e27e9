"""Realtime client events: which names each API generation accepts, and validation of every event's fields.

A bad event never closes the socket: it raises ClientEventError, which the session sends back as an `error`
event naming the field (as the real service does), and the session carries on.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Client event types of the GA interface; the beta interface (`OpenAI-Beta: realtime=v1`) sends the same names
#: plus `transcription_session.update`.
CLIENT_EVENTS = (
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.retrieve",
    "conversation.item.truncate",
    "conversation.item.delete",
    "response.create",
    "response.cancel",
    "output_audio_buffer.clear",
)
BETA_CLIENT_EVENTS = (*CLIENT_EVENTS, "transcription_session.update")
MODALITIES = ("text", "audio")
#: Content part types a client may put in a message item, per role and generation.
PART_TYPES = {
    ("ga", "user"): ("input_text", "input_audio", "input_image"),
    ("ga", "system"): ("input_text",),
    ("ga", "assistant"): ("output_text", "output_audio"),
    ("beta", "user"): ("input_text", "input_audio", "item_reference"),
    ("beta", "system"): ("input_text",),
    ("beta", "assistant"): ("text", "audio"),
}


class ClientEventError(Exception):
    """A client event the service refuses; rendered as an `error` event, the socket stays open."""

    def __init__(self, message: str, *, code: str = "invalid_value", param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        #: The client's `event_id` of the event refused, echoed in the error.
        self.event_id: str | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class ClientEvent:
    """One parsed client event: its type, the client's own `event_id` (echoed in errors) and its fields."""

    type: str
    event_id: str | None
    body: Mapping[str, Any]


def parse_event(raw: str, generation: str) -> ClientEvent:
    """A client event from a text frame; raises ClientEventError (with what event_id could be read) when it is bad."""
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ClientEventError(
            f"Invalid JSON in the client event: {exc.msg} at line {exc.lineno} column {exc.colno}.", code="invalid_json"
        ) from None
    if not isinstance(body, dict):
        raise ClientEventError("The client event must be a JSON object.", code="invalid_event")
    event_id = body.get("event_id") if isinstance(body.get("event_id"), str) else None
    kind = body.get("type")
    allowed = BETA_CLIENT_EVENTS if generation == "beta" else CLIENT_EVENTS
    error = None
    if kind is None:
        error = ClientEventError("The 'type' field is missing.", code="invalid_event", param="type")
    elif kind not in allowed:
        supported = ", ".join(f"'{name}'" for name in allowed)
        error = ClientEventError(f"Invalid value: '{kind}'. Supported values are: {supported}.", param="type")
    if error is not None:
        error.event_id = event_id
        raise error
    return ClientEvent(str(kind), event_id, body)


def missing(param: str) -> ClientEventError:
    return ClientEventError(f"Missing required parameter: '{param}'.", code="missing_required_parameter", param=param)


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean", dict: "an object"}
_TYPE_NAMES[list] = "an array"


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    for kind, name in _TYPE_NAMES.items():
        if type(value) is kind:
            return name.split(" ", 1)[1]
    return type(value).__name__


def field(
    body: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str, *, required: bool = False
) -> Any:
    """`body[key]` checked against `kind` (None when absent and not required); errors name `where.key`."""
    param = f"{where}.{key}" if where else key
    value = body.get(key)
    if value is None:
        if required:
            raise missing(param)
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
        raise ClientEventError(
            f"Invalid type for '{param}': expected {expected}, but got {_type_name(value)} instead.",
            code="invalid_type",
            param=param,
        )
    return value


def one_of(value: Any, allowed: tuple[str, ...], param: str) -> None:
    if value not in allowed:
        supported = ", ".join(f"'{v}'" for v in allowed)
        raise ClientEventError(f"Invalid value: '{value}'. Supported values are: {supported}.", param=param)


def modalities(body: Mapping[str, Any], key: str, where: str) -> list[str] | None:
    """A modalities list (`output_modalities` or beta `modalities`), each value checked."""
    values = field(body, key, list, where)
    if values is None:
        return None
    for index, value in enumerate(values):
        one_of(value, MODALITIES, f"{where}.{key}[{index}]")
    return list(values)


def audio_bytes(body: Mapping[str, Any], key: str, where: str) -> bytes:
    """Base64 audio from `body[key]`, which must be present and decode."""
    text = field(body, key, str, where, required=True)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        param = f"{where}.{key}" if where else key
        raise ClientEventError(
            f"Invalid '{param}': the audio must be base64-encoded.", code="invalid_value", param=param
        ) from None


def check_tools(tools: Any, where: str) -> list[dict[str, Any]]:
    """Function tools as the session takes them: `{type: function, name, description, parameters}`."""
    if tools is None:
        return []
    out = []
    for index, tool in enumerate(tools):
        at = f"{where}.tools[{index}]"
        if not isinstance(tool, dict):
            raise ClientEventError(f"Invalid type for '{at}': expected an object.", code="invalid_type", param=at)
        one_of(tool.get("type", "function"), ("function", "mcp"), f"{at}.type")
        if tool.get("type", "function") == "function":
            field(tool, "name", str, at, required=True)
            field(tool, "parameters", dict, at)
        out.append(tool)
    return out


def check_item(item: Any, generation: str) -> dict[str, Any]:
    """A `conversation.item.create` item, validated as the service does (messages, function calls and outputs)."""
    if item is None:
        raise missing("item")
    if not isinstance(item, dict):
        raise ClientEventError("Invalid type for 'item': expected an object.", code="invalid_type", param="item")
    kind = field(item, "type", str, "item", required=True)
    one_of(kind, ("message", "function_call", "function_call_output"), "item.type")
    field(item, "id", str, "item")
    if kind == "function_call_output":
        field(item, "call_id", str, "item", required=True)
        field(item, "output", str, "item", required=True)
    elif kind == "function_call":
        field(item, "call_id", str, "item", required=True)
        field(item, "name", str, "item", required=True)
        field(item, "arguments", str, "item", required=True)
    else:
        role = field(item, "role", str, "item", required=True)
        one_of(role, ("user", "assistant", "system"), "item.role")
        content = field(item, "content", list, "item", required=True)
        for index, part in enumerate(content):
            at = f"item.content[{index}]"
            if not isinstance(part, dict):
                raise ClientEventError(f"Invalid type for '{at}': expected an object.", code="invalid_type", param=at)
            part_type = field(part, "type", str, at, required=True)
            one_of(part_type, PART_TYPES[(generation, role)], f"{at}.type")
            if part_type in ("input_text", "output_text", "text"):
                field(part, "text", str, at, required=True)
            if part_type == "input_audio":
                audio_bytes(part, "audio", at)
                field(part, "transcript", str, at)
    return item
