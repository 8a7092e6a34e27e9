"""One provider-neutral rule answers identically through Ollama, Bedrock Converse, Cohere v2, Mistral and OpenAI chat:
the same text, the same tool call, the same completion token count, streamed and not, each read with its official
client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fake_llm.testing.server import FakeLLMServer
from tests.sdk_clients import closing, openai_client

ollama = pytest.importorskip("ollama")
cohere = pytest.importorskip("cohere")
boto3 = pytest.importorskip("boto3")
pytest.importorskip("mistralai")
from botocore.config import Config  # noqa: E402
from mistralai.client import Mistral  # noqa: E402

RULES = """
- name: capital
  match: {user: {regex: "(?i)capital of (?P<country>\\\\w+)"}}
  reply: {content: "The capital of {{ match.country }} is Paris.", stream: {chunk_tokens: 3}}
- name: lookup
  match: {user: weather, last_role: user}
  reply: {tool_calls: [{name: get_weather, arguments: {city: Paris, unit: celsius}}]}
"""
TEXT = "The capital of France is Paris."
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}}},
    },
}
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
WEATHER = [{"role": "user", "content": "weather in Paris?"}]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(rules=RULES, freeze_time=1767225600) as running:
        yield running


@pytest.fixture
def clients(server: FakeLLMServer) -> Iterator[dict[str, Any]]:
    with httpx.Client(timeout=10) as http, Mistral(api_key="k", server_url=server.url + "/mistral") as mistral:
        yield {
            "openai": openai_client(server),
            "ollama": closing(ollama.Client(host=server.url, timeout=10)),
            "cohere": cohere.ClientV2(api_key="k", base_url=server.url, httpx_client=http),
            "mistral": mistral,
            "bedrock": closing(
                boto3.client(
                    "bedrock-runtime",
                    endpoint_url=server.url,
                    region_name="us-east-1",
                    aws_access_key_id="AKIDEXAMPLE",
                    aws_secret_access_key="secret",
                    config=Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=10),
                )
            ),
        }


def _converse(messages: list[dict[str, str]]) -> list[dict[str, Any]]:
    return [{"role": m["role"], "content": [{"text": m["content"]}]} for m in messages]


BEDROCK_TOOLS = {
    "tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": TOOL["function"]["parameters"]}}}]
}


def answer(name: str, client: Any) -> tuple[str, int]:
    """(text, completion tokens) of a non-streamed answer."""
    if name == "openai":
        done = client.chat.completions.create(model="m", messages=QUESTION)
        return done.choices[0].message.content, done.usage.completion_tokens
    if name == "ollama":
        reply = client.chat(model="m", messages=QUESTION)
        return reply.message.content, reply.eval_count
    if name == "cohere":
        reply = client.chat(model="m", messages=QUESTION)
        return reply.message.content[0].text, reply.usage.tokens.output_tokens
    if name == "bedrock":
        done = client.converse(modelId="m", messages=_converse(QUESTION))
        return done["output"]["message"]["content"][0]["text"], done["usage"]["outputTokens"]
    reply = client.chat.complete(model="m", messages=QUESTION)
    return reply.choices[0].message.content, reply.usage.completion_tokens


def streamed(name: str, client: Any) -> str:
    if name == "openai":
        chunks = client.chat.completions.create(model="m", messages=QUESTION, stream=True)
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    if name == "ollama":
        return "".join(p.message.content for p in client.chat(model="m", messages=QUESTION, stream=True))
    if name == "cohere":
        events = client.chat_stream(model="m", messages=QUESTION)
        return "".join(e.delta.message.content.text for e in events if e.type == "content-delta")
    if name == "bedrock":
        stream = client.converse_stream(modelId="m", messages=_converse(QUESTION))["stream"]
        return "".join(e["contentBlockDelta"]["delta"].get("text", "") for e in stream if "contentBlockDelta" in e)
    events = client.chat.stream(model="m", messages=QUESTION)
    return "".join(str(e.data.choices[0].delta.content or "") for e in events)


def tool_call(name: str, client: Any) -> tuple[str, dict[str, Any]]:
    if name == "openai":
        call = (
            client.chat.completions.create(model="m", messages=WEATHER, tools=[TOOL]).choices[0].message.tool_calls[0]
        )
        return call.function.name, json.loads(call.function.arguments)
    if name == "ollama":
        ocall = client.chat(model="m", messages=WEATHER, tools=[TOOL]).message.tool_calls[0]
        return ocall.function.name, dict(ocall.function.arguments)
    if name == "cohere":
        ccall = client.chat(model="m", messages=WEATHER, tools=[TOOL]).message.tool_calls[0]
        return ccall.function.name, json.loads(ccall.function.arguments)
    if name == "bedrock":
        content = client.converse(modelId="m", messages=_converse(WEATHER), toolConfig=BEDROCK_TOOLS)["output"]
        use = next(block["toolUse"] for block in content["message"]["content"] if "toolUse" in block)
        return use["name"], use["input"]
    mcall = client.chat.complete(model="m", messages=WEATHER, tools=[TOOL]).choices[0].message.tool_calls[0]
    return mcall.function.name, json.loads(mcall.function.arguments)


DIALECTS = ["openai", "ollama", "bedrock", "cohere", "mistral"]


def test_one_rule_gives_the_same_answer_through_every_dialect(clients: dict[str, Any]) -> None:
    answers = {name: answer(name, clients[name]) for name in DIALECTS}
    assert set(answers.values()) == {(TEXT, answers["openai"][1])}
    assert answers["openai"][1] > 0


def test_one_rule_streams_the_same_text_through_every_dialect(clients: dict[str, Any]) -> None:
    assert {name: streamed(name, clients[name]) for name in DIALECTS} == dict.fromkeys(DIALECTS, TEXT)


def test_one_tool_call_rule_through_every_dialect(clients: dict[str, Any]) -> None:
    expected = ("get_weather", {"city": "Paris", "unit": "celsius"})
    assert {name: tool_call(name, clients[name]) for name in DIALECTS} == dict.fromkeys(DIALECTS, expected)
