"""The Mistral checker: chat bodies, stream chunks and embeddings against the `mistralai` SDK's typed models in
strict mode (see typed_models; its models ignore unknown keys, so those are found by comparing with the fields).
Errors: 422 is the SDK's `HTTPValidationError`; other statuses carry Mistral's flat envelope, which the SDK reads
as raw text (`ERROR_SCHEMA`, written from Mistral's API responses: object, message, type, param, code)."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from typing import Any

from fake_llm.conformance.registry import SSEEvent, Verdict, Violation, register
from fake_llm.conformance.typed_models import validate_model, validate_schema

ERROR_SCHEMA = {
    "type": "object",
    "required": ["object", "message", "type"],
    "properties": {
        "object": {"const": "error"},
        "message": {"type": "string"},
        "type": {"type": "string"},
        "param": {"type": ["string", "null"]},
        "code": {"type": ["string", "integer", "null"]},
    },
    "additionalProperties": False,
}
BODY = {"mistral": "ChatCompletionResponse", "mistral-embeddings": "EmbeddingResponse"}
CHUNK = "CompletionChunk"


def _model(name: str) -> Any:
    from mistralai.client import models

    return getattr(models, name)


class MistralChecker:
    family = "mistral"
    apis: tuple[str, ...] = tuple(BODY)

    def available(self) -> str | None:
        try:
            importlib.metadata.version("mistralai")
        except importlib.metadata.PackageNotFoundError:
            return "the mistralai SDK is not installed (pip install 'fake-llm[conformance]')"
        return None

    def response_schemas(self) -> list[str]:
        return sorted({*BODY.values(), CHUNK, "Error", "HTTPValidationError"})

    def check_body(self, api: str, path: str, status: int, body: Any, where: str = "body") -> Verdict:
        verdict = Verdict()
        if status == 422 and isinstance(body, dict) and "detail" in body:
            verdict.add("HTTPValidationError", validate_model("HTTPValidationError", _validation(), body, where))
        elif status >= 400 or (isinstance(body, dict) and body.get("object") == "error"):
            verdict.add("Error", validate_schema("Error", ERROR_SCHEMA, body, where))
        else:
            verdict.add(BODY[api], validate_model(BODY[api], _model(BODY[api]), body, where))
        return verdict

    def check_stream(self, api: str, path: str, events: Sequence[SSEEvent], *, complete: bool) -> Verdict:
        verdict = Verdict()
        for i, event in enumerate(events):
            if event.data == "[DONE]":
                continue
            if isinstance(event.data, dict) and event.data.get("object") == "error":
                part = self.check_body(api, path, 500, event.data, f"event {i} (error)")
            else:
                part = Verdict()
                part.add(CHUNK, validate_model(CHUNK, _model(CHUNK), event.data, f"event {i}"))
            verdict.schemas += part.schemas
            verdict.violations += part.violations
        errored = bool(events) and isinstance(events[-1].data, dict) and events[-1].data.get("object") == "error"
        if complete and not errored and (not events or events[-1].data != "[DONE]"):
            verdict.violations.append(
                Violation(CHUNK, "$", "the stream does not end with data: [DONE]", "stream order")
            )
        return verdict


def _validation() -> Any:
    from mistralai.client.errors import HTTPValidationErrorData

    return HTTPValidationErrorData


register(MistralChecker())
