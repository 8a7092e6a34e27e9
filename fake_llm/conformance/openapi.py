"""Validation against the pinned OpenAPI document of a provider (fixtures/specs/<family>/openapi.yaml).

OpenAPI 3.1 schemas are JSON Schema 2020-12, so jsonschema validates them directly; `$ref`s resolve inside the
document through a `referencing` registry. The 3 MB document is parsed once per process (about 0.6 s with
libyaml) and only when a check needs it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from fake_llm.conformance.registry import Violation
from fake_llm.settings import bundled_fixtures

_URI = "urn:fake-llm:openapi:{family}"


def spec_path(family: str) -> Path:
    return bundled_fixtures() / "specs" / family / "openapi.yaml"


@functools.cache
def _document(family: str) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with spec_path(family).open("rb") as fh:
        document: dict[str, Any] = yaml.load(fh, Loader=loader)  # a safe loader
    return _nullable(document)  # type: ignore[no-any-return]


def _nullable(node: Any) -> Any:
    """The document is OpenAPI 3.1 but still marks some schemas with 3.0's `nullable: true`, which JSON Schema
    ignores: rewrite each into `anyOf: [schema, null]`, the 3.1 spelling of the same thing."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _nullable(value) for key, value in node.items()}
    if out.pop("nullable", False) is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


def schema_names(family: str) -> set[str]:
    return set(_document(family)["components"]["schemas"])


def schema(family: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = _document(family)["components"]["schemas"][name]
    return result


@functools.cache
def _validator(family: str, name: str) -> Draft202012Validator:
    uri = _URI.format(family=family)
    registry: Registry[Any] = Registry().with_resource(uri, DRAFT202012.create_resource(_document(family)))
    return Draft202012Validator({"$ref": f"{uri}#/components/schemas/{name}"}, registry=registry)


def validate(family: str, name: str, instance: Any, where: str = "body") -> list[Violation]:
    """Violations of `instance` against components.schemas[`name`], one per failing field (the most relevant
    failure of each `anyOf` branch set, as jsonschema's best_match picks it)."""
    errors = list(_validator(family, name).iter_errors(instance))
    out = []
    for error in errors:
        chosen = best_match([error]) if error.context else error
        out.append(Violation(name, _field(chosen), _message(chosen), where))
    return out


def _field(error: ValidationError) -> str:
    path = error.json_path
    required: Any = error.validator_value
    if error.validator == "required" and isinstance(error.instance, dict) and isinstance(required, list):
        missing = next((k for k in required if k not in error.instance), None)
        if missing is not None:
            path = f"{path}.{missing}"
    return path


def _message(error: ValidationError) -> str:
    text = error.message
    return text if len(text) <= 300 else text[:297] + "..."
