"""The dialect registry: every dialect by its name; each parses its API's requests and renders its wire shapes."""

from __future__ import annotations

from fake_llm.dialects.anthropic import transcript as anthropic_transcript
from fake_llm.dialects.anthropic.count_tokens import AnthropicCountTokens
from fake_llm.dialects.anthropic.messages import AnthropicMessages
from fake_llm.dialects.base import Dialect, Provider, ReplyMeta
from fake_llm.dialects.bedrock import BedrockRuntime
from fake_llm.dialects.bedrock import transcript as bedrock_transcript
from fake_llm.dialects.bedrock.invoke import INVOKE_API
from fake_llm.dialects.cohere import CohereChat, CohereEmbed, CohereRerank
from fake_llm.dialects.cohere import transcript as cohere_transcript
from fake_llm.dialects.gemini import transcript as gemini_transcript
from fake_llm.dialects.gemini.generate import Gemini
from fake_llm.dialects.mistral import MistralChat, MistralEmbeddings
from fake_llm.dialects.ollama import OllamaChat, OllamaEmbed, OllamaEmbeddings, OllamaGenerate
from fake_llm.dialects.ollama import transcript as ollama_transcript
from fake_llm.dialects.openai import transcript as openai_transcript
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
from fake_llm.model.transcript import TranscriptReader

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

#: Record mode's reader of each dialect's upstream answers (beside each dialect's parser and renderer). A dialect
#: not listed answers in OpenAI chat's shape, or its exchanges are forwarded without a rule (`answers_json`).
TRANSCRIPTS: dict[str, TranscriptReader] = {
    OpenAIChat.api: openai_transcript.CHAT,
    AzureOpenAIChat.api: openai_transcript.CHAT,
    ScaleChat.api: openai_transcript.CHAT,
    OpenAICompletions.api: openai_transcript.CHAT,
    MistralChat.api: openai_transcript.CHAT,
    OpenAIResponses.api: openai_transcript.RESPONSES,
    OpenAIEmbeddings.api: openai_transcript.EMBEDDINGS,
    MistralEmbeddings.api: openai_transcript.EMBEDDINGS,
    AnthropicMessages.api: anthropic_transcript.MESSAGES,
    Gemini.api: gemini_transcript.GENERATE,
    OllamaChat.api: ollama_transcript.CHAT,
    OllamaGenerate.api: ollama_transcript.CHAT,
    OllamaEmbed.api: ollama_transcript.EMBEDDINGS,
    OllamaEmbeddings.api: ollama_transcript.EMBEDDINGS,
    CohereChat.api: cohere_transcript.CHAT,
    CohereEmbed.api: cohere_transcript.EMBED,
    CohereRerank.api: cohere_transcript.RERANK,
    BedrockRuntime.api: bedrock_transcript.CONVERSE,
    INVOKE_API: bedrock_transcript.INVOKE,
}

#: Every name a request can carry as its dialect (what `match.dialect` compares with): the registry's, plus Bedrock's
#: InvokeModel (served by BedrockRuntime) and the realtime sessions (http/realtime.py). The scenario schema's list
#: (fake_llm.scenarios.schema_match.DIALECT_NAMES) must equal it: tests/test_scenarios.py checks.
DIALECT_NAMES: frozenset[str] = frozenset({*DIALECTS, INVOKE_API, "realtime"})

#: Token counters: dialects that answer a prompt's token count (served and journaled, never recorded or matched).
COUNTERS: tuple[Dialect, ...] = (AnthropicCountTokens(),)

#: The old name of DIALECTS, kept for plugins and scripts that import it.
PROVIDERS = DIALECTS

__all__ = ["COUNTERS", "DIALECTS", "DIALECT_NAMES", "PROVIDERS", "TRANSCRIPTS", "Dialect", "Provider", "ReplyMeta"]
