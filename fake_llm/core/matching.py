"""The Selector: the first matching rule, by priority and then the order rule sets were loaded or added, using the
per-key checks of core/match_checks.py (re-exported here) and the rule index of core/rule_index.py."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from fake_llm.core.match_checks import CHECKS as CHECKS
from fake_llm.core.match_checks import Check as Check
from fake_llm.core.match_checks import _clip
from fake_llm.core.match_checks import case_hint as case_hint
from fake_llm.core.match_checks import explain as explain
from fake_llm.core.match_checks import lookup_text as lookup_text
from fake_llm.core.match_checks import rule_reason as rule_reason
from fake_llm.core.match_checks import subject as subject
from fake_llm.core.normalize import normalize_request
from fake_llm.core.rule_index import Reasons, RuleIndex, reasons_of, skipped_reasons
from fake_llm.core.state import Counters, MemoryCounters
from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import Reply, Rule, Scenario, rules_in_order


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
    #: How many requests the rule has answered, this one included (chaos draws per use).
    use: int = 0

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
        #: Rules some `after:` names: their first use changes what later requests get.
        self._awaited = frozenset(rule.after for rule in self._rules if rule.after is not None)
        #: Bumped by every change that can change what a request gets (rules, switches, counters of rules with
        #: `times` or `replies`, a reset): answers remembered under another version are stale.
        self.version = 0
        self.stateful = _is_stateful(self._rules)
        #: Names of scenarios switched off (from the dashboard or POST /_fake/scenarios/...).
        self._disabled: frozenset[str] = frozenset()
        #: Where `times` and `replies:` positions are counted: this process, or a store replicas share.
        self._counters: Counters = counters if counters is not None else MemoryCounters()
        #: The furthest `replies:` step each rule reached here (1-based), for the coverage report (per process).
        self._reached: dict[str, int] = {}

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

    def enabled_rules(self, only: str | None = None) -> list[Rule]:
        """The rules a request can reach, in the order they are tried: those of the enabled scenarios, or of
        scenario `only`."""
        return [
            r for r in self._rules if (r.scenario == only if only is not None else r.scenario not in self._disabled)
        ]

    def scenario_names(self) -> str:
        return ", ".join(s.name for s in self._scenarios) or "none"

    def replace(self, scenarios: Sequence[Scenario]) -> None:
        """Serve `scenarios` from now on; counters of rules that keep their name are kept."""
        with self._lock:
            self._scenarios = tuple(scenarios)
            self._rules = tuple(rules_in_order(self._scenarios))
            self._index = RuleIndex(self._rules)
            self._by_name = {rule.name: rule for rule in self._rules}
            self._awaited = frozenset(rule.after for rule in self._rules if rule.after is not None)
            self.version += 1
            self.stateful = _is_stateful(self._rules)

    def reset(self) -> None:
        """Forget every use count and sequence position."""
        with self._lock:
            self._counters.reset()
            self._reached = {}
            self.version += 1

    def rule_named(self, name: str | None) -> Rule | None:
        return self._by_name.get(name or "")

    def count_use(self, rule: Rule) -> None:
        """Count one more answer by a rule without `times` or `replies` (what select() does when it picks one)."""
        with self._lock:
            self._counters.claim(rule.name, None, None)

    def hits(self) -> dict[str, int]:
        return self._counters.hits()

    def steps_reached(self) -> dict[str, int]:
        """The furthest `replies:` step (1-based) each rule that answered reached."""
        with self._lock:
            return dict(self._reached)

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

    def _try(
        self, rule: Rule, seen: ChatRequest, normalized: dict[tuple[Any, ...], ChatRequest]
    ) -> tuple[str | None, dict[str, str], int | None, int]:
        """Check `rule` against `seen` (normalised by its `normalize:` steps; `normalized` keeps one request per list
        of steps) and, if it holds, claim one use: (reason it does not, captures, 0-based step, the use this is).
        A shared store decides `times` at the claim, atomically across replicas: another may have used the last one
        since this rule was checked."""
        counters = self._counters
        used = counters.known_uses(rule.name)
        if rule.times is not None and used is not None and used >= rule.times:
            return f"exhausted {used}/{rule.times}", {}, None, 0
        if rule.after is not None and not (counters.known_uses(rule.after) or counters.hits().get(rule.after)):
            return f"ordered: waits until {rule.after!r} has answered", {}, None, 0
        if rule.normalize:
            if rule.normalize not in normalized:
                normalized[rule.normalize] = normalize_request(seen, rule.normalize)
            seen = normalized[rule.normalize]
        reason, captures = rule_reason(rule, seen)
        if reason is not None:
            return reason, captures, None, 0
        conversation = seen.conversation_key if len(rule.replies) > 1 else None
        step = counters.claim(rule.name, rule.times, conversation)
        if step is None:
            return f"exhausted {rule.times}/{rule.times}", captures, None, 0
        if rule.times is not None or len(rule.replies) > 1 or rule.name in self._awaited:
            self.version += 1  # what later requests get changes with this use (an `after:` rule may now match)
        self._reached[rule.name] = max(self._reached.get(rule.name, 0), step + 1)
        return None, captures, step, (used or 0) + 1

    def _select_indexed(self, request: ChatRequest, only: str | None) -> Selection | None:
        """The first matching rule among the index's candidates (None if none matches); the rules the index skipped
        get their reasons only when read."""
        rules = self._rules
        tried: list[tuple[int, str, str]] = []
        normalized: dict[tuple[Any, ...], ChatRequest] = {}
        positions = self._index.candidates(request)
        for n, position in enumerate(positions):
            rule = rules[position]
            if self._skips(rule, only):
                continue
            reason, captures, step, use = self._try(rule, request, normalized)
            if step is None:
                tried.append((position, rule.name, str(reason)))
                continue
            skipped = partial(
                skipped_reasons, explain, rules, position, frozenset(positions[: n + 1]), only, self._disabled, request
            )
            reply = rule.replies[min(step, len(rule.replies) - 1)]
            return Selection(rule, reply, captures, Reasons(tried, skipped), step + 1, use)
        return None

    def _walk(self, request: ChatRequest, only: str | None, view: Callable[[Rule], ChatRequest] | None) -> Selection:
        """Try every rule in order (the lock is held)."""
        reasons: list[tuple[str, str]] = []
        # Rules of one file share their normalisation: normalise the request once per distinct list of steps.
        normalized: dict[tuple[Any, ...], ChatRequest] = {}
        switched_off: list[str] = []
        for rule in self._rules:
            if self._skips(rule, only):
                if only is None and rule.scenario not in switched_off:
                    switched_off.append(rule.scenario)
                continue
            seen = request
            if view is not None:  # the view is the rule's own request: normalised for it alone
                seen, normalized = view(rule), {}
            reason, captures, step, use = self._try(rule, seen, normalized)
            if step is None:
                reasons.append((rule.name, str(reason)))
                continue
            reply = rule.replies[min(step, len(rule.replies) - 1)]
            return Selection(rule, reply, captures, reasons_of(reasons), step + 1, use)
        if not reasons and switched_off:
            # "No rules loaded" would mislead: rules are loaded, but every scenario holding them is switched off.
            reasons = [(f"scenario {name!r}", "switched off") for name in switched_off]
        return Selection(None, None, {}, reasons_of(reasons))


def _is_stateful(rules: Sequence[Rule]) -> bool:
    """Whether answering may need a decision from the counters or windows (`times`, a `replies:` sequence, a
    rule's rate limit, an `after:` order, chaos drawn per use); Selector.stateful, so a shared store can skip its
    slow path when none does."""
    return any(
        rule.times is not None
        or len(rule.replies) > 1
        or rule.rate_limit is not None
        or rule.after is not None
        or rule.chaos is not None
        for rule in rules
    )


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
