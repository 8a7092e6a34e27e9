"""OpenAI Chat Completions over HTTP: request validation, wire shapes (wire-format §2.3/§2.4), errors, goldens."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from fake_llm.http.app import create_app
from fake_llm.scenarios.loader import parse_rules
from fake_llm.settings import Settings
from tests.helpers import chat_body, data_events

MakeClient = Callable[..., TestClient]

URL = "/v1/chat/completions"
GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "golden"

RULES = """
- name: greet
  match: {user: hello}
  reply: {content: "Paris is nice."}
- name: long
  match: {user: long}
  reply: {content: "one two three four five six", stream: {chunk_tokens: 2}}
- name: choices
  match: {user: choices}
  reply:
    choices:
      - {content: "Option A"}
      - {content: "Option B", finish_reason: content_filter}
- name: usage
  match: {user: usage}
  reply:
    content: hi
    usage: {prompt_tokens: 100, completion_tokens_details: {reasoning_tokens: 7}}
- name: total
  match: {user: total}
  reply: {content: hi, usage: {total_tokens: 5}}
- name: renamed
  match: {user: renamed}
  reply: {content: hi, model: gpt-4o-2024-08-06}
- name: filtered
  match: {user: filtered}
  reply: {content: "I can't", finish_reason: content_filter}
- name: slow-down
  match: {user: slow down}
  reply:
    error:
      status: 429
      message: "Rate limit reached for gpt-4o-mini."
      headers: {retry-after-ms: 20, x-ratelimit-remaining-requests: "0"}
- name: teapot
  match: {user: teapot}
  reply: {error: {status: 418, message: "I'm a teapot", type: teapot_error, code: teapot, param: messages}}
- name: overloaded
  match: {user: overloaded}
  reply: {error: {status: 503}}
- name: unicode
  match: {user: unicode}
  reply: {content: "café 🎉 and \\"quotes\\""}
- name: identifiers
  match: {user: identifiers}
  reply: {content: "call get_weather(city_name) from __init__"}
"""


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    return make_client(RULES)


def stream_bytes(client: TestClient, body: dict[str, Any]) -> bytes:
    with client.stream("POST", URL, json={**body, "stream": True}) as response:
        assert response.status_code == 200
        return response.read()


events = data_events


def chunks(raw: bytes) -> list[dict[str, Any]]:
    """The JSON chunks of a chat stream (everything before `[DONE]`, which must be last)."""
    payloads = events(raw)
    assert payloads[-1] == "[DONE]"
    assert "[DONE]" not in payloads[:-1]
    return [json.loads(p) for p in payloads[:-1]]


def choice_events(raw: bytes) -> list[tuple[int, dict[str, Any], str | None]]:
    return [(c["index"], c["delta"], c["finish_reason"]) for chunk in chunks(raw) for c in chunk["choices"]]


# --------------------------------------------------------------------------------------------- validation

VALIDATION = [
    pytest.param(
        b"{not json",
        "We could not parse the JSON body of your request (Expecting property name enclosed in double quotes at "
        "line 1 column 2). The API expects a JSON object.",
        None,
        None,
        id="invalid-json",
    ),
    pytest.param(
        [1], "Invalid request body: expected a JSON object, but got an array instead.", None, "invalid_type", id="array"
    ),
    pytest.param(
        {"messages": [{"role": "user", "content": "hi"}]},
        "Missing required parameter: 'model'.",
        "model",
        "missing_required_parameter",
        id="missing-model",
    ),
    pytest.param(
        chat_body(model=5),
        "Invalid type for 'model': expected a string, but got an integer instead.",
        "model",
        "invalid_type",
        id="model-not-string",
    ),
    pytest.param(
        {"model": "gpt-4o-mini"},
        "Missing required parameter: 'messages'.",
        "messages",
        "missing_required_parameter",
        id="missing-messages",
    ),
    pytest.param(
        chat_body(messages="hi"),
        "Invalid type for 'messages': expected an array, but got a string instead.",
        "messages",
        "invalid_type",
        id="messages-not-list",
    ),
    pytest.param(
        chat_body(messages=[]),
        "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
        "messages",
        "empty_array",
        id="messages-empty",
    ),
    pytest.param(
        chat_body(messages=[{"role": "user", "content": "hi"}, "hi"]),
        "Invalid type for 'messages[1]': expected an object, but got a string instead.",
        "messages[1]",
        "invalid_type",
        id="message-not-object",
    ),
    pytest.param(
        chat_body(messages=[{"role": "robot", "content": "hi"}]),
        "Invalid value: \"robot\". Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and "
        "'developer'.",
        "messages[0].role",
        "invalid_value",
        id="unknown-role",
    ),
    pytest.param(
        chat_body(messages=[{"content": "hi"}]),
        "Missing required parameter: 'messages[0].role'.",
        "messages[0].role",
        "missing_required_parameter",
        id="missing-role",
    ),
    pytest.param(
        chat_body(messages=[{"role": "user"}]),
        "Missing required parameter: 'messages[0].content'.",
        "messages[0].content",
        "missing_required_parameter",
        id="user-without-content",
    ),
    pytest.param(
        chat_body(messages=[{"role": "user", "content": 5}]),
        "Invalid type for 'messages[0].content': expected one of a string or array of objects, but got an integer "
        "instead.",
        "messages[0].content",
        "invalid_type",
        id="content-not-string-or-parts",
    ),
    pytest.param(
        chat_body(messages=[{"role": "user", "content": "hi"}, {"role": "tool", "content": "21C"}]),
        "Missing required parameter: 'messages[1].tool_call_id'.",
        "messages[1].tool_call_id",
        "missing_required_parameter",
        id="tool-without-tool-call-id",
    ),
    pytest.param(
        chat_body(n=0),
        "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead.",
        "n",
        "integer_below_min_value",
        id="n-0",
    ),
    pytest.param(
        chat_body(n=129),
        "Invalid 'n': integer above maximum value. Expected a value <= 128, but got 129 instead.",
        "n",
        "integer_above_max_value",
        id="n-129",
    ),
    pytest.param(
        chat_body(n=1.5),
        "Invalid type for 'n': expected an integer, but got a decimal instead.",
        "n",
        "invalid_type",
        id="n-decimal",
    ),
    pytest.param(
        chat_body(temperature=2.5),
        "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 2.5 instead.",
        "temperature",
        "decimal_above_max_value",
        id="temperature-2.5",
    ),
    pytest.param(
        chat_body(temperature=-1),
        "Invalid 'temperature': decimal below minimum value. Expected a value >= 0, but got -1 instead.",
        "temperature",
        "decimal_below_min_value",
        id="temperature-minus-1",
    ),
    pytest.param(
        chat_body(temperature="hot"),
        "Invalid type for 'temperature': expected a number, but got a string instead.",
        "temperature",
        "invalid_type",
        id="temperature-string",
    ),
    pytest.param(
        chat_body(top_p=1.5),
        "Invalid 'top_p': decimal above maximum value. Expected a value <= 1, but got 1.5 instead.",
        "top_p",
        "decimal_above_max_value",
        id="top-p-1.5",
    ),
    pytest.param(
        chat_body(max_tokens=0),
        "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got 0 instead.",
        "max_tokens",
        "integer_below_min_value",
        id="max-tokens-0",
    ),
    pytest.param(
        chat_body(stream="yes"),
        "Invalid type for 'stream': expected a boolean, but got a string instead.",
        "stream",
        "invalid_type",
        id="stream-yes",
    ),
    pytest.param(
        chat_body(stream_options={"include_usage": True}),
        "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        "stream_options",
        "invalid_value",
        id="stream-options-without-stream",
    ),
    pytest.param(
        chat_body(stop=["a", "b", "c", "d", "e"]),
        "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length 5 "
        "instead.",
        "stop",
        "array_above_max_length",
        id="stop-5-entries",
    ),
    pytest.param(
        chat_body(stop=5),
        "Invalid type for 'stop': expected one of a string or array of strings, but got an integer instead.",
        "stop",
        "invalid_type",
        id="stop-not-string",
    ),
    pytest.param(
        chat_body(response_format={"type": "bogus"}),
        "Invalid value: \"bogus\". Supported values are: 'text', 'json_object', and 'json_schema'.",
        "response_format.type",
        "invalid_value",
        id="response-format-bogus",
    ),
    pytest.param(
        chat_body(seed="x"),
        "Invalid type for 'seed': expected an integer, but got a string instead.",
        "seed",
        "invalid_type",
        id="seed-string",
    ),
]


@pytest.mark.parametrize(("body", "message", "param", "code"), VALIDATION)
def test_bad_requests_get_a_400_naming_the_param(
    client: TestClient, body: Any, message: str, param: str | None, code: str | None
) -> None:
    if isinstance(body, bytes):
        response = client.post(URL, content=body, headers={"content-type": "application/json"})
    else:
        response = client.post(URL, json=body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    }
    assert list(response.json()["error"]) == ["message", "type", "param", "code"]
    entry = client.app.state.fake_llm.journal.last  # type: ignore[attr-defined]
    assert (entry.outcome, entry.status, entry.reply) == ("rejected", 400, message)


def test_body_over_max_body_bytes(make_client: MakeClient) -> None:
    client = make_client(RULES, max_body_bytes=500)
    response = client.post(URL, json=chat_body("x" * 600))
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "Request body too large: the limit is 500 bytes.",
            "type": "invalid_request_error",
            "param": None,
            "code": "request_too_large",
        }
    }
    assert client.post(URL, json=chat_body("hello")).status_code == 200


def test_unknown_fields_are_accepted(client: TestClient) -> None:
    body = chat_body(
        "hello",
        extra_field={"nested": [1, 2]},
        reasoning_effort="max-plus",
        metadata={"k": "v"},
        temperature=0,
        top_p=1,
        n=1,
        stop=None,
        stream=None,
        logit_bias={"50256": -100},
    )
    response = client.post(URL, json=body)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Paris is nice."


def test_rich_messages_are_accepted_and_matched(client: TestClient) -> None:
    messages = [
        {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "21C"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "say"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                {"type": "text", "text": "HELLO"},
            ],
        },
    ]
    response = client.post(URL, json={"model": "gpt-4o-mini", "messages": messages})
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Paris is nice."


# --------------------------------------------------------------------------------------------- non-stream shape


def test_non_stream_body_shape_and_key_order(client: TestClient) -> None:
    response = client.post(URL, json=chat_body("hello"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"].startswith("req_")
    body = response.json()
    assert list(body) == [
        "id",
        "object",
        "created",
        "model",
        "choices",
        "usage",
        "service_tier",
        "system_fingerprint",
    ]
    assert body["id"].startswith("chatcmpl-")
    assert len(body["id"]) == len("chatcmpl-") + 29
    assert (body["object"], body["created"], body["model"]) == ("chat.completion", 1767225600, "gpt-4o-mini")
    assert body["service_tier"] == "default"
    assert body["system_fingerprint"].startswith("fp_")
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Paris is nice.", "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert list(body["choices"][0]) == ["index", "message", "logprobs", "finish_reason"]
    assert list(body["choices"][0]["message"]) == ["role", "content", "refusal", "annotations"]
    # "hello" is 1 token, plus 3 per message and 3 to prime the reply; "Paris is nice." is 4 tokens.
    assert body["usage"] == {
        "prompt_tokens": 7,
        "completion_tokens": 4,
        "total_tokens": 11,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def streamed_text(client: TestClient, body: dict[str, Any]) -> str:
    return "".join(delta.get("content", "") for _, delta, _ in choice_events(stream_bytes(client, body)))


def test_non_ascii_content_is_sent_as_utf8(client: TestClient) -> None:
    response = client.post(URL, json=chat_body("unicode"))
    assert response.json()["choices"][0]["message"]["content"] == 'café 🎉 and "quotes"'
    assert 'café 🎉 and \\"quotes\\"'.encode() in response.content  # UTF-8 on the wire, not \u escapes
    assert streamed_text(client, chat_body("unicode")) == 'café 🎉 and "quotes"'


def test_content_with_underscores_is_sent_unchanged(client: TestClient) -> None:
    expected = "call get_weather(city_name) from __init__"
    assert client.post(URL, json=chat_body("identifiers")).json()["choices"][0]["message"]["content"] == expected
    assert streamed_text(client, chat_body("identifiers")) == expected


def test_reply_finish_reason_override(client: TestClient) -> None:
    assert client.post(URL, json=chat_body("filtered")).json()["choices"][0]["finish_reason"] == "content_filter"


def test_reply_model_override(client: TestClient) -> None:
    plain = client.post(URL, json=chat_body("hello")).json()
    renamed = client.post(URL, json=chat_body("renamed")).json()
    assert renamed["model"] == "gpt-4o-2024-08-06"
    assert renamed["system_fingerprint"] != plain["system_fingerprint"]
    assert {chunk["model"] for chunk in chunks(stream_bytes(client, chat_body("renamed")))} == {"gpt-4o-2024-08-06"}


# --------------------------------------------------------------------------------------------- stream shape


def test_stream_response_headers(client: TestClient) -> None:
    with client.stream("POST", URL, json=chat_body("hello", stream=True)) as response:
        response.read()
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert "content-length" not in response.headers
    assert response.headers["x-request-id"].startswith("req_")


def test_stream_chunk_sequence_without_include_usage(client: TestClient) -> None:
    raw = stream_bytes(client, chat_body("hello"))
    parsed = chunks(raw)
    assert [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in parsed] == [
        ({"role": "assistant", "content": "", "refusal": None}, None),
        ({"content": "Paris"}, None),
        ({"content": " is"}, None),
        ({"content": " nice"}, None),
        ({"content": "."}, None),
        ({}, "stop"),
    ]
    for chunk in parsed:
        assert list(chunk) == ["id", "object", "created", "model", "service_tier", "system_fingerprint", "choices"]
        assert list(chunk["choices"][0]) == ["index", "delta", "logprobs", "finish_reason"]
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["choices"][0]["logprobs"] is None
    assert len({(c["id"], c["created"], c["model"], c["system_fingerprint"]) for c in parsed}) == 1
    assert parsed[0]["id"].startswith("chatcmpl-")
    assert b'"usage"' not in raw
    assert raw.endswith(b"data: [DONE]\n\n")


def test_stream_with_include_usage(client: TestClient) -> None:
    raw = stream_bytes(client, chat_body("hello", stream_options={"include_usage": True}))
    parsed = chunks(raw)
    assert len(parsed) == 7
    for chunk in parsed[:-1]:
        assert list(chunk)[-2:] == ["choices", "usage"]
        assert chunk["usage"] is None
    last = parsed[-1]
    assert list(last) == ["id", "object", "created", "model", "service_tier", "system_fingerprint", "choices", "usage"]
    assert last["choices"] == []
    assert last["usage"] == client.post(URL, json=chat_body("hello")).json()["usage"]


def test_include_usage_false_is_like_no_stream_options(client: TestClient) -> None:
    raw = stream_bytes(client, chat_body("hello", stream_options={"include_usage": False}))
    assert b'"usage"' not in raw
    assert len(chunks(raw)) == 6


def test_chunk_tokens_groups_tokens(client: TestClient) -> None:
    deltas = [d for _, d, _ in choice_events(stream_bytes(client, chat_body("long")))]
    assert deltas[1:-1] == [{"content": "one two"}, {"content": " three four"}, {"content": " five six"}]


# --------------------------------------------------------------------------------------------- cuts


def test_max_tokens_truncates_with_finish_reason_length(client: TestClient) -> None:
    body = client.post(URL, json=chat_body("long", max_tokens=3)).json()
    assert body["choices"][0]["message"]["content"] == "one two three"
    assert body["choices"][0]["finish_reason"] == "length"
    assert (body["usage"]["completion_tokens"], body["usage"]["total_tokens"]) == (3, 10)


def test_max_tokens_truncates_a_stream(client: TestClient) -> None:
    raw = stream_bytes(client, chat_body("long", max_tokens=3, stream_options={"include_usage": True}))
    steps = choice_events(raw)
    assert [d for _, d, _ in steps[1:-1]] == [{"content": "one two"}, {"content": " three"}]
    assert steps[-1] == (0, {}, "length")
    assert chunks(raw)[-1]["usage"]["completion_tokens"] == 3


def test_max_tokens_larger_than_the_reply_changes_nothing(client: TestClient) -> None:
    body = client.post(URL, json=chat_body("long", max_tokens=6)).json()
    assert (body["choices"][0]["finish_reason"], body["usage"]["completion_tokens"]) == ("stop", 6)


def test_max_completion_tokens_is_preferred_over_max_tokens(client: TestClient) -> None:
    body = client.post(URL, json=chat_body("long", max_tokens=2, max_completion_tokens=5)).json()
    assert body["choices"][0]["message"]["content"] == "one two three four five"
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 5


@pytest.mark.parametrize(
    ("stop", "content"),
    [
        ("three", "one two "),
        (["four", "two"], "one "),  # the earliest stop sequence wins
        (["absent"], "one two three four five six"),
        ("", "one two three four five six"),
    ],
)
def test_stop_sequences_cut_the_content(client: TestClient, stop: Any, content: str) -> None:
    body = client.post(URL, json=chat_body("long", stop=stop)).json()
    assert body["choices"][0]["message"]["content"] == content
    assert body["choices"][0]["finish_reason"] == "stop"
    assert streamed_text(client, chat_body("long", stop=stop)) == content


def test_stop_then_max_tokens(client: TestClient) -> None:
    body = client.post(URL, json=chat_body("long", stop="five", max_tokens=2)).json()
    assert body["choices"][0]["message"]["content"] == "one two"
    assert body["choices"][0]["finish_reason"] == "length"


# --------------------------------------------------------------------------------------------- n > 1


def test_n_takes_scripted_choices_cycling_when_fewer(client: TestClient) -> None:
    body = client.post(URL, json=chat_body("choices", n=3)).json()
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in body["choices"]] == [
        (0, "Option A", "stop"),
        (1, "Option B", "content_filter"),
        (2, "Option A", "stop"),
    ]
    assert body["usage"]["completion_tokens"] == 6


def test_n_one_takes_the_first_scripted_choice(client: TestClient) -> None:
    body = client.post(URL, json=chat_body("choices")).json()
    assert [c["message"]["content"] for c in body["choices"]] == ["Option A"]


def test_n_copies_a_single_content(client: TestClient) -> None:
    body = client.post(URL, json=chat_body("hello", n=2)).json()
    assert [(c["index"], c["message"]["content"]) for c in body["choices"]] == [
        (0, "Paris is nice."),
        (1, "Paris is nice."),
    ]
    assert body["usage"]["completion_tokens"] == 8


def test_n_streams_interleave_indexes(client: TestClient) -> None:
    raw = stream_bytes(client, chat_body("choices", n=3, stream_options={"include_usage": True}))
    role = {"role": "assistant", "content": "", "refusal": None}
    assert choice_events(raw) == [
        (0, role, None),
        (1, role, None),
        (2, role, None),
        (0, {"content": "Option"}, None),
        (1, {"content": "Option"}, None),
        (2, {"content": "Option"}, None),
        (0, {"content": " A"}, None),
        (1, {"content": " B"}, None),
        (2, {"content": " A"}, None),
        (0, {}, "stop"),
        (1, {}, "content_filter"),
        (2, {}, "stop"),
    ]
    usage_chunks = [c for c in chunks(raw) if c["choices"] == []]
    assert len(usage_chunks) == 1
    assert usage_chunks[0]["usage"]["completion_tokens"] == 6


def test_n_streams_of_unequal_length(client: TestClient) -> None:
    raw = stream_bytes(client, chat_body("long", n=2, max_tokens=3))
    per_index: dict[int, str] = {}
    finishes = []
    for index, delta, finish in choice_events(raw):
        per_index[index] = per_index.get(index, "") + delta.get("content", "")
        if finish:
            finishes.append((index, finish))
    assert per_index == {0: "one two three", 1: "one two three"}
    assert finishes == [(0, "length"), (1, "length")]


# --------------------------------------------------------------------------------------------- usage overrides


def test_usage_overrides_merge_nested_and_recompute_the_total(client: TestClient) -> None:
    usage = client.post(URL, json=chat_body("usage")).json()["usage"]
    assert usage == {
        "prompt_tokens": 100,
        "completion_tokens": 1,
        "total_tokens": 101,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 7,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    streamed = chunks(stream_bytes(client, chat_body("usage", stream_options={"include_usage": True})))[-1]["usage"]
    assert streamed == usage


def test_usage_total_override_is_kept(client: TestClient) -> None:
    usage = client.post(URL, json=chat_body("total")).json()["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (7, 1, 5)


# --------------------------------------------------------------------------------------------- scripted errors


def test_scripted_error_envelope_status_and_headers(client: TestClient) -> None:
    response = client.post(URL, json=chat_body("slow down"))
    assert response.status_code == 429
    assert response.json() == {
        "error": {
            "message": "Rate limit reached for gpt-4o-mini.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    assert response.headers["retry-after-ms"] == "20"
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert response.headers["x-request-id"].startswith("req_")
    assert response.headers["content-type"] == "application/json"


def test_scripted_error_fields_override_the_defaults(client: TestClient) -> None:
    response = client.post(URL, json=chat_body("teapot"))
    assert response.status_code == 418
    assert response.json() == {
        "error": {"message": "I'm a teapot", "type": "teapot_error", "param": "messages", "code": "teapot"}
    }


def test_scripted_error_defaults_by_status(client: TestClient) -> None:
    response = client.post(URL, json=chat_body("overloaded"))
    assert response.status_code == 503
    assert response.json() == {
        "error": {
            "message": "The server is overloaded or not ready yet.",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }


def test_scripted_error_answers_a_stream_request_with_json(client: TestClient) -> None:
    response = client.post(URL, json=chat_body("slow down", stream=True))
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    entry = client.app.state.fake_llm.journal.last  # type: ignore[attr-defined]
    assert (entry.outcome, entry.rule, entry.status, entry.reply) == (
        "matched",
        "slow-down",
        429,
        "error 429: Rate limit reached for gpt-4o-mini.",
    )


# --------------------------------------------------------------------------------------------- no match


def test_no_match_is_a_400_that_explains_every_rule(make_client: MakeClient) -> None:
    client = make_client(
        """
        - name: greet
          match: {user: hello}
          reply: {content: hi}
        - name: gpt4-only
          match: {model: "gpt-4*"}
          times: 1
          reply: {content: hi}
        """
    )
    assert client.post(URL, json=chat_body("first")).status_code == 200
    response = client.post(URL, json=chat_body("anything else"))
    assert response.status_code == 400
    assert response.headers["x-should-retry"] == "false"
    assert response.json() == {
        "error": {
            "message": "fake-llm: no rule matched POST /v1/chat/completions (model 'gpt-4o-mini', last user message "
            "'anything else'). Rules tried: greet: user: last user message 'anything else' does not contain 'hello' "
            "(ignoring case); gpt4-only: exhausted 1/1",
            "type": "invalid_request_error",
            "param": None,
            "code": "fake_llm_no_match",
        }
    }
    journal = client.app.state.fake_llm.journal  # type: ignore[attr-defined]
    (entry,) = journal.unmatched
    assert (entry.seq, entry.outcome, entry.status, entry.rule, entry.model) == (
        2,
        "unmatched",
        400,
        None,
        "gpt-4o-mini",
    )
    assert entry.reasons == [
        ("greet", "user: last user message 'anything else' does not contain 'hello' (ignoring case)"),
        ("gpt4-only", "exhausted 1/1"),
    ]


def test_no_match_for_a_stream_request_is_json(client: TestClient) -> None:
    response = client.post(URL, json=chat_body("nothing here", stream=True))
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "fake_llm_no_match"


# --------------------------------------------------------------------------------------------- goldens
# Refreshed only by `make goldens` (tests/goldens.py), then read the diff as a reviewer: the wire contract.

GOLDEN_RULES = """
- name: capital
  match: {user: capital of France}
  reply: {content: "The capital of France is Paris."}
"""

GOLDEN_MESSAGES = [
    {"role": "system", "content": "Answer in one sentence."},
    {"role": "user", "content": "What is the capital of France?"},
]


def golden_client() -> TestClient:
    scenario = parse_rules(GOLDEN_RULES, source="<golden>")
    return TestClient(create_app(Settings(freeze_time=1767225600, seed=0), scenarios=[scenario]))


def check_golden(name: str, actual: bytes) -> None:
    """Compare only: a test never writes the file it compares against (`make goldens` refreshes it)."""
    path = GOLDEN / name
    assert actual == path.read_bytes(), f"{path} differs; if intended, `make goldens` and review the diff"


def test_golden_chat_completion() -> None:
    with golden_client() as client:
        response = client.post(URL, json={"model": "gpt-4o-mini", "messages": GOLDEN_MESSAGES})
    assert response.status_code == 200
    check_golden("chat_completion.json", response.content)


def test_golden_chat_stream() -> None:
    with golden_client() as client:
        raw = stream_bytes(client, {"model": "gpt-4o-mini", "messages": GOLDEN_MESSAGES})
    check_golden("chat_stream.sse", raw)


def test_golden_chat_stream_with_usage() -> None:
    body = {"model": "gpt-4o-mini", "messages": GOLDEN_MESSAGES, "stream_options": {"include_usage": True}}
    with golden_client() as client:
        raw = stream_bytes(client, body)
    check_golden("chat_stream_usage.sse", raw)
