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
    engine: Any = websocket.app.state.fake_llm
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in websocket.scope["headers"]}
    offered = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    beta = "realtime=v1" in headers.get("openai-beta", "") or BETA_PROTOCOL in offered
    model = websocket.query_params.get("model")
    given = _api_key(headers, offered)
    if any(p.startswith(KEY_PROTOCOL) for p in offered):  # the key travels in this header: keep it out of the journal
        shown = [KEY_PROTOCOL + "[redacted]" if p.startswith(KEY_PROTOCOL) else p for p in offered]
        headers["sec-websocket-protocol"] = ", ".join(shown)
    seq = engine.journal.next_seq()
    entry = JournalEntry(
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
        model=model,
        outcome="session",
        stream=True,
        reply="beta interface" if beta else "GA interface",
    )
    engine.journal.record(entry)
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
    lock = asyncio.Lock()
    start = time.monotonic()
    state = {"closed": False}

    def note(event: Event, kind: str) -> None:
        at_ms = round((time.monotonic() - start) * 1000, 3)
        entry.events.append(dataclasses.replace(event, kind=kind, at_ms=at_ms, step=-1))

    async def send(event: Event) -> None:
        async with lock:
            if state["closed"]:
                raise WebSocketDisconnect(1000)
            note(event, "error" if event.event == "error" else "server")
            await websocket.send_text(event.data)

    async def close(code: int) -> None:
        async with lock:
            state["closed"] = True
            engine.journal.stream_ended(seq, f"closed by fake-llm (code {code})")
            await websocket.close(code)

    session.send, session.close = send, close
    await session.open()
    try:
        while True:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                how = f"closed by the client (code {frame.get('code', 1005)})"
                engine.journal.stream_ended(seq, how, keep_first=True)
                break
            text = frame.get("text")
            if text is None:
                text = (frame.get("bytes") or b"").decode("utf-8", errors="replace")
            note(Event(text, event=_type_of(text)), "client")
            try:
                await session.receive(text)
            except WebSocketDisconnect:
                break
            except Exception as exc:  # a bug in fake-llm: journal it (the pytest plugin raises it), keep the socket
                log.exception("internal error in realtime session %s", seq)
                error = "".join(traceback.format_exception(exc))
                engine.journal.update(seq, lambda _, error=error: {"outcome": "error", "error": error})
                await session.error(f"fake-llm internal error: {exc!r}", code=None, type_="server_error")
    finally:
        await session.stop()


def _type_of(text: str) -> str | None:
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        return None
    kind = body.get("type") if isinstance(body, dict) else None
    return kind if isinstance(kind, str) else None


REALTIME_ROUTES = [WebSocketRoute("/v1/realtime", realtime)]
