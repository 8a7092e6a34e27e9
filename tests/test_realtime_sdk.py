"""The official openai client's realtime connection (`openai[realtime]`) against the threaded server."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from textwrap import dedent
from typing import Any

import pytest

from fake_llm.testing.server import FakeLLMServer
from tests.sdk_clients import openai_client

openai = pytest.importorskip("openai")
pytest.importorskip("websockets")
from websockets.exceptions import ConnectionClosedError  # noqa: E402

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
      transcript: "Tell me a joke"
      match: {api: realtime, user: joke}
      reply: {content: "Why did the fake cross the road?"}
    - name: long
      match: {api: realtime, user: long story}
      reply: {generate: {words: 200}, stream: {chunk_ms: 20}}
    - name: cut
      match: {api: realtime, user: cut}
      reply: {content: "one two three four", stream: {disconnect_after: 7, close_code: 1011}}
    - name: slow-a
      match: {api: realtime, user: first}
      reply: {content: "alpha beta gamma delta", stream: {chunk_ms: 10}}
    - name: slow-b
      match: {api: realtime, user: second}
      reply: {content: "one two three four", stream: {chunk_ms: 10}}
    """
)
TEXT = {"type": "realtime", "output_modalities": ["text"]}
#: openai's sync realtime client calls websockets' connect() outside a `with`, which websockets 17.1+ deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager:DeprecationWarning")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(rules=RULES, freeze_time=1767225600) as running:
        yield running


@pytest.fixture(autouse=True)
def _reset(server: FakeLLMServer) -> None:
    server.reset(rules=False)


def user_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def until_done(connection: Any) -> list[Any]:
    events = []
    for event in connection:
        events.append(event)
        if event.type == "response.done":
            break
    return events


def test_text_modality(server: FakeLLMServer) -> None:
    with openai_client(server).realtime.connect(model="gpt-realtime") as connection:
        connection.session.update(session=TEXT)
        connection.conversation.item.create(item=user_text("hello"))
        connection.response.create()
        events = until_done(connection)
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "Hello! How can I help?"
    done = events[-1].response
    assert (done.status, done.output[0].content[0].text) == ("completed", text)
    assert done.usage.output_tokens == done.usage.output_token_details.text_tokens > 0


def test_audio_modality_with_input_audio_matched_by_the_rules_transcript(server: FakeLLMServer) -> None:
    with openai_client(server).realtime.connect(model="gpt-realtime") as connection:
        connection.session.update(session={"type": "realtime", "audio": {"input": {"turn_detection": None}}})
        connection.input_audio_buffer.append(audio=base64.b64encode(bytes(9600)).decode())
        connection.input_audio_buffer.commit()
        connection.response.create()
        events = until_done(connection)
    transcript = "".join(e.delta for e in events if e.type == "response.output_audio_transcript.delta")
    audio = b"".join(base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta")
    assert transcript == "Why did the fake cross the road?"
    assert len(audio) == len(transcript) * 65 * 48  # PCM16 at 24 kHz, 65 ms a character
    assert events[-1].response.output[0].content[0].transcript == transcript
    assert server.journal.assert_called("spoken")[0].body["messages"] == [["user", "Tell me a joke"]]


def test_function_call_round_trip(server: FakeLLMServer) -> None:
    tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}
    with openai_client(server).realtime.connect(model="gpt-realtime") as connection:
        connection.session.update(session={**TEXT, "tools": [tool]})
        connection.conversation.item.create(item=user_text("What is the weather?"))
        connection.response.create()
        call = next(e for e in until_done(connection) if e.type == "response.function_call_arguments.done")
        assert (call.name, call.arguments) == ("get_weather", '{"city":"Paris"}')
        output = {"type": "function_call_output", "call_id": call.call_id, "output": '{"sky": "sunny"}'}
        connection.conversation.item.create(item=output)
        connection.response.create()
        events = until_done(connection)
    assert events[-1].response.output[0].content[0].text == "It is sunny in Paris."


def test_response_cancel_mid_stream(server: FakeLLMServer) -> None:
    with openai_client(server).realtime.connect(model="gpt-realtime") as connection:
        connection.session.update(session=TEXT)
        connection.conversation.item.create(item=user_text("tell me a long story"))
        connection.response.create()
        received = []
        for event in connection:
            if event.type == "response.output_text.delta":
                received.append(event.delta)
                if len(received) == 3:
                    connection.response.cancel()
            if event.type == "response.done":
                done = event.response
                break
    assert done.status == "cancelled"
    assert done.status_details.reason == "client_cancelled"
    partial = done.output[0]
    assert partial.status == "incomplete"
    assert partial.content[0].text.startswith("".join(received))
    assert 0 < len(partial.content[0].text) < 600
    assert server.journal.filter(rule="long")[0].stream_outcome == "cancelled (client_cancelled)"


def test_scripted_close_reaches_the_client(server: FakeLLMServer) -> None:
    with openai_client(server).realtime.connect(model="gpt-realtime") as connection:
        connection.session.update(session=TEXT)
        connection.conversation.item.create(item=user_text("cut"))
        connection.response.create()
        with pytest.raises(ConnectionClosedError) as closed:
            until_done(connection)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1011


def test_two_sessions_in_parallel_do_not_interfere(server: FakeLLMServer) -> None:
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)

    async def session(text: str) -> tuple[str, str, set[str]]:
        async with client.realtime.connect(model="gpt-realtime") as connection:
            await connection.session.update(session=TEXT)
            await connection.conversation.item.create(item=user_text(text))
            await connection.response.create()
            deltas, ids = [], set()
            async for event in connection:
                if event.type == "response.output_text.delta":
                    deltas.append(event.delta)
                    ids.add(event.response_id)
                if event.type == "response.done":
                    return "".join(deltas), event.response.output[0].content[0].text, ids
        raise AssertionError("the session ended without response.done")

    async def both() -> list[tuple[str, str, set[str]]]:
        try:
            return list(await asyncio.wait_for(asyncio.gather(session("first"), session("second")), 20))
        finally:
            await client.close()

    (a, a_done, a_ids), (b, b_done, b_ids) = asyncio.run(both())
    assert (a, a_done) == ("alpha beta gamma delta",) * 2
    assert (b, b_done) == ("one two three four",) * 2
    assert len(a_ids) == len(b_ids) == 1
    assert a_ids != b_ids
    assert {e.rule for e in server.journal.entries if e.method == "WS"} == {"slow-a", "slow-b"}
