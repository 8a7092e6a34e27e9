"""RuleSets, the rules half of FakeLLM: scenarios added, replaced and reloaded at run time, and what the admin API and
/v1/models show of them (rules with hit counts, model names)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from fake_llm.core.ids import Clock
from fake_llm.core.journal import Journal, JournalEntry
from fake_llm.core.matching import Selector, rule_summary
from fake_llm.core.state import StateStore
from fake_llm.errors import ScenarioError
from fake_llm.model.spec import Scenario
from fake_llm.scenarios.loader import check_unique_names, load_scenarios, parse_rules, shadowed_rules

log = logging.getLogger("fake_llm")

DEFAULT_MODEL = "gpt-4o-mini"


class RuleSets:
    """The rule-set methods of FakeLLM, which sets these attributes up (engine.py)."""

    journal: Journal
    clock: Clock
    store: StateStore
    selector: Selector
    base_scenarios: tuple[Scenario, ...]
    roots: list[Path]
    rule_roots: list[Path]
    paths: list[str | Path]
    load_errors: list[str]
    warnings: list[str]
    _added: int

    def reload(self, *, reason: str = "reload") -> bool:
        """Load the scenario files again. On success they replace the loaded ones (rules added at run time are
        kept); on a problem the last good rules keep serving, and the problem is logged, journaled and kept in
        `load_errors` (shown by /_fake/health and the dashboard) until a reload succeeds."""
        added = [s for s in self.selector.scenarios if s not in self.base_scenarios]
        try:
            scenarios = load_scenarios(self.paths)
            self._replace_all([*added, *scenarios])
        except ScenarioError as exc:
            self.load_errors = [str(problem) for problem in exc.problems]
            log.error("scenario reload failed (%s); still serving the last good rules:\n%s", reason, exc)
            self._journal_reload(reason, "reload_error", "\n".join(self.load_errors))
            return False
        self.base_scenarios = tuple(scenarios)
        self.load_errors = []
        log.info("scenarios reloaded (%s): %d rules", reason, len(self.selector.rules))
        self._journal_reload(reason, "reloaded", f"{len(self.selector.rules)} rules")
        return True

    def _journal_reload(self, reason: str, outcome: str, detail: str) -> None:
        seq = self.journal.next_seq()
        self.journal.record(
            JournalEntry(
                seq=seq,
                time=self.clock.now(),
                method="RELOAD",
                path=reason,
                headers={},
                body=None,
                outcome=outcome,
                reply=detail,
                status=0,
            )
        )

    def load_rules(
        self, data: Any, *, replace: bool = False, source: str = "<rules>", share: bool = True, untrusted: bool = False
    ) -> Scenario:
        """Add rules at run time (YAML text, a list of rule mappings or a scenario mapping); with `replace`, they
        replace everything loaded. Files they name must lie inside the scenario folders the server was started
        with or a `rules_folders` one (a scenario file alone grants none). `untrusted` (rules from a request):
        regexes must run in linear time. With a shared state store they reach every replica of the namespace
        (which parses them under the same checks), unless `share` is false (rules every replica loads itself,
        such as FakeLLMServer's `rules=`)."""
        base = self.rule_roots[0] if self.rule_roots else Path.cwd()
        self.refresh()  # on top of what other replicas added
        self._added += 1
        name = f"rules-{self._added}" if not self.store.shared else f"rules-{len(self.store.rule_changes().ops) + 1}"
        scenario = parse_rules(
            data,
            source=source,
            base_dir=base,
            allowed_roots=self.rule_roots,
            default_name=name,
            untrusted=untrusted,
        )
        self.install([scenario], replace=replace)
        if share:
            self.share_rules(data, replace=replace, source=source, name=name, untrusted=untrusted)
        return scenario

    def refresh(self) -> None:
        """SharedState's (other replicas' rule changes)."""

    def share_rules(self, data: Any, *, replace: bool, source: str, name: str, untrusted: bool = False) -> None:
        """SharedState's (tell the other replicas)."""

    def install(self, scenarios: Sequence[Scenario], *, replace: bool = False) -> None:
        """Serve `scenarios` instead of the current ones (`replace`), or added to them: after rule sets added
        earlier, but before the files loaded at start, so that rules a test, a marker or a POST adds win over a
        start-up file's catch-all (a rule's `priority:` still comes first). Names must stay unique."""
        if replace:
            combined = list(scenarios)
        else:
            current = self.selector.scenarios
            added = [s for s in current if s not in self.base_scenarios]
            combined = [*added, *scenarios, *(s for s in current if s in self.base_scenarios)]
        self._replace_all(combined)

    def _replace_all(self, combined: Sequence[Scenario]) -> None:
        # Duplicate names are reported on the newcomer, so the start-up files are checked first.
        problems = check_unique_names(sorted(combined, key=lambda s: s not in self.base_scenarios))
        if problems:
            raise ScenarioError(problems)
        self.selector.replace(combined)
        self.warnings = shadowed_rules(combined)

    def scenarios_summary(self) -> list[dict[str, Any]]:
        """Each loaded scenario: name, file, whether it is switched on, and its rules with hit counts."""
        hits = self.selector.hits()
        return [
            {
                "name": scenario.name,
                "path": scenario.path,
                "enabled": scenario.name not in self.selector.disabled,
                "rules": [rule_summary(rule, hits.get(rule.name, 0)) for rule in scenario.rules],
            }
            for scenario in self.selector.scenarios
        ]

    def rules_summary(self) -> list[dict[str, Any]]:
        hits = self.selector.hits()
        return [rule_summary(rule, hits.get(rule.name, 0)) for rule in self.selector.rules]

    def models(self) -> list[str]:
        """Model names the scenarios mention literally (globs are not listable), defaults first."""
        names: list[str] = []
        for scenario in self.selector.scenarios:
            if scenario.default_model:
                names.append(scenario.default_model)
        for rule in self.selector.rules:
            names.extend(p for p in rule.match.model or () if not any(c in p for c in "*?["))
            names.extend(r.model for r in rule.replies if r.model)
        names.append(DEFAULT_MODEL)
        return list(dict.fromkeys(names))

    def knows_model(self, model: str) -> bool:
        if model in self.models():
            return True
        return any(fnmatchcase(model, p) for rule in self.selector.rules for p in rule.match.model or ())
