"""The dialect registry: every dialect by its name; each parses its API's requests and renders its wire shapes."""

from __future__ import annotations

from fake_llm.dialects.anthropic.count_tokens import AnthropicCountTokens
from fake_llm.dialects.anthropic.messages import AnthropicMessages
from fake_llm.dialects.base import Dialect, Provider, ReplyMeta
from fake_llm.dialects.bedrock import BedrockRuntime
from fake_llm.dialects.cohere import CohereChat, CohereEmbed, CohereRerank
from fake_llm.dialects.gemini.generate import Gemini
from fake_llm.dialects.mistral import MistralChat, MistralEmbeddings
from fake_llm.dialects.ollama import OllamaChat, OllamaEmbed, OllamaEmbeddings, OllamaGenerate
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
DIALECTS: dict[str, Dialect] = {
    OpenAIChat.api: OpenAIChat(),
    AnthropicMessages.api: AnthropicMessages(),
    OpenAIResponses.api: OpenAIResponses(),
    OpenAIEmbeddings.api: OpenAIEmbeddings(),
    OpenAICompletions.api: OpenAICompletions(),
    Gemini.api: Gemini(),
    AzureOpenAIChat.api: AzureOpenAIChat(),
    ScaleChat.api: ScaleChat(),
    OllamaChat.api: OllamaChat(),
    OllamaGenerate.api: OllamaGenerate(),
    OllamaEmbed.api: OllamaEmbed(),
    OllamaEmbeddings.api: OllamaEmbeddings(),
    MistralChat.api: MistralChat(),
    MistralEmbeddings.api: MistralEmbeddings(),
    CohereChat.api: CohereChat(),
    CohereEmbed.api: CohereEmbed(),
    CohereRerank.api: CohereRerank(),
    BedrockRuntime.api: BedrockRuntime(),
    OpenAIModerations.api: OpenAIModerations(),
    OpenAIImages.api: OpenAIImages(),
    OpenAISpeech.api: OpenAISpeech(),
    OpenAITranscriptions.api: OpenAITranscriptions(),
    OpenAITranslations.api: OpenAITranslations(),
}

#: Token counters: dialects that answer a prompt's token count (served and journaled, never recorded or matched).
COUNTERS: tuple[Dialect, ...] = (AnthropicCountTokens(),)

#: The old name of DIALECTS, kept for plugins and scripts that import it.
PROVIDERS = DIALECTS

__all__ = ["COUNTERS", "DIALECTS", "PROVIDERS", "Dialect", "Provider", "ReplyMeta"]
