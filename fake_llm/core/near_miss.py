"""Near misses: every way a rule fails a request (field by field, not only the first reason), and the rule that
came closest, for no-match messages, cassette misses and the coverage report."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fake_llm.core.matching import CHECKS, subject
from fake_llm.core.normalize import tools_hash
from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import Rule


def differences(rule: Rule, request: ChatRequest) -> list[str]:
    """Each condition of `rule` that `request` fails, one line per field, in check order."""
    normalized = subject(rule, request)
    found = [reason for check in CHECKS if (reason := check(rule.match, normalized, {})) is not None]
    if rule.fingerprint is not None and tools_hash(request) != rule.fingerprint.tools:
        found.append("fingerprint: the request's tool schemas differ from the ones this rule was recorded with")
    return found


@dataclass(frozen=True, slots=True)
class NearMiss:
    """The rule closest to a request no rule answered, and how they differ."""

    rule: str
    source: str
    differences: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "source": self.source, "differences": list(self.differences)}

    def describe(self, indent: str = "  ") -> str:
        lines = [f"closest rule {self.rule!r} ({self.source or 'added at run time'}) differs in:"]
        lines += [f"{indent}- {d}" for d in self.differences] or [f"{indent}- nothing: it is used up or switched off"]
        return "\n".join(lines)


def near_miss(rule: Rule, request: ChatRequest) -> NearMiss:
    return NearMiss(rule.name, rule.source, tuple(differences(rule, request)))


def closest(rules: Iterable[Rule], request: ChatRequest) -> NearMiss | None:
    """The rule with the fewest differing fields (the first one on a tie), or None without rules."""
    best: NearMiss | None = None
    for rule in rules:
        found = differences(rule, request)
        if best is None or len(found) < len(best.differences):
            best = NearMiss(rule.name, rule.source, tuple(found))
    return best
