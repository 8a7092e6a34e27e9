"""Responses of a realtime session: match the conversation against the rules, plan the reply's events with the
scenario's timing and faults, play them as a task, and cancel or fail them part-way with a correct `response.done`.

The session half that owns the conversation and client events is RealtimeSession (session.py), which extends this;
what has been sent of the response in flight is tracked by progress.py.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from fake_llm.core.faults import apply_faults
from fake_llm.core.journal import JournalEntry, redact_headers
from fake_llm.core.replies import ReplyContext, plan_reply
from fake_llm.core.timing import schedule
from fake_llm.dialects.openai.realtime.conversation import Conversation, chat_request
from fake_llm.dialects.openai.realtime.progress import FAILED_DONE, Active, final_response, rate_limits, track
from fake_llm.dialects.openai.realtime.render import BETA, Generation, session_view
from fake_llm.dialects.openai.realtime.response_plan import ResponseSpec, dumps, plan_response, response_object
from fake_llm.errors import ReplyMismatch
from fake_llm.model.plan import PlannedReply
from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import Reply, Rule, StreamError
from fake_llm.model.stream import Event

log = logging.getLogger("fake_llm")
Send = Callable[[Event], Awaitable[None]]
Close = Callable[[int], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Asked:
    """What one `response.create` asks for, resolved against the session."""

    chat: ChatRequest
    #: The request as each rule hears it (its transcript in place of unheard audio).
    per_rule: Callable[[Rule], ChatRequest]
    audio: bool
    voice: Any
    max_out: Any
    in_conversation: bool


async def _unset_send(event: Event) -> None:
    raise RuntimeError("the session has no transport")


async def _unset_close(code: int) -> None:
    raise RuntimeError("the session has no transport")


class Responder:
    """Response planning and playback for one session."""

    session: dict[str, Any]
    conversation: Conversation
    conversation_id: str

    def __init__(self, engine: Any, generation: Generation, headers: Mapping[str, str], seq: int) -> None:
        self.engine = engine
        self.generation = generation
        self.seq = seq
        # Replies advance per session (`replies:` sequences), unless the client names its own conversation.
        self.headers = {"x-fake-llm-session": f"realtime-{seq}", **headers}
        self.active: Active | None = None
        self.send: Send = _unset_send
        self.close: Close = _unset_close
        self._counters: dict[str, int] = {}

    def ids(self, prefix: str) -> str:
        """Deterministic ids per session, prefix and position (same seed, same session number, same ids)."""
        n = self._counters[prefix] = self._counters.get(prefix, 0) + 1
        return str(self.engine.ids.make(prefix, f"realtime.{self.seq}.{n}", 21))

    def item_id(self) -> str:
        return self.ids("item_")

    def event(self, type_: str, **fields: Any) -> Event:
        return Event(dumps({"type": type_, "event_id": self.ids("event_"), **fields}), event=type_, kind="server")

    async def emit(self, type_: str, **fields: Any) -> None:
        await self.send(self.event(type_, **fields))

    async def error(
        self,
        message: str,
        *,
        code: str | None,
        param: str | None = None,
        event_id: str | None = None,
        type_: str = "invalid_request_error",
    ) -> None:
        detail = {"type": type_, "code": code, "message": message, "param": param, "event_id": event_id}
        await self.emit("error", error=detail)

    # ------------------------------------------------------------------ starting a response

    async def respond(self, options: Mapping[str, Any]) -> None:
        """Answer the conversation as the first matching rule says (or an `error` event when none matches)."""
        engine = self.engine
        view = session_view(self.generation, self.session)
        asked = self._asked(options, view)
        entry = self._entry(options, asked.chat)
        selection = engine.selector.select(asked.chat, self.headers.get("x-fake-llm-scenario"), asked.per_rule)
        entry = replace(entry, reasons=selection.reasons)
        if selection.rule is None or selection.reply is None:
            message = selection.no_match_message(asked.chat, "WS", "/v1/realtime")
            engine.journal.record(replace(entry, outcome="unmatched", status=400, reply="no match"))
            await self.error(message, code="fake_llm_no_match")
            return
        rule, reply = selection.rule, selection.reply
        chat = asked.per_rule(rule)  # the request as the rule heard it (its transcript in place of unheard audio)
        messages = [[m.role, m.text] for m in chat.messages]
        entry = replace(
            entry, rule=rule.name, reply=reply.summary(), step=selection.step, body={**entry.body, "messages": messages}
        )
        await self._hear(rule.transcript, view)
        if reply.error is not None or reply.raw is not None:
            await self._scripted_error(entry, reply)
            return
        context = ReplyContext(selection.captures, engine.settings.seed, lambda i: self.ids("call_"))
        try:
            completion = plan_reply(reply, chat, engine.tokenizer, rule, context)
        except ReplyMismatch as exc:
            engine.journal.record(replace(entry, outcome="mismatch", status=400, reply=str(exc)))
            await self.error(f"fake-llm: {exc}", code="fake_llm_reply_mismatch")
            return
        # The same limiter chat requests go through: the rule's `rate_limit`, then the server-wide one.
        decision = engine.check_rate_limits(rule, completion.usage.total_tokens)
        if not decision.allowed:
            engine.journal.record(replace(entry, status=429, reply=f"rate limited ({decision.kind} per minute)"))
            await self.error(decision.message, code="rate_limit_exceeded", type_=decision.kind)
            return
        spec = self._spec(asked, options, view, completion)
        active = Active(spec.response_id, spec, entry, engine.journal, asked.in_conversation)
        seed = f"{engine.settings.seed}:{rule.name}:{chat.conversation_key}:{selection.step}"
        entry, events, play = self._playback(active, entry, reply, completion, decision.headers, seed)
        engine.journal.record(replace(entry, events=events))
        self.active = active
        active.task = asyncio.ensure_future(play)

    def _asked(self, options: Mapping[str, Any], view: Mapping[str, Any]) -> _Asked:
        """What `response.create` asks, over the session's settings (the GA and beta names differ)."""
        beta = self.generation is BETA
        modalities = options.get("modalities" if beta else "output_modalities")
        max_key = "max_response_output_tokens" if beta else "max_output_tokens"
        max_out = options.get(max_key, self.session.get(max_key))
        voice = options.get("voice") if beta else ((options.get("audio") or {}).get("output") or {}).get("voice")
        items = list(options["input"]) if options.get("input") else self.conversation.items
        chat, per_rule = chat_request(
            items,
            model=str(self.session.get("model")),
            instructions=str(options.get("instructions", self.session.get("instructions")) or ""),
            tools=list(options.get("tools", self.session.get("tools")) or []),
            tool_choice=options.get("tool_choice", self.session.get("tool_choice")),
            max_tokens=max_out if isinstance(max_out, int) else None,
            headers=self.headers,
            body={"type": "response.create", "response": dict(options)},
        )
        return _Asked(
            chat=chat,
            per_rule=per_rule,
            audio="audio" in modalities if modalities is not None else bool(view["audio_out"]),
            voice=voice or view["voice"],
            max_out=max_out,
            in_conversation=options.get("conversation", "auto") != "none",
        )

    def _entry(self, options: Mapping[str, Any], chat: ChatRequest) -> JournalEntry:
        """The journal entry of one response (recorded once, when its outcome is known)."""
        return JournalEntry(
            seq=self.engine.journal.next_seq(),
            time=self.engine.clock.now(),
            method="WS",
            path="/v1/realtime",
            headers=redact_headers(self.headers.items()),
            body={
                "type": "response.create",
                "response": dict(options),
                "messages": [[m.role, m.text] for m in chat.messages],
            },
            api="realtime",
            model=chat.model,
            stream=True,
        )

    async def _scripted_error(self, entry: JournalEntry, reply: Reply) -> None:
        """A rule's `error:` reply as an `error` event; a `raw:` reply has no realtime form."""
        spec = reply.error
        status = spec.status if spec else reply.raw.status if reply.raw else 500
        self.engine.journal.record(replace(entry, status=status))
        if spec is None:
            await self.error("fake-llm: raw replies do not apply to realtime sessions.", code="fake_llm_reply_mismatch")
            return
        await self.error(
            spec.message or "",
            code=str(spec.code) if spec.code is not None else None,
            param=spec.param,
            type_=spec.type or "server_error",
        )

    def _spec(
        self, asked: _Asked, options: Mapping[str, Any], view: Mapping[str, Any], completion: PlannedReply
    ) -> ResponseSpec:
        response_id = self.ids("resp_")
        return ResponseSpec(
            response_id=response_id,
            conversation_id=self.conversation_id if asked.in_conversation else None,
            audio=asked.audio,
            voice=asked.voice,
            max_output_tokens=asked.max_out,
            metadata=options.get("metadata"),
            previous_item_id=self.conversation.last_id() if asked.in_conversation else None,
            input_text_tokens=completion.usage.prompt_tokens,
            input_audio_ms=self.conversation.input_audio_ms(),
            seed=f"{self.engine.settings.seed}:{response_id}",
        )

    def _playback(
        self,
        active: Active,
        entry: JournalEntry,
        reply: Reply,
        completion: PlannedReply,
        limit_headers: Mapping[str, str],
        seed: str,
    ) -> tuple[JournalEntry, list[Event], Awaitable[None]]:
        """The response's events, timed and broken as the reply's `stream:` says (`seed` seeds its jitter), the
        journal entry that describes them, and the task that plays them."""
        settings, spec = self.engine.settings, active.spec
        if reply.hang:
            created = response_object(self.generation, spec, "in_progress", [], None)
            events = [self.event("response.created", response=created)]
            play = self._play(active, events, abort=None, delay_s=0.0, hang_s=settings.max_hang_seconds)
            return replace(entry, faults=["hang"]), events, play
        plan = plan_response(
            self.generation,
            spec,
            completion,
            lambda: self.ids("event_"),
            self.item_id,
            rate_limits(completion.usage.total_tokens, dict(limit_headers)),
        )
        stream = reply.stream
        rng = random.Random(seed) if stream.is_timed else None
        faults = apply_faults(
            schedule(plan.events, stream, rng), stream, lambda error, at: [self._error_event(error, at)]
        )
        events = list(faults.events)
        if stream.error_after is not None:
            active.failure = stream.error
            events.append(Event("", event="response.done", kind=FAILED_DONE, at_ms=events[-1].at_ms if events else 0.0))
        described = faults.describe(stream) + ([f"close_code={stream.close_code}"] if faults.abort else [])
        entry = replace(entry, schedule=[e.at_ms for e in events], faults=described, delay_ms=reply.delay_ms)
        abort = stream.close_code if faults.abort else None
        play = self._play(active, events, abort=abort, delay_s=reply.delay_ms / 1000.0, hang_s=None)
        return entry, events, play

    async def _hear(self, transcript: str | None, view: Mapping[str, Any]) -> None:
        """The matched rule's transcript becomes that of every untranscribed user audio part."""
        if transcript is None:
            return
        for item in self.conversation.items:
            for index, part in enumerate(item.get("content") or ()):
                if item.get("role") == "user" and part.get("type") == "input_audio" and part.get("transcript") is None:
                    part["transcript"] = transcript
                    if view["transcription"]:
                        seconds = round(self.conversation.audio_ms.get(item["id"], 0) / 1000, 3)
                        await self.emit(
                            "conversation.item.input_audio_transcription.completed",
                            item_id=item["id"],
                            content_index=index,
                            transcript=transcript,
                            usage={"type": "duration", "seconds": seconds},
                        )

    def _error_event(self, error: StreamError, position: int) -> Event:
        detail = {
            "type": error.type or "server_error",
            "code": error.code,
            "message": error.message or "",
            "param": error.param,
            "event_id": None,
        }
        return Event(
            dumps({"type": "error", "event_id": self.ids("event_"), "error": detail}), event="error", kind="error"
        )

    # ------------------------------------------------------------------ playing and ending a response

    async def _play(
        self, active: Active, events: list[Event], *, abort: int | None, delay_s: float, hang_s: float | None
    ) -> None:
        """Send `events` on their schedule (scaled by time_scale); then close the socket when a fault says so."""
        scale = self.engine.settings.time_scale
        outcome = "completed"
        try:
            if delay_s:
                await asyncio.sleep(delay_s * scale)
            start = time.monotonic()
            for event in events:
                wait = start + event.at_ms * scale / 1000.0 - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if event.kind == FAILED_DONE:
                    event = self._final(active, "failed")
                self._track(active, event)
                await self.send(event)
            if hang_s is not None:
                await asyncio.sleep(hang_s)
                self._finish(active)
                await self.error(
                    "fake-llm: a hang reply reached the server's max_hang_seconds.",
                    code="timeout",
                    type_="server_error",
                )
                await self.send(self._final(active, "failed"))
                outcome = "hang timed out"
            if abort is not None:
                outcome = f"disconnected (scripted, close code {abort})"
                self._finish(active)
                await self.close(abort)
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except Exception as exc:  # the socket went away mid-response
            log.debug("realtime response %s stopped: %r", active.response_id, exc)
            outcome = "client disconnected"
            self._finish(active)
        finally:
            active.journal.stream_ended(active.entry.seq, outcome, keep_first=True)

    def _finish(self, active: Active) -> None:
        if self.active is active:
            self.active = None

    def _track(self, active: Active, event: Event) -> None:
        if track(active, event, self.generation, self.conversation):
            self._finish(active)

    def _final(self, active: Active, status: str, reason: str | None = None) -> Event:
        return self.event("response.done", response=final_response(self.generation, active, status, reason))

    async def cancel(self, reason: str) -> None:
        """Stop the response in flight: close its open items as `incomplete`, then `response.done` (cancelled)."""
        active = self.active
        if active is None:
            return
        self.active = None
        # Before the task ends, which keeps an ending already noted.
        active.journal.stream_ended(active.entry.seq, f"cancelled ({reason})")
        if active.task is not None:
            active.task.cancel()
            await asyncio.gather(active.task, return_exceptions=True)
        for index, item in enumerate(list(active.open_items.values()), start=len(active.done_items)):
            done = {**item, "status": "incomplete"}
            if active.in_conversation:
                self.conversation.replace(done)
            await self.emit("response.output_item.done", response_id=active.response_id, output_index=index, item=done)
            if self.generation.item_done:
                await self.emit(self.generation.item_done, previous_item_id=None, item=done)
        await self.send(self._final(active, "cancelled", reason))
        active.open_items.clear()

    async def stop(self) -> None:
        """The socket closed: stop any response still playing."""
        active, self.active = self.active, None
        if active is not None and active.task is not None:
            active.journal.stream_ended(active.entry.seq, "client disconnected")
            active.task.cancel()
            await asyncio.gather(active.task, return_exceptions=True)
