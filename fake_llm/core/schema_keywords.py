"""What a JSON Schema's keywords imply for a value: its possible types, two schemas merged into one (allOf, $ref
siblings), numeric bounds and counts."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeGuard

_OBJECT_KEYS = ("properties", "required", "additionalProperties", "patternProperties", "minProperties")
_ARRAY_KEYS = ("items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains")
_NUMBER_KEYS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_TYPES = ("string", "integer", "number", "boolean", "null", "array", "object")


def type_list(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        declared = [declared]
    if isinstance(declared, list):
        return [t for t in (str(d).lower() for d in declared) if t in _TYPES]
    if any(k in schema for k in _OBJECT_KEYS):
        return ["object"]
    if any(k in schema for k in _ARRAY_KEYS):
        return ["array"]
    return ["number"] if any(k in schema for k in _NUMBER_KEYS) else []


def merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Both schemas' constraints in one (for allOf and $ref siblings): bounds tighten, required and types combine."""
    out = dict(a)
    for key, new in b.items():
        old = out.get(key)
        if old is None:
            out[key] = new
        elif key == "properties" and isinstance(old, Mapping) and isinstance(new, Mapping):
            out[key] = {**old, **{k: ({"allOf": [old[k], v]} if k in old else v) for k, v in new.items()}}
        elif key == "required" and isinstance(old, list) and isinstance(new, list):
            out[key] = list(dict.fromkeys([*old, *new]))
        elif key in _LOWER_BOUNDS + _UPPER_BOUNDS and is_number(old) and is_number(new):
            out[key] = max(old, new) if key in _LOWER_BOUNDS else min(old, new)
        elif key == "type":
            left, right = type_list({"type": old}), type_list({"type": new})
            both = [t for t in left if t in right or (t == "integer" and "number" in right)]
            both += ["integer"] if "number" in left and "integer" in right and "integer" not in both else []
            if not both:
                raise ValueError(f"allOf requires a value of type {old!r} and of type {new!r} at once")
            out[key] = both
        elif key == "enum" and isinstance(old, list) and isinstance(new, list):
            out[key] = [v for v in old if v in new]
            if not out[key]:
                raise ValueError(f"allOf enums {old!r} and {new!r} have no value in common")
        elif key in ("anyOf", "oneOf", "allOf"):
            out["allOf"] = [*out.get("allOf", []), {key: new}] if key != "allOf" else [*out.get("allOf", []), *new]
        else:
            out[key] = new
    return out


def is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_multiple(value: float, step: float) -> bool:
    # The same test jsonschema applies, float rounding included.
    if isinstance(step, float):
        quotient = value / step
        return math.isfinite(quotient) and int(quotient) == quotient
    return value % step == 0


def count_or(value: object, default: int | None) -> Any:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default


def numeric_bounds(schema: Mapping[str, Any]) -> tuple[float | None, bool, float | None, bool]:
    """(low, low is exclusive, high, high is exclusive); draft 4's boolean exclusiveMinimum included."""
    lo, hi = schema.get("minimum"), schema.get("maximum")
    lo_ex, hi_ex = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    lo_open, hi_open = lo_ex is True, hi_ex is True
    if is_number(lo_ex) and (not is_number(lo) or lo_ex >= lo):
        lo, lo_open = lo_ex, True
    if is_number(hi_ex) and (not is_number(hi) or hi_ex <= hi):
        hi, hi_open = hi_ex, True
    return (lo if is_number(lo) else None), lo_open, (hi if is_number(hi) else None), hi_open
