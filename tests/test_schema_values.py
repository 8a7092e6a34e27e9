"""generate_value: every generated value validates against its schema, deterministically, with realistic data."""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import re
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal, Optional, Union

import pydantic
import pytest
from jsonschema import Draft7Validator, Draft202012Validator, FormatChecker
from pydantic import BaseModel, Field

from fake_llm.core.schema_values import generate_value

SEEDS = (0, 1, "request-abc")


# Formats jsonschema does not check without optional packages: checked here with the stdlib instead.
CHECKER = FormatChecker()
CHECKER.checks("date-time")(
    lambda v: not isinstance(v, str) or bool(dt.datetime.fromisoformat(v.replace("Z", "+00:00")))
)
CHECKER.checks("time")(
    lambda v: not isinstance(v, str) or bool(re.fullmatch(r"\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", v))
)
CHECKER.checks("uri")(lambda v: not isinstance(v, str) or bool(re.match(r"https?://[^\s/]+\.[a-z]+", v)))
CHECKER.checks("hostname")(lambda v: not isinstance(v, str) or bool(re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", v)))
CHECKER.checks("ipv4")(lambda v: not isinstance(v, str) or bool(ipaddress.IPv4Address(v)))


class Color(str, enum.Enum):
    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Address(BaseModel):
    street: str
    city: str
    zip_code: str = Field(pattern=r"^\d{5}(-\d{4})?$")
    country: str = "US"


class Person(BaseModel):
    name: str
    age: int = Field(ge=0, le=130)
    nickname: Optional[str] = None  # noqa: UP045 - the typing form is the point of this model
    addresses: list[Address] = Field(min_length=1, max_length=3)
    favourite: Color
    priority: Priority = Priority.LOW
    role: Literal["admin", "member", "guest"]
    created_at: dt.datetime
    birthday: dt.date
    id: uuid.UUID


class Constrained(BaseModel):
    username: str = Field(min_length=3, max_length=12, pattern=r"^[a-z][a-z0-9_]+$")
    score: float = Field(gt=0, lt=1)
    rating: int = Field(ge=1, le=5)
    price: float = Field(ge=0, multiple_of=0.01)
    even: int = Field(multiple_of=2, ge=10, le=20)
    code: str = Field(pattern=r"^[A-Z]{3}-\d{3,5}$")
    tags: list[str] = Field(min_length=2, max_length=4)
    labels: set[int]
    pair: tuple[int, str]
    counts: dict[str, int]
    website: pydantic.HttpUrl


class Ledger(BaseModel):
    """Schema-valid is all that is asked here: pydantic's Decimal schema also allows any string."""

    amount: Decimal
    host: pydantic.IPvAnyAddress
    balance: float = Field(le=-100)


class TreeNode(BaseModel):
    label: str
    children: list[TreeNode] = []


class Chain(BaseModel):
    value: int
    next: Optional[Chain] = None  # noqa: UP045


class Cat(BaseModel):
    pet_type: Literal["cat"]
    meows: int


class Dog(BaseModel):
    pet_type: Literal["dog"]
    barks: float


class Owner(BaseModel):
    pet: Annotated[Union[Cat, Dog], Field(discriminator="pet_type")]  # noqa: UP007
    pets: list[Union[Cat, Dog]]  # noqa: UP007
    best_friend: Union[Person, None] = None  # noqa: UP007


class Inventory(BaseModel):
    items: list[tuple[str, int]]
    matrix: list[list[float]]
    meta: dict[str, Union[str, int, bool]]  # noqa: UP007
    owner: Optional[Owner] = None  # noqa: UP045


PYDANTIC_MODELS: list[type[BaseModel]] = [Address, Person, Constrained, Ledger, TreeNode, Chain, Cat, Owner, Inventory]

HAND_WRITTEN: dict[str, dict[str, Any]] = {
    "empty": {},
    "string": {"type": "string"},
    "integer bounds": {"type": "integer", "minimum": -5, "maximum": -3},
    "exclusive": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.5},
    "draft4 exclusive": {"type": "integer", "minimum": 1, "maximum": 3, "exclusiveMinimum": True},
    "multiple of float": {"type": "number", "multipleOf": 0.1, "minimum": 0.25, "maximum": 0.95},
    "big minimum": {"type": "integer", "minimum": 10**12},
    "enum": {"enum": ["a", 1, None, {"x": 1}]},
    "const": {"const": {"fixed": [1, 2]}},
    "type list": {"type": ["string", "integer", "null"]},
    "nullable only": {"type": "null"},
    "formats": {
        "type": "object",
        "properties": {
            f: {"type": "string", "format": f}
            for f in ("email", "date", "date-time", "time", "uri", "url", "uuid", "ipv4", "ipv6", "hostname")
        },
        "required": ["email", "uuid"],
        "additionalProperties": False,
    },
    "lengths": {"type": "string", "minLength": 50, "maxLength": 60},
    "short": {"type": "string", "maxLength": 2},
    "patterns": {
        "type": "object",
        "properties": {
            "phone": {"type": "string", "pattern": r"^\+1-\d{3}-\d{3}-\d{4}$"},
            "hex": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"},
            "alt": {"type": "string", "pattern": "^(red|green|blue)$"},
            "unanchored": {"type": "string", "pattern": "ab+c"},
            "classes": {"type": "string", "pattern": r"^[^\s@]+@[^\s@]+\.\w{2,3}$"},
            "lookahead": {"type": "string", "pattern": r"^(?=.*\d)(?=.*[a-z]).{8,}$"},
            "long": {"type": "string", "pattern": "^[a-z]+$", "minLength": 20},
            "escapes": {"type": "string", "pattern": r"^\w+\.(txt|md)\s?$"},
        },
        "required": ["phone", "hex", "alt", "unanchored", "classes", "lookahead", "long", "escapes"],
    },
    "draft7 definitions": {
        "definitions": {"pos": {"type": "integer", "minimum": 1}, "point": {"$ref": "#/definitions/pair"}},
        "type": "object",
        "properties": {"x": {"$ref": "#/definitions/pos"}, "p": {"$ref": "#/definitions/point"}},
        "required": ["x", "p"],
        "$comment": "pair is defined below the reference",
    },
    "allOf": {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "integer", "minimum": 5}}, "required": ["a"]},
            {"properties": {"a": {"maximum": 6}, "b": {"type": "string"}}, "required": ["b"]},
        ]
    },
    "oneOf overlapping": {"oneOf": [{"type": "integer"}, {"type": "number"}]},
    "anyOf with null": {"anyOf": [{"type": "null"}, {"type": "array", "items": {"type": "string", "format": "email"}}]},
    "prefixItems": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "boolean"}], "items": False},
    "unique enum items": {"type": "array", "items": {"enum": ["x", "y", "z"]}, "minItems": 3, "uniqueItems": True},
    "contains": {"type": "array", "items": {"type": "integer"}, "contains": {"const": 7}},
    "map": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}, "minProperties": 2},
    "patternProperties": {
        "type": "object",
        "patternProperties": {"^S_": {"type": "string"}},
        "required": ["S_one"],
        "additionalProperties": False,
    },
    "unknown keywords": {"type": "string", "x-vendor": True, "contentMediaType": "text/plain", "examples": ["a"]},
    "gemini upper-case": {
        "type": "OBJECT",
        "properties": {
            "city": {"type": "STRING"},
            "days": {"type": "INTEGER", "minimum": 1, "maximum": 7},
            "units": {"type": "STRING", "enum": ["C", "F"], "format": "enum"},
            "hourly": {"type": "ARRAY", "items": {"type": "NUMBER"}},
            "note": {"type": "STRING", "nullable": True},
        },
        "required": ["city", "days"],
    },
    "recursive required-optional": {
        "$defs": {
            "node": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}
        },
        "$ref": "#/$defs/node",
    },
    "tool parameters": {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "max_results": {"type": "integer", "minimum": 1, "maximum": 10},
        },
        "required": ["location", "unit"],
        "additionalProperties": False,
    },
}
HAND_WRITTEN["draft7 definitions"]["definitions"]["pair"] = {
    "type": "array",
    "items": [{"type": "number"}, {"type": "number"}],
    "minItems": 2,
    "additionalItems": False,
}

SCHEMAS: dict[str, dict[str, Any]] = {
    **{f"pydantic {m.__name__}": m.model_json_schema() for m in PYDANTIC_MODELS},
    **HAND_WRITTEN,
}
GEMINI_TYPES = {"OBJECT": "object", "STRING": "string", "INTEGER": "integer", "NUMBER": "number", "ARRAY": "array"}


def _lower_types(schema: Any) -> Any:
    """The Gemini schema in standard spelling, so jsonschema can check it."""
    if isinstance(schema, dict):
        return {
            k: (GEMINI_TYPES.get(v, v) if k == "type" and isinstance(v, str) else _lower_types(v))
            for k, v in schema.items()
        }
    return schema


def _validator(schema: dict[str, Any]) -> Draft202012Validator | Draft7Validator:
    standard = _lower_types(schema)
    cls = Draft7Validator if "definitions" in standard else Draft202012Validator
    return cls(standard, format_checker=CHECKER)


def test_there_are_enough_schemas() -> None:
    assert len(SCHEMAS) >= 25


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", list(SCHEMAS))
def test_generated_value_is_valid(name: str, seed: int | str) -> None:
    schema = SCHEMAS[name]
    value = generate_value(schema, seed=seed)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _validator(schema).iter_errors(value)]
    assert not errors, f"{value!r}: {errors}"


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_same_seed_same_value(name: str) -> None:
    assert generate_value(SCHEMAS[name], seed=42) == generate_value(SCHEMAS[name], seed=42)


@pytest.mark.parametrize("model", [Person, Constrained, Owner, Inventory])
def test_different_seeds_usually_differ(model: type[BaseModel]) -> None:
    schema = model.model_json_schema()
    values = {repr(generate_value(schema, seed=seed)) for seed in range(5)}
    assert len(values) >= 4


@pytest.mark.parametrize("model", [Person, Constrained, TreeNode, Chain, Owner, Inventory])
def test_pydantic_accepts_generated_values(model: type[BaseModel]) -> None:
    for seed in SEEDS:
        model.model_validate(generate_value(model.model_json_schema(), seed=seed))


def test_realistic_values_by_property_name() -> None:
    schema = {
        "type": "object",
        "properties": {
            k: {"type": "string"}
            for k in ("name", "email", "user_email", "first_name", "city", "phone", "created_at", "description")
        },
    }
    value = generate_value(schema, seed=7)
    assert re.fullmatch(r"[A-Z][a-z'.-]+( [A-Z][A-Za-z'.-]+)+", value["name"]), value["name"]
    assert "@" in value["email"]
    assert "@" in value["user_email"]
    assert " " not in value["first_name"]
    assert value["first_name"][0].isupper()
    assert re.search(r"\d", value["phone"])
    assert dt.datetime.fromisoformat(value["created_at"].replace("Z", "+00:00")).year >= 2019
    assert value["description"].endswith(".")
    assert len(value["description"].split()) >= 3
    assert "lorem" not in " ".join(value.values()).lower()


def test_realistic_numbers_by_property_name() -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"}, "rating": {"type": "integer", "minimum": 0}}}
    for seed in range(10):
        value = generate_value(schema, seed=seed)
        assert 18 <= value["age"] <= 80
        assert 1 <= value["rating"] <= 5


def test_list_items_inherit_the_hint_of_the_list_name() -> None:
    value = generate_value({"type": "object", "properties": {"emails": {"type": "array", "items": {}}}}, seed=3)
    assert value["emails"]
    assert all("@" in e for e in value["emails"])


def test_enum_member_comes_from_the_enum() -> None:
    schema = {"type": "string", "enum": ["north", "south"]}
    assert {generate_value(schema, seed=s) for s in range(20)} == {"north", "south"}


def test_optional_prefers_a_real_value() -> None:
    schema = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert all(generate_value(schema, seed=s) is not None for s in range(10))


def test_recursion_stops() -> None:
    value = generate_value(TreeNode.model_json_schema(), seed=1)

    def depth(node: dict[str, Any]) -> int:
        return 1 + max((depth(c) for c in node.get("children", [])), default=0)

    assert 1 <= depth(value) <= 10


def test_root_resolves_refs_of_a_sub_schema() -> None:
    root = {"$defs": {"Unit": {"enum": ["kg", "lb"]}}}
    assert generate_value({"$ref": "#/$defs/Unit"}, seed=0, root=root) in ("kg", "lb")


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "integer", "minimum": 5, "maximum": 1}, "no number lies between minimum 5 and maximum 1"),
        ({"type": "number", "exclusiveMinimum": 1, "maximum": 1}, "no number lies between minimum 1 and maximum 1"),
        ({"type": "string", "minLength": 3, "maxLength": 2}, "minLength 3 is greater than maxLength 2"),
        ({"type": "array", "minItems": 3, "maxItems": 1}, "an array needs at least 3 items but at most 1 are allowed"),
        (
            {"type": "integer", "multipleOf": 10, "minimum": 1, "maximum": 9},
            "no integer multiple of 10 lies between 1 and 9",
        ),
        ({"$ref": "#/$defs/Missing"}, "$ref '#/$defs/Missing' points to nothing in the schema"),
        ({"$ref": "https://example.com/s.json"}, "only references inside the schema"),
        ({"allOf": [{"type": "string"}, {"type": "integer"}]}, "allOf requires a value of type 'string' and of type"),
        (
            {"type": "array", "items": {"type": "boolean"}, "minItems": 3, "uniqueItems": True},
            "cannot make 3 distinct items",
        ),
        (
            {
                "$defs": {"n": {"type": "object", "properties": {"n": {"$ref": "#/$defs/n"}}, "required": ["n"]}},
                "$ref": "#/$defs/n",
            },
            "schema has no value nested less than 48 deep: required parts keep going through $ref '#/$defs/n'",
        ),
        ({"type": "object", "required": ["x"], "additionalProperties": False}, "property 'x' is required"),
    ],
)
def test_unsatisfiable_schema_raises(schema: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        generate_value(schema, seed=0)


def test_pydantic_email_str() -> None:
    pytest.importorskip("email_validator")

    class Contact(BaseModel):
        email: pydantic.EmailStr
        backup: Optional[pydantic.EmailStr] = None  # noqa: UP045

    schema = Contact.model_json_schema()
    for seed in SEEDS:
        value = generate_value(schema, seed=seed)
        assert not list(_validator(schema).iter_errors(value))
        Contact.model_validate(value)
