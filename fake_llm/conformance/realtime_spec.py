"""The OpenAI Realtime checker: each server event of a GA WebSocket session against the OpenAPI document's
`RealtimeServerEvent` member its `type` names (fixtures/specs/openai).

The document describes the GA interface only; a beta session (`OpenAI-Beta: realtime=v1`) has other event names
and shapes, so the recorder does not hand beta sessions here (it counts them as unchecked, by design).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from typing import Any

from fake_llm.conformance import openapi
from fake_llm.conformance.registry import SSEEvent, Verdict, Violation, register

FAMILY = "openai"
UNION = "RealtimeServerEvent"
#: Where the live API departs from the document and fake-llm follows the live API: fields the document types as
#: objects/strings without `null` that the service sends as null until set (the API reference's own examples of
#: session.created, response.created and response.done show them so). They are read as unset before validation:
#: inside the document's anyOf unions a null would otherwise fail the whole union.
NULL_WHEN_UNSET: tuple[tuple[str, ...], ...] = (
    ("session", "include"),
    ("session", "tracing"),
    ("session", "prompt"),
    ("session", "audio", "input", "transcription"),
    ("session", "audio", "input", "noise_reduction"),
    ("session", "audio", "input", "turn_detection"),
    ("response", "status_details"),
    ("response", "usage"),
    ("response", "metadata"),
    ("response", "conversation_id"),
    ("item", "content", "*", "transcript"),  # a user's input_audio before transcription
)


@functools.lru_cache(maxsize=1)
def event_schemas() -> dict[str, str]:
    """Server event type -> its schema, read from `RealtimeServerEvent`'s members."""
    out: dict[str, str] = {}
    for member in openapi.schema(FAMILY, UNION)["anyOf"]:
        name = member["$ref"].rsplit("/", 1)[1]
        for type_ in openapi.schema(FAMILY, name).get("properties", {}).get("type", {}).get("enum", []):
            out.setdefault(type_, name)
    return out


def unset_nulls(event: Any) -> Any:
    """A copy of `event` without the NULL_WHEN_UNSET fields that are null."""
    if not isinstance(event, dict):
        return event
    out = copy.deepcopy(event)
    for path in NULL_WHEN_UNSET:
        _drop_null(out, path)
    return out


def _drop_null(node: Any, path: tuple[str, ...]) -> None:
    key, rest = path[0], path[1:]
    if key == "*" and isinstance(node, list):
        for item in node:
            _drop_null(item, rest)
    elif isinstance(node, dict) and key in node:
        if not rest:
            if node[key] is None:
                del node[key]
        else:
            _drop_null(node[key], rest)


class RealtimeChecker:
    family = "openai-realtime"
    apis: tuple[str, ...] = ("realtime",)

    def available(self) -> str | None:
        return None

    def response_schemas(self) -> list[str]:
        return sorted(set(event_schemas().values()))

    def check_body(self, api: str, path: str, status: int, body: Any) -> Verdict:
        """The handshake refused (an HTTP error before the upgrade) answers in OpenAI's error envelope."""
        verdict = Verdict()
        verdict.add("ErrorResponse", openapi.validate(FAMILY, "ErrorResponse", body))
        return verdict

    def check_stream(self, api: str, path: str, events: Sequence[SSEEvent], *, complete: bool) -> Verdict:
        verdict = Verdict()
        schemas = event_schemas()
        for i, event in enumerate(events):
            type_ = event.data.get("type") if isinstance(event.data, dict) else None
            where = f"event {i} ({type_})"
            name = schemas.get(str(type_))
            if name is None:
                verdict.violations.append(Violation(UNION, "$.type", f"unknown type {type_!r}", where))
                continue
            verdict.add(name, openapi.validate(FAMILY, name, unset_nulls(event.data), where))
        if events and isinstance(events[0].data, dict) and events[0].data.get("type") != "session.created":
            verdict.violations.append(
                Violation(UNION, "$.type", "the first event must be session.created", "stream order")
            )
        return verdict


register(RealtimeChecker())
