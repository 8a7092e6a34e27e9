"""Scenario, Rule and Reply types, and the loader that builds them from YAML with file/line/key errors."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from fake_llm.errors import Problem, ScenarioError
from fake_llm.scenario_schema import REPLY_BODY_KEYS, SCENARIO_SCHEMA

LOOKUP_KINDS = ("contains", "equals", "startswith", "regex")


@dataclass(frozen=True, slots=True)
class TextLookup:
    """A check on a piece of text: substring, equality, prefix or regex, optionally ignoring case."""

    kind: str
    value: str
    ignore_case: bool = False
    pattern: re.Pattern[str] | None = None

    def describe(self) -> str:
        """The lookup as a verb phrase: `contain 'x'`, `match regex 'a.*'`."""
        verb = {"contains": "contain", "equals": "equal", "startswith": "start with", "regex": "match regex"}[self.kind]
        return f"{verb} {self.value!r}" + (" (ignoring case)" if self.ignore_case else "")


@dataclass(frozen=True, slots=True)
class Match:
    """The conditions of a rule; every one given must hold."""

    model: tuple[str, ...] | None = None
    user: TextLookup | None = None
    system: TextLookup | None = None
    any_message: TextLookup | None = None
    stream: bool | None = None
    headers: tuple[tuple[str, TextLookup], ...] = ()

    @property
    def is_catch_all(self) -> bool:
        return self == Match()


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """An error reply: HTTP status plus the fields of the provider's error object."""

    status: int
    message: str | None = None
    type: str | None = None
    code: str | int | None = None
    param: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """How a streamed reply is cut into chunks."""

    chunk_tokens: int = 1


@dataclass(frozen=True, slots=True)
class Choice:
    """One choice of a multi-choice reply."""

    content: str
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """What a rule answers: content (one or several choices) or an error, plus overrides."""

    content: str | None = None
    error: ErrorSpec | None = None
    choices: tuple[Choice, ...] = ()
    finish_reason: str | None = None
    usage: Mapping[str, Any] = field(default_factory=dict)
    model: str | None = None
    stream: StreamSpec = field(default_factory=StreamSpec)

    def summary(self) -> str:
        """A one-line description for the journal."""
        if self.error is not None:
            return f"error {self.error.status}" + (f": {self.error.message}" if self.error.message else "")
        if self.choices:
            return f"{len(self.choices)} choices"
        text = self.content or ""
        return "content " + repr(text if len(text) <= 60 else text[:57] + "...")


@dataclass(frozen=True, slots=True)
class Rule:
    """A match plus one reply or a sequence of replies; `source` is `file:line` for messages."""

    name: str
    match: Match
    replies: tuple[Reply, ...]
    times: int | None = None
    scenario: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class Scenario:
    """One loaded scenario file."""

    name: str
    rules: tuple[Rule, ...]
    path: str = "<inline>"
    default_model: str | None = None


# --------------------------------------------------------------------------------------------- loading


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus every `*.yaml`/`*.yml` of a named folder in name order."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise ScenarioError([Problem(str(path), 0, "", "no such scenario file or folder")])
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
    """Build a Scenario from YAML text (named by its `name:`, else `default_name`, else the file's stem). `content_file` paths resolve against `base_dir`; with `allowed_roots`
    (rules sent over HTTP) they must stay inside one of those folders."""
    data, lines = _load_yaml(text, source)
    if data is None:
        data = {}
    located = _Located(source, lines)
    problems = [
        located.problem(_error_path(error), _schema_message(error))
        for error in jsonschema.Draft202012Validator(SCENARIO_SCHEMA).iter_errors(data)
    ]
    if problems:
        raise ScenarioError(sorted(_dedupe(problems), key=lambda p: p.line))
    builder = _Builder(located, base_dir or Path.cwd(), allowed_roots)
    scenario = builder.scenario(data, default_name or Path(source).stem.strip("<>"))
    if builder.problems:
        raise ScenarioError(builder.problems)
    return scenario


def parse_rules(
    data: Any,
    *,
    source: str = "<rules>",
    base_dir: Path | None = None,
    allowed_roots: Sequence[Path] | None = None,
    default_name: str | None = None,
) -> Scenario:
    """A Scenario from YAML/JSON text holding a rule list or a scenario mapping, or the same already parsed."""
    options: dict[str, Any] = {
        "source": source, "base_dir": base_dir, "allowed_roots": allowed_roots, "default_name": default_name
    }
    if isinstance(data, str):
        parsed, _ = _load_yaml(data, source)
        if not isinstance(parsed, list):
            return parse_scenario(data, **options)
        data = parsed
    if isinstance(data, list):
        data = {"rules": data}
    return parse_scenario(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), **options)


def check_unique_names(scenarios: Sequence[Scenario]) -> list[Problem]:
    """Problems for rule names used more than once across all scenarios."""
    seen: dict[str, Rule] = {}
    problems: list[Problem] = []
    for scenario in scenarios:
        for rule in scenario.rules:
            if rule.name in seen:
                file, _, line = rule.source.rpartition(":")
                problems.append(
                    Problem(file, int(line or 0), "name", f"duplicate rule name {rule.name!r} (first at {seen[rule.name].source})")
                )
            else:
                seen[rule.name] = rule
    return problems


def shadowed_rules(scenarios: Sequence[Scenario]) -> list[str]:
    """Warnings for rules that can never match because an earlier unlimited catch-all precedes them."""
    warnings: list[str] = []
    catch_all: Rule | None = None
    for scenario in scenarios:
        for rule in scenario.rules:
            if catch_all is not None:
                warnings.append(
                    f"{rule.source}: rule {rule.name!r} can never match: the catch-all rule "
                    f"{catch_all.name!r} ({catch_all.source}) comes first"
                )
            elif rule.match.is_catch_all and rule.times is None:
                catch_all = rule
    return warnings


# --------------------------------------------------------------------------------------------- internals


class _LineLoader(yaml.SafeLoader):
    """SafeLoader (no arbitrary tags) that keeps nodes so we can map every key path to its line."""


def _load_yaml(text: str, source: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    loader = _LineLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[tuple[Any, ...], int] = {}
        problems: list[Problem] = []
        if node is not None:
            _walk(node, (), lines, problems, source)
        if problems:
            raise ScenarioError(problems)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 0
        reason = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError([Problem(source, line, "", f"invalid YAML: {reason}")]) from None
    finally:
        loader.dispose()
    return data, lines


def _walk(node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int], problems: list[Problem], source: str) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node)
            if key in seen:
                problems.append(Problem(source, key_node.start_mark.line + 1, _format_path(path), f"duplicate key {key!r}"))
            seen.add(key)
            _walk(value_node, (*path, key), lines, problems, source)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines, problems, source)


def _format_path(path: Sequence[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Located:
    def __init__(self, source: str, lines: dict[tuple[Any, ...], int]) -> None:
        self.source = source
        self.lines = lines

    def line(self, path: Sequence[Any]) -> int:
        key = tuple(path)
        while key and key not in self.lines:
            key = key[:-1]
        return self.lines.get(key, 0)

    def problem(self, path: Sequence[Any], message: str) -> Problem:
        return Problem(self.source, self.line(path), _format_path(path), message)


_TYPE_NAMES = {"string": "a string", "object": "a mapping", "array": "a list", "integer": "an integer",
               "boolean": "true or false", "number": "a number", "null": "null"}


def _describe_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _schema_message(error: jsonschema.ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        if len(extra) == 1:
            return f"unknown key; expected one of {', '.join(allowed)}"
        return f"unknown keys {', '.join(map(repr, extra))}; expected one of {', '.join(allowed)}"
    if error.validator == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        names = " or ".join(_TYPE_NAMES.get(w, w) for w in wanted)
        return f"expected {names}, got {_describe_value(error.instance)}"
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return f"missing required key {', '.join(map(repr, missing))}"
    if error.validator == "enum":
        return f"expected one of {', '.join(map(str, error.validator_value))}, got {_describe_value(error.instance)}"
    if error.validator == "anyOf":
        # `match:` is a mapping or null: report the mapping branch's own errors, which say what is wrong.
        for sub in sorted(error.context or [], key=lambda e: len(list(e.relative_path)), reverse=True):
            if sub.validator != "type":
                return _schema_message(sub)
        return f"expected a mapping, got {_describe_value(error.instance)}"
    return error.message


def _error_path(error: jsonschema.ValidationError) -> list[Any]:
    """Where an error points: an unknown key points at the key itself, so the line is the typo's."""
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        extra = sorted(k for k in error.instance if k not in allowed)
        if len(extra) == 1:
            path.append(extra[0])
    return path


def _dedupe(problems: list[Problem]) -> list[Problem]:
    out: list[Problem] = []
    for p in problems:
        if p not in out:
            out.append(p)
    return out


class _Builder:
    """Turns schema-valid data into typed values, checking what a JSON Schema cannot say."""

    def __init__(self, located: _Located, base_dir: Path, allowed_roots: Sequence[Path] | None) -> None:
        self.located = located
        self.base_dir = base_dir
        self.allowed_roots = [root.resolve() for root in allowed_roots] if allowed_roots is not None else None
        self.problems: list[Problem] = []

    def fail(self, path: Sequence[Any], message: str) -> None:
        self.problems.append(self.located.problem(path, message))

    def scenario(self, data: Mapping[str, Any], default_name: str) -> Scenario:
        source = self.located.source
        name = data.get("name") or default_name
        rules = tuple(self.rule(raw, ("rules", i), name) for i, raw in enumerate(data.get("rules") or []))
        defaults = data.get("defaults") or {}
        return Scenario(name=name, rules=rules, path=source, default_model=defaults.get("model"))

    def rule(self, raw: Mapping[str, Any], path: tuple[Any, ...], scenario: str) -> Rule:
        if ("reply" in raw) == ("replies" in raw):
            self.fail(path, "a rule needs exactly one of reply, replies")
        raw_replies = raw.get("replies") or ([raw["reply"]] if "reply" in raw else [])
        replies_key = "replies" if "replies" in raw else "reply"
        replies = tuple(
            self.reply(r, (*path, replies_key, i) if replies_key == "replies" else (*path, "reply"))
            for i, r in enumerate(raw_replies)
        )
        return Rule(
            name=raw.get("name") or f"{scenario}[{path[-1]}]",
            match=self.match(raw.get("match") or {}, (*path, "match")),
            replies=replies,
            times=raw.get("times"),
            scenario=scenario,
            source=f"{self.located.source}:{self.located.line(path)}",
        )

    def match(self, raw: Mapping[str, Any], path: tuple[Any, ...]) -> Match:
        model = raw.get("model")
        return Match(
            model=(model,) if isinstance(model, str) else (tuple(model) if model is not None else None),
            user=self.lookup(raw.get("user"), (*path, "user")),
            system=self.lookup(raw.get("system"), (*path, "system")),
            any_message=self.lookup(raw.get("any_message"), (*path, "any_message")),
            stream=raw.get("stream"),
            headers=tuple(
                (name.lower(), lookup)
                for name, value in (raw.get("header") or {}).items()
                if (lookup := self.lookup(value, (*path, "header", name))) is not None
            ),
        )

    def lookup(self, raw: Any, path: tuple[Any, ...]) -> TextLookup | None:
        if raw is None:
            return None
        if isinstance(raw, str):
            return TextLookup("contains", raw, ignore_case=True)
        kinds = [k for k in LOOKUP_KINDS if k in raw]
        if len(kinds) != 1:
            self.fail(path, f"a text lookup needs exactly one of {', '.join(LOOKUP_KINDS)}")
            return None
        kind = kinds[0]
        ignore_case = bool(raw.get("ignore_case", False))
        pattern = None
        if kind == "regex":
            try:
                pattern = re.compile(raw[kind], re.IGNORECASE if ignore_case else 0)
            except re.error as exc:
                self.fail((*path, kind), f"invalid regex {raw[kind]!r}: {exc}")
                return None
        return TextLookup(kind, raw[kind], ignore_case=ignore_case, pattern=pattern)

    def reply(self, raw: Mapping[str, Any], path: tuple[Any, ...]) -> Reply:
        present = [k for k in REPLY_BODY_KEYS if k in raw]
        if len(present) != 1:
            found = f" (found {', '.join(present)})" if present else ""
            self.fail(path, f"expected exactly one of {', '.join(REPLY_BODY_KEYS)}{found}")
        content = raw.get("content")
        if "content_file" in raw:
            content = self.read_file(raw["content_file"], (*path, "content_file"))
        error = raw.get("error")
        choices = tuple(
            Choice(
                content=c["content"] if "content" in c else self.read_file(c.get("content_file"), (*path, "choices", i)),
                finish_reason=c.get("finish_reason"),
            )
            for i, c in enumerate(raw.get("choices") or [])
        )
        for i, c in enumerate(raw.get("choices") or []):
            if ("content" in c) == ("content_file" in c):
                self.fail((*path, "choices", i), "a choice needs exactly one of content, content_file")
        return Reply(
            content=content,
            error=ErrorSpec(
                status=error["status"],
                message=error.get("message"),
                type=error.get("type"),
                code=error.get("code"),
                param=error.get("param"),
                headers={k: str(v) for k, v in (error.get("headers") or {}).items()},
            )
            if error is not None
            else None,
            choices=choices,
            finish_reason=raw.get("finish_reason"),
            usage=raw.get("usage") or {},
            model=raw.get("model"),
            stream=StreamSpec(**(raw.get("stream") or {})),
        )

    def read_file(self, name: str | None, path: tuple[Any, ...]) -> str:
        if name is None:
            return ""
        target = (self.base_dir / name).resolve()
        if self.allowed_roots is not None and not any(target.is_relative_to(root) for root in self.allowed_roots):
            self.fail(path, f"{name!r} is outside the scenario folders; rules sent at run time may only read files there")
            return ""
        try:
            return target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.fail(path, f"cannot read {name!r}: {exc.strerror if isinstance(exc, OSError) else exc}")
            return ""
