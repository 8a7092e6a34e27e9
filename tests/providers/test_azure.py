"""Azure OpenAI chat completions through `openai.AzureOpenAI`: deployments as models, api-key auth, content-filter
annotations, the prompt-filter stream chunk and Azure's gateway errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from fake_llm.testing.server import FakeLLMServer
from tests.helpers import serve

API_VERSION = "2024-10-21"

RULES = """
- name: azure-only
  match: {api: azure, user: dialect}
  reply: {content: "azure dialect"}
- name: chat-only
  match: {api: openai-chat, user: dialect}
  reply: {content: "openai dialect"}
- name: deployment
  match: {model: "prod-*"}
  reply: {content: "deployment {{ request.model }}"}
- name: filtered
  match: {user: filtered}
  reply: {content: "I cannot", finish_reason: content_filter}
- name: busy
  match: {user: busy}
  reply: {error: {status: 429}}
- name: tools
  match: {user: weather}
  reply: {tool_calls: [{name: get_weather, arguments: {city: Paris}}]}
- name: fallback
  reply: {content: "Hello from Azure.", stream: {chunk_tokens: 2}}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    yield from serve(RULES)


@pytest.fixture
def client(server: FakeLLMServer) -> Iterator[openai.AzureOpenAI]:
    made = openai.AzureOpenAI(azure_endpoint=server.url, api_key="k", api_version=API_VERSION, max_retries=0)
    yield made
    made.close()


def hello(text: str = "hello") -> list[Any]:
    return [{"role": "user", "content": text}]


def test_chat_completion(client: openai.AzureOpenAI, server: FakeLLMServer) -> None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=hello())
    assert completion.choices[0].message.content == "Hello from Azure."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "gpt-4o-mini"
    extra = completion.model_extra or {}
    filters = extra["prompt_filter_results"][0]["content_filter_results"]
    assert filters["jailbreak"] == {"filtered": False, "detected": False}
    choice_extra = completion.choices[0].model_extra or {}
    assert choice_extra["content_filter_results"]["hate"] == {"filtered": False, "severity": "safe"}
    entry = server.journal.last
    assert entry.path == "/openai/deployments/gpt-4o-mini/chat/completions"
    assert entry.api == "azure"


def test_stream(client: openai.AzureOpenAI) -> None:
    with client.chat.completions.create(model="gpt-4o-mini", messages=hello(), stream=True) as stream:
        chunks = list(stream)
    # Azure's first chunk carries only the prompt filter verdict: no id, no model, no choices.
    assert chunks[0].choices == []
    assert chunks[0].id == ""
    assert "prompt_filter_results" in (chunks[0].model_extra or {})
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello from Azure."
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    content = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert all((c.choices[0].model_extra or {})["content_filter_results"]["violence"] for c in content)


def test_stream_helper_accumulates(client: openai.AzureOpenAI) -> None:
    with client.chat.completions.stream(model="gpt-4o-mini", messages=hello()) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "Hello from Azure."


def test_deployment_is_the_model(server: FakeLLMServer) -> None:
    with openai.AzureOpenAI(
        azure_endpoint=server.url, api_key="k", api_version=API_VERSION, azure_deployment="prod-gpt4o"
    ) as client:
        completion = client.chat.completions.create(model="prod-gpt4o", messages=hello())
    assert completion.choices[0].message.content == "deployment prod-gpt4o"
    assert server.journal.last.path == "/openai/deployments/prod-gpt4o/chat/completions"
    # Without `model` in the body, the deployment name is the model.
    with httpx.Client(base_url=server.url, timeout=10) as raw:
        response = raw.post(
            "/openai/deployments/prod-east/chat/completions",
            params={"api-version": API_VERSION},
            headers={"api-key": "k"},
            json={"messages": hello()},
        )
    assert response.json()["model"] == "prod-east"
    assert response.json()["choices"][0]["message"]["content"] == "deployment prod-east"


def test_api_match_key(client: openai.AzureOpenAI) -> None:
    assert client.chat.completions.create(model="gpt-4o", messages=hello("dialect")).choices[0].message.content == (
        "azure dialect"
    )


def test_tool_calls(client: openai.AzureOpenAI) -> None:
    tools: Any = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    completion = client.chat.completions.create(model="gpt-4o", messages=hello("weather?"), tools=tools)
    call: Any = completion.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"
    assert call.function.arguments == '{"city":"Paris"}'


def test_content_filter_finish(client: openai.AzureOpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o", messages=hello("filtered"))
    assert completion.choices[0].finish_reason == "content_filter"
    results = (completion.choices[0].model_extra or {})["content_filter_results"]
    assert any(r.get("filtered") for r in results.values())


def test_missing_api_version_is_404(server: FakeLLMServer) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as raw:
        response = raw.post(
            "/openai/deployments/gpt-4o/chat/completions", headers={"api-key": "k"}, json={"messages": hello()}
        )
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "404", "message": "Resource not found"}}


def test_rate_limit_gateway_error(client: openai.AzureOpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=hello("busy"))
    assert caught.value.code == "429"
    assert "Azure OpenAI" in caught.value.message


def test_validation_errors_use_openai_envelope(client: openai.AzureOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[])
    assert caught.value.param == "messages"


def test_v1_route_with_plain_openai_client(server: FakeLLMServer) -> None:
    with openai.OpenAI(base_url=server.url + "/openai/v1", api_key="k") as client:
        completion = client.chat.completions.create(model="gpt-4.1", messages=hello())
    assert completion.choices[0].message.content == "Hello from Azure."
    assert server.journal.last.api == "azure"
    assert server.journal.last.model == "gpt-4.1"


@pytest.fixture(scope="module")
def locked() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(rules=RULES, api_keys=("k",), freeze_time=1767225600, time_scale=0) as running:
        yield running


def test_api_key_auth(locked: FakeLLMServer) -> None:
    with openai.AzureOpenAI(azure_endpoint=locked.url, api_key="k", api_version=API_VERSION) as client:
        assert client.chat.completions.create(model="gpt-4o", messages=hello()).choices[0].message.content
    with openai.AzureOpenAI(azure_endpoint=locked.url, azure_ad_token="k", api_version=API_VERSION) as client:
        assert client.chat.completions.create(model="gpt-4o", messages=hello()).choices[0].message.content
    wrong = openai.AzureOpenAI(azure_endpoint=locked.url, api_key="wrong", api_version=API_VERSION)
    with wrong, pytest.raises(openai.AuthenticationError) as caught:
        wrong.chat.completions.create(model="gpt-4o", messages=hello())
    assert caught.value.status_code == 401
    assert caught.value.code == "401"
    assert "Access denied due to invalid subscription key" in caught.value.message
