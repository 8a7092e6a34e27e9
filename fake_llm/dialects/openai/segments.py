"""What a transcription answers, apart from the dialect: segments and words with their timings (text spread over
the audio by length), and the `srt` and `vtt` subtitle formats. Every number is deterministic."""

from __future__ import annotations

import hashlib
import re
import zlib
from typing import Any

#: Whisper reads audio in 30 s windows; `seek` is a window's start in 10 ms frames.
WINDOW_FRAMES = 3000
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
LANGUAGES = {
    "en": "english",
    "de": "german",
    "es": "spanish",
    "fr": "french",
    "it": "italian",
    "ja": "japanese",
    "nl": "dutch",
    "pt": "portuguese",
    "ru": "russian",
    "zh": "chinese",
}


def language_name(code: str | None) -> str:
    """Whisper reports the language by name (`english`); a request names it by ISO-639-1 code (`en`)."""
    if not code:
        return "english"
    return LANGUAGES.get(code.lower(), code.lower())


def _unit(key: str) -> float:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big") / 2**32


def _spread(parts: list[str], start: float, end: float) -> list[tuple[str, float, float]]:
    """Each part with a time span proportional to its length, covering [start, end]."""
    total = sum(len(p) for p in parts) or 1
    spans, at = [], start
    for part in parts:
        length = (end - start) * len(part) / total
        spans.append((part, round(at, 2), round(at + length, 2)))
        at += length
    return spans


def segments(text: str, duration: float, temperature: float) -> list[dict[str, Any]]:
    """One segment per sentence, with the fields verbose_json carries (seek, tokens, temperature, avg_logprob,
    compression_ratio, no_speech_prob). compression_ratio is computed as Whisper does: text bytes over their
    zlib-compressed size."""
    sentences = [s for s in _SENTENCE.split(text.strip()) if s] or [""]
    found = []
    for i, (sentence, start, end) in enumerate(_spread(sentences, 0.0, duration)):
        raw = (" " + sentence).encode()
        found.append(
            {
                "id": i,
                "seek": int(start * 100) // WINDOW_FRAMES * WINDOW_FRAMES,
                "start": start,
                "end": end,
                "text": " " + sentence,
                "tokens": [50364 + int(_unit(word) * 40000) for word in sentence.split()],
                "temperature": temperature,
                "avg_logprob": round(-0.1 - 0.3 * _unit("logprob:" + sentence), 6),
                "compression_ratio": round(len(raw) / len(zlib.compress(raw)), 6),
                "no_speech_prob": round(0.001 + 0.01 * _unit("silence:" + sentence), 6),
            }
        )
    return found


def words(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Word timestamps inside each segment's span."""
    return [
        {"word": word, "start": start, "end": end}
        for segment in found
        for word, start, end in _spread(segment["text"].split(), segment["start"], segment["end"])
    ]


def _clock(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def subtitles(found: list[dict[str, Any]], kind: str) -> str:
    """The segments as SubRip (`srt`) or WebVTT (`vtt`) cues."""
    if kind == "srt":
        cues = [
            f"{s['id'] + 1}\n{_clock(s['start'], ',')} --> {_clock(s['end'], ',')}\n{s['text'].strip()}\n"
            for s in found
        ]
        return "\n".join(cues) + "\n"
    cues = [f"{_clock(s['start'], '.')} --> {_clock(s['end'], '.')}\n{s['text'].strip()}\n" for s in found]
    return "WEBVTT\n\n" + "\n".join(cues) + "\n"
