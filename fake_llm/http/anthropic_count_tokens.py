"""`POST /v1/messages/count_tokens`: Anthropic's token counter, answered from the same parser and token counter as
`/v1/messages`. It reads the engine's settings and ids, so it lives in the HTTP layer rather than in the dialect
(which would otherwise import the engine that imports the dialects)."""

from __future__ import annotations

import hashlib
import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fake_llm.core.tokens import count_prompt
from fake_llm.dialects.anthropic.messages import AnthropicMessages
from fake_llm.dialects.anthropic.request import dumps
from fake_llm.dialects.base import ReplyMeta
from fake_llm.errors import ProviderRequestError
from fake_llm.http.engine import FakeLLM

PROVIDER = AnthropicMessages()


async def count_tokens(request: Request) -> Response:
    """`POST /v1/messages/count_tokens`: `{"input_tokens": N}`, the number a Messages reply to the same request
    reports as `usage.input_tokens`. Validated and authenticated like `/v1/messages`."""
    engine: FakeLLM = request.app.state.fake_llm
    raw = await _read_limited(request, engine.settings.max_body_bytes)
    digest = hashlib.blake2b(raw or b"", digest_size=16).hexdigest()
    meta = ReplyMeta("", 0, "", engine.ids.make("req_", f"count_tokens:{digest}", 20), engine.settings.seed)
    headers = PROVIDER.response_headers(meta)

    def error(status: int, message: str) -> Response:
        return Response(dumps(PROVIDER.error_body(status, message)), status, headers, media_type="application/json")

    if raw is None:
        return error(413, "")
    request_headers = {k.lower(): v for k, v in request.headers.items()}
    if engine.settings.api_keys and PROVIDER.api_key(request_headers) not in engine.settings.api_keys:
        return error(401, "")
    try:
        body = json.loads(raw)
        chat = PROVIDER.parse_request(body, request_headers, counting=True)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error(400, "There was an issue with your request body: it is not valid JSON.")
    except ProviderRequestError as exc:
        return error(exc.status, exc.message)
    tokens = count_prompt(engine.tokenizer, chat.prompt_texts(), len(chat.messages))
    return Response(dumps({"input_tokens": tokens}), 200, headers, media_type="application/json")


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it exceeds `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


#: Routes that are not chat completions; app.py mounts them next to the dialects' routes.
EXTRA_ROUTES = [Route("/v1/messages/count_tokens", count_tokens, methods=["POST"])]
