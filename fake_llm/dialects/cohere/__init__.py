"""The Cohere v2 dialect: chat (typed SSE events when streamed), embed and rerank."""

from __future__ import annotations

from fake_llm.dialects.cohere.chat import CohereChat
from fake_llm.dialects.cohere.embed import CohereEmbed
from fake_llm.dialects.cohere.rerank import CohereRerank

__all__ = ["CohereChat", "CohereEmbed", "CohereRerank"]
