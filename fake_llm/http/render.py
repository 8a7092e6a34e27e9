"""render(): an Outcome of the pipeline as the ASGI response the client gets, in the request's dialect."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp

from fake_llm.core.dialect import Dialect
from fake_llm.core.outcomes import (
    Completed,
    Counted,
    DialectAnswer,
    ErrorReply,
    Hang,
    Mismatched,
    Outcome,
    RateLimited,
    RawBody,
    Rejected,
    Unmatched,
)
from fake_llm.http.sse import DelayedResponse, EventStreamResponse, HangResponse, json_array
from fake_llm.settings import Settings

JSON_TYPE = "application/json"


def dump(body: Any) -> bytes:
    """Compact JSON, as the providers send it."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(body: Any, status: int, headers: Mapping[str, str]) -> Response:
    return Response(dump(body), status_code=status, headers=dict(headers), media_type=JSON_TYPE)


def render(dialect: Dialect, outcome: Outcome, settings: Settings, on_close: Callable[[str], None]) -> ASGIApp:
    """The response for `outcome`; `on_close` is told how a stream ended. A scripted delay wraps matched replies."""
    response = _render(dialect, outcome, settings, on_close)
    if outcome.seen.delay_ms:
        response = DelayedResponse(response, outcome.seen.delay_ms * settings.time_scale / 1000.0)
    return response


def _render(dialect: Dialect, outcome: Outcome, settings: Settings, on_close: Callable[[str], None]) -> ASGIApp:
    headers = outcome.headers
    if isinstance(outcome, Completed):
        return _completed(dialect, outcome, settings, on_close)
    if isinstance(outcome, Rejected):
        error = outcome.error
        body = dialect.error_body(error.status, error.message, param=error.param, code=error.code)
        return json_response(body, error.status, headers)
    if isinstance(outcome, Unmatched):
        body = dialect.error_body(400, outcome.message, type="invalid_request_error", code="fake_llm_no_match")
        return json_response(body, 400, headers)
    if isinstance(outcome, Mismatched):
        body = dialect.error_body(400, f"fake-llm: {outcome.message}", code=outcome.code)
        return json_response(body, 400, headers)
    if isinstance(outcome, RateLimited):
        decision = outcome.decision
        body = dialect.error_body(429, decision.message, type=decision.kind, code="rate_limit_exceeded")
        return json_response(body, 429, headers)
    if isinstance(outcome, Counted):
        return json_response(dialect.count_body(outcome.tokens), 200, headers)
    if isinstance(outcome, DialectAnswer):
        return json_response(outcome.body, 200, headers)
    if isinstance(outcome, Hang):
        message = "fake-llm: a hang reply reached the server's max_hang_seconds."
        timeout = dialect.error_body(504, message, type="timeout_error")
        return HangResponse(settings.max_hang_seconds, json_response(timeout, 504, headers))
    if isinstance(outcome, RawBody):
        raw = outcome.raw
        return Response(raw.body, raw.status, dict(headers), media_type=raw.content_type)
    return _error_reply(dialect, outcome)


def _error_reply(dialect: Dialect, outcome: ErrorReply) -> Response:
    error = outcome.error
    if error.body is not None:
        return Response(error.body, error.status, dict(outcome.headers), media_type=error.content_type or JSON_TYPE)
    body = dialect.error_body(
        error.status,
        error.message or "",
        type=error.type,
        param=error.param,
        code=error.code,
        extra=error.extra,
        flat=error.envelope == "flat",
    )
    return json_response(body, error.status, outcome.headers)


def _completed(dialect: Dialect, outcome: Completed, settings: Settings, on_close: Callable[[str], None]) -> ASGIApp:
    plan = outcome.plan
    if plan is None:
        # A dialect whose answer is not JSON (audio bytes, plain-text transcripts) encodes its own body.
        encoded = dialect.encode_body(outcome.completion, outcome.meta, outcome.request)
        if encoded is None:
            encoded = dump(dialect.completion_body(outcome.completion, outcome.meta, outcome.request)), JSON_TYPE
        content, media_type = encoded
        if outcome.truncate_body is not None:
            content = content[: outcome.truncate_body]
        return Response(content, 200, dict(outcome.headers), media_type=media_type)
    events, headers = plan.events, dict(outcome.headers)
    if outcome.request.stream_format == "json-array":  # Gemini without `alt=sse`: one JSON array, piece by piece
        events = json_array(plan.events, closed=not plan.abort)
        headers["content-type"] = "application/json; charset=UTF-8"
    return EventStreamResponse(
        events,
        headers=headers,
        time_scale=settings.time_scale,
        line_ending=plan.line_ending,
        abort=plan.abort,
        on_close=on_close,
        ndjson=dialect.stream_framing == "ndjson",
    )
