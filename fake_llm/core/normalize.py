"""Prompt normalisation (`normalize:`) applied to a request before matching, and the fingerprint of a request that
recorded rules keep (hashes of the normalised prompt and of the tool schemas, and the model)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence

from fake_llm.model.request import ChatRequest, Message
from fake_llm.model.spec import Fingerprint, Normalizer


def normalize_text(text: str, steps: Sequence[Normalizer]) -> str:
    for step in steps:
        text = step.pattern.sub(step.replacement, text)
    return text


def normalize_request(request: ChatRequest, steps: Sequence[Normalizer]) -> ChatRequest:
    """`request` with every message text (system, user, assistant, tool results) normalised; the raw `body` stays
    as sent, for the journal."""
    if not steps:
        return request
    messages = tuple(dataclasses.replace(m, text=normalize_text(m.text, steps)) for m in request.messages)
    return dataclasses.replace(request, messages=messages)


def _digest(value: object) -> str:
    return hashlib.blake2b(json.dumps(value, sort_keys=True, ensure_ascii=False).encode(), digest_size=8).hexdigest()


def prompt_hash(messages: Sequence[Message]) -> str:
    """A hash of the conversation as matching sees it: roles, texts and the tool calls made."""
    return _digest([[m.role, m.text, [[c.name, c.arguments] for c in m.tool_calls]] for m in messages])


def tools_hash(request: ChatRequest) -> str:
    """A hash of the tools offered (names, descriptions and parameter schemas, in any order)."""
    tools = sorted(([t.name, t.description, t.parameters] for t in request.tools), key=lambda t: str(t[0]))
    return _digest(tools)


def fingerprint(request: ChatRequest, steps: Sequence[Normalizer] = ()) -> Fingerprint:
    """The fingerprint of `request` as normalised by `steps`."""
    return Fingerprint(
        prompt=prompt_hash(normalize_request(request, steps).messages), tools=tools_hash(request), model=request.model
    )
