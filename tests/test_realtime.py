"""The realtime WebSocket over a raw `websockets` client: the exact event order, errors that keep the socket
open, auth, server VAD, faults, the journal, and the golden transcripts."""

from __future__ import annotations

import base64
import json
import math
import struct
import time
from collections.abc import Iterator
from textwrap import dedent
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from fake_llm.testing.server import FakeLLMServer

RULES = dedent(
    """
    - name: greet
      match: {api: realtime, user: hello}
      reply: {content: "Hello! How can I help?", stream: {chunk_tokens: 2}}
    - name: weather-call
      match: {api: realtime, user: weather, last_role: user}
      reply: {tool_calls: [{name: get_weather, arguments: {city: Paris}}]}
    - name: weather-answer
      match: {api: realtime, tool_result: sunny}
      reply: {content: "It is sunny in Paris."}
    - name: spoken
      transcript: "What time is it?"
      match: {api: realtime, user: time}
      reply: {content: "It is noon."}
    - name: cut
      match: {api: realtime, user: cut me off}
      reply: {content: "one two three four five six", stream: {disconnect_after: 6, close_code: 4000}}
    - name: broken
      match: {api: realtime, user: break}
      reply:
        content: "one two three four"
        stream: {error_after: 5, error: {message: "upstream overloaded", type: server_error, code: overloaded}}
    - name: teapot
      match: {api: realtime, user: teapot}
      reply: {error: {status: 418, message: "I'm a teapot", code: teapot}}
    """
)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(rules=RULES, seed=7, freeze_time=1767225600, time_scale=0) as running:
        yield running


@pytest.fixture(autouse=True)
def _reset(server: FakeLLMServer) -> None:
    server.reset(rules=False)


def ws_url(server: FakeLLMServer, query: str = "model=gpt-realtime") -> str:
    return server.url.replace("http://", "ws://") + "/v1/realtime?" + query


def open_session(server: FakeLLMServer, **headers: str) -> ClientConnection:
    return connect(ws_url(server), additional_headers={"Authorization": "Bearer sk-test", **headers}, open_timeout=5)


def send(ws: ClientConnection, **event: Any) -> None:
    ws.send(json.dumps(event))


def recv(ws: ClientConnection) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ws.recv(timeout=5))
    return data


def until(ws: ClientConnection, last: str) -> list[dict[str, Any]]:
    """Server events up to and including the first of type `last`."""
    events = [recv(ws)]
    while events[-1]["type"] != last:
        events.append(recv(ws))
    return events


def say(ws: ClientConnection, text: str) -> None:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    send(ws, type="conversation.item.create", item=item)


TEXT = {"type": "realtime", "output_modalities": ["text"]}
USER_HI = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}


def test_text_response_event_order_is_the_services() -> None:
    with FakeLLMServer(rules=RULES, time_scale=0) as server, open_session(server) as ws:
        assert recv(ws)["type"] == "session.created"
        send(ws, type="session.update", session=TEXT)
        say(ws, "hello")
        send(ws, type="response.create")
        types = [e["type"] for e in until(ws, "response.done")]
    assert types == [
        "session.updated",
        "conversation.item.added",
        "conversation.item.done",
        "response.created",
        "rate_limits.updated",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ]


def test_beta_clients_get_the_beta_event_names(server: FakeLLMServer) -> None:
    with open_session(server, **{"OpenAI-Beta": "realtime=v1"}) as ws:
        created = recv(ws)
        assert created["session"]["modalities"] == ["text", "audio"]
        assert recv(ws)["type"] == "conversation.created"
        send(ws, type="session.update", session={"modalities": ["text"]})
        say(ws, "hello")
        send(ws, type="response.create")
        events = until(ws, "response.done")
    types = [e["type"] for e in events]
    assert "conversation.item.created" in types
    assert "conversation.item.added" not in types
    assert "".join(e["delta"] for e in events if e["type"] == "response.text.delta") == "Hello! How can I help?"
    assert events[-1]["response"]["modalities"] == ["text"]


def test_function_call_round_trip(server: FakeLLMServer) -> None:
    tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}
    with open_session(server) as ws:
        recv(ws)
        send(ws, type="session.update", session={**TEXT, "tools": [tool]})
        say(ws, "weather in Paris?")
        send(ws, type="response.create")
        events = until(ws, "response.done")
        done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
        assert (done["name"], json.loads(done["arguments"])) == ("get_weather", {"city": "Paris"})
        assert events[-1]["response"]["output"][0]["type"] == "function_call"
        output = {"type": "function_call_output", "call_id": done["call_id"], "output": '{"sky": "sunny"}'}
        send(ws, type="conversation.item.create", item=output)
        send(ws, type="response.create")
        events = until(ws, "response.done")
    text = next(e for e in events if e["type"] == "response.output_text.done")["text"]
    assert text == "It is sunny in Paris."
    assert server.journal.assert_called("weather-answer", times=1)


@pytest.mark.parametrize(
    ("event", "code", "param", "message"),
    [
        ({"type": "nope"}, "invalid_value", "type", "Invalid value: 'nope'. Supported values are: 'session.update'"),
        ({}, "invalid_event", "type", "The 'type' field is missing."),
        ({"type": "conversation.item.create"}, "missing_required_parameter", "item", "Missing required parameter"),
        (
            {"type": "conversation.item.create", "item": {"type": "message", "role": "robot", "content": []}},
            "invalid_value",
            "item.role",
            "Invalid value: 'robot'. Supported values are: 'user', 'assistant', 'system'.",
        ),
        (
            {"type": "session.update", "session": {"type": "realtime", "instructions": 3}},
            "invalid_type",
            "session.instructions",
            "Invalid type for 'session.instructions': expected a string, but got integer instead.",
        ),
        ({"type": "input_audio_buffer.append", "audio": "!!"}, "invalid_value", "audio", "must be base64"),
        ({"type": "input_audio_buffer.commit"}, "input_audio_buffer_commit_empty", None, "buffer too small"),
        ({"type": "response.cancel"}, "response_cancel_not_active", None, "no active response found"),
        ({"type": "conversation.item.delete", "item_id": "item_x"}, "invalid_value", "item_id", "not found: item_x"),
        ({"type": "conversation.item.retrieve", "item_id": "item_x"}, "invalid_value", "item_id", "not found: item_x"),
        ({"type": "session.update", "session": {}}, "missing_required_parameter", "session.type", "'session.type'"),
        (
            {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text", "audio"]}},
            "invalid_value",
            "session.output_modalities",
            "give either ['text'] or ['audio']",
        ),
        (
            {"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"turn_detection": {}}}}},
            "invalid_value",
            "session.audio.input.turn_detection.type",
            "Invalid value: 'None'",
        ),
        (
            {"type": "session.update", "session": {"type": "realtime", "tools": [{"type": "function"}]}},
            "missing_required_parameter",
            "session.tools[0].name",
            "Missing required parameter",
        ),
        (
            {"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": "c1"}},
            "missing_required_parameter",
            "item.output",
            "'item.output'",
        ),
        (
            {"type": "conversation.item.create", "item": {**USER_HI, "id": "item_1"}, "previous_item_id": "item_x"},
            "invalid_value",
            "previous_item_id",
            "not found: item_x",
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "user", "content": [{"type": "output_text", "text": "x"}]},
            },
            "invalid_value",
            "item.content[0].type",
            "Supported values are: 'input_text', 'input_audio', 'input_image'.",
        ),
        (
            {"type": "response.create", "response": {"conversation": "other"}},
            "invalid_value",
            "response.conversation",
            "'auto', 'none'",
        ),
        (
            {"type": "response.create", "response": {"output_modalities": ["video"]}},
            "invalid_value",
            "response.output_modalities[0]",
            "'text', 'audio'",
        ),
        (
            {"type": "conversation.item.truncate", "item_id": "item_x", "content_index": 0},
            "missing_required_parameter",
            "audio_end_ms",
            "'audio_end_ms'",
        ),
        ({"type": "input_audio_buffer.append"}, "missing_required_parameter", "audio", "'audio'"),
        ({"type": "transcription_session.update"}, "invalid_value", "type", "Invalid value"),
        ({"type": "session.update", "session": "x"}, "invalid_type", "session", "expected an object"),
    ],
)
def test_bad_client_events_get_an_error_event_and_the_socket_stays_open(
    server: FakeLLMServer, event: dict[str, Any], code: str, param: str | None, message: str
) -> None:
    with open_session(server) as ws:
        recv(ws)
        ws.send(json.dumps({"event_id": "evt_client_1", **event}))
        error = recv(ws)
        assert error["type"] == "error"
        assert (error["error"]["code"], error["error"]["param"]) == (code, param)
        assert message in error["error"]["message"]
        assert error["error"]["event_id"] == "evt_client_1"
        send(ws, type="session.update", session=TEXT)  # still open and answering
        assert recv(ws)["type"] == "session.updated"


def test_invalid_json_gets_an_error_event(server: FakeLLMServer) -> None:
    with open_session(server) as ws:
        recv(ws)
        ws.send("{not json")
        assert recv(ws)["error"]["code"] == "invalid_json"


def test_unmatched_response_is_an_error_event_and_a_journal_miss(server: FakeLLMServer) -> None:
    with open_session(server) as ws:
        recv(ws)
        say(ws, "something nobody scripted")
        send(ws, type="response.create")
        error = until(ws, "error")[-1]
    assert error["error"]["code"] == "fake_llm_no_match"
    assert "greet: user: last user message 'something nobody scripted'" in error["error"]["message"]
    assert len(server.journal.unmatched) == 1
    server.journal.clear()  # the plugin would fail the test on the miss


def test_scripted_error_reply_is_an_error_event(server: FakeLLMServer) -> None:
    with open_session(server) as ws:
        recv(ws)
        say(ws, "teapot")
        send(ws, type="response.create")
        error = until(ws, "error")[-1]["error"]
    assert (error["type"], error["code"], error["message"]) == ("server_error", "teapot", "I'm a teapot")


def test_error_mid_response_then_a_failed_response_done(server: FakeLLMServer) -> None:
    with open_session(server) as ws:
        recv(ws)
        send(ws, type="session.update", session=TEXT)
        say(ws, "break")
        send(ws, type="response.create")
        events = until(ws, "response.done")
        send(ws, type="session.update", session=TEXT)  # the session survives the failure
        assert recv(ws)["type"] == "session.updated"
    types = [e["type"] for e in events]
    assert types[-2:] == ["error", "response.done"]
    assert events[-2]["error"]["message"] == "upstream overloaded"
    assert events[-1]["response"]["status"] == "failed"
    assert events[-1]["response"]["status_details"]["error"] == {"type": "server_error", "code": "overloaded"}


def test_scripted_close_mid_response_uses_the_close_code(server: FakeLLMServer) -> None:
    with open_session(server) as ws:
        recv(ws)
        send(ws, type="session.update", session=TEXT)
        say(ws, "cut me off")
        send(ws, type="response.create")
        with pytest.raises(ConnectionClosedError) as closed:
            until(ws, "response.done")
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4000
    entry = server.journal.filter(rule="cut")[0]
    assert entry.faults == ["disconnect_after=6", "close_code=4000"]
    session = server.journal.filter(path="/v1/realtime", matched=False)[0]
    assert session.stream_outcome == "closed by fake-llm (code 4000)"


def tone(ms: int, amplitude: int = 3000) -> bytes:
    return b"".join(struct.pack("<h", int(amplitude * math.sin(i / 10))) for i in range(24 * ms))


def test_server_vad_detects_speech_commits_and_answers_with_the_rules_transcript(server: FakeLLMServer) -> None:
    transcription = {"model": "gpt-4o-transcribe"}
    session = {"type": "realtime", "output_modalities": ["text"], "audio": {"input": {"transcription": transcription}}}
    with open_session(server) as ws:
        recv(ws)
        send(ws, type="session.update", session=session)
        recv(ws)
        audio = bytes(24 * 2 * 500) + tone(400) + bytes(24 * 2 * 300)
        send(ws, type="input_audio_buffer.append", audio=base64.b64encode(audio).decode())
        events = until(ws, "response.done")
    types = [e["type"] for e in events]
    assert types[:6] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.completed",
    ]
    assert events[0]["audio_start_ms"] == 200  # speech at 500 ms, less the 300 ms prefix padding
    assert events[1]["audio_end_ms"] == 1100  # 200 ms of silence after the tone ends at 900 ms
    assert events[5]["transcript"] == "What time is it?"
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "It is noon."


def test_audio_output_is_pcm16_of_a_plausible_duration(server: FakeLLMServer) -> None:
    with open_session(server) as ws:
        recv(ws)
        say(ws, "hello")
        send(ws, type="response.create")
        events = until(ws, "response.done")
    pcm = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta")
    transcript = "".join(e["delta"] for e in events if e["type"] == "response.output_audio_transcript.delta")
    assert transcript == "Hello! How can I help?"
    assert len(pcm) == len(transcript) * 65 * 48  # 65 ms a character, 48 bytes a millisecond
    assert events[-1]["response"]["usage"]["output_token_details"]["audio_tokens"] == 29


def test_truncate_and_delete_items(server: FakeLLMServer) -> None:
    with open_session(server) as ws:
        recv(ws)
        say(ws, "hello")
        send(ws, type="response.create")
        events = until(ws, "response.done")
        item_id = events[-1]["response"]["output"][0]["id"]
        send(ws, type="conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=390)
        truncated = recv(ws)
        assert (truncated["type"], truncated["item_id"], truncated["audio_end_ms"]) == (
            "conversation.item.truncated",
            item_id,
            390,
        )
        send(ws, type="conversation.item.retrieve", item_id=item_id)
        assert recv(ws)["item"]["content"][0]["transcript"] == "Hello!"
        send(ws, type="conversation.item.delete", item_id=item_id)
        assert recv(ws)["type"] == "conversation.item.deleted"


def test_api_key_by_header_or_subprotocol() -> None:
    with FakeLLMServer(rules=RULES, api_keys=("sk-good",), time_scale=0) as server:
        with pytest.raises(InvalidStatus) as denied:
            connect(ws_url(server), additional_headers={"Authorization": "Bearer sk-bad"}, open_timeout=5)
        assert denied.value.response.status_code == 401
        assert b"Incorrect API key provided." in denied.value.response.body
        protocols = ["realtime", "openai-insecure-api-key.sk-good"]
        with connect(ws_url(server), subprotocols=protocols, open_timeout=5) as ws:  # type: ignore[arg-type]
            assert ws.subprotocol == "realtime"
            assert recv(ws)["type"] == "session.created"
        session = server.journal.entries[-1]
        assert "sk-good" not in json.dumps(session.to_dict(), default=str)


def test_missing_model_is_refused(server: FakeLLMServer) -> None:
    with pytest.raises(InvalidStatus) as denied:
        connect(ws_url(server, ""), additional_headers={"Authorization": "Bearer sk-test"}, open_timeout=5)
    assert denied.value.response.status_code == 400
    assert b"Missing required parameter: 'model'." in denied.value.response.body


def test_journal_shows_the_session_with_client_and_server_events(server: FakeLLMServer) -> None:
    with open_session(server) as ws:
        recv(ws)
        say(ws, "hello")
        send(ws, type="response.create")
        until(ws, "response.done")
    session, response = server.journal.entries
    assert (session.outcome, session.api, session.model) == ("session", "realtime", "gpt-realtime")
    kinds = [(e.kind, e.event) for e in session.events]
    assert kinds[:3] == [
        ("server", "session.created"),
        ("client", "conversation.item.create"),
        ("server", "conversation.item.added"),
    ]
    assert all(b.at_ms >= a.at_ms for a, b in zip(session.events, session.events[1:], strict=False))
    assert session.stream_outcome == "closed by the client (code 1000)"
    assert (response.rule, response.method, response.stream_outcome) == ("greet", "WS", "completed")
    assert response.body["messages"] == [["user", "hello"]]


HANG_RULES = dedent(
    """
    - name: hang
      match: {api: realtime, user: hang}
      reply: {hang: true}
    - name: chatty
      match: {api: realtime, user: talk}
      reply: {generate: {words: 300}, stream: {chunk_ms: 20}}
    - name: paced
      match: {api: realtime, user: paced}
      reply: {content: "one two three", stream: {ttft_ms: 30, chunk_ms: 20, stall_ms: 50, stall_after: 7}}
    - name: limited
      match: {api: realtime, user: limited}
      rate_limit: {requests_per_minute: 1}
      reply: {content: "once a minute"}
    - name: scripted
      match: {api: realtime, system: pirate, user: ahoy}
      reply: {content: "Arr, {{ last_user }}!"}
    """
)


@pytest.fixture(scope="module")
def timed() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(rules=HANG_RULES, freeze_time=1767225600, max_hang_seconds=5) as running:
        yield running


def test_hang_then_cancel_and_one_response_at_a_time(timed: FakeLLMServer) -> None:
    with open_session(timed) as ws:
        recv(ws)
        send(ws, type="session.update", session=TEXT)
        say(ws, "hang")
        send(ws, type="response.create")
        created = until(ws, "response.created")[-1]
        send(ws, type="response.create")
        busy = recv(ws)["error"]
        assert busy["code"] == "conversation_already_has_active_response"
        assert created["response"]["id"] in busy["message"]
        send(ws, type="response.cancel")
        done = until(ws, "response.done")[-1]["response"]
    assert (done["status"], done["status_details"]) == (
        "cancelled",
        {"type": "cancelled", "reason": "client_cancelled"},
    )
    assert timed.journal.filter(rule="hang")[0].faults == ["hang"]


def test_speech_during_a_response_interrupts_it(timed: FakeLLMServer) -> None:
    with open_session(timed) as ws:
        recv(ws)
        send(ws, type="session.update", session=TEXT)
        say(ws, "talk to me")
        send(ws, type="response.create")
        until(ws, "response.output_text.delta")
        send(ws, type="input_audio_buffer.append", audio=base64.b64encode(tone(100)).decode())
        events = until(ws, "response.done")
    types = [e["type"] for e in events]
    assert types[types.index("input_audio_buffer.speech_started") + 1 :] == [
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ]
    assert events[-1]["response"]["status_details"]["reason"] == "turn_detected"
    assert events[-1]["response"]["output"][0]["status"] == "incomplete"


def test_per_response_instructions_and_out_of_band_responses(timed: FakeLLMServer) -> None:
    with open_session(timed) as ws:
        recv(ws)
        send(ws, type="session.update", session=TEXT)
        say(ws, "ahoy")
        recv(ws), recv(ws)
        send(ws, type="response.create", response={"instructions": "Talk like a pirate", "conversation": "none"})
        done = until(ws, "response.done")[-1]["response"]
        assert done["output"][0]["content"][0]["text"] == "Arr, ahoy!"
        assert done["conversation_id"] is None
        send(ws, type="conversation.item.retrieve", item_id=done["output"][0]["id"])
        assert recv(ws)["error"]["param"] == "item_id"  # out of band: not in the conversation


@pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager:DeprecationWarning")
def test_beta_sdk_connection(timed: FakeLLMServer) -> None:
    """The beta connection always dials wss:// unless given websocket_base_url."""
    openai = pytest.importorskip("openai")
    ws_base = timed.base_url.replace("http://", "ws://")
    client = openai.OpenAI(base_url=timed.base_url, websocket_base_url=ws_base, api_key="sk-test", max_retries=0)
    with client.beta.realtime.connect(model="gpt-4o-realtime-preview") as connection:
        connection.session.update(session={"modalities": ["text"], "instructions": "Talk like a pirate"})
        connection.conversation.item.create(
            item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "ahoy"}]}
        )
        connection.response.create()
        for event in connection:
            if event.type == "response.done":
                break
    assert event.response.output[0].content[0].text == "Arr, ahoy!"
    client.close()


def test_rule_rate_limits_apply_and_rate_limits_updated_reports_them(timed: FakeLLMServer) -> None:
    with open_session(timed) as ws:
        recv(ws)
        send(ws, type="session.update", session=TEXT)
        say(ws, "limited")
        send(ws, type="response.create")
        events = until(ws, "response.done")
        limits = next(e for e in events if e["type"] == "rate_limits.updated")["rate_limits"]
        assert limits[0] == {"name": "requests", "limit": 1, "remaining": 0, "reset_seconds": 60.0}
        send(ws, type="response.create")
        error = until(ws, "error")[-1]["error"]
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
    assert timed.journal.filter(rule="limited", status=429)


def test_stream_timing_paces_the_deltas(timed: FakeLLMServer) -> None:
    with open_session(timed) as ws:
        recv(ws)
        send(ws, type="session.update", session=TEXT)
        say(ws, "paced")
        send(ws, type="response.create")
        until(ws, "response.done")
    entry = timed.journal.filter(rule="paced")[0]
    planned = {e.event: e.at_ms for e in entry.events if e.event != "response.output_text.delta"}
    deltas = [e.at_ms for e in entry.events if e.event == "response.output_text.delta"]
    assert planned["response.created"] == 30.0  # time to first token
    assert deltas == [30.0, 50.0, 120.0]  # chunk_ms apart, and a 50 ms stall before event 7
    assert planned["response.done"] == 120.0
    session = [e for e in timed.journal.entries if e.outcome == "session"][-1]
    asked = next(e.at_ms for e in session.events if e.event == "response.create")
    sent = [e.at_ms for e in session.events if e.event == "response.output_text.delta"]
    assert sent[-1] - asked >= 119  # really sent on that schedule (time_scale 1); late is possible, early is not


def test_client_audio_items_with_a_transcript_match_as_text_and_binary_frames_are_read(server: FakeLLMServer) -> None:
    audio = base64.b64encode(bytes(4800)).decode()
    item = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "audio": audio, "transcript": "hello"}],
    }
    with open_session(server) as ws:
        recv(ws)
        ws.send(json.dumps({"type": "session.update", "session": TEXT}).encode())  # a binary frame
        assert recv(ws)["type"] == "session.updated"
        send(ws, type="conversation.item.create", item=item)
        added = recv(ws)["item"]
        assert added["content"] == [{"type": "input_audio", "transcript": "hello"}]  # the audio is not echoed
        assert recv(ws)["type"] == "conversation.item.done"
        send(ws, type="conversation.item.create", item=added | {"content": []})
        assert recv(ws)["error"]["message"] == f"Item with id '{added['id']}' already exists."
        send(ws, type="input_audio_buffer.append", audio=audio)
        send(ws, type="input_audio_buffer.clear")
        assert [e["type"] for e in until(ws, "input_audio_buffer.cleared")][-1] == "input_audio_buffer.cleared"
        send(ws, type="response.create")
        assert until(ws, "response.done")[-1]["response"]["output"][0]["content"][0]["text"] == "Hello! How can I help?"


def test_the_client_leaving_mid_response_is_journaled(timed: FakeLLMServer) -> None:
    with open_session(timed) as ws:
        recv(ws)
        send(ws, type="session.update", session=TEXT)
        say(ws, "talk to me")
        send(ws, type="response.create")
        until(ws, "response.output_text.delta")
    entry = timed.journal.filter(rule="chatty")[-1]
    for _ in range(200):  # the server notices the close on its own schedule: poll, bounded
        if entry.stream_outcome is not None:
            break
        time.sleep(0.01)
    assert entry.stream_outcome == "client disconnected"


def test_hang_gives_up_after_max_hang_seconds() -> None:
    with FakeLLMServer(rules=HANG_RULES, max_hang_seconds=0.05) as server, open_session(server) as ws:
        recv(ws)
        send(ws, type="session.update", session=TEXT)
        say(ws, "hang")
        send(ws, type="response.create")
        events = until(ws, "response.done")
    assert events[-2]["error"]["message"] == "fake-llm: a hang reply reached the server's max_hang_seconds."
    assert events[-1]["response"]["status"] == "failed"
