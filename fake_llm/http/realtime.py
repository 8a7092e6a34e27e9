"""`GET /v1/realtime?model=...` upgraded to a WebSocket: authentication (header or subprotocol), the API generation
(GA, or beta for `OpenAI-Beta: realtime=v1`), the receive loop, and the journal entry of the whole session."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
import traceback
from typing import Any

from starlette.responses import JSONResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from fake_llm.core.journal import Journal, JournalEntry, redact_headers
from fake_llm.dialects import DIALECTS
from fake_llm.dialects.openai.realtime.render import BETA, GA
from fake_llm.dialects.openai.realtime.session import RealtimeSession
from fake_llm.model.stream import Event

log = logging.getLogger("fake_llm")
#: Browsers cannot set headers on a WebSocket, so the official clients pass the key as a subprotocol.
KEY_PROTOCOL = "openai-insecure-api-key."
BETA_PROTOCOL = "openai-beta.realtime-v1"


def _api_key(headers: dict[str, str], offered: list[str]) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    for protocol in offered:
        if protocol.startswith(KEY_PROTOCOL):
            return protocol[len(KEY_PROTOCOL) :]
    return headers.get("api-key")  # Azure's header


async def _deny(websocket: WebSocket, journal: Journal, seq: int, status: int, message: str, code: str) -> None:
    """Refuse the upgrade with the OpenAI error body, as the service answers a bad handshake."""
    journal.update(seq, lambda _: {"outcome": "rejected", "status": status, "reply": message})
    body = DIALECTS["openai-chat"].error_body(status, message, code=code)
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse(body, status_code=status))
    else:  # a server without the denial extension: a close before accept is an HTTP 403
        await websocket.close(1008, message[:120])


async def realtime(websocket: WebSocket) -> None:
    """One realtime session: journal it, authenticate, accept, then answer client events until either side closes."""
    engine: Any = websocket.app.state.fake_llm
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in websocket.scope["headers"]}
    offered = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    beta = "realtime=v1" in headers.get("openai-beta", "") or BETA_PROTOCOL in offered
    model = websocket.query_params.get("model")
    given = _api_key(headers, offered)
    seq = engine.journal.next_seq()
    engine.journal.record(_session_entry(websocket, engine, seq, headers, offered, beta))
    if engine.settings.api_keys and given not in engine.settings.api_keys:
        message = "Incorrect API key provided." if given else "You didn't provide an API key."
        await _deny(websocket, engine.journal, seq, 401, message, "invalid_api_key")
        return
    if not model:
        await _deny(
            websocket, engine.journal, seq, 400, "Missing required parameter: 'model'.", "missing_required_parameter"
        )
        return
    await websocket.accept(subprotocol="realtime" if "realtime" in offered else None)
    session = RealtimeSession(engine, BETA if beta else GA, model, headers, seq)
    wire = _Wire(websocket, engine.journal, seq)
    session.send, session.close = wire.send, wire.close
    await session.open()
    try:
        await _receive(websocket, engine, session, wire)
    finally:
        await session.stop()


def _session_entry(
    websocket: WebSocket, engine: Any, seq: int, headers: dict[str, str], offered: list[str], beta: bool
) -> JournalEntry:
    """The journal entry of the whole session; its frames are added as they go (Journal.session_event)."""
    if any(p.startswith(KEY_PROTOCOL) for p in offered):  # the key travels in this header: keep it out of the journal
        shown = [KEY_PROTOCOL + "[redacted]" if p.startswith(KEY_PROTOCOL) else p for p in offered]
        headers["sec-websocket-protocol"] = ", ".join(shown)
    return JournalEntry(
        seq=seq,
        time=engine.clock.now(),
        method="GET",
        path="/v1/realtime",
        headers=redact_headers(headers.items()),
        body={
            "query": dict(websocket.query_params),
            "subprotocols": [p for p in offered if not p.startswith(KEY_PROTOCOL)],
        },
        api="realtime",
        model=websocket.query_params.get("model"),
        outcome="session",
        stream=True,
        reply="beta interface" if beta else "GA interface",
    )


class _Wire:
    """The session's side of the socket: sends (one at a time, never after closing) and notes every frame in the
    journal with its time since the session opened."""

    def __init__(self, websocket: WebSocket, journal: Journal, seq: int) -> None:
        self.websocket, self.journal, self.seq = websocket, journal, seq
        self.lock = asyncio.Lock()
        self.start = time.monotonic()
        self.closed = False

    def note(self, event: Event, kind: str) -> None:
        at_ms = round((time.monotonic() - self.start) * 1000, 3)
        self.journal.session_event(self.seq, dataclasses.replace(event, kind=kind, at_ms=at_ms, step=-1))

    async def send(self, event: Event) -> None:
        async with self.lock:
            if self.closed:
                raise WebSocketDisconnect(1000)
            self.note(event, "error" if event.event == "error" else "server")
            await self.websocket.send_text(event.data)

    async def close(self, code: int) -> None:
        async with self.lock:
            self.closed = True
            self.journal.stream_ended(self.seq, f"closed by fake-llm (code {code})")
            await self.websocket.close(code)


async def _receive(websocket: WebSocket, engine: Any, session: RealtimeSession, wire: _Wire) -> None:
    """Client frames, each noted and handed to the session, until the client leaves or the session closes."""
    seq = wire.seq
    while True:
        frame = await websocket.receive()
        if frame["type"] == "websocket.disconnect":
            how = f"closed by the client (code {frame.get('code', 1005)})"
            engine.journal.stream_ended(seq, how, keep_first=True)
            return
        text = frame.get("text")
        if text is None:
            text = (frame.get("bytes") or b"").decode("utf-8", errors="replace")
        wire.note(Event(text, event=_type_of(text)), "client")
        try:
            await session.receive(text)
        except WebSocketDisconnect:
            return
        except Exception as exc:  # a bug in fake-llm: journal it (the pytest plugin raises it), keep the socket
            log.exception("internal error in realtime session %s", seq)
            error = "".join(traceback.format_exception(exc))
            engine.journal.update(seq, lambda _, error=error: {"outcome": "error", "error": error})
            await session.error(f"fake-llm internal error: {exc!r}", code=None, type_="server_error")


def _type_of(text: str) -> str | None:
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        return None
    kind = body.get("type") if isinstance(body, dict) else None
    return kind if isinstance(kind, str) else None


REALTIME_ROUTES = [WebSocketRoute("/v1/realtime", realtime)]
