"""OpenAI embeddings (`POST /v1/embeddings`): inputs parsed into a ChatRequest (one user message each, so rules can
match them) and deterministic unit vectors, sent as floats or base64 little-endian float32 (wire-format §4.2)."""

from __future__ import annotations

import array
import base64
import hashlib
import json
import math
import struct
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fake_llm.core.dialect import key_error
from fake_llm.core.replies import merge
from fake_llm.dialects.base import ReplyMeta
from fake_llm.dialects.openai import envelope
from fake_llm.dialects.openai.completions import bare_prompt_tokens, parse_prompts
from fake_llm.dialects.openai.request import number_field
from fake_llm.dialects.openai.responses import check_type, invalid_value, parse_model
from fake_llm.errors import ProviderRequestError
from fake_llm.model.plan import PlannedReply
from fake_llm.model.request import ChatRequest, Message, options_of
from fake_llm.model.spec import StreamError
from fake_llm.model.stream import Event

ENCODINGS = ("float", "base64")
MAX_INPUTS = 2048


def native_dimensions(model: str) -> int:
    """The full vector length: 3072 for the `-large` models, 1536 for the rest (text-embedding-3-small, ada-002)."""
    return 3072 if "large" in model else 1536


def embed(seed: int, model: str, text: str, dimensions: int) -> list[float]:
    """A unit vector that depends only on (seed, model, text), as float32 values like the real ones.

    Components are uniform in [-1, 1), read from a SHAKE-256 stream (several times faster than `random.gauss`, which
    matters for 2048-input batches). A SHAKE stream's first bytes do not depend on its length, so a shortened vector
    is the prefix of the full one, renormalised, just as `dimensions` shortens text-embedding-3 vectors."""
    raw = hashlib.shake_256(f"{seed}:{model}:{text}".encode()).digest(4 * dimensions)
    vector = [x / 2147483648.0 - 1.0 for x in struct.unpack(f"<{dimensions}I", raw)]
    norm = math.sqrt(math.fsum(x * x for x in vector)) or 1.0
    return _float32([x / norm for x in vector])


def _float32(vector: list[float] | tuple[float, ...]) -> list[float]:
    return array.array("f", vector).tolist()


def to_base64(vector: list[float] | tuple[float, ...]) -> str:
    """Standard base64 of the little-endian float32 array: what the SDK decodes with array('f') or numpy (§4.2)."""
    packed = array.array("f", vector)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def _input_keys(raw: Any) -> list[str]:
    """What each input's vector is derived from: its text, or `tokens:[...]` for a token array."""
    if isinstance(raw, list) and raw and all(isinstance(t, int) and not isinstance(t, bool) for t in raw):
        return ["tokens:" + json.dumps(raw)]
    if isinstance(raw, list) and raw and all(isinstance(p, list) for p in raw):
        return ["tokens:" + json.dumps(p) for p in raw]
    return [raw] if isinstance(raw, str) else list(raw)


@dataclass(frozen=True, slots=True)
class EmbeddingsOptions:
    """What the embeddings renderer needs beyond the neutral request."""

    #: The vectors' length: `dimensions`; 0 for the model's own.
    dimensions: int = 0
    #: `encoding_format: base64` (little-endian float32), else JSON lists.
    as_base64: bool = False
    #: What each input's vector derives from: its text, or `tokens:[...]` for a token array; empty: each
    #: message's text.
    keys: tuple[str, ...] = ()


class OpenAIEmbeddings:
    """The embeddings dialect; auth, error envelope and headers are inherited from Chat. It never streams."""

    api = "embeddings"
    id_prefix = "emb-"  # embeddings responses carry no id; the engine still names each reply
    routes: tuple[str, ...] = ("/v1/embeddings",)

    body_too_large_status = 400
    profile: str | None = None
    counts_tokens = False
    body_format = "json"
    answers_json = True
    stream_framing = "sse"
    path_prefix = ""
    error_type_header: str | None = None
    stream_media_type: str | None = None

    def api_key(self, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> str | None:
        return envelope.bearer_key(headers)

    def encode_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> tuple[bytes, str] | None:
        return None  # JSON: completion_body

    def load_body(self, request: ChatRequest, meta: ReplyMeta) -> dict[str, Any] | None:
        return None  # every request goes to the rules

    def count_body(self, tokens: int) -> dict[str, Any]:
        return envelope.input_tokens_body(tokens)

    def stream_failure(
        self, error: StreamError, position: int, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest
    ) -> list[Event]:
        return [self.stream_error_event(error, position)]

    def auth_error(self, given: str | None) -> ProviderRequestError:
        return key_error(given)

    def stream_error_event(self, error: StreamError, position: int) -> Event:
        return envelope.stream_error_event(error)

    def error_body(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        param: str | None = None,
        code: Any = None,
        extra: Mapping[str, Any] | None = None,
        flat: bool = False,
    ) -> dict[str, Any]:
        return envelope.error_body(status, message, type=type, param=param, code=code, extra=extra, flat=flat)

    def response_headers(self, meta: ReplyMeta) -> dict[str, str]:
        return envelope.response_headers(meta)

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> ChatRequest:
        """Validate as OpenAI does; each input becomes a user message (`user` matches the last, `any_message` any)."""
        model = parse_model(body)
        if body.get("stream"):  # the endpoint has no such parameter
            raise ProviderRequestError(
                "Unrecognized request argument supplied: stream", param="stream", code="unknown_parameter"
            )
        raw = body.get("input")
        if raw == "" or (isinstance(raw, list) and (not raw or "" in raw or [] in raw)):
            raise ProviderRequestError(
                "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
                param="input",
            )
        texts = parse_prompts(raw, "input")
        if len(texts) > MAX_INPUTS:
            raise ProviderRequestError(
                f"Invalid 'input': array too long. Expected an array with maximum length {MAX_INPUTS}, but got an "
                f"array with length {len(texts)} instead.",
                param="input",
                code="array_above_max_length",
            )
        encoding = check_type(body, "encoding_format", str, "a string")
        if encoding is not None and encoding not in ENCODINGS:
            raise invalid_value(encoding, ENCODINGS, "encoding_format")
        check_type(body, "user", str, "a string")
        dimensions = number_field(body, "dimensions", 1, native_dimensions(model), integer=True)
        options = EmbeddingsOptions(
            dimensions=int(dimensions or native_dimensions(model)),
            as_base64=encoding == "base64",
            keys=tuple(_input_keys(raw)),
        )
        return ChatRequest(
            api=self.api,
            model=model,
            messages=tuple(Message("user", text) for text in texts),
            options=options,
            headers=headers,
            body=body,
        )

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        """One `data` item per input, in input order; a scripted `embedding:` is every input's vector, else each
        gets its own deterministic unit vector. The reply's text, if any, is not used."""
        options = options_of(request, EmbeddingsOptions)
        if completion.embedding is not None:
            vectors = [list(completion.embedding)] * len(request.messages)
        else:
            size = options.dimensions or native_dimensions(request.model)
            keys = options.keys or tuple(m.text for m in request.messages)
            vectors = [embed(meta.seed, request.model, key, size) for key in keys]
        # openai-python asks for base64 unless the caller chose a format (§4.2): that is the path most tests take.
        base64_format = options.as_base64
        prompt = bare_prompt_tokens(completion.usage, request)
        usage = merge({"prompt_tokens": prompt, "total_tokens": prompt}, completion.usage.overrides)
        if "total_tokens" not in completion.usage.overrides:
            usage["total_tokens"] = usage["prompt_tokens"]
        return {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": to_base64(v) if base64_format else v}
                for i, v in enumerate(vectors)
            ],
            "model": completion.model,
            "usage": usage,
        }

    def stream_events(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        return []  # never called: parse refuses `stream`
