"""ChatRequest: the provider-neutral request every dialect adapter parses into and the matcher reads."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call an assistant message made (as echoed back by the client)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function tool the request offers."""

    name: str
    description: str | None = None
    parameters: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """One conversation message reduced to what matching needs: its role, its text and its tool traffic."""

    role: str
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    has_image: bool = False


@dataclass(frozen=True)
class ChatRequest:
    """A chat request in provider-neutral form; `body` and `headers` keep the raw request for the journal."""

    api: str
    model: str
    messages: tuple[Message, ...]
    stream: bool = False
    n: int = 1
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    include_usage: bool = False
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: Any = None
    response_format: Mapping[str, Any] | None = None
    seed: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] = field(default_factory=dict)

    @cached_property
    def last_user(self) -> str:
        """The text of the last user message ('' when there is none)."""
        for message in reversed(self.messages):
            if message.role == "user":
                return message.text
        return ""

    @cached_property
    def system(self) -> str:
        """System and developer instructions joined by newlines."""
        return "\n".join(m.text for m in self.messages if m.role in ("system", "developer"))

    @cached_property
    def conversation_key(self) -> str:
        """Identifies the conversation a request belongs to, so `replies:` sequences advance per conversation.

        The `X-Fake-LLM-Session` header wins; otherwise a digest of the messages up to and including the first
        user message, which every later turn of the same conversation repeats.
        """
        session = self.headers.get("x-fake-llm-session")
        if session:
            return "session:" + session
        opening: list[list[str]] = []
        for message in self.messages:
            opening.append([message.role, message.text])
            if message.role == "user":
                break
        digest = hashlib.blake2b(json.dumps([self.api, opening]).encode(), digest_size=8).hexdigest()
        return "conversation:" + digest

    def prompt_texts(self) -> list[str]:
        """Every text the prompt carries, for counting prompt tokens."""
        texts = [m.text for m in self.messages]
        for message in self.messages:
            texts.extend(call.name + call.arguments for call in message.tool_calls)
        return texts
