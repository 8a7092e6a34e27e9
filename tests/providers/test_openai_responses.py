"""OpenAI Responses API through the official SDK: the response object (wire-format §3.2), the strict streaming event
sequence (§3.3), function calls, structured output, incomplete replies, errors and request validation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pydantic
import pytest

from fake_llm.testing.server import FakeLLMServer
from tests.helpers import named_events, serve
from tests.sdk_clients import openai_client

openai = pytest.importorskip("openai")

RULES = """
- name: weather-result
  match: {tool_result_for: get_weather}
  reply: {content: "It is {{ tool_result }} in Paris."}
- name: sunny
  match: {tool_result: sunny}
  reply: {content: "Enjoy the sun."}
- name: weather
  match: {user: weather}
  reply:
    content: "Let me check."
    tool_calls: [{name: get_weather, arguments: {city: Paris}}]
- name: think
  match: {user: think}
  reply: {content: "Forty-two.", reasoning_content: "Add six sevens together."}
- name: structured
  match: {api: responses, response_format: json_schema}
  reply: {generate: {}}
- name: long
  match: {user: long}
  reply: {generate: {words: 80}}
- name: pirate
  match: {system: pirate}
  reply: {content: "Arr, matey."}
- name: slow-down
  match: {user: slow down}
  reply: {error: {status: 429, message: "Rate limit reached.", headers: {retry-after-ms: "1"}}}
- name: broken
  match: {user: broken}
  reply:
    content: "one two three four five"
    stream: {error_after: 5, error: {message: "The server had an error.", type: server_error}}
- name: no-finish
  match: {user: unfinished}
  reply: {content: "one two three", stream: {finish_chunk: false}}
- name: no-done
  match: {user: endless}
  reply: {content: "one two three", stream: {done: false}}
- name: paced
  match: {user: paced}
  reply: {content: "one two three", stream: {chunk_ms: 10}}
- name: only-chat
  match: {api: openai-chat, user: dialect}
  reply: {content: "chat rule"}
- name: only-responses
  match: {api: responses, user: dialect}
  reply: {content: "responses rule"}
- name: greet
  match: {user: hello}
  reply: {content: "Hello there, friend!"}
"""

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
TEXT_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    *["response.output_text.delta"] * 5,  # "Hello", " there", ",", " friend", "!"
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    yield from serve(RULES)


@pytest.fixture(autouse=True)
def _reset(server: FakeLLMServer) -> None:
    server.reset(rules=False)


client = openai_client


def raw_events(server: FakeLLMServer, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each SSE event of a streamed request, checking the framing on the way."""
    with httpx.Client(timeout=10) as http:
        response = http.post(server.base_url + "/responses", json={**body, "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    out = named_events(response.text)
    assert response.text.endswith("\n\n")
    return out


# --------------------------------------------------------------------------------------------- replies


def test_create_returns_a_completed_response(server: FakeLLMServer) -> None:
    response = client(server).responses.create(model="gpt-4.1-mini", input="hello")
    assert response.output_text == "Hello there, friend!"
    assert response.id.startswith("resp_")
    assert response.object == "response"
    assert response.status == "completed"
    assert response.created_at == 1767225600
    assert response.incomplete_details is None
    assert response.error is None
    [message] = response.output
    assert message.type == "message"
    assert message.id.startswith("msg_")
    assert message.status == "completed"
    assert message.role == "assistant"
    assert message.content[0].type == "output_text"
    assert message.content[0].annotations == []
    assert response.usage is not None
    assert response.usage.output_tokens == 5
    assert response.usage.total_tokens == response.usage.input_tokens + 5
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert response.usage.output_tokens_details.reasoning_tokens == 0


def test_response_echoes_request_settings(server: FakeLLMServer) -> None:
    raw = client(server).responses.with_raw_response.create(
        model="gpt-4.1-mini", input="hello", temperature=0.2, store=False, metadata={"run": "7"}
    )
    assert raw.headers["x-request-id"].startswith("req_")
    body = raw.http_response.json()
    assert body["temperature"] == 0.2
    assert body["store"] is False
    assert body["metadata"] == {"run": "7"}
    assert body["top_p"] == 1.0
    assert body["tool_choice"] == "auto"
    assert body["text"]["format"] == {"type": "text"}
    assert list(body)[:4] == ["id", "object", "created_at", "status"]
    assert list(body)[-1] == "metadata"


def test_instructions_are_the_system_prompt(server: FakeLLMServer) -> None:
    response = client(server).responses.create(model="gpt-4.1-mini", instructions="Talk like a pirate.", input="hi")
    assert response.output_text == "Arr, matey."


def test_api_match_key_tells_responses_from_chat(server: FakeLLMServer) -> None:
    openai_client = client(server)
    assert openai_client.responses.create(model="gpt-4.1-mini", input="dialect").output_text == "responses rule"
    chat = openai_client.chat.completions.create(
        model="gpt-4.1-mini", messages=[{"role": "user", "content": "dialect"}]
    )
    assert chat.choices[0].message.content == "chat rule"
    assert server.journal.last.api == "openai-chat"


def test_reasoning_comes_as_a_reasoning_item(server: FakeLLMServer) -> None:
    response = client(server).responses.create(model="o4-mini", input="think")
    reasoning, message = response.output
    assert reasoning.type == "reasoning"
    assert reasoning.id.startswith("rs_")
    assert reasoning.summary[0].text == "Add six sevens together."
    assert message.type == "message"
    assert response.output_text == "Forty-two."
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens > 0


# --------------------------------------------------------------------------------------------- streaming


def test_stream_helper_sees_the_strict_event_sequence(server: FakeLLMServer) -> None:
    with client(server).responses.stream(model="gpt-4.1-mini", input="hello") as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert [e.type for e in events] == TEXT_EVENTS
    assert [e.sequence_number for e in events] == list(range(len(TEXT_EVENTS)))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Hello there, friend!"
    assert final.output_text == "Hello there, friend!"
    assert final.status == "completed"
    assert events[0].response.id == events[-1].response.id == final.id


def test_create_stream_true_yields_raw_events(server: FakeLLMServer) -> None:
    stream = client(server).responses.create(model="gpt-4.1-mini", input="hello", stream=True)
    with stream:
        events = list(stream)
    assert [e.type for e in events] == TEXT_EVENTS
    created, completed = events[0], events[-1]
    assert created.response.status == "in_progress"
    assert created.response.output == []
    assert created.response.usage is None
    assert completed.response.status == "completed"
    assert completed.response.usage.output_tokens == 5
    assert completed.response.output[0].content[0].text == "Hello there, friend!"


def test_wire_events_name_their_type_and_share_one_item(server: FakeLLMServer) -> None:
    events = raw_events(server, {"model": "gpt-4.1-mini", "input": "hello"})
    assert all(name == data["type"] for name, data in events)
    item_ids = {data["item_id"] for _, data in events if "item_id" in data}
    assert len(item_ids) == 1
    added = events[2][1]
    opened = {"id": item_ids.pop(), "type": "message", "status": "in_progress", "content": [], "role": "assistant"}
    assert added["item"] == opened
    assert events[3][1]["part"] == {"type": "output_text", "text": "", "annotations": [], "logprobs": []}


def test_streamed_function_call_and_reasoning(server: FakeLLMServer) -> None:
    with client(server).responses.stream(model="gpt-4.1-mini", input="weather?", tools=[WEATHER_TOOL]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert [item.type for item in final.output] == ["message", "function_call"]
    call = final.output[1]
    assert json.loads(call.arguments) == {"city": "Paris"}
    deltas = [e for e in events if e.type == "response.function_call_arguments.delta"]
    assert "".join(e.delta for e in deltas) == call.arguments
    assert all(e.output_index == 1 and e.item_id == call.id for e in deltas)
    [done] = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert done.name == "get_weather"
    with client(server).responses.stream(model="o4-mini", input="think") as stream:
        types = [e.type for e in stream]
        assert stream.get_final_response().output[0].summary[0].text == "Add six sevens together."
    assert "response.reasoning_summary_text.delta" in types
    assert types.index("response.reasoning_summary_part.done") < types.index("response.content_part.added")


def test_deltas_are_paced_as_content_steps(server: FakeLLMServer) -> None:
    with client(server).responses.stream(model="gpt-4.1-mini", input="paced") as stream:
        assert stream.get_final_response().output_text == "one two three"
    entry = server.journal.last
    deltas = [at for at, event in zip(entry.schedule, entry.events, strict=True) if event.step >= 0]
    assert deltas == [0.0, 10.0, 20.0]
    assert entry.schedule[-1] == 20.0


def test_finish_chunk_false_drops_item_done_events_but_the_helper_completes(server: FakeLLMServer) -> None:
    with client(server).responses.stream(model="gpt-4.1-mini", input="unfinished") as stream:
        types = [e.type for e in stream]
        assert stream.get_final_response().output_text == "one two three"
    assert not [t for t in types if t.endswith(".done")]
    assert types[-1] == "response.completed"


def test_done_false_ends_without_response_completed(server: FakeLLMServer) -> None:
    with client(server).responses.stream(model="gpt-4.1-mini", input="endless") as stream:
        types = [e.type for e in stream]
        with pytest.raises(RuntimeError, match=r"response\.completed"):
            stream.get_final_response()
    assert types[-1] == "response.output_item.done"


def test_mid_stream_error_raises_api_error(server: FakeLLMServer) -> None:
    broken = client(server).responses.stream(model="gpt-4.1-mini", input="broken")
    with broken as stream, pytest.raises(openai.APIError, match=r"The server had an error\.") as caught:
        stream.until_done()
    assert not isinstance(caught.value, openai.APIStatusError)
    assert caught.value.body["type"] == "server_error"
    events = raw_events(server, {"model": "gpt-4.1-mini", "input": "broken"})
    (name, data), (last_name, last) = events[-2:]
    assert name == "error"
    assert data["type"] == "error"
    assert data["error"]["message"] == "The server had an error."
    # The spec's flat fields too, and its real place in the stream (it used to be 0 wherever it came).
    assert (data["code"], data["message"]) == (data["error"]["code"], "The server had an error.")
    assert data["sequence_number"] == len(events) - 2
    # A failed response ends with response.failed, carrying the failed response and its error.
    assert last_name == "response.failed"
    assert last["sequence_number"] == len(events) - 1
    assert last["response"]["status"] == "failed"
    assert last["response"]["error"] == {"code": "server_error", "message": "The server had an error."}
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))


# --------------------------------------------------------------------------------------------- tools and formats


def test_function_call_then_function_call_output_round_trip(server: FakeLLMServer) -> None:
    openai_client = client(server)
    conversation: list[Any] = [{"role": "user", "content": "What's the weather?"}]
    first = openai_client.responses.create(model="gpt-4.1-mini", input=conversation, tools=[WEATHER_TOOL])
    message, call = first.output
    assert message.type == "message"
    assert call.type == "function_call"
    assert call.id.startswith("fc_")
    assert call.call_id.startswith("call_")
    assert call.name == "get_weather"
    assert call.status == "completed"
    conversation += [item.model_dump(exclude_none=True) for item in first.output]
    conversation.append({"type": "function_call_output", "call_id": call.call_id, "output": "21°C"})
    second = openai_client.responses.create(model="gpt-4.1-mini", input=conversation, tools=[WEATHER_TOOL])
    assert second.output_text == "It is 21°C in Paris."
    assert server.journal.last.rule == "weather-result"


def test_function_call_output_may_rely_on_previous_response_id(server: FakeLLMServer) -> None:
    response = client(server).responses.create(
        model="gpt-4.1-mini",
        previous_response_id="resp_earlier",
        input=[{"type": "function_call_output", "call_id": "call_1", "output": "sunny"}],
    )
    assert response.previous_response_id == "resp_earlier"
    assert response.output_text == "Enjoy the sun."


def test_forced_tool_choice_is_honoured(server: FakeLLMServer) -> None:
    response = client(server).responses.create(
        model="gpt-4.1-mini",
        input="weather",
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "name": "get_weather"},
    )
    assert response.output[-1].name == "get_weather"
    assert response.tool_choice.name == "get_weather"


class City(pydantic.BaseModel):
    name: str
    population: int
    coastal: bool


def test_parse_with_text_format_gets_a_schema_valid_object(server: FakeLLMServer) -> None:
    parsed = client(server).responses.parse(model="gpt-4.1-mini", input="Describe a city.", text_format=City)
    assert isinstance(parsed.output_parsed, City)
    assert parsed.text.format.type == "json_schema"
    assert server.journal.last.rule == "structured"


def test_max_output_tokens_makes_the_response_incomplete(server: FakeLLMServer) -> None:
    openai_client = client(server)
    response = openai_client.responses.create(model="gpt-4.1-mini", input="long", max_output_tokens=16)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output[0].status == "incomplete"
    assert response.usage is not None
    assert response.usage.output_tokens == 16
    assert response.max_output_tokens == 16
    stream = openai_client.responses.create(model="gpt-4.1-mini", input="long", max_output_tokens=16, stream=True)
    with stream:
        last = list(stream)[-1]
    assert last.type == "response.incomplete"
    assert last.response.incomplete_details.reason == "max_output_tokens"


# --------------------------------------------------------------------------------------------- errors


def test_scripted_429_raises_rate_limit_error(server: FakeLLMServer) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        client(server).responses.create(model="gpt-4.1-mini", input="slow down")
    assert caught.value.status_code == 429
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.request_id is not None


@pytest.mark.parametrize(
    ("extra", "param", "message"),
    [
        pytest.param({"input": "hi", "max_output_tokens": 8}, "max_output_tokens", "below minimum value", id="budget"),
        pytest.param({"input": "hi", "temperature": 3}, "temperature", "above maximum value", id="temperature"),
        pytest.param(
            {"input": "hi", "tools": [{"type": "function", "function": {"name": "f"}}]},
            "tools[0].name",
            "Missing required parameter",
            id="chat-shaped-tool",
        ),
        pytest.param(
            {"input": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
            "input[0].content[0].type",
            "Invalid value",
            id="chat-part-type",
        ),
        pytest.param(
            {"input": [{"type": "function_call_output", "call_id": "call_9", "output": "x"}]},
            "input",
            "No tool call found for function call output with call_id call_9.",
            id="orphan-output",
        ),
        pytest.param(
            {"input": [{"type": "function_call", "call_id": "call_9", "name": "f", "arguments": "{}"}]},
            "input",
            "No tool output found for function call call_9.",
            id="unanswered-call",
        ),
        pytest.param(
            {"input": "hi", "text": {"format": {"type": "json_schema", "schema": {}}}},
            "text.format.name",
            "Missing required parameter",
            id="schema-name",
        ),
        pytest.param({"input": "hi", "text": {"format": {"type": "yaml"}}}, "text.format.type", "yaml", id="format"),
        pytest.param({"input": "hi", "stream": "yes"}, "stream", "expected a boolean", id="stream-type"),
        pytest.param({"input": 5}, "input", "Invalid type for 'input'", id="input-type"),
        pytest.param({}, "input", "Missing required parameter: 'input'.", id="no-input"),
    ],
)
def test_validation_errors_name_the_param(
    server: FakeLLMServer, extra: dict[str, Any], param: str, message: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(server).responses.create(model="gpt-4.1-mini", **extra)
    assert caught.value.param == param
    assert message in caught.value.message
    assert server.journal.last.outcome == "rejected"


def test_missing_model_is_a_400(server: FakeLLMServer) -> None:
    with httpx.Client(timeout=10) as http:
        response = http.post(server.base_url + "/responses", json={"input": "hi"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "model"
