"""ChatRequest: the provider-neutral request every dialect adapter parses into and the matcher reads."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

T = TypeVar("T")


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
    #: False for a dialect whose reasoning must be asked for (Anthropic without `thinking` enabled): a rule's
    #: `reasoning_content` is then left out of the reply and its usage, as the real API sends no thinking.
    reasoning_allowed: bool = True
    #: Guided decoding (vLLM-style servers): the reply must be one of these strings / match this regex.
    guided_choice: tuple[str, ...] = ()
    guided_regex: str | None = None
    #: Keep the stop sequence that ended the text in the output (`include_stop_str_in_output`).
    include_stop: bool = False
    #: False when the reply's reasoning is planned (and counted) but not sent: the request did not ask to see it
    #: (Gemini without `includeThoughts`, Ollama without `think`, Cohere without `thinking` enabled).
    reasoning_shown: bool = True
    #: Token log probabilities: None when not asked for, else how many top alternatives each token lists (0: none).
    logprobs: int | None = None
    #: What only the dialect's own renderer needs, validated and typed by its parser (a frozen dataclass of that
    #: dialect's, read with `options_of`), so no renderer reads `body` again.
    options: object = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] = field(default_factory=dict)
    #: How a stream is framed: `sse`, or `json-array` (Gemini without `alt=sse` streams one JSON array).
    stream_format: str = "sse"

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

    @cached_property
    def turn(self) -> int:
        """1 for the first answer, 2 after one assistant message, and so on."""
        return 1 + sum(1 for m in self.messages if m.role == "assistant")

    @property
    def last_role(self) -> str:
        return self.messages[-1].role if self.messages else ""

    @cached_property
    def tool_results(self) -> tuple[Message, ...]:
        """The tool messages at the end of the conversation: the results just sent back."""
        trailing: list[Message] = []
        for message in reversed(self.messages):
            if message.role != "tool":
                break
            trailing.append(message)
        return tuple(reversed(trailing))

    @cached_property
    def tool_names_by_call_id(self) -> dict[str, str]:
        return {call.id: call.name for m in self.messages for call in m.tool_calls}

    @property
    def tool_choice_name(self) -> str | None:
        """`none`, `auto`, `required`, or the name of the function the request forces."""
        choice = self.tool_choice
        if isinstance(choice, str) or choice is None:
            return choice
        if isinstance(choice, Mapping):
            function = choice.get("function")
            if isinstance(function, Mapping) and isinstance(function.get("name"), str):
                return str(function["name"])
            if isinstance(choice.get("name"), str):
                return str(choice["name"])
            return str(choice.get("type", ""))
        return None

    @property
    def response_format_type(self) -> str | None:
        return str(self.response_format.get("type")) if self.response_format else None

    @property
    def has_image(self) -> bool:
        return any(m.has_image for m in self.messages)

    def prompt_texts(self) -> list[str]:
        """Every text the prompt carries, for counting prompt tokens."""
        texts = [m.text for m in self.messages]
        for message in self.messages:
            texts.extend(call.name + call.arguments for call in message.tool_calls)
        return texts


def options_of(request: ChatRequest, kind: type[T]) -> T:
    """The request's dialect options, which must be of `kind` (the parser of the dialect that renders it sets them);
    a request built in code without any (`fake-llm lint`'s, a test's) gets `kind()`, what a request that sets
    nothing asks for. Options of another dialect are a bug."""
    if isinstance(request.options, kind):
        return request.options
    if request.options is None:
        return kind()
    raise TypeError(f"a {request.api} request carries {type(request.options).__name__} options, not {kind.__name__}")
