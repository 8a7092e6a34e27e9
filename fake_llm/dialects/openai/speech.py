"""OpenAI text to speech (`POST /v1/audio/speech`): real audio bytes as long as the input read aloud (a tone per
word at a pitch set by the voice), as WAV, raw PCM (24 kHz 16-bit mono), or MP3 when lameenc is installed; with
`stream_format: sse`, the same bytes in `speech.audio.delta` events and a closing `speech.audio.done`."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fake_llm.core.media import mp3, mp3_available, speech_seconds, tone, wav
from fake_llm.dialects.base import ReplyMeta
from fake_llm.dialects.openai.chat import OpenAIChat
from fake_llm.dialects.openai.request import invalid_type, missing, number_field
from fake_llm.dialects.openai.responses_request import check_type, invalid_value, parse_model
from fake_llm.errors import ProviderRequestError
from fake_llm.model.plan import PlannedReply
from fake_llm.model.request import ChatRequest, Message, options_of
from fake_llm.model.stream import Event

VOICES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "fable",
    "nova",
    "onyx",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
)
FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
CONTENT_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "pcm": "audio/pcm"}
MAX_INPUT = 4096
#: Bytes of audio per `speech.audio.delta` event.
SSE_CHUNK = 12000


def supported_formats() -> tuple[str, ...]:
    return ("mp3", "wav", "pcm") if mp3_available() else ("wav", "pcm")


def voice_pitch(voice: str) -> float:
    """A speaking pitch between 110 and 250 Hz, fixed per voice."""
    return 110 + hashlib.blake2b(voice.encode(), digest_size=1).digest()[0] * 140 / 255


@dataclass(frozen=True, slots=True)
class SpeechOptions:
    """What the speech renderer needs beyond the neutral request."""

    #: A voice name, or a custom voice object.
    voice: Any = "alloy"
    speed: float = 1.0
    #: `response_format`: mp3, wav, pcm ...
    format: str = "mp3"


class OpenAISpeech(OpenAIChat):
    """The speech dialect; auth, error envelope and headers are Chat's."""

    api = "speech"
    id_prefix = "speech-"  # speech replies carry no id; the engine still names each reply
    routes: tuple[str, ...] = ("/v1/audio/speech",)
    answers_json = False  # audio bytes

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> ChatRequest:
        """The input is the user message rules match; the default format, mp3, needs the `media` extra."""
        model = parse_model(body)
        text = body.get("input")
        if text is None:
            raise missing("input")
        check_type(body, "input", str, "a string")
        if len(text) > MAX_INPUT:
            raise ProviderRequestError(
                f"Invalid 'input': string too long. Expected a string with maximum length {MAX_INPUT}, but got a "
                f"string with length {len(text)} instead.",
                param="input",
                code="string_above_max_length",
            )
        voice = body.get("voice")
        if voice is None:
            raise missing("voice")
        if not isinstance(voice, (str, dict)):
            raise invalid_type("voice", "a string", voice)
        if isinstance(voice, str) and voice not in VOICES:
            raise invalid_value(voice, VOICES, "voice")
        audio_format = check_type(body, "response_format", str, "a string") or "mp3"
        if audio_format not in FORMATS:
            raise invalid_value(audio_format, FORMATS, "response_format")
        if audio_format not in supported_formats():
            hint = " (mp3 needs the optional encoder: pip install 'fake-llm[media]')" if audio_format == "mp3" else ""
            raise ProviderRequestError(
                f"fake-llm cannot encode {audio_format!r} audio{hint}; supported response_format values here: "
                f"{', '.join(supported_formats())}.",
                param="response_format",
                code="unsupported_value",
            )
        number_field(body, "speed", 0.25, 4.0)
        check_type(body, "instructions", str, "a string")
        stream_format = check_type(body, "stream_format", str, "a string") or "audio"
        if stream_format not in ("audio", "sse"):
            raise invalid_value(stream_format, ("audio", "sse"), "stream_format")
        return ChatRequest(
            api=self.api,
            model=model,
            messages=(Message("user", text),),
            stream=stream_format == "sse",
            options=SpeechOptions(voice=body.get("voice"), speed=float(body.get("speed") or 1.0), format=audio_format),
            headers=headers,
            body={**body, "response_format": audio_format},
        )

    def audio(self, completion: PlannedReply, request: ChatRequest) -> bytes:
        """The whole encoded answer."""
        spec = completion.media.get("audio") or {}
        text = request.last_user
        options = options_of(request, SpeechOptions)
        voice = options.voice
        seconds = spec.get("seconds") or speech_seconds(text, options.speed)
        frequency = spec.get("frequency") or voice_pitch(voice if isinstance(voice, str) else json.dumps(voice))
        pcm = tone(seconds, frequency, len(text.split()))
        audio_format = options.format
        return wav(pcm) if audio_format == "wav" else mp3(pcm) if audio_format == "mp3" else pcm

    def encode_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> tuple[bytes, str]:
        return self.audio(completion, request), CONTENT_TYPES[options_of(request, SpeechOptions).format]

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        raise NotImplementedError("speech answers audio bytes: encode_body")  # pragma: no cover - never called

    def stream_events(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        data = self.audio(completion, request)
        events = [
            Event(
                json.dumps({"type": "speech.audio.delta", "audio": base64.b64encode(data[i : i + SSE_CHUNK]).decode()}),
                kind="content",
                step=n,
            )
            for n, i in enumerate(range(0, len(data), SSE_CHUNK))
        ]
        prompt = completion.usage.prompt_tokens
        output = max(1, len(data) // 960)  # audio tokens: about one per 20 ms
        usage = {"input_tokens": prompt, "output_tokens": output, "total_tokens": prompt + output}
        events.append(Event(json.dumps({"type": "speech.audio.done", "usage": usage}), kind="done"))
        return events
