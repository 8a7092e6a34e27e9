"""ApiFastPath: the raw ASGI way in for the dialect APIs' POSTs, past Starlette's router and CORS middleware.

Every chat, completion and embedding request pays for Starlette's route table walk (one regex per route) and its
middleware layers; this middleware finds the dialect by a dict lookup on the path (the few paths with parameters
by their compiled Route, in the route table's order), answers CORS for those requests itself with the same
CORSMiddleware rules, and calls the engine directly. Everything else (preflights, GETs, /_fake/, the dashboard)
goes on to the Starlette stack unchanged. It sits inside the request guard, so Host and origin checks still apply.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fake_llm.core.journal import JournalEntry, redact_headers
from fake_llm.core.outcomes import Outcome
from fake_llm.dialects import Dialect
from fake_llm.errors import ProviderRequestError
from fake_llm.http import gemini_extras
from fake_llm.http.aws_headers import with_aws_headers
from fake_llm.http.engine import FakeLLM
from fake_llm.http.render import json_response
from fake_llm.http.reply_cache import ReplyCache, Template


class ApiFastPath:
    """Answers `POST` to a dialect's route without Starlette's router; passes everything else to `app`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        engine: FakeLLM,
        dialects: Sequence[Dialect],
        cors_origins: Sequence[str],
        expose_headers: Sequence[str],
    ) -> None:
        self.app = app
        self.engine = engine
        self.replies = ReplyCache()
        #: Fixed paths -> their dialect: one dict lookup per request.
        self.exact: dict[str, Dialect] = {}
        #: Paths with parameters, tried in the route table's order (Starlette's own matcher fills path_params).
        self.patterns: list[tuple[Route, Dialect]] = []
        for dialect in dialects:
            for path in dialect.routes:
                if "{" in path:
                    self.patterns.append((Route(path, self._answer, methods=["POST"]), dialect))
                else:
                    self.exact.setdefault(path, dialect)
        # The same CORS answer as the Starlette stack gives (CORSMiddleware's own rules), around the engine call.
        self.cors = CORSMiddleware(
            self._answer,
            allow_origins=list(cors_origins),
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=list(expose_headers),
        )

    def dialect_for(self, scope: Scope) -> Dialect | None:
        """The dialect answering this POST (with `path_params` set in `scope` for a path with parameters)."""
        path: str = scope["path"]
        dialect = self.exact.get(path)
        if dialect is not None:
            scope["path_params"] = {}
            return dialect
        for route, candidate in self.patterns:
            found, child = route.matches(scope)
            if found is Match.FULL:
                scope["path_params"] = child["path_params"]
                return candidate
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        dialect = self.dialect_for(scope)
        if dialect is None:
            await self.app(scope, receive, send)
            return
        if dialect.api == "gemini" and gemini_extras.handler_for(Request(scope)) is not None:
            await self.app(scope, receive, send)  # countTokens, embedContent: the route table's endpoint answers
            return
        scope["fake_llm.dialect"] = dialect
        # Always through CORSMiddleware's rules: it also adds `Vary: Origin` to answers without an Origin header.
        await self.cors(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        dialect: Dialect = scope["fake_llm.dialect"]
        session = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-fake-llm-session"), None)
        try:
            engine = self.engine.space(session)  # the namespace's engine
        except ProviderRequestError as exc:
            body = dialect.error_body(exc.status, exc.message, code=exc.code)
            refused = json_response(body, exc.status, {"x-should-retry": "false"})
            await with_aws_headers(dialect, refused)(scope, receive, send)
            return
        # The first body message: a request in one piece (nearly all) may have been answered before. Not with a
        # shared state store: other replicas change its counters and rules.
        first = await receive()
        key = None
        if first["type"] == "http.request" and not first.get("more_body", False) and not engine.store.shared:
            key = self.replies.key(dialect.api, scope, first.get("body", b""))
        if key is not None:
            template = self.replies.lookup(key, _version(engine))
            if template is not None:
                await _replay(engine, template, dialect, scope, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return first

        sent: list[Message] = []
        seen: list[tuple[Outcome, JournalEntry]] = []

        async def recording(message: Message) -> None:
            sent.append(message)
            await send(message)

        def observe(outcome: Outcome, entry: JournalEntry) -> None:
            seen.append((outcome, entry))

        response = await engine.chat(dialect, Request(scope, replay), observe if key is not None else None)
        # Bedrock's wire needs more than a body and headers: its error-type header and event-stream content type.
        await with_aws_headers(dialect, response)(scope, replay, recording if key is not None else send)
        if key is not None and seen and _replayable(engine, seen[0][0]):
            outcome, entry = seen[0]
            self.replies.observe(key, _version(engine), outcome, entry, sent, engine.clock.frozen is not None)


def _version(engine: FakeLLM) -> object:
    """What answers depend on besides the request: the namespace's engine, its selector's version, its settings."""
    return (engine, engine.selector.version, engine.settings, engine.server_limit)


def _replayable(engine: FakeLLM, outcome: Outcome) -> bool:
    """Whether the rule's answer is a pure function of the request: not a Python reply (it may read anything),
    not chaos (drawn per use), not counted (`times`, `replies:`, rate limits) nor ordered (`after:`)."""
    rule = engine.selector.rule_named(outcome.seen.rule)
    if rule is None or rule.times is not None or len(rule.replies) != 1 or rule.rate_limit is not None:
        return False
    if rule.reply_function is not None or rule.chaos is not None or rule.after is not None:
        return False
    return engine.server_limit is None


async def _replay(engine: FakeLLM, template: Template, dialect: Dialect, scope: Scope, send: Send) -> None:
    """Answer from `template`, journaled and counted as the pipeline would have."""
    seq = engine.begin()
    values = (engine.ids.make(dialect.id_prefix, seq), engine.ids.make("req_", seq, 20), int(engine.clock.now()))
    rule = engine.selector.rule_named(template.entry.rule)
    assert rule is not None
    engine.selector.count_use(rule)
    headers = redact_headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"])
    entry = template.journal_entry(seq, engine.clock.now(), headers, values)
    engine.journal.record(entry)
    # As FakeLLM.chat leaves them, for the conformance recorder.
    scope["fake_llm.entry"] = entry
    scope["fake_llm.journal"] = engine.journal
    start, body = template.fill(values)
    await send(start)
    await send({"type": "http.response.body", "body": body})
