"""Real media bytes for the OpenAI media endpoints: PNG images (zlib + struct, the format is small enough to write
by hand) and speech as a deterministic tone in WAV (stdlib `wave`), raw PCM, or MP3 when the optional `lameenc`
encoder is installed (`fake-llm[media]`)."""

from __future__ import annotations

import array
import hashlib
import io
import math
import struct
import sys
import wave
import zlib

#: OpenAI's speech output: 24 kHz, 16-bit, mono.
SAMPLE_RATE = 24000
#: Words per second of speech at speed 1.0 (about 150 words a minute).
WORDS_PER_SECOND = 2.5
MAX_SIDE = 4096


# ---------------------------------------------------------------------------------------------- PNG


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int, key: str) -> bytes:
    """A `width`x`height` RGB PNG that depends only on `key`: a horizontal gradient between two colours drawn
    from the key, in eight horizontal bands of different brightness. Rows repeat within a band, so building and
    compressing even a 1792x1024 image takes milliseconds."""
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ValueError(f"image sides must be 1..{MAX_SIDE}, got {width}x{height}")
    digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
    start, end = digest[0:3], digest[3:6]
    bands = []
    for band in range(8):
        shade = 0.55 + 0.45 * digest[8 + band] / 255
        row = bytearray(b"\x00")  # filter type 0 (None) for every scanline
        for x in range(width):
            t = x / max(1, width - 1)
            row += bytes(int((a + (b - a) * t) * shade) for a, b in zip(start, end, strict=True))
        bands.append(bytes(row))
    raw = b"".join(bands[y * 8 // height] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b"")
    )


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# ---------------------------------------------------------------------------------------------- speech


def speech_seconds(text: str, speed: float = 1.0) -> float:
    """How long reading `text` aloud takes at `speed`: at least a quarter second."""
    return max(0.25, len(text.split()) / WORDS_PER_SECOND / speed)


def tone(seconds: float, frequency: float, words: int = 1) -> bytes:
    """16-bit little-endian mono PCM: a sine at `frequency` in `words` bursts, each followed by a short pause, so
    it sounds (and looks, in a waveform) like speech-paced audio. Periods are copied, not computed per sample."""
    total = max(1, round(seconds * SAMPLE_RATE))
    period = max(2, round(SAMPLE_RATE / frequency))
    one = array.array("h", (round(9000 * math.sin(2 * math.pi * i / period)) for i in range(period)))
    words = max(1, words)
    slot = total // words
    sound = slot * 4 // 5
    burst = (one * (sound // period + 1))[:sound]
    samples = array.array("h")
    for _ in range(words):
        samples += burst
        samples += array.array("h", bytes(2 * (slot - sound)))
    samples += array.array("h", bytes(2 * (total - len(samples))))
    if sys.byteorder == "big":  # pragma: no cover - the test machines are little-endian
        samples.byteswap()
    return samples.tobytes()


def wav(pcm: bytes) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(pcm)
    return out.getvalue()


def wav_seconds(data: bytes) -> float | None:
    """The length of a WAV file, or None if `data` is not one."""
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            return reader.getnframes() / float(reader.getframerate())
    except (wave.Error, EOFError, ZeroDivisionError):
        return None


def mp3_available() -> bool:
    try:
        import lameenc  # noqa: F401
    except ImportError:
        return False
    return True


def mp3(pcm: bytes) -> bytes:
    """MP3 through lameenc (LAME); only called when mp3_available()."""
    import lameenc

    encoder = lameenc.Encoder()
    encoder.set_bit_rate(64)
    encoder.set_in_sample_rate(SAMPLE_RATE)
    encoder.set_channels(1)
    encoder.set_quality(7)
    return bytes(encoder.encode(pcm) + encoder.flush())
