"""Bedrock replies checked against botocore's own service model (the JSON shipped in botocore's data folder): every
required member present and every value of its modelled type, for Converse bodies and each ConverseStream and
InvokeModelWithResponseStream frame. The byte-exact golden transcripts are in tests/goldens.py (`bedrock/`)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from fake_llm.http.app import create_app
from fake_llm.scenarios.loader import parse_rules
from fake_llm.settings import Settings

botocore = pytest.importorskip("botocore")
from botocore.eventstream import EventStreamBuffer  # noqa: E402
from botocore.loaders import Loader  # noqa: E402

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
RULES = """
- name: weather
  match: {user: weather}
  reply:
    reasoning_content: "A tool will know."
    content: "Let me check."
    tool_calls: [{name: get_weather, arguments: {city: Paris}}]
- name: capital
  match: {user: capital of France}
  reply: {content: "The capital of France is Paris."}
"""
TOOLS = {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}}]}
SHAPES: dict[str, Any] = Loader().load_service_model("bedrock-runtime", "service-2")["shapes"]
SCALARS = {
    "string": str,
    "integer": int,
    "long": int,
    "boolean": bool,
    "double": (int, float),
    "float": (int, float),
    "timestamp": (int, float, str),
}


def problems(value: Any, shape_name: str, where: str = "$") -> list[str]:
    """What in `value` breaks the modelled shape (JSON as rest-json sends it: blobs in base64)."""
    shape = SHAPES[shape_name]
    kind = shape["type"]
    if shape.get("document"):
        return []
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where}: expected an object for {shape_name}"]
        found = [f"{where}.{name}: required by {shape_name}" for name in shape.get("required", []) if name not in value]
        members = shape["members"]
        if shape.get("union") and len(value) != 1:
            found.append(f"{where}: the union {shape_name} sets {len(value)} members, not exactly one")
        for name, item in value.items():
            if name not in members:
                found.append(f"{where}.{name}: not a member of {shape_name}")
            else:
                found += problems(item, members[name]["shape"], f"{where}.{name}")
        return found
    if kind == "list":
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        return [p for i, item in enumerate(value) for p in problems(item, shape["member"]["shape"], f"{where}[{i}]")]
    if kind == "blob":
        try:
            base64.b64decode(value, validate=True)
        except (ValueError, TypeError):
            return [f"{where}: not base64"]
        return []
    if kind == "string" and "enum" in shape and value not in shape["enum"]:
        return [f"{where}: {value!r} is not one of {shape_name}'s values"]
    expected = SCALARS[kind]
    if not isinstance(value, expected) or (kind != "boolean" and isinstance(value, bool)):
        return [f"{where}: expected {kind}, got {value!r}"]
    return []


def client() -> TestClient:
    scenario = parse_rules(RULES, source="<conformance>")
    return TestClient(create_app(Settings(freeze_time=1767225600, seed=0), scenarios=[scenario]))


def converse_request(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [{"text": text}]}], "toolConfig": TOOLS}


def frames(raw: bytes) -> list[Any]:
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    return list(buffer)


@pytest.mark.parametrize("text", ["What is the capital of France?", "weather in Paris?"])
def test_converse_body_has_every_required_member(text: str) -> None:
    with client() as http:
        response = http.post(f"/model/{MODEL}/converse", json=converse_request(text))
    assert response.status_code == 200
    assert problems(response.json(), "ConverseResponse") == []


@pytest.mark.parametrize("text", ["What is the capital of France?", "weather in Paris?"])
def test_converse_stream_frames_match_their_event_shapes(text: str) -> None:
    with client() as http:
        response = http.post(f"/model/{MODEL}/converse-stream", json=converse_request(text))
    members = SHAPES["ConverseStreamOutput"]["members"]
    decoded = frames(response.content)
    assert decoded
    for frame in decoded:
        event_type = frame.headers[":event-type"]
        assert event_type in members, event_type
        assert problems(json.loads(frame.payload), members[event_type]["shape"], event_type) == []


def test_invoke_stream_chunks_match_payload_part() -> None:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi"}],
    }
    rules = "- name: any\n  reply: {content: Hi}\n"
    app = create_app(Settings(freeze_time=1767225600), scenarios=[parse_rules(rules, source="<t>")])
    with TestClient(app) as http:
        response = http.post(f"/model/{MODEL}/invoke-with-response-stream", json=body)
    for frame in frames(response.content):
        assert frame.headers[":event-type"] == "chunk"
        assert problems(json.loads(frame.payload), "PayloadPart", "chunk") == []


def test_the_checker_finds_what_is_missing() -> None:
    assert problems({"output": {}, "stopReason": "done", "usage": {"inputTokens": 1}}, "ConverseResponse") == [
        "$.metrics: required by ConverseResponse",
        "$.output: the union ConverseOutput sets 0 members, not exactly one",
        "$.stopReason: 'done' is not one of StopReason's values",
        "$.usage.outputTokens: required by TokenUsage",
        "$.usage.totalTokens: required by TokenUsage",
    ]
