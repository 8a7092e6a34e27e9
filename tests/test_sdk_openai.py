"""The official openai SDK (sync and async, streamed and not) against the threaded server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fake_llm.testing.server import FakeLLMServer
from tests.sdk_clients import closing

openai = pytest.importorskip("openai")

RULES = """
- name: greet
  match: {user: hello}
  reply: {content: "Hello there, how may I assist you today?"}
- name: essay
  match: {user: {regex: "(?i)write an? (?P<kind>essay|poem)"}}
  reply: {content: "One two three four five six seven eight nine ten.", stream: {chunk_tokens: 2}}
- name: flaky
  match: {user: {equals: "retry me"}}
  replies:
    - error: {status: 503, message: "The server is overloaded", headers: {retry-after-ms: "1"}}
    - content: "ok after retry"
- name: teapot
  match: {user: teapot}
  reply: {error: {status: 418, message: "I'm a teapot", code: teapot, param: messages}}
- name: choices
  match: {user: options}
  reply: {choices: [{content: "A"}, {content: "B"}]}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(rules=RULES, freeze_time=1767225600) as running:
        yield running


@pytest.fixture(autouse=True)
def _reset(server: FakeLLMServer) -> None:
    server.reset(rules=False)


def client(server: FakeLLMServer, **options: object) -> openai.OpenAI:
    """A client closed after the test, so no connection outlives it."""
    made = openai.OpenAI(base_url=server.base_url, api_key="sk-test", timeout=10, **options)
    closing(made)
    return made


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_non_stream_completion_parses_into_the_sdk_model(server: FakeLLMServer) -> None:
    completion = client(server).chat.completions.create(model="gpt-4o-mini", messages=ask("hello"))
    assert completion.choices[0].message.content == "Hello there, how may I assist you today?"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.id.startswith("chatcmpl-")
    assert completion.created == 1767225600
    assert completion.usage is not None
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens == 17
    assert completion.system_fingerprint
    assert completion.system_fingerprint.startswith("fp_")


def test_raw_response_carries_request_id(server: FakeLLMServer) -> None:
    raw = client(server).chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=ask("hello"))
    assert raw.headers["x-request-id"].startswith("req_")
    assert raw.parse().choices[0].message.content.startswith("Hello")


def test_stream_with_usage(server: FakeLLMServer) -> None:
    stream = client(server).chat.completions.create(
        model="gpt-4o-mini", messages=ask("write an essay"), stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    contents = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert contents == ["One two", " three four", " five six", " seven eight", " nine ten", "."]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 11


def test_stream_helper_accumulates_final_completion(server: FakeLLMServer) -> None:
    with client(server).chat.completions.stream(model="gpt-4o-mini", messages=ask("hello")) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "Hello there, how may I assist you today?"


def test_max_tokens_truncates_with_length(server: FakeLLMServer) -> None:
    completion = client(server).chat.completions.create(model="gpt-4o-mini", messages=ask("hello"), max_tokens=3)
    assert completion.choices[0].message.content == "Hello there,"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 3


def test_stop_sequence(server: FakeLLMServer) -> None:
    completion = client(server).chat.completions.create(model="gpt-4o-mini", messages=ask("hello"), stop=[","])
    assert completion.choices[0].message.content == "Hello there"
    assert completion.choices[0].finish_reason == "stop"


def test_n_choices(server: FakeLLMServer) -> None:
    completion = client(server).chat.completions.create(model="gpt-4o-mini", messages=ask("options"), n=3)
    assert [c.message.content for c in completion.choices] == ["A", "B", "A"]
    assert [c.index for c in completion.choices] == [0, 1, 2]


def test_sdk_retries_a_503_then_succeeds(server: FakeLLMServer) -> None:
    completion = client(server, max_retries=2).chat.completions.create(model="gpt-4o-mini", messages=ask("retry me"))
    assert completion.choices[0].message.content == "ok after retry"
    attempts = server.journal.filter(rule="flaky")
    assert [e.status for e in attempts] == [503, 200]
    assert [e.headers["x-stainless-retry-count"] for e in attempts] == ["0", "1"]


def test_scripted_error_becomes_the_sdk_exception(server: FakeLLMServer) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client(server, max_retries=0).chat.completions.create(model="gpt-4o-mini", messages=ask("teapot"))
    assert caught.value.status_code == 418
    assert caught.value.code == "teapot"
    assert caught.value.param == "messages"
    assert caught.value.request_id is not None
    assert caught.value.request_id.startswith("req_")


def test_bad_request_is_not_retried(server: FakeLLMServer) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(server, max_retries=2).chat.completions.create(model="gpt-4o-mini", messages=ask("no rule for me"))
    assert caught.value.code == "fake_llm_no_match"
    assert "greet: user: last user message 'no rule for me' does not contain 'hello'" in str(caught.value)
    assert len(server.journal.unmatched) == 1


def test_models_list_and_retrieve(server: FakeLLMServer) -> None:
    sdk = client(server)
    assert "gpt-4o-mini" in [m.id for m in sdk.models.list()]
    assert sdk.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("no-such-model")


@pytest.mark.anyio
async def test_async_client_streams_and_completes(server: FakeLLMServer) -> None:
    sdk = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", timeout=10)
    completion = await sdk.chat.completions.create(model="gpt-4o-mini", messages=ask("hello"))
    assert completion.choices[0].message.content.startswith("Hello")
    stream = await sdk.chat.completions.create(model="gpt-4o-mini", messages=ask("hello"), stream=True)
    text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream])
    assert text == "Hello there, how may I assist you today?"
    assert server.journal.last.headers["x-stainless-async"].startswith("async")
    await sdk.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
