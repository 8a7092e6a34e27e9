"""Record mode for Ollama, Cohere v2 and Mistral: each official client talks through the recording proxy to a second
fake-llm (the upstream), then a fresh server replays the recorded file and the client must see the same answers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from fake_llm.cli import main
from fake_llm.scenarios.loader import load_scenario
from fake_llm.testing.recording import RecordingServer
from fake_llm.testing.server import FakeLLMServer

ollama = pytest.importorskip("ollama")
cohere = pytest.importorskip("cohere")
pytest.importorskip("mistralai")
from mistralai.client import Mistral  # noqa: E402
from mistralai.client.errors import SDKError  # noqa: E402

from tests.helpers import user_turn  # noqa: E402

KEY = "sk-live-RECORDER-SECRET-0123456789"
UPSTREAM_RULES = """
- name: greet
  match: {user: hello}
  reply: {content: "Hello there, how may I assist you today?", stream: {chunk_tokens: 2}}
- name: think
  match: {user: think}
  reply: {reasoning_content: "Six times seven.", content: "42, of course."}
- name: weather-call
  match: {user: weather, last_role: user}
  reply: {tool_calls: [{name: get_weather, arguments: {city: Paris}}]}
- name: busy
  match: {user: busy}
  reply: {error: {status: 429, message: "slow down"}}
- name: broken
  match: {user: broken}
  reply: {content: "one two three four", stream: {error_after: 2, error: {message: "runner crashed"}}}
- name: vectors
  match: {api: [ollama-embed, ollama-embeddings, cohere-embed, cohere-rerank, mistral-embeddings]}
  reply: {content: ""}
"""
TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(rules=UPSTREAM_RULES, api_keys=(KEY,), freeze_time=1767225600) as running:
        yield running


def round_trip(upstream: str, path: Path, run: Callable[[str], Any]) -> tuple[Any, Any, dict[str, Any]]:
    """What `run(url)` sees through the recording proxy, then against a server replaying the file; and the file."""
    with RecordingServer(upstream, path) as proxy:
        live = run(proxy.url)
    text = path.read_text(encoding="utf-8")
    assert KEY not in text
    load_scenario(path)
    assert main(["check", str(path)]) == 0
    with FakeLLMServer(scenarios=[path], freeze_time=1767225600) as replay:
        again = run(replay.url)
        assert replay.journal.unmatched == []
    return live, again, yaml.safe_load(text)


def test_ollama_records_and_replays(upstream: FakeLLMServer, tmp_path: Path) -> None:
    def run(url: str) -> dict[str, Any]:
        client = ollama.Client(host=url, headers={"authorization": f"Bearer {KEY}"}, timeout=10)
        try:
            out: dict[str, Any] = {
                "chat": client.chat(model="llama3.2", messages=user_turn("hello")).message.content,
                "stream": [
                    p.message.content for p in client.chat(model="llama3.2", messages=user_turn("hello"), stream=True)
                ],
                "think": client.chat(model="qwen3", messages=user_turn("think"), think=True).message.model_dump(),
                "tool": client.chat(
                    model="llama3.2", messages=user_turn("weather?"), tools=[TOOL]
                ).message.model_dump(),
                "generate": [p.response for p in client.generate(model="llama3.2", prompt="hello", stream=True)],
                "embed": client.embed(model="nomic-embed-text", input="first").embeddings,
                "eval_count": client.chat(model="llama3.2", messages=user_turn("hello")).eval_count,
            }
            with pytest.raises(ollama.ResponseError) as busy:
                client.chat(model="llama3.2", messages=user_turn("busy"))
            out["error"] = (busy.value.status_code, busy.value.error)
            with pytest.raises(ollama.ResponseError) as broken:
                list(client.chat(model="llama3.2", messages=user_turn("broken"), stream=True))
            out["broken"] = broken.value.error
            return out
        finally:
            client.close()

    live, again, data = round_trip(upstream.url, tmp_path / "ollama.yaml", run)
    assert again == live
    assert live["tool"]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}
    assert live["error"] == (429, "slow down")
    assert {rule["match"]["api"] for rule in data["rules"]} == {"ollama", "ollama-generate", "ollama-embed"}


def test_cohere_records_and_replays(upstream: FakeLLMServer, tmp_path: Path) -> None:
    def run(url: str) -> dict[str, Any]:
        with httpx.Client(timeout=10) as http:
            client = cohere.ClientV2(api_key=KEY, base_url=url, httpx_client=http)
            chat = client.chat(model="command-a", messages=user_turn("hello"))
            events = list(client.chat_stream(model="command-a", messages=user_turn("hello")))
            tool = client.chat(model="command-a", messages=user_turn("weather?"), tools=[TOOL])
            out: dict[str, Any] = {
                "chat": chat.model_dump(exclude={"id"}),
                "stream": [e.model_dump(exclude={"id"}) for e in events],
                "tool": tool.model_dump(exclude={"id"}),
                "embed": client.embed(
                    model="embed-v4.0", texts=["first"], input_type="search_query", embedding_types=["float", "int8"]
                ).embeddings.model_dump(),
                "rerank": client.rerank(
                    model="rerank-v3.5",
                    query="capital of France",
                    documents=["Paris, France", "Bananas", "Rome"],
                    top_n=2,
                ).results,
            }
            with pytest.raises(cohere.errors.TooManyRequestsError) as busy:
                client.chat(model="command-a", messages=user_turn("busy"), request_options={"max_retries": 0})
            out["error"] = busy.value.body
            return out

    live, again, data = round_trip(upstream.url, tmp_path / "cohere.yaml", run)
    assert again == live
    assert "".join(e["delta"]["message"]["content"]["text"] for e in live["stream"] if e["type"] == "content-delta")
    assert [r.index for r in live["rerank"]] == [0, 2]
    assert any("scores" in rule["reply"] for rule in data["rules"])


def test_mistral_records_and_replays(upstream: FakeLLMServer, tmp_path: Path) -> None:
    def run(url: str) -> dict[str, Any]:
        with Mistral(api_key=KEY, server_url=url + "/mistral") as client:
            out: dict[str, Any] = {
                "chat": client.chat.complete(model="mistral-small", messages=user_turn("hello"))
                .choices[0]
                .message.content,
                "stream": [
                    e.data.model_dump(exclude={"id"})
                    for e in client.chat.stream(model="mistral-small", messages=user_turn("hello"))
                ],
                "tool": json.loads(
                    str(
                        client.chat.complete(model="mistral-small", messages=user_turn("weather?"), tools=[TOOL])
                        .choices[0]
                        .message.tool_calls[0]  # type: ignore[index]
                        .function.arguments
                    )
                ),
                "embed": client.embeddings.create(model="mistral-embed", inputs="first").data[0].embedding,
            }
            with pytest.raises(SDKError) as busy:
                client.chat.complete(model="mistral-small", messages=user_turn("busy"))
            out["error"] = (busy.value.status_code, json.loads(busy.value.body))
            return out

    # The real API has no /mistral prefix: the proxy drops it, and a fake-llm upstream gets it back from the URL.
    live, again, _ = round_trip(upstream.url + "/mistral", tmp_path / "mistral.yaml", run)
    assert again == live
    assert live["tool"] == {"city": "Paris"}
    assert live["error"][1]["message"] == "slow down"


def test_the_mistral_prefix_is_dropped_on_the_way_to_the_real_api(tmp_path: Path) -> None:
    from fake_llm.dialects import PROVIDERS
    from fake_llm.record.proxy import Recorder

    scope = {"path": "/mistral/v1/chat/completions", "raw_path": b"/mistral/v1/chat/completions", "query_string": b""}
    recorder = Recorder("https://api.mistral.ai", tmp_path / "out.yaml")
    assert str(recorder.target(scope, PROVIDERS["mistral"])) == "https://api.mistral.ai/v1/chat/completions"
    assert str(recorder.target(scope, PROVIDERS["openai-chat"])) == "https://api.mistral.ai/mistral/v1/chat/completions"
