"""Typed templates: scripted values (template output is always text) coerced to the types a JSON Schema declares,
as a real model would send them: `"3"` becomes 3 for an integer, `"yes"` true for a boolean, `"a, b"` a list."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


class CoercionError(ValueError):
    """A value that cannot take the type its schema declares; `field` is its dotted path (`items[2].count`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field or '<value>'}: {message}")
        self.field = field
        self.message = message


def coerce(value: Any, schema: Any, *, root: Mapping[str, Any] | None = None, field: str = "") -> Any:
    """`value` converted to the types `schema` declares (objects and arrays walked); raises CoercionError naming the
    field when it cannot be. Keywords other than type, enum, const, properties, items, anyOf/oneOf and local $refs
    are left to validation."""
    return _Coercer(root if root is not None else (schema if isinstance(schema, Mapping) else {})).value(
        value, schema, field
    )


def _join(field: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{field}[{key}]"
    return f"{field}.{key}" if field else key


class _Coercer:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root

    def resolve(self, schema: Any) -> Mapping[str, Any]:
        seen = 0
        while isinstance(schema, Mapping) and isinstance(ref := schema.get("$ref"), str) and seen < 32:
            target: Any = self.root
            if not ref.startswith("#"):
                return {}  # remote refs are not fetched: leave the value as it is
            for part in (p.replace("~1", "/").replace("~0", "~") for p in ref[1:].split("/") if p):
                target = target.get(part) if isinstance(target, Mapping) else None
            schema = {**{k: v for k, v in schema.items() if k != "$ref"}, **(target or {})}
            seen += 1
        return schema if isinstance(schema, Mapping) else {}

    def value(self, value: Any, raw_schema: Any, field: str) -> Any:
        schema = self.resolve(raw_schema)
        if "const" in schema:
            return self.enum(value, [schema["const"]], field)
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list):
                return self.branches(value, schema[key], field)
        if isinstance(schema.get("allOf"), list):
            for part in schema["allOf"]:
                value = self.value(value, part, field)
        if isinstance(schema.get("enum"), list):
            return self.enum(value, schema["enum"], field)
        types = schema.get("type")
        kinds = [types] if isinstance(types, str) else [t for t in types or [] if isinstance(t, str)]
        if not kinds:
            inferred = "object" if "properties" in schema else ("array" if "items" in schema else None)
            return self.typed(value, inferred, schema, field) if inferred and _matches(value, inferred) else value
        for kind in kinds:  # a value that already has one of the types keeps it
            if _matches(value, kind):
                return self.typed(value, kind, schema, field)
        errors = []
        for kind in kinds:
            try:
                return self.typed(value, kind, schema, field)
            except CoercionError as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        raise CoercionError(field, f"cannot make {_show(value)} one of the types {', '.join(kinds)}")

    def branches(self, value: Any, options: list[Any], field: str) -> Any:
        """An alternative that takes the value unchanged wins; else the first that can convert it."""
        results, failures = [], []
        for option in options:
            try:
                results.append(self.value(value, option, field))
            except CoercionError as exc:
                failures.append(exc.message)
        if not results:
            raise CoercionError(field, f"{_show(value)} fits none of the schema's alternatives ({'; '.join(failures)})")
        return value if value in results else results[0]

    def enum(self, value: Any, members: list[Any], field: str) -> Any:
        if any(value == m and type(value) is type(m) for m in members):
            return value
        text = value if isinstance(value, str) else json.dumps(value)
        for member in members:
            spelled = member if isinstance(member, str) else json.dumps(member)
            if spelled.casefold() == text.strip().casefold():
                return member
        raise CoercionError(field, f"{_show(value)} is not one of {json.dumps(members)}")

    def typed(self, value: Any, kind: str, schema: Mapping[str, Any], field: str) -> Any:
        if kind == "object":
            return self.object(_parsed(value, dict, field, "an object"), schema, field)
        if kind == "array":
            return self.array(value, schema, field)
        if kind in ("integer", "number"):
            return _number(value, kind == "integer", field)
        if kind == "boolean":
            return _boolean(value, field)
        if kind == "null":
            if value is None or (isinstance(value, str) and value.strip().lower() in ("", "null", "none")):
                return None
            raise CoercionError(field, f"expected null, got {_show(value)}")
        if kind == "string":
            if isinstance(value, str):
                return value
            if isinstance(value, (int, float, bool)):
                return json.dumps(value)
            raise CoercionError(field, f"expected a string, got {_show(value)}")
        return value

    def object(self, value: dict[str, Any], schema: Mapping[str, Any], field: str) -> dict[str, Any]:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        extra = schema.get("additionalProperties")
        out = {}
        for key, item in value.items():
            if key in properties:
                out[key] = self.value(item, properties[key], _join(field, key))
            elif isinstance(extra, Mapping):
                out[key] = self.value(item, extra, _join(field, key))
            else:
                out[key] = item
        return out

    def array(self, value: Any, schema: Mapping[str, Any], field: str) -> list[Any]:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                items = _parsed(text, list, field, "an array")
            else:  # "a, b, c" from a template: the comma-separated items
                items = [part.strip() for part in text.split(",") if part.strip()] if text else []
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            items = [value]
        prefix = schema.get("prefixItems")
        prefix = prefix if isinstance(prefix, list) else []
        rest = schema.get("items")
        out = []
        for i, item in enumerate(items):
            item_schema = prefix[i] if i < len(prefix) else rest
            out.append(self.value(item, item_schema, _join(field, i)) if item_schema is not None else item)
        return out


def _matches(value: Any, kind: str) -> bool:
    return {
        "object": isinstance(value, Mapping),
        "array": isinstance(value, (list, tuple)),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "null": value is None,
        "string": isinstance(value, str),
    }.get(kind, True)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _parsed(value: Any, kind: type, field: str, wanted: str) -> Any:
    if isinstance(value, kind):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, kind):
            return parsed
    raise CoercionError(field, f"expected {wanted}, got {_show(value)}")


def _number(value: Any, integer: bool, field: str) -> int | float:
    wanted = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise CoercionError(field, f"expected {wanted}, got {_show(value)}")
    number: int | float
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        try:
            number = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise CoercionError(field, f"expected {wanted}, got {_show(value)}") from None
    else:
        number = value
    if isinstance(number, float) and number.is_integer() and abs(number) < 2**53:
        number = int(number)  # a real model writes 3, not 3.0, for a whole number
    if integer and not isinstance(number, int):
        raise CoercionError(field, f"expected an integer, got {_show(value)}")
    return number


def _boolean(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CoercionError(field, f"expected a boolean, got {_show(value)}")
