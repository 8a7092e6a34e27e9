"""The Mistral dialect: chat completions (streamed and not) and embeddings, under the `/mistral` prefix."""

from __future__ import annotations

from fake_llm.dialects.mistral.chat import MistralChat
from fake_llm.dialects.mistral.embeddings import MistralEmbeddings

__all__ = ["MistralChat", "MistralEmbeddings"]
