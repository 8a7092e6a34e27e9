"""The strict checks the `fake_llm` fixture runs for each test, and the one failure report they make.

The checks run right after the test function (while the journal still holds its requests), so their explanation
becomes part of the test's own report: first the explanation (why no rule matched), then what the test itself raised
because of it. Whatever only happens later (a request sent by another fixture's teardown) is still caught when the
fixture tears down, as a short teardown error without the plugin's frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fake_llm.errors import JournalAssertionError

if TYPE_CHECKING:
    from fake_llm.core.journal import JournalEntry
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
    #: The cassette the test replays, if any: a miss then says why the cassette has no recording of the request.
    cassette: Path | None = None

    def problems(self) -> list[str]:
        """Problems not reported yet (each is reported once, by the first call that finds it)."""
        journal = self.server.journal
        new = [entry for entry in journal.entries if entry.seq > self.checked_seq]
        self.checked_seq = max([self.checked_seq, *(entry.seq for entry in new)])
        found: list[str] = []
        if self.options.get("fail_on_unmatched", True):
            for entry in new:
                if entry.outcome == "unmatched":
                    found.append(describe_miss(entry, self.cassette))
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
        try:
            self.server.check_expectations()
        except JournalAssertionError as exc:
            found.append(str(exc))
        if self.options.get("fail_on_unused_rules"):
            hits = engine.selector.hits()
            unused = [
                r.name for r in engine.selector.rules if r.name not in self.session_rules and not hits.get(r.name)
            ]
            if unused:
                found.append(f"rules never used by this test: {', '.join(unused)}")
        return found


def describe_miss(entry: JournalEntry, cassette: Path | None) -> str:
    """A request no rule answered: every rule's reason, then (when it adds something) the closest rule field by
    field and, against a cassette, why the cassette missed: a new request, or a stale recording (prompt edited,
    tool schema or model changed)."""
    tried = [f"    {rule}: {why}" for rule, why in entry.reasons] or ["    (no rules loaded)"]
    lines = [f"no rule matched {entry.describe()}; rules tried:", *tried]
    near = entry.closest or {}
    if cassette is not None:
        cause = near.get("cause") or "new"
        asked = near.get("last_user", "")
        lines.append(
            f"  the cassette {cassette} has no recording of this request (last user message {asked!r}): {cause}"
        )
        if near.get("changes") and near["changes"] != [cause]:
            lines.append(f"  changes against the recording: {', '.join(near['changes'])}")
    if near.get("rule") and (cassette is not None or len(entry.reasons) > 1):
        lines.append(f"  closest {'recorded ' if cassette else ''}rule {near['rule']!r} ({near['source']}) differs in:")
        lines += [f"    - {d}" for d in near["differences"]] or ["    - nothing: it is used up or switched off"]
    return "\n".join(lines)


def failure_text(problems: list[str]) -> str:
    return "fake-llm: " + "\n".join(problems)
