"""answer(): the one request flow every dialect goes through, read top to bottom, with no web framework.

body -> key -> dialect.parse -> (count) -> scenario header -> rule selection -> profile -> reply plan -> rate limits
-> the matched reply's outcome, all in `answer`. Each early exit is an Outcome; the HTTP layer journals it and
renders it.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from fake_llm.core import profiles
from fake_llm.core.chaos import ChaosDraw
from fake_llm.core.dialect import Dialect, ReplyMeta
from fake_llm.core.faults import FaultPlan, apply_faults
from fake_llm.core.ids import Clock, IdMaker
from fake_llm.core.limits import Decision, RateLimiter
from fake_llm.core.matching import Selection, Selector
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
    Seen,
    Unmatched,
)
from fake_llm.core.replies import ReplyContext, plan_reply
from fake_llm.core.request_json import parse_body
from fake_llm.core.rule_power import break_body, break_stream_reply, prepare_reply
from fake_llm.core.staleness import miss_details
from fake_llm.core.timing import schedule
from fake_llm.core.tokens import Tokenizer, count_prompt
from fake_llm.core.variations import vary
from fake_llm.errors import ProviderRequestError, ReplyMismatch, ReplyTooLarge, StateUnavailable
from fake_llm.model.plan import PlannedReply
from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import ChaosSpec, RateLimit, Reply, Rule
from fake_llm.settings import Settings


@dataclass(frozen=True, slots=True)
class Inbound:
    """One HTTP request as the pipeline needs it; `body` is None when it was over `max_body_bytes`."""

    method: str
    path: str
    #: Lower-case names.
    headers: Mapping[str, str]
    #: The query string.
    query: Mapping[str, str]
    #: Path parameters over the query string (e.g. a model taken from the path).
    params: Mapping[str, str]
    body: bytes | None
    #: A multipart body (dialect.body_format == "multipart"), as the HTTP layer parsed it, or why it could not.
    form: Mapping[str, Any] | None = None
    form_error: ProviderRequestError | None = None


class Engine(Protocol):
    """The server state the pipeline reads (http/engine.py's FakeLLM)."""

    settings: Settings
    selector: Selector
    tokenizer: Tokenizer
    ids: IdMaker
    clock: Clock
    limiter: RateLimiter
    server_limit: RateLimit | None
    chaos_seed: int

    def python_reply(self, rule: Rule, request: ChatRequest) -> Reply:
        """The reply a rule's Python function makes for `request`, validated (the HTTP layer loads scenarios)."""


class PipelineBug(Exception):
    """A bug in fake-llm while answering (raised from the original exception), with what had been seen."""

    def __init__(self, seen: Seen) -> None:
        super().__init__("internal error")
        self.seen = seen


class _Refused(Exception):
    """An early exit: the request is rejected with `error`, having seen `seen`."""

    def __init__(self, error: ProviderRequestError, seen: Seen) -> None:
        super().__init__(error.message)
        self.error, self.seen = error, seen


def answer(engine: Engine, dialect: Dialect, inbound: Inbound, seq: int) -> Outcome:
    """What to answer to request number `seq`, in `dialect`, read top to bottom. Raises only on a bug in fake-llm
    (PipelineBug, once a rule is chosen) or when the shared state store is down (StateUnavailable)."""
    meta = _meta(engine, dialect, inbound, seq)
    headers = dialect.response_headers(meta)
    no_retry = {**headers, "x-should-retry": "false"}
    seen = Seen()
    try:
        seen, chat = _accept(engine, dialect, inbound)  # size, JSON, API key, then the dialect's own validation
        if dialect.counts_tokens:  # a token count: answered with the prompt's tokens, no rule consulted
            return Counted(seen, meta, headers, _prompt_tokens(engine, chat))
        loaded = dialect.load_body(chat, meta)
        if loaded is not None:  # a request the dialect answers itself, no rule needed (Ollama's model load)
            answered = replace(seen, reply=f"{loaded.get('done_reason', 'answered')} (answered by the dialect)")
            return DialectAnswer(answered, meta, headers, loaded)
        selection = _select(engine, inbound, chat, seen)
        seen = replace(seen, reasons=selection.reasons)  # Reasons: skipped rules' reasons are worked out when read
        rule, reply = selection.rule, selection.reply
        if rule is None or reply is None:
            return _unmatched(engine, inbound, chat, selection, seen, meta, no_retry)
        seen = replace(seen, rule=rule.name, reply=reply.summary(), step=selection.step)
        # A Python reply is made (and validated) now; seeded chaos draws its decisions for this use of the rule.
        reply, seen, chaos = prepare_reply(
            rule, reply, chat, selection.use, engine.chaos_seed, seen, engine.python_reply
        )
        profile = _check_profile(engine, dialect, rule, chat, seen)
        planned = None
        if reply.is_completion:
            try:
                planned = _plan(engine, seq, selection, reply, chat, profile)
                check_reply_size(planned, chat.stream, engine.settings.max_reply_bytes)
            except ReplyTooLarge as exc:
                message = f"rule {rule.name!r}: {exc}"
                return Mismatched(
                    replace(seen, reply=message), meta, no_retry, message, code="fake_llm_reply_too_large"
                )
            except ReplyMismatch as exc:
                return Mismatched(replace(seen, reply=str(exc)), meta, no_retry, str(exc))
            content_seed = engine.ids.content_seed(chat.body, rule.name, selection.step)
            meta = replace(meta, system_fingerprint=engine.ids.fingerprint(planned.model), content_seed=content_seed)
        tokens = planned.usage.total_tokens if planned else _prompt_tokens(engine, chat)
        decision = check_rate_limits(engine, rule, tokens)
        if not decision.allowed:
            limited = replace(seen, reply=f"rate limited ({decision.kind} per minute)")
            return RateLimited(limited, meta, {**headers, **decision.headers}, decision)
        headers = {**headers, **decision.headers, **reply.headers}
        seen = replace(seen, delay_ms=reply.delay_ms)
        return _matched(engine, dialect, reply, planned, chat, seen, meta, headers, chaos, rule.chaos)
    except _Refused as refused:
        return Rejected(refused.seen, meta, headers, refused.error)
    except StateUnavailable:  # the shared state store is down: the HTTP layer answers a 503
        raise
    except Exception as exc:
        if seen.rule is None:
            raise
        raise PipelineBug(seen) from exc  # a bug in fake-llm: the journal entry still names the rule it answered


def _prompt_tokens(engine: Engine, chat: ChatRequest) -> int:
    return count_prompt(engine.tokenizer, chat.prompt_texts(), len(chat.messages))


def _check_profile(engine: Engine, dialect: Dialect, rule: Rule, chat: ChatRequest, seen: Seen) -> str | None:
    """The provider profile in force (the rule's, the dialect's, the server's), once the request fits it."""
    profile = rule.profile or dialect.profile or engine.settings.profile
    try:
        profiles.check(profile, chat)
    except ProviderRequestError as exc:
        raise _Refused(exc, seen) from None
    return profile


def _unmatched(
    engine: Engine,
    inbound: Inbound,
    chat: ChatRequest,
    selection: Selection,
    seen: Seen,
    meta: ReplyMeta,
    headers: Mapping[str, str],
) -> Unmatched:
    """A miss: every rule's reason, and the closest rule (or recording) field by field for the journal."""
    message = selection.no_match_message(chat, inbound.method, inbound.path)
    rules = engine.selector.enabled_rules(inbound.headers.get("x-fake-llm-scenario"))
    return Unmatched(replace(seen, reply="no match", closest=miss_details(rules, chat)), meta, headers, message)


def _plan(
    engine: Engine, seq: int, selection: Selection, reply: Reply, chat: ChatRequest, profile: str | None
) -> PlannedReply:
    """`reply` (the selected one, or the one its Python function made) planned for this request (ReplyMismatch
    when it contradicts the request)."""
    assert selection.rule is not None

    def call_id(i: int) -> str:
        return engine.ids.make("call_", f"{seq}.{i}", 24)

    context = ReplyContext(selection.captures, engine.settings.seed, call_id, engine.settings.max_reply_bytes)
    usage_fields = profiles.usage_fields(profile)
    return plan_reply(reply, chat, engine.tokenizer, selection.rule, context, usage_fields)


def _meta(engine: Engine, dialect: Dialect, inbound: Inbound, seq: int) -> ReplyMeta:
    if dialect.counts_tokens:  # the same count request gets the same id
        digest = hashlib.blake2b(inbound.body or b"", digest_size=16).hexdigest()
        return ReplyMeta("", 0, "", engine.ids.make("req_", f"count_tokens:{digest}", 20), engine.settings.seed)
    return ReplyMeta(
        id=engine.ids.make(dialect.id_prefix, seq),
        created=int(engine.clock.now()),
        system_fingerprint="",
        request_id=engine.ids.make("req_", seq, 20),
        seed=engine.settings.seed,
    )


def _accept(engine: Engine, dialect: Dialect, inbound: Inbound) -> tuple[Seen, ChatRequest]:
    """The parsed request, once its size, JSON, key and fields pass; else _Refused."""
    limit = engine.settings.max_body_bytes
    if inbound.body is None:
        too_large = f"Request body too large: the limit is {limit} bytes."
        raise _Refused(
            ProviderRequestError(too_large, code="request_too_large", status=dialect.body_too_large_status), Seen()
        )
    if inbound.form_error is not None:
        raise _Refused(inbound.form_error, Seen())
    try:  # parse_body refuses NaN, huge ints, lone surrogates and deep nesting with the field's path (issue 11)
        body = dict(inbound.form) if inbound.form is not None else parse_body(inbound.body)
    except ProviderRequestError as exc:
        raise _Refused(exc, Seen(body=inbound.body.decode("utf-8", "replace")[:2000])) from None
    seen = Seen(body=body)
    keys = engine.settings.api_keys
    given = dialect.api_key(inbound.headers, inbound.query) if keys else None
    if keys and given not in keys:
        raise _Refused(dialect.auth_error(given), seen)
    try:
        chat = dialect.parse(body, inbound.headers, inbound.params)
    except ProviderRequestError as exc:
        raise _Refused(exc, seen) from None
    return replace(seen, api=chat.api, model=chat.model, stream=chat.stream), chat


def check_reply_size(completion: PlannedReply, stream: bool, limit: int) -> None:
    """ReplyTooLarge when the reply would pass `limit` bytes, estimated before any body or event is built: the text
    of every choice, and for a stream the id and model each event repeats (a long model name over thousands of
    chunks would otherwise build gigabytes)."""
    text = sum(len(token) for choice in completion.choices for token in choice.tokens)
    text += sum(len(call.arguments) for choice in completion.choices for call in choice.tool_calls)
    events = sum(len(c.chunks) + len(c.reasoning_chunks) + len(c.tool_calls) + 3 for c in completion.choices)
    size = text + (events if stream else 1) * (len(completion.model) + 100)
    if size > limit:
        raise ReplyTooLarge(f"the reply would be about {size} bytes, past the server's max_reply_bytes ({limit})")


def _select(engine: Engine, inbound: Inbound, chat: ChatRequest, seen: Seen) -> Selection:
    """The selector's pick, within the one scenario an `X-Fake-LLM-Scenario` header names."""
    only = inbound.headers.get("x-fake-llm-scenario")
    if only is not None and only not in {s.name for s in engine.selector.scenarios}:
        message = (
            f"fake-llm: X-Fake-LLM-Scenario names an unknown scenario {only!r}; loaded: "
            f"{engine.selector.scenario_names()}"
        )
        raise _Refused(ProviderRequestError(message, code="fake_llm_unknown_scenario"), seen)
    return engine.selector.select(chat, only)


def check_rate_limits(engine: Engine, rule: Rule, tokens: int) -> Decision:
    """The rule's own limit, then the server-wide one; the headers of both are merged."""
    headers: dict[str, str] = {}
    for key, limit in ((f"rule:{rule.name}", rule.rate_limit), ("server", engine.server_limit)):
        if limit is None:
            continue
        decision = engine.limiter.check(key, limit, tokens)
        if not decision.allowed:
            return decision
        headers.update(decision.headers)
    return Decision(True, headers)


def _matched(
    engine: Engine,
    dialect: Dialect,
    reply: Reply,
    completion: PlannedReply | None,
    chat: ChatRequest,
    seen: Seen,
    meta: ReplyMeta,
    headers: Mapping[str, str],
    chaos: ChaosDraw | None = None,
    spec: ChaosSpec | None = None,
) -> Outcome:
    """The outcome of a matched, allowed reply: a hang, raw bytes, a scripted error, or a completion."""
    if reply.hang:
        return Hang(seen, meta, headers)
    if reply.raw is not None:
        return RawBody(seen, meta, headers, reply.raw)
    if reply.error is not None:
        return ErrorReply(seen, meta, {**headers, **reply.error.headers}, reply.error)
    assert completion is not None
    # Tool arguments that are not a JSON object are scripted on purpose (a client's handling of a model's broken
    # JSON): the journal says so, and the conformance check skips them.
    broken = any(not _is_json_object(call.arguments) for choice in completion.choices for call in choice.tool_calls)
    scripted = ("non-JSON tool arguments",) if broken else ()
    if not chat.stream:
        if reply.truncate_body is not None:
            scripted = (f"truncate_body={reply.truncate_body}", *scripted)
        seen, cut, drop = break_body(seen, chaos, spec)  # seeded chaos
        return Completed(
            seen, meta, headers, completion, chat, reply.truncate_body, faults=scripted, cut_at=cut, drop=drop
        )
    reply = break_stream_reply(reply, chaos, spec, lambda: len(dialect.stream_events(completion, meta, chat)))
    plan = _stream_plan(engine, dialect, reply, completion, chat, seen, meta)
    variations: tuple[str, ...] = ()
    if reply.stream.vary_seed is not None:
        sse = dialect.stream_framing == "sse" and dialect.stream_media_type is None and chat.stream_format == "sse"
        varied = vary(plan.events, dialect.api, reply.stream.vary_seed, sse=sse)
        plan = replace(plan, events=varied.events, line_ending=varied.line_ending or plan.line_ending)
        variations = tuple(varied.names)
    faults = (*scripted, *plan.describe(reply.stream))
    return Completed(
        seen,
        meta,
        headers,
        completion,
        chat,
        plan=plan,
        faults=faults,
        scripted_end=plan.scripted_end(reply.stream),
        variations=variations,
    )


def _stream_plan(
    engine: Engine,
    dialect: Dialect,
    reply: Reply,
    completion: PlannedReply,
    chat: ChatRequest,
    seen: Seen,
    meta: ReplyMeta,
) -> FaultPlan:
    """The dialect's events, timed and broken as the reply's `stream:` says."""
    spec = reply.stream
    # Jitter draws from a generator seeded by the request, so the same request gets the same delays.
    seed = f"{engine.settings.seed}:{seen.rule}:{chat.conversation_key}:{seen.step}"
    rng = random.Random(seed) if spec.is_timed else None
    events = schedule(dialect.stream_events(completion, meta, chat), spec, rng)
    return apply_faults(
        events, spec, lambda error, position: dialect.stream_failure(error, position, completion, meta, chat)
    )


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):  # arguments may echo a request: huge ints and deep nesting are not a 500
        return False
