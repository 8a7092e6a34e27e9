"""The strict checks the `fake_llm` fixture runs for each test, and the one failure report they make.

The checks run right after the test function (while the journal still holds its requests), so their explanation
becomes part of the test's own report: first the explanation (why no rule matched), then what the test itself raised
because of it. Whatever only happens later (a request sent by another fixture's teardown) is still caught when the
fixture tears down, as a short teardown error without the plugin's frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fake_llm.testing.server import FakeLLMServer


@dataclass
class StrictChecks:
    """What one test must satisfy: no fake-llm errors, no contradicting replies, no unmatched requests (unless
    `fail_on_unmatched` is off), no rule this test added that can never match, and (when asked) no unused rule."""

    server: FakeLLMServer
    options: dict[str, Any]
    #: Names of the rules the session loaded before this test added its own.
    session_rules: set[str]
    #: The last journal sequence number already checked, so a problem is reported once.
    checked_seq: int = 0
    rules_checked: bool = False
    reported: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Problems not reported yet (each is reported once, by the first call that finds it)."""
        journal = self.server.journal
        new = [entry for entry in journal.entries if entry.seq > self.checked_seq]
        self.checked_seq = max([self.checked_seq, *(entry.seq for entry in new)])
        found: list[str] = []
        if self.options.get("fail_on_unmatched", True):
            for entry in new:
                if entry.outcome == "unmatched":
                    found.append(self._no_match(entry.describe(), entry.reasons))
        for entry in new:
            if entry.outcome == "error":
                found.append(f"fake-llm failed while answering {entry.describe()}:\n{entry.error}")
            elif entry.outcome == "mismatch":
                found.append(f"the reply to {entry.describe()} contradicts the request: {entry.reply}")
        if not self.rules_checked:
            self.rules_checked = True
            found.extend(self._rule_problems())
        self.reported.extend(found)
        return found

    @staticmethod
    def _no_match(request: str, reasons: Sequence[tuple[str, str]]) -> str:
        tried = "\n".join(f"    {rule}: {why}" for rule, why in reasons) or "    (no rules loaded)"
        return f"no rule matched {request}; rules tried:\n{tried}"

    def _rule_problems(self) -> list[str]:
        from fake_llm.scenarios.loader import shadowing

        engine = self.server.engine
        found = []
        for rule, before in shadowing(engine.selector.scenarios):
            if rule.name in self.session_rules:
                continue  # the session's own files: `fake-llm check` and the start-up warnings cover them
            kind = "catch-all rule" if before.match.is_catch_all else "rule with the same match"
            found.append(
                f"rule {rule.name!r} ({rule.source}) added by this test can never match: the {kind} "
                f"{before.name!r} ({before.source}) comes first; remove one, or give {rule.name!r} a higher "
                f"`priority:` (it has {rule.priority}, {before.name!r} has {before.priority})"
            )
        if self.options.get("fail_on_unused_rules"):
            hits = engine.selector.hits()
            unused = [
                r.name for r in engine.selector.rules if r.name not in self.session_rules and not hits.get(r.name)
            ]
            if unused:
                found.append(f"rules never used by this test: {', '.join(unused)}")
        return found


def failure_text(problems: list[str]) -> str:
    return "fake-llm: " + "\n".join(problems)
