"""`fake-llm lint`: render every reply of users' scenarios and cassettes through every dialect that can answer
it, non-stream and stream, and validate the result against the provider's spec (the same checkers as the test
suite), plus what the spec cannot see (tool-call arguments that are not a JSON object).

Rendering goes through the dialects themselves (plan_reply, completion_body, stream_events, the fault
planner), so lint sees the bytes `serve` would send for that reply.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fake_llm.conformance.recorder import Exchange, check_exchange
from fake_llm.conformance.registry import checker_for
from fake_llm.core import profiles
from fake_llm.core.faults import apply_faults
from fake_llm.core.replies import ReplyContext, plan_reply
from fake_llm.core.timing import schedule
from fake_llm.core.tokens import make_tokenizer
from fake_llm.dialects import PROVIDERS, Provider, ReplyMeta
from fake_llm.errors import ReplyMismatch
from fake_llm.model.plan import PlannedReply
from fake_llm.model.request import ChatRequest, Message, ToolSpec
from fake_llm.model.spec import Reply, Rule, Scenario, StreamError
from fake_llm.model.stream import Event

#: Dialects a rule without an `api:` match is rendered through (embeddings only answer embedding replies; the
#: media dialects answer only rules that name them).
CHAT_APIS = ("openai-chat", "azure", "scale", "completions", "responses", "anthropic", "gemini")
#: Paths the checkers choose their schema by, per dialect.
PATHS = {
    "openai-chat": "/v1/chat/completions",
    "azure": "/openai/v1/chat/completions",
    "scale": "/v5/chat/completions",
    "completions": "/v1/completions",
    "embeddings": "/v1/embeddings",
    "responses": "/v1/responses",
    "anthropic": "/v1/messages",
}
#: Faults whose whole point is output a correct client rejects; lint names them instead of validating.
SCRIPTED = ("raw", "hang")


@dataclass(frozen=True, slots=True)
class Problem:
    """One failing field of one rendering."""

    file: str
    line: int
    rule: str
    reply: int
    dialect: str
    stream: bool
    field: str
    message: str
    where: str = ""

    def __str__(self) -> str:
        mode = "stream" if self.stream else "body"
        at = f" ({self.where})" if self.where and self.where != "body" else ""
        reply = f" reply {self.reply + 1}" if self.reply else ""
        head = f"{self.file}:{self.line}: rule {self.rule!r}{reply} [{self.dialect} {mode}]"
        return f"{head} {self.field}: {self.message}{at}"


@dataclass(slots=True)
class LintResult:
    problems: list[Problem] = dataclasses.field(default_factory=list)
    renders: int = 0
    rules: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)


def lint(scenarios: Sequence[Scenario]) -> LintResult:
    """Every reply of every rule, rendered and validated."""
    result = LintResult()
    tokenizer = make_tokenizer("approx")
    for scenario in scenarios:
        for rule in scenario.rules:
            result.rules += 1
            for index, reply in enumerate(rule.replies):
                _lint_reply(rule, index, reply, tokenizer, result)
    return result


#: Provider profiles are OpenAI-compatible servers: their rules answer through these dialects only.
PROFILE_APIS = {"cerebras": ("openai-chat",), "gradient": ("openai-chat",), "scale": ("scale",), "openai": ()}


def _apis(rule: Rule, reply: Reply) -> tuple[str, ...]:
    if rule.match.api:
        return tuple(a for a in rule.match.api if a in PROVIDERS)
    if reply.embedding is not None:
        return ("embeddings",)
    if PROFILE_APIS.get(rule.profile or ""):
        return PROFILE_APIS[rule.profile or ""]
    # Legacy completions have no tool calls: a tool-calling reply is not one they can give.
    return tuple(a for a in CHAT_APIS if not (reply.tool_calls and a == "completions"))


def _lint_reply(rule: Rule, index: int, reply: Reply, tokenizer: Any, result: LintResult) -> None:
    file, _, line = rule.source.rpartition(":")

    def problem(dialect: str, stream: bool, field: str, message: str, where: str = "") -> Problem:
        at = int(line) if line.isdigit() else 0
        return Problem(file or rule.source, at, rule.name, index, dialect, stream, field, message, where)

    scripted = next((key for key in SCRIPTED if getattr(reply, key)), None)
    if scripted is not None:
        result.notes.append(f"{rule.source}: rule {rule.name!r}: a {scripted} reply is not rendered (scripted)")
        return
    for call in reply.tool_calls:
        arguments = call.arguments
        if isinstance(arguments, str) and not _is_json_object(arguments):
            message = f"not a JSON object: {arguments[:60]!r}"
            result.problems.append(problem("*", False, f"tool_calls[{call.name}].arguments", message))
    for api in _apis(rule, reply):
        provider = PROVIDERS[api]
        checker = checker_for(api)
        if checker is None or checker.available() is not None:
            continue
        for stream in (False, True):
            if api == "embeddings" and stream:
                continue
            exchange = _render(provider, rule, reply, tokenizer, stream)
            if exchange is None:
                continue
            result.renders += 1
            seen: set[tuple[str, str]] = set()
            for violation in check_exchange(exchange).violations:
                if (violation.field, violation.message) in seen:
                    continue  # the same fault on every chunk of a stream: reported once, at its first event
                seen.add((violation.field, violation.message))
                message = f"{violation.schema}: {violation.message}"
                result.problems.append(problem(api, stream, violation.field, message, violation.where))


def _request(provider: Provider, rule: Rule, reply: Reply, stream: bool) -> ChatRequest:
    model = next((m for m in rule.match.model or () if not any(c in m for c in "*?[")), None) or "fake-llm-lint"
    tools = tuple(ToolSpec(call.name, parameters={"type": "object"}) for call in reply.tool_calls if call.name)
    body: dict[str, Any] = {"model": model, "stream": stream}
    if provider.api == "gemini":
        body = {}
    return ChatRequest(
        api=provider.api,
        model=model,
        messages=(Message("user", "fake-llm lint"),),
        stream=stream,
        include_usage=stream,
        tools=tools,
        body=body,
    )


def _render(provider: Provider, rule: Rule, reply: Reply, tokenizer: Any, stream: bool) -> Exchange | None:
    chat = _request(provider, rule, reply, stream)
    meta = ReplyMeta("lint-1", 1767225600, "fp_lint", "req_lint", 0)
    path = PATHS.get(
        provider.api, f"/v1beta/models/{chat.model}:{'streamGenerateContent' if stream else 'generateContent'}"
    )
    faults: list[str] = []
    if reply.error is not None:
        error = reply.error
        if error.body is not None:
            return None
        body = provider.error_body(error.status, error.message or "", type=error.type, param=error.param,
                                   code=error.code, extra=error.extra, flat=error.envelope == "flat")  # fmt: skip
        if error.envelope == "flat":
            faults.append("flat error envelope")
        return Exchange("POST", path, "", error.status, "application/json", json.dumps(body).encode(), provider.api,
                        tuple(faults))  # fmt: skip
    try:
        completion = plan_reply(reply, chat, tokenizer, rule, ReplyContext(), profiles.usage_fields(rule.profile))
    except (ReplyMismatch, ValueError, KeyError):
        return None  # the reply needs a request lint cannot invent (a capture, a forced tool)
    if not stream:
        content = json.dumps(provider.completion_body(completion, meta, chat)).encode()
        if reply.truncate_body is not None:
            content, faults = content[: reply.truncate_body], [f"truncate_body={reply.truncate_body}"]
        return Exchange("POST", path, "", 200, "application/json", content, provider.api, tuple(faults))
    return _stream(provider, reply, completion, meta, chat, path)


def _stream(
    provider: Provider, reply: Reply, completion: PlannedReply, meta: ReplyMeta, chat: ChatRequest, path: str
) -> Exchange:
    def error_events(error: StreamError, position: int) -> list[Event]:
        return provider.stream_failure(error, position, completion, meta, chat)

    events = schedule(provider.stream_events(completion, meta, chat), reply.stream, random.Random(0))
    plan = apply_faults(events, reply.stream, error_events)
    body = b"".join(event.frame(plan.line_ending) for event in plan.events)
    faults = tuple(plan.describe(reply.stream))
    return Exchange("POST", path, "", 200, "text/event-stream", body, provider.api, faults)


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except json.JSONDecodeError:
        return False


def to_json(result: LintResult) -> str:
    return json.dumps(
        {
            "ok": not result.problems,
            "rules": result.rules,
            "renders": result.renders,
            "problems": [dataclasses.asdict(p) for p in result.problems],
            "notes": result.notes,
        },
        indent=2,
    )
