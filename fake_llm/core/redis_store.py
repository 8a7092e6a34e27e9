"""The Redis state store (`--state redis://...`): counters, rate-limit windows, the journal and run-time rule changes
that every worker and replica of a namespace shares. Needs the `redis` extra (redis-py).

Decisions that must be atomic across replicas (a rule's `times`, a conversation's step, a rate-limit admission) are
Lua scripts; a request's number and its journal entry go out batched with other requests' (redis_link.Batch).
Every key of a namespace shares one hash tag, so a reset can find them all and a Redis Cluster keeps them on one
node.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import socket
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from redis.commands.core import Script

from fake_llm.core.journal import Journal, JournalEntry, bounded_body
from fake_llm.core.redis_async import AsyncBatch, is_supported
from fake_llm.core.redis_link import Batch, RedisLink, public_url
from fake_llm.core.state import WINDOW_S, Counters, RuleChanges, Slot, StateStore, Windows
from fake_llm.errors import StateUnavailable

#: A conversation's position in a `replies:` sequence is forgotten after this long without a request.
STEP_TTL_S = 24 * 3600
# KEYS[1] use counts (hash), KEYS[2] the conversation's step (optional); ARGV: rule, times (-1: none), ttl.
_CLAIM = """
local used = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local times = tonumber(ARGV[2])
if times >= 0 and used >= times then return -1 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
if #KEYS < 2 then return 0 end
local step = redis.call('INCR', KEYS[2]) - 1
redis.call('EXPIRE', KEYS[2], ARGV[3])
return step
"""

# KEYS[1] the window (sorted set of "id:tokens" scored by time); ARGV: now, window, rpm, tpm (-1: none), tokens, id.
# The admission rule is state.is_admitted's.
_ADMIT = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
local slots = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local count, used = #slots / 2, 0
for i = 1, #slots, 2 do used = used + tonumber(string.match(slots[i], ':(%d+)$')) end
local rpm, tpm, tokens = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local allowed = 1
if rpm >= 0 and count + 1 > rpm then allowed = 0 end
if allowed == 1 and tpm >= 0 and used + tokens > tpm then allowed = 0 end
if allowed == 1 then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[6] .. ':' .. ARGV[5])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 1)
end
return {allowed, slots}
"""


# The per-request call, batched (redis_link.Batch, redis_async.AsyncBatch): the journal items of finished requests
# (then the oldest items dropped while the stream holds more than the max length or max bytes, as the in-process
# journal does; KEYS[5] keeps the byte count of its values), hit counts of rules that needed no claim, then sequence
# numbers for new requests and the rule-changes version. KEYS: sequence, version, journal stream, use counts,
# journal bytes. ARGV: new numbers wanted, stream max length, max bytes, number of stream items, then field/value
# pairs of the items, then rule/count pairs.
_TICK = """
local n, maxlen, maxbytes, m, i = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), 5
for _ = 1, m do
  redis.call('XADD', KEYS[3], '*', ARGV[i], ARGV[i + 1])
  redis.call('INCRBY', KEYS[5], string.len(ARGV[i + 1]))
  i = i + 2
end
if m > 0 then
  local bytes = tonumber(redis.call('GET', KEYS[5]))
  local count = redis.call('XLEN', KEYS[3])
  while count > 1 and (count > maxlen or bytes > maxbytes) do
    local oldest = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)[1]
    local size = 0
    for j = 2, #oldest[2], 2 do size = size + string.len(oldest[2][j]) end
    redis.call('XDEL', KEYS[3], oldest[1])
    bytes = redis.call('DECRBY', KEYS[5], size)
    count = count - 1
  end
end
while i < #ARGV do
  redis.call('HINCRBY', KEYS[4], ARGV[i], ARGV[i + 1])
  i = i + 2
end
local last = 0
if n > 0 then last = redis.call('INCRBY', KEYS[1], n) end
return {last, redis.call('GET', KEYS[2])}
"""


class RedisCounters:
    """`times` and `replies:` steps in Redis. Rules with neither need no decision: their hit count is sent with
    the request's journal entry instead of a round trip of its own."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store

    def known_uses(self, rule: str) -> int | None:
        return None

    def claim(self, rule: str, times: int | None, conversation: str | None) -> int | None:
        store = self._store
        if times is None and conversation is None:
            store.pending_hits(rule)
            return 0
        keys = [store.key("uses")]
        if conversation is not None:
            keys.append(store.key(f"step:{rule}\x1f{conversation}"))
        step = int(store.link.run(store.scripts.claim, keys, [rule, -1 if times is None else times, STEP_TTL_S]))
        return None if step < 0 else step

    def hits(self) -> dict[str, int]:
        store = self._store
        store.flush_hits()
        raw: dict[str, str] = store.link.call(lambda: store.link.client.hgetall(store.key("uses")))  # type: ignore[arg-type,return-value]
        return {name: int(count) for name, count in raw.items()}

    def reset(self) -> None:
        self._store.wipe(rules=False)


class RedisWindows:
    """Rate-limit windows as sorted sets, shared by every replica."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store

    def admit(self, key: str, rpm: int | None, tpm: int | None, tokens: int, now: float) -> tuple[list[Slot], bool]:
        store = self._store
        args: list[str | float] = [
            repr(now),
            WINDOW_S,
            -1 if rpm is None else rpm,
            -1 if tpm is None else tpm,
            tokens,
            uuid.uuid4().hex,
        ]
        allowed, slots = store.link.run(store.scripts.admit, [store.key(f"rl:{key}")], args)
        window = [(float(slots[i + 1]), int(slots[i].rsplit(":", 1)[1])) for i in range(0, len(slots), 2)]
        return window, bool(allowed)

    def reset(self) -> None:
        self._store.wipe(rules=False)


class RedisJournal(Journal):
    """The journal as one bounded Redis stream per namespace: every replica appends, every replica reads all.
    How a stream ended is appended later as a small amendment that reading folds in. Bounded like the in-process
    journal: big bodies are stored clipped with a marker, and the stream keeps at most `size` entries and
    `max_bytes` bytes of stored JSON (the oldest go first)."""

    def __init__(self, store: RedisStore, size: int, max_bytes: int = 64 * 1024 * 1024) -> None:
        super().__init__(size, max_bytes)
        self._store = store
        self._size = size
        self._max_bytes = max_bytes

    def next_seq(self) -> int:
        return self._store.begin(self)[0]

    def record(self, entry: JournalEntry) -> None:
        self._append("entry", self._store.entry_json(entry))

    def stream_ended(self, seq: int, outcome: str, *, keep_first: bool = False) -> None:
        self._append("amend", json.dumps({"seq": seq, "keep_first": keep_first, "stream_outcome": outcome}))

    def session_event(self, seq: int, event: Any) -> None:
        # One small amendment per frame (never the whole list again), appended to the entry's events on read.
        data = event if isinstance(event, dict) else dataclasses.asdict(event)
        self._append("amend", json.dumps({"seq": seq, "add_events": [data]}, default=str))

    def update(self, seq: int, changes: Callable[[JournalEntry], Mapping[str, Any]]) -> None:
        # Rare (a realtime session's end): read the entry back, then append the changes as an amendment.
        entry = next((e for e in reversed(self.entries) if e.seq == seq), None)
        if entry is not None:
            self._append("amend", json.dumps({"seq": seq, **changes(entry)}, default=str))

    def _append(self, field: str, value: str) -> None:
        # Sent with other requests' appends and numbers (one Lua call); returns once it is in the stream.
        self._store.batch.submit((field, value))

    def clear(self, *, restart_numbering: bool = True) -> None:
        store = self._store
        keys = [store.key("journal"), store.key("journal-bytes"), *([store.key("seq")] if restart_numbering else [])]
        store.link.call(lambda: store.link.client.delete(*keys))

    @property
    def entries(self) -> list[JournalEntry]:
        store = self._store
        items: list[tuple[str, dict[str, str]]] = store.link.call(
            lambda: store.link.client.xrevrange(store.key("journal"), count=2 * self._size)  # type: ignore[arg-type,return-value]
        )
        entries: list[JournalEntry] = []
        amendments: dict[int, list[dict[str, Any]]] = {}
        for _, fields in items:  # newest first: an entry's amendments are seen before it
            if "amend" in fields:
                change = json.loads(fields["amend"])
                amendments.setdefault(change.pop("seq"), []).append(change)
                continue
            entry = JournalEntry.from_dict(json.loads(fields["entry"]))
            for change in reversed(amendments.get(entry.seq, [])):  # oldest first
                if change.pop("keep_first", False) and entry.stream_outcome:
                    continue
                added = change.pop("add_events", [])
                entry = dataclasses.replace(entry, **change, events=[*entry.events, *added])
            entries.append(entry)
        entries.reverse()
        return entries[-self._size :]

    def __len__(self) -> int:
        return len(self.entries)


class RedisFastPath:
    """The per-request calls awaited on the event loop (http/engine.py uses them when nothing else the request
    may do needs Redis)."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store
        tick = store.scripts.tick
        self._batch = AsyncBatch(store.link, tick.sha, _TICK, store.encode, store.decode)

    async def begin(self) -> tuple[int, str | None]:
        seq, version = await self._batch.submit(("seq",))
        return int(seq), version

    async def record(self, entry: JournalEntry) -> None:
        await self._batch.submit(("entry", self._store.entry_json(entry)))

    def close(self) -> None:
        self._batch.close()


class RedisStore:
    """One namespace's state in Redis (see StateStore)."""

    shared = True

    def __init__(self, link: RedisLink, scripts: Scripts, namespace: str) -> None:
        self.link = link
        self.scripts = scripts
        self.namespace_name = namespace
        self.description = link.url
        self.replica: str | None = f"{socket.gethostname()}:{os.getpid()}"
        self._prefix = f"fake-llm:{{{namespace}}}:"
        self._lock = threading.Lock()
        self._hits: dict[str, int] = {}
        self.counters: Counters = RedisCounters(self)
        self.windows: Windows = RedisWindows(self)
        #: The stream's length bound: room for an amendment per entry of the journal (set by make_journal).
        self.stream_size, self.stream_bytes = 2000, 64 * 1024 * 1024
        self.batch: Batch[tuple[str, ...]] = Batch(self._send, link.timeout)
        self._fast = RedisFastPath(self) if is_supported(link) else None

    def key(self, name: str) -> str:
        return self._prefix + name

    def entry_json(self, entry: JournalEntry) -> str:
        """A journal entry as stored: naming this replica, a big body clipped with a marker."""
        body, _ = bounded_body(entry.body)
        return dataclasses.replace(entry, replica=self.replica, body=body).to_json()

    def pending_hits(self, rule: str) -> None:
        with self._lock:
            self._hits[rule] = self._hits.get(rule, 0) + 1

    def take_hits(self) -> dict[str, int]:
        with self._lock:
            hits, self._hits = self._hits, {}
        return hits

    def flush_hits(self) -> None:
        hits = self.take_hits()
        if hits:
            pipe = self.link.client.pipeline(transaction=False)
            for rule, count in hits.items():
                pipe.hincrby(self.key("uses"), rule, count)
            self.link.call(pipe.execute)

    def make_journal(self, size: int, max_bytes: int = 64 * 1024 * 1024) -> Journal:
        self.stream_size, self.stream_bytes = 2 * size, max_bytes
        return RedisJournal(self, size, max_bytes)

    def begin(self, journal: Journal) -> tuple[int, str | None]:
        seq, version = self.batch.submit(("seq",))
        return int(seq), version

    def fast_path(self) -> RedisFastPath | None:
        """The event-loop path of the per-request calls (None over TLS: those go through worker threads)."""
        return self._fast

    def encode(self, ops: list[tuple[str, ...]]) -> tuple[list[str], list[str | int]]:
        """The batch script's keys and args for `("seq",)` (a new request's number) and `(field, value)` (a journal
        item) operations, with the hit counts gathered since the last call."""
        wanted = sum(1 for op in ops if op[0] == "seq")
        items = [part for op in ops if op[0] != "seq" for part in op]
        args: list[str | int] = [wanted, self.stream_size, self.stream_bytes, len(items) // 2, *items]
        for rule, count in self.take_hits().items():
            args += [rule, count]
        keys = ["seq", "version", "journal", "uses", "journal-bytes"]
        return [self.key(name) for name in keys], args

    @staticmethod
    def decode(ops: list[tuple[str, ...]], reply: Any) -> list[Any]:
        """Each `seq` op's (number, rule-changes version); None for the others."""
        last, version = reply
        number = int(last) - sum(1 for op in ops if op[0] == "seq")
        results: list[Any] = []
        for op in ops:
            if op[0] == "seq":
                number += 1
                results.append((number, version or None))  # Lua turns a missing key into false
            else:
                results.append(None)
        return results

    def _send(self, ops: list[tuple[str, ...]]) -> list[Any]:
        keys, args = self.encode(ops)
        return self.decode(ops, self.link.run(self.scripts.tick, keys, args))

    def rule_changes(self) -> RuleChanges:
        pipe = self.link.client.pipeline(transaction=True)  # one consistent snapshot
        pipe.get(self.key("version"))
        pipe.lrange(self.key("ops"), 0, -1)
        pipe.get(self.key("disabled"))
        version, ops, disabled = self.link.call(pipe.execute)
        return RuleChanges(
            version,
            tuple(json.loads(op) for op in ops),
            None if disabled is None else tuple(json.loads(disabled)),
        )

    def publish(self, op: dict[str, Any] | None = None, disabled: Sequence[str] | None = None) -> str | None:
        version = uuid.uuid4().hex
        pipe = self.link.client.pipeline(transaction=True)
        if op is not None:
            if op.get("replace"):
                pipe.delete(self.key("ops"))  # what it replaces can never come back: keep the list short
            pipe.rpush(self.key("ops"), json.dumps(op))
        if disabled is not None:
            pipe.set(self.key("disabled"), json.dumps(sorted(disabled)))
        pipe.set(self.key("version"), version)
        self.link.call(pipe.execute)
        return version

    def wipe(self, *, rules: bool) -> str | None:
        self.take_hits()
        client = self.link.client
        keep = set() if rules else {self.key("version"), self.key("ops"), self.key("disabled")}

        def wipe() -> None:
            # A namespace may hold glob characters (it is a request header): escaped, `a*` never wipes `abc`.
            pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self._prefix) + "*"
            doomed = [key for key in client.scan_iter(match=pattern, count=500) if key not in keep]
            if doomed:
                client.unlink(*doomed)

        self.link.call(wipe)
        # A new version (even for "no changes") tells every replica to drop the rule changes it applied.
        return self.publish() if rules else None

    def namespace(self, name: str) -> StateStore:
        return RedisStore(self.link, self.scripts, name)

    def health(self) -> dict[str, Any]:
        info: dict[str, Any] = {"backend": "redis", "url": self.link.url, "replica": self.replica}
        try:
            self.link.ping()
        except StateUnavailable as exc:
            return {**info, "ok": False, "error": str(exc)}
        return {**info, "ok": True}


@dataclasses.dataclass(frozen=True, slots=True)
class Scripts:
    """The Lua scripts, registered once per process (their hashes)."""

    tick: Script
    claim: Script
    admit: Script


def connect(url: str, namespace: str, timeout: float = 2.0) -> RedisStore:
    """The Redis store of `namespace` at `url`, checked with a PING (StateUnavailable if it does not answer).
    Every call waits at most `timeout` seconds for Redis."""
    try:
        link = RedisLink(url, public_url(url), timeout)
    except ValueError as exc:
        raise ValueError(f"state: {exc}") from None
    store = RedisStore(link, Scripts(link.register(_TICK), link.register(_CLAIM), link.register(_ADMIT)), namespace)
    link.ping()
    return store
