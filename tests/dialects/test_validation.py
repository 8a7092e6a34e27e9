"""Bad requests to the Ollama, Cohere v2 and Mistral dialects: each gets a 4xx in the provider's own error shape whose
message names the field, never a 500 (in-process, through Starlette's TestClient)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from fake_llm.http.app import create_app
from fake_llm.scenarios.loader import parse_rules
from fake_llm.settings import Settings

RULES = """
- name: long
  match: {user: long}
  reply: {content: "one two three"}
- name: anything
  reply: {content: "ok"}
"""
USER = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = create_app(Settings(freeze_time=1767225600), scenarios=[parse_rules(RULES, source="<validation>")])
    return TestClient(app)


OLLAMA: list[tuple[str, Any, str]] = [
    ("/api/chat", [1], "json: cannot unmarshal array into Go value of type api.ChatRequest"),
    ("/api/chat", {"model": 3, "messages": USER}, "cannot unmarshal number into Go struct field model of type string"),
    ("/api/chat", {"model": "m", "messages": [{"content": "x"}]}, "messages[0].role is required"),
    ("/api/chat", {"model": "m", "messages": [3]}, "cannot unmarshal number into Go struct field messages[0]"),
    ("/api/chat", {"model": "m", "messages": [{"role": "user", "content": 5}]}, "field messages[0].content of type"),
    (
        "/api/chat",
        {"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"function": {}}]}]},
        "messages[0].tool_calls[0].function.name is required",
    ),
    (
        "/api/chat",
        {
            "model": "m",
            "messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "x"}}]}],
        },
        "api.ToolCallFunctionArguments",
    ),
    ("/api/chat", {"model": "m", "messages": USER, "tools": {}}, "of type api.Tools"),
    ("/api/chat", {"model": "m", "messages": USER, "tools": [{"function": {}}]}, "tools[0].function.name is required"),
    ("/api/chat", {"model": "m", "messages": USER, "options": []}, "field options of type map"),
    ("/api/chat", {"model": "m", "messages": USER, "options": {"stop": "x"}}, "option 'stop' must be"),
    ("/api/chat", {"model": "m", "messages": USER, "stream": "yes"}, "field stream of type bool"),
    ("/api/chat", {"model": "m", "messages": USER, "think": 3}, "field think of type api.ThinkValue"),
    ("/api/generate", {"model": "m", "prompt": 3}, "field prompt of type string"),
    ("/api/embed", {"model": "m", "input": 3}, "invalid input type: number"),
    ("/api/embed", {"model": "m", "input": "x", "dimensions": "8"}, "field dimensions of type int"),
    ("/api/embed", {"model": "m", "input": "x", "dimensions": 5000}, "dimensions must be between 1 and 768"),
    ("/api/embeddings", {"model": "m", "prompt": 3}, "field prompt of type string"),
    ("/api/show", {}, "model is required"),
]


@pytest.mark.parametrize(("path", "body", "message"), OLLAMA)
def test_ollama_400s(client: TestClient, path: str, body: Any, message: str) -> None:
    answer = client.post(path, json=body)
    assert answer.status_code == 400
    assert list(answer.json()) == ["error"]
    assert message in answer.json()["error"]


COHERE: list[tuple[str, Any, str]] = [
    ("/v2/chat", [], "the request body must be a JSON object."),
    ("/v2/chat", {"messages": USER}, "model must be specified."),
    ("/v2/chat", {"model": "c"}, "messages must be specified."),
    ("/v2/chat", {"model": "c", "messages": []}, "messages must be a non-empty list."),
    ("/v2/chat", {"model": "c", "messages": [1]}, "messages[0] must be an object."),
    ("/v2/chat", {"model": "c", "messages": [{"role": "bot"}]}, "messages[0].role must be one of"),
    ("/v2/chat", {"model": "c", "messages": [{"role": "user", "content": 3}]}, "messages[0].content must be a string"),
    (
        "/v2/chat",
        {"model": "c", "messages": [{"role": "user", "content": [{"type": "video"}]}]},
        "messages[0].content[0].type must be one of",
    ),
    ("/v2/chat", {"model": "c", "messages": [{"role": "user", "content": ""}]}, "message must be at least 1 token"),
    ("/v2/chat", {"model": "c", "messages": [{"role": "tool", "content": "x"}]}, "tool_call_id must be specified"),
    (
        "/v2/chat",
        {"model": "c", "messages": [{"role": "assistant", "tool_calls": {}}]},
        "messages[0].tool_calls must be a list.",
    ),
    (
        "/v2/chat",
        {"model": "c", "messages": [{"role": "assistant", "tool_calls": [{}]}]},
        "messages[0].tool_calls[0].function.name must be specified.",
    ),
    ("/v2/chat", {"model": "c", "messages": USER, "stream": 1}, "stream must be a boolean."),
    ("/v2/chat", {"model": "c", "messages": USER, "k": 1.5}, "k must be an integer between 0 and 500."),
    ("/v2/chat", {"model": "c", "messages": USER, "stop_sequences": "x"}, "stop_sequences must be a list"),
    ("/v2/chat", {"model": "c", "messages": USER, "thinking": {"type": "on"}}, "thinking.type must be one of"),
    ("/v2/chat", {"model": "c", "messages": USER, "tools": {}}, "tools must be a list."),
    ("/v2/chat", {"model": "c", "messages": USER, "tools": [{}]}, "tools[0].function.name must be specified."),
    ("/v2/chat", {"model": "c", "messages": USER, "response_format": {"type": "xml"}}, "response_format.type must"),
    ("/v2/chat", {"model": "c", "messages": USER, "tool_choice": "AUTO"}, "tool_choice must be one of REQUIRED, NONE."),
    ("/v2/embed", [], "the request body must be a JSON object."),
    ("/v2/embed", {"model": "e", "input_type": "search_query"}, "one of texts, images or inputs must be specified."),
    ("/v2/embed", {"model": "e", "texts": [1], "input_type": "search_query"}, "texts must be a list of strings."),
    ("/v2/embed", {"model": "e", "texts": ["a"] * 97, "input_type": "search_query"}, "at most 96 elements, got 97"),
    (
        "/v2/embed",
        {"model": "e", "texts": ["a"], "input_type": "search_query", "embedding_types": ["f16"]},
        "embedding_types must be a list of",
    ),
    (
        "/v2/embed",
        {"model": "e", "texts": ["a"], "input_type": "search_query", "output_dimension": 100},
        "output_dimension must be one of",
    ),
    ("/v2/rerank", [], "the request body must be a JSON object."),
    ("/v2/rerank", {"model": "r", "query": "q"}, "documents must be a non-empty list."),
    ("/v2/rerank", {"model": "r", "query": "q", "documents": [1]}, "documents must be a list of strings."),
    ("/v2/rerank", {"model": "r", "query": "q", "documents": ["a"] * 1001}, "documents must have at most 1000"),
    ("/v2/rerank", {"model": "r", "query": 3, "documents": ["a"]}, "query must be a non-empty string."),
    ("/v2/rerank", {"model": "r", "query": "q", "documents": ["a"], "top_n": 0}, "top_n must be an integer"),
]


@pytest.mark.parametrize(("path", "body", "message"), COHERE)
def test_cohere_400s(client: TestClient, path: str, body: Any, message: str) -> None:
    answer = client.post(path, json=body)
    assert answer.status_code == 400
    assert answer.json() == {"message": answer.json()["message"]}
    assert answer.json()["message"].startswith("invalid request: ")
    assert message in answer.json()["message"]


MISTRAL: list[tuple[str, Any, str, str | None]] = [
    ("/mistral/v1/chat/completions", [], "Invalid type for 'body'", "body"),
    ("/mistral/v1/chat/completions", {"model": "m"}, "Missing required parameter: 'messages'.", "messages"),
    (
        "/mistral/v1/chat/completions",
        {"model": "m", "messages": [{"role": "tool", "content": "x"}]},
        "Missing required parameter: 'messages[0].tool_call_id'.",
        "messages[0].tool_call_id",
    ),
    ("/mistral/v1/embeddings", [], "Invalid request body: expected a JSON object.", None),
    ("/mistral/v1/embeddings", {"inputs": ["a"]}, "Missing required parameter: 'model'.", "model"),
    ("/mistral/v1/embeddings", {"model": "e", "inputs": []}, "'inputs' must be a non-empty string", "inputs"),
    (
        "/mistral/v1/embeddings",
        {"model": "e", "inputs": "a", "output_dimension": 0},
        "'output_dimension' must be an integer from 1 to 3072.",
        "output_dimension",
    ),
]


@pytest.mark.parametrize(("path", "body", "message", "param"), MISTRAL)
def test_mistral_400s(client: TestClient, path: str, body: Any, message: str, param: str | None) -> None:
    answer = client.post(path, json=body)
    assert answer.status_code == 400
    error = answer.json()
    assert error["object"] == "error"
    assert message in error["message"]
    assert error["param"] == param


def test_mistral_tool_messages_without_ids_link_to_the_call_by_name(client: TestClient) -> None:
    call = {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    messages = [
        *USER,
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "name": "get_weather", "content": "sun"},
    ]
    answer = client.post("/mistral/v1/chat/completions", json={"model": "m", "messages": messages, "random_seed": 1})
    assert answer.status_code == 200
    assert answer.json()["choices"][0]["message"]["content"] == "ok"


def test_ollama_generate_thinking_and_length(client: TestClient) -> None:
    body = {"model": "m", "prompt": "long", "stream": False, "options": {"num_predict": 1}, "think": True}
    answer = client.post("/api/generate", json=body).json()
    assert answer["done_reason"] == "length"
    assert answer["eval_count"] == 1
