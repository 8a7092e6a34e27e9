"""OpenAI legacy completions through the official SDK: `text_completion` objects (wire-format §4.1), prompt lists,
the default 16-token budget, streaming, legacy logprobs, errors and request validation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fake_llm.testing.server import FakeLLMServer
from tests.helpers import serve
from tests.sdk_clients import openai_client

openai = pytest.importorskip("openai")

MODEL = "gpt-3.5-turbo-instruct"
LONG = " ".join(f"word{i}" for i in range(40))

RULES = f"""
- name: long
  match: {{user: long}}
  reply: {{content: "{LONG}"}}
- name: stops
  match: {{user: stops}}
  reply: {{content: " first line\\nsecond line"}}
- name: broken
  match: {{user: broken}}
  reply:
    content: " one two three"
    stream: {{error_after: 2, error: {{message: "The server had an error.", type: server_error}}}}
- name: slow-down
  match: {{user: slow down}}
  reply: {{error: {{status: 429, message: "Rate limit reached."}}}}
- name: only-completions
  match: {{api: completions, user: dialect}}
  reply: {{content: " legacy rule"}}
- name: only-chat
  match: {{api: openai-chat, user: dialect}}
  reply: {{content: "chat rule"}}
- name: token-ids
  match: {{user: {{regex: "^[0-9 ]+$"}}}}
  reply: {{content: " from ids"}}
- name: greet
  match: {{user: hello}}
  reply: {{content: " Paris is nice."}}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    yield from serve(RULES)


@pytest.fixture(autouse=True)
def _reset(server: FakeLLMServer) -> None:
    server.reset(rules=False)


client = openai_client


def test_string_prompt(server: FakeLLMServer) -> None:
    completion = client(server).completions.create(model=MODEL, prompt="Say hello")
    assert completion.id.startswith("cmpl-")
    assert completion.object == "text_completion"
    assert completion.created == 1767225600
    assert completion.model == MODEL
    [choice] = completion.choices
    assert choice.text == " Paris is nice."
    assert choice.index == 0
    assert choice.finish_reason == "stop"
    assert choice.logprobs is None
    assert completion.usage is not None
    # Legacy prompts count only their text: no per-message chat overhead.
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (2, 4)
    assert completion.usage.total_tokens == 6


def test_default_max_tokens_of_16_cuts_a_long_reply(server: FakeLLMServer) -> None:
    openai_client = client(server)
    cut = openai_client.completions.create(model=MODEL, prompt="long")
    assert cut.choices[0].finish_reason == "length"
    assert cut.usage is not None
    assert cut.usage.completion_tokens == 16
    assert LONG.startswith(cut.choices[0].text)
    assert len(cut.choices[0].text) < len(LONG)
    whole = openai_client.completions.create(model=MODEL, prompt="long", max_tokens=200)
    assert whole.choices[0].text == LONG
    assert whole.choices[0].finish_reason == "stop"


def test_list_prompt_gets_n_choices_per_prompt(server: FakeLLMServer) -> None:
    completion = client(server).completions.create(model=MODEL, prompt=["hello", "hello again"], n=2, echo=True)
    assert [c.index for c in completion.choices] == [0, 1, 2, 3]
    assert [c.text for c in completion.choices] == [
        "hello Paris is nice.",
        "hello Paris is nice.",
        "hello again Paris is nice.",
        "hello again Paris is nice.",
    ]
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 16


def test_token_array_prompts_read_as_their_ids(server: FakeLLMServer) -> None:
    completion = client(server).completions.create(model=MODEL, prompt=[[15339, 1917], [15339]])
    assert [c.text for c in completion.choices] == [" from ids", " from ids"]
    assert server.journal.last.rule == "token-ids"


def test_stop_sequence_cuts_the_text(server: FakeLLMServer) -> None:
    completion = client(server).completions.create(model=MODEL, prompt="stops", stop="\n")
    assert completion.choices[0].text == " first line"
    assert completion.choices[0].finish_reason == "stop"


def test_stream_sends_whole_text_completion_chunks(server: FakeLLMServer) -> None:
    stream = client(server).completions.create(
        model=MODEL, prompt="hello", stream=True, stream_options={"include_usage": True}
    )
    with stream:
        chunks = list(stream)
    *content, usage = chunks
    assert all(c.object == "text_completion" and c.id == content[0].id for c in chunks)
    assert "".join(c.choices[0].text for c in content) == " Paris is nice."
    assert [c.choices[0].finish_reason for c in content] == [None, None, None, "stop"]
    assert usage.choices == []
    assert usage.usage is not None
    assert usage.usage.completion_tokens == 4


def test_stream_ends_with_done_and_omits_usage_by_default(server: FakeLLMServer) -> None:
    with httpx.Client(timeout=10) as http:
        response = http.post(server.base_url + "/completions", json={"model": MODEL, "prompt": "long", "stream": True})
    frames = response.text.split("\n\n")
    assert frames[-2:] == ["data: [DONE]", ""]
    assert '"usage"' not in response.text
    assert '"finish_reason":"length"' in frames[-3]


def test_legacy_logprobs_shape(server: FakeLLMServer) -> None:
    completion = client(server).completions.create(model=MODEL, prompt="hello", logprobs=3)
    logprobs = completion.choices[0].logprobs
    assert logprobs is not None
    assert "".join(logprobs.tokens) == " Paris is nice."
    assert len(logprobs.tokens) == len(logprobs.token_logprobs) == len(logprobs.top_logprobs) == 4
    assert logprobs.text_offset == [0, 6, 9, 14]
    for token, logprob, top in zip(logprobs.tokens, logprobs.token_logprobs, logprobs.top_logprobs, strict=True):
        assert len(top) == 3
        assert top[token] == logprob == max(top.values())


def test_echo_with_logprobs_covers_the_prompt(server: FakeLLMServer) -> None:
    completion = client(server).completions.create(model=MODEL, prompt="Say hello", echo=True, logprobs=0)
    choice = completion.choices[0]
    assert choice.text == "Say hello Paris is nice."
    assert choice.logprobs is not None
    assert choice.logprobs.tokens[:2] == ["Say", " hello"]
    assert choice.logprobs.token_logprobs[0] is None
    assert choice.logprobs.top_logprobs[0] is None
    assert all(len(top) == 1 for top in choice.logprobs.top_logprobs[1:])


def test_streamed_logprobs_match_the_whole_reply(server: FakeLLMServer) -> None:
    openai_client = client(server)
    whole = openai_client.completions.create(model=MODEL, prompt="hello", logprobs=2).choices[0].logprobs
    stream = openai_client.completions.create(model=MODEL, prompt="hello", logprobs=2, stream=True)
    with stream:
        pieces = [c.choices[0].logprobs for c in stream]
    assert [t for p in pieces for t in p.tokens] == whole.tokens
    assert [o for p in pieces for o in p.text_offset] == whole.text_offset


def test_api_match_key_tells_completions_from_chat(server: FakeLLMServer) -> None:
    openai_client = client(server)
    assert openai_client.completions.create(model=MODEL, prompt="dialect").choices[0].text == " legacy rule"
    chat = openai_client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "dialect"}])
    assert chat.choices[0].message.content == "chat rule"


def test_scripted_429_raises_rate_limit_error(server: FakeLLMServer) -> None:
    with pytest.raises(openai.RateLimitError):
        client(server).completions.create(model=MODEL, prompt="slow down")


def test_mid_stream_error_raises_api_error(server: FakeLLMServer) -> None:
    stream = client(server).completions.create(model=MODEL, prompt="broken", stream=True)
    with stream, pytest.raises(openai.APIError, match=r"The server had an error\."):
        list(stream)


@pytest.mark.parametrize(
    ("extra", "param", "message"),
    [
        pytest.param({"logprobs": 6}, "logprobs", "above maximum value", id="logprobs-range"),
        pytest.param({"logprobs": True}, "logprobs", "expected an integer", id="logprobs-bool"),
        pytest.param({"max_tokens": -1}, "max_tokens", "below minimum value", id="max-tokens"),
        pytest.param({"stop": ["a", "b", "c", "d", "e"]}, "stop", "array too long", id="stop"),
        pytest.param({"echo": "yes"}, "echo", "expected a boolean", id="echo"),
        pytest.param({"stream_options": {"include_usage": True}}, "stream_options", "only allowed", id="options"),
    ],
)
def test_validation_errors_name_the_param(
    server: FakeLLMServer, extra: dict[str, Any], param: str, message: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(server).completions.create(model=MODEL, prompt="hello", **extra)
    assert caught.value.param == param
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("body", "param"),
    [({"prompt": "hi"}, "model"), ({"model": MODEL}, "prompt"), ({"model": MODEL, "prompt": {"a": 1}}, "prompt")],
)
def test_body_level_validation(server: FakeLLMServer, body: dict[str, Any], param: str) -> None:
    with httpx.Client(timeout=10) as http:
        response = http.post(server.base_url + "/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
