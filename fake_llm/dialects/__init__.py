"""Dialect adapters by API name; each parses its API's requests and renders its wire shapes."""

from __future__ import annotations

from fake_llm.dialects.anthropic.messages import AnthropicMessages
from fake_llm.dialects.base import Provider, ReplyMeta
from fake_llm.dialects.bedrock import BedrockRuntime
from fake_llm.dialects.gemini.generate import Gemini
from fake_llm.dialects.openai.audio import OpenAITranscriptions, OpenAITranslations
from fake_llm.dialects.openai.azure import AzureOpenAIChat
from fake_llm.dialects.openai.chat import OpenAIChat
from fake_llm.dialects.openai.completions import OpenAICompletions
from fake_llm.dialects.openai.embeddings import OpenAIEmbeddings
from fake_llm.dialects.openai.images import OpenAIImages
from fake_llm.dialects.openai.moderations import OpenAIModerations
from fake_llm.dialects.openai.responses import OpenAIResponses
from fake_llm.dialects.openai.scale import ScaleChat
from fake_llm.dialects.openai.speech import OpenAISpeech

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
