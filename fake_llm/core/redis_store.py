"""The Redis state store (`--state redis://...`): counters, rate-limit windows, the journal and run-time rule changes
that every worker and replica of a namespace shares. Needs the `redis` extra (redis-py).

Decisions that must be atomic across replicas (a rule's `times`, a conversation's step, a rate-limit admission) are
Lua scripts; everything else is one pipelined round trip. Every key of a namespace shares one hash tag, so a reset
can find them all and a Redis Cluster keeps them on one node.
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
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.exceptions import NoScriptError
from redis.retry import Retry

try:  # the C packer of the `redis` extra (hiredis); redis-py's own works too, a little slower
    import hiredis
except ImportError:  # pragma: no cover - the extra installs it
    hiredis = None  # type: ignore[assignment]

from fake_llm.core.journal import Journal, JournalEntry, bounded_body
from fake_llm.core.state import WINDOW_S, Counters, RuleChanges, Slot, StateStore, Windows
from fake_llm.errors import StateUnavailable

#: A conversation's position in a `replies:` sequence is forgotten after this long without a request.
STEP_TTL_S = 24 * 3600
#: Bounded waits: a lost Redis must turn into a quick 503, never a hung request.
CONNECT_TIMEOUT_S = 1.0
COMMAND_TIMEOUT_S = 2.0

T = TypeVar("T")

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


# KEYS[1] the sequence, KEYS[2] the rule-changes version: a request's number and the version, in one call.
_BEGIN = """
return {redis.call('INCR', KEYS[1]), redis.call('GET', KEYS[2])}
"""

# KEYS[1] the journal stream, KEYS[2] use counts; ARGV: max length, field, value, then rule/count pairs (hits of
# rules that needed no claim).
#: Append to the journal stream, then drop its oldest items while it holds more than ARGV[1] items or more than
#: ARGV[2] bytes (KEYS[3] keeps the byte count of what the stream holds), as the in-process journal does.
_RECORD = """
redis.call('XADD', KEYS[1], '*', ARGV[3], ARGV[4])
local bytes = redis.call('INCRBY', KEYS[3], string.len(ARGV[4]))
local maxlen, maxbytes = tonumber(ARGV[1]), tonumber(ARGV[2])
local count = redis.call('XLEN', KEYS[1])
while count > 1 and (count > maxlen or bytes > maxbytes) do
  local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
  local size = 0
  for j = 2, #oldest[2], 2 do size = size + string.len(oldest[2][j]) end
  redis.call('XDEL', KEYS[1], oldest[1])
  bytes = redis.call('DECRBY', KEYS[3], size)
  count = count - 1
end
for i = 5, #ARGV, 2 do redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1]) end
return 1
"""


def public_url(url: str) -> str:
    """`url` without its password, for messages and /_fake/health."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:****@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class _Redis:
    """One client and its scripts, shared by every namespace of a process; turns Redis failures into
    StateUnavailable naming it."""

    def __init__(self, url: str) -> None:
        self.url = public_url(url)
        # One immediate retry replaces a pooled connection that died with a restarted Redis; no backoff, so a
        # Redis that stays down answers quickly.
        self.client = redis.Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=COMMAND_TIMEOUT_S,
            retry=Retry(NoBackoff(), 1),
            decode_responses=True,
        )
        self.begin = self.client.register_script(_BEGIN)
        self.record = self.client.register_script(_RECORD)
        self.claim = self.client.register_script(_CLAIM)
        self._lock = threading.Lock()
        self._conn: Any = None  # the connection `run` uses, made on first use
        self.admit = self.client.register_script(_ADMIT)

    def run(self, script: Script, keys: list[str], args: Sequence[str | int | float]) -> Any:
        """Run a Lua script by its hash on a connection of its own: a request makes one or two of these calls, and
        sending the packed EVALSHA straight down the connection costs half the CPU of redis-py's command path.
        A connection that broke is replaced once (a restarted Redis); a Redis that restarted has also forgotten
        the script, which is then loaded again."""
        command = ("EVALSHA", script.sha, len(keys), *keys, *args)
        with self._lock:
            for attempt in (1, 2):
                conn = self._conn
                try:
                    if conn is None:
                        conn = self._conn = self.client.connection_pool.make_connection()
                    packed = [hiredis.pack_command(command)] if hiredis is not None else conn.pack_command(*command)  # type: ignore[arg-type]
                    conn.send_packed_command(packed, check_health=False)
                    return conn.read_response()
                except NoScriptError:
                    return self.call(lambda: script(keys, args))
                except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                    if conn is not None:
                        conn.disconnect()
                    self._conn = None
                    if attempt == 2:
                        raise StateUnavailable(
                            f"the shared state store (Redis at {self.url}) is unavailable: {exc}"
                        ) from exc
                except redis.RedisError as exc:
                    raise StateUnavailable(f"the shared state store (Redis at {self.url}) failed: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover - the second attempt returns or raises

    def call(self, action: Callable[[], T]) -> T:
        try:
            return action()
        except redis.RedisError as exc:
            raise StateUnavailable(f"the shared state store (Redis at {self.url}) is unavailable: {exc}") from exc


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
        step = int(
            store.redis.call(lambda: store.redis.claim(keys, [rule, -1 if times is None else times, STEP_TTL_S]))
        )
        return None if step < 0 else step

    def hits(self) -> dict[str, int]:
        store = self._store
        store.flush_hits()
        raw: dict[str, str] = store.redis.call(lambda: store.redis.client.hgetall(store.key("uses")))  # type: ignore[arg-type,return-value]
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
        allowed, slots = store.redis.run(store.redis.admit, [store.key(f"rl:{key}")], args)
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
        store = self._store
        return int(store.redis.call(lambda: store.redis.client.incr(store.key("seq"))))

    def record(self, entry: JournalEntry) -> None:
        body, _ = bounded_body(entry.body)
        entry = dataclasses.replace(entry, replica=self._store.replica, body=body)
        self._append("entry", entry.to_json())

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
        store = self._store
        # Amendments share the stream, hence room for two items per entry; reading keeps the newest `size`.
        args: list[str | int] = [2 * self._size, self._max_bytes, field, value]
        for rule, count in store.take_hits().items():
            args += [rule, count]
        keys = [store.key("journal"), store.key("uses"), store.key("journal-bytes")]
        store.redis.run(store.redis.record, keys, args)

    def clear(self, *, restart_numbering: bool = True) -> None:
        store = self._store
        keys = [store.key("journal"), store.key("journal-bytes"), *([store.key("seq")] if restart_numbering else [])]
        store.redis.call(lambda: store.redis.client.delete(*keys))

    @property
    def entries(self) -> list[JournalEntry]:
        store = self._store
        items: list[tuple[str, dict[str, str]]] = store.redis.call(
            lambda: store.redis.client.xrevrange(store.key("journal"), count=2 * self._size)  # type: ignore[arg-type,return-value]
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


class RedisStore:
    """One namespace's state in Redis (see StateStore)."""

    shared = True

    def __init__(self, client: _Redis, namespace: str) -> None:
        self.redis = client
        self.namespace_name = namespace
        self.description = client.url
        self.replica: str | None = f"{socket.gethostname()}:{os.getpid()}"
        self._prefix = f"fake-llm:{{{namespace}}}:"
        self._lock = threading.Lock()
        self._hits: dict[str, int] = {}
        self.counters: Counters = RedisCounters(self)
        self.windows: Windows = RedisWindows(self)

    def key(self, name: str) -> str:
        return self._prefix + name

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
            pipe = self.redis.client.pipeline(transaction=False)
            for rule, count in hits.items():
                pipe.hincrby(self.key("uses"), rule, count)
            self.redis.call(pipe.execute)

    def make_journal(self, size: int, max_bytes: int = 64 * 1024 * 1024) -> Journal:
        return RedisJournal(self, size, max_bytes)

    def begin(self, journal: Journal) -> tuple[int, str | None]:
        seq, version = self.redis.run(self.redis.begin, [self.key("seq"), self.key("version")], ())
        return int(seq), version or None  # Lua turns a missing key into false

    def rule_changes(self) -> RuleChanges:
        pipe = self.redis.client.pipeline(transaction=True)  # one consistent snapshot
        pipe.get(self.key("version"))
        pipe.lrange(self.key("ops"), 0, -1)
        pipe.get(self.key("disabled"))
        version, ops, disabled = self.redis.call(pipe.execute)
        return RuleChanges(
            version,
            tuple(json.loads(op) for op in ops),
            None if disabled is None else tuple(json.loads(disabled)),
        )

    def publish(self, op: dict[str, Any] | None = None, disabled: Sequence[str] | None = None) -> str | None:
        version = uuid.uuid4().hex
        pipe = self.redis.client.pipeline(transaction=True)
        if op is not None:
            if op.get("replace"):
                pipe.delete(self.key("ops"))  # what it replaces can never come back: keep the list short
            pipe.rpush(self.key("ops"), json.dumps(op))
        if disabled is not None:
            pipe.set(self.key("disabled"), json.dumps(sorted(disabled)))
        pipe.set(self.key("version"), version)
        self.redis.call(pipe.execute)
        return version

    def wipe(self, *, rules: bool) -> str | None:
        self.take_hits()
        client = self.redis.client
        keep = set() if rules else {self.key("version"), self.key("ops"), self.key("disabled")}

        def wipe() -> None:
            # A namespace may hold glob characters (it is a request header): escaped, `a*` never wipes `abc`.
            pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self._prefix) + "*"
            doomed = [key for key in client.scan_iter(match=pattern, count=500) if key not in keep]
            if doomed:
                client.unlink(*doomed)

        self.redis.call(wipe)
        # A new version (even for "no changes") tells every replica to drop the rule changes it applied.
        return self.publish() if rules else None

    def namespace(self, name: str) -> StateStore:
        return RedisStore(self.redis, name)

    def health(self) -> dict[str, Any]:
        info: dict[str, Any] = {"backend": "redis", "url": self.redis.url, "replica": self.replica}
        try:
            self.redis.call(self.redis.client.ping)
        except StateUnavailable as exc:
            return {**info, "ok": False, "error": str(exc)}
        return {**info, "ok": True}


def connect(url: str, namespace: str) -> RedisStore:
    """The Redis store of `namespace` at `url`, checked with a PING (StateUnavailable if it does not answer)."""
    try:
        client = _Redis(url)
    except ValueError as exc:
        raise ValueError(f"state: {exc}") from None
    store = RedisStore(client, namespace)
    client.call(client.client.ping)
    return store
