"""The conformance vocabulary and registry: verdicts, violations, and one checker per dialect family.

A dialect family's checker is registered once (`register`); the recorder, the test-session report and
`fake-llm lint` all look checkers up here by the API name the journal records (`openai-chat`, `anthropic`...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Violation:
    """One way a body or event departs from its schema: the JSON path of the field and what is wrong."""

    schema: str
    field: str
    message: str
    #: Which body or event it was found in (`body`, `event 3 (response.output_text.delta)`, `stream order`).
    where: str = "body"

    def __str__(self) -> str:
        return f"{self.where}: {self.schema} {self.field}: {self.message}"


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One event of a stream as the client reads it: the `event:` name (if any) and the decoded `data:` JSON."""

    data: Any
    event: str | None = None


@dataclass(slots=True)
class Verdict:
    """The schemas one exchange was checked against and what failed."""

    schemas: list[str] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)

    def add(self, schema: str, violations: Sequence[Violation]) -> None:
        self.schemas.append(schema)
        self.violations.extend(violations)


class Checker(Protocol):
    """Validates one dialect family's bodies and streams against its provider's own spec."""

    #: The family name shown in reports (`openai`, `anthropic`, `gemini`).
    family: str
    #: Journal API names this checker answers for.
    apis: tuple[str, ...]

    def available(self) -> str | None:
        """None when the checker can run, else why not (e.g. the SDK whose models it uses is not installed)."""
        ...

    def response_schemas(self) -> list[str]:
        """Every schema this checker can apply, for the "never reached" report."""
        ...

    def check_body(self, api: str, path: str, status: int, body: Any) -> Verdict:
        """A non-stream body (or error body: `status` >= 400)."""
        ...

    def check_stream(self, api: str, path: str, events: Sequence[SSEEvent], *, complete: bool) -> Verdict:
        """A whole stream; `complete` is False when a scripted fault cut it short (no end-of-stream checks)."""
        ...


_CHECKERS: dict[str, Checker] = {}


def register(checker: Checker) -> Checker:
    """Make `checker` answer for its APIs (a later registration for the same API replaces the earlier one)."""
    for api in checker.apis:
        _CHECKERS[api] = checker
    return checker


def checker_for(api: str) -> Checker | None:
    return _CHECKERS.get(api)


def checkers() -> list[Checker]:
    """Each registered checker once, in registration order."""
    seen: dict[int, Checker] = {}
    for checker in _CHECKERS.values():
        seen.setdefault(id(checker), checker)
    return list(seen.values())
