"""The coverage and near-miss report: rules never hit, `replies:` steps never reached, and each request no rule
answered with the closest rule and how it differs. Accumulates over resets (a pytest session), merges across
processes (xdist workers) through its JSON form, and prints as text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fake_llm.core.journal import JournalEntry
from fake_llm.model.spec import Rule


class Coverage:
    """What a run used of its rules, keyed by where each rule was written (inline rules also by their test)."""

    def __init__(self) -> None:
        self.rules: dict[str, dict[str, Any]] = {}
        self.unmatched: list[dict[str, Any]] = []

    def absorb(
        self,
        rules: Sequence[Rule],
        hits: Mapping[str, int],
        reached: Mapping[str, int],
        unmatched: Sequence[JournalEntry],
        context: str = "",
    ) -> None:
        """Add one stretch of use (a test, or the server since its last reset); `context` names it."""
        for rule in rules:
            inline = not rule.source or rule.source.startswith("<")
            self.add_rule(
                {
                    "key": f"{context if inline else ''}|{rule.source}|{rule.name}",
                    "name": rule.name,
                    "scenario": rule.scenario,
                    "source": rule.source,
                    "test": context if inline else None,
                    "hits": hits.get(rule.name, 0),
                    "steps": len(rule.replies),
                    "reached": reached.get(rule.name, 0),
                }
            )
        for entry in unmatched:
            self.unmatched.append(
                {
                    "test": context or None,
                    "request": entry.describe(),
                    "model": entry.model,
                    "last_user": (entry.closest or {}).get("last_user"),
                    "closest": {k: v for k, v in (entry.closest or {}).items() if k != "last_user"} or None,
                }
            )

    def add_rule(self, rule: Mapping[str, Any]) -> None:
        known = self.rules.get(rule["key"])
        if known is None:
            self.rules[rule["key"]] = dict(rule)
        else:
            known["hits"] += rule["hits"]
            known["reached"] = max(known["reached"], rule["reached"])

    def merge(self, data: Mapping[str, Any]) -> None:
        """Add another Coverage's `to_dict()` (an xdist worker's)."""
        for rule in data["rules"]:
            self.add_rule(rule)
        self.unmatched.extend(data["unmatched"])

    def to_dict(self) -> dict[str, Any]:
        rules = list(self.rules.values())
        return {
            "rules": rules,
            "never_hit": [r for r in rules if not r["hits"]],
            "steps_never_reached": [r for r in rules if r["hits"] and r["reached"] < r["steps"]],
            "unmatched": self.unmatched,
        }


def _where(rule: Mapping[str, Any]) -> str:
    return f"{rule['name']} ({rule['source']}" + (f", in {rule['test']}" if rule.get("test") else "") + ")"


def format_report(report: Mapping[str, Any]) -> str:
    """The report as text, for the terminal."""
    rules, never, steps, unmatched = (report[k] for k in ("rules", "never_hit", "steps_never_reached", "unmatched"))
    lines = [
        f"fake-llm report: {len(rules)} rules, {len(never)} never hit, {len(steps)} with replies never reached, "
        f"{len(unmatched)} unmatched requests"
    ]
    if never:
        lines.append("Rules never hit:")
        lines += [f"  {_where(rule)}" for rule in never]
    if steps:
        lines.append("Sequence steps never reached:")
        lines += [f"  {_where(rule)}: reached reply {rule['reached']} of {rule['steps']}" for rule in steps]
    if unmatched:
        lines.append("Unmatched requests:")
        for miss in unmatched:
            asked = f" last user {miss['last_user']!r}" if miss.get("last_user") is not None else ""
            lines.append(f"  {miss['test'] + ': ' if miss.get('test') else ''}{miss['request']}{asked}")
            near = miss.get("closest")
            if near is None:
                lines.append("    no rules were loaded")
                continue
            if near.get("cause"):
                lines.append(f"    against the recorded rules: {near['cause']}")
            if not near.get("rule"):
                continue
            lines.append(f"    closest rule {near['rule']!r} ({near['source'] or 'added at run time'}) differs in:")
            lines += [f"      - {d}" for d in near["differences"]] or ["      - nothing: it is used up or switched off"]
    return "\n".join(lines)
