"""Mistral embeddings (`POST /mistral/v1/embeddings`): `inputs` (a string or strings) answered with one vector per
input, OpenAI's list shape plus Mistral's id; `output_dimension` shortens vectors (codestral-embed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fake_llm.core.replies import merge
from fake_llm.dialects.base import ReplyMeta
from fake_llm.dialects.mistral.chat import MistralChat, response_id
from fake_llm.dialects.openai.completions import bare_prompt_tokens
from fake_llm.dialects.openai.embeddings import embed
from fake_llm.errors import ProviderRequestError
from fake_llm.model.plan import PlannedReply
from fake_llm.model.request import ChatRequest, Message
from fake_llm.model.stream import Event

#: mistral-embed is 1024 wide; codestral-embed 1536 by default and up to 3072 with output_dimension.
DIMENSIONS = {"codestral-embed": 1536}
DEFAULT_DIMENSIONS = 1024


def native_dimensions(model: str) -> int:
    return next((n for prefix, n in DIMENSIONS.items() if model.startswith(prefix)), DEFAULT_DIMENSIONS)


class MistralEmbeddings(MistralChat):
    api = "mistral-embeddings"
    routes: tuple[str, ...] = ("/mistral/v1/embeddings",)

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> ChatRequest:
        if not isinstance(body, dict):
            raise ProviderRequestError("Invalid request body: expected a JSON object.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise ProviderRequestError("Missing required parameter: 'model'.", param="model")
        raw = body.get("inputs", body.get("input"))
        texts = [raw] if isinstance(raw, str) else raw
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
            raise ProviderRequestError(
                "'inputs' must be a non-empty string or array of non-empty strings.", param="inputs"
            )
        size = body.get("output_dimension")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= 3072):
            raise ProviderRequestError(
                "'output_dimension' must be an integer from 1 to 3072.", param="output_dimension"
            )
        return ChatRequest(
            api=self.api, model=model, messages=tuple(Message("user", t) for t in texts), headers=headers, body=body
        )

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        size = request.body.get("output_dimension") or native_dimensions(request.model)
        if completion.embedding is not None:
            vectors = [list(completion.embedding)] * len(request.messages)
        else:
            vectors = [embed(meta.seed, request.model, m.text, size) for m in request.messages]
        prompt = bare_prompt_tokens(completion.usage, request)
        usage = merge(
            {"prompt_tokens": prompt, "total_tokens": prompt, "completion_tokens": 0}, completion.usage.overrides
        )
        return {
            "id": response_id(meta),
            "object": "list",
            "data": [{"object": "embedding", "embedding": v, "index": i} for i, v in enumerate(vectors)],
            "model": completion.model,
            "usage": usage,
        }

    def stream_events(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        return []  # never called: an embeddings request never streams
