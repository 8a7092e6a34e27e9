"""Turns a scenario Reply into a provider-neutral Completion: choices cut at stop sequences and max_tokens, usage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fake_llm.chat import ChatRequest
from fake_llm.scenarios import Reply
from fake_llm.tokens import Tokenizer, count_prompt


@dataclass(frozen=True, slots=True)
class PlannedChoice:
    """One choice as it will be sent: its text already cut into tokens, and why it ended."""

    index: int
    tokens: tuple[str, ...]
    finish_reason: str
    #: The text as streamed: (piece, tokens in it) per content chunk.
    chunks: tuple[tuple[str, int], ...] = ()

    @property
    def text(self) -> str:
        return "".join(self.tokens)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts; `overrides` are the scenario's `usage:` fields, merged over the computed ones by the dialect."""

    prompt_tokens: int
    completion_tokens: int
    overrides: Mapping[str, Any] = field(default_factory=dict)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Completion:
    """A successful reply in provider-neutral form."""

    choices: tuple[PlannedChoice, ...]
    usage: Usage
    model: str


def cut_at_stop(text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    """Text before the earliest stop sequence, and whether one was found."""
    positions = [i for stop in stops if stop and (i := text.find(stop)) >= 0]
    if not positions:
        return text, False
    return text[: min(positions)], True


def plan_completion(reply: Reply, request: ChatRequest, tokenizer: Tokenizer) -> Completion:
    """The completion `reply` gives for `request`: n choices, each cut first at the request's stop sequences,
    then at max_tokens (finish_reason `length`), with usage computed by `tokenizer` and the text cut into stream
    chunks (`stream.chunk_tokens` tokens each, or the pieces of a `stream.chunks` timeline)."""
    scripted = [(c.content, c.finish_reason) for c in reply.choices] or [(reply.content or "", reply.finish_reason)]
    timeline = [chunk.text for chunk in reply.stream.chunks]
    size = reply.stream.chunk_tokens
    choices: list[PlannedChoice] = []
    for index in range(request.n):
        text, override = scripted[index % len(scripted)]
        text, _ = cut_at_stop(text, request.stop)
        tokens = tokenizer.split(text)
        finish_reason = override or reply.finish_reason or "stop"
        if request.max_tokens is not None and len(tokens) > request.max_tokens:
            tokens = tokens[: request.max_tokens]
            finish_reason = "length"
        if timeline:
            chunks = tuple((piece, tokenizer.count(piece)) for piece in cut_pieces(timeline, len("".join(tokens))))
        else:
            chunks = tuple(
                ("".join(tokens[i : i + size]), len(tokens[i : i + size])) for i in range(0, len(tokens), size)
            )
        choices.append(PlannedChoice(index, tuple(tokens), finish_reason, chunks))
    usage = Usage(
        prompt_tokens=count_prompt(tokenizer, request.prompt_texts(), len(request.messages)),
        completion_tokens=sum(len(c.tokens) for c in choices),
        overrides=reply.usage,
    )
    return Completion(tuple(choices), usage, reply.model or request.model)


def cut_pieces(pieces: list[str], length: int) -> list[str]:
    """The leading pieces that make up the first `length` characters, the last one cut to fit."""
    out: list[str] = []
    for piece in pieces:
        if length <= 0:
            break
        out.append(piece[:length])
        length -= len(piece)
    return out


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` merged in; nested mappings are merged key by key."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged
