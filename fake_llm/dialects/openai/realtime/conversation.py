"""A realtime session's conversation: its items in order, and the ChatRequest the matcher sees for a response.

User audio nobody has transcribed yet is heard, while a rule is tried, as that rule's `transcript:`; once a rule
answers, its transcript becomes the item's, so later turns match on it like text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from fake_llm.dialects.openai.realtime.protocol import ClientEventError
from fake_llm.model.request import ChatRequest, Message, ToolCall, ToolSpec
from fake_llm.model.spec import Rule

#: Bytes per millisecond of 24 kHz PCM16 mono.
PCM_BYTES_PER_MS = 48


class Conversation:
    """The items of one session (client-created and server-created), with the transcripts rules gave its audio."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        #: item id -> milliseconds of input audio it carries.
        self.audio_ms: dict[str, float] = {}

    def find(self, item_id: str) -> dict[str, Any]:
        for item in self.items:
            if item["id"] == item_id:
                return item
        raise ClientEventError(f"Item with item_id not found: {item_id}", param="item_id")

    def has(self, item_id: str) -> bool:
        return any(item["id"] == item_id for item in self.items)

    def last_id(self) -> str | None:
        return self.items[-1]["id"] if self.items else None

    def add(self, item: dict[str, Any], previous_item_id: str | None = None) -> str | None:
        """Insert `item` after `previous_item_id` (at the end when None); returns the id it follows."""
        if previous_item_id is None:
            previous = self.last_id()
            self.items.append(item)
            return previous
        self.find(previous_item_id)
        index = next(i for i, it in enumerate(self.items) if it["id"] == previous_item_id)
        self.items.insert(index + 1, item)
        return previous_item_id

    def replace(self, item: dict[str, Any]) -> None:
        for index, existing in enumerate(self.items):
            if existing["id"] == item["id"]:
                self.items[index] = item
                return
        self.items.append(item)

    def delete(self, item_id: str) -> None:
        self.items.remove(self.find(item_id))

    def unheard(self) -> list[dict[str, Any]]:
        """Input-audio parts no transcript covers yet."""
        return [
            part
            for item in self.items
            if item.get("type") == "message" and item.get("role") == "user"
            for part in item.get("content", ())
            if part.get("type") == "input_audio" and part.get("transcript") is None
        ]

    def input_audio_ms(self) -> float:
        return sum(self.audio_ms.values())


def _text_of(part: Mapping[str, Any], heard: str | None) -> str:
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text"):
        return str(part.get("text") or "")
    if kind in ("input_audio", "output_audio", "audio"):
        transcript = part.get("transcript")
        return str(transcript if transcript is not None else (heard or ""))
    return ""


def messages(items: list[dict[str, Any]], heard: str | None = None) -> list[Message]:
    """Items as chat messages: function calls join the assistant message before them, outputs become tool messages."""
    out: list[Message] = []
    for item in items:
        kind = item.get("type")
        if kind == "message":
            parts = item.get("content") or []
            text = "".join(_text_of(p, heard) for p in parts)
            images = any(p.get("type") == "input_image" for p in parts)
            out.append(Message(item.get("role", "user"), text, has_image=images))
        elif kind == "function_call":
            call = ToolCall(item.get("call_id", ""), item.get("name", ""), item.get("arguments", ""))
            if out and out[-1].role == "assistant":
                out[-1] = dataclasses.replace(out[-1], tool_calls=(*out[-1].tool_calls, call))
            else:
                out.append(Message("assistant", "", tool_calls=(call,)))
        elif kind == "function_call_output":
            out.append(Message("tool", item.get("output", ""), tool_call_id=item.get("call_id")))
    return out


def chat_request(
    items: list[dict[str, Any]],
    *,
    model: str,
    instructions: str,
    tools: list[dict[str, Any]],
    tool_choice: Any,
    max_tokens: int | None,
    headers: Mapping[str, str],
    body: Mapping[str, Any],
) -> tuple[ChatRequest, Callable[[Rule], ChatRequest]]:
    """The request a response is matched with, and `view(rule)`: the same request with untranscribed user audio
    heard as `rule.transcript` (the matcher calls it once per rule)."""
    specs = tuple(ToolSpec(t["name"], t.get("description"), t.get("parameters")) for t in tools if "name" in t)
    system = [Message("system", instructions)] if instructions else []

    def build(heard: str | None) -> ChatRequest:
        return ChatRequest(
            api="realtime",
            model=model,
            messages=(*system, *messages(items, heard)),
            stream=True,
            max_tokens=max_tokens,
            tools=specs,
            tool_choice=tool_choice,
            headers=headers,
            body=body,
        )

    base = build(None)
    if not any(
        p.get("type") == "input_audio" and p.get("transcript") is None
        for item in items
        for p in item.get("content") or ()
        if item.get("type") == "message"
    ):
        return base, lambda rule: base
    views: dict[str | None, ChatRequest] = {None: base}

    def view(rule: Rule) -> ChatRequest:
        if rule.transcript not in views:
            views[rule.transcript] = build(rule.transcript)
        return views[rule.transcript]

    return base, view
