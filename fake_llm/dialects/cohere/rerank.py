"""Cohere v2 rerank (`POST /v2/rerank`): documents ordered by relevance to the query. Scores come from a rule's
`scores:` (one per document) or, by default, from word overlap with the query: deterministic, and sensible enough
that the document sharing the query's words comes first."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from fake_llm.dialects.base import ReplyMeta
from fake_llm.dialects.cohere import request as req
from fake_llm.dialects.cohere.chat import CohereChat, response_id
from fake_llm.dialects.cohere.embed import META
from fake_llm.model.plan import PlannedReply
from fake_llm.model.request import ChatRequest, Message
from fake_llm.model.stream import Event

MAX_DOCUMENTS = 1000


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def default_score(seed: int, query: str, document: str) -> float:
    """The share of the query's words the document holds, squashed into (0, 1), plus a tie-break below 0.01 drawn
    from (seed, query, document)."""
    asked = _words(query)
    overlap = len(asked & _words(document)) / len(asked) if asked else 0.0
    jitter = int.from_bytes(hashlib.blake2b(f"{seed}:{query}:{document}".encode(), digest_size=4).digest(), "big")
    return round(0.01 + 0.98 * overlap + jitter / 2**32 * 0.0099, 8)


class CohereRerank(CohereChat):
    """The query is the last user message (what `user:` matches), each document a user message before it (what
    `any_message:` matches)."""

    api = "cohere-rerank"
    routes: tuple[str, ...] = ("/v2/rerank",)

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> ChatRequest:
        if not isinstance(body, dict):
            raise req.invalid("the request body must be a JSON object.")
        model = req.text_field(body, "model") or ""
        query = req.text_field(body, "query") or ""
        documents = body.get("documents")
        if not isinstance(documents, list) or not documents:
            raise req.invalid("documents must be a non-empty list.", "documents")
        if len(documents) > MAX_DOCUMENTS:
            raise req.invalid(f"documents must have at most {MAX_DOCUMENTS} elements.", "documents")
        if not all(isinstance(d, str) for d in documents):
            raise req.invalid("documents must be a list of strings.", "documents")
        req.number(body, "top_n", 1, 2**31, integer=True)
        req.number(body, "max_tokens_per_doc", 1, 2**31, integer=True)
        messages = (*(Message("user", d, name="document") for d in documents), Message("user", query))
        return ChatRequest(api=self.api, model=model, messages=messages, headers=headers, body=body)

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        documents: list[str] = request.body["documents"]
        query = request.body["query"]
        if completion.scores is not None:
            scripted = list(completion.scores)
            scores = [scripted[i] if i < len(scripted) else 0.0 for i in range(len(documents))]
        else:
            scores = [default_score(meta.seed, query, d) for d in documents]
        ranked = sorted(range(len(documents)), key=lambda i: (-scores[i], i))
        top_n = request.body.get("top_n") or len(documents)
        return {
            "id": response_id(meta),
            "results": [{"index": i, "relevance_score": scores[i]} for i in ranked[:top_n]],
            "meta": {**META, "billed_units": {"search_units": 1 + (len(documents) - 1) // 100}},
        }

    def stream_events(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        return []  # never called: rerank never streams
