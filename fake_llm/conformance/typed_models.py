"""Validation against an official SDK's typed (pydantic) models in strict mode, for providers without a public
OpenAPI document (Anthropic, Gemini, Cohere, Mistral, Ollama).

Strict means: pydantic's strict mode (no coercion: a string is not a number, a number not a string), every
literal and enum checked, required fields present, plus two checks the SDKs' tolerant models do not make:
- extra fields are violations. The SDK models accept unknown keys so that old clients survive new server
  fields, but fake-llm should send only what the provider documents: a stricter client (another language's SDK,
  a typed framework) may reject an unknown field, and a test would pass here and fail against the real API;
- fields the provider sends as `null` rather than leaving out (`REQUIRED_NULLABLE`): the SDKs type them
  `Optional[...] = None`, which cannot tell "absent" from "null", so they are listed per model name.
"""

from __future__ import annotations

import json
import types
import typing
import warnings
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticError

from fake_llm.conformance.registry import Violation


def validate_model(
    name: str,
    model: Any,
    instance: Any,
    where: str = "body",
    required_nullable: Mapping[str, tuple[str, ...]] | None = None,
    by_alias: bool = False,
) -> list[Violation]:
    """Violations of `instance` against `model` (a pydantic model class or a typing union of them)."""
    adapter: TypeAdapter[Any] = TypeAdapter(model)
    # google-genai's enums accept unknown values with a warning (forward compatibility); a value the pinned SDK
    # does not know is exactly what strict mode must report.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = _validate(name, adapter, instance, where, required_nullable, by_alias)
    out += [Violation(name, "$", str(w.message), where) for w in caught if issubclass(w.category, UserWarning)]
    return out


def _validate(
    name: str,
    adapter: TypeAdapter[Any],
    instance: Any,
    where: str,
    required_nullable: Mapping[str, tuple[str, ...]] | None,
    by_alias: bool,
) -> list[Violation]:
    try:
        # JSON mode, as a client parses the wire: enums and datetimes arrive as strings there.
        value = adapter.validate_json(json.dumps(instance), strict=True, by_alias=by_alias, by_name=not by_alias)
    except PydanticError as exc:
        return [
            Violation(name, _path(err["loc"]), f"{err['msg']} (got {_short(err.get('input'))})", where)
            for err in _relevant(exc.errors(include_url=False))
        ]
    out: list[Violation] = []
    _walk(name, value, instance, "$", where, required_nullable or {}, by_alias, out)
    return out


def _walk(
    name: str,
    value: Any,
    raw: Any,
    path: str,
    where: str,
    required_nullable: Mapping[str, tuple[str, ...]],
    by_alias: bool,
    out: list[Violation],
) -> None:
    if isinstance(value, BaseModel) and isinstance(raw, dict):
        extra = set(value.model_extra or {})
        if value.model_extra is None:  # a model that ignores unknown keys (ollama, mistralai): find them ourselves
            fields = type(value).model_fields
            known: set[Any] = {*fields, *(info.alias for info in fields.values())}
            known |= {info.validation_alias for info in fields.values() if isinstance(info.validation_alias, str)}
            extra = {key for key in raw if key not in known}
        for key in sorted(extra):
            out.append(Violation(name, f"{path}.{key}", "field not in the provider's schema", where))
        for key in required_nullable.get(type(value).__name__, ()):
            if key not in raw:
                out.append(Violation(name, f"{path}.{key}", "missing (the provider sends it, null if unset)", where))
        for field_name, info in type(value).model_fields.items():
            key = (info.alias or field_name) if by_alias else field_name
            literals = _open_literal(info.annotation)
            if key in raw and literals and raw[key] not in literals:
                out.append(Violation(name, f"{path}.{key}", f"{raw[key]!r:.60} is none of {sorted(literals)}", where))
            if key in raw:
                _walk(
                    name, getattr(value, field_name), raw[key], f"{path}.{key}", where, required_nullable, by_alias, out
                )
    elif isinstance(value, list) and isinstance(raw, list):
        for i, (item, raw_item) in enumerate(zip(value, raw, strict=False)):
            _walk(name, item, raw_item, f"{path}[{i}]", where, required_nullable, by_alias, out)
    elif isinstance(value, dict) and isinstance(raw, dict):
        for key, item in value.items():
            if key in raw:
                _walk(name, item, raw[key], f"{path}.{key}", where, required_nullable, by_alias, out)


def validate_schema(name: str, schema: Mapping[str, Any], instance: Any, where: str = "body") -> list[Violation]:
    """Violations of `instance` against a JSON Schema: for the few shapes an SDK does not model (error envelopes
    the client reads by hand, written down from the provider's documentation in the checker's module)."""
    return [
        Violation(name, e.json_path, e.message, where) for e in Draft202012Validator(dict(schema)).iter_errors(instance)
    ]


def _open_literal(annotation: Any) -> tuple[Any, ...]:
    """The values of an enum the SDK leaves open for forward compatibility (cohere's `Union[Literal[...], Any]`,
    possibly Optional): strict mode holds the wire to the values the pinned SDK knows."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType) or typing.Any not in args:
        return ()
    return tuple(v for arg in args if typing.get_origin(arg) is typing.Literal for v in typing.get_args(arg))


def _relevant(errors: list[Any]) -> list[Any]:
    """Drop the errors of union members other than the one the input's `type` names: pydantic reports a failed
    union against every member (loc `..., 'TextBlock', 'text'`), which buries the real failure. A member whose
    own `type` literal did not match is the wrong member."""
    wrong: dict[tuple[Any, ...], Any] = {}
    for err in errors:
        loc = err["loc"]
        if err["type"] == "literal_error" and len(loc) >= 2 and _is_member(loc[-2]):
            wrong[tuple(loc[:-1])] = err
    kept = [e for e in errors if not any(tuple(e["loc"][: len(w)]) == w for w in wrong)]
    if kept or not wrong:
        return kept or errors
    # No member's tag matched: one error for the whole union, not one per member.
    first = next(iter(wrong.values()))
    field = first["loc"][-1]
    return [{**first, "loc": (*first["loc"][:-2], field), "msg": f"{field} is none of the {len(wrong)} known values"}]


def _is_member(part: Any) -> bool:
    return isinstance(part, str) and part[:1].isupper()


def _path(loc: tuple[int | str, ...]) -> str:
    out = "$"
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part[:1].islower() and not part.startswith("_"):
            continue  # a union member's tag (`Message`, `function-after[...]`), not a field
        else:
            out += f".{part}"
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
