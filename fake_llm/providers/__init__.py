"""Dialect adapters by API name; each parses its API's requests and renders its wire shapes."""

from __future__ import annotations

from fake_llm.providers.base import Provider, ReplyMeta
from fake_llm.providers.openai_chat import OpenAIChat

PROVIDERS: dict[str, Provider] = {OpenAIChat.api: OpenAIChat()}

__all__ = ["PROVIDERS", "Provider", "ReplyMeta"]
