"""A real sliding-window rate limiter (requests and tokens per minute) with OpenAI's rate-limit headers."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from fake_llm.core.state import WINDOW_S, MemoryWindows, Windows
from fake_llm.model.spec import RateLimit


def go_duration(seconds: float) -> str:
    """A duration the way OpenAI's `x-ratelimit-reset-*` headers write it: `12ms`, `6s`, `1m30s`."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:.3g}s" if rest != int(rest) else f"{int(rest)}s"
    return f"{int(minutes)}m{text}" if minutes else text


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a request may go ahead; otherwise why not and when to retry."""

    allowed: bool
    headers: dict[str, str] = field(default_factory=dict)
    kind: str = ""
    message: str = ""
    retry_after_s: float | None = None


class RateLimiter:
    """Counts requests and tokens per key over the last minute of `clock` time (a frozen clock freezes the window).
    The windows live in `windows`: this process's, or a store that replicas share."""

    def __init__(self, clock: Callable[[], float], windows: Windows | None = None) -> None:
        self._clock = clock
        self._windows: Windows = windows if windows is not None else MemoryWindows()

    def reset(self) -> None:
        self._windows.reset()

    def check(self, key: str, limit: RateLimit, tokens: int) -> Decision:
        """Admit (and count) one request of `tokens` tokens under `limit`, or refuse it with a retry time."""
        now = self._clock()
        rpm, tpm = limit.requests_per_minute, limit.tokens_per_minute
        before, allowed = self._windows.admit(key, rpm, tpm, tokens, now)
        window = deque(before)
        if allowed:
            window.append((now, tokens))
            return Decision(True, self._headers(limit, window, now))
        used_requests = len(window)
        used_tokens = sum(t for _, t in window)
        if rpm is not None and used_requests + 1 > rpm:
            retry = window[0][0] + WINDOW_S - now
            return self._refuse(
                limit,
                window,
                now,
                "requests",
                retry,
                f"Rate limit reached for requests per min (RPM): Limit {rpm}, Used {used_requests}, "
                f"Requested 1. Please try again in {go_duration(retry)}.",
            )
        assert tpm is not None  # refused, and not for requests
        if tokens > tpm:
            return self._refuse(
                limit,
                window,
                now,
                "tokens",
                None,
                f"Request too large for tokens per min (TPM): Limit {tpm}, Requested {tokens}.",
            )
        retry = self._tokens_free_at(window, tpm - tokens) - now
        return self._refuse(
            limit,
            window,
            now,
            "tokens",
            retry,
            f"Rate limit reached for tokens per min (TPM): Limit {tpm}, Used {used_tokens}, "
            f"Requested {tokens}. Please try again in {go_duration(retry)}.",
        )

    @staticmethod
    def _tokens_free_at(window: deque[tuple[float, int]], allowed: int) -> float:
        """When enough old requests leave the window for the used tokens to drop to `allowed`."""
        used = sum(t for _, t in window)
        for at, spent in window:
            used -= spent
            if used <= allowed:
                return at + WINDOW_S
        return window[-1][0] + WINDOW_S  # pragma: no cover - the loop always empties the window first

    def _refuse(
        self,
        limit: RateLimit,
        window: deque[tuple[float, int]],
        now: float,
        kind: str,
        retry: float | None,
        message: str,
    ) -> Decision:
        headers = self._headers(limit, window, now)
        if retry is not None:
            headers["retry-after"] = str(max(1, math.ceil(retry)))
            headers["retry-after-ms"] = str(max(1, math.ceil(retry * 1000)))
        return Decision(False, headers, kind, message, retry)

    @staticmethod
    def _headers(limit: RateLimit, window: deque[tuple[float, int]], now: float) -> dict[str, str]:
        reset = (window[0][0] + WINDOW_S - now) if window else 0.0
        headers: dict[str, str] = {}
        if limit.requests_per_minute is not None:
            headers["x-ratelimit-limit-requests"] = str(limit.requests_per_minute)
            headers["x-ratelimit-remaining-requests"] = str(max(0, limit.requests_per_minute - len(window)))
            headers["x-ratelimit-reset-requests"] = go_duration(reset)
        if limit.tokens_per_minute is not None:
            used = sum(t for _, t in window)
            headers["x-ratelimit-limit-tokens"] = str(limit.tokens_per_minute)
            headers["x-ratelimit-remaining-tokens"] = str(max(0, limit.tokens_per_minute - used))
            headers["x-ratelimit-reset-tokens"] = go_duration(reset)
        return headers
