"""create_app: the Starlette application, its route table, CORS and provider-shaped 404/405s."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from fake_llm.dialects import COUNTERS, DIALECTS, Dialect
from fake_llm.errors import ProviderRequestError
from fake_llm.http import gemini_extras
from fake_llm.http.admin import ADMIN_ROUTES
from fake_llm.http.aws_headers import with_aws_headers
from fake_llm.http.dashboard import DASHBOARD_ROUTES
from fake_llm.http.engine import MODEL_CREATED, FakeLLM
from fake_llm.http.fast_path import ApiFastPath
from fake_llm.http.guard import RequestGuard
from fake_llm.http.images import EXTRA_ROUTES as IMAGE_ROUTES
from fake_llm.http.ollama_models import EXTRA_ROUTES as OLLAMA_ROUTES
from fake_llm.http.realtime import REALTIME_ROUTES
from fake_llm.http.render import json_response
from fake_llm.http.sse import silence_scripted_disconnects
from fake_llm.model.spec import Scenario
from fake_llm.settings import Settings

#: Response headers a browser app may read (CORS).
EXPOSED_HEADERS = [
    "x-request-id",
    "request-id",
    "openai-processing-ms",
    "retry-after",
    "retry-after-ms",
    "x-should-retry",
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
]


#: Wrappers applied to every app create_app builds, in order (the conformance recorder of a test session).
#: Changed only through `wrap_every_app`.
_APP_WRAPPERS: list[Callable[[ASGIApp], ASGIApp]] = []


def wrap_every_app(wrapper: Callable[[ASGIApp], ASGIApp]) -> Callable[[], None]:
    """Have every app built from now on wrapped by `wrapper` (outermost); returns the function that stops it.

    The pytest plugin's conformance check uses it, so TestClient apps and threaded servers alike are covered."""
    _APP_WRAPPERS.append(wrapper)
    return lambda: _APP_WRAPPERS.remove(wrapper)


def dialect_endpoint(dialect: Dialect) -> object:
    """The endpoint for `dialect`'s routes: every request goes through FakeLLM.chat (the pipeline)."""

    async def endpoint(request: Request) -> ASGIApp:
        engine: FakeLLM = request.app.state.fake_llm
        try:
            space = engine.space(request.headers.get("x-fake-llm-session"))
        except ProviderRequestError as exc:
            body = dialect.error_body(exc.status, exc.message, code=exc.code)
            return with_aws_headers(dialect, json_response(body, exc.status, {"x-should-retry": "false"}))
        if dialect.api == "gemini" and (other := gemini_extras.handler_for(request)) is not None:
            return await other(request, space)  # countTokens, embedContent: answered without a rule
        # Bedrock's wire needs more than a body and headers: its error-type header and event-stream content type.
        return with_aws_headers(dialect, await space.chat(dialect, request))

    endpoint.__name__ = dialect.api.replace("-", "_")
    return endpoint


def _model(model_id: str) -> dict[str, object]:
    return {"id": model_id, "object": "model", "created": MODEL_CREATED, "owned_by": "fake-llm"}


async def list_models(request: Request) -> Response:
    engine: FakeLLM = request.app.state.fake_llm
    return JSONResponse({"object": "list", "data": [_model(m) for m in engine.models()]})


async def get_model(request: Request) -> Response:
    engine: FakeLLM = request.app.state.fake_llm
    model_id = request.path_params["model"]
    if engine.knows_model(model_id):
        return JSONResponse(_model(model_id))
    return JSONResponse(
        DIALECTS["openai-chat"].error_body(
            404, f"The model '{model_id}' does not exist or you do not have access to it.", code="model_not_found"
        ),
        status_code=404,
    )


#: Path prefixes whose unknown URLs get another dialect's error shape than OpenAI's.
_ERROR_SHAPES = (("/api/", "ollama"), ("/v2/", "cohere"), ("/mistral/", "mistral"))


def error_shape(path: str) -> Dialect:
    """The dialect whose envelope an unknown URL under `path` is answered in."""
    return DIALECTS[next((api for prefix, api in _ERROR_SHAPES if path.startswith(prefix)), "openai-chat")]


async def http_error(request: Request, exc: Exception) -> Response:
    """404/405 in the envelope of the dialect the path belongs to (OpenAI's by default), as the real API answers an
    unknown URL."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = f"Unknown request URL: {request.method} {request.url.path}. Please check the URL for typos."
    if status == 405:
        message = f"Method {request.method} is not allowed for {request.url.path}."
    return JSONResponse(
        error_shape(request.url.path).error_body(status, message, code="unknown_url" if status == 404 else None),
        status_code=status,
        headers=getattr(exc, "headers", None),  # 405 carries `Allow`
    )


def create_app(
    settings: Settings | None = None, scenarios: Sequence[Scenario] | None = None, *, engine: FakeLLM | None = None
) -> Starlette:
    """The ASGI app. Pass an `engine`, or `settings` (its scenarios are loaded, the bundled pack if none), or
    `scenarios` to serve exactly those."""
    if engine is None:
        settings = settings or Settings()
        if scenarios is None:
            engine = FakeLLM.from_settings(settings)
        else:
            engine = FakeLLM(
                settings, scenarios, [Path(s.path).resolve().parent for s in scenarios if not s.path.startswith("<")]
            )
    routes: list[BaseRoute] = [
        Route(path, dialect_endpoint(dialect), methods=["POST"])  # type: ignore[arg-type]
        for dialect in (*DIALECTS.values(), *COUNTERS)
        for path in dialect.routes
    ]
    routes += [
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", get_model, methods=["GET"]),
        *OLLAMA_ROUTES,
        *IMAGE_ROUTES,
        *REALTIME_ROUTES,
        *ADMIN_ROUTES,
        *DASHBOARD_ROUTES,
    ]
    settings = engine.settings
    middleware = [
        # Outermost: Host and origin checks come before CORS, which then only ever sees /v1 requests' origins.
        Middleware(
            RequestGuard,
            bind_host=settings.host,
            allowed_hosts=settings.allowed_hosts,
            allowed_origins=settings.allowed_origins,
        ),
        # Inside the guard: the provider APIs' POSTs are answered here, past the router and CORSMiddleware (same rules).
        Middleware(
            ApiFastPath,
            engine=engine,
            dialects=[*DIALECTS.values(), *COUNTERS],
            cors_origins=engine.settings.cors_origins,
            expose_headers=EXPOSED_HEADERS,
        ),
        Middleware(
            CORSMiddleware,
            allow_origins=list(engine.settings.cors_origins),
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=EXPOSED_HEADERS,
        ),
    ]
    silence_scripted_disconnects()
    watcher = None
    if engine.settings.watch:
        from fake_llm.http.reload import watcher_lifespan

        watcher = watcher_lifespan(engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with watcher(app) if watcher is not None else contextlib.nullcontext():
            try:
                yield
            finally:  # the shared store's event-loop connections end with the loop that made them
                engine.close_connections()

    app = Starlette(
        lifespan=lifespan, routes=routes, middleware=middleware, exception_handlers={404: http_error, 405: http_error}
    )
    app.state.fake_llm = engine
    for wrapper in _APP_WRAPPERS:
        app.add_middleware(_Wrapped, wrapper=wrapper)
    return app


class _Wrapped:
    """Adapts a plain ASGI wrapper function to Starlette's middleware stack (so `app.state` stays reachable)."""

    def __init__(self, app: ASGIApp, wrapper: Callable[[ASGIApp], ASGIApp]) -> None:
        self.inner = wrapper(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.inner(scope, receive, send)
