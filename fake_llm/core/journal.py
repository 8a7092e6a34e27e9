"""The journal: a bounded, thread-safe record of every request, with query and assertion helpers."""

from __future__ import annotations

import dataclasses
import json
import reprlib
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any

from fake_llm.errors import JournalAssertionError

#: Request bodies bigger than this (as JSON) are kept as a truncated text with a visible marker.
MAX_BODY_CHARS = 256 * 1024
#: What an entry costs besides its body and stream events (headers, reasons, bookkeeping), for the byte budget.
ENTRY_OVERHEAD = 2048
TRUNCATED = "…[truncated by fake-llm: {size} characters, the journal keeps {kept}]"

#: Header values never written to the journal.
REDACTED_HEADERS = frozenset(
    {
        "authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "x-fake-llm-admin-token",
        # Account identifiers: not keys, but they name the paying organisation and project (record files get shared).
        "openai-organization",
        "openai-project",
    }
)


def redact_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers as a dict with secrets replaced by a short, recognisable stub."""
    out: dict[str, str] = {}
    for name, value in headers:
        name = name.lower()
        if name in REDACTED_HEADERS:
            scheme, space, secret = value.partition(" ") if name == "authorization" else ("", "", value)
            if not space:  # no scheme: the whole value is the secret
                scheme, secret = "", value
            tail = secret[-4:] if len(secret) > 12 else ""
            value = (scheme + " " if scheme else "") + "[redacted]" + (f"...{tail}" if tail else "")
        out[name] = value
    return out


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One request as fake-llm saw it and what it answered (immutable: how a stream ended is set through
    Journal.stream_ended, under the journal's lock)."""

    seq: int
    time: float
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    api: str | None = None
    model: str | None = None
    #: `matched`, `unmatched` (no rule applied), `rejected` (bad request or key), `mismatch` (the matched reply
    #: contradicts the request), `error` (a fake-llm bug), `recorded` (record mode wrote a rule), `counted` (a
    #: token count, answered without a rule), or for hot reload `reloaded` / `reload_error`.
    outcome: str = "matched"
    rule: str | None = None
    #: Each rule tried before the answer and why it did not match (a lazy Reasons when the rule index skipped some).
    reasons: Sequence[tuple[str, str]] = field(default_factory=list)
    reply: str | None = None
    status: int = 200
    stream: bool = False
    #: An internal failure (a bug in fake-llm): raised again by the pytest plugin at teardown.
    error: str | None = None
    step: int = 0
    #: Scripted wait before answering, in ms (unscaled).
    delay_ms: float = 0.0
    #: For streams: when each event was planned to go out (ms from the start, unscaled), the faults in play,
    #: the events themselves, and how the stream ended (`completed`, `client disconnected`...). `faults` also
    #: names a scripted body that is not the dialect's shape (`raw body`, `error body`, `truncate_body=N`).
    schedule: list[float] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    events: list[Any] = field(default_factory=list, repr=False)
    stream_outcome: str | None = None
    #: The valid-but-unusual stream shapes `stream.vary` chose (reproducible from its seed).
    variations: list[str] = field(default_factory=list)
    #: The process that answered (host:pid) when several share the journal (`--state redis://...`).
    replica: str | None = None
    #: For unmatched requests: the closest rule and every field it differs in (`rule`, `source`, `differences`).
    closest: dict[str, Any] | None = None
    #: Seeded chaos: the seed and every draw made for this request (see `faults` for what was injected).
    chaos: list[str] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return self.outcome == "matched"

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready data. Shallow (values are shared, not copied): dataclasses.asdict's deep copy
        cost more than the rest of a request's journaling, which a shared journal does on every request."""
        data = {name: getattr(self, name) for name in _ENTRY_FIELDS}
        data["reasons"] = [{"rule": r, "reason": why} for r, why in self.reasons]
        data["events"] = [event if isinstance(event, dict) else asdict(event) for event in self.events]
        return data

    def to_json(self) -> str:
        """The entry as JSON text that never fails: lone surrogates are escaped, anything else odd is shown as
        text (reading the journal must work whatever a request held)."""
        try:
            return json.dumps(self.to_dict(), ensure_ascii=True, default=str)
        except (ValueError, RecursionError):
            shown = replace(self, body=_clip_text(_shown(self.body)), events=[])
            return json.dumps(shown.to_dict(), ensure_ascii=True, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JournalEntry:
        """The entry `to_dict` gave (stream events stay plain dicts); unknown keys are ignored."""
        known = {name: value for name, value in data.items() if name in _ENTRY_FIELDS}
        known["reasons"] = [(r["rule"], r["reason"]) for r in data.get("reasons", [])]
        return cls(**known)

    def describe(self) -> str:
        """One line: what was asked and what it got."""
        outcome = f"rule {self.rule!r}" if self.rule else self.outcome
        return f"#{self.seq} {self.method} {self.path} model={self.model!r} -> {self.status} ({outcome})"


_ENTRY_FIELDS = tuple(JournalEntry.__dataclass_fields__)


def _shown(value: Any) -> str:
    """A text for a value JSON cannot hold; reprlib caps the depth that a plain repr would recurse into."""
    try:
        return repr(value)
    except RecursionError:
        return reprlib.repr(value)


def _clip_text(text: str) -> str:
    if len(text) <= MAX_BODY_CHARS:
        return text
    return text[:MAX_BODY_CHARS] + TRUNCATED.format(size=len(text), kept=MAX_BODY_CHARS)


def bounded_body(body: Any) -> tuple[Any, int]:
    """The body as the journal keeps it, and its size in characters: big or odd bodies become a clipped text."""
    if body is None:
        return None, 0
    if isinstance(body, str):
        return _clip_text(body), min(len(body), MAX_BODY_CHARS)
    try:
        text = json.dumps(body, ensure_ascii=True, separators=(",", ":"), default=str)
    except (ValueError, RecursionError):
        text = _shown(body)
        return _clip_text(text), min(len(text), MAX_BODY_CHARS)
    if len(text) > MAX_BODY_CHARS:
        return _clip_text(text), MAX_BODY_CHARS
    return body, len(text)


def entry_cost(entry: JournalEntry) -> int:
    """Roughly the bytes an entry holds: its body, its stream events' payloads and a fixed overhead."""
    _, body = bounded_body(entry.body)
    events = sum(len(getattr(event, "data", "") or "") + 64 for event in entry.events)
    return ENTRY_OVERHEAD + body + events + len(entry.reply or "") + len(entry.error or "")


class Journal:
    """A ring buffer of JournalEntry, safe to use from the server thread and the test thread at once. It keeps at
    most `size` entries and about `max_bytes` bytes of them: the oldest go first."""

    def __init__(self, size: int = 1000, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._lock = threading.Lock()
        self._entries: deque[JournalEntry] = deque()
        self._costs: deque[int] = deque()
        self._size = size
        self._max_bytes = max_bytes
        self._bytes = 0
        self._seq = 0

    def next_seq(self) -> int:
        """Reserve the next sequence number (ids in replies derive from it)."""
        with self._lock:
            self._seq += 1
            return self._seq

    def record(self, entry: JournalEntry) -> None:
        body, _ = bounded_body(entry.body)
        if body is not entry.body:
            entry = replace(entry, body=body)
        cost = entry_cost(entry)
        with self._lock:
            self._entries.append(entry)
            self._costs.append(cost)
            self._bytes += cost
            while len(self._entries) > 1 and (len(self._entries) > self._size or self._bytes > self._max_bytes):
                self._entries.popleft()
                self._bytes -= self._costs.popleft()

    @property
    def bytes(self) -> int:
        """About how many bytes the kept entries hold (what `max_bytes` bounds)."""
        with self._lock:
            return self._bytes

    def stream_ended(self, seq: int, outcome: str, *, keep_first: bool = False) -> None:
        """Note how the stream of entry `seq` ended (`completed`, `client disconnected`...), if it is still kept;
        with `keep_first`, only when no ending was noted yet (several parties may see the end of one stream)."""
        self.update(seq, lambda entry: {} if keep_first and entry.stream_outcome else {"stream_outcome": outcome})

    def session_event(self, seq: int, event: Any) -> None:
        """Add `event` to the events of entry `seq` (a realtime session's frames, noted as they go), under the lock:
        the entry is replaced by a copy with the longer list, never changed in place."""
        self.update(seq, lambda entry: {"events": [*entry.events, event]})

    def update(self, seq: int, changes: Callable[[JournalEntry], Mapping[str, Any]]) -> None:
        """Replace entry `seq` (if still kept) by a copy with `changes(entry)` applied, under the lock: for what is
        learnt after an entry is recorded (how a stream or a realtime session ended)."""
        with self._lock:
            for i in range(len(self._entries) - 1, -1, -1):
                if self._entries[i].seq == seq:
                    self._entries[i] = dataclasses.replace(self._entries[i], **changes(self._entries[i]))
                    return

    def get(self, seq: int) -> JournalEntry | None:
        """Entry `seq` as it is now (with how its stream ended), or None once it is no longer kept."""
        return next((entry for entry in reversed(self.entries) if entry.seq == seq), None)

    def clear(self, *, restart_numbering: bool = True) -> None:
        with self._lock:
            self._entries.clear()
            self._costs.clear()
            self._bytes = 0
            if restart_numbering:
                self._seq = 0

    @property
    def entries(self) -> list[JournalEntry]:
        """A snapshot, oldest first."""
        with self._lock:
            return list(self._entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def last(self) -> JournalEntry:
        entries = self.entries
        if not entries:
            raise JournalAssertionError("the journal is empty: no request reached fake-llm")
        return entries[-1]

    def filter(
        self,
        *,
        rule: str | None = None,
        path: str | None = None,
        model: str | None = None,
        status: int | None = None,
        matched: bool | None = None,
        header: Mapping[str, str] | None = None,
    ) -> list[JournalEntry]:
        """Entries that satisfy every given condition; `path` and `model` are globs."""
        out = []
        for entry in self.entries:
            if rule is not None and entry.rule != rule:
                continue
            if path is not None and not fnmatchcase(entry.path, path):
                continue
            if model is not None and not fnmatchcase(entry.model or "", model):
                continue
            if status is not None and entry.status != status:
                continue
            if matched is not None and entry.matched != matched:
                continue
            if header is not None and any(entry.headers.get(k.lower()) != v for k, v in header.items()):
                continue
            out.append(entry)
        return out

    @property
    def unmatched(self) -> list[JournalEntry]:
        """Requests no rule answered."""
        return [e for e in self.entries if e.outcome == "unmatched"]

    @property
    def mismatches(self) -> list[JournalEntry]:
        """Requests whose matched reply contradicted them (e.g. no tool call under a forcing tool_choice)."""
        return [e for e in self.entries if e.outcome == "mismatch"]

    @property
    def errors(self) -> list[JournalEntry]:
        """Entries where fake-llm itself failed."""
        return [e for e in self.entries if e.outcome == "error"]

    def sequence(self) -> list[str]:
        """The rules that answered, in order (`<unmatched>`, `<rejected>`... for requests no rule answered)."""
        return [e.rule if e.rule else f"<{e.outcome}>" for e in self.entries if e.method != "RELOAD"]

    def assert_order(self, *rules: str) -> None:
        """Assert that the requests the named rules answered came in exactly this order (requests answered by
        other rules may come in between). The failure shows the sequence that actually happened."""
        if not rules:
            raise ValueError("assert_order needs the names of the rules, in the order they must answer")
        wanted = set(rules)
        seen = [e.rule for e in self.entries if e.rule in wanted]
        if seen == list(rules):
            return
        mismatch = next(
            (i for i, (a, b) in enumerate(zip(seen, rules, strict=False)) if a != b), min(len(seen), len(rules))
        )
        if mismatch < len(rules) and mismatch < len(seen):
            first = f"answer #{mismatch + 1} was {seen[mismatch]!r}, expected {rules[mismatch]!r}"
        elif mismatch < len(rules):
            first = f"{rules[mismatch]!r} (#{mismatch + 1}) never answered after {list(seen)!r}"
        else:
            first = f"{seen[mismatch]!r} answered again after the expected sequence"
        lines = [
            f"expected the rules to answer in the order {' -> '.join(rules)}, but {first}.",
            f"Their answers, in order: {' -> '.join(seen) or '(none)'}",
            "Everything that happened:",
        ]
        lines += ["  " + e.describe() for e in self.entries[-30:]] or ["  (no requests)"]
        raise JournalAssertionError("\n".join(lines))

    def assert_called(self, rule: str, times: int | None = None) -> list[JournalEntry]:
        """Assert that `rule` answered at least once (or exactly `times` times); returns those entries.

        The failure lists the requests that were made, with why each did not match `rule`."""
        calls = self.filter(rule=rule)
        if (times is None and calls) or (times is not None and len(calls) == times):
            return calls
        expected = "at least once" if times is None else f"{times} time{'s' * (times != 1)}"
        lines = [
            f"rule {rule!r} was expected to answer {expected}, but answered {len(calls)} time{'s' * (len(calls) != 1)}."
        ]
        others = [e for e in self.entries if e.rule != rule]
        if others:
            lines.append("Other requests:")
            for entry in others[-10:]:
                why = dict(entry.reasons).get(rule)
                lines.append("  " + entry.describe() + (f"; {rule!r} did not match: {why}" if why else ""))
        else:
            lines.append("No other requests were made.")
        raise JournalAssertionError("\n".join(lines))
