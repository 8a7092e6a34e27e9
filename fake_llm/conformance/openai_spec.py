"""The OpenAI family's checker: every body and event against openai/openai-openapi (fixtures/specs/openai), plus
the event order the Responses stream must follow.

Extra fields are allowed where the document allows them (it rarely forbids `additionalProperties`): the document
is the judge, and Azure's documented additions (`prompt_filter_results`) ride on the same schemas.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

from fake_llm.conformance import openapi
from fake_llm.conformance.registry import SSEEvent, Verdict, Violation, register

FAMILY = "openai"
#: Schemas chosen by API name for a 2xx non-stream body, and for each chunk of a stream.
BODY = {
    "openai-chat": "CreateChatCompletionResponse",
    "azure": "CreateChatCompletionResponse",
    "scale": "CreateChatCompletionResponse",
    "completions": "CreateCompletionResponse",
    "embeddings": "CreateEmbeddingResponse",
    "responses": "Response",
    "images": "ImagesResponse",
    "moderations": "CreateModerationResponse",
    "transcriptions": "CreateTranscriptionResponseJson",
    "translations": "CreateTranslationResponseJson",
}
#: `response_format=verbose_json` (and the diarized transcription) bodies, told apart by their fields.
VERBOSE = {
    "transcriptions": "CreateTranscriptionResponseVerboseJson",
    "translations": "CreateTranslationResponseVerboseJson",
}
DIARIZED = "CreateTranscriptionResponseDiarizedJson"
CHUNK = {
    "transcriptions": "CreateTranscriptionResponseStreamEvent",
    "speech": "CreateSpeechResponseStreamEvent",
    "openai-chat": "CreateChatCompletionStreamResponse",
    "azure": "CreateChatCompletionStreamResponse",
    "scale": "CreateChatCompletionStreamResponse",
    "completions": "CreateCompletionResponse",
}
ERROR = "ErrorResponse"
#: The event that ends an audio stream (`SpeechAudioDoneEvent`, `TranscriptTextDoneEvent`).
AUDIO_DONE = {"speech": "speech.audio.done", "transcriptions": "transcript.text.done"}
#: Where the real API departs from its own document, and fake-llm follows the real API: (api or `*`, schema,
#: field pattern, message start, why). Each is a deliberate, recorded exception, never a way to silence a finding.
QUIRKS: tuple[tuple[str, str, str, str, str], ...] = (
    ("azure", "CreateChatCompletionStreamResponse", r"\$\.object", "'' is not", "Azure's prompt-filter chunk"),
    ("azure", "ErrorResponse", r"\$\.error\.type", "'", "Azure's envelope is {code, message} (its own spec)"),
    ("*", "CreateCompletionResponse", r"\$\.system_fingerprint", "None is not", "legacy completions send null (§4.1)"),
    ("*", "CreateCompletionResponse", r"\$\.choices\[\d+\]\.finish_reason", "None is not", "null until the last chunk"),
    ("*", "CreateCompletionResponse", r"\$\.usage", "None is not", "null on chunks with include_usage (§4.1)"),
    ("*", "CreateCompletionResponse", r"\$\.choices\[\d+\]\.logprobs\.token_logprobs\[0\]", "None is not",
     "echo: the first prompt token has no log probability"),
    ("*", "CreateEmbeddingResponse", r"\$\.data\[\d+\]\.embedding", "'", "encoding_format=base64 sends a string"),
)  # fmt: skip
#: Events that end a Responses stream (spec: `ResponseCompletedEvent`, `ResponseFailedEvent`, ...).
TERMINAL = ("response.completed", "response.failed", "response.incomplete")


def waive(api: str, violations: list[Violation]) -> list[Violation]:
    """`violations` without those QUIRKS explains."""
    return [
        v
        for v in violations
        if not any(
            quirk_api in ("*", api)
            and v.schema == schema
            and re.fullmatch(field, v.field)
            and v.message.startswith(start)
            for quirk_api, schema, field, start, _ in QUIRKS
        )
    ]


@functools.lru_cache(maxsize=1)
def event_schemas() -> dict[str, str]:
    """Responses stream event type -> the schema of that event, read from `ResponseStreamEvent`'s members."""
    out: dict[str, str] = {}
    for member in openapi.schema(FAMILY, "ResponseStreamEvent")["anyOf"]:
        name = member["$ref"].rsplit("/", 1)[1]
        enum = openapi.schema(FAMILY, name).get("properties", {}).get("type", {}).get("enum", [])
        for type_ in enum:
            out.setdefault(type_, name)
    return out


class OpenAIChecker:
    family = FAMILY
    apis: tuple[str, ...] = (
        "openai-chat",
        "azure",
        "scale",
        "completions",
        "embeddings",
        "responses",
        "openai-models",
        "images",
        "moderations",
        "speech",
        "transcriptions",
        "translations",
    )

    def available(self) -> str | None:
        return None

    def response_schemas(self) -> list[str]:
        names = {*BODY.values(), *CHUNK.values(), *VERBOSE.values(), DIARIZED, ERROR, "ListModelsResponse", "Model"}
        return sorted(names | set(event_schemas().values()))

    def check_body(self, api: str, path: str, status: int, body: Any) -> Verdict:
        verdict = Verdict()
        if status >= 400:
            name = ERROR
        elif api == "openai-models":
            name = "Model" if path.rstrip("/") != "/v1/models" else "ListModelsResponse"
        elif isinstance(body, bytes):  # speech audio, text/srt/vtt transcripts: no JSON schema to hold them to
            return verdict
        else:
            name = _body_schema(api, body)
        verdict.add(name, waive(api, openapi.validate(FAMILY, name, body)))
        return verdict

    def check_stream(self, api: str, path: str, events: Sequence[SSEEvent], *, complete: bool) -> Verdict:
        verdict = Verdict()
        if api == "responses":
            return self._responses(events, complete, verdict)
        name = CHUNK[api]
        for i, event in enumerate(events):
            if event.data == "[DONE]":
                continue
            if isinstance(event.data, dict) and "error" in event.data:
                verdict.add(ERROR, waive(api, openapi.validate(FAMILY, ERROR, event.data, f"event {i} (error)")))
                continue
            verdict.add(name, waive(api, openapi.validate(FAMILY, name, event.data, f"event {i}")))
        ended_by_error = bool(events) and isinstance(events[-1].data, dict) and "error" in events[-1].data
        if api in AUDIO_DONE:  # audio streams end with their done event, no [DONE] sentinel
            last = events[-1].data if events else None
            if complete and not ended_by_error and not (isinstance(last, dict) and last.get("type") == AUDIO_DONE[api]):
                verdict.violations.append(
                    Violation(name, "$.type", f"the stream does not end with {AUDIO_DONE[api]}", "stream order")
                )
        elif complete and not ended_by_error and (not events or events[-1].data != "[DONE]"):
            verdict.violations.append(Violation(name, "$", "the stream does not end with data: [DONE]", "stream order"))
        return verdict

    def _responses(self, events: Sequence[SSEEvent], complete: bool, verdict: Verdict) -> Verdict:
        schemas = event_schemas()
        for i, event in enumerate(events):
            type_ = event.data.get("type") if isinstance(event.data, dict) else None
            where = f"event {i} ({type_})"
            name = schemas.get(str(type_))
            if name is None:
                verdict.violations.append(Violation("ResponseStreamEvent", "$.type", f"unknown type {type_!r}", where))
                continue
            if event.event != type_:
                verdict.violations.append(Violation(name, "event:", f"event line {event.event!r} != {type_!r}", where))
            verdict.add(name, openapi.validate(FAMILY, name, event.data, where))
        verdict.violations.extend(responses_order(events, complete))
        return verdict


def _body_schema(api: str, body: Any) -> str:
    if api in VERBOSE and isinstance(body, dict) and "duration" in body:
        segments = body.get("segments") or []
        if api == "transcriptions" and segments and isinstance(segments[0], dict) and "speaker" in segments[0]:
            return DIARIZED
        return VERBOSE[api]
    return BODY[api]


def responses_order(events: Sequence[SSEEvent], complete: bool) -> list[Violation]:
    """The order the Responses stream guarantees (and openai-python's stream helper enforces): created first,
    sequence numbers 0, 1, 2..., content only inside its open item, every item added once and done once, and
    exactly one terminal event, last; after an `error` event only `response.failed` may follow."""
    out: list[Violation] = []
    schema = "ResponseStreamEvent"

    def fail(i: int, message: str, field: str = "$.type") -> None:
        out.append(Violation(schema, field, message, f"stream order, event {i}"))

    types = [e.data.get("type") if isinstance(e.data, dict) else None for e in events]
    if types and types[0] != "response.created":
        fail(0, f"the first event must be response.created, not {types[0]!r}")
    open_items: set[Any] = set()
    added: set[Any] = set()
    ended_at: int | None = None
    errored = False
    last_number = -1
    for i, (event, type_) in enumerate(zip(events, types, strict=True)):
        data = event.data if isinstance(event.data, dict) else {}
        number = data.get("sequence_number")
        # Exact when whole; a scripted fault may drop events, and then only the order must hold.
        if (complete and number != i) or (not isinstance(number, int)) or number <= last_number:
            fail(i, f"sequence_number {number!r}, expected {i if complete else f'more than {last_number}'}",
                 "$.sequence_number")  # fmt: skip
        last_number = number if isinstance(number, int) else last_number
        if ended_at is not None:
            fail(i, f"{type_!r} after the terminal event")
        if errored and type_ != "response.failed":
            fail(i, f"{type_!r} after an error event: only response.failed may follow")
        index = data.get("output_index")
        if type_ == "response.output_item.added":
            if index in added:
                fail(i, f"output_index {index} added twice")
            added.add(index)
            open_items.add(index)
        elif type_ == "response.output_item.done":
            if index not in open_items:
                fail(i, f"output_item.done for output_index {index}, which is not open")
            open_items.discard(index)
        elif index is not None and index not in open_items:
            fail(i, f"{type_} for output_index {index} outside its output_item.added/done")
        if type_ == "error":
            errored = True
        if type_ in TERMINAL:
            ended_at = i
            if errored and type_ != "response.failed":
                fail(i, "a stream with an error event must end with response.failed")
    if complete and ended_at is None:
        fail(len(events), "the stream has no terminal event (response.completed, failed or incomplete)")
    return out


register(OpenAIChecker())
