"""The Cohere v2 checker: chat bodies, each chat stream event, embed and rerank bodies against the `cohere` SDK's
typed models in strict mode (see typed_models), and the stream's event order (message-start first, message-end
last). Errors are `{"message": ...}`, which the SDK reads by hand and does not model (`ERROR_SCHEMA`)."""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Sequence
from typing import Any

from fake_llm.conformance.registry import SSEEvent, Verdict, Violation, register
from fake_llm.conformance.typed_models import validate_model, validate_schema

ERROR_SCHEMA = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string"}, "id": {"type": "string"}},
    "additionalProperties": False,
}
#: Where the live API sends more than the SDK models, and fake-llm follows the live API: (where-prefix, field
#: pattern, why). Each is a recorded exception, never a way to silence a finding.
QUIRKS: tuple[tuple[str, str, str], ...] = (
    (
        "event 0 (message-start)",
        r"\$\.delta\.message\.(content|tool_plan|tool_calls|citations)",
        "Cohere's message-start carries the empty message (docs.cohere.com chat-stream); the SDK models only role",
    ),
)
BODY = {"cohere": "V2ChatResponse", "cohere-embed": "EmbedByTypeResponse", "cohere-rerank": "V2RerankResponse"}
CHUNK = "V2ChatStreamResponse"


def _model(name: str) -> Any:
    from cohere import types
    from cohere.v2 import types as v2

    return getattr(v2, name, None) or getattr(types, name)


class CohereChecker:
    family = "cohere"
    apis: tuple[str, ...] = tuple(BODY)

    def available(self) -> str | None:
        try:
            importlib.metadata.version("cohere")
        except importlib.metadata.PackageNotFoundError:
            return "the cohere SDK is not installed (pip install 'fake-llm[conformance]')"
        return None

    def response_schemas(self) -> list[str]:
        return sorted({*BODY.values(), CHUNK, "Error"})

    def check_body(self, api: str, path: str, status: int, body: Any) -> Verdict:
        verdict = Verdict()
        if status >= 400:
            verdict.add("Error", validate_schema("Error", ERROR_SCHEMA, body))
        else:
            verdict.add(BODY[api], validate_model(BODY[api], _model(BODY[api]), body, by_alias=True))
        return verdict

    def check_stream(self, api: str, path: str, events: Sequence[SSEEvent], *, complete: bool) -> Verdict:
        verdict = Verdict()
        types = [e.data.get("type") if isinstance(e.data, dict) else None for e in events]
        for i, event in enumerate(events):
            where = f"event {i} ({types[i]})"
            verdict.add(CHUNK, validate_model(CHUNK, _model(CHUNK), event.data, where, by_alias=True))
            if event.event is not None and event.event != types[i]:
                verdict.violations.append(Violation(CHUNK, "event:", f"{event.event!r} != type {types[i]!r}", where))
        verdict.violations = [
            v
            for v in verdict.violations
            if not any(v.where == at and re.fullmatch(field, v.field) for at, field, _ in QUIRKS)
        ]
        if types and types[0] != "message-start":
            verdict.violations.append(Violation(CHUNK, "$.type", f"first event {types[0]!r}", "stream order"))
        if complete and (not types or types[-1] != "message-end"):
            verdict.violations.append(
                Violation(CHUNK, "$.type", "the stream does not end with message-end", "stream order")
            )
        return verdict


register(CohereChecker())
