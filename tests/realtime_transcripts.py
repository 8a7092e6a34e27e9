"""Golden transcripts of realtime sessions: a scripted client drives a fresh server (fixed seed, frozen time) over a
raw WebSocket and every client and server event is written one JSON object a line.

tests/goldens.py lists them with every other golden: tests/test_goldens.py compares, only `make goldens` rewrites.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from textwrap import dedent
from typing import Any

from websockets.sync.client import connect

from fake_llm.testing.server import FakeLLMServer

GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "golden" / "realtime"
RULES = dedent(
    """
    - name: greet
      match: {api: realtime, user: hello}
      reply: {content: "Hello! How can I help?", stream: {chunk_tokens: 2}}
    - name: spoken-question
      transcript: "What time is it?"
      match: {api: realtime, user: time}
      reply: {content: "It is noon.", stream: {chunk_tokens: 2}}
    """
)
#: A tenth of a second of 24 kHz PCM16 silence: enough for `input_audio_buffer.commit`.
SILENCE = base64.b64encode(bytes(4800)).decode()

SESSIONS: dict[str, list[dict[str, Any]]] = {
    "text_session": [
        {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}},
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]},
        },
        {"type": "response.create"},
    ],
    "audio_session": [
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
        },
        {"type": "input_audio_buffer.append", "audio": SILENCE},
        {"type": "input_audio_buffer.commit"},
        {"type": "response.create"},
    ],
}


def run(name: str) -> str:
    """The transcript of session `name`: `>` lines are client events, `<` lines server events."""
    lines: list[str] = []
    with FakeLLMServer(rules=RULES, seed=7, freeze_time=1767225600, time_scale=0) as server:
        url = server.url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"
        with connect(url, additional_headers={"Authorization": "Bearer sk-test"}, open_timeout=5) as ws:
            lines.append("< " + str(ws.recv(timeout=5)))
            for event in SESSIONS[name]:
                sent = json.dumps(event, separators=(",", ":"))
                ws.send(sent)
                lines.append("> " + sent)
            while True:
                received = str(ws.recv(timeout=5))
                lines.append("< " + received)
                if json.loads(received)["type"] == "response.done":
                    break
    return "\n".join(lines) + "\n"


def goldens() -> dict[Path, Callable[[], bytes]]:
    """Each golden transcript file and how to produce its bytes."""
    return {GOLDEN / f"{name}.jsonl": (lambda name=name: run(name).encode()) for name in SESSIONS}
