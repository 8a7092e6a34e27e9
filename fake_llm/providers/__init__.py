"""Dialect adapters by API name; each parses its API's requests and renders its wire shapes."""

from __future__ import annotations

from fake_llm.providers.anthropic import AnthropicMessages
from fake_llm.providers.azure import AzureOpenAIChat
from fake_llm.providers.base import Provider, ReplyMeta
from fake_llm.providers.gemini import Gemini
from fake_llm.providers.openai_chat import OpenAIChat
from fake_llm.providers.openai_completions import OpenAICompletions
from fake_llm.providers.openai_embeddings import OpenAIEmbeddings
from fake_llm.providers.openai_responses import OpenAIResponses
from fake_llm.providers.scale import ScaleChat

PROVIDERS: dict[str, Provider] = {
    Gemini.api: Gemini(),
    AzureOpenAIChat.api: AzureOpenAIChat(),
    OpenAIChat.api: OpenAIChat(),
    OpenAIResponses.api: OpenAIResponses(),
    OpenAICompletions.api: OpenAICompletions(),
    OpenAIEmbeddings.api: OpenAIEmbeddings(),
    AnthropicMessages.api: AnthropicMessages(),
    ScaleChat.api: ScaleChat(),
}

__all__ = ["PROVIDERS", "Provider", "ReplyMeta"]
