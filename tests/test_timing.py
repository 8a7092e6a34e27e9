"""Stream schedules (planned, journaled) and the response that carries them out, with an injected clock."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fake_llm.core.timing import schedule
from fake_llm.http.sse import DelayedResponse, EventStreamResponse, HangResponse, split_bytes
from fake_llm.model.spec import StreamSpec, TimedChunk
from fake_llm.model.stream import Event
from fake_llm.testing.server import FakeLLMServer


def content_events(count: int, tokens: int = 1) -> list[Event]:
    role = Event("role", kind="role")
    body = [Event(f"c{i}", tokens=tokens, step=i) for i in range(count)]
    return [role, *body, Event("finish", kind="finish"), Event("[DONE]", kind="done")]


def times(spec: StreamSpec, count: int = 4, seed: int = 0, tokens: int = 1) -> list[float]:
    return [e.at_ms for e in schedule(content_events(count, tokens), spec, random.Random(seed))]


def test_untimed_stream_is_all_due_at_once() -> None:
    assert times(StreamSpec()) == [0.0] * 7


def test_ttft_then_chunk_gaps() -> None:
    assert times(StreamSpec(ttft_ms=100, chunk_ms=20)) == [100, 100, 120, 140, 160, 160, 160]


def test_tokens_per_second_paces_by_tokens_per_chunk() -> None:
    assert times(StreamSpec(tokens_per_second=50), count=3, tokens=2) == [0, 0, 40, 80, 80, 80]


def test_timeline_gaps_are_relative_to_the_previous_chunk() -> None:
    spec = StreamSpec(chunks=(TimedChunk("a", 120), TimedChunk("b", 0), TimedChunk("c", 30)))
    assert times(spec, count=3) == [120, 120, 120, 150, 150, 150]


def test_stall_delays_the_chosen_chunk_and_everything_after() -> None:
    assert times(StreamSpec(chunk_ms=10, stall_ms=500, stall_after=2)) == [0, 0, 510, 520, 530, 530, 530]


def test_jitter_is_seeded_bounded_and_never_goes_backwards() -> None:
    spec = StreamSpec(chunk_ms=20, jitter_ms=15)
    first, again, other = times(spec, 50, seed=1), times(spec, 50, seed=1), times(spec, 50, seed=2)
    assert first == again
    assert first != other
    gaps = [b - a for a, b in itertools.pairwise(first[1:51])]  # between the 50 content chunks
    assert all(5 - 0.01 <= gap <= 35 + 0.01 for gap in gaps)


def test_schedule_of_the_same_request_is_journaled_identically() -> None:
    rules = [{"name": "j", "reply": {"content": "a b c d e f", "stream": {"chunk_ms": 10, "jitter_ms": 5}}}]
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    with FakeLLMServer(rules=rules, time_scale=0) as server:
        for _ in range(2):
            httpx.post(server.base_url + "/chat/completions", json=body, timeout=5)
        first, second = (e.schedule for e in server.journal.entries)
        assert first == second
        assert len(set(first)) > 2


# ------------------------------------------------------------------ EventStreamResponse with a fake clock


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds + 0.001  # every sleep overshoots a little, as real ones do


def run(app: Any) -> list[dict[str, Any]]:
    """Run an ASGI response to the end; returns the messages it sent."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # the client never leaves
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def main() -> None:
        await app({"type": "http"}, receive, send)

    asyncio.run(main())
    return sent


def bodies(sent: list[dict[str, Any]]) -> list[bytes]:
    return [m["body"] for m in sent if m["type"] == "http.response.body"]


def test_undelayed_events_are_coalesced_into_one_write() -> None:
    sent = run(EventStreamResponse([Event("a"), Event("b"), Event("[DONE]", kind="done")]))
    assert bodies(sent) == [b"data: a\n\ndata: b\n\ndata: [DONE]\n\n"]
    assert sent[-1]["more_body"] is False


def test_delays_are_scheduled_from_the_start_so_overshoot_does_not_accumulate() -> None:
    clock = FakeClock()
    events = [Event(str(i), at_ms=100.0 * i) for i in range(1, 6)]
    sent = run(EventStreamResponse(events, sleep=clock.sleep, clock=clock))
    assert bodies(sent) == [f"data: {i}\n\n".encode() for i in range(1, 6)]
    # each sleep is shortened by the previous overshoot instead of adding to it
    assert clock.slept[0] == pytest.approx(0.1)
    assert all(s == pytest.approx(0.099) for s in clock.slept[1:])


def test_time_scale_multiplies_every_delay() -> None:
    clock = FakeClock()
    run(EventStreamResponse([Event("a", at_ms=200)], time_scale=0.5, sleep=clock.sleep, clock=clock))
    assert clock.slept == [pytest.approx(0.1)]
    clock = FakeClock()
    run(EventStreamResponse([Event("a", at_ms=200)], time_scale=0, sleep=clock.sleep, clock=clock))
    assert clock.slept == []


def test_split_events_go_out_in_several_writes() -> None:
    sent = run(EventStreamResponse([Event("é☃", parts=3, split_utf8=True), Event("[DONE]")]))
    writes = bodies(sent)
    assert b"".join(writes) == "data: é☃\n\ndata: [DONE]\n\n".encode()
    assert len(writes) == 4
    with pytest.raises(UnicodeDecodeError):
        writes[0].decode()


def test_split_bytes_cuts_inside_a_multibyte_character() -> None:
    frame = "data: ☃\n\n".encode()
    pieces = split_bytes(frame, 2, inside_utf8=True)
    assert b"".join(pieces) == frame
    assert pieces[0] == b"data: \xe2"


def test_crlf_framing_and_comments() -> None:
    sent = run(
        EventStreamResponse([Event("keep-alive", kind="comment"), Event("x", event="error")], line_ending="\r\n")
    )
    assert bodies(sent) == [b": keep-alive\r\n\r\nevent: error\r\ndata: x\r\n\r\n"]


def test_delayed_response_waits_then_answers() -> None:
    clock = FakeClock()
    inner = EventStreamResponse([Event("a")])
    sent = run(DelayedResponse(inner, 1.5, sleep=clock.sleep))
    assert clock.slept == [1.5]
    assert bodies(sent) == [b"data: a\n\n"]


def test_hang_answers_the_timeout_reply_after_the_maximum() -> None:
    clock = FakeClock()
    sent = run(HangResponse(30, EventStreamResponse([Event("late")]), sleep=clock.sleep))
    assert clock.slept == [30]
    assert bodies(sent) == [b"data: late\n\n"]


# ------------------------------------------------------------------ real server, real clock


@pytest.fixture(scope="module")
def timed_server() -> Iterator[FakeLLMServer]:
    rules = [
        {
            "name": "slow",
            "match": {"user": "slow"},
            "reply": {"content": "a b c d e f g h", "stream": {"chunk_ms": 200}},
        },
        {"name": "late", "match": {"user": "late"}, "reply": {"content": "x", "delay_ms": 60}},
    ]
    with FakeLLMServer(rules=rules) as server:
        yield server


def test_delays_are_really_applied(timed_server: FakeLLMServer) -> None:
    """One loose wall-clock check: 60 ms of scripted delay takes at least 50 ms (no upper bound is asserted)."""
    body = {"model": "m", "messages": [{"role": "user", "content": "late"}]}
    started = time.monotonic()
    httpx.post(timed_server.base_url + "/chat/completions", json=body, timeout=5)
    assert time.monotonic() - started >= 0.05


def test_client_that_leaves_mid_stream_leaves_nothing_behind(timed_server: FakeLLMServer) -> None:
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "slow"}]}
    with (
        httpx.Client(timeout=5) as client,
        client.stream("POST", timed_server.base_url + "/chat/completions", json=body) as response,
    ):
        chunks = response.iter_raw()
        next(chunks)
        assert timed_server.engine.open_streams == 1
        assert timed_server.journal.last.stream_outcome is None
    deadline = time.monotonic() + 5
    while timed_server.engine.open_streams and time.monotonic() < deadline:
        time.sleep(0.01)
    assert timed_server.engine.open_streams == 0
    assert timed_server.journal.last.stream_outcome == "client disconnected"
