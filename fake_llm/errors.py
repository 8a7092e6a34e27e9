"""Exceptions fake-llm raises; each one's text stands alone."""

from __future__ import annotations

from dataclasses import dataclass


class FakeLLMError(Exception):
    """Base class of every fake-llm error."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a scenario file: where it is and what is wrong."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ScenarioError(FakeLLMError, ValueError):
    """A scenario file is invalid; raised at load time, never while serving."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ProviderRequestError(FakeLLMError):
    """A request the real provider would reject; rendered as a 4xx in its error shape."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.status = status


class JournalAssertionError(FakeLLMError, AssertionError):
    """A journal assertion (`assert_called`, strict teardown) failed."""


class ReplyMismatch(FakeLLMError):
    """A matched reply contradicts the request (e.g. no tool call where tool_choice forces one): a scenario mistake."""


class ReplyTooLarge(ReplyMismatch):
    """A reply would grow past the server's `max_reply_bytes` (e.g. a template echoing a big message many times)."""


class StateUnavailable(FakeLLMError):
    """The shared state store (Redis) cannot be reached: requests that need it get a 503 naming it."""
