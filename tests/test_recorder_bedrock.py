"""Record mode for Bedrock: boto3 talks through the recording proxy to a second fake-llm (the upstream), then a fresh
server replays the recorded file and boto3 must see the same Converse replies, tool calls, stream frames and errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fake_llm.cli import main
from fake_llm.scenarios.loader import load_scenario
from fake_llm.testing.recording import RecordingServer
from fake_llm.testing.server import FakeLLMServer
from tests.sdk_clients import closing

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError, EventStreamError  # noqa: E402

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
UPSTREAM_RULES = """
- name: greet
  match: {user: hello}
  reply: {content: "Hello there, how may I assist you today?", stream: {chunk_tokens: 2}}
- name: weather
  match: {user: weather}
  reply: {content: "Checking.", tool_calls: [{name: get_weather, arguments: {city: Paris}}]}
- name: throttle
  match: {user: throttle}
  reply: {error: {status: 429, message: "Slow down."}}
- name: think
  match: {user: think}
  reply:
    reasoning_content: "Weather needs a tool."
    content: "Checking."
    tool_calls: [{name: get_weather, arguments: {city: Oslo}}]
- name: long
  match: {user: long}
  reply: {content: "one two three four five six", finish_reason: length}
- name: broken
  match: {user: broken}
  reply: {content: "one two three four", stream: {error_after: 2, error: {type: modelStreamErrorException}}}
"""
TOOLS = {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}}]}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(rules=UPSTREAM_RULES, freeze_time=1767225600, time_scale=0) as running:
        yield running


def client(url: str) -> Any:
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=10)
    return closing(
        boto3.client(
            "bedrock-runtime",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret",
            config=config,
        )
    )


def round_trip(upstream: FakeLLMServer, path: Path, run: Callable[[Any], Any]) -> tuple[Any, Any, dict[str, Any]]:
    """What `run(client)` gets through the recording proxy, then from a server replaying the recorded file."""
    with RecordingServer(upstream.url, path) as proxy:
        live = run(client(proxy.url))
    load_scenario(path)
    assert main(["check", str(path)]) == 0
    with FakeLLMServer(scenarios=[path], time_scale=0) as replay:
        again = run(client(replay.url))
        assert replay.journal.unmatched == []
    return live, again, yaml.safe_load(path.read_text(encoding="utf-8"))


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"text": text}]}]


def test_records_converse_with_a_tool_call(upstream: FakeLLMServer, tmp_path: Path) -> None:
    def run(bedrock: Any) -> Any:
        reply = bedrock.converse(modelId=MODEL, messages=user("weather?"), toolConfig=TOOLS)
        return reply["output"], reply["stopReason"], reply["usage"]

    live, again, data = round_trip(upstream, tmp_path / "c.yaml", run)
    assert live == again
    (rule,) = data["rules"]
    assert rule["match"]["api"] == "bedrock"
    assert rule["reply"]["tool_calls"][0]["name"] == "get_weather"


def test_records_converse_stream_frames(upstream: FakeLLMServer, tmp_path: Path) -> None:
    def run(bedrock: Any) -> Any:
        return list(bedrock.converse_stream(modelId=MODEL, messages=user("hello"))["stream"])

    live, again, data = round_trip(upstream, tmp_path / "c.yaml", run)
    assert live == again
    chunks = data["rules"][0]["reply"]["stream"]["chunks"]
    assert "".join(c["text"] for c in chunks) == "Hello there, how may I assist you today?"


def test_records_a_mid_stream_exception(upstream: FakeLLMServer, tmp_path: Path) -> None:
    def run(bedrock: Any) -> Any:
        stream = bedrock.converse_stream(modelId=MODEL, messages=user("broken"))["stream"]
        seen: list[Any] = []
        with pytest.raises(EventStreamError) as caught:
            seen.extend(stream)
        stream.close()
        return seen, caught.value.response["Error"]

    live, again, _ = round_trip(upstream, tmp_path / "c.yaml", run)
    assert live == again
    assert live[1]["Code"] == "modelStreamErrorException"


def test_records_a_throttling_error(upstream: FakeLLMServer, tmp_path: Path) -> None:
    def run(bedrock: Any) -> Any:
        with pytest.raises(ClientError) as caught:
            bedrock.converse(modelId=MODEL, messages=user("throttle"))
        return caught.value.response["Error"]

    live, again, data = round_trip(upstream, tmp_path / "c.yaml", run)
    assert live == again == {"Message": "Slow down.", "Code": "ThrottlingException"}
    assert data["rules"][0]["reply"]["error"] == {"status": 429, "message": "Slow down.", "type": "ThrottlingException"}


def test_records_invoke_model_with_an_anthropic_body(upstream: FakeLLMServer, tmp_path: Path) -> None:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hello"}],
    }

    def run(bedrock: Any) -> Any:
        whole = json.loads(bedrock.invoke_model(modelId=MODEL, body=json.dumps(body))["body"].read())
        parts = bedrock.invoke_model_with_response_stream(modelId=MODEL, body=json.dumps(body))["body"]
        streamed = [json.loads(part["chunk"]["bytes"]) for part in parts]
        return whole["content"], [e["type"] for e in streamed]

    live, again, data = round_trip(upstream, tmp_path / "c.yaml", run)
    assert live == again
    assert {rule["match"]["api"] for rule in data["rules"]} == {"bedrock-invoke"}


def test_records_a_streamed_reasoning_and_tool_call(upstream: FakeLLMServer, tmp_path: Path) -> None:
    def run(bedrock: Any) -> Any:
        events = list(bedrock.converse_stream(modelId=MODEL, messages=user("think"), toolConfig=TOOLS)["stream"])
        return [e for e in events if "metadata" not in e]  # latency aside, the frames must replay alike

    live, again, data = round_trip(upstream, tmp_path / "c.yaml", run)
    assert live == again
    reply = data["rules"][0]["reply"]
    assert reply["reasoning_content"] == "Weather needs a tool."
    assert reply["tool_calls"] == [
        {"name": "get_weather", "arguments": {"city": "Oslo"}, "id": reply["tool_calls"][0]["id"]}
    ]


def test_records_llama_bodies_whole_and_streamed(upstream: FakeLLMServer, tmp_path: Path) -> None:
    llama = "meta.llama3-70b-instruct-v1:0"

    def run(bedrock: Any) -> Any:
        body = json.dumps({"prompt": "long"})
        whole = json.loads(bedrock.invoke_model(modelId=llama, body=body)["body"].read())
        parts = bedrock.invoke_model_with_response_stream(modelId=llama, body=json.dumps({"prompt": "hello"}))["body"]
        return whole, [json.loads(part["chunk"]["bytes"]) for part in parts]

    live, again, data = round_trip(upstream, tmp_path / "c.yaml", run)
    assert live == again
    assert live[0]["stop_reason"] == "length"
    assert [rule["reply"].get("finish_reason") for rule in data["rules"]] == ["length", None]


def test_records_an_invoke_stream_exception(upstream: FakeLLMServer, tmp_path: Path) -> None:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "broken"}],
    }

    def run(bedrock: Any) -> Any:
        stream = bedrock.invoke_model_with_response_stream(modelId=MODEL, body=json.dumps(body))["body"]
        seen: list[Any] = []
        with pytest.raises(EventStreamError) as caught:
            seen.extend(stream)
        stream.close()
        return len(seen), caught.value.response["Error"]["Code"]

    live, again, data = round_trip(upstream, tmp_path / "c.yaml", run)
    # message_start, content_block_start and two text deltas (error_after: 2 pieces), then the exception.
    assert live == again == (4, "modelStreamErrorException")
    assert data["rules"][0]["reply"]["stream"]["error"]["type"] == "modelStreamErrorException"


def test_speech_is_forwarded_not_recorded(upstream: FakeLLMServer, tmp_path: Path) -> None:
    import httpx

    path = tmp_path / "c.yaml"
    upstream.add_rules("- name: tts\n  match: {api: speech}\n  reply: {audio: {seconds: 0.5}}\n")
    body = {"model": "tts-1", "voice": "alloy", "input": "hi", "response_format": "wav"}
    with RecordingServer(upstream.url, path) as proxy:
        audio = httpx.post(proxy.url + "/v1/audio/speech", json=body, timeout=10)
    assert audio.status_code == 200
    assert audio.content[:4] == b"RIFF"
    assert not path.exists() or "tts" not in path.read_text(encoding="utf-8")
