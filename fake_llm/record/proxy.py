"""`fake-llm record`: a proxy that forwards each dialect request to the real provider, streams the answer back as it
arrives, and writes every exchange to a scenario file (the cassette) as a rule that plain `serve` replays. Here: the
proxy (Recorder) and its app, and run_recorder for the CLI; RecordingServer and use_cassette (for tests) live in
fake_llm/testing/recording.py."""

from __future__ import annotations

import dataclasses
import json
import logging
import ssl
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Scope

from fake_llm.core.journal import REDACTED_HEADERS, JournalEntry, redact_headers
from fake_llm.core.matching import rule_reason, subject
from fake_llm.core.normalize import fingerprint, normalize_request
from fake_llm.core.staleness import classify_miss
from fake_llm.dialects import DIALECTS, Provider
from fake_llm.dialects.bedrock.eventstream import CONTENT_TYPE as EVENTSTREAM_TYPE
from fake_llm.errors import ProviderRequestError, ScenarioError
from fake_llm.http import log_scrub
from fake_llm.http.aws_headers import with_aws_headers
from fake_llm.http.engine import FakeLLM
from fake_llm.http.sse import silence_scripted_disconnects
from fake_llm.model.request import ChatRequest
from fake_llm.record.cassette import MIN_SECRET, Cassette, field_values, scrub_secrets
from fake_llm.record.cassette import dump_yaml as dump_yaml  # importable from here, as before cassette.py
from fake_llm.record.relay import REQUEST_DROP, Relay, SSEEvent, is_stream
from fake_llm.record.rules import FlowMap, build_error, build_match, build_raw, build_reply
from fake_llm.record.transcripts import read_body, read_stream
from fake_llm.scenarios.loader import load_scenario
from fake_llm.settings import Settings
from fake_llm.version import __version__

log = logging.getLogger("fake_llm.recorder")

#: vcrpy's record modes that record something (`none` only replays: that is `fake-llm serve`); `new` is the old
#: name of `new_episodes`.
MODES = ("once", "new_episodes", "all")
ALIASES = {"new": "new_episodes"}
#: LLM answers can take minutes; connecting should not.
TIMEOUT = httpx.Timeout(600.0, connect=10.0)


# ---------------------------------------------------------------------------------------------- the proxy


class Recorder:
    """Forwards requests to `upstream` and records each dialect exchange into the cassette at `out`."""

    def __init__(
        self,
        upstream: str,
        out: str | Path,
        *,
        mode: str = "new_episodes",
        api: Sequence[str] = (),
        timing: bool = True,
        redact: Sequence[str] = (),
        normalize: Sequence[Any] = (),
        stale_only: bool = False,
    ) -> None:
        """`mode` (vcrpy's): `once` records only into a cassette that does not exist yet (an existing one is
        replayed), `new_episodes` answers requests an existing rule matches from the file and records the rest,
        `all` records everything; `api`: record only these dialects; `timing`: keep stream timing; `redact`:
        header or body field names whose values must never be written (API key headers always are);
        `normalize`: steps for a new cassette's `normalize:`; `stale_only`: record nothing but the requests that
        are stale versions of recorded rules, replacing those rules."""
        mode = ALIASES.get(mode, mode)
        if mode not in MODES:
            raise ValueError(f"mode must be once, new_episodes (or new) or all, got {mode!r}")
        unknown = sorted(set(api) - set(DIALECTS))
        if unknown:
            raise ValueError(f"unknown dialect {', '.join(unknown)}; expected one of {', '.join(sorted(DIALECTS))}")
        self.upstream = httpx.URL(upstream)
        if self.upstream.scheme not in ("http", "https") or not self.upstream.host:
            raise ValueError(f"--upstream must be an http(s) URL, got {upstream!r}")
        self.mode, self.apis, self.timing, self.stale_only = mode, tuple(api), timing, stale_only
        self.redact = frozenset(name.lower() for name in redact)
        #: `once` on an existing cassette records nothing: every request is answered from the file.
        self.replay_only = mode == "once" and Path(out).is_file()
        self.cassette = Cassette(Path(out), mode=mode, normalize=normalize)
        self.engine: FakeLLM | None = None  # set by create_recorder_app: journals what is recorded
        self._tls: ssl.SSLContext | None = None

    @property
    def shown_upstream(self) -> str:
        """The upstream URL without credentials or query, for messages."""
        return str(self.upstream.copy_with(userinfo=b"", query=None))

    def target(self, scope: Scope, provider: Provider | None = None) -> httpx.URL:
        """The upstream URL of a request: the upstream's path prefix (unless the request path already starts with
        it, as `/v1` does), the request's raw path and query. A dialect that fake-llm serves under a prefix of its
        own (Mistral's `/mistral`) loses it: the real API has none (a fake-llm upstream is given it back by
        `--upstream http://host/mistral`)."""
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        own = provider.path_prefix.encode() if provider is not None else b""
        if own and raw_path.startswith(own + b"/"):
            raw_path = raw_path[len(own) :]
        prefix = self.upstream.raw_path.split(b"?")[0].rstrip(b"/")
        if prefix and not raw_path.startswith(prefix + b"/"):
            raw_path = prefix + raw_path
        query = scope.get("query_string") or b""
        return self.upstream.copy_with(raw_path=raw_path + (b"?" + query if query else b""))

    async def forward(
        self,
        request: Request,
        body: bytes,
        provider: Provider | None = None,
        chat: ChatRequest | None = None,
        replaces: str | None = None,
    ) -> ASGIApp:
        """Send the request upstream and relay the answer; with `chat`, record it when it is complete (in place of
        the rule named `replaces`, a stale one)."""
        headers = [(k, v) for k, v in request.headers.raw if k.decode("latin-1").lower() not in REQUEST_DROP]
        # One client per exchange, closed with it: nothing outlives a request. They share one TLS context, which is
        # slow to build (CA certificates), and only an https upstream needs a real one.
        if self._tls is None:
            https = self.upstream.scheme == "https"
            self._tls = httpx.create_ssl_context() if https else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client = httpx.AsyncClient(timeout=TIMEOUT, verify=self._tls)
        outgoing = client.build_request(
            request.method,
            self.target(request.scope, provider),
            headers=[*headers, (b"accept-encoding", b"identity")],
            content=body,
        )
        started = time.monotonic()
        try:
            response = await client.send(outgoing, stream=True)
        except httpx.HTTPError as exc:
            await client.aclose()
            message = f"fake-llm record: cannot reach the upstream {self.shown_upstream}: {type(exc).__name__}: {exc}"
            log.warning("%s (%s %s, not recorded)", message, request.method, request.url.path)
            shape = provider or DIALECTS["openai-chat"]
            payload = json.dumps(shape.error_body(502, message)).encode()
            # Not worth retrying at once: the upstream is down or the URL is wrong.
            return Response(payload, 502, {"x-should-retry": "false"}, media_type="application/json")
        if chat is None:
            return Relay(client, response, started, None)
        secrets = self._secrets(request, chat)

        def finish(body: bytes, events: list[SSEEvent]) -> None:
            self.record(chat, request, response, body, events, secrets, replaces)

        return Relay(client, response, started, finish)

    def _secrets(self, request: Request, chat: ChatRequest) -> list[str]:
        """Values that must never be written: API keys (and their Bearer tokens), `?key=`, and the values of the
        headers, query parameters and body fields named by `redact`."""
        found: list[str] = []
        for name, value in request.headers.items():
            if name in REDACTED_HEADERS or name in self.redact or name in ("cookie", "proxy-authorization"):
                found += [value, value.partition(" ")[2]]
        found += [v for k, v in request.query_params.items() if k == "key" or k.lower() in self.redact]
        found += field_values(chat.body, self.redact)
        return sorted({s.strip() for s in found if len(s.strip()) >= MIN_SECRET}, key=len, reverse=True)

    def record(
        self,
        chat: ChatRequest,
        request: Request,
        response: httpx.Response,
        body: bytes,
        events: list[SSEEvent],
        secrets: Sequence[str],
        replaces: str | None = None,
    ) -> None:
        """Write the rule for one complete exchange (and journal it). Never raises: a failure is logged and
        journaled as an error, which the pytest fixture reports."""
        entry = self._entry(chat, request, response.status_code)
        try:
            reply = self.reply(chat, response, body, events)
            steps = self.cassette.normalize
            match = build_match(normalize_request(chat, steps))
            rule = scrub_secrets({"match": match, "reply": reply}, secrets)
            found = fingerprint(chat, steps)
            stamp = FlowMap(prompt=found.prompt, tools=found.tools, model=scrub_secrets(found.model, secrets))
            name = self.cassette.add(rule["match"], rule["reply"], stamp, replaces=replaces)
            recorded = f"recorded into {self.cassette.path}"
            if replaces is not None:
                recorded += f" in place of the stale rule {replaces!r}"
            entry = dataclasses.replace(entry, rule=name, reply=recorded)
            log.info("recorded %s %s -> %s as %r", request.method, request.url.path, response.status_code, name)
        except Exception as exc:  # a recorder bug must not break the client's answer, which is already sent
            log.exception("could not record %s %s", request.method, request.url.path)
            error = f"fake-llm record could not write the exchange: {exc!r}"
            entry = dataclasses.replace(entry, outcome="error", error=error)
        if self.engine is not None:
            self.engine.journal.record(entry)

    def reply(self, chat: ChatRequest, response: httpx.Response, body: bytes, events: list[SSEEvent]) -> dict[str, Any]:
        """The reply mapping of an upstream answer."""
        status, content_type = response.status_code, response.headers.get("content-type", "")
        if status >= 400:
            headers = {k.lower(): v for k, v in response.headers.items() if k.lower() not in self.redact}
            return {"error": build_error(chat.api, status, content_type, body, headers)}
        if status // 100 == 2 and (is_stream(content_type) or EVENTSTREAM_TYPE in content_type):
            transcript = read_stream(chat.api, events)
            return build_reply(transcript, chat, timing=self.timing)
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if status // 100 != 2 or not isinstance(data, (dict, list)):
            return {"raw": build_raw(status, content_type, body)}
        transcript = read_body(chat.api, data, chat)
        return build_reply(transcript, chat, timing=self.timing)

    def _entry(self, chat: ChatRequest, request: Request, status: int) -> JournalEntry:
        seq = self.engine.journal.next_seq() if self.engine is not None else 0
        return JournalEntry(
            seq=seq,
            time=self.engine.clock.now() if self.engine is not None else time.time(),
            method=request.method,
            path=request.url.path,
            headers=redact_headers(request.headers.items()),
            body=chat.body,
            api=chat.api,
            model=chat.model,
            outcome="recorded",
            status=status,
            stream=chat.stream,
        )


def _with_body(request: Request, body: bytes) -> Request:
    """The request again, its body readable once more (the proxy has read it)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await request.receive()  # pragma: no cover - the engine reads the body once, then Starlette's receive

    return Request(request.scope, receive)


def _parse(provider: Provider, request: Request, body: bytes) -> ChatRequest | None:
    if provider.body_format != "json" or not provider.answers_json:
        # Uploads and audio answers have no rule form yet: say so rather than write a rule that replays wrong bytes.
        log.warning("%s: %s exchanges are forwarded, not recorded", request.url.path, provider.api)
        return None
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.scope["headers"]}
    try:
        return provider.parse(json.loads(body), headers, {**request.query_params, **request.path_params})
    except (ValueError, ProviderRequestError) as exc:
        log.warning("%s is not a valid %s request (%s): forwarded, not recorded", request.url.path, provider.api, exc)
        return None


def _replays(engine: FakeLLM, chat: ChatRequest) -> bool:
    """Whether a rule the engine serves would answer (the checks Selector.select makes, without using anything)."""
    hits = engine.selector.hits()
    for scenario in engine.selector.scenarios:
        if scenario.name in engine.selector.disabled:
            continue
        for rule in scenario.rules:
            if rule.times is not None and hits.get(rule.name, 0) >= rule.times:
                continue
            if rule.after is None and rule_reason(rule, subject(rule, chat))[0] is None:
                return True
    return False


def _dialect_endpoint(provider: Provider) -> Callable[[Request], Awaitable[ASGIApp]]:
    async def endpoint(request: Request) -> ASGIApp:
        recorder: Recorder = request.app.state.recorder
        engine: FakeLLM = request.app.state.engine
        body = await request.body()
        if recorder.apis and provider.api not in recorder.apis:
            message = f"fake-llm record: this recorder only proxies {', '.join(recorder.apis)} (--api)"
            return Response(json.dumps(provider.error_body(404, message)), 404, media_type="application/json")
        chat = _parse(provider, request, body)
        if chat is None:
            return await recorder.forward(request, body, provider, chat)
        if recorder.replay_only or ((recorder.mode != "all" or recorder.stale_only) and _replays(engine, chat)):
            return with_aws_headers(provider, await engine.chat(provider, _with_body(request, body)))
        if recorder.stale_only:
            stale = classify_miss(engine.selector.enabled_rules(), chat)
            if stale is None or stale.rule is None:  # a new request: nothing to re-record, the miss is answered
                return with_aws_headers(provider, await engine.chat(provider, _with_body(request, body)))
            return await recorder.forward(request, body, provider, chat, replaces=stale.rule.name)
        return await recorder.forward(request, body, provider, chat)

    endpoint.__name__ = "record_" + provider.api.replace("-", "_")
    return endpoint


async def _passthrough(request: Request) -> ASGIApp:
    """Anything that is not a dialect's request (model lists, token counts ...): forwarded, never recorded."""
    recorder: Recorder = request.app.state.recorder
    return await recorder.forward(request, await request.body())


def create_recorder_app(recorder: Recorder, engine: FakeLLM | None = None) -> Starlette:
    """The proxy app. `engine` answers, unless the mode is `all`, what its rules match (default: an engine serving
    the cassette as it was when recording started); it also journals every recorded exchange."""
    if engine is None:
        path = recorder.cassette.path
        scenarios = [load_scenario(path)] if recorder.mode != "all" and path.is_file() else []
        engine = FakeLLM(Settings(), scenarios, [path.resolve().parent])
    recorder.engine = engine
    routes = [
        Route(path, _dialect_endpoint(provider), methods=["POST"])
        for provider in DIALECTS.values()
        for path in provider.routes
    ]
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    routes.append(Route("/{path:path}", _passthrough, methods=methods))
    silence_scripted_disconnects()
    app = Starlette(routes=routes)
    app.state.recorder, app.state.engine = recorder, engine
    return app


# ---------------------------------------------------------------------------------------------- running it


def run_recorder(
    upstream: str,
    out: str,
    *,
    mode: str = "new_episodes",
    api: Sequence[str] = (),
    timing: bool = True,
    redact: Sequence[str] = (),
    host: str = "127.0.0.1",
    port: int = 8000,
    normalize: Sequence[str] = (),
    stale_only: bool = False,
) -> int:
    """`fake-llm record`: serve the proxy in the foreground until interrupted; returns the exit status."""
    import uvicorn

    try:
        recorder = Recorder(
            upstream, out, mode=mode, api=api, timing=timing, redact=redact, normalize=normalize, stale_only=stale_only
        )
        app = create_recorder_app(recorder)
    except (ScenarioError, ValueError) as exc:
        print(f"fake-llm record: {exc}", file=sys.stderr)
        return 2
    shown = f"[{host}]" if ":" in host else host
    print(
        f"fake-llm {__version__} recording {recorder.shown_upstream} into {out} (mode {recorder.mode}"
        f"{', stale rules only' if stale_only else ''}) - "
        f"point clients at http://{shown}:{port}/v1",
        flush=True,
    )
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is uvicorn's job
    log_scrub.install()  # `?key=` of Gemini clients never reaches the access log
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
    return 0
