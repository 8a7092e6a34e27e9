"""SharedState, the namespace half of FakeLLM: resets, the engines of other namespaces (X-Fake-LLM-Session), and
picking up the run-time rule changes other replicas made when the state store is shared (`--state redis://...`)."""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from fake_llm.core.journal import Journal
from fake_llm.core.limits import RateLimiter
from fake_llm.core.matching import Selector
from fake_llm.core.state import MemoryStore, RuleChanges, StateStore
from fake_llm.errors import ProviderRequestError, ScenarioError
from fake_llm.model.spec import Scenario
from fake_llm.scenarios.loader import check_unique_names, parse_rules, shadowed_rules
from fake_llm.settings import Settings

log = logging.getLogger("fake_llm")

#: Namespaces an in-process server keeps (the least recently used is forgotten; a shared store keeps them all).
MAX_NAMESPACES = 256

E = TypeVar("E", bound="SharedState")


def open_store(url: str, namespace: str, timeout: float = 2.0) -> StateStore:
    """The store `--state` names: `memory`, or `redis://` / `rediss://` / `unix://` (needs fake-llm[redis]).
    Raises StateUnavailable when Redis cannot be reached, and ValueError for a malformed URL."""
    if url == "memory":
        return MemoryStore()
    from fake_llm.core.redis_store import connect  # only Redis users need redis-py

    return connect(url, namespace, timeout)


class SharedState:
    """The namespace and shared-state methods of FakeLLM, which sets these attributes up (engine.py)."""

    settings: Settings
    store: StateStore
    journal: Journal
    selector: Selector
    limiter: RateLimiter
    base_scenarios: tuple[Scenario, ...]
    roots: list[Path]
    #: The folders run-time rules may read files from (engine.rule_roots).
    rule_roots: list[Path]
    paths: list[str | Path]
    warnings: list[str]
    load_errors: list[str]
    rules_version: str | None
    #: Engines of the other namespaces (FakeLLMs), most recently used last.
    namespaces: OrderedDict[str, Any]

    def reset(self, *, rules: bool = False) -> None:
        """Clear the journal and every rule counter and limit of this namespace; with `rules`, also drop rules
        added at run time (on every replica, when the state is shared)."""
        version = self.store.wipe(rules=rules)
        if rules:
            self.selector.replace(self.base_scenarios)
            self.selector.set_disabled(())
            self.warnings = shadowed_rules(self.base_scenarios)
            self.rules_version = version
        if not self.store.shared:  # the shared store's wipe took the journal and counters with it
            self.selector.reset()
            self.limiter.reset()
            self.journal.clear()

    def space(self: E, name: str | None) -> E:
        """The engine of namespace `name` (None: this one). Each namespace has its own counters, limits, journal
        and run-time rules, and starts from the scenario files."""
        if name is None or name == self.settings.namespace:
            return self
        if len(name) > 200 or not name.isprintable():
            raise ProviderRequestError(
                "fake-llm: the X-Fake-LLM-Session header (a namespace) must be 1 to 200 printable characters.",
                code="fake_llm_bad_session",
            )
        engine: E | None = self.namespaces.pop(name, None)
        if engine is None:
            engine = type(self)(  # type: ignore[call-arg]  # FakeLLM's constructor
                self.settings.replace(namespace=name), self.base_scenarios, self.roots, store=self.store.namespace(name)
            )
            engine.paths = self.paths
            engine.rule_roots = self.rule_roots
        self.namespaces[name] = engine
        if len(self.namespaces) > MAX_NAMESPACES:
            self.namespaces.popitem(last=False)
        return engine

    def begin(self) -> int:
        """Number a new request and, when the state is shared, pick up rule changes other replicas made (the
        version comes in the same round trip as the number)."""
        seq, version = self.store.begin(self.journal)
        if version != self.rules_version:
            self.apply_rule_changes()
        return seq

    def refresh(self) -> None:
        """Pick up other replicas' rule changes before showing or changing rules (admin endpoints)."""
        if self.store.shared:
            changes = self.store.rule_changes()
            if changes.version != self.rules_version:
                self.apply_rule_changes(changes)

    def apply_rule_changes(self, changes: RuleChanges | None = None) -> None:
        """Serve the scenario files plus the namespace's shared rule changes, replayed in order."""
        changes = changes if changes is not None else self.store.rule_changes()
        # The order RuleSets.install gives: rule sets added at run time first (in the order added), then the files
        # loaded at start, unless a `replace` dropped them.
        added: list[Scenario] = []
        keep_base = True
        for op in changes.ops:
            try:
                scenario = self._parse_op(op)
                candidate = [scenario] if op.get("replace") else [*added, scenario]
                problems = check_unique_names([*(self.base_scenarios if keep_base else ()), *candidate])
                if problems and not op.get("replace"):
                    raise ScenarioError(problems)
            except ScenarioError as exc:  # e.g. a replica serving other files: keep serving the rest
                log.error("could not apply rules another replica added (%s): %s", op.get("source"), exc)
                continue
            added = candidate
            keep_base = keep_base and not op.get("replace")
        scenarios = [*added, *(self.base_scenarios if keep_base else ())]
        self.selector.replace(scenarios)
        names = {s.name for s in scenarios}
        self.selector.set_disabled(set(changes.disabled or ()) & names)
        self.warnings = shadowed_rules(scenarios)
        self.rules_version = changes.version

    def _parse_op(self, op: dict[str, Any]) -> Scenario:
        # Under the checks the replica that took them used: run-time rules read files only inside rule_roots, and
        # those that came in a request (untrusted; the default for an op that does not say) get linear-time regexes.
        base = self.rule_roots[0] if self.rule_roots else Path.cwd()
        return parse_rules(
            op["data"],
            source=op["source"],
            base_dir=base,
            allowed_roots=self.rule_roots,
            default_name=op["name"],
            untrusted=op.get("untrusted", True),
        )

    def share_rules(self, data: Any, *, replace: bool, source: str, name: str, untrusted: bool = False) -> None:
        """Tell the other replicas about rules added here (they were checked by loading them)."""
        if self.store.shared:
            op = {
                "data": json.loads(json.dumps(data, default=str)),
                "source": source,
                "name": name,
                "replace": replace,
                "untrusted": untrusted,
            }
            self.store.publish(op=op)
            # Not the version just published: another replica may have changed rules in between, and the next
            # request must replay everything.
            self.rules_version = "stale"

    def set_disabled(self, names: Iterable[str]) -> None:
        """Switch these scenarios off (every other one on), on every replica when the state is shared."""
        names = frozenset(names)
        self.selector.set_disabled(names)
        if self.store.shared:
            self.store.publish(disabled=sorted(names))
            self.rules_version = "stale"
