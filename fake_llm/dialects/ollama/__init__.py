"""The Ollama dialect: chat and generate (NDJSON streams) and embeddings; its model endpoints (`/api/tags`...) are
http/ollama_models.py's."""

from __future__ import annotations

from fake_llm.dialects.ollama.chat import OllamaChat, OllamaGenerate
from fake_llm.dialects.ollama.embed import OllamaEmbed, OllamaEmbeddings

__all__ = ["OllamaChat", "OllamaEmbed", "OllamaEmbeddings", "OllamaGenerate"]
