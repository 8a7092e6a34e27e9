"""JSON mode without a schema: the object shape a prompt asks for, read from a JSON example in it or from the keys it
names ("respond with keys setup and punchline", "with the fields a, b and c"), as a JSON Schema to generate from."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

_NAME = r"""["'`]?[A-Za-z_][\w-]*["'`]?"""
#: "keys a, b and c", "the fields: `a`, `b`", "properties named a and b", "keys are a or b".
_NAMED_KEYS = re.compile(
    rf"\b(?:keys?|fields?|properties|attributes)\b(?:\s+(?:named|called|are|is))?\s*:?\s*(?P<list>{_NAME}"
    rf"(?:\s*(?:,\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+|\s*&\s*)\s*{_NAME})*)",
    re.IGNORECASE,
)
_ITEM = re.compile(rf"(?P<joiner>,\s*(?:and|or)\s+|\s+(?:and|or)\s+|\s*[,&]\s*)?(?P<name>{_NAME})", re.IGNORECASE)
#: Words that follow "keys"/"fields" in prose without being key names.
_NOT_NAMES = frozenset(
    [
        "the",
        "this",
        "that",
        "these",
        "those",
        "following",
        "below",
        "above",
        "in",
        "of",
        "for",
        "with",
        "to",
        "from",
        "as",
        "json",
        "object",
        "objects",
        "and",
        "or",
        "should",
        "must",
        "will",
        "like",
        "such",
    ]
)


def requested_schema(texts: Iterable[str]) -> dict[str, Any] | None:
    """The schema of the object the texts ask for (the last text that asks wins: the user over the system), or None
    when none names a key. A JSON object example gives its keys and value types; named keys are strings."""
    found: dict[str, Any] | None = None
    for text in texts:
        schema = _from_example(text) or _from_names(text)
        if schema is not None:
            found = schema
    return found


def _from_names(text: str) -> dict[str, Any] | None:
    for match in _NAMED_KEYS.finditer(text):
        names: list[str] = []
        for item in _ITEM.finditer(match["list"]):
            name = item["name"].strip("\"'`")
            if not names and name.lower() in _NOT_NAMES:
                break
            names.append(name)
            if item["joiner"] and re.search(r"\b(?:and|or)\b", item["joiner"], re.IGNORECASE):
                break  # an English list ends with "and x": what follows is prose
        names = [n for n in names if n.lower() not in _NOT_NAMES]
        if names:
            return _object({name: {"type": "string"} for name in dict.fromkeys(names)})
    return None


def _from_example(text: str) -> dict[str, Any] | None:
    """The first `{...}` in the text that parses as a non-empty JSON object."""
    decoder = json.JSONDecoder()
    for start in (m.start() for m in re.finditer(r"\{", text)):
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(value, dict) and value:
            schema = _schema_of(value)
            return schema
    return None


def _schema_of(value: Any) -> dict[str, Any]:
    """A schema an example value fits, so generated values keep the example's types."""
    if isinstance(value, dict):
        return _object({str(k): _schema_of(v) for k, v in value.items()})
    if isinstance(value, list):
        return {"type": "array", "items": _schema_of(value[0])} if value else {"type": "array"}
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    return {"type": "null"} if value is None else {"type": "string"}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}
