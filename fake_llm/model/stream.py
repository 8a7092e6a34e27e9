"""Event: one planned stream event (an SSE frame's payload and name, its kind, and when and how it goes out).

Dialects plan lists of them, the core schedules and faults them, and the HTTP layer's SSE writer sends them; it
lives here so that none of those imports another layer to share it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)  # not frozen: a stream builds many, and frozen __init__ is several times slower
class Event:
    """One SSE event: its `data:` payload and optional `event:` name, plus how and when it goes out."""

    data: str
    event: str | None = None
    #: `role`, `content`, `finish`, `usage`, `done`, `error`, `comment` (a `: ...` line) or a dialect's own kind.
    kind: str = "content"
    #: PlannedReply tokens the event carries (paces `tokens_per_second`).
    tokens: int = 0
    #: Content step (chunks of several choices sent at the same step share one time slot); -1 when not content.
    step: int = -1
    #: Milliseconds after the start of the stream at which the event is due.
    at_ms: float = 0.0
    #: Network writes the event is cut into (a framing fault); `split_utf8` cuts inside a multi-byte character.
    parts: int = 1
    split_utf8: bool = False
    #: Sent as `data` alone, without SSE framing (Gemini's JSON-array stream).
    raw: bool = False

    def frame(self, newline: str = "\n", *, ndjson: bool = False) -> bytes:
        """The event on the wire; every event, the last one included, ends with a blank line (wire-format §1.3).
        As NDJSON, the payload alone on one line; comments (SSE keep-alives) have no NDJSON form and are dropped."""
        if self.raw:
            return self.data.encode()
        if ndjson:
            return b"" if self.kind == "comment" else f"{self.data}{newline}".encode()
        if self.kind == "comment":
            return f": {self.data}{newline}{newline}".encode()
        head = f"event: {self.event}{newline}" if self.event else ""
        # Data holding a newline goes out as several `data:` lines, which a client joins back with "\n".
        lines = "".join(f"data: {line}{newline}" for line in self.data.split("\n"))
        return f"{head}{lines}{newline}".encode()
