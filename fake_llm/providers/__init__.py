"""Dialect adapters by API name; each parses its API's requests and renders its wire shapes."""

from __future__ import annotations

from fake_llm.providers.anthropic import AnthropicMessages
from fake_llm.providers.azure import AzureOpenAIChat
from fake_llm.providers.base import Provider, ReplyMeta
from fake_llm.providers.bedrock import BedrockRuntime
from fake_llm.providers.gemini import Gemini
from fake_llm.providers.openai_audio import OpenAITranscriptions, OpenAITranslations
from fake_llm.providers.openai_chat import OpenAIChat
from fake_llm.providers.openai_completions import OpenAICompletions
from fake_llm.providers.openai_embeddings import OpenAIEmbeddings
from fake_llm.providers.openai_images import OpenAIImages
from fake_llm.providers.openai_moderations import OpenAIModerations
from fake_llm.providers.openai_responses import OpenAIResponses
from fake_llm.providers.openai_speech import OpenAISpeech
from fake_llm.providers.scale import ScaleChat

#: Routes are tried in this order: the most used dialect first.
PROVIDERS: dict[str, Provider] = {
    OpenAIChat.api: OpenAIChat(),
    AnthropicMessages.api: AnthropicMessages(),
    OpenAIResponses.api: OpenAIResponses(),
    OpenAIEmbeddings.api: OpenAIEmbeddings(),
    OpenAICompletions.api: OpenAICompletions(),
    Gemini.api: Gemini(),
    AzureOpenAIChat.api: AzureOpenAIChat(),
    ScaleChat.api: ScaleChat(),
    BedrockRuntime.api: BedrockRuntime(),
    OpenAIModerations.api: OpenAIModerations(),
    OpenAIImages.api: OpenAIImages(),
    OpenAISpeech.api: OpenAISpeech(),
    OpenAITranscriptions.api: OpenAITranscriptions(),
    OpenAITranslations.api: OpenAITranslations(),
}

__all__ = ["PROVIDERS", "Provider", "ReplyMeta"]
