"""An upstream answer read into a provider-neutral Transcript by its dialect's reader (`dialects.TRANSCRIPTS`, each
beside its dialect's parser and renderer): from a whole JSON body (`read_body`), or from the events relay.py read
as they arrived (`read_stream`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fake_llm.dialects import TRANSCRIPTS
from fake_llm.dialects.openai.transcript import CHAT
from fake_llm.model.request import ChatRequest
from fake_llm.model.transcript import SSEEvent, Transcript, TranscriptReader


def reader(api: str) -> TranscriptReader:
    """The reader of dialect `api`'s answers; OpenAI chat's shape for a dialect that names none."""
    return TRANSCRIPTS.get(api, CHAT)


def read_body(api: str, body: Any, request: ChatRequest | None = None) -> Transcript:
    """The transcript of a whole (non-streamed) 2xx JSON body answering `request`."""
    return reader(api).body(body, request)


def read_stream(api: str, events: Sequence[SSEEvent]) -> Transcript:
    """The transcript of a stream's events."""
    return (reader(api).stream or CHAT.stream or _never)(events)


def _never(events: Sequence[SSEEvent]) -> Transcript:  # pragma: no cover - CHAT reads streams
    raise AssertionError("OpenAI chat's reader reads streams")
