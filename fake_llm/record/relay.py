"""The upstream answer on its way through `fake-llm record`: the headers dropped each way, the ASGI app that relays
the body to the client as it arrives, and the SSE events (with their arrival times) read from it on the way."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import httpx
from starlette.types import Receive, Scope, Send

from fake_llm.dialects.bedrock.eventstream import CONTENT_TYPE as EVENTSTREAM_TYPE
from fake_llm.dialects.bedrock.eventstream import FrameDecoder
from fake_llm.http.sse import ScriptedDisconnect, until_done_or_disconnect
from fake_llm.model.transcript import SSEEvent as SSEEvent  # re-exported: the relay reads them

log = logging.getLogger("fake_llm.recorder")

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
#: Not forwarded upstream: hop-by-hop headers, and what httpx sets for its own connection. `accept-encoding` is
#: replaced by `identity`, so the bytes relayed are the bytes recorded.
REQUEST_DROP = HOP_BY_HOP | {"host", "content-length", "accept-encoding"}
#: Not relayed back: the client gets the decoded bytes, chunked by the server.
RESPONSE_DROP = HOP_BY_HOP | {"content-length", "content-encoding"}


class SSEReader:
    """An incremental SSE parser (wire-format §1): feed bytes as they arrive; complete events land in `events`."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._event: str | None = None
        self.events: list[SSEEvent] = []

    def feed(self, chunk: bytes, at_ms: float) -> None:
        # Lines split at b"\n" never cut a UTF-8 character, so each complete line decodes on its own.
        *lines, self._buffer = (self._buffer + chunk).split(b"\n")
        for raw in lines:
            line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
            if not line:
                if self._data:
                    self.events.append(SSEEvent("\n".join(self._data), self._event, at_ms))
                self._data, self._event = [], None
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "data":
                    self._data.append(value)
                elif name == "event":
                    self._event = value


class NDJSONReader(SSEReader):
    """Reads NDJSON (Ollama's streams): each complete non-empty line is one data-only event."""

    def feed(self, chunk: bytes, at_ms: float) -> None:
        *lines, self._buffer = (self._buffer + chunk).split(b"\n")
        for raw in lines:
            line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
            if line.strip():
                self.events.append(SSEEvent(line, None, at_ms))


def is_stream(content_type: str) -> bool:
    """Whether an answer is a stream record mode reads event by event: SSE, or NDJSON lines."""
    return "text/event-stream" in content_type or "ndjson" in content_type


def frame_event(headers: dict[str, str], payload: bytes, at_ms: float) -> SSEEvent:
    """A binary event-stream frame (Bedrock) as an event: its `:event-type`, or `exception:<type>` for an error."""
    if headers.get(":message-type") == "exception":
        return SSEEvent(
            payload.decode("utf-8", errors="replace"), "exception:" + headers.get(":exception-type", ""), at_ms
        )
    return SSEEvent(payload.decode("utf-8", errors="replace"), headers.get(":event-type"), at_ms)


class Relay:
    """Sends the upstream answer on as its bytes arrive. Once the body is complete, and before the last write (so a
    client holding the whole answer also finds it recorded), `finish` gets the body and its SSE events. A client
    that goes away closes the upstream answer and nothing is recorded: a half answer would replay as a whole one."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        response: httpx.Response,
        started: float,
        finish: Callable[[bytes, list[SSEEvent]], None] | None,
    ) -> None:
        self.client, self.response, self.started, self.finish = client, response, started, finish

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k, v) for k, v in self.response.headers.raw if k.decode("latin-1").lower() not in RESPONSE_DROP]
        try:
            await send({"type": "http.response.start", "status": self.response.status_code, "headers": headers})
            if not await until_done_or_disconnect(self._pump(send), receive):
                log.warning("the client went away before the answer to %s ended: not recorded", scope["path"])
        finally:
            await self.response.aclose()
            await self.client.aclose()

    async def _pump(self, send: Send) -> None:
        content_type = self.response.headers.get("content-type", "")
        reader, body = NDJSONReader() if "ndjson" in content_type else SSEReader(), bytearray()
        streamed = is_stream(content_type)
        frames = FrameDecoder() if EVENTSTREAM_TYPE in content_type else None
        try:
            async for chunk in self.response.aiter_bytes():
                at_ms = (time.monotonic() - self.started) * 1000.0
                if streamed:
                    reader.feed(chunk, at_ms)
                elif frames is not None:
                    try:
                        decoded = frames.feed(chunk)
                    except ValueError as exc:  # relayed as received all the same; the recording gets no events
                        log.warning("unreadable event-stream answer (%s): its events are not recorded", exc)
                        frames, decoded = None, []
                    reader.events.extend(frame_event(headers, payload, at_ms) for headers, payload in decoded)
                body += chunk
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except httpx.HTTPError as exc:
            log.warning("the upstream broke off the answer (%s): not recorded", exc)
            # Drop the client's connection too, as the upstream dropped ours (uvicorn logs nothing for this one).
            raise ScriptedDisconnect("the upstream broke off the answer") from exc
        if self.finish is not None:
            self.finish(bytes(body), reader.events)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
