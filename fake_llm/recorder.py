"""`fake-llm record`: a proxy that forwards each dialect request to the real provider, streams the answer back as it
arrives, and writes every exchange to a scenario file (the cassette) as a rule that plain `serve` replays."""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fake_llm import __version__
from fake_llm.chat import ChatRequest
from fake_llm.engine import FakeLLM
from fake_llm.errors import ProviderRequestError, ScenarioError
from fake_llm.journal import REDACTED_HEADERS, JournalEntry, redact_headers
from fake_llm.matching import explain
from fake_llm.providers import PROVIDERS, Provider
from fake_llm.scenarios import load_scenario, load_scenarios, parse_scenario
from fake_llm.server import FakeLLMServer
from fake_llm.settings import Settings
from fake_llm.streaming import ScriptedDisconnect, _until_done_or_disconnect, silence_scripted_disconnects
from fake_llm.transcripts import (
    FlowList,
    FlowMap,
    SSEEvent,
    SSEReader,
    build_error,
    build_match,
    build_raw,
    build_reply,
    read_body,
    read_stream,
    rule_name,
)

log = logging.getLogger("fake_llm.recorder")

MODES = ("new", "all")
REDACTED = "[redacted]"
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
#: Not forwarded upstream: hop-by-hop headers, and what httpx sets for its own connection. `accept-encoding` is
#: replaced by `identity`, so the bytes relayed are the bytes recorded.
REQUEST_DROP = HOP_BY_HOP | {"host", "content-length", "accept-encoding"}
#: Not relayed back: the client gets the decoded bytes, chunked by the server.
RESPONSE_DROP = HOP_BY_HOP | {"content-length", "content-encoding"}
#: LLM answers can take minutes; connecting should not.
TIMEOUT = httpx.Timeout(600.0, connect=10.0)
#: Shorter secrets are not searched for in what is written, so that a short value cannot scrub ordinary words.
MIN_SECRET = 4
#: The first line of a new cassette (no path in it: cassettes are committed, and paths differ between machines).
HEADER = "# Recorded by `fake-llm record`, one rule per exchange; `fake-llm serve --scenarios FILE` replays them.\n"


# ---------------------------------------------------------------------------------------------- the file


class _Dumper(yaml.SafeDumper):
    """Safe YAML in insertion order, multi-line text as `|` blocks, and never an anchor."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # lists indented under their key, as the bundled scenarios are


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


def _represent_flow_list(dumper: yaml.SafeDumper, value: FlowList) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=True)


def _represent_flow_map(dumper: yaml.SafeDumper, value: FlowMap) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=True)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(FlowList, _represent_flow_list)
_Dumper.add_representer(FlowMap, _represent_flow_map)


def dump_yaml(data: Any, indent: int = 0) -> str:
    """`data` as the recorder writes YAML, every line indented by `indent` spaces."""
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
    return "".join(" " * indent + line if line.strip() else line for line in text.splitlines(keepends=True))


class Cassette:
    """The scenario file being recorded: the rules it held, and the rules recorded now, written after each exchange.

    New rules are appended to the file's text, so hand edits and comments stay; a re-recorded rule (mode `all`)
    is replaced where it stands, which rewrites the file from its data (comments other than the leading ones go)."""

    def __init__(self, path: Path, *, mode: str) -> None:
        self.path = path
        self.mode = mode
        self._lock = threading.Lock()
        if path.is_file():
            load_scenarios([path])  # a broken cassette stops the recorder before anything is forwarded
            self.text = path.read_text(encoding="utf-8")
        else:
            self.text = HEADER + dump_yaml({"name": path.stem}) + "rules:\n"
        self.data: dict[str, Any] = yaml.safe_load(self.text)
        self.data["rules"] = self.data.get("rules") or []
        self.indent = self._append_indent()
        #: Rules recorded now that replace none, and every rule recorded now by its match.
        self.added: list[dict[str, Any]] = []
        self.recorded: dict[str, dict[str, Any]] = {}

    def _append_indent(self) -> int | None:
        """The column of the `rules:` items when new ones can be appended to the text as is, else None."""
        if not self.path.is_file():
            return 2
        node = yaml.compose(self.text)
        key, rules = node.value[-1] if isinstance(node, yaml.MappingNode) and node.value else (None, None)
        if key is None or key.value != "rules" or not isinstance(rules, yaml.SequenceNode) or not rules.value:
            return None
        return None if rules.flow_style else rules.start_mark.column

    def add(self, match: dict[str, Any], reply: dict[str, Any]) -> str:
        """Record one exchange; a match recorded before in this session gets the reply appended to its `replies:`
        (a retried request replays as it happened). Returns the rule's name."""
        key = json.dumps(match, sort_keys=True)
        with self._lock:
            rule = self.recorded.get(key)
            if rule is not None:
                replies = rule.pop("replies", None) or [rule.pop("reply")]
                rule["replies"] = [*replies, reply]
            else:
                old = self.data["rules"]
                index = next((i for i, r in enumerate(old) if r.get("match") == match), None)
                if self.mode == "all" and index is not None:
                    rule = {"name": old[index].get("name") or self._name(match), "match": match, "reply": reply}
                    old[index], self.indent = rule, None
                else:
                    rule = {"name": self._name(match), "match": match, "reply": reply}
                    self.added.append(rule)
                self.recorded[key] = rule
            self._write()
            return str(rule["name"])

    def _name(self, match: Mapping[str, Any]) -> str:
        taken = {r.get("name") for r in [*self.data["rules"], *self.added]}
        base = name = rule_name(match)
        n = 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        return name

    def _write(self) -> None:
        """Write the file (validated first: a bad recording never replaces a good file) through a temporary file."""
        if self.indent is not None:
            text = self.text if self.text.endswith("\n") else self.text + "\n"
            text += dump_yaml(self.added, self.indent) if self.added else ""
        else:
            lines = self.text.splitlines(keepends=True)
            head = "".join(itertools.takewhile(lambda line: line.startswith("#"), lines))
            text = head + dump_yaml({**self.data, "rules": [*self.data["rules"], *self.added]})
        parse_scenario(text, source=str(self.path), base_dir=self.path.parent)  # names are unique by construction
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, self.path)


# ---------------------------------------------------------------------------------------------- redaction


def _field_values(value: Any, names: frozenset[str]) -> Iterator[str]:
    """String values of the fields named `names`, anywhere in a request body."""
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).lower() in names and isinstance(item, str):
                yield item
            else:
                yield from _field_values(item, names)
    elif isinstance(value, list):
        for item in value:
            yield from _field_values(item, names)


def _scrub(value: Any, secrets: Sequence[str]) -> Any:
    """`value` with every secret replaced wherever it occurs (mapping and list types kept)."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return type(value)({k: _scrub(v, secrets) for k, v in value.items()})
    if isinstance(value, list):
        return type(value)(_scrub(v, secrets) for v in value)
    return value


# ---------------------------------------------------------------------------------------------- the proxy


class Recorder:
    """Forwards requests to `upstream` and records each dialect exchange into the cassette at `out`."""

    def __init__(
        self,
        upstream: str,
        out: str | Path,
        *,
        mode: str = "new",
        api: Sequence[str] = (),
        timing: bool = True,
        redact: Sequence[str] = (),
    ) -> None:
        """`mode`: `new` answers requests an existing rule matches from the file and records the rest, `all`
        records everything; `api`: record only these dialects; `timing`: keep stream timing; `redact`: header or
        body field names whose values must never be written (API key headers always are)."""
        if mode not in MODES:
            raise ValueError(f"mode must be new or all, got {mode!r}")
        unknown = sorted(set(api) - set(PROVIDERS))
        if unknown:
            raise ValueError(f"unknown dialect {', '.join(unknown)}; expected one of {', '.join(sorted(PROVIDERS))}")
        self.upstream = httpx.URL(upstream)
        if self.upstream.scheme not in ("http", "https") or not self.upstream.host:
            raise ValueError(f"--upstream must be an http(s) URL, got {upstream!r}")
        self.mode, self.apis, self.timing = mode, tuple(api), timing
        self.redact = frozenset(name.lower() for name in redact)
        self.cassette = Cassette(Path(out), mode=mode)
        self.engine: FakeLLM | None = None  # set by create_recorder_app: journals what is recorded
        self._tls: ssl.SSLContext | None = None

    @property
    def shown_upstream(self) -> str:
        """The upstream URL without credentials or query, for messages."""
        return str(self.upstream.copy_with(userinfo=b"", query=None))

    def target(self, scope: Scope) -> httpx.URL:
        """The upstream URL of a request: the upstream's path prefix (unless the request path already starts with
        it, as `/v1` does), the request's raw path and query."""
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        prefix = self.upstream.raw_path.split(b"?")[0].rstrip(b"/")
        if prefix and not raw_path.startswith(prefix + b"/"):
            raw_path = prefix + raw_path
        query = scope.get("query_string") or b""
        return self.upstream.copy_with(raw_path=raw_path + (b"?" + query if query else b""))

    async def forward(
        self, request: Request, body: bytes, provider: Provider | None = None, chat: ChatRequest | None = None
    ) -> ASGIApp:
        """Send the request upstream and relay the answer; with `chat`, record it when it is complete."""
        headers = [(k, v) for k, v in request.headers.raw if k.decode("latin-1").lower() not in REQUEST_DROP]
        # One client per exchange, closed with it: nothing outlives a request. They share one TLS context, which is
        # slow to build (CA certificates), and only an https upstream needs a real one.
        if self._tls is None:
            https = self.upstream.scheme == "https"
            self._tls = httpx.create_ssl_context() if https else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client = httpx.AsyncClient(timeout=TIMEOUT, verify=self._tls)
        outgoing = client.build_request(
            request.method,
            self.target(request.scope),
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
            shape = provider or PROVIDERS["openai-chat"]
            payload = json.dumps(shape.error_body(502, message)).encode()
            # Not worth retrying at once: the upstream is down or the URL is wrong.
            return Response(payload, 502, {"x-should-retry": "false"}, media_type="application/json")
        if chat is None:
            return _Relay(client, response, started, None)
        secrets = self._secrets(request, chat)

        def finish(body: bytes, events: list[SSEEvent]) -> None:
            self.record(chat, request, response, body, events, secrets)

        return _Relay(client, response, started, finish)

    def _secrets(self, request: Request, chat: ChatRequest) -> list[str]:
        """Values that must never be written: API keys (and their Bearer tokens), `?key=`, and the values of the
        headers, query parameters and body fields named by `redact`."""
        found: list[str] = []
        for name, value in request.headers.items():
            if name in REDACTED_HEADERS or name in self.redact or name in ("cookie", "proxy-authorization"):
                found += [value, value.partition(" ")[2]]
        found += [v for k, v in request.query_params.items() if k == "key" or k.lower() in self.redact]
        found += _field_values(chat.body, self.redact)
        return sorted({s.strip() for s in found if len(s.strip()) >= MIN_SECRET}, key=len, reverse=True)

    def record(
        self,
        chat: ChatRequest,
        request: Request,
        response: httpx.Response,
        body: bytes,
        events: list[SSEEvent],
        secrets: Sequence[str],
    ) -> None:
        """Write the rule for one complete exchange (and journal it). Never raises: a failure is logged and
        journaled as an error, which the pytest fixture reports."""
        entry = self._entry(chat, request, response.status_code)
        try:
            reply = self.reply(chat, response, body, events)
            rule = _scrub({"match": build_match(chat), "reply": reply}, secrets)
            entry.rule = self.cassette.add(rule["match"], rule["reply"])
            entry.reply = f"recorded into {self.cassette.path}"
            log.info("recorded %s %s -> %s as %r", request.method, request.url.path, response.status_code, entry.rule)
        except Exception as exc:  # a recorder bug must not break the client's answer, which is already sent
            log.exception("could not record %s %s", request.method, request.url.path)
            entry.outcome, entry.error = "error", f"fake-llm record could not write the exchange: {exc!r}"
        if self.engine is not None:
            self.engine.journal.record(entry)

    def reply(self, chat: ChatRequest, response: httpx.Response, body: bytes, events: list[SSEEvent]) -> dict[str, Any]:
        """The reply mapping of an upstream answer."""
        status, content_type = response.status_code, response.headers.get("content-type", "")
        if status >= 400:
            headers = {k.lower(): v for k, v in response.headers.items() if k.lower() not in self.redact}
            return {"error": build_error(chat.api, status, content_type, body, headers)}
        if status // 100 == 2 and "text/event-stream" in content_type:
            return build_reply(read_stream(chat.api, events), chat, timing=self.timing)
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if status // 100 != 2 or not isinstance(data, (dict, list)):
            return {"raw": build_raw(status, content_type, body)}
        return build_reply(read_body(chat.api, data), chat, timing=self.timing)

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


class _Relay:
    """Sends the upstream answer on as its bytes arrive. Once the body is complete, and before the last write (so a
    client holding the whole answer also finds it recorded), `finish` gets the body and its SSE events. A client
    that goes away closes the upstream answer and nothing is recorded: a half answer would replay as a whole one."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        response: httpx.Response,
        started: float,
        finish: Callable[[bytes, list[SSEEvent]], None] | None,
    ) -> None:
        self.client, self.response, self.started, self.finish = client, response, started, finish

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k, v) for k, v in self.response.headers.raw if k.decode("latin-1").lower() not in RESPONSE_DROP]
        try:
            await send({"type": "http.response.start", "status": self.response.status_code, "headers": headers})
            if not await _until_done_or_disconnect(self._pump(send), receive):
                log.warning("the client went away before the answer to %s ended: not recorded", scope["path"])
        finally:
            await self.response.aclose()
            await self.client.aclose()

    async def _pump(self, send: Send) -> None:
        reader, body = SSEReader(), bytearray()
        streamed = "text/event-stream" in self.response.headers.get("content-type", "")
        try:
            async for chunk in self.response.aiter_bytes():
                at_ms = (time.monotonic() - self.started) * 1000.0
                if streamed:
                    reader.feed(chunk, at_ms)
                body += chunk
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except httpx.HTTPError as exc:
            log.warning("the upstream broke off the answer (%s): not recorded", exc)
            # Drop the client's connection too, as the upstream dropped ours (uvicorn logs nothing for this one).
            raise ScriptedDisconnect("the upstream broke off the answer") from exc
        if self.finish is not None:
            self.finish(bytes(body), reader.events)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


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
            if (rule.times is None or hits.get(rule.name, 0) < rule.times) and explain(rule.match, chat)[0] is None:
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
        if chat is not None and recorder.mode == "new" and _replays(engine, chat):
            return await engine.chat(provider, _with_body(request, body))
        return await recorder.forward(request, body, provider, chat)

    endpoint.__name__ = "record_" + provider.api.replace("-", "_")
    return endpoint


async def _passthrough(request: Request) -> ASGIApp:
    """Anything that is not a dialect's request (model lists, token counts ...): forwarded, never recorded."""
    recorder: Recorder = request.app.state.recorder
    return await recorder.forward(request, await request.body())


def create_recorder_app(recorder: Recorder, engine: FakeLLM | None = None) -> Starlette:
    """The proxy app. `engine` answers, in mode `new`, what its rules match (default: an engine serving the
    cassette as it was when recording started); it also journals every recorded exchange."""
    if engine is None:
        path = recorder.cassette.path
        scenarios = [load_scenario(path)] if recorder.mode == "new" and path.is_file() else []
        engine = FakeLLM(Settings(), scenarios, [path.resolve().parent])
    recorder.engine = engine
    routes = [
        Route(path, _dialect_endpoint(provider), methods=["POST"])
        for provider in PROVIDERS.values()
        for path in provider.routes
    ]
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    routes.append(Route("/{path:path}", _passthrough, methods=methods))
    silence_scripted_disconnects()
    app = Starlette(routes=routes)
    app.state.recorder, app.state.engine = recorder, engine
    return app


# ---------------------------------------------------------------------------------------------- running it


class RecordingServer(FakeLLMServer):
    """A recording proxy in a background thread, with FakeLLMServer's handle (`url`, `base_url`, `journal` ...).

    `engine` is what mode `new` answers from (the pytest fixture passes its session server's); by default an
    engine serving the cassette as it was."""

    def __init__(
        self,
        upstream: str,
        out: str | Path,
        *,
        mode: str = "new",
        api: Sequence[str] = (),
        timing: bool = True,
        redact: Sequence[str] = (),
        engine: FakeLLM | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(settings=Settings(host=host, port=port))
        self.recorder = Recorder(upstream, out, mode=mode, api=api, timing=timing, redact=redact)
        self.app = create_recorder_app(self.recorder, engine)
        self.engine = self.app.state.engine


def run_recorder(
    upstream: str,
    out: str,
    *,
    mode: str = "new",
    api: Sequence[str] = (),
    timing: bool = True,
    redact: Sequence[str] = (),
    host: str = "127.0.0.1",
    port: int = 8000,
) -> int:
    """`fake-llm record`: serve the proxy in the foreground until interrupted; returns the exit status."""
    import uvicorn

    try:
        recorder = Recorder(upstream, out, mode=mode, api=api, timing=timing, redact=redact)
        app = create_recorder_app(recorder)
    except (ScenarioError, ValueError) as exc:
        print(f"fake-llm record: {exc}", file=sys.stderr)
        return 2
    shown = f"[{host}]" if ":" in host else host
    print(
        f"fake-llm {__version__} recording {recorder.shown_upstream} into {out} (mode {mode}) - "
        f"point clients at http://{shown}:{port}/v1",
        flush=True,
    )
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is uvicorn's job
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
    return 0


@contextlib.contextmanager
def use_cassette(
    server: FakeLLMServer, path: Path, *, upstream: str | None = None, mode: str = "new"
) -> Iterator[FakeLLMServer]:
    """The pytest fixture's `cassette=`: serve the file (replay), or with an `upstream` record into it through a
    proxy whose `base_url` the test gets; in mode `new` the rules the server already has still answer."""
    if upstream is None:
        if not path.is_file():
            raise FileNotFoundError(f"cassette {path} does not exist: record it with --fake-llm-record=URL")
        server.load(path, replace=False)
        yield server
        return
    if mode == "new" and path.is_file():
        server.load(path, replace=False)
    with RecordingServer(upstream, path, mode=mode, engine=server.engine) as proxy:
        yield proxy
