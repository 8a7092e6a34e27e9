"""AsyncBatch: the per-request Redis calls (a request's number; its journal entry) made from the event loop itself,
without a worker thread, batched across concurrent requests into one Lua call (group commit).

A thread hop per request costs more CPU than the Redis call it hides; for the common request (a rule with no
`times`, no `replies:` sequence, no rate limit) nothing else needs Redis, so the whole request stays on the loop
and waits for Redis only through awaits bounded by the state timeout. A raw connection with hiredis's parser keeps
the call cheap (redis.asyncio's command path costs several times more CPU per call). One connection per event loop;
TLS (`rediss://`) has no fast path and uses the worker-thread path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import hiredis

from fake_llm.core.redis_link import RedisLink
from fake_llm.errors import StateUnavailable

#: Encodes a batch of operations as (keys, args) of the batch script, and decodes its reply into one result each.
Encode = Callable[[list[tuple[str, ...]]], tuple[list[str], list[str | int]]]
Decode = Callable[[list[tuple[str, ...]], Any], list[Any]]


class AsyncBatch:
    """Queued operations of one namespace, sent in one EVALSHA by whoever finds no call in flight."""

    def __init__(self, link: RedisLink, sha: str, source: str, encode: Encode, decode: Decode) -> None:
        self._link = link
        self._sha, self._source = sha, source
        self._encode, self._decode = encode, decode
        self._queue: list[tuple[tuple[str, ...], asyncio.Future[Any]]] = []
        self._flushing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, op: tuple[str, ...]) -> Any:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a connection serves the loop that made it (tests run several loops)
            self._close()
            self._loop, self._queue, self._flushing = loop, [], False
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((op, future))
        if not self._flushing:
            self._flushing = True
            self._flusher = loop.create_task(self._flush())  # kept: a task nobody references may be collected
        return await future

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                ops = [op for op, _ in batch]
                try:
                    try:
                        reply = await asyncio.wait_for(self._call(ops), self._link.timeout)
                    except (EOFError, ConnectionError):  # a connection a restarted Redis dropped: once more
                        self._close()
                        reply = await asyncio.wait_for(self._call(ops), self._link.timeout)
                    results = self._decode(ops, reply)
                except (OSError, EOFError, asyncio.TimeoutError, hiredis.ProtocolError) as exc:
                    self._close()
                    failure = self._link.failed(exc if str(exc) else TimeoutError("Timeout reading from Redis"))
                    # Those that queued behind the failed call learn it now, not one timeout later each.
                    batch, self._queue = batch + self._queue, []
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(failure)
                    continue
                except StateUnavailable as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._flushing = False

    async def _call(self, ops: list[tuple[str, ...]]) -> Any:
        keys, args = self._encode(ops)
        reply = await self._command(("EVALSHA", self._sha, len(keys), *keys, *args))
        if isinstance(reply, hiredis.ReplyError) and str(reply).startswith("NOSCRIPT"):  # a restarted Redis
            reply = await self._command(("EVAL", self._source, len(keys), *keys, *args))
        if isinstance(reply, hiredis.ReplyError):
            raise StateUnavailable(f"the shared state store (Redis at {self._link.url}) failed: {reply}")
        self._link.recovered()
        return reply

    async def _command(self, command: tuple[str | int | float, ...]) -> Any:
        if self._conn is None:
            self._conn = await self._connect()
        reader, writer = self._conn
        writer.write(hiredis.pack_command(command))  # type: ignore[arg-type]  # hiredis's stub wants a 1-tuple
        return await _read(reader)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        params = self._link.client.connection_pool.connection_kwargs
        if "path" in params:
            reader, writer = await asyncio.open_unix_connection(params["path"])
        else:
            reader, writer = await asyncio.open_connection(params.get("host", "localhost"), params.get("port", 6379))
        setup: list[tuple[str | int, ...]] = []
        if params.get("password") is not None:
            user = params.get("username")
            setup.append(("AUTH", user, params["password"]) if user else ("AUTH", params["password"]))
        if params.get("db"):
            setup.append(("SELECT", params["db"]))
        for command in setup:
            writer.write(hiredis.pack_command(command))  # type: ignore[arg-type]
            answer = await _read(reader)
            if isinstance(answer, hiredis.ReplyError):
                writer.close()
                raise StateUnavailable(
                    f"the shared state store (Redis at {self._link.url}) refused {command[0]}: {answer}"
                )
        return reader, writer

    def close(self) -> None:
        self._close()

    def _close(self) -> None:
        if self._conn is not None:
            self._conn[1].close()
        self._conn = None


async def _read(reader: asyncio.StreamReader) -> Any:
    parser = hiredis.Reader(encoding="utf-8")
    while True:
        data = await reader.read(65536)
        if not data:
            raise EOFError("Redis closed the connection")
        parser.feed(data)
        reply = parser.gets()
        if reply is not False:
            return reply


def is_supported(link: RedisLink) -> bool:
    """Whether the fast path can reach this Redis (plain TCP or a Unix socket; TLS goes through threads)."""
    import redis

    return link.client.connection_pool.connection_class in (redis.Connection, redis.UnixDomainSocketConnection)
