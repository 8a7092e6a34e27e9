"""FakeLLM: the server's state (rules, journal, ids, clock) and the one request flow every dialect goes through.

provider.parse -> selector.select -> journal.record -> render (JSON, SSE or the provider's error envelope).
Adding, replacing and reloading the rules it serves, and their summaries, are RuleSets' (rule_sets.py).
"""

from __future__ import annotations

import json
import logging
import random
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from fake_llm.core.faults import apply_faults
from fake_llm.core.ids import Clock, IdMaker
from fake_llm.core.journal import Journal, JournalEntry, redact_headers
from fake_llm.core.limits import Decision, RateLimiter
from fake_llm.core.matching import Selector
from fake_llm.core.replies import Completion, ReplyContext, plan_completion
from fake_llm.core.timing import schedule
from fake_llm.core.tokens import count_prompt, make_tokenizer
from fake_llm.dialects import Provider, ReplyMeta
from fake_llm.dialects.openai import profiles
from fake_llm.errors import ProviderRequestError, ReplyMismatch
from fake_llm.http.multipart import read_multipart
from fake_llm.http.rule_sets import RuleSets
from fake_llm.http.sse import DelayedResponse, EventStreamResponse, HangResponse
from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import RateLimit, Reply, Rule, Scenario
from fake_llm.scenarios.loader import load_scenarios, shadowed_rules
from fake_llm.settings import Settings, bundled_scenarios

log = logging.getLogger("fake_llm")

JSON_TYPE = "application/json"
#: Created time reported for every model in /v1/models (a fixed instant keeps the listing byte-stable).
MODEL_CREATED = 1700000000


def scenario_roots(paths: Sequence[str | Path]) -> list[Path]:
    """The folders rules sent over HTTP may read files from: each scenario folder, or a scenario file's folder."""
    return [Path(p).resolve() if Path(p).is_dir() else Path(p).resolve().parent for p in paths]


class FakeLLM(RuleSets):
    """Owns everything one server instance needs; the Starlette app and the admin endpoints call into it."""

    def __init__(self, settings: Settings, scenarios: Sequence[Scenario] = (), roots: Sequence[Path] = ()) -> None:
        self.settings = settings
        self.journal = Journal(settings.journal_size)
        self.base_scenarios = tuple(scenarios)
        self.selector = Selector(scenarios)
        self.tokenizer = make_tokenizer(settings.tokenizer)
        self.ids = IdMaker(settings.seed)
        self.clock = Clock(settings.freeze_time)
        self.roots = list(roots)
        self.warnings = shadowed_rules(scenarios)
        self.limiter = RateLimiter(self.clock.now)
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

    @classmethod
    def from_settings(cls, settings: Settings, *, default_to_bundled: bool = True) -> FakeLLM:
        """Load the scenarios `settings` names (the bundled pack if none and `default_to_bundled`).
        Raises ScenarioError, naming file, line and key, before anything is served."""
        paths: list[str | Path] = list(settings.scenarios)
        if not paths and default_to_bundled:
            paths = [bundled_scenarios()]
        engine = cls(settings, load_scenarios(paths), scenario_roots(paths))
        engine.paths = paths
        return engine

    def reset(self, *, rules: bool = False) -> None:
        """Clear the journal and every rule counter; with `rules`, also drop rules added at run time."""
        if rules:
            self.selector.replace(self.base_scenarios)
            self.selector.set_disabled(())
            self.warnings = shadowed_rules(self.base_scenarios)
        self.selector.reset()
        self.limiter.reset()
        self.journal.clear()

    # ------------------------------------------------------------------ the request flow

    async def chat(self, provider: Provider, request: Request) -> ASGIApp:
        """Answer one chat request in `provider`'s dialect. Never raises: failures become provider-shaped errors."""
        seq = self.journal.next_seq()
        meta = ReplyMeta(
            id=self.ids.make(provider.id_prefix, seq),
            created=int(self.clock.now()),
            system_fingerprint="",
            request_id=self.ids.make("req_", seq, 20),
            seed=self.settings.seed,
        )
        # ASGI header names are already lower-case; decode them once for the journal and the dialect.
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in request.scope["headers"]}
        entry = JournalEntry(
            seq=seq,
            time=self.clock.now(),
            method=request.method,
            path=request.scope["path"],
            headers=redact_headers(headers.items()),
            body=None,
            api=provider.api,
        )
        try:
            return await self._chat(provider, request, headers, meta, entry)
        except Exception as exc:  # a bug in fake-llm: answer, journal it, let the pytest plugin re-raise it
            log.exception("internal error while answering %s %s", request.method, entry.path)
            entry.outcome, entry.status = "error", 500
            entry.error = "".join(traceback.format_exception(exc))
            self.journal.record(entry)
            body = provider.error_body(500, f"fake-llm internal error: {exc!r}", type="server_error")
            return self._json(body, 500, {**provider.response_headers(meta), "x-should-retry": "false"})

    async def _chat(
        self,
        provider: Provider,
        request: Request,
        request_headers: dict[str, str],
        meta: ReplyMeta,
        entry: JournalEntry,
    ) -> ASGIApp:
        headers = provider.response_headers(meta)
        raw = await _read_body(request, self.settings.max_body_bytes)
        if raw is None:
            return self._reject(
                provider,
                entry,
                headers,
                ProviderRequestError(
                    f"Request body too large: the limit is {self.settings.max_body_bytes} bytes.",
                    code="request_too_large",
                    # OpenAI answers a 400; Anthropic's edge a 413 `request_too_large` (wire-format §5.5).
                    status=getattr(provider, "body_too_large_status", 400),
                ),
            )
        # The audio uploads are multipart forms, not JSON.
        multipart = getattr(provider, "body_format", "json") == "multipart"
        if multipart:
            try:
                body = await read_multipart(raw, request_headers)
            except ProviderRequestError as exc:
                return self._reject(provider, entry, headers, exc)
        else:
            try:
                body = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                entry.body = raw.decode("utf-8", errors="replace")[:2000]
                where = (
                    f" ({exc.msg} at line {exc.lineno} column {exc.colno})"
                    if isinstance(exc, json.JSONDecodeError)
                    else ""
                )
                return self._reject(
                    provider,
                    entry,
                    headers,
                    ProviderRequestError(
                        f"We could not parse the JSON body of your request{where}. The API expects a JSON object."
                    ),
                )
        entry.body = body
        given = provider.api_key(request_headers, request.query_params) if self.settings.api_keys else None
        if self.settings.api_keys and given not in self.settings.api_keys:
            shown = f": {given[:3]}****{given[-4:]}" if given and len(given) > 8 else ""
            return self._reject(
                provider,
                entry,
                headers,
                ProviderRequestError(
                    f"Incorrect API key provided{shown}." if given else "You didn't provide an API key.",
                    code="invalid_api_key",
                    status=401,
                ),
            )
        try:
            params = dict(request.path_params)
            if request.scope.get("query_string"):
                params = {**request.query_params, **params}
            chat = provider.parse(body, request_headers, params)
        except ProviderRequestError as exc:
            return self._reject(provider, entry, headers, exc)
        entry.api, entry.model, entry.stream = chat.api, chat.model, chat.stream
        only = request_headers.get("x-fake-llm-scenario")
        if only is not None and only not in {s.name for s in self.selector.scenarios}:
            return self._reject(
                provider,
                entry,
                headers,
                ProviderRequestError(
                    f"fake-llm: X-Fake-LLM-Scenario names an unknown scenario {only!r}; loaded: "
                    f"{self.selector.scenario_names()}",
                    code="fake_llm_unknown_scenario",
                ),
            )
        selection = self.selector.select(chat, only)
        entry.reasons = selection.reasons  # Reasons: skipped rules' reasons are worked out when read
        if selection.rule is None or selection.reply is None:
            message = selection.no_match_message(chat, request.method, entry.path)
            entry.outcome, entry.status, entry.reply = "unmatched", 400, "no match"
            self.journal.record(entry)
            body = provider.error_body(400, message, type="invalid_request_error", code="fake_llm_no_match")
            return self._json(body, 400, {**headers, "x-should-retry": "false"})
        reply, rule = selection.reply, selection.rule
        entry.rule, entry.reply, entry.step = rule.name, reply.summary(), selection.step
        profile = rule.profile or getattr(provider, "profile", None) or self.settings.profile
        try:
            profiles.check(profile, chat)
        except ProviderRequestError as exc:
            return self._reject(provider, entry, headers, exc)
        completion = None
        if reply.is_completion:
            context = ReplyContext(
                selection.captures, self.settings.seed, lambda i: self.ids.make("call_", f"{entry.seq}.{i}", 24)
            )
            try:
                completion = plan_completion(reply, chat, self.tokenizer, rule, context, profiles.usage_fields(profile))
            except ReplyMismatch as exc:
                entry.outcome, entry.status, entry.reply = "mismatch", 400, str(exc)
                self.journal.record(entry)
                body = provider.error_body(400, f"fake-llm: {exc}", code="fake_llm_reply_mismatch")
                return self._json(body, 400, {**headers, "x-should-retry": "false"})
            fingerprint = self.ids.fingerprint(completion.model)
            content_seed = self.ids.content_seed(chat.body, rule.name, selection.step)
            meta = ReplyMeta(meta.id, meta.created, fingerprint, meta.request_id, meta.seed, content_seed)
        tokens = (
            completion.usage.total_tokens
            if completion
            else count_prompt(self.tokenizer, chat.prompt_texts(), len(chat.messages))
        )
        decision = self.check_rate_limits(rule, tokens)
        if not decision.allowed:
            entry.status, entry.reply = 429, f"rate limited ({decision.kind} per minute)"
            self.journal.record(entry)
            body = provider.error_body(429, decision.message, type=decision.kind, code="rate_limit_exceeded")
            return self._json(body, 429, {**headers, **decision.headers})
        headers = {**headers, **decision.headers, **reply.headers}
        response = self._render(provider, reply, completion, chat, meta, entry, headers, selection.step)
        if reply.delay_ms:
            entry.delay_ms = reply.delay_ms
            response = DelayedResponse(response, reply.delay_ms * self.settings.time_scale / 1000.0)
        self.journal.record(entry)
        return response

    def check_rate_limits(self, rule: Rule, tokens: int) -> Decision:
        """The rule's own limit, then the server-wide one; the headers of both are merged."""
        headers: dict[str, str] = {}
        for key, limit in ((f"rule:{rule.name}", rule.rate_limit), ("server", self.server_limit)):
            if limit is None:
                continue
            decision = self.limiter.check(key, limit, tokens)
            if not decision.allowed:
                return decision
            headers.update(decision.headers)
        return Decision(True, headers)

    def _render(
        self,
        provider: Provider,
        reply: Reply,
        completion: Completion | None,
        chat: ChatRequest,
        meta: ReplyMeta,
        entry: JournalEntry,
        headers: dict[str, str],
        step: int,
    ) -> ASGIApp:
        """The ASGI response for a matched reply (entry gets what the journal should show of it)."""
        if reply.hang:
            timeout = provider.error_body(
                504, "fake-llm: a hang reply reached the server's max_hang_seconds.", type="timeout_error"
            )
            return HangResponse(self.settings.max_hang_seconds, self._json(timeout, 504, headers))
        if reply.raw is not None:
            entry.status = reply.raw.status
            return Response(reply.raw.body, reply.raw.status, headers, media_type=reply.raw.content_type)
        if reply.error is not None:
            error = reply.error
            entry.status = error.status
            headers = {**headers, **error.headers}
            if error.body is not None:
                return Response(error.body, error.status, headers, media_type=error.content_type or JSON_TYPE)
            body = provider.error_body(
                error.status,
                error.message or "",
                type=error.type,
                param=error.param,
                code=error.code,
                extra=error.extra,
                flat=error.envelope == "flat",
            )
            return self._json(body, error.status, headers)
        assert completion is not None
        if not chat.stream:
            # A dialect whose answer is not JSON (audio bytes, plain-text transcripts) encodes its own body.
            encode = getattr(provider, "encode_body", None)
            media_type = JSON_TYPE
            if encode is not None:
                content, media_type = encode(completion, meta, chat)
            else:
                content = _dump(provider.completion_body(completion, meta, chat))
            if reply.truncate_body is not None:
                content = content[: reply.truncate_body]
            return Response(content, 200, headers, media_type=media_type)
        spec = reply.stream
        # Jitter draws from a generator seeded by the request, so the same request gets the same delays.
        rng = (
            random.Random(f"{self.settings.seed}:{entry.rule}:{chat.conversation_key}:{step}")
            if spec.is_timed
            else None
        )
        events = schedule(provider.stream_events(completion, meta, chat), spec, rng)
        plan = apply_faults(events, spec, provider.stream_error_event)
        entry.schedule = [event.at_ms for event in plan.events]
        entry.faults = plan.describe(spec)
        entry.events = plan.events
        self.open_streams += 1

        scripted_end = plan.scripted_end(spec)

        def closed(outcome: str) -> None:
            self.open_streams -= 1
            # A stream sent to its end that ends the way the rule broke it must not read "completed".
            entry.stream_outcome = scripted_end if outcome == "completed" and scripted_end else outcome

        return EventStreamResponse(
            plan.events,
            headers=headers,
            time_scale=self.settings.time_scale,
            line_ending=plan.line_ending,
            abort=plan.abort,
            on_close=closed,
        )

    def _reject(
        self, provider: Provider, entry: JournalEntry, headers: dict[str, str], exc: ProviderRequestError
    ) -> Response:
        entry.outcome, entry.status, entry.reply = "rejected", exc.status, exc.message
        self.journal.record(entry)
        body = provider.error_body(exc.status, exc.message, param=exc.param, code=exc.code)
        return self._json(body, exc.status, headers)

    @staticmethod
    def _json(body: Any, status: int, headers: dict[str, str]) -> Response:
        return Response(_dump(body), status_code=status, headers=headers, media_type=JSON_TYPE)


def _dump(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


async def _read_body(request: Request, limit: int) -> bytes | None:
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
