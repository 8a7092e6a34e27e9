"""Server voice activity detection over appended PCM16 audio: when speech starts and when it stops.

A deterministic energy detector, not a model: a 10 ms frame is speech when its RMS level exceeds
`threshold` x 1000 (of 32767). Speech stops after `silence_duration_ms` of quiet frames. Tests drive it with a tone
followed by silence (or with fake-llm's own output audio, which is a tone).
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FRAME_MS = 10
FRAME_BYTES = 480  # 10 ms of 24 kHz PCM16 mono


@dataclass(frozen=True, slots=True)
class VadEvent:
    """`started` or `stopped`, and where in the session's input audio (ms)."""

    kind: str
    at_ms: int


class Detector:
    """Feeds on appended audio; reports speech starts and stops in the order they happen."""

    def __init__(self) -> None:
        self.total_ms = 0
        self.speaking = False
        self.quiet_ms = 0
        self._rest = b""

    def feed(self, audio: bytes, settings: Mapping[str, Any]) -> list[VadEvent]:
        threshold = float(settings.get("threshold") or 0.5) * 1000
        padding = int(settings.get("prefix_padding_ms") or 0)
        silence = int(settings.get("silence_duration_ms") or 200)
        data = self._rest + audio
        whole = len(data) - len(data) % FRAME_BYTES
        self._rest = data[whole:]
        events: list[VadEvent] = []
        for offset in range(0, whole, FRAME_BYTES):
            loud = _rms(data[offset : offset + FRAME_BYTES]) > threshold
            self.total_ms += FRAME_MS
            if not self.speaking and loud:
                self.speaking, self.quiet_ms = True, 0
                events.append(VadEvent("started", max(0, self.total_ms - FRAME_MS - padding)))
            elif self.speaking:
                self.quiet_ms = 0 if loud else self.quiet_ms + FRAME_MS
                if self.quiet_ms >= silence:
                    self.speaking = False
                    events.append(VadEvent("stopped", self.total_ms))
        return events

    def reset(self) -> None:
        """Forget speech in progress (the buffer was cleared or committed by hand)."""
        self.speaking, self.quiet_ms, self._rest = False, 0, b""


def _rms(frame: bytes) -> float:
    samples = array("h", frame)
    if sys.byteorder == "big":
        samples.byteswap()
    return math.sqrt(sum(s * s for s in samples) / len(samples))
