"""Cohere v2 embed (`POST /v2/embed`): one vector per text in every `embedding_types` asked for (float, int8, uint8,
binary, ubinary, base64), from the same deterministic unit vector; `output_dimension` shortens it (embed-v4.0)."""

from __future__ import annotations

import array
import base64
import sys
from collections.abc import Mapping
from typing import Any

from fake_llm.dialects.base import ReplyMeta
from fake_llm.dialects.cohere import request as req
from fake_llm.dialects.cohere.chat import CohereChat, response_id
from fake_llm.dialects.openai.completions import bare_prompt_tokens
from fake_llm.dialects.openai.embeddings import embed
from fake_llm.model.plan import PlannedReply
from fake_llm.model.request import ChatRequest, Message
from fake_llm.model.stream import Event

INPUT_TYPES = ("search_document", "search_query", "classification", "clustering", "image")
EMBEDDING_TYPES = ("float", "int8", "uint8", "binary", "ubinary", "base64")
OUTPUT_DIMENSIONS = (256, 512, 1024, 1536)
#: Vector length by model prefix; embed-v4.0 is 1536 unless output_dimension says otherwise.
DIMENSIONS = {"embed-v4": 1536, "embed-english-light": 384, "embed-multilingual-light": 384}
DEFAULT_DIMENSIONS = 1024
MAX_TEXTS = 96
META = {"api_version": {"version": "2"}}


def native_dimensions(model: str) -> int:
    return next((n for prefix, n in DIMENSIONS.items() if model.startswith(prefix)), DEFAULT_DIMENSIONS)


def _int8(vector: list[float]) -> list[int]:
    return [max(-128, min(127, round(x * 127))) for x in vector]


def _bits(vector: list[float]) -> list[int]:
    """Sign bits packed 8 per byte, most significant first (Cohere's binary quantisation)."""
    out = []
    for i in range(0, len(vector) - len(vector) % 8, 8):
        byte = 0
        for x in vector[i : i + 8]:
            byte = (byte << 1) | (x > 0)
        out.append(byte)
    return out


def _base64(vector: list[float]) -> str:
    packed = array.array("f", vector)
    if sys.byteorder == "big":  # pragma: no cover - the test machines are little-endian
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def encode(vectors: list[list[float]], kind: str) -> list[Any]:
    if kind == "int8":
        return [_int8(v) for v in vectors]
    if kind == "uint8":
        return [[x + 128 for x in _int8(v)] for v in vectors]
    if kind == "ubinary":
        return [_bits(v) for v in vectors]
    if kind == "binary":
        return [[b - 128 for b in _bits(v)] for v in vectors]
    if kind == "base64":
        return [_base64(v) for v in vectors]
    return vectors


class CohereEmbed(CohereChat):
    api = "cohere-embed"
    routes: tuple[str, ...] = ("/v2/embed",)

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> ChatRequest:
        if not isinstance(body, dict):
            raise req.invalid("the request body must be a JSON object.")
        model = req.text_field(body, "model") or ""
        texts = body.get("texts")
        if texts is None and body.get("images") is None and body.get("inputs") is None:
            raise req.invalid("one of texts, images or inputs must be specified.", "texts")
        if texts is not None and (not isinstance(texts, list) or not all(isinstance(t, str) for t in texts)):
            raise req.invalid("texts must be a list of strings.", "texts")
        texts = texts or []
        if len(texts) > MAX_TEXTS:
            raise req.invalid(f"texts must have at most {MAX_TEXTS} elements, got {len(texts)}.", "texts")
        if body.get("input_type") not in INPUT_TYPES:
            raise req.invalid(f"input_type must be one of {', '.join(INPUT_TYPES)}.", "input_type")
        kinds = body.get("embedding_types") or ["float"]
        if not isinstance(kinds, list) or any(k not in EMBEDDING_TYPES for k in kinds):
            raise req.invalid(f"embedding_types must be a list of {', '.join(EMBEDDING_TYPES)}.", "embedding_types")
        size = body.get("output_dimension")
        if size is not None and size not in OUTPUT_DIMENSIONS:
            raise req.invalid("output_dimension must be one of 256, 512, 1024, 1536.", "output_dimension")
        return ChatRequest(
            api=self.api, model=model, messages=tuple(Message("user", t) for t in texts), headers=headers, body=body
        )

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        size = request.body.get("output_dimension") or native_dimensions(request.model)
        if completion.embedding is not None:
            vectors = [list(completion.embedding)] * len(request.messages)
        else:
            vectors = [embed(meta.seed, request.model, m.text, size) for m in request.messages]
        kinds = request.body.get("embedding_types") or ["float"]
        tokens = int(completion.usage.overrides.get("input_tokens", bare_prompt_tokens(completion.usage, request)))
        return {
            "id": response_id(meta),
            "embeddings": {kind: encode(vectors, kind) for kind in kinds},
            "texts": [m.text for m in request.messages],
            "meta": {**META, "billed_units": {"input_tokens": tokens}},
            "response_type": "embeddings_by_type",
        }

    def stream_events(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        return []  # never called: embed never streams
