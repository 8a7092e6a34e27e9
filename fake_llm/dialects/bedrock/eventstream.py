"""The binary `application/vnd.amazon.eventstream` framing that Bedrock's streaming operations answer with.

No maintained Python encoder supports our Python floor (botocore only decodes; smithy-aws-event-stream needs 3.12),
so this is a small encoder written against the framing spec: a prelude of total and header lengths with its CRC32,
the headers, the payload, and a CRC32 of everything before it. Tests decode every frame with botocore's decoder.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fake_llm.model.stream import Event

CONTENT_TYPE = "application/vnd.amazon.eventstream"
#: Header value type 7 is a UTF-8 string (the only kind Bedrock's frames carry).
_STRING = 7
_PRELUDE = struct.Struct(">II")
#: Prelude (8) + prelude CRC (4) + message CRC (4).
_OVERHEAD = 16


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return bytes([len(raw_name)]) + raw_name + bytes([_STRING]) + struct.pack(">H", len(raw_value)) + raw_value


def encode_frame(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One frame: headers (in the given order) and payload, with both CRCs."""
    head = b"".join(_header(k, v) for k, v in headers.items())
    prelude = _PRELUDE.pack(_OVERHEAD + len(head) + len(payload), len(head))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + head + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event_headers(event_type: str) -> dict[str, str]:
    """The headers of an ordinary event: botocore needs `:message-type` and `:event-type` on every frame."""
    return {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}


def exception_headers(exception_type: str) -> dict[str, str]:
    """An error frame: botocore raises EventStreamError with `exception_type` as its code."""
    return {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}


@dataclass(slots=True)
class FrameEvent(Event):
    """A stream event sent as an event-stream frame instead of SSE text: `data` is its JSON payload and `event`
    its `:event-type` (or, for kind `error`, its `:exception-type`)."""

    def frame(self, newline: str = "\n", *, ndjson: bool = False) -> bytes:
        # A binary frame whatever the text framing asked for (`newline`, `ndjson` are the SSE/NDJSON writer's).
        headers = exception_headers(self.event or "") if self.kind == "error" else event_headers(self.event or "")
        return encode_frame(headers, self.data.encode())


def frame_event(event_type: str, payload: Mapping[str, Any], **fields: Any) -> FrameEvent:
    """A FrameEvent carrying `payload` as compact JSON."""
    return FrameEvent(json.dumps(payload, ensure_ascii=False, separators=(",", ":")), event=event_type, **fields)


class FrameDecoder:
    """An incremental decoder for record mode: feed bytes as they arrive, get back each complete frame's headers
    (string values only, as Bedrock sends) and payload. A CRC mismatch raises ValueError."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[tuple[dict[str, str], bytes]]:
        self._buffer += chunk
        frames = []
        while len(self._buffer) >= 12:
            total, head_length = _PRELUDE.unpack_from(self._buffer)
            if len(self._buffer) < total:
                break
            frame, self._buffer = self._buffer[:total], self._buffer[total:]
            (prelude_crc,) = struct.unpack_from(">I", frame, 8)
            (message_crc,) = struct.unpack_from(">I", frame, total - 4)
            if prelude_crc != zlib.crc32(frame[:8]) or message_crc != zlib.crc32(frame[:-4]):
                raise ValueError("event-stream frame with a bad CRC")
            frames.append((_read_headers(frame[12 : 12 + head_length]), frame[12 + head_length : total - 4]))
        return frames


def _read_headers(raw: bytes) -> dict[str, str]:
    headers, at = {}, 0
    while at < len(raw):
        name_length = raw[at]
        name = raw[at + 1 : at + 1 + name_length].decode()
        at += 1 + name_length
        if raw[at] != _STRING:
            raise ValueError(f"event-stream header {name!r} is not a string")
        (value_length,) = struct.unpack_from(">H", raw, at + 1)
        headers[name] = raw[at + 3 : at + 3 + value_length].decode()
        at += 3 + value_length
    return headers
