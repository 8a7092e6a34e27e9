"""OpenAI speech to text (`POST /v1/audio/transcriptions` and `/v1/audio/translations`): multipart uploads (parsed
by the HTTP layer), the text from the rule's reply, answered as `json`, `text`, `srt`, `vtt` or
`verbose_json` (segments, and words when asked), or streamed as `transcript.text.*` events (gpt-4o models)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fake_llm.core.media import speech_seconds
from fake_llm.core.steps import StepOptions, choice_steps
from fake_llm.dialects.base import ReplyMeta
from fake_llm.dialects.openai.chat import OpenAIChat
from fake_llm.dialects.openai.request import missing
from fake_llm.dialects.openai.responses_request import invalid_value
from fake_llm.dialects.openai.segments import language_name, segments, subtitles, words
from fake_llm.errors import ProviderRequestError
from fake_llm.model.plan import PlannedReply
from fake_llm.model.request import ChatRequest, Message, options_of
from fake_llm.model.steps import StepKind
from fake_llm.model.stream import Event

FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
#: The gpt-4o transcribe models answer json or text only, and are the ones that stream.
GPT4O_FORMATS = ("json", "text")
GRANULARITIES = ("word", "segment")
TEXT_TYPES = {"text": "text/plain", "srt": "text/plain", "vtt": "text/vtt"}


def _is_gpt4o(model: str) -> bool:
    return model.startswith("gpt-4o")


@dataclass(frozen=True, slots=True)
class AudioOptions:
    """What the transcription renderers need beyond the neutral request."""

    #: `response_format`: json, text, srt, verbose_json or vtt.
    format: str = "json"
    temperature: float = 0.0
    #: `timestamp_granularities` of a verbose_json answer (segment when none is asked).
    granularities: tuple[str, ...] = ("segment",)
    #: The `language` given (an ISO-639-1 code), or None.
    language: Any = None
    #: The uploaded audio's length when the upload tells it, else None.
    seconds: Any = None


#: A transcript streams its text only.
_STEPS = StepOptions(reasoning=False, refusal=False)


class OpenAITranscriptions(OpenAIChat):
    """Transcriptions; auth, error envelope and headers are Chat's. `user:` matches the uploaded file's name and
    `system:` the prompt."""

    api = "transcriptions"
    id_prefix = "tr-"  # transcripts carry no id; the engine still names each reply
    routes: tuple[str, ...] = ("/v1/audio/transcriptions",)
    task = "transcribe"

    #: Sent as multipart/form-data: the HTTP layer parses the form (http/multipart.py) and describes the upload.
    body_format = "multipart"
    answers_json = False  # text, srt and vtt transcripts are plain text

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> ChatRequest:
        upload = body.get("file")
        if not isinstance(upload, dict):
            raise missing("file")
        model = body.get("model")
        if not model:
            raise missing("model")
        audio_format = body.get("response_format") or "json"
        supported = GPT4O_FORMATS if _is_gpt4o(model) else FORMATS
        if audio_format not in supported:
            raise invalid_value(audio_format, supported, "response_format")
        granularities = body.get("timestamp_granularities") or []
        for granularity in granularities:
            if granularity not in GRANULARITIES:
                raise invalid_value(granularity, GRANULARITIES, "timestamp_granularities[]")
        if granularities and audio_format != "verbose_json":
            raise ProviderRequestError(
                "timestamp_granularities requires response_format=verbose_json.",
                param="timestamp_granularities[]",
            )
        temperature = self._temperature(body.get("temperature"))
        stream = str(body.get("stream", "false")).lower() == "true"
        if stream and not _is_gpt4o(model):
            raise ProviderRequestError(
                f"Streaming is not supported for the model {model}; use gpt-4o-transcribe or gpt-4o-mini-transcribe.",
                param="stream",
            )
        messages = [Message("user", upload["filename"])]
        if body.get("prompt"):
            messages.insert(0, Message("system", str(body["prompt"])))
        normalized = {**body, "response_format": audio_format, "temperature": temperature}
        options = AudioOptions(
            format=audio_format,
            temperature=temperature,
            granularities=tuple(granularities) or ("segment",),
            language=body.get("language"),
            seconds=upload.get("seconds"),
        )
        return ChatRequest(
            api=self.api,
            model=model,
            messages=tuple(messages),
            stream=stream,
            options=options,
            headers=headers,
            body=normalized,
        )

    @staticmethod
    def _temperature(raw: Any) -> float:
        try:
            value = float(raw) if raw not in (None, "") else 0.0
        except ValueError:
            raise ProviderRequestError(
                f"Invalid 'temperature': {raw!r} is not a number.", param="temperature"
            ) from None
        if not 0 <= value <= 1:
            raise ProviderRequestError(f"Invalid 'temperature': {value} is not between 0 and 1.", param="temperature")
        return value

    # ------------------------------------------------------------------ rendering

    def _facts(self, completion: PlannedReply, request: ChatRequest) -> tuple[str, str, float]:
        """Text, language name and duration in seconds."""
        spec = completion.media.get("transcript") or {}
        text = completion.choices[0].text or ""
        options = options_of(request, AudioOptions)
        language = spec.get("language") or language_name(options.language)
        duration = spec.get("duration") or options.seconds or speech_seconds(text)
        return text, language, float(duration)

    def _usage(self, completion: PlannedReply, request: ChatRequest, duration: float) -> dict[str, Any]:
        if not _is_gpt4o(request.model):
            return {"type": "duration", "seconds": math.ceil(duration)}
        audio = max(1, round(duration * 10))  # about ten audio tokens a second
        text = completion.usage.prompt_tokens if request.system else 0
        output = completion.usage.completion_tokens
        return {
            "type": "tokens",
            "input_tokens": audio + text,
            "input_token_details": {"text_tokens": text, "audio_tokens": audio},
            "output_tokens": output,
            "total_tokens": audio + text + output,
        }

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        text, language, duration = self._facts(completion, request)
        usage = self._usage(completion, request, duration)
        options = options_of(request, AudioOptions)
        if options.format != "verbose_json":
            return {"text": text, "usage": usage} if self.task == "transcribe" else {"text": text}
        found = segments(text, duration, options.temperature)
        body: dict[str, Any] = {"task": self.task, "language": language, "duration": duration, "text": text}
        if "word" in options.granularities:
            body["words"] = words(found)
        if "segment" in options.granularities:
            body["segments"] = found
        body["usage"] = usage
        return body

    def encode_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> tuple[bytes, str]:
        options = options_of(request, AudioOptions)
        audio_format = options.format
        if audio_format in ("json", "verbose_json"):
            body = self.completion_body(completion, meta, request)
            return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(), "application/json"
        text, _, duration = self._facts(completion, request)
        if audio_format == "text":
            return (text + "\n").encode(), TEXT_TYPES["text"]
        found = segments(text, duration, options.temperature)
        return subtitles(found, audio_format).encode(), TEXT_TYPES[audio_format]

    def stream_events(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        """`transcript.text.delta` per chunk, then `transcript.text.done` with the text and usage; no [DONE]."""
        choice = completion.choices[0]
        events = [
            Event(json.dumps({"type": "transcript.text.delta", "delta": s.text}), tokens=len(s.tokens), step=s.piece)
            for s in choice_steps(choice, _STEPS)
            if s.kind is StepKind.TEXT
        ]
        text, _, duration = self._facts(completion, request)
        done = {"type": "transcript.text.done", "text": text, "usage": self._usage(completion, request, duration)}
        events.append(Event(json.dumps(done), kind="done"))
        return events


class OpenAITranslations(OpenAITranscriptions):
    """Translations into English: whisper-1 only, no `language`, task `translate`."""

    api = "translations"
    routes: tuple[str, ...] = ("/v1/audio/translations",)
    task = "translate"

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> ChatRequest:
        if body.get("model") and body["model"] != "whisper-1":
            raise invalid_value(body["model"], ("whisper-1",), "model")
        if body.get("stream") is not None:
            raise ProviderRequestError("Unrecognized request argument supplied: stream", param="stream")
        request = super().parse({k: v for k, v in body.items() if k != "language"}, headers, params)
        options = dataclasses.replace(options_of(request, AudioOptions), language="en")
        return ChatRequest(
            api=self.api,
            model=request.model,
            messages=request.messages,
            options=options,
            headers=headers,
            body={**request.body, "language": "en"},
        )
