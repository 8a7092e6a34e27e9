"""What has been sent of a response in flight (its open and finished items, tokens and audio so far), and the
`response.done` of a response that ends early (cancelled, failed or cut by a fault)."""

from __future__ import annotations

import asyncio
import copy
import json
from dataclasses import dataclass, field
from typing import Any

from fake_llm.core.journal import Journal, JournalEntry
from fake_llm.dialects.openai.realtime.conversation import Conversation
from fake_llm.dialects.openai.realtime.render import Generation, usage
from fake_llm.dialects.openai.realtime.response_plan import ResponseSpec, response_object
from fake_llm.model.spec import StreamError
from fake_llm.model.stream import Event

#: Kind of the planned `response.done` that closes a response failed by an `error_after` fault: built when sent.
FAILED_DONE = "failed-done"


@dataclass(slots=True)
class Active:
    """The response in flight: what has been sent of it so far."""

    response_id: str
    spec: ResponseSpec
    entry: JournalEntry
    #: The journal holding `entry`: how the response ended is noted there, under its lock.
    journal: Journal
    in_conversation: bool
    failure: StreamError | None = None
    task: asyncio.Task[None] | None = None
    open_items: dict[str, dict[str, Any]] = field(default_factory=dict)
    done_items: list[dict[str, Any]] = field(default_factory=list)
    tokens: int = 0
    audio_bytes: int = 0


def track(active: Active, event: Event, generation: Generation, conversation: Conversation) -> bool:
    """Keep the conversation and the partial response in step with an event about to be sent; True when the
    event is the response's `response.done`."""
    if event.kind == "error":
        return False
    payload = json.loads(event.data)
    kind = payload["type"]
    if kind == "response.output_item.added":
        item = copy.deepcopy(payload["item"])
        active.open_items[item["id"]] = item
        if active.in_conversation:
            conversation.add(item)
    elif kind in (generation.text_delta, generation.transcript_delta):
        item = active.open_items[payload["item_id"]]
        part_type = generation.text_part if kind == generation.text_delta else generation.audio_part
        key = "text" if kind == generation.text_delta else "transcript"
        if not item["content"]:
            item["content"].append({"type": part_type, key: ""})
        item["content"][0][key] += payload["delta"]
        active.tokens += event.tokens
    elif kind == generation.audio_delta:
        active.audio_bytes += len(payload["delta"]) * 3 // 4
    elif kind == "response.function_call_arguments.delta":
        active.open_items[payload["item_id"]]["arguments"] += payload["delta"]
        active.tokens += event.tokens
    elif kind == "response.output_item.done":
        item = payload["item"]
        active.open_items.pop(item["id"], None)
        active.done_items.append(item)
        if active.in_conversation:
            conversation.replace(item)
    elif kind == "response.done":
        active.journal.stream_ended(active.entry.seq, payload["response"]["status"], keep_first=True)
        return True
    return False


def final_response(generation: Generation, active: Active, status: str, reason: str | None = None) -> dict[str, Any]:
    """`response.done` for a response that ended early: the items so far, cut ones `incomplete`."""
    output = [*active.done_items, *({**item, "status": "incomplete"} for item in active.open_items.values())]
    text_in, audio_in = active.spec.input_text_tokens, active.spec.input_audio_ms
    body = response_object(
        generation,
        active.spec,
        status,
        output,
        usage(text_in, audio_in, active.tokens, active.audio_bytes / 48, {}),
    )
    if status == "failed" and active.failure is not None:
        body["status_details"] = {
            "type": "failed",
            "error": {"type": active.failure.type or "server_error", "code": active.failure.code},
        }
    elif reason is not None:
        body["status_details"] = {"type": status, "reason": reason}
    return body


def rate_limits(tokens: int, headers: dict[str, str]) -> list[dict[str, Any]]:
    """What `rate_limits.updated` reports: the scripted limits' state when a rule or the server sets one (from the
    limiter's `x-ratelimit-*` values), else a generous fixed tier with this response's tokens reserved."""
    limits = []
    for name, default_limit, default_remaining in (("requests", 5000, 4999), ("tokens", 40000, 40000 - tokens)):
        limit = headers.get(f"x-ratelimit-limit-{name}")
        remaining = headers.get(f"x-ratelimit-remaining-{name}")
        limits.append(
            {
                "name": name,
                "limit": int(limit) if limit else default_limit,
                "remaining": int(remaining) if remaining else default_remaining,
                "reset_seconds": _seconds(headers.get(f"x-ratelimit-reset-{name}")) if limit else 60.0,
            }
        )
    return limits


def _seconds(duration: str | None) -> float:
    """`1m30s`, `6s`, `12ms` (the headers' Go durations) in seconds."""
    total, number = 0.0, ""
    text = duration or ""
    index = 0
    while index < len(text):
        char = text[index]
        if char.isdigit() or char == ".":
            number += char
        else:
            unit = "ms" if text.startswith("ms", index) else char
            total += float(number or 0) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}.get(unit, 0)
            number, index = "", index + len(unit) - 1
        index += 1
    return round(total, 3)
