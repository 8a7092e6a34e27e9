"""The Anthropic checker: bodies and events against the anthropic SDK's typed models in strict mode
(see typed_models), plus the Messages stream's fixed event order.

Anthropic publishes no OpenAPI document; its SDK's models are generated from the API definition, so they are the
closest machine-readable spec. The SDK version the check ran with is part of the report (fixtures/specs/README.md
names the pinned one).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
from collections.abc import Sequence
from typing import Any

from fake_llm.conformance.registry import SSEEvent, Verdict, Violation, register
from fake_llm.conformance.typed_models import validate_model

#: Fields the API sends as null when unset (wire-format §5.3), which the SDK types as optional.
REQUIRED_NULLABLE = {"Message": ("stop_reason", "stop_sequence")}
SCHEMAS = ("Message", "MessageTokensCount", "ErrorResponse", "RawMessageStreamEvent")


class AnthropicChecker:
    family = "anthropic"
    apis: tuple[str, ...] = ("anthropic",)

    def available(self) -> str | None:
        try:
            importlib.metadata.version("anthropic")
        except importlib.metadata.PackageNotFoundError:
            return "the anthropic SDK is not installed (pip install 'fake-llm[conformance]')"
        return None

    def response_schemas(self) -> list[str]:
        return list(SCHEMAS)

    def check_body(self, api: str, path: str, status: int, body: Any) -> Verdict:
        from anthropic import types

        verdict = Verdict()
        if status >= 400:
            verdict.add("ErrorResponse", _error(body))
        elif path.endswith("/count_tokens"):
            verdict.add("MessageTokensCount", validate_model("MessageTokensCount", types.MessageTokensCount, body))
        else:
            verdict.add("Message", validate_model("Message", types.Message, body, required_nullable=REQUIRED_NULLABLE))
        return verdict

    def check_stream(self, api: str, path: str, events: Sequence[SSEEvent], *, complete: bool) -> Verdict:
        from anthropic import types

        verdict = Verdict()
        for i, event in enumerate(events):
            type_ = event.data.get("type") if isinstance(event.data, dict) else None
            where = f"event {i} ({type_})"
            if event.event != type_:  # the SDK skips events without a matching `event:` line (wire-format §5.4)
                verdict.violations.append(Violation("event", "event:", f"{event.event!r} != {type_!r}", where))
            if type_ == "error":
                verdict.add("ErrorResponse", _error(event.data, where))
            elif type_ != "ping":
                verdict.add(
                    "RawMessageStreamEvent",
                    validate_model(
                        "RawMessageStreamEvent",
                        types.RawMessageStreamEvent,
                        event.data,
                        where,
                        required_nullable=REQUIRED_NULLABLE,
                    ),
                )
        verdict.violations.extend(messages_order(events, complete))
        return verdict


#: Error types Anthropic documents (https://docs.anthropic.com/en/api/errors) that the SDK's ErrorObject union
#: leaves out: its edge answers an oversized body with 413 `request_too_large`. Checked with the shape of an
#: invalid_request_error, whose fields are the same.
DOCUMENTED_TYPES = frozenset({"request_too_large"})


def _error(body: Any, where: str = "body") -> list[Violation]:
    """An error envelope. `error.details` (the finer `error_code`, which anthropic-python maps to its own
    exception classes) is modelled apart from the error objects in the SDK (`ErrorDetails`), so it is checked
    apart."""
    from anthropic import types

    details = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict) and "details" in body["error"]:
        details = body["error"]["details"]
        body = {**body, "error": {k: v for k, v in body["error"].items() if k != "details"}}
    if isinstance(body, dict) and isinstance(body.get("error"), dict) and body["error"].get("type") in DOCUMENTED_TYPES:
        body = {**body, "error": {**body["error"], "type": "invalid_request_error"}}
    out = validate_model("ErrorResponse", types.ErrorResponse, body, where)
    if details is not None:
        found = validate_model("ErrorResponse", types.ErrorDetails, details, where)
        out += [dataclasses.replace(v, field="$.error.details" + v.field[1:]) for v in found]
    return out


def messages_order(events: Sequence[SSEEvent], complete: bool) -> list[Violation]:
    """message_start, then blocks opened, filled and closed one at a time in index order, then message_delta and
    message_stop; `ping` anywhere; an `error` event ends the stream."""
    out: list[Violation] = []

    def fail(i: int, message: str) -> None:
        out.append(Violation("RawMessageStreamEvent", "$.type", message, f"stream order, event {i}"))

    state = "start"  # start -> blocks -> delta -> stopped
    open_block: int | None = None
    next_index = 0
    for i, event in enumerate(events):
        data = event.data if isinstance(event.data, dict) else {}
        type_ = data.get("type")
        if type_ == "ping":
            continue
        if state in ("stopped", "error"):
            fail(i, f"{type_!r} after the end of the stream")
            continue
        if state == "start" and type_ not in ("message_start", "error"):
            fail(i, f"the first event must be message_start, not {type_!r}")
            state = "blocks"
        if type_ == "error":
            state = "error"
        elif type_ == "message_start":
            if state != "start":
                fail(i, "message_start twice")
            state = "blocks"
        elif type_ == "content_block_start":
            if open_block is not None or state != "blocks":
                fail(i, "content_block_start while a block is open or after message_delta")
            if data.get("index") != next_index:
                fail(i, f"content_block_start index {data.get('index')!r}, expected {next_index}")
            open_block, next_index = data.get("index"), next_index + 1
        elif type_ in ("content_block_delta", "content_block_stop"):
            if data.get("index") != open_block or open_block is None:
                fail(i, f"{type_} for index {data.get('index')!r}, but the open block is {open_block!r}")
            if type_ == "content_block_stop":
                open_block = None
        elif type_ == "message_delta":
            if open_block is not None:
                fail(i, "message_delta while a block is open")
            state = "delta"
        elif type_ == "message_stop":
            if state != "delta":
                fail(i, "message_stop without a message_delta before it")
            state = "stopped"
    if complete and state not in ("stopped", "error"):
        fail(len(events), "the stream does not end with message_stop (or an error event)")
    return out


register(AnthropicChecker())
