"""Outcome: the closed set of ways the pipeline can answer one request, each carrying what the journal shows of it.

rejected (bad request, key or body), unmatched (no rule), mismatched (the reply contradicts the request),
rate-limited, an error reply, a raw body, a hang, completed (a reply to render as JSON or as a stream), counted
(a token-count endpoint's answer), and a dialect's own answer (Ollama loading a model). The HTTP layer renders
each in the request's dialect; nothing here knows a web framework.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fake_llm.core.dialect import ReplyMeta
from fake_llm.core.faults import FaultPlan
from fake_llm.core.limits import Decision
from fake_llm.errors import ProviderRequestError
from fake_llm.model.plan import PlannedReply
from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import ErrorSpec, RawReply


@dataclass(frozen=True, slots=True)
class Seen:
    """What the pipeline learned about the request before it decided (the journal shows it)."""

    body: Any = None
    #: The dialect the request was parsed as (Bedrock names the model family's: `bedrock-converse` ...).
    api: str | None = None
    model: str | None = None
    stream: bool = False
    rule: str | None = None
    #: The matched reply's one-line summary.
    reply: str | None = None
    step: int = 0
    #: For unmatched requests: each rule and why it did not match.
    reasons: Sequence[tuple[str, str]] = ()
    #: Scripted wait before answering, in ms (unscaled).
    delay_ms: float = 0.0
    #: For unmatched requests: the closest rule and every field it differs in, and against recorded rules why the
    #: cassette missed (core/staleness.py miss_details).
    closest: Mapping[str, Any] | None = None
    #: Seeded chaos: the draws made for this request, and the faults they injected outside a stream's plan.
    chaos: tuple[str, ...] = ()
    chaos_faults: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Answered:
    """What every outcome carries: what was seen, the reply's ids, and the response headers."""

    seen: Seen
    meta: ReplyMeta
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Rejected(Answered):
    """A request the real provider would refuse (too large, not JSON, bad key, invalid field, unknown scenario)."""

    error: ProviderRequestError


@dataclass(frozen=True, slots=True)
class Unmatched(Answered):
    """No rule applied; `message` lists the closest rules and why each did not match."""

    message: str


@dataclass(frozen=True, slots=True)
class Mismatched(Answered):
    """The matched reply contradicts the request (e.g. no tool call under a forcing tool_choice), or would pass the
    server's max_reply_bytes (`fake_llm_reply_too_large`)."""

    message: str
    code: str = "fake_llm_reply_mismatch"


@dataclass(frozen=True, slots=True)
class RateLimited(Answered):
    decision: Decision


@dataclass(frozen=True, slots=True)
class ErrorReply(Answered):
    """The rule scripted a provider error."""

    error: ErrorSpec


@dataclass(frozen=True, slots=True)
class RawBody(Answered):
    """The rule scripted the exact bytes to send."""

    raw: RawReply


@dataclass(frozen=True, slots=True)
class Hang(Answered):
    """The rule says never to answer (until the server's max_hang_seconds)."""


@dataclass(frozen=True, slots=True)
class Completed(Answered):
    """A reply: one JSON body (cut at `truncate_body` if scripted), or the planned stream when `plan` is set."""

    completion: PlannedReply
    request: ChatRequest
    truncate_body: int | None = None
    plan: FaultPlan | None = None
    #: What the rule broke on purpose (`error_after=2`, `truncate_body=N`, non-JSON tool arguments), for the journal.
    faults: tuple[str, ...] = ()
    #: How the stream, sent in full, still ends broken as scripted (the journal shows it instead of "completed").
    scripted_end: str | None = None
    #: The valid-but-unusual stream shapes `stream.vary` chose (reproducible from its seed).
    variations: tuple[str, ...] = ()
    #: Seeded chaos on a JSON body: cut it at this fraction of its length, and/or drop the connection midway.
    cut_at: float | None = None
    drop: bool = False


@dataclass(frozen=True, slots=True)
class DialectAnswer(Answered):
    """A request the dialect answers itself, no rule consulted (Ollama loading a model)."""

    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Counted(Answered):
    """A token-count endpoint's answer: the prompt's input tokens."""

    tokens: int


Outcome = (
    Rejected | Unmatched | Mismatched | RateLimited | ErrorReply | RawBody | Hang | Completed | Counted | DialectAnswer
)
