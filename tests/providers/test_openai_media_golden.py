"""Byte-exact golden transcripts of the OpenAI media and moderation endpoints (in-process, frozen clock, seed 0).
Regenerate with FAKE_LLM_UPDATE_GOLDENS=1, then read the diff as a reviewer: these files are the wire contract."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from fake_llm.app import create_app
from fake_llm.media import tone, wav
from fake_llm.scenarios import parse_rules
from fake_llm.settings import Settings

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "golden"
RULES = """
- name: threat
  match: {api: moderations, any_message: kill}
  reply: {moderation: {categories: {violence: 0.93}}}
- name: moderate
  match: {api: moderations}
  reply: {moderation: {}}
- name: image
  match: {api: images}
  reply: {image: {}}
- name: speech
  match: {api: speech}
  reply: {audio: {}}
- name: transcript
  match: {api: transcriptions}
  reply: {content: "Hello there. How are you today?"}
"""
UPLOAD = {"file": ("hello.wav", wav(tone(2.0, 200, 4)), "audio/wav")}


def check_golden(name: str, actual: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("FAKE_LLM_UPDATE_GOLDENS") == "1":
        path.write_bytes(actual)
    assert actual == path.read_bytes(), f"{path} differs; FAKE_LLM_UPDATE_GOLDENS=1 rewrites it"


@pytest.mark.parametrize(
    ("name", "path", "request_args"),
    [
        ("openai_moderation.json", "/v1/moderations", {"json": {"input": ["I will kill you", "a nice day"]}}),
        (
            "openai_image_b64.json",
            "/v1/images/generations",
            {"json": {"prompt": "a cat", "size": "256x256", "response_format": "b64_json"}},
        ),
        ("openai_image_url.json", "/v1/images/generations", {"json": {"prompt": "a cat", "model": "dall-e-3"}}),
        (
            "openai_speech.wav",
            "/v1/audio/speech",
            {"json": {"model": "tts-1", "voice": "alloy", "input": "Hi.", "response_format": "wav"}},
        ),
        ("openai_transcription.json", "/v1/audio/transcriptions", {"files": UPLOAD, "data": {"model": "whisper-1"}}),
        (
            "openai_transcription_verbose.json",
            "/v1/audio/transcriptions",
            {
                "files": UPLOAD,
                "data": {
                    "model": "whisper-1",
                    "response_format": "verbose_json",
                    "timestamp_granularities[]": ["word", "segment"],
                },
            },
        ),
        (
            "openai_transcription.vtt",
            "/v1/audio/transcriptions",
            {"files": UPLOAD, "data": {"model": "whisper-1", "response_format": "vtt"}},
        ),
    ],
)
def test_golden_media(name: str, path: str, request_args: dict[str, Any]) -> None:
    app = create_app(Settings(freeze_time=1767225600, seed=0), scenarios=[parse_rules(RULES, source="<golden>")])
    with TestClient(app) as client:
        response = client.post(path, **request_args)
    assert response.status_code == 200, response.text
    check_golden(name, response.content)
