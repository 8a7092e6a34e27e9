"""The sliding-window rate limiter, with an injected clock, and through the server with a frozen one."""

from __future__ import annotations

import httpx
import pytest

from fake_llm.core.limits import RateLimiter, go_duration
from fake_llm.model.spec import RateLimit
from fake_llm.testing.server import FakeLLMServer


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0ms"), (0.012, "12ms"), (1, "1s"), (6.5, "6.5s"), (60, "1m0s"), (90, "1m30s")]
)
def test_go_durations(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_requests_per_minute_window_slides() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    limit = RateLimit(requests_per_minute=2)
    assert limiter.check("k", limit, 1).headers["x-ratelimit-remaining-requests"] == "1"
    clock.now += 10
    assert limiter.check("k", limit, 1).allowed
    refused = limiter.check("k", limit, 1)
    assert not refused.allowed
    assert refused.kind == "requests"
    assert refused.retry_after_s == pytest.approx(50)
    assert refused.headers["retry-after"] == "50"
    assert refused.headers["retry-after-ms"] == "50000"
    assert refused.message == (
        "Rate limit reached for requests per min (RPM): Limit 2, Used 2, Requested 1. Please try again in 50s."
    )
    clock.now += 50  # the first request leaves the window
    assert limiter.check("k", limit, 1).allowed


def test_tokens_per_minute_waits_for_enough_tokens_to_expire() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    limit = RateLimit(tokens_per_minute=100)
    assert limiter.check("k", limit, 40).allowed
    clock.now += 20
    assert limiter.check("k", limit, 40).allowed
    refused = limiter.check("k", limit, 40)
    assert (refused.allowed, refused.kind, refused.retry_after_s) == (False, "tokens", pytest.approx(40))
    assert refused.headers["x-ratelimit-remaining-tokens"] == "20"


def test_a_request_larger_than_the_limit_is_refused_without_retry() -> None:
    refused = RateLimiter(Clock()).check("k", RateLimit(tokens_per_minute=10), 11)
    assert not refused.allowed
    assert refused.retry_after_s is None
    assert "retry-after" not in refused.headers
    assert refused.message == "Request too large for tokens per min (TPM): Limit 10, Requested 11."


def test_keys_are_independent_and_reset_forgets() -> None:
    limiter = RateLimiter(Clock())
    limit = RateLimit(requests_per_minute=1)
    assert limiter.check("a", limit, 1).allowed
    assert limiter.check("b", limit, 1).allowed
    assert not limiter.check("a", limit, 1).allowed
    limiter.reset()
    assert limiter.check("a", limit, 1).allowed


def test_server_wide_limit_is_deterministic_under_a_frozen_clock() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    with FakeLLMServer(rules=[{"reply": {"content": "ok"}}], requests_per_minute=2, freeze_time=1767225600) as server:
        replies = [httpx.post(server.base_url + "/chat/completions", json=body, timeout=5) for _ in range(3)]
        assert [r.status_code for r in replies] == [200, 200, 429]
        assert replies[0].headers["x-ratelimit-remaining-requests"] == "1"
        assert replies[2].headers["retry-after"] == "60"
        assert replies[2].json()["error"]["code"] == "rate_limit_exceeded"
        assert server.journal.last.reply == "rate limited (requests per minute)"
        server.reset()
        assert httpx.post(server.base_url + "/chat/completions", json=body, timeout=5).status_code == 200
