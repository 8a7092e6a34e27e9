"""Per-key match checks (each explains its failure) and the Selector: first matching rule, by priority and then
the order rule sets were loaded or added."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import partial
from typing import Any

from fake_llm.core.rule_index import Reasons, RuleIndex, reasons_of, skipped_reasons
from fake_llm.core.state import Counters, MemoryCounters
from fake_llm.core.tool_calls import forces_tool
from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import Match, Reply, Rule, Scenario, TextLookup, rules_in_order
from fake_llm.scenarios.safe_regex import compile_linear

#: A check returns None when it holds, else a reason; regex captures go into the dict it is given.
Check = Callable[[Match, ChatRequest, dict[str, str]], "str | None"]


def _clip(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def lookup_text(lookup: TextLookup, text: str, captures: dict[str, str]) -> bool:
    """Whether `text` satisfies `lookup`; a regex's named groups are added to `captures`."""
    if lookup.pattern is not None:
        found = lookup.pattern.search(text)
        if found is None:
            return False
        captures.update({k: v for k, v in found.groupdict().items() if v is not None})
        return True
    value, subject = lookup.value, text
    if lookup.ignore_case:
        value, subject = value.casefold(), subject.casefold()
    if lookup.kind == "contains":
        return value in subject
    if lookup.kind == "equals":
        return value == subject
    return subject.startswith(value)


def case_hint(lookup: TextLookup, texts: Sequence[str]) -> str:
    """A hint for a case-sensitive lookup that fails only because of case (mapping forms do not ignore case)."""
    if lookup.ignore_case:
        return ""
    if isinstance(lookup.pattern, re.Pattern):
        folded = re.compile(lookup.pattern.pattern, lookup.pattern.flags | re.IGNORECASE)
        hit = any(folded.search(text) for text in texts)
    elif lookup.pattern is not None:  # a run-time rule's RE2 pattern: its case-folded twin stays linear-time
        folded_linear = compile_linear(lookup.value, ignore_case=True)
        hit = any(folded_linear.search(text) for text in texts)
    else:
        relaxed = TextLookup(lookup.kind, lookup.value, ignore_case=True)
        hit = any(lookup_text(relaxed, text, {}) for text in texts)
    return " (it would match ignoring case: add `ignore_case: true`)" if hit else ""


def _check_model(match: Match, request: ChatRequest, captures: dict[str, str]) -> str | None:
    if match.model is None or any(fnmatchcase(request.model, pattern) for pattern in match.model):
        return None
    wanted = " or ".join(repr(p) for p in match.model)
    return f"model {request.model!r} does not match {wanted}"


def _text_check(key: str, describe: str, read: Callable[[ChatRequest], Sequence[str]]) -> Check:
    def check(match: Match, request: ChatRequest, captures: dict[str, str]) -> str | None:
        lookup: TextLookup | None = getattr(match, key)
        if lookup is None:
            return None
        texts = read(request)
        if any(lookup_text(lookup, text, captures) for text in texts):
            return None
        shown = _clip(texts[0]) if len(texts) == 1 else f"{len(texts)} messages"
        return f"{key}: {describe} {shown} does not {lookup.describe()}{case_hint(lookup, texts)}"

    return check


def _check_api(match: Match, request: ChatRequest, captures: dict[str, str]) -> str | None:
    if not match.api or request.api in match.api:
        return None
    return f"api: request came in as {request.api!r}, rule wants {' or '.join(map(repr, match.api))}"


def _check_stream(match: Match, request: ChatRequest, captures: dict[str, str]) -> str | None:
    if match.stream is None or match.stream == request.stream:
        return None
    return f"stream: request has stream={str(request.stream).lower()}"


def _check_headers(match: Match, request: ChatRequest, captures: dict[str, str]) -> str | None:
    for name, lookup in match.headers:
        value = request.headers.get(name)
        if value is None:
            return f"header {name!r} is missing"
        if not lookup_text(lookup, value, captures):
            return f"header {name!r}: {_clip(value)} does not {lookup.describe()}{case_hint(lookup, [value])}"
    return None


def _check_turn(match: Match, request: ChatRequest, captures: dict[str, str]) -> str | None:
    if match.turn is None:
        return None
    low, high = match.turn
    if request.turn >= low and (high is None or request.turn <= high):
        return None
    wanted = str(low) if low == high else f"{low}..{high if high is not None else ''}"
    return f"turn: request is at turn {request.turn}, rule wants {wanted}"


def _check_last_role(match: Match, request: ChatRequest, captures: dict[str, str]) -> str | None:
    if match.last_role is None or request.last_role == match.last_role:
        return None
    return f"last_role: the last message is from {request.last_role!r}, not {match.last_role!r}"


def _check_tool_result(match: Match, request: ChatRequest, captures: dict[str, str]) -> str | None:
    if match.tool_result is None and match.tool_result_for is None:
        return None
    results = request.tool_results
    if not results:
        return "tool_result: the last message is not a tool result"
    if match.tool_result_for is not None:
        names = [request.tool_names_by_call_id.get(m.tool_call_id or "", "?") for m in results]
        if match.tool_result_for not in names:
            sent = ", ".join(map(repr, names))
            return f"tool_result_for: results just sent are for {sent}, not {match.tool_result_for!r}"
    lookup = match.tool_result
    if lookup is not None and not any(lookup_text(lookup, m.text, captures) for m in results):
        return f"tool_result: tool result {_clip(results[-1].text)} does not {lookup.describe()}"
    return None


def _check_tools(match: Match, request: ChatRequest, captures: dict[str, str]) -> str | None:
    offered = {tool.name for tool in request.tools}
    missing = [name for name in match.tools if name not in offered]
    if not missing:
        return None
    return f"tools: the request does not offer {', '.join(map(repr, missing))} (offers {sorted(offered) or 'none'})"


def _check_request_options(match: Match, request: ChatRequest, captures: dict[str, str]) -> str | None:
    if match.tool_choice is not None and request.tool_choice_name != match.tool_choice:
        has = "sets no tool_choice" if request.tool_choice_name is None else f"has {request.tool_choice_name!r}"
        return f"tool_choice: the request {has}, rule wants {match.tool_choice!r}"
    if match.response_format is not None and request.response_format_type != match.response_format:
        fmt = request.response_format_type
        has = "sets no response_format" if fmt is None else f"has {fmt!r}"
        return f"response_format: the request {has}, rule wants {match.response_format!r}"
    if match.has_image is not None and request.has_image != match.has_image:
        return "has_image: the request has " + ("an image" if request.has_image else "no image")
    has_tools = bool(request.tools) and request.tool_choice_name != "none"
    if match.has_tools is not None and has_tools != match.has_tools:
        if has_tools:
            return "has_tools: the request offers tools"
        return "has_tools: the request " + ("offers no tools" if not request.tools else "forbids tool calls")
    if match.forces_tool is not None and forces_tool(request) != match.forces_tool:
        return f"forces_tool: the request's tool_choice is {request.tool_choice_name!r}"
    return None


#: Checks in the order they are tried; the first failure is the reason a rule did not match.
CHECKS: tuple[Check, ...] = (
    _check_api,
    _check_model,
    _check_stream,
    _check_headers,
    _check_turn,
    _check_last_role,
    _check_tools,
    _check_request_options,
    _check_tool_result,
    _text_check("user", "last user message", lambda r: [r.last_user]),
    _text_check("system", "system prompt", lambda r: [r.system]),
    _text_check("any_message", "any message of", lambda r: [m.text for m in r.messages] or [""]),
)


def explain(match: Match, request: ChatRequest) -> tuple[str | None, dict[str, str]]:
    """The first reason `match` does not hold for `request` (None if it holds) and the regex captures."""
    captures: dict[str, str] = {}
    for check in CHECKS:
        reason = check(match, request, captures)
        if reason is not None:
            return reason, captures
    return None, captures


@dataclass(frozen=True, slots=True)
class Selection:
    """The outcome of matching one request: the rule and reply chosen, or every rule's reason for not matching."""

    rule: Rule | None
    reply: Reply | None
    captures: dict[str, str] = field(default_factory=dict)
    #: A tuple, or Reasons when the rule index skipped rules (their reasons are worked out when read).
    reasons: Sequence[tuple[str, str]] = ()
    #: 1-based position of the reply in the rule's `replies:` for this conversation.
    step: int = 0

    def no_match_message(self, request: ChatRequest, method: str, path: str, limit: int = 30) -> str:
        """The text that explains a miss, for the HTTP body and the journal."""
        asked = f"model {request.model!r}, last user message {_clip(request.last_user)}"
        head = f"fake-llm: no rule matched {method} {path} ({asked})."
        if not self.reasons:
            return head + " No rules are loaded."
        lines = [f"{name}: {reason}" for name, reason in self.reasons[:limit]]
        if len(self.reasons) > limit:
            lines.append(f"... and {len(self.reasons) - limit} more rules")
        return head + " Rules tried: " + "; ".join(lines)


class Selector:
    """Picks the first rule whose match holds, honouring `times` and advancing `replies:` per conversation."""

    def __init__(self, scenarios: Sequence[Scenario] = (), counters: Counters | None = None) -> None:
        self._lock = threading.Lock()
        self._scenarios: tuple[Scenario, ...] = tuple(scenarios)
        self._rules: tuple[Rule, ...] = tuple(rules_in_order(self._scenarios))
        self._index = RuleIndex(self._rules)
        self._by_name = {rule.name: rule for rule in self._rules}
        #: Bumped by every change that can change what a request gets (rules, switches, counters of rules with
        #: `times` or `replies`, a reset): answers remembered under another version are stale.
        self.version = 0
        self.stateful = _is_stateful(self._rules)
        #: Names of scenarios switched off (from the dashboard or POST /_fake/scenarios/...).
        self._disabled: frozenset[str] = frozenset()
        #: Where `times` and `replies:` positions are counted: this process, or a store replicas share.
        self._counters: Counters = counters if counters is not None else MemoryCounters()

    @property
    def scenarios(self) -> tuple[Scenario, ...]:
        return self._scenarios

    @property
    def rules(self) -> list[Rule]:
        """Every rule, in the order they are tried."""
        return list(self._rules)

    @property
    def disabled(self) -> frozenset[str]:
        return self._disabled

    def set_disabled(self, names: Iterable[str]) -> None:
        """Switch these scenarios off (and every other one on); their rules stop matching until switched back."""
        names = frozenset(names)
        unknown = names - {s.name for s in self._scenarios}
        if unknown:
            raise KeyError(f"unknown scenario {', '.join(sorted(map(repr, unknown)))}; loaded: {self.scenario_names()}")
        with self._lock:
            self._disabled = names
            self.version += 1

    def scenario_names(self) -> str:
        return ", ".join(s.name for s in self._scenarios) or "none"

    def replace(self, scenarios: Sequence[Scenario]) -> None:
        """Serve `scenarios` from now on; counters of rules that keep their name are kept."""
        with self._lock:
            self._scenarios = tuple(scenarios)
            self._rules = tuple(rules_in_order(self._scenarios))
            self._index = RuleIndex(self._rules)
            self._by_name = {rule.name: rule for rule in self._rules}
            self.version += 1
            self.stateful = _is_stateful(self._rules)

    def reset(self) -> None:
        """Forget every use count and sequence position."""
        with self._lock:
            self._counters.reset()
            self.version += 1

    def rule_named(self, name: str | None) -> Rule | None:
        return self._by_name.get(name or "")

    def count_use(self, rule: Rule) -> None:
        """Count one more answer by a rule without `times` or `replies` (what select() does when it picks one)."""
        with self._lock:
            self._counters.claim(rule.name, None, None)

    def hits(self) -> dict[str, int]:
        return self._counters.hits()

    def select(
        self, request: ChatRequest, only: str | None = None, view: Callable[[Rule], ChatRequest] | None = None
    ) -> Selection:
        """Match `request` against every rule of the enabled scenarios (or only of scenario `only`, enabled or not)
        in the order rules are tried (priority, then load order), and use up the winner's `times` and `replies`.
        `view` gives the request as one rule sees it (a realtime session hears untranscribed audio as the rule's
        `transcript:`)."""
        with self._lock:
            if view is None and not self._index.is_trivial:
                found = self._select_indexed(request, only)
                if found is not None:
                    return found
            # A miss (or no index to use): every rule, so the miss message gives each rule's reason.
            return self._walk(request, only, view)

    def _skips(self, rule: Rule, only: str | None) -> bool:
        return (rule.scenario != only) if only is not None else (rule.scenario in self._disabled)

    def _try(self, rule: Rule, seen: ChatRequest) -> tuple[str | None, dict[str, str], int | None]:
        """Check `rule` against `seen` and, if it holds, claim one use: (reason it does not, captures, 0-based step).
        A shared store decides `times` at the claim, atomically across replicas: another may have used the last one
        since this rule was checked."""
        used = self._counters.known_uses(rule.name)
        if rule.times is not None and used is not None and used >= rule.times:
            return f"exhausted {used}/{rule.times}", {}, None
        reason, captures = explain(rule.match, seen)
        if reason is not None:
            return reason, captures, None
        conversation = seen.conversation_key if len(rule.replies) > 1 else None
        step = self._counters.claim(rule.name, rule.times, conversation)
        if step is None:
            return f"exhausted {rule.times}/{rule.times}", captures, None
        if rule.times is not None or len(rule.replies) > 1:
            self.version += 1
        return None, captures, step

    def _select_indexed(self, request: ChatRequest, only: str | None) -> Selection | None:
        """The first matching rule among the index's candidates (None if none matches); the rules the index skipped
        get their reasons only when read."""
        rules = self._rules
        tried: list[tuple[int, str, str]] = []
        positions = self._index.candidates(request)
        for n, position in enumerate(positions):
            rule = rules[position]
            if self._skips(rule, only):
                continue
            reason, captures, step = self._try(rule, request)
            if step is None:
                tried.append((position, rule.name, str(reason)))
                continue
            skipped = partial(
                skipped_reasons, explain, rules, position, frozenset(positions[: n + 1]), only, self._disabled, request
            )
            reply = rule.replies[min(step, len(rule.replies) - 1)]
            return Selection(rule, reply, captures, Reasons(tried, skipped), step + 1)
        return None

    def _walk(self, request: ChatRequest, only: str | None, view: Callable[[Rule], ChatRequest] | None) -> Selection:
        """Try every rule in order (the lock is held)."""
        reasons: list[tuple[str, str]] = []
        switched_off: list[str] = []
        for rule in self._rules:
            if self._skips(rule, only):
                if only is None and rule.scenario not in switched_off:
                    switched_off.append(rule.scenario)
                continue
            seen = request if view is None else view(rule)
            reason, captures, step = self._try(rule, seen)
            if step is None:
                reasons.append((rule.name, str(reason)))
                continue
            reply = rule.replies[min(step, len(rule.replies) - 1)]
            return Selection(rule, reply, captures, reasons_of(reasons), step + 1)
        if not reasons and switched_off:
            # "No rules loaded" would mislead: rules are loaded, but every scenario holding them is switched off.
            reasons = [(f"scenario {name!r}", "switched off") for name in switched_off]
        return Selection(None, None, {}, reasons_of(reasons))


def _is_stateful(rules: Sequence[Rule]) -> bool:
    """Whether answering may need a decision from the counters or windows (`times`, a `replies:` sequence, a
    rule's rate limit); Selector.stateful, so a shared store can skip its slow path when none does."""
    return any(rule.times is not None or len(rule.replies) > 1 or rule.rate_limit is not None for rule in rules)


def rule_summary(rule: Rule, hits: int) -> dict[str, Any]:
    """A JSON-ready description of a rule for /_fake/rules and the dashboard."""
    return {
        "name": rule.name,
        "scenario": rule.scenario,
        "source": rule.source,
        "times": rule.times,
        "hits": hits,
        "replies": [reply.summary() for reply in rule.replies],
    }
