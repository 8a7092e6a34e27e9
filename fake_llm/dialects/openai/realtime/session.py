"""The realtime session state machine: client events in, server events out, one response at a time.

Transport-free: the endpoint gives it `send` (one server event) and `close` (a close code), and feeds it each text
frame. Responses play as a task, so `response.cancel` and every other client event are handled while one streams.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

from fake_llm.dialects.openai.realtime import protocol
from fake_llm.dialects.openai.realtime.conversation import PCM_BYTES_PER_MS, Conversation
from fake_llm.dialects.openai.realtime.protocol import ClientEvent, ClientEventError
from fake_llm.dialects.openai.realtime.render import (
    BETA,
    MS_PER_CHAR,
    Generation,
    default_session,
    merged,
    message_item,
    session_view,
)
from fake_llm.dialects.openai.realtime.responder import Responder
from fake_llm.dialects.openai.realtime.vad import Detector

#: The shortest buffer `input_audio_buffer.commit` accepts.
MIN_COMMIT_MS = 100


class RealtimeSession(Responder):
    """One WebSocket session: settings, conversation, input audio buffer and the response in flight."""

    def __init__(self, engine: Any, generation: Generation, model: str, headers: Mapping[str, str], seq: int) -> None:
        super().__init__(engine, generation, headers, seq)
        self.session = default_session(generation, self.ids("sess_"), model, int(engine.clock.now()))
        self.conversation = Conversation()
        self.conversation_id = self.ids("conv_")
        self.buffer = bytearray()
        self.detector = Detector()
        self.vad_item: str | None = None

    async def open(self) -> None:
        await self.emit("session.created", session=self.session)
        if self.generation is BETA:  # the beta interface also announced the default conversation
            await self.emit(
                "conversation.created", conversation={"id": self.conversation_id, "object": "realtime.conversation"}
            )

    async def receive(self, raw: str) -> None:
        """Handle one client text frame; a bad event gets an `error` event and the session goes on."""
        event_id: str | None = None
        try:
            event = protocol.parse_event(raw, self.generation.name)
            event_id = event.event_id
            await self.HANDLERS[event.type](self, event)
        except ClientEventError as exc:
            await self.error(exc.message, code=exc.code, param=exc.param, event_id=exc.event_id or event_id)

    # ------------------------------------------------------------------ session

    async def _session_update(self, event: ClientEvent) -> None:
        update = protocol.field(event.body, "session", dict, "", required=True)
        where = "session"
        if self.generation is BETA:
            protocol.modalities(update, "modalities", where)
            protocol.field(update, "voice", str, where)
            detection = protocol.field(update, "turn_detection", dict, where)
        else:
            kind = protocol.field(update, "type", str, where, required=True)
            protocol.one_of(kind, ("realtime",), "session.type")
            got = protocol.modalities(update, "output_modalities", where)
            if got is not None and len(got) != 1:
                raise ClientEventError(
                    "Invalid 'session.output_modalities': give either ['text'] or ['audio'].",
                    param="session.output_modalities",
                )
            audio = protocol.field(update, "audio", dict, where) or {}
            audio_in = protocol.field(audio, "input", dict, "session.audio") or {}
            detection = protocol.field(audio_in, "turn_detection", dict, "session.audio.input")
        if detection is not None:
            path = "session.turn_detection" if self.generation is BETA else "session.audio.input.turn_detection"
            protocol.one_of(detection.get("type"), ("server_vad", "semantic_vad"), f"{path}.type")
        protocol.field(update, "instructions", str, where)
        protocol.check_tools(protocol.field(update, "tools", list, where), where)
        protocol.field(update, "tool_choice", (str, dict), where)
        self.session = merged(self.session, update)
        await self.emit("session.updated", session=self.session)

    # ------------------------------------------------------------------ conversation items

    async def _item_create(self, event: ClientEvent) -> None:
        item = protocol.check_item(event.body.get("item"), self.generation.name)
        previous = protocol.field(event.body, "previous_item_id", str, "")
        item = dict(item)
        item_id = item.get("id") or self.item_id()
        if self.conversation.has(item_id):
            raise ClientEventError(f"Item with id '{item_id}' already exists.", param="item.id")
        if previous is not None and not self.conversation.has(previous):
            raise ClientEventError(f"Item with item_id not found: {previous}", param="previous_item_id")
        item = {"id": item_id, "object": "realtime.item", "status": "completed", **item}
        if item["type"] == "message":
            content = []
            for part in item["content"]:
                part = dict(part)
                if part["type"] == "input_audio":
                    audio = protocol.audio_bytes(part, "audio", "item.content")
                    self.conversation.audio_ms[item_id] = (
                        self.conversation.audio_ms.get(item_id, 0) + len(audio) / PCM_BYTES_PER_MS
                    )
                    part.pop("audio")
                    part.setdefault("transcript", None)
                content.append(part)
            item["content"] = content
        follows = self.conversation.add(item, previous)
        await self.announce(item, follows)

    async def announce(self, item: dict[str, Any], previous: str | None) -> None:
        await self.emit(self.generation.item_added, previous_item_id=previous, item=item)
        if self.generation.item_done:
            await self.emit(self.generation.item_done, previous_item_id=previous, item=item)

    async def _item_retrieve(self, event: ClientEvent) -> None:
        item_id = protocol.field(event.body, "item_id", str, "", required=True)
        await self.emit("conversation.item.retrieved", item=self.conversation.find(item_id))

    async def _item_delete(self, event: ClientEvent) -> None:
        item_id = protocol.field(event.body, "item_id", str, "", required=True)
        self.conversation.delete(item_id)
        await self.emit("conversation.item.deleted", item_id=item_id)

    async def _item_truncate(self, event: ClientEvent) -> None:
        """Cut an assistant audio item where playback stopped; its transcript keeps only what was spoken by then."""
        item_id = protocol.field(event.body, "item_id", str, "", required=True)
        index = protocol.field(event.body, "content_index", int, "", required=True)
        end_ms = protocol.field(event.body, "audio_end_ms", int, "", required=True)
        item = self.conversation.find(item_id)
        parts = item.get("content") or []
        if (
            item.get("role") != "assistant"
            or index >= len(parts)
            or parts[index].get("type") != self.generation.audio_part
        ):
            raise ClientEventError(
                f"Item {item_id} has no assistant audio at content_index {index}.", param="content_index"
            )
        transcript = str(parts[index].get("transcript") or "")
        if end_ms > len(transcript) * MS_PER_CHAR:
            raise ClientEventError(
                f"audio_end_ms {end_ms} is past the end of the audio ({len(transcript) * MS_PER_CHAR} ms).",
                param="audio_end_ms",
            )
        parts[index] = {**parts[index], "transcript": transcript[: end_ms // MS_PER_CHAR]}
        await self.emit("conversation.item.truncated", item_id=item_id, content_index=index, audio_end_ms=end_ms)

    # ------------------------------------------------------------------ input audio

    async def _audio_append(self, event: ClientEvent) -> None:
        audio = protocol.audio_bytes(event.body, "audio", "")
        self.buffer += audio
        detection = session_view(self.generation, self.session)["turn_detection"]
        if not detection:
            return
        for found in self.detector.feed(audio, detection):
            if found.kind == "started":
                self.vad_item = self.item_id()
                await self.emit("input_audio_buffer.speech_started", audio_start_ms=found.at_ms, item_id=self.vad_item)
                if self.active is not None and detection.get("interrupt_response", True):
                    await self.cancel("turn_detected")
            else:
                item_id = self.vad_item or self.item_id()
                await self.emit("input_audio_buffer.speech_stopped", audio_end_ms=found.at_ms, item_id=item_id)
                await self.commit(item_id)
                if detection.get("create_response", True):
                    await self.respond({})

    async def _audio_commit(self, event: ClientEvent) -> None:
        have = len(self.buffer) / PCM_BYTES_PER_MS
        if have < MIN_COMMIT_MS:
            raise ClientEventError(
                "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
                f"but buffer only has {have:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty",
            )
        self.detector.reset()
        await self.commit(self.vad_item or self.item_id())

    async def commit(self, item_id: str) -> None:
        """The buffer becomes a user audio item (its transcript comes from the rule that answers it)."""
        self.conversation.audio_ms[item_id] = len(self.buffer) / PCM_BYTES_PER_MS
        self.buffer.clear()
        self.vad_item = None
        previous = self.conversation.last_id()
        await self.emit("input_audio_buffer.committed", previous_item_id=previous, item_id=item_id)
        item = message_item(item_id, "user", [{"type": "input_audio", "transcript": None}], "completed")
        await self.announce(item, self.conversation.add(item))

    async def _audio_clear(self, event: ClientEvent) -> None:
        self.buffer.clear()
        self.detector.reset()
        self.vad_item = None
        await self.emit("input_audio_buffer.cleared")

    # ------------------------------------------------------------------ responses

    async def _response_create(self, event: ClientEvent) -> None:
        if self.active is not None:
            raise ClientEventError(
                f"Conversation already has an active response in progress: {self.active.response_id}. "
                "Wait until the response is finished before creating a new one.",
                code="conversation_already_has_active_response",
            )
        options = protocol.field(event.body, "response", dict, "") or {}
        protocol.field(options, "instructions", str, "response")
        protocol.modalities(options, "modalities" if self.generation is BETA else "output_modalities", "response")
        protocol.check_tools(protocol.field(options, "tools", list, "response"), "response")
        conversation = protocol.field(options, "conversation", str, "response")
        if conversation is not None:
            protocol.one_of(conversation, ("auto", "none"), "response.conversation")
        for item in protocol.field(options, "input", list, "response") or ():
            protocol.check_item(item, self.generation.name)
        await self.respond(options)

    async def _response_cancel(self, event: ClientEvent) -> None:
        wanted = protocol.field(event.body, "response_id", str, "")
        if self.active is None or (wanted is not None and wanted != self.active.response_id):
            raise ClientEventError("Cancellation failed: no active response found", code="response_cancel_not_active")
        await self.cancel("client_cancelled")

    async def _ignored(self, event: ClientEvent) -> None:
        """`output_audio_buffer.clear` only matters over WebRTC/SIP; over a WebSocket there is nothing to clear."""

    async def _unsupported(self, event: ClientEvent) -> None:
        raise ClientEventError(
            f"fake-llm does not serve {event.type} (transcription-only sessions).", code="fake_llm_unsupported"
        )

    HANDLERS: ClassVar[dict[str, Callable[[RealtimeSession, ClientEvent], Awaitable[None]]]] = {
        "session.update": _session_update,
        "input_audio_buffer.append": _audio_append,
        "input_audio_buffer.commit": _audio_commit,
        "input_audio_buffer.clear": _audio_clear,
        "conversation.item.create": _item_create,
        "conversation.item.retrieve": _item_retrieve,
        "conversation.item.truncate": _item_truncate,
        "conversation.item.delete": _item_delete,
        "response.create": _response_create,
        "response.cancel": _response_cancel,
        "output_audio_buffer.clear": _ignored,
        "transcription_session.update": _unsupported,
    }
