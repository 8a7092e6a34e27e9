"""RedisLink: the Redis connection of one process, shared by every namespace's store (core/redis_store.py).

Every call is bounded by `state_timeout` (connect and reply), so a stalled Redis turns into StateUnavailable after
that long instead of a hung request. Callers run on worker threads (http/engine.py), never on the event loop; each
call takes a connection of its own from a small pool, so one slow call never queues the others behind a lock.
A request that was waiting while another call timed out fails at once instead of waiting its own full timeout
(REQUEST_STARTED), so a burst of requests during a stall all get their 503 within about one timeout.

Batch (group commit) merges the per-request calls (a sequence number; a journal entry) of concurrent requests into
one Lua call: under load a request costs a fraction of a round trip, and an idle server still answers at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError

try:  # the C packer of the `redis` extra (hiredis); redis-py's own works too, a little slower
    import hiredis
except ImportError:  # pragma: no cover - the extra installs it
    hiredis = None  # type: ignore[assignment]

from fake_llm.core.state import REQUEST_STARTED
from fake_llm.errors import StateUnavailable

T = TypeVar("T")
Op = TypeVar("Op")

#: Idle connections kept for the next calls (more are made under load and closed when returned to a full pool).
POOL_SIZE = 16


def public_url(url: str) -> str:
    """`url` without its password, for messages and /_fake/health."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:****@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class RedisLink:
    """One redis-py client, a pool of raw connections for the Lua calls, and the failure bookkeeping."""

    def __init__(self, url: str, public: str, timeout: float) -> None:
        self.url = public
        self.timeout = timeout
        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=None, decode_responses=True
        )
        self._lock = threading.Lock()
        self._idle: list[Any] = []
        self._failed_at = 0.0
        self._failure = ""

    def register(self, source: str) -> Script:
        return self.client.register_script(source)

    def unavailable(self, exc: BaseException) -> StateUnavailable:
        return StateUnavailable(f"the shared state store (Redis at {self.url}) is unavailable: {exc}")

    def _check_fresh(self) -> None:
        started = REQUEST_STARTED.get()
        if started is not None and started < self._failed_at:
            raise StateUnavailable(f"the shared state store (Redis at {self.url}) is unavailable: {self._failure}")

    def failed(self, exc: BaseException) -> StateUnavailable:
        """Note a lost or stalled Redis (calls of requests that started before now fail at once)."""
        self._failed_at, self._failure = time.monotonic(), str(exc)
        return self.unavailable(exc)

    def recovered(self) -> None:
        self._failed_at = 0.0

    def _take(self) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self.client.connection_pool.make_connection()

    def _give(self, conn: Any) -> None:
        with self._lock:
            if len(self._idle) < POOL_SIZE:
                self._idle.append(conn)
                return
        conn.disconnect()

    def run(self, script: Script, keys: Sequence[str], args: Sequence[str | int | float]) -> Any:
        """Run a Lua script by its hash on a pooled connection: sending the packed EVALSHA straight down the
        connection costs half the CPU of redis-py's command path. A connection that broke is replaced once (a
        restarted Redis, which has also forgotten the script: it is loaded again); a timeout is not retried."""
        self._check_fresh()
        command = ("EVALSHA", script.sha, len(keys), *keys, *args)
        for attempt in (1, 2):
            conn = self._take()
            try:
                packed = [hiredis.pack_command(command)] if hiredis is not None else conn.pack_command(*command)  # type: ignore[arg-type]
                conn.send_packed_command(packed, check_health=False)
                result = conn.read_response()
            except NoScriptError:
                self._give(conn)
                return self.call(lambda: script(list(keys), list(args)))
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                conn.disconnect()
                if attempt == 2 or isinstance(exc, redis.TimeoutError):
                    raise self.failed(exc) from exc
                continue
            except redis.RedisError as exc:
                self._give(conn)
                raise StateUnavailable(f"the shared state store (Redis at {self.url}) failed: {exc}") from exc
            self._give(conn)
            return result
        raise AssertionError("unreachable")  # pragma: no cover - the second attempt returns or raises

    def call(self, action: Callable[[], T]) -> T:
        """Any other redis-py call (admin endpoints, resets), with the same failure handling."""
        self._check_fresh()
        try:
            return action()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise self.failed(exc) from exc
        except redis.RedisError as exc:
            raise self.unavailable(exc) from exc

    def ping(self) -> None:
        """A health probe: always asks (never fails early); success clears the failure."""
        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise self.failed(exc) from exc
        self.recovered()


class _Waiter(Generic[Op]):
    __slots__ = ("done", "error", "lead", "op", "result")

    def __init__(self, op: Op) -> None:
        self.op = op
        self.done = threading.Event()
        self.lead = False
        self.result: Any = None
        self.error: Exception | None = None


class Batch(Generic[Op]):
    """Group commit: `submit` queues an operation; the first caller with nothing in flight sends every queued one
    in one `send` call and hands the next batch to a caller still waiting. Every operation is sent exactly once,
    and its caller learns its result or the StateUnavailable that stopped it."""

    def __init__(self, send: Callable[[list[Op]], list[Any]], timeout: float) -> None:
        self._send = send
        # A safety net only: a batch in flight ends within a few timeouts (connect, then the call).
        self._wait_s = 4 * timeout + 1
        self._lock = threading.Lock()
        self._queue: list[_Waiter[Op]] = []
        self._busy = False

    def submit(self, op: Op) -> Any:
        me: _Waiter[Op] = _Waiter(op)
        with self._lock:
            self._queue.append(me)
            lead = not self._busy
            self._busy = True
        if not lead:
            finished = me.done.wait(self._wait_s)
            with self._lock:
                if not finished and not me.done.is_set():  # not sent yet: leave the queue and give up
                    self._queue.remove(me)
                    raise StateUnavailable("the shared state store (Redis) did not answer in time")
            if not me.lead:
                return _outcome(me)
        self._lead()
        return _outcome(me)

    def _lead(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            results = self._send([w.op for w in batch])
            for waiter, result in zip(batch, results, strict=True):
                waiter.result = result
        except Exception as exc:  # every waiter learns it (and the next batch still goes out)
            for waiter in batch:
                waiter.error = exc
        with self._lock:
            if self._queue:  # those who queued meanwhile: the oldest sends their batch
                self._queue[0].lead = True
                self._queue[0].done.set()
            else:
                self._busy = False
        for waiter in batch:
            waiter.done.set()


def _outcome(waiter: _Waiter[Any]) -> Any:
    if waiter.error is not None:
        raise waiter.error
    return waiter.result
