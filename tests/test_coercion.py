"""Typed templates: scripted values coerced to the types a JSON Schema declares, or an error naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from fake_llm.scenarios.coercion import CoercionError, coerce

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "n": {"type": "integer"},
        "x": {"type": "number"},
        "ok": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "integer"}},
        "unit": {"enum": ["celsius", "fahrenheit"]},
        "maybe": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "either": {"type": ["integer", "string"]},
        "point": {"$ref": "#/$defs/point"},
        "label": {"type": "string"},
        "meta": {"type": "object", "additionalProperties": {"type": "number"}},
    },
    "$defs": {"point": {"type": "object", "properties": {"x": {"type": "integer"}}}},
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"n": "3"}, {"n": 3}),
        ({"n": " 42 "}, {"n": 42}),
        ({"n": "3.0"}, {"n": 3}),
        ({"x": "2.5"}, {"x": 2.5}),
        ({"x": "7"}, {"x": 7}),
        ({"ok": "yes"}, {"ok": True}),
        ({"ok": "False"}, {"ok": False}),
        ({"tags": "1, 2,3"}, {"tags": [1, 2, 3]}),
        ({"tags": "[4, 5]"}, {"tags": [4, 5]}),
        ({"tags": "6"}, {"tags": [6]}),
        ({"unit": "Celsius"}, {"unit": "celsius"}),
        ({"maybe": "null"}, {"maybe": None}),
        ({"maybe": "5"}, {"maybe": 5}),
        ({"either": "abc"}, {"either": "abc"}),
        ({"either": 4}, {"either": 4}),
        ({"point": '{"x": "1"}'}, {"point": {"x": 1}}),
        ({"label": 12}, {"label": "12"}),
        ({"meta": {"a": "1.5"}}, {"meta": {"a": 1.5}}),
        ({"other": "kept"}, {"other": "kept"}),
    ],
)
def test_values_take_the_declared_types(value: dict[str, Any], expected: dict[str, Any]) -> None:
    assert coerce(value, SCHEMA) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"n": "three"}, 'n: expected an integer, got "three"'),
        ({"n": "2.5"}, 'n: expected an integer, got "2.5"'),
        ({"ok": "maybe"}, 'ok: expected a boolean, got "maybe"'),
        ({"tags": "1, two"}, 'tags[1]: expected an integer, got "two"'),
        ({"unit": "kelvin"}, 'unit: "kelvin" is not one of ["celsius", "fahrenheit"]'),
        ({"point": "nope"}, 'point: expected an object, got "nope"'),
        ({"label": [1]}, "label: expected a string, got [1]"),
        ({"n": True}, "n: expected an integer, got true"),
    ],
)
def test_values_that_cannot_be_coerced_name_the_field(value: dict[str, Any], message: str) -> None:
    with pytest.raises(CoercionError) as caught:
        coerce(value, SCHEMA)
    assert str(caught.value) == message


def test_alternatives_that_all_fail_are_listed() -> None:
    with pytest.raises(CoercionError, match=r"maybe: \"x\" fits none of the schema's alternatives"):
        coerce({"maybe": "x"}, SCHEMA)


def test_const_and_remote_refs() -> None:
    assert coerce("A", {"const": "a"}) == "a"
    assert coerce("3", {"$ref": "https://example.com/schema.json"}) == "3"


def test_lists_all_of_and_prefix_items() -> None:
    assert coerce({"tags": ["1", 2]}, SCHEMA) == {"tags": [1, 2]}
    assert coerce("4", {"allOf": [{"type": "integer"}, {"minimum": 1}]}) == 4
    pair = {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "boolean"}], "items": {"type": "string"}}
    assert coerce(["1", "no", 3], pair) == [1, False, "3"]
    assert coerce("", {"type": "array"}) == []
    assert coerce({"x": "1"}, {"properties": {"x": {"type": "integer"}}}) == {"x": 1}
