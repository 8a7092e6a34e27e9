"""The state-store abstraction: where rule counters, rate-limit windows, the journal and run-time rule changes live.

The in-process store (the default) keeps them in this process's memory; the Redis store (core/redis_store.py), for
`--state redis://...`, is shared by several workers or replicas (http/shared_state.py's `open_store` picks one).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from fake_llm.core.journal import Journal, JournalEntry

#: Conversations whose `replies:` position is remembered; the least recently seen are forgotten first, so a
#: long-running server does not grow without bound (a forgotten conversation starts its sequence again).
MAX_CONVERSATIONS = 10_000
#: The rate-limit window, in seconds.
WINDOW_S = 60.0
#: One request in a rate-limit window: when it was admitted and the tokens it counted.
Slot = tuple[float, int]
#: When (time.monotonic) the request answered in this context started waiting for shared state; set by the HTTP
#: layer. A shared store fails a call at once when it lost its backend after that moment, so requests that queued
#: behind a stall all get their 503 within one timeout, not one after the other.
REQUEST_STARTED: ContextVar[float | None] = ContextVar("fake_llm_request_started", default=None)


class Counters(Protocol):
    """Rule use counts (`times`) and per-conversation `replies:` positions."""

    def known_uses(self, rule: str) -> int | None:
        """How often `rule` answered, when known without asking a remote store (None: `claim` will tell)."""

    def claim(self, rule: str, times: int | None, conversation: str | None) -> int | None:
        """Use `rule` once, atomically: None if its `times` are used up, else the 0-based position of
        `conversation` in the rule's `replies:` before this request (0 when `conversation` is None)."""

    def hits(self) -> dict[str, int]:
        """Uses per rule name."""

    def reset(self) -> None:
        """Forget every use count and sequence position."""


class Windows(Protocol):
    """Sliding one-minute windows of admitted requests, per limit key."""

    def admit(self, key: str, rpm: int | None, tpm: int | None, tokens: int, now: float) -> tuple[list[Slot], bool]:
        """Drop slots older than the window, then admit the request when `rpm`/`tpm` allow it (adding its slot),
        atomically. Returns the window as it was before this request, and whether it was admitted."""

    def reset(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RuleChanges:
    """Run-time rule changes shared by every replica of a namespace: rule sets added (`ops`, in order; an op
    with `replace` drops everything before it) and the scenarios switched off. `version` changes on each change."""

    version: str | None = None
    ops: tuple[dict[str, Any], ...] = ()
    disabled: tuple[str, ...] | None = None


class FastPath(Protocol):
    """A shared store's per-request calls as coroutines, for requests that need nothing else from the store (no
    `times`, no `replies:` sequence, no rate limit): they then never leave the event loop."""

    async def begin(self) -> tuple[int, str | None]:
        """As StateStore.begin."""

    async def record(self, entry: JournalEntry) -> None:
        """As Journal.record; returns once the entry is stored."""

    def close(self) -> None:
        """Close the connection (the event loop that made it is ending)."""


class StateStore(Protocol):
    """Everything one namespace of fake-llm keeps between requests."""

    #: True when other processes see the same state (the engine then syncs rule changes through it).
    shared: bool
    #: For /_fake/health and error messages: `in-process` or the Redis URL without its password.
    description: str
    #: The name journal entries carry for this process (host and pid) when the store is shared.
    replica: str | None
    counters: Counters
    windows: Windows

    def make_journal(self, size: int, max_bytes: int = 64 * 1024 * 1024) -> Journal: ...

    def begin(self, journal: Journal) -> tuple[int, str | None]:
        """A new request's sequence number and the namespace's current rule-changes version (one round trip)."""

    def fast_path(self) -> FastPath | None:
        """The awaitable per-request calls of a shared store (None: call the blocking ones)."""

    def rule_changes(self) -> RuleChanges: ...

    def publish(self, op: dict[str, Any] | None = None, disabled: Sequence[str] | None = None) -> str | None:
        """Share a rule change (an added rule set, or the scenarios now switched off); returns the new version."""

    def wipe(self, *, rules: bool) -> str | None:
        """Forget this namespace's counters, windows and journal (and, with `rules`, its rule changes)."""

    def namespace(self, name: str) -> StateStore:
        """The store of namespace `name` (same backend)."""

    def health(self) -> dict[str, Any]:
        """`{"backend": ..., "ok": bool, ...}` for /_fake/health."""


class MemoryCounters:
    """Counters in this process (the Selector's lock makes `known_uses` + `claim` one step)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uses: dict[str, int] = {}
        self._steps: OrderedDict[tuple[str, str], int] = OrderedDict()

    def known_uses(self, rule: str) -> int | None:
        return self._uses.get(rule, 0)

    def claim(self, rule: str, times: int | None, conversation: str | None) -> int | None:
        with self._lock:
            used = self._uses.get(rule, 0)
            if times is not None and used >= times:
                return None
            self._uses[rule] = used + 1
            if conversation is None:
                return 0
            key = (rule, conversation)
            step = self._steps.pop(key, 0)
            self._steps[key] = step + 1
            if len(self._steps) > MAX_CONVERSATIONS:
                self._steps.popitem(last=False)
            return step

    def hits(self) -> dict[str, int]:
        with self._lock:
            return dict(self._uses)

    def reset(self) -> None:
        with self._lock:
            self._uses, self._steps = {}, OrderedDict()


class MemoryWindows:
    """Rate-limit windows in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, deque[Slot]] = {}

    def admit(self, key: str, rpm: int | None, tpm: int | None, tokens: int, now: float) -> tuple[list[Slot], bool]:
        with self._lock:
            window = self._windows.setdefault(key, deque())
            while window and window[0][0] <= now - WINDOW_S:
                window.popleft()
            before = list(window)
            allowed = is_admitted(before, rpm, tpm, tokens)
            if allowed:
                window.append((now, tokens))
            return before, allowed

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()


def is_admitted(window: Sequence[Slot], rpm: int | None, tpm: int | None, tokens: int) -> bool:
    """The admission rule both stores apply (the Redis store's Lua script mirrors it)."""
    if rpm is not None and len(window) + 1 > rpm:
        return False
    return not (tpm is not None and sum(t for _, t in window) + tokens > tpm)


@dataclass
class MemoryStore:
    """The default store: this process only. Namespaces are independent MemoryStores."""

    shared: bool = False
    description: str = "in-process"
    replica: str | None = None
    counters: Counters = field(default_factory=MemoryCounters)
    windows: Windows = field(default_factory=MemoryWindows)

    def make_journal(self, size: int, max_bytes: int = 64 * 1024 * 1024) -> Journal:
        return Journal(size, max_bytes)

    def begin(self, journal: Journal) -> tuple[int, str | None]:
        return journal.next_seq(), None

    def fast_path(self) -> FastPath | None:
        return None  # nothing here blocks

    def rule_changes(self) -> RuleChanges:
        return RuleChanges()

    def publish(self, op: dict[str, Any] | None = None, disabled: Sequence[str] | None = None) -> str | None:
        return None  # nobody else to tell

    def wipe(self, *, rules: bool) -> str | None:
        self.counters.reset()
        self.windows.reset()
        return None

    def namespace(self, name: str) -> StateStore:
        return MemoryStore()

    def health(self) -> dict[str, Any]:
        return {"backend": self.description, "ok": True}
