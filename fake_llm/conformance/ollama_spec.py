"""The Ollama checker: chat/generate bodies and each NDJSON stream line, embed/embeddings, tags/show/ps against the
`ollama` SDK's typed models in strict mode (see typed_models; its models ignore unknown keys, so those are found by
comparing with the fields), and the stream's end (exactly one final line, with `done: true`, last). `/api/version`
and the `{"error": "..."}` envelope are read by hand in the client, so they are written down here (`SCHEMAS`)."""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Sequence
from typing import Any

from fake_llm.conformance.registry import SSEEvent, Verdict, Violation, register
from fake_llm.conformance.typed_models import validate_model, validate_schema

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
        "additionalProperties": False,
    },
    "Version": {
        "type": "object",
        "required": ["version"],
        "properties": {"version": {"type": "string"}},
        "additionalProperties": False,
    },
}
BODY = {
    "ollama": "ChatResponse",
    "ollama-generate": "GenerateResponse",
    "ollama-embed": "EmbedResponse",
    "ollama-embeddings": "EmbeddingsResponse",
}
#: `ollama-models`: the model endpoints (http/ollama_models.py), by path.
MODELS = {"/api/tags": "ListResponse", "/api/show": "ShowResponse", "/api/ps": "ProcessResponse"}


#: Where the live API sends more than the SDK models, and fake-llm follows the live API: (schema, field pattern, why).
QUIRKS: tuple[tuple[str, str, str], ...] = (
    (
        "ListResponse",
        r"\$\.models\[\d+\]\.name",
        "Ollama's /api/tags lists each model's name next to model (docs/api.md)",
    ),
    ("ProcessResponse", r"\$\.models\[\d+\]\.name", "so does /api/ps"),
)


def _model(name: str) -> Any:
    import ollama

    return getattr(ollama, name)


class OllamaChecker:
    family = "ollama"
    apis: tuple[str, ...] = (*BODY, "ollama-models")

    def available(self) -> str | None:
        try:
            importlib.metadata.version("ollama")
        except importlib.metadata.PackageNotFoundError:
            return "the ollama SDK is not installed (pip install 'fake-llm[conformance]')"
        return None

    def response_schemas(self) -> list[str]:
        return sorted({*BODY.values(), *MODELS.values(), *SCHEMAS})

    def check_body(self, api: str, path: str, status: int, body: Any, where: str = "body") -> Verdict:
        verdict = Verdict()
        if status >= 400 or (isinstance(body, dict) and "error" in body):
            name = "Error"
        elif api == "ollama-models":
            name = MODELS.get(path.rstrip("/"), "Version")
        else:
            name = BODY[api]
        if name in SCHEMAS:
            verdict.add(name, validate_schema(name, SCHEMAS[name], body, where))
        else:
            found = validate_model(name, _model(name), body, where, by_alias=True)
            found = [v for v in found if not any(v.schema == s and re.fullmatch(f, v.field) for s, f, _ in QUIRKS)]
            verdict.add(name, found)
        return verdict

    def check_stream(self, api: str, path: str, events: Sequence[SSEEvent], *, complete: bool) -> Verdict:
        verdict = Verdict()
        done_at: int | None = None
        for i, event in enumerate(events):
            part = self.check_body(api, path, 200, event.data, f"line {i}")
            verdict.schemas += part.schemas
            verdict.violations += part.violations
            if done_at is not None:
                verdict.violations.append(Violation(BODY[api], "$", "a line after the done: true line", f"line {i}"))
            if isinstance(event.data, dict) and (event.data.get("done") is True or "error" in event.data):
                done_at = i
        if complete and done_at is None:
            verdict.violations.append(
                Violation(BODY[api], "$.done", "no line with done: true ends the stream", "stream order")
            )
        return verdict


register(OllamaChecker())
