"""The /_fake/ control endpoints: health, journal, reset and run-time rules, optionally behind a token."""

from __future__ import annotations

import asyncio
import functools
import json
import re
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fake_llm.core.state import REQUEST_STARTED
from fake_llm.errors import ProviderRequestError, ScenarioError, StateUnavailable
from fake_llm.http.engine import FakeLLM, read_body
from fake_llm.version import __version__


def _engine(request: Request) -> FakeLLM:
    """The engine of the request's namespace (`X-Fake-LLM-Session` header or `session` query parameter), with
    other replicas' rule changes applied."""
    root: FakeLLM = request.app.state.fake_llm
    engine = root.space(request.headers.get("x-fake-llm-session") or request.query_params.get("session"))
    engine.refresh()
    return engine


def _problem(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"message": message, **extra}}, status_code=status)


def _authorized(request: Request) -> bool:
    token = request.app.state.fake_llm.settings.admin_token
    if not token:
        return True
    given = request.headers.get("x-fake-llm-admin-token")
    if given is None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        given = value if scheme.lower() == "bearer" else None
    return given is not None and secrets.compare_digest(given.encode(), token.encode())


def _guarded(endpoint: Any) -> Any:
    async def guarded(request: Request) -> Response:
        if not _authorized(request):
            return _problem(401, "this admin endpoint needs the admin token (X-Fake-LLM-Admin-Token header or Bearer)")
        try:
            response: Response = await _off_loop(request, endpoint)
        except StateUnavailable as exc:
            return _problem(503, str(exc), type="state_unavailable")
        except ProviderRequestError as exc:  # a session (namespace) name that cannot be one
            return _problem(exc.status, exc.message, code=exc.code)
        return response

    guarded.__name__ = endpoint.__name__
    return guarded


async def _off_loop(request: Request, endpoint: Any) -> Response:
    """Run an admin endpoint; with a shared store, on a worker thread (its Redis calls block, and a stalled Redis
    must not stall the event loop). The body is read first, on the loop: the endpoint then never suspends, so its
    coroutine runs to its end in one step on the thread."""
    if not request.app.state.fake_llm.store.shared:
        result: Response = await endpoint(request)
        return result
    # Read here, bounded as the endpoint would (it finds it in the scope).
    request.scope["fake_llm.body"] = await read_body(request, request.app.state.fake_llm.settings.max_body_bytes)
    started = time.monotonic()

    def run() -> Response:
        REQUEST_STARTED.set(started)
        coroutine = endpoint(request)
        try:
            coroutine.send(None)
        except StopIteration as done:
            answered: Response = done.value
            return answered
        coroutine.close()
        raise RuntimeError(f"admin endpoint {endpoint.__name__} waited for something besides the request body")

    return await anyio.to_thread.run_sync(run)


async def health(request: Request) -> Response:
    """200 while the server can answer as its files say; 503 while its shared state store (Redis) cannot be reached
    (asked on a worker thread, for at most --state-timeout: `unavailable`) or a failed reload leaves stale rules
    serving (`degraded`). Always answers `status` (and the status code health checks read); the details (state, rule
    counts, load errors) go only to the server's own pages and non-browser clients, and to token holders when a token
    is set."""
    engine: FakeLLM = request.app.state.fake_llm
    store = engine.store
    state = await anyio.to_thread.run_sync(store.health) if store.shared else store.health()
    # A failed hot reload leaves the last good rules serving, not what the files say: `degraded`, with a 503 so that
    # probes reading only the status (compose `curl -f`, wget, Kubernetes httpGet) agree with `fake-llm health`.
    status = "unavailable" if not state["ok"] else "degraded" if engine.load_errors else "ok"
    code = 200 if status == "ok" else 503
    if request.scope.get("fake_llm.cross_origin") or not _authorized(request):
        return JSONResponse({"status": status, "load_errors": len(engine.load_errors)}, status_code=code)
    # The bound address (port 0 resolved to the real port); an in-process app without a socket reports the request's.
    url = engine.url or str(request.base_url).rstrip("/")
    return JSONResponse(
        {
            "status": status,
            "state": {**state, "namespace": engine.settings.namespace, "workers": engine.settings.workers},
            "version": __version__,
            "url": url,
            "base_url": url + "/v1",
            "port": urlsplit(url).port,
            "rules": len(engine.selector.rules),
            "scenarios": [s.name for s in engine.selector.scenarios],
            # A failed hot reload: the last good rules still serve, and the problems show here until fixed, without
            # the values they quote (a scenario swapped for a symlink to a secret file must not leak it here).
            "load_errors": [_without_quoted_values(problem) for problem in engine.load_errors],
            "time_scale": engine.settings.time_scale,
        },
        status_code=code,
    )


_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def _without_quoted_values(problem: str) -> str:
    """`s.yaml:1: expected a mapping, got 'root:x:0:0'` -> `s.yaml:1: expected a mapping, got '…'`."""
    return _QUOTED.sub("'…'", problem)


async def journal(request: Request) -> Response:
    engine = _engine(request)
    if request.method == "DELETE":
        engine.journal.clear(restart_numbering=False)
        return JSONResponse({"cleared": True})
    params = request.query_params
    matched = {"true": True, "false": False}.get(params.get("matched", ""))
    try:
        status = int(params["status"]) if "status" in params else None
        limit = int(params.get("limit", "0"))
        after = int(params.get("after", "0"))
    except ValueError:
        return _problem(400, "status, limit and after must be integers")
    entries = engine.journal.filter(
        rule=params.get("rule"), path=params.get("path"), model=params.get("model"), status=status, matched=matched
    )
    if after:  # live views poll with the last sequence number they have seen
        entries = [e for e in entries if e.seq > after]
    if limit > 0:
        entries = entries[-limit:]
    # Each entry serialises on its own and never fails (journal.py), whatever a request held.
    body = '{"entries":[' + ",".join(e.to_json() for e in entries) + "]}"
    return Response(body, media_type="application/json")


async def reset(request: Request) -> Response:
    rules = request.query_params.get("rules", "false").lower() == "true"
    engine = _engine(request)
    engine.reset(rules=rules)
    return JSONResponse({"reset": True, "rules_restored": rules, "namespace": engine.settings.namespace})


async def rules(request: Request) -> Response:
    engine = _engine(request)
    if request.method == "GET":
        return JSONResponse({"rules": engine.rules_summary(), "warnings": engine.warnings})
    mode = request.query_params.get("mode", "append")
    if mode not in ("append", "replace"):
        return _problem(400, f"mode must be append or replace, got {mode!r}")
    raw = (  # refused as soon as it passes the limit; already read when the endpoint runs on a thread (_off_loop)
        request.scope["fake_llm.body"]
        if "fake_llm.body" in request.scope
        else await read_body(request, engine.settings.max_body_bytes)
    )
    if raw is None:
        return _problem(
            413, f"rules body too large: the limit is {engine.settings.max_body_bytes} bytes (--max-body-bytes)"
        )
    text = raw.decode("utf-8", errors="replace")
    if "json" in request.headers.get("content-type", ""):
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            return _problem(400, f"invalid JSON: {exc}")
        except (RecursionError, ValueError) as exc:
            return _problem(400, f"invalid JSON: {'nested too deeply' if isinstance(exc, RecursionError) else exc}")
    try:
        # JSON is YAML: parsing the text itself keeps error line numbers true to what was sent. Parsed in a worker
        # thread so a big load never stalls the streams being served.
        load = functools.partial(
            engine.load_rules, text, replace=mode == "replace", source="POST /_fake/rules", untrusted=True
        )
        # Already on a worker thread when the state is shared (_off_loop read the body first).
        scenario = load() if "fake_llm.body" in request.scope else await asyncio.to_thread(load)
    except ScenarioError as exc:
        return _problem(400, str(exc), problems=[str(p) for p in exc.problems])
    return JSONResponse({"loaded": [r.name for r in scenario.rules], "mode": mode, "warnings": engine.warnings})


async def scenarios(request: Request) -> Response:
    """GET: the scenarios and whether each is on. POST /_fake/scenarios/{name}/{enable|disable|activate}:
    switch one on or off, or make it the only one on (`activate`; `all` as the name switches every one on)."""
    engine = _engine(request)
    if request.method == "POST":
        name, action = request.path_params["name"], request.path_params["action"]
        current = set(engine.selector.disabled)
        names = {s.name for s in engine.selector.scenarios}
        if name == "all" and action == "activate":
            wanted: set[str] = set()
        elif name not in names:
            return _problem(404, f"unknown scenario {name!r}; loaded: {engine.selector.scenario_names()}")
        elif action == "enable":
            wanted = current - {name}
        elif action == "disable":
            wanted = current | {name}
        elif action == "activate":
            wanted = names - {name}
        else:
            return _problem(404, f"unknown action {action!r}: use enable, disable or activate")
        engine.set_disabled(wanted)
    return JSONResponse({"scenarios": engine.scenarios_summary()})


ADMIN_ROUTES = [
    Route("/_fake/health", health, methods=["GET"]),
    Route("/_fake/journal", _guarded(journal), methods=["GET", "DELETE"]),
    Route("/_fake/reset", _guarded(reset), methods=["POST"]),
    Route("/_fake/rules", _guarded(rules), methods=["GET", "POST"]),
    Route("/_fake/scenarios", _guarded(scenarios), methods=["GET"]),
    Route("/_fake/scenarios/{name}/{action}", _guarded(scenarios), methods=["POST"]),
]
