"""Golden wire transcripts of the Ollama, Cohere v2 and Mistral dialects: byte-exact answers with a fixed seed and a
frozen clock. Regenerate with FAKE_LLM_UPDATE_GOLDENS=1 and review the diff: these files are the wire contract."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from fake_llm.app import create_app
from fake_llm.scenarios import parse_rules
from fake_llm.settings import Settings

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "golden"
RULES = """
- name: capital
  match: {user: capital of France}
  reply: {content: "The capital of France is Paris.", stream: {chunk_tokens: 2}}
- name: weather
  match: {user: weather}
  reply: {content: "Let me check.", tool_calls: [{name: get_weather, arguments: {city: Paris}}]}
- name: vectors
  match: {api: [ollama-embed, cohere-embed, cohere-rerank, mistral-embeddings]}
  reply: {content: ""}
"""
QUESTION = [
    {"role": "system", "content": "Answer in one sentence."},
    {"role": "user", "content": "What is the capital of France?"},
]
WEATHER = [{"role": "user", "content": "weather in Paris?"}]
TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("ollama_chat.json", "/api/chat", {"model": "llama3.2", "messages": QUESTION, "stream": False}),
    ("ollama_chat_stream.ndjson", "/api/chat", {"model": "llama3.2", "messages": QUESTION}),
    (
        "ollama_tool_call.json",
        "/api/chat",
        {"model": "llama3.2", "messages": WEATHER, "tools": [TOOL], "stream": False},
    ),
    ("ollama_tool_call_stream.ndjson", "/api/chat", {"model": "llama3.2", "messages": WEATHER, "tools": [TOOL]}),
    (
        "ollama_generate_stream.ndjson",
        "/api/generate",
        {"model": "llama3.2", "prompt": "What is the capital of France?", "system": "Answer in one sentence."},
    ),
    ("ollama_embed.json", "/api/embed", {"model": "nomic-embed-text", "input": ["a", "b"], "dimensions": 4}),
    ("cohere_chat.json", "/v2/chat", {"model": "command-a-03-2025", "messages": QUESTION}),
    ("cohere_chat_stream.sse", "/v2/chat", {"model": "command-a-03-2025", "messages": QUESTION, "stream": True}),
    ("cohere_tool_call.json", "/v2/chat", {"model": "command-a-03-2025", "messages": WEATHER, "tools": [TOOL]}),
    (
        "cohere_tool_call_stream.sse",
        "/v2/chat",
        {"model": "command-a-03-2025", "messages": WEATHER, "tools": [TOOL], "stream": True},
    ),
    (
        "cohere_embed.json",
        "/v2/embed",
        {
            "model": "embed-v4.0",
            "texts": ["a"],
            "input_type": "search_query",
            "embedding_types": ["float", "int8", "ubinary"],
            "output_dimension": 256,
        },
    ),
    (
        "cohere_rerank.json",
        "/v2/rerank",
        {"model": "rerank-v3.5", "query": "capital of France", "documents": ["Paris is in France", "Bananas"]},
    ),
    ("mistral_chat.json", "/mistral/v1/chat/completions", {"model": "mistral-small-latest", "messages": QUESTION}),
    (
        "mistral_chat_stream.sse",
        "/mistral/v1/chat/completions",
        {"model": "mistral-small-latest", "messages": QUESTION, "stream": True},
    ),
    (
        "mistral_tool_call_stream.sse",
        "/mistral/v1/chat/completions",
        {"model": "mistral-small-latest", "messages": WEATHER, "tools": [TOOL], "stream": True},
    ),
    (
        "mistral_embeddings.json",
        "/mistral/v1/embeddings",
        {"model": "codestral-embed", "inputs": ["a"], "output_dimension": 4},
    ),
]


def check_golden(name: str, actual: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("FAKE_LLM_UPDATE_GOLDENS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual)
    assert actual == path.read_bytes(), f"{path} differs; FAKE_LLM_UPDATE_GOLDENS=1 rewrites it"


@pytest.mark.parametrize(("name", "path", "body"), CASES, ids=[c[0] for c in CASES])
def test_golden(name: str, path: str, body: dict[str, Any]) -> None:
    app = create_app(Settings(freeze_time=1767225600, seed=0), scenarios=[parse_rules(RULES, source="<golden>")])
    with TestClient(app) as client, client.stream("POST", path, json=body) as response:
        raw = response.read()
    assert response.status_code == 200, raw
    check_golden(name, raw)
