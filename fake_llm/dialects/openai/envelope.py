"""What every OpenAI endpoint shares on the wire, as functions: the Bearer key, the error envelope, the response
headers, a mid-stream error event and compact JSON. Chat, Responses, completions and embeddings each call them
(none inherits from another)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fake_llm.core.dialect import ReplyMeta
from fake_llm.model.spec import StreamError
from fake_llm.model.stream import Event

#: Error `type` OpenAI uses for each status (wire-format §2.5); scenarios may override it.
ERROR_TYPES = {429: "requests"}
ERROR_CODES = {429: "rate_limit_exceeded"}
#: Messages OpenAI sends for each status, used when a scenario's error gives none.
ERROR_MESSAGES = {
    400: "Bad request.",
    401: "Incorrect API key provided.",
    403: "You are not allowed to make this request.",
    404: "The model does not exist or you do not have access to it.",
    429: "Rate limit reached for requests. Please try again later.",
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The server is overloaded or not ready yet.",
    504: "Gateway timeout.",
}


def dumps(value: Any) -> str:
    """Compact JSON as OpenAI sends it (non-ASCII kept as UTF-8)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def bearer_key(headers: Mapping[str, str]) -> str | None:
    """The key of `Authorization: Bearer <key>`, or None."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def error_body(
    status: int,
    message: str,
    *,
    type: str | None = None,
    param: str | None = None,
    code: Any = None,
    extra: Mapping[str, Any] | None = None,
    flat: bool = False,
) -> dict[str, Any]:
    """The error envelope `{"error": {message, type, param, code}}`; `flat` sends the object alone, as some
    OpenAI-compatible providers do (wire-format §7a)."""
    default_type = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    error = {
        "message": message or ERROR_MESSAGES.get(status, f"Error {status}."),
        "type": type or default_type,
        "param": param,
        "code": ERROR_CODES.get(status) if code is None else code,
        **(extra or {}),
    }
    return error if flat else {"error": error}


def response_headers(meta: ReplyMeta) -> dict[str, str]:
    return {"x-request-id": meta.request_id, "openai-version": "2020-10-01", "openai-processing-ms": "0"}


def stream_error_event(error: StreamError) -> Event:
    """A mid-stream error: a data object with a top-level `error` (what the SDKs raise on, §2.5/§8.3)."""
    body = error_body(500, error.message or "", type=error.type, param=error.param, code=error.code)
    return Event(dumps(body), event="error" if error.event_line else None, kind="error")


def input_tokens_body(tokens: int) -> dict[str, Any]:
    """OpenAI's input-token count shape (`POST /v1/responses/input_tokens`)."""
    return {"object": "response.input_tokens", "input_tokens": tokens}
