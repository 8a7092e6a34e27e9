"""The plan of a reply in provider-neutral form: choices (text cut into tokens and stream chunks, reasoning, tool
calls, why each ended), usage and model. The core plans it; every dialect renders it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fake_llm.model.finish import FinishReason


@dataclass(frozen=True, slots=True)
class PlannedToolCall:
    """A tool call as it will be sent; `arguments` is the JSON string (possibly cut by max_tokens)."""

    id: str
    name: str
    arguments: str
    tokens: tuple[str, ...] = ()
    #: The arguments as streamed: token groups of `stream.chunk_tokens`.
    chunks: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class PlannedChoice:
    """One choice as it will be sent: text already cut into tokens, stream chunks (token groups), and why it ended.

    `text` is None when the message carries no content (tool calls only, or a refusal)."""

    index: int
    tokens: tuple[str, ...]
    finish_reason: FinishReason
    #: Empty unless the request streams.
    chunks: tuple[tuple[str, ...], ...] = ()
    has_text: bool = True
    refusal: str | None = None
    reasoning_chunks: tuple[tuple[str, ...], ...] = ()
    tool_calls: tuple[PlannedToolCall, ...] = ()
    #: The request stop sequence the text was cut at (Anthropic reports it), if any.
    stop_sequence: str | None = None

    @property
    def text(self) -> str | None:
        return "".join(self.tokens) if self.has_text else None

    @property
    def reasoning(self) -> str | None:
        return "".join("".join(c) for c in self.reasoning_chunks) if self.reasoning_chunks else None

    @property
    def reasoning_tokens(self) -> int:
        return sum(len(c) for c in self.reasoning_chunks)

    @property
    def completion_tokens(self) -> int:
        return len(self.tokens) + self.reasoning_tokens + sum(len(call.tokens) for call in self.tool_calls)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts; `overrides` are the scenario's `usage:` fields, merged over the computed ones by the dialect."""

    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int = 0
    overrides: Mapping[str, Any] = field(default_factory=dict)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class PlannedReply:
    """A reply as planned for one request, in provider-neutral form: its choices, usage and model (what every
    dialect renders; "reply" is the one word for what a rule answers, see README Architecture)."""

    choices: tuple[PlannedChoice, ...]
    usage: Usage
    model: str
    #: A scripted embedding vector (embeddings requests), else None.
    embedding: tuple[float, ...] | None = None
    #: Scripted rerank scores, one per document (rerank requests), else None.
    scores: tuple[float, ...] | None = None
    #: The reply's `moderation:`, `image:`, `audio:` or `transcript:` mappings, for the media dialects.
    media: Mapping[str, Any] = field(default_factory=dict)
