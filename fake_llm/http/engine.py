"""FakeLLM: the server's state (rules, journal, ids, clock) and the HTTP side of the one request flow.

read (bounded) -> core.pipeline.answer -> one journal entry from the outcome -> http.render.
Adding, replacing and reloading the rules it serves, and their summaries, are RuleSets' (rule_sets.py).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import anyio.to_thread
from starlette.requests import Request
from starlette.types import ASGIApp, Scope

from fake_llm.core.dialect import Dialect, ReplyMeta
from fake_llm.core.ids import Clock, IdMaker
from fake_llm.core.journal import JournalEntry, redact_headers
from fake_llm.core.limits import Decision, RateLimiter
from fake_llm.core.matching import Selector
from fake_llm.core.outcome_journal import journal_entry
from fake_llm.core.outcomes import Completed, Outcome, Seen
from fake_llm.core.pipeline import Inbound, PipelineBug, answer, check_rate_limits
from fake_llm.core.report import Coverage
from fake_llm.core.state import REQUEST_STARTED, FastPath, StateStore
from fake_llm.core.tokens import make_tokenizer
from fake_llm.errors import ProviderRequestError, StateUnavailable
from fake_llm.http.multipart import read_multipart
from fake_llm.http.render import json_response, render
from fake_llm.http.reply_effects import python_reply
from fake_llm.http.rule_sets import RuleSets
from fake_llm.http.shared_state import SharedState, open_store
from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import RateLimit, Reply, Rule, Scenario
from fake_llm.scenarios.loader import load_scenarios, shadowed_rules
from fake_llm.settings import Settings, bundled_scenarios

log = logging.getLogger("fake_llm")

#: Created time reported for every model in /v1/models (a fixed instant keeps the listing byte-stable).
MODEL_CREATED = 1700000000


def scenario_roots(paths: Sequence[str | Path]) -> list[Path]:
    """The folders rules sent over HTTP may read files from: each scenario folder, or a scenario file's folder."""
    return [Path(p).resolve() if Path(p).is_dir() else Path(p).resolve().parent for p in paths]


def rule_roots(paths: Sequence[str | Path], extra: Sequence[str]) -> list[Path]:
    """The folders rules sent at run time may read `content_file`s from: the scenario folders given (never the
    folder around a scenario file: a project root holds `.env`s) and the `rules_folders` named."""
    return [Path(p).resolve() for p in [*paths, *extra] if Path(p).is_dir()]


#: Shown each answered request's outcome and journal entry once recorded (the fast path's reply cache learns so).
Observer = Callable[[Outcome, JournalEntry], None]


class Answered(NamedTuple):
    """An answered request's outcome, the journal entry to record for it, and whether its response streams."""

    outcome: Outcome
    entry: JournalEntry
    streams: bool


class FakeLLM(SharedState, RuleSets):
    """Owns everything one server instance needs; the Starlette app and the admin endpoints call into it."""

    def __init__(
        self,
        settings: Settings,
        scenarios: Sequence[Scenario] = (),
        roots: Sequence[Path] = (),
        *,
        store: StateStore | None = None,
    ) -> None:
        """`store` defaults to the one `settings.state` names (raises StateUnavailable if Redis does not answer)."""
        if settings.chaos_seed is None:
            # The seed of `chaos:` rules that give none: a fresh one, kept in the settings so that namespaces share
            # it, and printed at start so that the run's chaos can be replayed (--chaos-seed).
            settings = settings.replace(chaos_seed=secrets.randbelow(2**31))
        self.settings = settings
        self.chaos_seed: int = settings.chaos_seed or 0
        #: Counters, limits, the journal and rule changes of this engine's namespace (shared with other replicas
        #: when it is Redis).
        self.store = (
            store if store is not None else open_store(settings.state, settings.namespace, settings.state_timeout)
        )
        self.journal = self.store.make_journal(settings.journal_size, settings.journal_bytes)
        self.base_scenarios = tuple(scenarios)
        self.selector = Selector(scenarios, self.store.counters)
        self.tokenizer = make_tokenizer(settings.tokenizer)
        self.ids = IdMaker(settings.seed)
        self.clock = Clock(settings.freeze_time)
        self.roots = list(roots)
        self.rule_roots = rule_roots((), settings.rules_folders)
        self.warnings = shadowed_rules(scenarios)
        self.limiter = RateLimiter(self.clock.now, self.store.windows)
        self.server_limit = (
            RateLimit(settings.requests_per_minute, settings.tokens_per_minute)
            if settings.requests_per_minute or settings.tokens_per_minute
            else None
        )
        #: Streams being sent right now (a client that disconnects must bring this back down).
        self.open_streams = 0
        #: The scenario paths this engine was loaded from (what `reload` reads again), and the problems of the last
        #: failed reload (empty once a reload succeeds).
        self.paths: list[str | Path] = []
        self.load_errors: list[str] = []
        #: The root URL the server is bound to (with the real port when started on port 0); set by whoever binds.
        self.url: str | None = None
        self._added = 0  # numbers the rule sets added at run time, for their default names
        #: The version of the shared rule changes this engine serves (None: none applied).
        self.rules_version: str | None = None
        self.namespaces: OrderedDict[str, FakeLLM] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings, *, default_to_bundled: bool = True) -> FakeLLM:
        """Load the scenarios `settings` names (the bundled pack if none and `default_to_bundled`).
        Raises ScenarioError, naming file, line and key, before anything is served."""
        paths: list[str | Path] = list(settings.scenarios)
        if not paths and default_to_bundled:
            paths = [bundled_scenarios()]
        engine = cls(settings, load_scenarios(paths), scenario_roots(paths))
        engine.paths = paths
        engine.rule_roots = rule_roots(paths, settings.rules_folders)
        return engine

    def coverage(self, context: str = "") -> Coverage:
        """What the rules served since the last reset: the coverage and near-miss report's data."""
        coverage = Coverage()
        hits, reached = self.selector.hits(), self.selector.steps_reached()
        coverage.absorb(self.selector.rules, hits, reached, self.journal.unmatched, context)
        return coverage

    def python_reply(self, rule: Rule, request: ChatRequest) -> Reply:
        """The pipeline's hook for a rule's Python reply function (see http/reply_effects.py)."""
        return python_reply(rule, request)

    # ------------------------------------------------------------------ the request flow

    async def chat(self, dialect: Dialect, request: Request, observe: Observer | None = None) -> ASGIApp:
        """Answer one request in `dialect`: read it, ask the pipeline, journal the outcome once, render it.
        Never raises: a bug in fake-llm becomes a dialect-shaped 500 and an `error` journal entry, a lost shared
        state store (Redis) a 503 naming it. `observe` is shown the outcome and its journal entry once recorded (the
        reply cache learns from them)."""
        inbound = await read_inbound(request, dialect, self.settings.max_body_bytes)
        scope = request.scope
        if not self.store.shared:
            return self.respond(dialect, inbound, scope, None, observe)
        fast = self.store.fast_path()
        if fast is not None and not self._needs_decisions():
            return await self._respond_on_loop(dialect, inbound, scope, fast, observe)
        # A shared store's other calls block: they run on a worker thread, so a stalled Redis delays only the
        # requests that need it (each for at most --state-timeout), never health, streams or other clients.
        started = time.monotonic()
        return await anyio.to_thread.run_sync(self._respond_off_loop, dialect, inbound, scope, started, None, observe)

    def close_connections(self) -> None:
        """Close the event-loop connections of every namespace's shared store (the server is stopping)."""
        for engine in (self, *self.namespaces.values()):
            fast = engine.store.fast_path()
            if fast is not None:
                fast.close()

    def _needs_decisions(self) -> bool:
        """Whether answering may ask the store for more than a number and a journal entry (times, steps, limits)."""
        return self.server_limit is not None or self.selector.stateful

    async def _respond_on_loop(
        self, dialect: Dialect, inbound: Inbound, scope: Scope, fast: FastPath, observe: Observer | None
    ) -> ASGIApp:
        """respond() with the store's per-request calls awaited (batched with other requests'), for rule sets that
        need nothing else from it: the request never leaves the event loop."""
        started = time.monotonic()
        try:
            seq, version = await fast.begin()
            if version != self.rules_version:  # another replica changed the rules: read them on a thread
                await anyio.to_thread.run_sync(self._apply_off_loop, started)
        except StateUnavailable as exc:
            return self.unavailable(dialect, exc)
        if self._needs_decisions():  # the new rules do
            return await anyio.to_thread.run_sync(
                self._respond_off_loop, dialect, inbound, scope, started, seq, observe
            )
        response, answered = self._answered(dialect, inbound, seq)
        if answered is not None:
            try:
                await fast.record(answered.entry)
            except StateUnavailable as exc:
                return self.unavailable(dialect, exc)
            self._recorded(scope, answered, observe)
        return response

    def _apply_off_loop(self, started: float) -> None:
        REQUEST_STARTED.set(started)
        self.apply_rule_changes()

    def _respond_off_loop(
        self,
        dialect: Dialect,
        inbound: Inbound,
        scope: Scope,
        started: float,
        seq: int | None,
        observe: Observer | None,
    ) -> ASGIApp:
        REQUEST_STARTED.set(started)
        return self.respond(dialect, inbound, scope, seq, observe)

    def respond(
        self, dialect: Dialect, inbound: Inbound, scope: Scope, seq: int | None = None, observe: Observer | None = None
    ) -> ASGIApp:
        """chat() once the request is read: number it (unless `seq` is given), answer it, journal it, render it
        (blocking on a shared store's calls)."""
        try:
            seq = self.begin() if seq is None else seq
        except StateUnavailable as exc:
            return self.unavailable(dialect, exc)
        response, answered = self._answered(dialect, inbound, seq)
        if answered is not None:
            try:
                self.journal.record(answered.entry)
            except StateUnavailable as exc:
                return self.unavailable(dialect, exc)
            self._recorded(scope, answered, observe)
        return response

    def _recorded(self, scope: Scope, answered: Answered, observe: Observer | None) -> None:
        # Left in the scope for the conformance recorder, which skips what a scripted fault broke on purpose; the
        # entry is frozen, so the journal is left too, to read how the stream ended once it has.
        scope["fake_llm.entry"] = answered.entry
        scope["fake_llm.journal"] = self.journal
        if observe is not None:
            observe(answered.outcome, answered.entry)
        self.open_streams += answered.streams  # brought back down by _stream_closed

    def _answered(self, dialect: Dialect, inbound: Inbound, seq: int) -> tuple[ASGIApp, Answered | None]:
        """The response to request `seq` and what to record before sending it (None: nothing to record, or already
        recorded)."""
        headers = redact_headers(inbound.headers.items())
        outcome: Outcome | None = None
        try:
            outcome = answer(self, dialect, inbound, seq)
            streams = isinstance(outcome, Completed) and outcome.plan is not None
            end = outcome.scripted_end if isinstance(outcome, Completed) else None
            response = render(dialect, outcome, self.settings, lambda how: self._stream_closed(seq, how, end))
            entry = journal_entry(seq, self.clock.now(), inbound, dialect.api, outcome, headers)
        except StateUnavailable as exc:  # nothing may be answered from stale local state
            return self.unavailable(dialect, exc), None
        except Exception as exc:  # a bug in fake-llm: answer, journal it, let the pytest plugin re-raise it
            seen = exc.seen if isinstance(exc, PipelineBug) else outcome.seen if outcome else Seen()
            cause = exc.__cause__ if isinstance(exc, PipelineBug) and exc.__cause__ else exc
            return self._internal_error(dialect, inbound, seq, headers, seen, cause), None
        return response, Answered(outcome, entry, streams)

    def record_counting(self, request: Request, api: str, body: Any, status: int, reply: str) -> JournalEntry:
        """Journal a request a helper endpoint answered without a rule (Gemini's countTokens, embedContent):
        outcome `counted`, or `rejected` on an error status. Left in the scope too, for the conformance recorder."""
        model = body.get("model") if isinstance(body, dict) else None
        if not isinstance(model, str):
            model = str(request.path_params.get("target", "")).rpartition(":")[0] or None
        entry = JournalEntry(
            seq=self.begin(),
            time=self.clock.now(),
            method=request.method,
            path=request.scope["path"],
            headers=redact_headers((k.lower(), v) for k, v in request.headers.items()),
            body=body,
            api=api,
            model=model,
            outcome="counted" if status < 400 else "rejected",
            reply=reply,
            status=status,
        )
        self.journal.record(entry)
        request.scope["fake_llm.entry"] = entry
        return entry

    def check_rate_limits(self, rule: Rule, tokens: int) -> Decision:
        """The pipeline's rate-limit check, for the realtime responder (which answers outside the pipeline)."""
        return check_rate_limits(self, rule, tokens)

    def _stream_closed(self, seq: int, how: str, scripted_end: str | None) -> None:
        self.open_streams -= 1
        # A stream sent to its end that ends the way the rule broke it must not read "completed".
        outcome = scripted_end if how == "completed" and scripted_end else how
        if self.store.shared:  # called on the event loop: the store's call must not block it
            try:
                asyncio.get_running_loop().run_in_executor(None, self._note_stream_end, seq, outcome)
                return
            except RuntimeError:  # no loop (a direct call): note it here
                pass
        self._note_stream_end(seq, outcome)

    def _note_stream_end(self, seq: int, outcome: str) -> None:
        try:
            self.journal.stream_ended(seq, outcome)
        except StateUnavailable as exc:  # the reply went out; only its journal note is lost
            log.warning("could not journal how stream #%d ended: %s", seq, exc)

    def unavailable(self, dialect: Dialect, exc: StateUnavailable) -> ASGIApp:
        """A 503 in the dialect's envelope while the shared state store is unreachable (not journaled: the journal
        lives there too)."""
        log.warning("answering 503: %s", exc)
        body = dialect.error_body(
            503, f"fake-llm: {exc}", type="service_unavailable", code="fake_llm_state_unavailable"
        )
        return json_response(body, 503, {"retry-after": "1"})

    def _internal_error(
        self, dialect: Dialect, inbound: Inbound, seq: int, headers: dict[str, str], seen: Seen, exc: BaseException
    ) -> ASGIApp:
        log.exception("internal error while answering %s %s", inbound.method, inbound.path)
        entry = JournalEntry(
            seq=seq,
            time=self.clock.now(),
            method=inbound.method,
            path=inbound.path,
            headers=headers,
            body=seen.body,
            api=dialect.api,
            model=seen.model,
            rule=seen.rule,
            stream=seen.stream,
            outcome="error",
            status=500,
            error="".join(traceback.format_exception(exc)),
        )
        self.journal.record(entry)
        meta = ReplyMeta(
            self.ids.make(dialect.id_prefix, seq), int(self.clock.now()), "", self.ids.make("req_", seq, 20)
        )
        body = dialect.error_body(500, f"fake-llm internal error: {exc!r}", type="server_error")
        return json_response(body, 500, {**dialect.response_headers(meta), "x-should-retry": "false"})


async def read_inbound(request: Request, dialect: Dialect, limit: int) -> Inbound:
    """What the pipeline needs of `request`; its body is read at most up to `limit` bytes (None beyond), and a
    multipart body (the audio uploads) is parsed here, where the web framework's form parser is."""
    # ASGI header names are already lower-case; decode them once for the journal and the dialect.
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in request.scope["headers"]}
    params = dict(request.path_params)
    if request.scope.get("query_string"):
        params = {**request.query_params, **params}
    body = await read_body(request, limit)
    form, form_error = None, None
    if body is not None and dialect.body_format == "multipart":
        try:
            form = await read_multipart(body, headers)
        except ProviderRequestError as exc:
            form_error = exc
    return Inbound(request.method, request.scope["path"], headers, request.query_params, params, body, form, form_error)


async def read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it exceeds `limit` bytes (never buffers more than that)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:  # straight from ASGI receive: the body is read once, here, so Request's caching is not needed
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
