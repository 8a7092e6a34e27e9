"""The Ollama dialect: chat and generate (NDJSON streams), embeddings, and the model endpoints."""

from __future__ import annotations

from fake_llm.dialects.ollama.chat import OllamaChat, OllamaGenerate
from fake_llm.dialects.ollama.embed import OllamaEmbed, OllamaEmbeddings
from fake_llm.dialects.ollama.models import EXTRA_ROUTES

__all__ = ["EXTRA_ROUTES", "OllamaChat", "OllamaEmbed", "OllamaEmbeddings", "OllamaGenerate"]
