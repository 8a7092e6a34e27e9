"""JSON replies: `json:` values typed and checked against the request's schema, and JSON mode without a schema
honouring the keys the prompt names."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fake_llm.core.prompt_keys import requested_schema
from tests.conftest import MakeClient

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}


def structured(text: str) -> dict[str, Any]:
    return {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": text}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA}},
    }


def test_json_reply_values_take_the_schema_types(make_client: MakeClient) -> None:
    client = make_client("""
        - name: person
          match: {user: {regex: "(?P<name>[A-Z]\\\\w+) is (?P<age>\\\\w+)"}}
          reply: {json: {name: "{{ match.name }}", age: "{{ match.age }}", tags: "a, b"}}
    """)
    response = client.post("/v1/chat/completions", json=structured("Ada is 36"))
    assert json.loads(response.json()["choices"][0]["message"]["content"]) == {
        "name": "Ada",
        "age": 36,
        "tags": ["a", "b"],
    }
    bad = client.post("/v1/chat/completions", json=structured("Ada is old"))
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == (
        "fake-llm: the json reply does not fit the request's response_format schema: age: expected an integer, "
        'got "old"'
    )


def test_json_reply_is_validated_against_the_schema(make_client: MakeClient) -> None:
    client = make_client("- {name: r, reply: {json: {name: Ada}}}")
    response = client.post("/v1/chat/completions", json=structured("x"))
    assert response.status_code == 400
    assert response.json()["error"]["message"].endswith("schema: <value>: 'age' is a required property")
    plain = client.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
    assert json.loads(plain.json()["choices"][0]["message"]["content"]) == {"name": "Ada"}


@pytest.mark.parametrize(
    ("system", "user", "keys"),
    [
        ("", "Tell me a joke. Respond with keys setup and punchline, nothing else.", ["setup", "punchline"]),
        ("Return JSON with the fields a, b and c.", "go", ["a", "b", "c"]),
        (
            "",
            'Answer like {"city": "Paris", "population": 2100000, "capital": true}',
            ["city", "population", "capital"],
        ),
        ("Use the keys `title` and `year`.", "The keys are: summary, score", ["summary", "score"]),
        ("", "Just some JSON please", ["result", "confidence"]),
    ],
)
def test_json_mode_honours_keys_named_in_the_prompt(
    make_client: MakeClient, system: str, user: str, keys: list[str]
) -> None:
    client = make_client("- {name: r, reply: {generate: {}}}")
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
    body = {"model": "gpt-4o", "messages": messages, "response_format": {"type": "json_object"}}
    value = json.loads(client.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"])
    assert list(value) == keys


def test_json_examples_keep_their_types() -> None:
    schema = requested_schema(['Reply as {"n": 1, "x": 0.5, "ok": false, "items": [{"id": 2}], "note": null}'])
    assert schema is not None
    assert {k: v["type"] for k, v in schema["properties"].items()} == {
        "n": "integer",
        "x": "number",
        "ok": "boolean",
        "items": "array",
        "note": "null",
    }
    assert schema["properties"]["items"]["items"]["properties"]["id"] == {"type": "integer"}
    assert requested_schema(["the keys and values", "{not json}", "[]"]) is None
