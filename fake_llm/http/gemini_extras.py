"""Gemini's methods beside generateContent: `:countTokens`, `:embedContent` and `:batchEmbedContents`
(https://ai.google.dev/api/tokens, https://ai.google.dev/api/embeddings). Like Anthropic's count_tokens they
answer without a rule, from the same parser, token counter and seeded vectors as the rest of fake-llm, and are
journaled. They read the engine, so they live in the HTTP layer."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from fake_llm.core.tokens import count_prompt
from fake_llm.dialects.base import ReplyMeta
from fake_llm.dialects.gemini.generate import Gemini
from fake_llm.dialects.gemini.request import dumps, parse_contents, parse_system
from fake_llm.dialects.openai.embeddings import embed
from fake_llm.errors import ProviderRequestError
from fake_llm.http.engine import FakeLLM
from fake_llm.model.request import Message

PROVIDER = Gemini()
NO_META = ReplyMeta("", 0, "", "")
#: A handler answers `request` for `engine` (the namespace its session header picked).
Handler = Callable[[Request, FakeLLM], Awaitable[Response]]


def method_of(request: Request) -> str:
    target = request.path_params.get("target") or request.path_params.get("tuned") or ""
    return str(target).rpartition(":")[2]


def handler_for(request: Request) -> Handler | None:
    """The handler of a Gemini method other than (stream)generateContent, or None."""
    return HANDLERS.get(method_of(request))


def _model(request: Request) -> str:
    target = request.path_params.get("target") or request.path_params.get("tuned") or ""
    return str(target).rpartition(":")[0]


def dimensions(model: str) -> int:
    """gemini-embedding-001 gives 3072 values; text-embedding-004 and embedding-001 give 768."""
    return 3072 if "gemini-embedding" in model else 768


async def _answer(request: Request, engine: FakeLLM, answer: Callable[[FakeLLM, Any], dict[str, Any]]) -> Response:
    headers = {k.lower(): v for k, v in request.headers.items()}
    body: Any = None

    def reply(status: int, payload: dict[str, Any], summary: str) -> Response:
        engine.record_counting(request, PROVIDER.api, body, status, summary)
        return Response(dumps(payload), status, PROVIDER.response_headers(NO_META), media_type="application/json")

    try:
        raw = await request.body()
        if len(raw) > engine.settings.max_body_bytes:
            raise ProviderRequestError(f"Request payload size exceeds the limit: {engine.settings.max_body_bytes}")
        given = PROVIDER.api_key(headers, request.query_params)
        if engine.settings.api_keys and given not in engine.settings.api_keys:
            raise PROVIDER.auth_error(given)
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = raw.decode("utf-8", errors="replace")[:2000]
            raise ProviderRequestError("Invalid JSON payload received.") from None
        if not isinstance(body, dict):
            raise ProviderRequestError(f"Invalid JSON payload received. Expected an object, got {dumps(body)[:40]}.")
        payload = answer(engine, body)
    except ProviderRequestError as exc:
        error = PROVIDER.error_body(exc.status, exc.message, param=exc.param, code=exc.code)
        return reply(exc.status, error, exc.message)
    return reply(200, payload, dumps(payload)[:120])


def _texts(messages: list[Message]) -> list[str]:
    return [m.text for m in messages]


def _count(engine: FakeLLM, body: Mapping[str, Any]) -> dict[str, Any]:
    """`contents`, or a whole `generateContentRequest` (whose system instruction counts too)."""
    inner = body.get("generateContentRequest")
    source = inner if isinstance(inner, dict) else body
    messages = [*parse_system(source), *parse_contents(source.get("contents"))]
    tokens = count_prompt(engine.tokenizer, _texts(messages), len(messages))
    return {"totalTokens": tokens}


def _vector(engine: FakeLLM, model: str, content: Any, size: Any, field: str) -> dict[str, Any]:
    messages = parse_contents([content] if isinstance(content, dict) else content)
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
        raise ProviderRequestError(f"* {field}.output_dimensionality: must be a positive integer", param=field)
    text = "\n".join(_texts(messages))
    return {"values": embed(engine.settings.seed, model, text, size or dimensions(model))}


def _embed_one(model: str) -> Callable[[FakeLLM, Any], dict[str, Any]]:
    def answer(engine: FakeLLM, body: Any) -> dict[str, Any]:
        size = body.get("outputDimensionality")
        return {"embedding": _vector(engine, model, body.get("content"), size, "embed_content_request")}

    return answer


def _embed_batch(model: str) -> Callable[[FakeLLM, Any], dict[str, Any]]:
    def answer(engine: FakeLLM, body: Any) -> dict[str, Any]:
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            raise ProviderRequestError("* requests: must not be empty", param="requests")
        out = []
        for i, item in enumerate(requests):
            item = item if isinstance(item, dict) else {}
            named = str(item.get("model") or model).removeprefix("models/")
            out.append(_vector(engine, named, item.get("content"), item.get("outputDimensionality"), f"requests[{i}]"))
        return {"embeddings": out}

    return answer


async def count_tokens(request: Request, engine: FakeLLM) -> Response:
    return await _answer(request, engine, _count)


async def embed_content(request: Request, engine: FakeLLM) -> Response:
    return await _answer(request, engine, _embed_one(_model(request)))


async def batch_embed_contents(request: Request, engine: FakeLLM) -> Response:
    return await _answer(request, engine, _embed_batch(_model(request)))


HANDLERS: dict[str, Handler] = {
    "countTokens": count_tokens,
    "embedContent": embed_content,
    "batchEmbedContents": batch_embed_contents,
}
