"""Provider profiles (cerebras, scale, gradient) and Scale's guided-decoding and memory fields."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fake_llm.settings import Settings
from fake_llm.testing.server import FakeLLMServer

RULES = """
- name: cerebras
  match: {user: cerebras}
  profile: cerebras
  reply: {content: fast}
- name: gradient
  match: {user: gradient}
  profile: gradient
  reply: {reasoning_content: "Thinking it over.", content: "Done.", usage: {cache_read_input_tokens: 5}}
- name: guided
  match: {user: guided}
  reply: {generate: {}}
- name: scripted-choice
  match: {user: scripted}
  reply: {content: maybe}
- name: stops
  match: {user: stops}
  reply: {content: "one two END three"}
- name: remembered
  match: {any_message: secret word}
  reply: {content: I remember}
- name: anything
  reply: {content: anything}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(rules=RULES, freeze_time=1767225600) as running:
        yield running


def post(server: FakeLLMServer, text: str, path: str = "/v1/chat/completions", **extra: Any) -> httpx.Response:
    headers = extra.pop("headers", {})
    body = {"model": "llama3.1-8b", "messages": [{"role": "user", "content": text}], **extra}
    return httpx.post(server.url + path, json=body, headers=headers, timeout=5)


def content(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["message"]["content"])


# ------------------------------------------------------------------ cerebras


@pytest.mark.parametrize(("temperature", "status"), [(0, 200), (1.5, 200), (1.6, 400), (-0.1, 400)])
def test_cerebras_temperature_range(server: FakeLLMServer, temperature: float, status: int) -> None:
    response = post(server, "cerebras", temperature=temperature)
    assert response.status_code == status
    if status == 400:
        assert response.json()["error"]["param"] == "temperature"
    if temperature > 1.5:  # below 0 is already OpenAI's own range error
        assert "between 0 and 1.5" in response.json()["error"]["message"]


def test_cerebras_refuses_json_mode_with_streaming(server: FakeLLMServer) -> None:
    response = post(server, "cerebras", stream=True, response_format={"type": "json_object"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "stream"
    assert post(server, "cerebras", response_format={"type": "json_object"}).status_code == 200


def test_without_the_profile_openai_ranges_apply(server: FakeLLMServer) -> None:
    assert post(server, "plain", temperature=1.9).status_code == 200


# ------------------------------------------------------------------ gradient


def test_gradient_usage_fields_and_reasoning_content(server: FakeLLMServer) -> None:
    body = post(server, "gradient").json()
    assert body["choices"][0]["message"]["reasoning_content"] == "Thinking it over."
    usage = body["usage"]
    assert usage["cache_created_input_tokens"] == 0
    assert usage["cache_read_input_tokens"] == 5  # the scenario's usage wins over the profile's defaults
    assert usage["cache_creation"] == {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0}
    streamed = post(server, "gradient", stream=True, stream_options={"include_usage": True}).text
    usage_chunk = json.loads(next(line for line in streamed.splitlines() if '"choices":[]' in line)[6:])
    assert usage_chunk["usage"]["cache_created_input_tokens"] == 0


def test_gradient_content_parts_are_accepted(server: FakeLLMServer) -> None:
    parts = [
        {"type": "text", "text": "gradient", "cache_control": {"type": "ephemeral", "ttl": "5m"}},
        {"type": "video_url", "video_url": {"url": "data:video/mp4;base64,AAAA"}},
    ]
    body = {"model": "m", "messages": [{"role": "user", "content": parts}]}
    assert httpx.post(server.base_url + "/chat/completions", json=body, timeout=5).status_code == 200


# ------------------------------------------------------------------ scale


def test_scale_paths_use_x_api_key_and_vendor_models() -> None:
    with FakeLLMServer(rules=RULES, api_keys=("scale-key",)) as server:
        for path in ("/v4/beta/chat/completions", "/v5/chat/completions"):
            ok = post(server, "hi", path, model="openai/gpt-4o", headers={"x-api-key": "scale-key"})
            assert content(ok) == "anything"
            assert server.journal.last.api == "scale"
        assert post(server, "hi", "/v5/chat/completions", model="openai/gpt-4o").status_code == 401
        bad = post(server, "hi", "/v5/chat/completions", model="gpt-4o", headers={"x-api-key": "scale-key"})
        assert bad.status_code == 400
        assert bad.json()["error"]["param"] == "model"


def test_guided_choice_and_regex_shape_generated_replies(server: FakeLLMServer) -> None:
    choices = ["positive", "negative", "neutral"]
    assert content(post(server, "guided", guided_choice=choices)) in choices
    assert re.fullmatch(r"[A-Z]{3}-\d{4}", content(post(server, "guided", guided_regex=r"[A-Z]{3}-\d{4}")))
    schema = {
        "type": "object",
        "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5}},
        "required": ["score"],
    }
    assert 1 <= json.loads(content(post(server, "guided", guided_json=schema)))["score"] <= 5
    assert post(server, "guided", guided_grammar="root ::= 'yes' | 'no'", top_k=5, chat_template="x").status_code == 200


def test_scripted_reply_that_breaks_guided_decoding_is_a_mismatch(server: FakeLLMServer) -> None:
    response = post(server, "scripted", guided_choice=["yes", "no"])
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "fake_llm_reply_mismatch"
    assert "'maybe' is not one of the request's guided_choice ['yes', 'no']" in response.json()["error"]["message"]


def test_include_stop_str_in_output(server: FakeLLMServer) -> None:
    assert content(post(server, "stops", stop=["END"])) == "one two "
    assert content(post(server, "stops", stop=["END"], include_stop_str_in_output=True)) == "one two END"


def test_memory_strategy_keeps_only_the_last_k_messages(server: FakeLLMServer) -> None:
    messages = [
        {"role": "user", "content": "the secret word is plum"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "what was it?"},
    ]

    def ask(**extra: Any) -> httpx.Response:
        body = {"model": "m", "messages": messages, **extra}
        return httpx.post(server.base_url + "/chat/completions", json=body, timeout=5)

    assert content(ask()) == "I remember"
    assert content(ask(memory_strategy={"name": "last_k", "k": 2})) == "anything"
    full, short = ask().json()["usage"]["prompt_tokens"], ask(memory_strategy={"name": "last_k", "k": 1})
    assert short.json()["usage"]["prompt_tokens"] < full


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"memory_strategy": {"name": "summary"}}, "memory_strategy"),
        ({"memory_strategy": {"name": "last_k", "k": 0}}, "memory_strategy.k"),
        ({"guided_choice": []}, "guided_choice"),
        ({"guided_regex": "("}, "guided_regex"),
        ({"guided_json": "schema"}, "guided_json"),
        ({"include_stop_str_in_output": "yes"}, "include_stop_str_in_output"),
    ],
)
def test_bad_guided_fields_are_400s_naming_the_param(server: FakeLLMServer, extra: dict[str, Any], param: str) -> None:
    response = post(server, "guided", **extra)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


# ------------------------------------------------------------------ where the profile comes from


def test_file_defaults_and_server_setting_choose_the_profile() -> None:
    from_defaults = {"defaults": {"profile": "cerebras"}, "rules": [{"name": "x", "reply": {"content": "x"}}]}
    with FakeLLMServer(rules=from_defaults) as server:
        assert post(server, "x", temperature=1.8).status_code == 400
    with FakeLLMServer(rules=[{"name": "y", "reply": {"content": "y"}}], profile="cerebras") as server:
        assert post(server, "y", temperature=1.8).status_code == 400
    overridden = [{"name": "z", "profile": "openai", "reply": {"content": "z"}}]
    with FakeLLMServer(rules=overridden, profile="cerebras") as server:
        assert post(server, "z", temperature=1.8).status_code == 200


def test_bad_profile_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="profile must be openai, cerebras, scale or gradient, got 'groq'"):
        Settings(profile="groq")


# ------------------------------------------------------------------ aggregators (Claude through the OpenAI format)


def test_aggregator_claude_models_through_chat_completions_with_images() -> None:
    """Aggregators serve claude-* models on /v1/chat/completions: the path picks the dialect, never the model."""
    openai = pytest.importorskip("openai")
    rules = [
        {"name": "vision", "match": {"model": "claude-*", "has_image": True}, "reply": {"content": "A red square."}},
        {"name": "text", "match": {"model": "claude-*"}, "reply": {"content": "Text only."}},
    ]
    with FakeLLMServer(rules=rules) as server, openai.OpenAI(base_url=server.base_url, api_key="sk-agg") as client:
        for url in ("https://example.com/cat.png", "data:image/png;base64,iVBORw0KGgo="):
            parts = [{"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": url}}]
            reply = client.chat.completions.create(
                model="claude-sonnet-4-5", messages=[{"role": "user", "content": parts}]
            )
            assert reply.object == "chat.completion"
            assert reply.choices[0].message.content == "A red square."
        plain = client.chat.completions.create(model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}])
        assert plain.choices[0].message.content == "Text only."
        assert server.journal.last.api == "openai-chat"
