"""The Gemini checker: bodies and stream chunks against google-genai's typed models in strict mode (see
typed_models; its models already forbid unknown keys), read by their wire (camelCase) names.

Errors are google.rpc.Status envelopes, which google-genai does not model: `ERROR_SCHEMA` is that message's
documented shape (https://ai.google.dev/api/rest/v1beta/Status, https://cloud.google.com/apis/design/errors).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from typing import Any

from jsonschema import Draft202012Validator

from fake_llm.conformance.registry import SSEEvent, Verdict, Violation, register
from fake_llm.conformance.typed_models import validate_model

STATUS_NAMES = [
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
    "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
]  # fmt: skip
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "status"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "integer"},
                "message": {"type": "string"},
                "status": {"enum": STATUS_NAMES},
                "details": {"type": "array", "items": {"type": "object", "required": ["@type"]}},
            },
        }
    },
}
_ERRORS = Draft202012Validator(ERROR_SCHEMA)
SCHEMAS = (
    "GenerateContentResponse",
    "CountTokensResponse",
    "SingleEmbedContentResponse",
    "EmbedContentResponse",
    "Status",
)


def _method(path: str) -> str:
    return path.rpartition(":")[2]


class GeminiChecker:
    family = "gemini"
    apis: tuple[str, ...] = ("gemini",)

    def available(self) -> str | None:
        try:
            importlib.metadata.version("google-genai")
        except importlib.metadata.PackageNotFoundError:
            return "the google-genai SDK is not installed (pip install 'fake-llm[conformance]')"
        return None

    def response_schemas(self) -> list[str]:
        return list(SCHEMAS)

    def check_body(self, api: str, path: str, status: int, body: Any, where: str = "body") -> Verdict:
        from google.genai import types

        verdict = Verdict()
        if status >= 400 or (isinstance(body, dict) and "error" in body):
            violations = [Violation("Status", e.json_path, e.message, where) for e in _ERRORS.iter_errors(body)]
            verdict.add("Status", violations)
            return verdict
        name, model = {
            "countTokens": ("CountTokensResponse", types.CountTokensResponse),
            "embedContent": ("SingleEmbedContentResponse", types.SingleEmbedContentResponse),
            "batchEmbedContents": ("EmbedContentResponse", types.EmbedContentResponse),
        }.get(_method(path), ("GenerateContentResponse", types.GenerateContentResponse))
        verdict.add(name, validate_model(name, model, body, where, by_alias=True))
        return verdict

    def check_stream(self, api: str, path: str, events: Sequence[SSEEvent], *, complete: bool) -> Verdict:
        verdict = Verdict()
        for i, event in enumerate(events):
            part = self.check_body(api, path, 200, event.data, f"chunk {i}")
            verdict.schemas.extend(part.schemas)
            verdict.violations.extend(part.violations)
            if event.event is not None:  # google-genai reads data lines only
                verdict.violations.append(
                    Violation("stream", "event:", "Gemini streams carry no event: lines", f"chunk {i}")
                )
        return verdict


register(GeminiChecker())
