"""Anthropic Messages driven by the official anthropic SDK (and raw HTTP for the wire details) against the threaded
server: replies, streams, tools, thinking, stop reasons, errors, auth, validation and count_tokens (wire-format §5)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from fake_llm.core.tokens import count_prompt
from fake_llm.dialects.anthropic.messages import AnthropicMessages, stop_reason, tool_input
from fake_llm.errors import ProviderRequestError
from fake_llm.http.app import create_app
from fake_llm.http.engine import FakeLLM
from fake_llm.model.request import Message, ToolCall
from fake_llm.settings import Settings, bundled_scenarios
from fake_llm.testing.server import FakeLLMServer
from tests.helpers import named_events, user_turn
from tests.sdk_clients import closing

anthropic = pytest.importorskip("anthropic")
openai = pytest.importorskip("openai")

MODEL = "claude-fake-1"  # not on the SDK's deprecation list, which warns (an error under filterwarnings=error)
TIMEOUT = 10.0

RULES = """
- name: anthropic-only
  match: {api: anthropic, user: which api}
  reply: {content: "Anthropic Messages"}
- name: any-api
  match: {user: which api}
  reply: {content: "Some other API"}
- name: greet
  match: {user: hello}
  reply: {content: "Hello there, how may I assist you today?"}
- name: chunky
  match: {user: chunky}
  reply: {content: "one two three four five six", stream: {chunk_tokens: 2, chunk_ms: 10}}
- name: weather-answer
  match: {tool_result_for: get_weather}
  reply: {content: "It is {{ tool_result }} in Paris."}
- name: weather
  match: {user: weather}
  reply:
    content: "Let me check."
    tool_calls: [{name: get_weather, arguments: {city: Paris}}]
- name: forced
  match: {tool_choice: required}
  reply: {tool_calls: [{name: get_weather, arguments: {city: Rome}}]}
- name: forced-by-name
  match: {tool_choice: get_weather}
  reply: {tool_calls: [{name: get_weather, arguments: {city: Lyon}}]}
- name: broken-arguments
  match: {user: broken}
  reply: {tool_calls: [{name: get_weather, arguments: "{not json"}]}
- name: think
  match: {user: think}
  reply: {reasoning_content: "The user wants the answer.", content: "Forty-two."}
- name: essay
  match: {user: essay}
  reply: {content: "One two three four five six seven eight nine ten eleven twelve."}
- name: listing
  match: {user: count}
  reply: {content: "1, 2, 3, STOP, 4, 5"}
- name: refuse
  match: {user: refuse}
  reply: {refusal: "I can't help with that."}
- name: usage
  match: {user: usage}
  reply:
    content: hi
    usage: {input_tokens: 100, prompt_tokens: 1, cache_read_input_tokens: 50, completion_tokens: 7, total_tokens: 3}
- name: image
  match: {has_image: true}
  reply: {content: "A cat."}
- name: pirate
  match: {system: pirate}
  reply: {content: "Arr."}
- name: prefill
  match: {last_role: assistant}
  reply: {content: "continued"}
- name: overloaded
  match: {user: overloaded}
  reply: {error: {status: 529}}
- name: slow-down
  match: {user: slow down}
  reply: {error: {status: 429, message: "Rate limited.", headers: {retry-after: "7"}}}
- name: billing
  match: {user: billing}
  reply: {error: {status: 400, type: billing_error, message: "Credit balance too low.", code: ramp_limit_exceeded}}
- name: mid-stream
  match: {user: midstream}
  reply:
    content: "This stream fails partway through."
    stream: {error_after: 1, error: {type: overloaded_error, message: Overloaded}}
- name: cut-stream
  match: {user: cut}
  reply: {content: "No ending.", stream: {finish_chunk: false, done: false}}
"""

TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather in a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]


def serve(**options: Any) -> FakeLLMServer:
    return FakeLLMServer(rules=RULES, freeze_time=1767225600, time_scale=0, **options)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with serve() as running:
        yield running


@pytest.fixture(scope="module")
def locked() -> Iterator[FakeLLMServer]:
    """A server that accepts only the API key `k`."""
    with serve(api_keys=("k",)) as running:
        yield running


@pytest.fixture(autouse=True)
def _reset(server: FakeLLMServer) -> None:
    server.reset(rules=False)


def client(server: FakeLLMServer, **options: Any) -> Any:
    """An anthropic client, closed after the test; no retries unless asked, so failures are immediate."""
    made = anthropic.Anthropic(
        **{"base_url": server.url, "api_key": "sk-ant-test", "timeout": TIMEOUT, "max_retries": 0, **options}
    )
    closing(made)
    return made


def http(server: FakeLLMServer) -> httpx.Client:
    made = httpx.Client(base_url=server.url, timeout=TIMEOUT)
    closing(made)
    return made


def body(text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 256, "messages": user_turn(text), **extra}


sse = named_events


def stream_raw(server: FakeLLMServer, payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    with http(server).stream("POST", "/v1/messages", json={**payload, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return sse(response.read().decode())


# --------------------------------------------------------------------------------------------- replies


def test_text_reply(server: FakeLLMServer) -> None:
    raw = client(server).messages.with_raw_response.create(model=MODEL, max_tokens=256, messages=user_turn("hello"))
    message = raw.parse()
    assert message.id.startswith("msg_")
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == MODEL
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "Hello there, how may I assist you today?"
    assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)
    assert raw.headers["request-id"].startswith("req_")
    assert raw.headers["anthropic-organization-id"]
    assert message._request_id == raw.headers["request-id"]


def test_usage_counts_prompt_and_reply_tokens(server: FakeLLMServer) -> None:
    message = client(server).messages.create(model=MODEL, max_tokens=256, messages=user_turn("hello"))
    tokenizer = server.engine.tokenizer
    assert message.usage.input_tokens == count_prompt(tokenizer, ["hello"], 1)
    assert message.usage.output_tokens == tokenizer.count("Hello there, how may I assist you today?")
    assert message.usage.cache_creation_input_tokens == 0
    assert message.usage.cache_read_input_tokens == 0
    assert message.usage.cache_creation.ephemeral_5m_input_tokens == 0
    assert message.usage.cache_creation.ephemeral_1h_input_tokens == 0
    assert message.usage.service_tier == "standard"


def test_usage_overrides_accept_both_vocabularies(server: FakeLLMServer) -> None:
    usage = client(server).messages.create(model=MODEL, max_tokens=256, messages=user_turn("usage")).usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (100, 50, 7)
    assert not {"prompt_tokens", "completion_tokens", "total_tokens"} & set(usage.to_dict())


def test_streamed_text_matches_the_plain_reply(server: FakeLLMServer) -> None:
    sdk = client(server)
    plain = sdk.messages.create(model=MODEL, max_tokens=256, messages=user_turn("hello"))
    with sdk.messages.stream(model=MODEL, max_tokens=256, messages=user_turn("hello")) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1
    assert "".join(pieces) == plain.content[0].text
    assert final.content[0].text == plain.content[0].text
    assert (final.stop_reason, final.stop_sequence) == ("end_turn", None)
    assert final.usage.input_tokens == plain.usage.input_tokens
    assert final.usage.output_tokens == plain.usage.output_tokens


def test_stream_event_order(server: FakeLLMServer) -> None:
    events = stream_raw(server, body("chunky"))
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * 3,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = events[0][1]["message"]
    assert start["content"] == []
    assert (start["stop_reason"], start["stop_sequence"]) == (None, None)
    assert start["usage"]["output_tokens"] == 1
    assert isinstance(start["usage"]["input_tokens"], int)
    assert events[1][1] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert [e["delta"] for _, e in events[3:6]] == [
        {"type": "text_delta", "text": text} for text in ("one two", " three four", " five six")
    ]
    assert events[6][1] == {"type": "content_block_stop", "index": 0}
    delta = events[7][1]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] == 6  # cumulative, not incremental
    assert events[8][1] == {"type": "message_stop"}


def test_timed_stream_paces_the_deltas(server: FakeLLMServer) -> None:
    """Only the deltas advance the clock; block starts, stops and the tail go out with the step before them."""
    stream_raw(server, body("chunky"))
    assert server.journal.last.schedule == [0.0, 0.0, 0.0, 0.0, 10.0, 20.0, 20.0, 20.0, 20.0]


def test_stream_without_finish_chunk_ends_quietly(server: FakeLLMServer) -> None:
    with client(server).messages.stream(model=MODEL, max_tokens=256, messages=user_turn("cut")) as stream:
        final = stream.get_final_message()
    assert final.content[0].text == "No ending."
    assert final.stop_reason is None  # §8.5: no message_delta, no message_stop


# --------------------------------------------------------------------------------------------- tools


def test_tool_use_reply(server: FakeLLMServer) -> None:
    message = client(server).messages.create(model=MODEL, max_tokens=256, tools=TOOLS, messages=user_turn("weather?"))
    text, call = message.content
    assert text.text == "Let me check."
    assert call.type == "tool_use"
    assert call.id.startswith("toolu_")
    assert (call.name, call.input) == ("get_weather", {"city": "Paris"})
    assert message.stop_reason == "tool_use"


def test_streamed_tool_use(server: FakeLLMServer) -> None:
    with client(server).messages.stream(model=MODEL, max_tokens=256, tools=TOOLS, messages=user_turn("weather?")) as s:
        final = s.get_final_message()
    call = final.content[1]
    assert (call.name, call.input) == ("get_weather", {"city": "Paris"})
    assert final.stop_reason == "tool_use"
    events = stream_raw(server, body("weather?", tools=TOOLS))
    tool_events = [e for _, e in events if e.get("index") == 1]
    start = tool_events[0]["content_block"]
    assert start == {"type": "tool_use", "id": start["id"], "name": "get_weather", "input": {}}
    assert start["id"].startswith("toolu_")
    fragments = [e["delta"]["partial_json"] for e in tool_events if e["type"] == "content_block_delta"]
    assert fragments[0] == ""  # the first fragment is empty (§5.4)
    assert json.loads("".join(fragments)) == {"city": "Paris"}


def test_tool_loop(server: FakeLLMServer) -> None:
    sdk = client(server)
    messages: list[dict[str, Any]] = user_turn("What is the weather in Paris?")
    first = sdk.messages.create(model=MODEL, max_tokens=256, tools=TOOLS, messages=messages)
    call = first.content[-1]
    messages += [
        {"role": "assistant", "content": [block.to_dict() for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 24°C"}]},
    ]
    second = sdk.messages.create(model=MODEL, max_tokens=256, tools=TOOLS, messages=messages)
    assert second.content[0].text == "It is sunny, 24°C in Paris."
    assert second.stop_reason == "end_turn"
    assert server.journal.last.rule == "weather-answer"


def test_tool_result_as_blocks_next_to_text(server: FakeLLMServer) -> None:
    """A user turn may carry text with its tool results; the results stay the ones `tool_result_for` sees."""
    messages = [
        *user_turn("weather?"),
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "rainy"}]},
                {"type": "text", "text": "Be brief."},
            ],
        },
    ]
    message = client(server).messages.create(model=MODEL, max_tokens=256, tools=TOOLS, messages=messages)
    assert message.content[0].text == "It is rainy in Paris."


@pytest.mark.parametrize(
    ("tool_choice", "city"), [({"type": "any"}, "Rome"), ({"type": "tool", "name": "get_weather"}, "Lyon")]
)
def test_tool_choice_forcing_a_call(server: FakeLLMServer, tool_choice: dict[str, Any], city: str) -> None:
    """`any` reads as `required` in matching, a named tool as the tool's name."""
    message = client(server).messages.create(
        model=MODEL, max_tokens=256, tools=TOOLS, tool_choice=tool_choice, messages=user_turn("go")
    )
    assert message.content[0].input == {"city": city}
    assert message.stop_reason == "tool_use"


def test_tool_choice_names_reach_matching() -> None:
    provider = AnthropicMessages()
    names = [
        provider.parse(body(tools=TOOLS, tool_choice=choice), {}, {}).tool_choice_name
        for choice in ({"type": "auto"}, {"type": "any"}, {"type": "none"}, {"type": "tool", "name": "get_weather"})
    ]
    assert names == ["auto", "required", "none", "get_weather"]


def test_tool_choice_none_sends_no_tool_use(server: FakeLLMServer) -> None:
    message = client(server).messages.create(
        model=MODEL, max_tokens=256, tools=TOOLS, tool_choice={"type": "none"}, messages=user_turn("weather?")
    )
    assert [block.type for block in message.content] == ["text"]
    assert message.stop_reason == "end_turn"


def test_malformed_tool_arguments(server: FakeLLMServer) -> None:
    """Scripted arguments that are not a JSON object go out as the raw string (non-streamed) and as the same
    `partial_json` (streamed), where the SDK's own parser rejects them as it would a real model's."""
    sdk = client(server)
    message = sdk.messages.create(model=MODEL, max_tokens=256, tools=TOOLS, messages=user_turn("broken"))
    assert message.content[0].input == "{not json"
    with (
        pytest.raises(ValueError, match="Unable to parse tool parameter JSON"),
        sdk.messages.stream(model=MODEL, max_tokens=256, tools=TOOLS, messages=user_turn("broken")) as stream,
    ):
        stream.get_final_message()


# --------------------------------------------------------------------------------------------- thinking and stops


def test_thinking(server: FakeLLMServer) -> None:
    sdk = client(server)
    options: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 2048,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": user_turn("think"),
    }
    message = sdk.messages.create(**options)
    thinking, text = message.content
    assert (thinking.type, thinking.thinking) == ("thinking", "The user wants the answer.")
    assert thinking.signature
    assert text.text == "Forty-two."
    with sdk.messages.stream(**options) as stream:
        final = stream.get_final_message()
    assert final.content[0].to_dict() == thinking.to_dict()
    assert final.content[1].text == "Forty-two."
    events = stream_raw(server, {**options, "stream": True})
    assert events[1][1]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    deltas = [e["delta"]["type"] for _, e in events if e.get("index") == 0 and e["type"] == "content_block_delta"]
    assert deltas[-1] == "signature_delta"
    assert set(deltas[:-1]) == {"thinking_delta"}


@pytest.mark.parametrize("thinking", [None, {"type": "disabled"}])
def test_no_thinking_block_unless_the_request_enables_thinking(
    server: FakeLLMServer, thinking: dict[str, Any] | None
) -> None:
    options: dict[str, Any] = {"model": MODEL, "max_tokens": 2048, "messages": user_turn("think")}
    if thinking is not None:
        options["thinking"] = thinking
    message = client(server).messages.create(**options)
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "Forty-two."
    assert message.usage.output_tokens == 4  # "Forty-two." alone: the rule's reasoning is not counted either
    events = stream_raw(server, {**options, "stream": True})
    assert [e["content_block"]["type"] for _, e in events if e["type"] == "content_block_start"] == ["text"]


def test_the_bundled_provider_rule_answers_plain_text_without_thinking() -> None:
    with FakeLLMServer(scenarios=[bundled_scenarios()]) as bundled:
        message = client(bundled).messages.create(
            model=MODEL, max_tokens=256, messages=user_turn("provider: which dialect?")
        )
        assert message.content[0].text == "Hello from the Anthropic Messages dialect."


def test_max_tokens_truncation(server: FakeLLMServer) -> None:
    sdk = client(server)
    message = sdk.messages.create(model=MODEL, max_tokens=3, messages=user_turn("essay"))
    assert message.content[0].text == "One two three"
    assert (message.stop_reason, message.usage.output_tokens) == ("max_tokens", 3)
    with sdk.messages.stream(model=MODEL, max_tokens=3, messages=user_turn("essay")) as stream:
        final = stream.get_final_message()
    assert (final.content[0].text, final.stop_reason, final.usage.output_tokens) == ("One two three", "max_tokens", 3)


def test_stop_sequences_cut_the_text(server: FakeLLMServer) -> None:
    message = client(server).messages.create(
        model=MODEL, max_tokens=256, stop_sequences=["STOP"], messages=user_turn("count")
    )
    assert message.content[0].text == "1, 2, 3, "


def test_stop_sequences_report_the_sequence(server: FakeLLMServer) -> None:
    sdk = client(server)
    message = sdk.messages.create(model=MODEL, max_tokens=256, stop_sequences=["STOP"], messages=user_turn("count"))
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "STOP")
    with sdk.messages.stream(
        model=MODEL, max_tokens=256, stop_sequences=["STOP"], messages=user_turn("count")
    ) as stream:
        final = stream.get_final_message()
    assert (final.stop_reason, final.stop_sequence) == ("stop_sequence", "STOP")


def test_refusal(server: FakeLLMServer) -> None:
    message = client(server).messages.create(model=MODEL, max_tokens=256, messages=user_turn("refuse"))
    assert message.content[0].text == "I can't help with that."
    assert message.stop_reason == "refusal"


# --------------------------------------------------------------------------------------------- request shapes


def test_system_blocks_and_images_reach_matching(server: FakeLLMServer) -> None:
    sdk = client(server)
    system = [{"type": "text", "text": "You are a pirate.", "cache_control": {"type": "ephemeral"}}]
    assert (
        sdk.messages.create(model=MODEL, max_tokens=256, system=system, messages=user_turn("hi")).content[0].text
        == "Arr."
    )
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
    content = [image, {"type": "text", "text": "What is this?"}]
    messages = [{"role": "user", "content": content}]
    assert sdk.messages.create(model=MODEL, max_tokens=256, messages=messages).content[0].text == "A cat."


def test_prefill_and_consecutive_user_turns(server: FakeLLMServer) -> None:
    messages = [*user_turn("one"), *user_turn("two"), {"role": "assistant", "content": "The answer is"}]
    message = client(server).messages.create(model=MODEL, max_tokens=256, messages=messages)
    assert message.content[0].text == "continued"
    assert server.journal.last.rule == "prefill"


def test_api_match_key_restricts_a_rule(server: FakeLLMServer) -> None:
    message = client(server).messages.create(model=MODEL, max_tokens=256, messages=user_turn("which api?"))
    assert message.content[0].text == "Anthropic Messages"
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", timeout=TIMEOUT, max_retries=0) as chat:
        completion = chat.chat.completions.create(model="gpt-4o-mini", messages=user_turn("which api?"))
    assert completion.choices[0].message.content == "Some other API"


def test_one_rule_answers_both_apis(server: FakeLLMServer) -> None:
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", timeout=TIMEOUT, max_retries=0) as chat:
        completion = chat.chat.completions.create(
            model="gpt-4o-mini",
            messages=user_turn("weather?"),
            tools=[{"type": "function", "function": {"name": "get_weather", "parameters": TOOLS[0]["input_schema"]}}],
        )
    message = client(server).messages.create(model=MODEL, max_tokens=256, tools=TOOLS, messages=user_turn("weather?"))
    openai_call = completion.choices[0].message.tool_calls[0]
    assert completion.choices[0].message.content == message.content[0].text == "Let me check."
    assert json.loads(openai_call.function.arguments) == message.content[1].input == {"city": "Paris"}
    assert [e.rule for e in server.journal.entries] == ["weather", "weather"]
    assert [e.api for e in server.journal.entries] == ["openai-chat", "anthropic"]


# --------------------------------------------------------------------------------------------- errors


def test_overloaded(server: FakeLLMServer) -> None:
    with pytest.raises(anthropic.InternalServerError) as caught:
        client(server).messages.create(model=MODEL, max_tokens=256, messages=user_turn("overloaded"))
    error = caught.value
    assert isinstance(error, getattr(anthropic, "OverloadedError", anthropic.InternalServerError))
    assert error.status_code == 529
    assert error.body == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert error.request_id is not None
    assert error.request_id.startswith("req_")


def test_rate_limit_with_retry_after(server: FakeLLMServer) -> None:
    with pytest.raises(anthropic.RateLimitError) as caught:
        client(server).messages.create(model=MODEL, max_tokens=256, messages=user_turn("slow down"))
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.body == {"type": "error", "error": {"type": "rate_limit_error", "message": "Rate limited."}}


def test_scripted_anthropic_type_and_code(server: FakeLLMServer) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client(server).messages.create(model=MODEL, max_tokens=256, messages=user_turn("billing"))
    assert caught.value.type == "billing_error"
    assert caught.value.body["error"]["details"] == {"error_code": "ramp_limit_exceeded"}


def test_mid_stream_error(server: FakeLLMServer) -> None:
    """§8.5: `event: error` raises through the status mapper with the stream's status, 200."""
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client(server).messages.stream(model=MODEL, max_tokens=256, messages=user_turn("midstream")) as stream,
    ):
        stream.get_final_message()
    assert caught.value.status_code == 200
    assert caught.value.type == "overloaded_error"
    with http(server).stream("POST", "/v1/messages", json=body("midstream", stream=True)) as response:
        raw = response.read().decode()
    assert raw.endswith(
        'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    # error_after counts pieces of text, as in every dialect: one text delta, then the error.
    names = [name for name, _ in sse(raw)]
    assert names == ["message_start", "content_block_start", "ping", "content_block_delta", "error"]


def test_no_match_is_a_bad_request(server: FakeLLMServer) -> None:
    server.add_rules([{"name": "only-gpt", "match": {"model": "gpt-*"}, "reply": {"content": "x"}}], replace=True)
    try:
        with pytest.raises(anthropic.BadRequestError) as caught:
            client(server).messages.create(model=MODEL, max_tokens=256, messages=user_turn("nothing matches"))
    finally:
        server.reset(rules=True)
    assert caught.value.type == "invalid_request_error"
    assert "fake-llm: no rule matched POST /v1/messages" in str(caught.value.api_message)
    assert caught.value.response.headers["x-should-retry"] == "false"


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (402, "billing_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (409, "invalid_request_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (503, "api_error"),
        (504, "timeout_error"),
        (529, "overloaded_error"),
    ],
)
def test_error_type_follows_the_status(status: int, kind: str) -> None:
    provider = AnthropicMessages()
    # OpenAI-flavoured types the engine passes for its own errors give way to Anthropic's.
    envelope = provider.error_body(status, "", type="server_error", code="rate_limit_exceeded")
    assert envelope["type"] == "error"
    assert envelope["error"]["type"] == kind
    assert envelope["error"]["message"]
    assert set(envelope["error"]) == {"type", "message"}


# --------------------------------------------------------------------------------------------- auth


@pytest.mark.parametrize("headers", [{"x-api-key": "k"}, {"authorization": "Bearer k"}], ids=["x-api-key", "bearer"])
def test_both_auth_styles(locked: FakeLLMServer, headers: dict[str, str]) -> None:
    response = http(locked).post("/v1/messages", json=body(), headers={**headers, "anthropic-version": "2023-06-01"})
    assert response.status_code == 200
    assert response.json()["content"][0]["text"] == "Hello there, how may I assist you today?"


@pytest.mark.parametrize("headers", [{"x-api-key": "wrong"}, {"authorization": "Bearer wrong"}, {}])
def test_wrong_key(locked: FakeLLMServer, headers: dict[str, str]) -> None:
    response = http(locked).post("/v1/messages", json=body(), headers=headers)
    assert response.status_code == 401
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == "authentication_error"
    assert response.headers["request-id"].startswith("req_")


def test_sdk_with_key(locked: FakeLLMServer) -> None:
    good = client(locked, api_key="k")
    assert good.messages.create(model=MODEL, max_tokens=256, messages=user_turn("hello")).content[0].text
    with pytest.raises(anthropic.AuthenticationError):
        client(locked, api_key="nope").messages.create(model=MODEL, max_tokens=256, messages=user_turn("hello"))


# --------------------------------------------------------------------------------------------- validation

TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}

VALIDATION = [
    pytest.param({"max_tokens": 10, "messages": user_turn("hi")}, "model: Field required", id="no-model"),
    pytest.param({"model": MODEL, "messages": user_turn("hi")}, "max_tokens: Field required", id="no-max-tokens"),
    pytest.param(body(max_tokens=0), "max_tokens: Input should be greater than or equal to 1", id="max-tokens-zero"),
    pytest.param(body(max_tokens="10"), "max_tokens: Input should be a valid integer", id="max-tokens-string"),
    pytest.param({"model": MODEL, "max_tokens": 10}, "messages: Field required", id="no-messages"),
    pytest.param(body(messages=[]), "messages: at least one message is required", id="empty-messages"),
    pytest.param(
        body(messages=[{"role": "system", "content": "Be nice."}, *user_turn("hi")]),
        "messages.0.role: Input should be 'user' or 'assistant'",
        id="system-role",
    ),
    pytest.param(
        body(messages=[{"role": "user", "content": [{"type": "video", "url": "x"}]}]),
        "messages.0.content.0: Input tag 'video' found using 'type' does not match any of the expected tags: "
        "'text', 'image', 'document', 'search_result', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking', "
        "'server_tool_use', 'web_search_tool_result', 'web_fetch_tool_result', 'code_execution_tool_result', "
        "'mcp_tool_use', 'mcp_tool_result', 'container_upload'",
        id="bad-block-type",
    ),
    pytest.param(
        body(messages=[{"role": "user", "content": [{"text": "hi"}]}]),
        "messages.0.content.0: Unable to extract tag using discriminator 'type'",
        id="block-without-type",
    ),
    pytest.param(
        body(messages=[{"role": "user", "content": [{"type": "text"}]}]),
        "messages.0.content.0.text.text: Field required",
        id="text-block-without-text",
    ),
    pytest.param(
        body(messages=[{"role": "user", "content": ""}]),
        "messages.0: all messages must have non-empty content except for the optional final assistant message",
        id="empty-content",
    ),
    pytest.param(
        body(messages=[*user_turn("hi"), {"role": "assistant", "content": "Sure "}]),
        "messages: final assistant content cannot end with trailing whitespace",
        id="prefill-trailing-space",
    ),
    pytest.param(
        body(messages=[*user_turn("hi"), {"role": "assistant", "content": [TOOL_USE]}, *user_turn("and?")]),
        "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1. Each "
        "`tool_use` block must have a corresponding `tool_result` block in the next message.",
        id="tool-use-without-result",
    ),
    pytest.param(
        body(messages=[{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9"}]}]),
        "messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_9. Each `tool_result` "
        "block must have a corresponding `tool_use` block in the previous message.",
        id="result-without-tool-use",
    ),
    pytest.param(body(system=42), "system: Input should be a valid string or a list of text blocks", id="system"),
    pytest.param(body(temperature=1.5), "temperature: Input should be less than or equal to 1", id="temperature"),
    pytest.param(body(top_k=-1), "top_k: Input should be greater than or equal to 0", id="top-k"),
    pytest.param(body(stop_sequences="STOP"), "stop_sequences: Input should be a valid list", id="stop-sequences"),
    pytest.param(body(stream="yes"), "stream: Input should be a valid boolean", id="stream"),
    pytest.param(body(metadata={"user_id": 7}), "metadata.user_id: Input should be a valid string", id="metadata"),
    pytest.param(
        body(tools=[{"name": "get_weather"}]), "tools.0.custom.input_schema: Field required", id="tool-schema"
    ),
    pytest.param(
        body(tools=TOOLS, tool_choice={"type": "sometimes"}),
        "tool_choice: Input tag 'sometimes' found using 'type' does not match any of the expected tags: 'auto', "
        "'any', 'tool', 'none'",
        id="tool-choice",
    ),
    pytest.param(
        body(tools=TOOLS, tool_choice={"type": "tool"}), "tool_choice.tool.name: Field required", id="tool-name"
    ),
    pytest.param(
        body(thinking={"type": "enabled", "budget_tokens": 100}),
        "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
        id="thinking-budget",
    ),
    pytest.param(
        body(max_tokens=1024, thinking={"type": "enabled", "budget_tokens": 1024}),
        "`max_tokens` must be greater than `thinking.budget_tokens`.",
        id="thinking-above-max-tokens",
    ),
]


@pytest.mark.parametrize(("payload", "message"), VALIDATION)
def test_validation(server: FakeLLMServer, payload: dict[str, Any], message: str) -> None:
    response = http(server).post("/v1/messages", json=payload)
    assert response.status_code == 400
    assert response.json() == {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
    assert server.journal.last.outcome == "rejected"


def test_validation_through_the_sdk(server: FakeLLMServer) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client(server).messages.create(
            model=MODEL,
            max_tokens=256,
            messages=[{"role": "system", "content": "x"}],
        )
    assert caught.value.api_message == "messages.0.role: Input should be 'user' or 'assistant'"


def test_accepts_unknown_fields_and_any_version(server: FakeLLMServer) -> None:
    response = http(server).post(
        "/v1/messages",
        json=body(service_tier="auto", some_future_field={"x": 1}, temperature=0.5, top_p=0.9, top_k=5),
        headers={"anthropic-version": "2099-01-01", "anthropic-beta": "anything-2099"},
    )
    assert response.status_code == 200


# --------------------------------------------------------------------------------------------- count_tokens


def test_count_tokens_matches_usage(server: FakeLLMServer) -> None:
    sdk = client(server)
    options: dict[str, Any] = {"model": MODEL, "system": "Be brief.", "tools": TOOLS, "messages": user_turn("weather?")}
    counted = sdk.messages.count_tokens(**options)
    message = sdk.messages.create(max_tokens=256, **options)
    assert counted.input_tokens == message.usage.input_tokens > 0
    counting, answering = server.journal.entries[-2:]
    assert (counting.path, counting.outcome, counting.status) == ("/v1/messages/count_tokens", "counted", 200)
    assert (counting.reply, answering.outcome) == (f"{counted.input_tokens} input tokens", "matched")


def test_count_tokens_validates(server: FakeLLMServer) -> None:
    response = http(server).post("/v1/messages/count_tokens", json={"model": MODEL, "messages": []})
    assert response.status_code == 400
    assert response.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "messages: at least one message is required"},
    }
    assert response.headers["request-id"].startswith("req_")
    bad_json = http(server).post("/v1/messages/count_tokens", content=b"{nope")
    assert bad_json.status_code == 400


def test_count_tokens_checks_the_key(locked: FakeLLMServer) -> None:
    payload = {"model": MODEL, "messages": user_turn("hi")}
    assert http(locked).post("/v1/messages/count_tokens", json=payload).status_code == 401
    ok = http(locked).post("/v1/messages/count_tokens", json=payload, headers={"x-api-key": "k"})
    assert ok.json() == {"input_tokens": count_prompt(locked.engine.tokenizer, ["hi"], 1)}


def test_count_tokens_body_limit() -> None:
    with TestClient(create_app(engine=FakeLLM(Settings(max_body_bytes=64)))) as test_client:
        response = test_client.post(
            "/v1/messages/count_tokens", json={"model": MODEL, "messages": user_turn("x" * 100)}
        )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"


# --------------------------------------------------------------------------------------------- parsing in-process

PARSE_ERRORS = [
    pytest.param([], "Input should be a valid dictionary", id="body-not-object"),
    pytest.param(body(messages="hi"), "messages: Input should be a valid list", id="messages-not-list"),
    pytest.param(body(messages=["hi"]), "messages.0: Input should be a valid dictionary", id="message-not-object"),
    pytest.param(body(messages=[{"content": "hi"}]), "messages.0.role: Field required", id="no-role"),
    pytest.param(body(messages=[{"role": "user"}]), "messages.0.content: Field required", id="no-content"),
    pytest.param(
        body(messages=[{"role": "user", "content": 7}]),
        "messages.0.content: Input should be a valid string or a list of content blocks",
        id="content-not-text",
    ),
    pytest.param(
        body(messages=[{"role": "user", "content": ["hi"]}]),
        "messages.0.content.0: Input should be a valid dictionary",
        id="block-not-object",
    ),
    pytest.param(
        body(messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}]),
        "messages.0.content.0.text.text: text content blocks must be non-empty",
        id="empty-text-block",
    ),
    pytest.param(
        body(messages=[{"role": "user", "content": [{"type": "image"}]}]),
        "messages.0.content.0.image.source: Field required",
        id="image-without-source",
    ),
    pytest.param(
        body(messages=[*user_turn("hi"), {"role": "assistant", "content": [{**TOOL_USE, "input": 3}]}]),
        "messages.1.content.0.tool_use.input: Input should be a valid dictionary",
        id="tool-input-not-object",
    ),
    pytest.param(
        body(messages=[*user_turn("hi"), {"role": "assistant", "content": [{"type": "thinking", "thinking": "x"}]}]),
        "messages.1.content.0.thinking.signature: Field required",
        id="thinking-without-signature",
    ),
    pytest.param(
        body(messages=[*user_turn("hi"), {"role": "assistant", "content": [{"type": "redacted_thinking"}]}]),
        "messages.1.content.0.redacted_thinking.data: Field required",
        id="redacted-thinking-without-data",
    ),
    *[
        pytest.param(
            body(
                messages=[
                    *user_turn("hi"),
                    {"role": "assistant", "content": [TOOL_USE]},
                    {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": content}],
                    },
                ]
            ),
            message,
            id=name,
        )
        for name, content, message in (
            (
                "result-content",
                5,
                "messages.2.content.0.tool_result.content: Input should be a valid string or a list of content blocks",
            ),
            ("result-block", ["x"], "messages.2.content.0.tool_result.content.0: Input should be a valid dictionary"),
            (
                "result-block-type",
                [{"type": "tool_use"}],
                "messages.2.content.0.tool_result.content.0: Input tag 'tool_use' found using 'type' does not match "
                "any of the expected tags: 'text', 'image', 'document', 'search_result'",
            ),
        )
    ],
    pytest.param(body(system=["x"]), "system.0: Input should be a valid dictionary", id="system-block"),
    pytest.param(body(system=[{"type": "image"}]), "system.0.type: Input should be 'text'", id="system-block-type"),
    pytest.param(body(tools={}), "tools: Input should be a valid list", id="tools-not-list"),
    pytest.param(body(tools=["x"]), "tools.0: Input should be a valid dictionary", id="tool-not-object"),
    pytest.param(body(tools=[{"type": "bash_20250124"}]), "tools.0.bash_20250124.name: Field required", id="tool-name"),
    pytest.param(
        body(tools=[{"name": "t", "input_schema": []}]),
        "tools.0.custom.input_schema: Input should be a valid dictionary",
        id="tool-schema-not-object",
    ),
    pytest.param(body(tool_choice="auto"), "tool_choice: Input should be a valid dictionary", id="tool-choice-str"),
    pytest.param(body(metadata=[]), "metadata: Input should be a valid dictionary", id="metadata-not-object"),
    pytest.param(body(thinking=True), "thinking: Input should be a valid dictionary", id="thinking-not-object"),
    pytest.param(
        body(thinking={}), "thinking: Unable to extract tag using discriminator 'type'", id="thinking-without-type"
    ),
    pytest.param(body(thinking={"type": "enabled"}), "thinking.enabled.budget_tokens: Field required", id="no-budget"),
    pytest.param(
        body(thinking={"type": "enabled", "budget_tokens": "big"}),
        "thinking.enabled.budget_tokens: Input should be a valid integer",
        id="budget-not-int",
    ),
    pytest.param(
        body(output_config={"format": {"type": "json_object"}}),
        "output_config.format: Input should be a json_schema format with a `schema` object",
        id="output-format",
    ),
    pytest.param(body(top_p="high"), "top_p: Input should be a valid number", id="top-p"),
    pytest.param(body(model=3), "model: Input should be a valid string", id="model-not-string"),
]


@pytest.mark.parametrize(("payload", "message"), PARSE_ERRORS)
def test_parse_errors(payload: Any, message: str) -> None:
    with pytest.raises(ProviderRequestError) as caught:
        AnthropicMessages().parse(payload, {}, {})
    assert caught.value.message == message
    assert caught.value.status == 400


def test_parse_reduces_blocks_to_messages() -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc"}}
    thinking = {"type": "thinking", "thinking": "hm", "signature": "sig"}
    server_tool = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "x"}}
    request = AnthropicMessages().parse(
        body(
            stream=None,
            system=[{"type": "text", "text": "Rule one."}, {"type": "text", "text": "Rule two."}],
            messages=[
                {"role": "user", "content": [document, {"type": "text", "text": "Summarise."}]},
                {
                    "role": "assistant",
                    "content": [thinking, {"type": "redacted_thinking", "data": "x"}, server_tool, TOOL_USE],
                },
                {"role": "assistant", "content": [{**TOOL_USE, "id": "toolu_2", "input": "{raw"}]},
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": [image, document]},
                        {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": True},
                    ],
                },
            ],
            tools=[*TOOLS, {"type": "web_search_20250305", "name": "web_search", "max_uses": 1}],
            metadata={"user_id": "u-1"},
            thinking={"type": "disabled"},
            output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}},
        ),
        {},
        {},
    )
    assert request.stream is False
    assert request.messages == (
        Message("system", "Rule one.\nRule two."),
        Message("user", "Summarise."),
        Message(
            "assistant",
            "",
            (ToolCall("toolu_1", "get_weather", '{"city":"Paris"}'), ToolCall("toolu_2", "get_weather", "{raw")),
        ),
        Message("tool", "", tool_call_id="toolu_1", has_image=True),
        Message("tool", "", tool_call_id="toolu_2"),
    )
    assert [tool.name for tool in request.tools] == ["get_weather", "web_search"]
    assert request.response_format == {"type": "json_schema", "json_schema": {"schema": {"type": "object"}}}
    assert request.tool_names_by_call_id == {"toolu_1": "get_weather", "toolu_2": "get_weather"}


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [('{"a":1}', {"a": 1}), ("", {}), ("[1, 2]", "[1, 2]"), ('{"a": 1', '{"a": 1')],
    ids=["object", "empty", "not-an-object", "cut"],
)
def test_tool_input(arguments: str, expected: Any) -> None:
    assert tool_input(arguments) == expected


def test_parse_accepts_an_empty_prefill() -> None:
    request = AnthropicMessages().parse(
        body(messages=[*user_turn("hi"), {"role": "assistant", "content": ""}], metadata={}), {}, {}
    )
    assert request.messages[-1] == Message("assistant", "")
    assert request.last_role == "assistant"


def test_stop_reason_reads_the_matched_sequence() -> None:
    """Ready for plan_reply to record the stop sequence it cut at (PlannedChoice.stop_sequence)."""

    class Cut:
        finish_reason, refusal, stop_sequence = "stop", None, "END"

    assert stop_reason(Cut()) == ("stop_sequence", "END")
