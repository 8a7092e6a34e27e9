"""The journal entry of one answered request: its status and verdict, what the rule broke on purpose, and the
stream's timing, from the Outcome the pipeline (core/pipeline.py) gave."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fake_llm.core.journal import JournalEntry
from fake_llm.core.outcomes import (
    Completed,
    Counted,
    ErrorReply,
    Mismatched,
    Outcome,
    RateLimited,
    RawBody,
    Rejected,
    Unmatched,
)
from fake_llm.core.rule_index import Reasons

if TYPE_CHECKING:
    from fake_llm.core.pipeline import Inbound


def scripted_faults(outcome: Outcome) -> list[str]:
    """What the rule broke on purpose, for the journal (and the conformance check, which skips it): a raw or
    error body, a flat envelope, the scenario's own error code or extra fields, truncated bodies, stream faults."""
    if isinstance(outcome, RawBody):
        return ["raw body"]
    if isinstance(outcome, Completed):
        return list(outcome.faults)
    if not isinstance(outcome, ErrorReply):
        return []
    error = outcome.error
    if error.body is not None:
        return ["error body"]
    faults = ["flat error envelope"] if error.envelope == "flat" else ["error extra fields"] if error.extra else []
    if isinstance(error.code, str):  # free text in some dialects, a closed set in others (Anthropic)
        faults.append("scripted error code")
    return faults


def journal_entry(
    seq: int, time: float, inbound: Inbound, api: str, outcome: Outcome, headers: dict[str, str]
) -> JournalEntry:
    """The one journal entry recorded for `outcome` (`headers`: the request's, already redacted)."""
    seen = outcome.seen
    status, verdict, reply = 200, "matched", seen.reply
    if isinstance(outcome, Rejected):
        status, verdict, reply = outcome.error.status, "rejected", outcome.error.message
    elif isinstance(outcome, Unmatched):
        status, verdict = 400, "unmatched"
    elif isinstance(outcome, Mismatched):
        status, verdict = 400, "mismatch"
    elif isinstance(outcome, RateLimited):
        status = 429
    elif isinstance(outcome, ErrorReply):
        status = outcome.error.status
    elif isinstance(outcome, RawBody):
        status = outcome.raw.status
    elif isinstance(outcome, Counted):
        verdict, reply = "counted", f"{outcome.tokens} input tokens"
    plan = outcome.plan if isinstance(outcome, Completed) else None
    return JournalEntry(
        seq=seq,
        time=time,
        method=inbound.method,
        path=inbound.path,
        headers=headers,
        body=seen.body,
        api=seen.api or api,
        model=seen.model,
        outcome=verdict,
        rule=seen.rule,
        reasons=seen.reasons if isinstance(seen.reasons, Reasons) else list(seen.reasons),
        reply=reply,
        status=status,
        stream=seen.stream,
        step=seen.step,
        delay_ms=seen.delay_ms,
        schedule=[event.at_ms for event in plan.events] if plan else [],
        faults=list(seen.chaos_faults) + scripted_faults(outcome),
        events=plan.events if plan else [],
        variations=list(outcome.variations) if isinstance(outcome, Completed) else [],
        closest=dict(seen.closest) if seen.closest is not None else None,
        chaos=list(seen.chaos),
    )
