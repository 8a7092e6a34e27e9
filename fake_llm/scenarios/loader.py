"""Loading scenarios: the public functions that read, build and check scenario files into the typed spec of
fake_llm.model.spec; the YAML reading lives in yaml_lines.py and the typed building in builder.py."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from fake_llm.errors import Problem, ScenarioError
from fake_llm.model.spec import Match, Reply, Rule, Scenario, rules_in_order
from fake_llm.scenarios.builder import build_scenario
from fake_llm.scenarios.safe_regex import catastrophic_parts
from fake_llm.scenarios.yaml_lines import load_yaml
from fake_llm.settings import bundled_pack, bundled_pack_names

# --------------------------------------------------------------------------------------------- loading


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus every `*.yaml`/`*.yml` of a named folder in name order. A path that does not
    exist and ends in the name of a bundled pack (`generic`, or `tests/generic` from a marker) loads that pack."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()))
        elif path.is_file():
            files.append(path)
        elif (pack := bundled_pack(path.name)) is not None:
            files.append(pack)
        else:
            packs = ", ".join(bundled_pack_names())
            raise ScenarioError(
                [Problem(str(path), 0, "", f"no such scenario file or folder (bundled packs: {packs})")]
            )
    return files


def load_scenario(path: str | Path, *, allowed_roots: Sequence[Path] | None = None) -> Scenario:
    """Load and validate one scenario file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([Problem(str(path), 0, "", f"cannot read: {exc}")]) from None
    return parse_scenario(text, source=str(path), base_dir=path.parent, allowed_roots=allowed_roots)


def load_scenarios(paths: Iterable[str | Path]) -> list[Scenario]:
    """Load every scenario file under `paths`; all problems of all files are reported together."""
    scenarios: list[Scenario] = []
    problems: list[Problem] = []
    for path in expand_paths(paths):
        try:
            scenarios.append(load_scenario(path))
        except ScenarioError as exc:
            problems.extend(exc.problems)
    problems.extend(check_unique_names(scenarios))
    if problems:
        raise ScenarioError(problems)
    return scenarios


def parse_scenario(
    text: str,
    *,
    source: str = "<inline>",
    base_dir: Path | None = None,
    allowed_roots: Sequence[Path] | None = None,
    default_name: str | None = None,
) -> Scenario:
    """Build a Scenario from YAML text (named by its `name:`, else `default_name`, else the file's stem).
    `content_file` paths resolve against `base_dir`; with `allowed_roots`
    (rules sent over HTTP) they must stay inside one of those folders."""
    data, lines = load_yaml(text, source)
    if isinstance(data, list):
        # A scenario file is a mapping; a bare list is the commonest first attempt, so say how to fix it.
        message = "a scenario file is a mapping, not a list: put the rules under `rules:` (indent them below it)"
        raise ScenarioError([Problem(source, lines.get((), 1), "", message)])
    return build_scenario(data, lines, source, base_dir, allowed_roots, default_name)


def parse_rules(
    data: Any,
    *,
    source: str = "<rules>",
    base_dir: Path | None = None,
    allowed_roots: Sequence[Path] | None = None,
    default_name: str | None = None,
    untrusted: bool = False,
) -> Scenario:
    """A Scenario from YAML/JSON text holding a rule list or a scenario mapping, or the same already parsed.
    `untrusted` (rules from a request): regexes must be linear-time ones (RE2)."""
    if not isinstance(data, str):
        data = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    parsed, lines = load_yaml(data, source)
    if isinstance(parsed, list):
        # A bare list of rules: the same lines, under `rules`, so errors point at what the user wrote.
        parsed, lines = {"rules": parsed}, {("rules", *path): line for path, line in lines.items()}
    return build_scenario(parsed, lines, source, base_dir, allowed_roots, default_name, untrusted)


def parse_reply(value: Any, *, rule: str) -> Reply:
    """The reply a Python reply function returned (a reply mapping, or text for `content`), validated like a YAML
    reply; a ScenarioError names the rule and the key."""
    source = f"reply function of rule {rule!r}"
    if isinstance(value, str):
        value = {"content": value}
    if not isinstance(value, Mapping):
        message = f"returned {type(value).__name__}; expected a reply mapping (content, tool_calls, error...) or text"
        raise ScenarioError([Problem(source, 0, "", message)])
    try:
        text = yaml.safe_dump({"rules": [{"name": rule, "reply": dict(value)}]}, sort_keys=False, allow_unicode=True)
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(source, 0, "reply", f"is not plain data: {exc}")]) from None
    try:
        return parse_rules(text, source=source).rules[0].replies[0]
    except ScenarioError as exc:
        # Line numbers of YAML the user never wrote mean nothing: name the key only.
        problems = [Problem(source, 0, p.path.replace("rules[0].", ""), p.message) for p in exc.problems]
        raise ScenarioError(problems) from None


def check_unique_names(scenarios: Sequence[Scenario]) -> list[Problem]:
    """Problems for rule names used more than once across all scenarios."""
    seen: dict[str, Rule] = {}
    problems: list[Problem] = []
    for scenario in scenarios:
        for index, rule in enumerate(scenario.rules):
            if rule.name in seen:
                file, _, line = rule.source.rpartition(":")
                first = seen[rule.name].source
                problems.append(
                    Problem(
                        file,
                        int(line or 0),
                        f"rules[{index}].name",
                        f"duplicate rule name {rule.name!r} (first at {first})",
                    )
                )
            else:
                seen[rule.name] = rule
    return problems


def shadowing(scenarios: Sequence[Scenario]) -> list[tuple[Rule, Rule]]:
    """(rule, the earlier rule that shadows it) for each rule that can never match: an earlier rule without `times`
    matches everything (a catch-all), or exactly what it matches."""
    found: list[tuple[Rule, Rule]] = []
    # One pass with a dict (10k rules took minutes comparing every pair): the first catch-all without `times`, and
    # per match the first rule without `times` holding it; a rule is shadowed by whichever of the two comes first.
    catch_all: tuple[int, Rule] | None = None
    first_with: dict[Match, tuple[int, Rule]] = {}
    for position, rule in enumerate(rules_in_order(scenarios)):
        shadows = [found_at for found_at in (catch_all, first_with.get(rule.match)) if found_at is not None]
        if shadows:
            found.append((rule, min(shadows, key=lambda item: item[0])[1]))
        if rule.times is None:
            first_with.setdefault(rule.match, (position, rule))
            if catch_all is None and rule.match.is_catch_all:
                catch_all = (position, rule)
    return found


def shadowed_rules(scenarios: Sequence[Scenario]) -> list[str]:
    """Warnings for rules that can never match because an earlier rule (a catch-all, or one with the same match)
    precedes them."""
    return [
        f"{rule.source}: rule {rule.name!r} can never match: the "
        f"{'catch-all rule' if before.match.is_catch_all else 'rule with the same match'} {before.name!r} "
        f"({before.source}) comes first" + (" (it has a higher priority)" if before.priority > rule.priority else "")
        for rule, before in shadowing(scenarios)
    ] + [warning for scenario in scenarios for rule in scenario.rules for warning in _risky_regexes(rule)]


def _risky_regexes(rule: Rule) -> list[str]:
    """Warnings for rule regexes Python's `re` may take exponential time on (`(a+)+$` on a long message)."""
    match = rule.match
    given = [match.user, match.system, match.any_message, match.tool_result, *(v for _, v in match.headers)]
    lookups = [lookup for lookup in given if lookup is not None]
    return [
        f"{rule.source}: rule {rule.name!r} regex {lookup.value!r} can backtrack catastrophically "
        f"({catastrophic_parts(lookup.value)[0]}); one long message could stall the server"
        for lookup in lookups
        if isinstance(lookup.pattern, re.Pattern) and catastrophic_parts(lookup.value)
    ]
