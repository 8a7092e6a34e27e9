"""Scripted stream faults: cut, broken, split or commented streams, applied to a planned list of events.

Positions count neutral content steps (pieces of text, reasoning or tool-call arguments), not wire events, so one
rule breaks the same way in every dialect; `keepalive_every` alone counts the events sent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fake_llm.model.spec import StreamError, StreamSpec
from fake_llm.model.stream import Event

KEEPALIVE = "keep-alive"


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """The events to send, and whether to drop the connection after them."""

    events: list[Event]
    abort: bool = False
    line_ending: str = "\n"

    def describe(self, spec: StreamSpec) -> list[str]:
        """Names of the faults in play, for the journal."""
        names = []
        for key in ("disconnect_after", "end_after", "error_after", "malformed_at", "split_at", "keepalive_every"):
            if getattr(spec, key) is not None:
                names.append(f"{key}={getattr(spec, key)}")
        if not spec.finish_chunk:
            names.append("finish_chunk=false")
        if not spec.done:
            names.append("done=false")
        if spec.line_ending != "lf":
            names.append(f"line_ending={spec.line_ending}")
        return names

    def scripted_end(self, spec: StreamSpec) -> str | None:
        """How a stream sent in full still ends broken, as the rule scripted it (None: it ends normally). The
        journal shows this instead of "completed", which would hide a mid-stream error."""
        if spec.error_after is not None:
            return f"ended by a mid-stream error event (error_after={spec.error_after})"
        if spec.end_after is not None:
            return f"ended early, cleanly (end_after={spec.end_after})"
        if spec.malformed_at is not None:
            return f"completed, with a malformed event (malformed_at={spec.malformed_at})"
        missing = [name for name, kept in (("finish chunk", spec.finish_chunk), ("[DONE]", spec.done)) if not kept]
        if missing:
            return f"completed without its {' and '.join(missing)}"
        return None


def content_starts(events: Sequence[Event]) -> tuple[list[int], int]:
    """Where each neutral content step (a piece of text, reasoning or tool-call arguments) starts among `events`,
    and the index just after the last one (where a fault "after every piece" goes: before the finish)."""
    starts: list[int] = []
    last, step = -1, None
    for i, event in enumerate(events):
        if event.step >= 0:
            if event.step != step:
                starts.append(i)
                step = event.step
            last = i
    if last < 0:  # no content at all: right after the head events (role chunk, message_start ...)
        head = [i for i, e in enumerate(events) if e.kind in ("finish", "usage", "done")]
        return starts, head[0] if head else len(events)
    return starts, last + 1


def after_pieces(events: Sequence[Event], pieces: int) -> int:
    """How many events go out before a fault placed after `pieces` content steps."""
    starts, end = content_starts(events)
    return starts[pieces] if pieces < len(starts) else end


def apply_faults(
    events: Sequence[Event], spec: StreamSpec, error_event: Callable[[StreamError, int], list[Event]]
) -> FaultPlan:
    """Break `events` as `spec` says. Positions count content steps, the same in every dialect: `error_after: 2`
    sends two pieces of text (with whatever events the dialect puts around them), then the error. `error_event`
    renders the dialect's mid-stream error event(s), given the position among the events sent where they
    start (Responses follows its error event with `response.failed`)."""
    out = [e for e in events if (spec.finish_chunk or e.kind != "finish") and (spec.done or e.kind != "done")]
    starts, _ = content_starts(out)
    if spec.malformed_at is not None and spec.malformed_at < len(starts):
        at = starts[spec.malformed_at]
        victim = out[at]
        data = spec.malformed_data if spec.malformed_data is not None else victim.data[: max(1, len(victim.data) // 2)]
        out[at] = dataclasses.replace(victim, data=data, kind="malformed")
    if spec.error_after is not None:
        cut = after_pieces(out, spec.error_after)
        at_ms = out[cut].at_ms if cut < len(out) else (out[-1].at_ms if out else 0.0)
        out = [*out[:cut], *(dataclasses.replace(e, at_ms=at_ms) for e in error_event(spec.error, cut))]
    for limit in (spec.end_after, spec.disconnect_after):
        if limit is not None:
            out = out[: after_pieces(out, limit)]
    if spec.split_at is not None:
        split = set(range(len(out))) if spec.split_at == -1 else set(starts[spec.split_at : spec.split_at + 1])
        out = [
            dataclasses.replace(e, parts=spec.split_parts, split_utf8=spec.split_utf8) if i in split else e
            for i, e in enumerate(out)
        ]
    if spec.keepalive_every:
        spaced: list[Event] = []
        for i, event in enumerate(out, start=1):
            spaced.append(event)
            if i % spec.keepalive_every == 0:
                spaced.append(Event(KEEPALIVE, kind="comment", at_ms=event.at_ms))
        out = spaced
    return FaultPlan(
        out, abort=spec.disconnect_after is not None, line_ending="\r\n" if spec.line_ending == "crlf" else "\n"
    )
