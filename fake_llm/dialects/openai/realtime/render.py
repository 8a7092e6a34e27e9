"""Realtime server events: the session object, conversation items, the response object and its usage, the event
names of each API generation (GA, and the beta names `OpenAI-Beta: realtime=v1` clients get), and speech audio."""

from __future__ import annotations

import copy
import hashlib
import math
import sys
from array import array
from dataclasses import dataclass
from typing import Any

#: Output audio: 16-bit little-endian mono PCM at 24 kHz (the service's `audio/pcm` / `pcm16`).
SAMPLE_RATE = 24_000
#: Milliseconds of speech per character of transcript (about 15 characters a second, an ordinary speaking pace).
MS_PER_CHAR = 65
#: Audio tokens per second of output and of input audio, as the service bills them.
OUTPUT_AUDIO_TOKENS_PER_S = 20
INPUT_AUDIO_TOKENS_PER_S = 10
#: How long a session lives, as `expires_at` reports (30 minutes).
SESSION_SECONDS = 1800


@dataclass(frozen=True, slots=True)
class Generation:
    """Event and part names that differ between the GA interface and the beta one."""

    name: str
    text_delta: str
    text_done: str
    audio_delta: str
    audio_done: str
    transcript_delta: str
    transcript_done: str
    text_part: str
    audio_part: str
    #: GA announces items with `conversation.item.added` and finishes them with `conversation.item.done`.
    item_added: str
    item_done: str | None


GA = Generation(
    "ga",
    "response.output_text.delta",
    "response.output_text.done",
    "response.output_audio.delta",
    "response.output_audio.done",
    "response.output_audio_transcript.delta",
    "response.output_audio_transcript.done",
    "output_text",
    "output_audio",
    "conversation.item.added",
    "conversation.item.done",
)
BETA = Generation(
    "beta",
    "response.text.delta",
    "response.text.done",
    "response.audio.delta",
    "response.audio.done",
    "response.audio_transcript.delta",
    "response.audio_transcript.done",
    "text",
    "audio",
    "conversation.item.created",
    None,
)

_TURN_DETECTION = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
    "create_response": True,
    "interrupt_response": True,
}


def default_session(generation: Generation, session_id: str, model: str, created: int) -> dict[str, Any]:
    """The session object `session.created` reports before any `session.update`."""
    if generation is BETA:
        return {
            "id": session_id,
            "object": "realtime.session",
            "model": model,
            "expires_at": created + SESSION_SECONDS,
            "modalities": ["text", "audio"],
            "instructions": "",
            "voice": "alloy",
            "input_audio_format": "pcm16",
            "output_audio_format": "pcm16",
            "input_audio_transcription": None,
            "turn_detection": dict(_TURN_DETECTION),
            "tools": [],
            "tool_choice": "auto",
            "temperature": 0.8,
            "max_response_output_tokens": "inf",
            "tracing": None,
        }
    pcm = {"type": "audio/pcm", "rate": SAMPLE_RATE}
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "prompt": None,
        "expires_at": created + SESSION_SECONDS,
        "audio": {
            "input": {
                "format": dict(pcm),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": {**_TURN_DETECTION, "idle_timeout_ms": None},
            },
            "output": {"format": dict(pcm), "voice": "marin", "speed": 1.0},
        },
        "include": None,
    }


def merged(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """`base` with `update` merged in key by key (a None value clears a setting, as in `turn_detection: null`)."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def session_view(generation: Generation, session: dict[str, Any]) -> dict[str, Any]:
    """The settings the state machine reads, whatever the generation calls them."""
    if generation is BETA:
        return {
            "audio_out": "audio" in session.get("modalities", ()),
            "turn_detection": session.get("turn_detection"),
            "transcription": session.get("input_audio_transcription"),
            "voice": session.get("voice"),
        }
    audio = session.get("audio") or {}
    audio_in, audio_out = audio.get("input") or {}, audio.get("output") or {}
    return {
        "audio_out": "audio" in session.get("output_modalities", ()),
        "turn_detection": audio_in.get("turn_detection"),
        "transcription": audio_in.get("transcription"),
        "voice": audio_out.get("voice"),
    }


def message_item(item_id: str, role: str, content: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "object": "realtime.item",
        "status": status,
        "role": role,
        "content": content,
    }


def function_call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "object": "realtime.item",
        "status": status,
        "name": name,
        "call_id": call_id,
        "arguments": arguments,
    }


def usage(
    text_in: int, audio_in_ms: float, text_out: int, audio_out_ms: float, overrides: dict[str, Any]
) -> dict[str, Any]:
    """The response usage: text tokens from the tokenizer, audio tokens from the audio's duration."""
    audio_in = math.ceil(audio_in_ms / 1000 * INPUT_AUDIO_TOKENS_PER_S)
    audio_out = math.ceil(audio_out_ms / 1000 * OUTPUT_AUDIO_TOKENS_PER_S)
    body: dict[str, Any] = {
        "total_tokens": text_in + audio_in + text_out + audio_out,
        "input_tokens": text_in + audio_in,
        "output_tokens": text_out + audio_out,
        "input_token_details": {
            "text_tokens": text_in,
            "audio_tokens": audio_in,
            "image_tokens": 0,
            "cached_tokens": 0,
            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
    }
    body.update(overrides)
    return body


def speech_ms(text: str) -> int:
    """A plausible duration for `text` spoken aloud."""
    return len(text) * MS_PER_CHAR


def speech(text: str, seed: str) -> bytes:
    """Deterministic PCM16 audio lasting `speech_ms(text)`: a soft tone whose pitch follows the text and the seed,
    so the same words always give the same bytes and a player hears something rather than silence."""
    samples = SAMPLE_RATE * speech_ms(text) // 1000
    if not samples:
        return b""
    pitch = 110 + hashlib.blake2b(f"{seed}:{text}".encode(), digest_size=2).digest()[0]
    step = 2 * math.pi * pitch / SAMPLE_RATE
    pcm = array("h", (int(2000 * math.sin(step * i)) for i in range(samples)))
    if sys.byteorder == "big":  # the wire format is little-endian
        pcm.byteswap()
    return pcm.tobytes()
