"""Every fault of scenarios/faults.yaml through the official openai SDK: what a real fault makes the SDK do."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fake_llm.settings import bundled_scenarios
from fake_llm.testing.server import FakeLLMServer
from tests.sdk_clients import closing

openai = pytest.importorskip("openai")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(scenarios=[bundled_scenarios() / "faults.yaml"], time_scale=0, max_hang_seconds=5) as running:
        yield running


@pytest.fixture(autouse=True)
def _reset(server: FakeLLMServer) -> None:
    server.reset(rules=False)


def sdk(server: FakeLLMServer, **options: Any) -> openai.OpenAI:
    """A client closed after the test, so no connection outlives it."""
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-test", **{"timeout": 10, "max_retries": 0, **options})
    closing(client)
    return client


def create(server: FakeLLMServer, text: str, **options: Any) -> Any:
    return sdk(server, **options).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}]
    )


def stream_texts(server: FakeLLMServer, text: str) -> tuple[list[str | None], BaseException | None]:
    """The content deltas an SDK stream yields before it ends or raises, and what it raised."""
    seen: list[str | None] = []
    stream = sdk(server).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}], stream=True
    )
    try:
        for chunk in stream:
            seen.append(chunk.choices[0].delta.content if chunk.choices else None)
    except Exception as exc:
        return seen, exc
    finally:
        stream.close()
    return seen, None


def raw_stream(server: FakeLLMServer, text: str) -> bytes:
    body = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": text}]}
    return httpx.post(server.base_url + "/chat/completions", json=body, timeout=10).content


# ------------------------------------------------------------------ errors with the provider's real shape


def test_429_with_retry_after_ms_is_retried_by_the_sdk(server: FakeLLMServer) -> None:
    completion = create(server, "fault: 429 then ok", max_retries=2)
    assert completion.choices[0].message.content == "ok after a rate limit"
    attempts = server.journal.filter(rule="fault-429-retry")
    assert [(e.status, e.headers["x-stainless-retry-count"]) for e in attempts] == [(429, "0"), (200, "1")]


def test_429_without_retries_raises_rate_limit_error(server: FakeLLMServer) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        create(server, "fault: 429 then ok")
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.type == "requests"
    assert caught.value.response.headers["retry-after-ms"] == "10"


def test_rate_limit_headers_on_a_successful_reply(server: FakeLLMServer) -> None:
    raw = sdk(server).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "fault: rate limit headers"}]
    )
    assert raw.headers["x-ratelimit-remaining-requests"] == "2"
    assert raw.headers["x-ratelimit-reset-tokens"] == "400ms"
    assert raw.parse().choices[0].message.content == "You have 2 requests left."


def test_x_should_retry_false_suppresses_the_retry_of_a_500(server: FakeLLMServer) -> None:
    with pytest.raises(openai.InternalServerError):
        create(server, "fault: 500 no retry", max_retries=2)
    assert len(server.journal.filter(rule="fault-no-retry-500")) == 1


def test_529_is_an_internal_server_error_with_retry_after(server: FakeLLMServer) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        create(server, "fault: 529")
    assert caught.value.status_code == 529
    assert caught.value.response.headers["retry-after"] == "1"


def test_flat_envelope_still_gives_code_and_param(server: FakeLLMServer) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        create(server, "fault: flat error")
    assert caught.value.code == "wrong_api_format"
    assert caught.value.param == "response_format"
    assert "error" not in caught.value.response.json()


def test_json_mode_failure_carries_failed_generation(server: FakeLLMServer) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        create(server, "fault: json failed")
    assert caught.value.code == "json_validate_failed"
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["failed_generation"] == '{"name": "Bob",'


def test_raw_html_error_body(server: FakeLLMServer) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        create(server, "fault: html 502")
    assert caught.value.status_code == 502
    assert caught.value.response.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in caught.value.response.text


def test_real_limiter_answers_429_with_retry_after(server: FakeLLMServer) -> None:
    assert create(server, "fault: limiter").choices[0].message.content == "within the limit"
    create(server, "fault: limiter")
    with pytest.raises(openai.RateLimitError) as caught:
        create(server, "fault: limiter")
    headers = caught.value.response.headers
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert 1 <= int(headers["retry-after"]) <= 60
    assert "Limit 2, Used 2, Requested 1" in caught.value.message


# ------------------------------------------------------------------ timing (planned, with time_scale 0)


def test_slow_stream_schedule_is_journaled(server: FakeLLMServer) -> None:
    seen, error = stream_texts(server, "fault: slow stream")
    assert error is None
    assert "".join(t or "" for t in seen) == "Tokens arrive one by one, like a real model on a busy day."
    schedule = server.journal.last.schedule
    assert schedule[0] == 600.0
    assert schedule == sorted(schedule)
    gaps = [b - a for a, b in itertools.pairwise(schedule[1:])]
    assert all(0 <= gap <= 1000 / 12 + 15 for gap in gaps[:10])


def test_timeline_chunks_arrive_as_scripted(server: FakeLLMServer) -> None:
    seen, _ = stream_texts(server, "fault: timeline")
    assert seen[1:4] == ["Thinking", "...", " done."]
    assert server.journal.last.schedule[:4] == [300.0, 300.0, 1200.0, 1250.0]


def test_stall_is_planned_before_the_chosen_chunk(server: FakeLLMServer) -> None:
    stream_texts(server, "fault: stall")
    schedule = server.journal.last.schedule
    assert schedule[3] - schedule[2] == pytest.approx(2030.0)


def test_delay_is_journaled(server: FakeLLMServer) -> None:
    assert create(server, "fault: delay").choices[0].message.content == "Sorry for the wait."
    assert server.journal.last.delay_ms == 1500


def test_hang_times_the_client_out(server: FakeLLMServer) -> None:
    with pytest.raises(openai.APITimeoutError):
        create(server, "fault: hang", timeout=0.3)
    assert server.journal.last.reply == "hang"


# ------------------------------------------------------------------ broken streams and bodies


def test_abrupt_disconnect_is_a_connection_error(server: FakeLLMServer) -> None:
    seen, error = stream_texts(server, "fault: disconnect")
    assert isinstance(error, openai.APIConnectionError)
    assert seen == ["", "This", " answer", " will"]  # disconnect_after: 3 pieces of text (after the role chunk)
    assert server.journal.last.stream_outcome == "disconnected (scripted)"


def test_early_clean_end_is_silent(server: FakeLLMServer) -> None:
    seen, error = stream_texts(server, "fault: early end")
    assert error is None
    assert seen == ["", "This", " stream"]
    assert b"[DONE]" not in raw_stream(server, "fault: early end")


def test_stream_without_done_ends_quietly(server: FakeLLMServer) -> None:
    seen, error = stream_texts(server, "fault: no done")
    assert error is None
    assert seen[-1] is None  # the finish chunk still came
    assert not raw_stream(server, "fault: no done").rstrip().endswith(b"[DONE]")


def test_mid_stream_error_raises_api_error(server: FakeLLMServer) -> None:
    seen, error = stream_texts(server, "fault: mid-stream error")
    assert isinstance(error, openai.APIError)
    assert not isinstance(error, openai.APIStatusError)
    assert error.message == "The server had an error while processing your request."
    assert seen == ["", "This", " answer"]
    tail = raw_stream(server, "fault: mid-stream error").split(b"\n\n")[-2]
    assert tail.startswith(b'event: error\ndata: {"error":{')


def test_malformed_chunk_raises_json_decode_error(server: FakeLLMServer) -> None:
    seen, error = stream_texts(server, "fault: malformed chunk")
    assert isinstance(error, json.JSONDecodeError)
    assert seen == ["", "The"]


def test_framing_faults_are_survived_by_the_sdk(server: FakeLLMServer) -> None:
    seen, error = stream_texts(server, "fault: framing")
    assert error is None
    assert "".join(t or "" for t in seen) == "Ünïcödé ☃ split across writes, CRLF lines and keep-alive comments."
    raw = raw_stream(server, "fault: framing")
    assert b"\r\n\r\n" in raw
    assert b"\n\n" not in raw.replace(b"\r\n", b"")
    assert b": keep-alive\r\n\r\n" in raw


def test_non_json_200_body_comes_back_as_text(server: FakeLLMServer) -> None:
    assert create(server, "fault: not json") == "hello plain"


def test_truncated_json_body_fails_to_parse(server: FakeLLMServer) -> None:
    with pytest.raises(json.JSONDecodeError):
        create(server, "fault: truncated body")
    assert server.journal.last.rule == "fault-truncated-body"


def test_json_mode_content_cut_by_length_is_invalid_json(server: FakeLLMServer) -> None:
    completion = sdk(server).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "fault: json cut"}],
        response_format={"type": "json_object"},
        max_tokens=8,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(choice.message.content or "")


@pytest.mark.parametrize(
    ("stream", "outcome"),
    [
        ({"error_after": 2}, "ended by a mid-stream error event (error_after=2)"),
        ({"end_after": 2}, "ended early, cleanly (end_after=2)"),
        ({"done": False}, "completed without its [DONE]"),
        ({"finish_chunk": False, "done": False}, "completed without its finish chunk and [DONE]"),
        ({"chunk_tokens": 2}, "completed"),
    ],
)
def test_the_journal_says_how_a_scripted_stream_ended(stream: dict[str, object], outcome: str) -> None:
    rules = [{"name": "s", "reply": {"content": "one two three four", "stream": stream}}]
    with FakeLLMServer(rules=rules, time_scale=0) as server:
        body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True}
        with httpx.stream("POST", server.base_url + "/chat/completions", json=body, timeout=5) as response:
            response.read()
        deadline = time.monotonic() + 5
        while server.journal.last.stream_outcome is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.journal.last.stream_outcome == outcome
