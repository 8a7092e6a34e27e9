"""Scenario, Rule and Reply types, and the public functions that load and check them; the YAML reading lives in
scenario_yaml.py and the typed building in scenario_builder.py."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fake_llm.errors import Problem, ScenarioError
from fake_llm.safe_regex import Searcher, catastrophic_parts
from fake_llm.scenario_yaml import _load_yaml

LOOKUP_KINDS = ("contains", "equals", "startswith", "regex")
TOOL_CALLS_NOTE = "tool_calls may go with one text key"


@dataclass(frozen=True, slots=True)
class TextLookup:
    """A check on a piece of text: substring, equality, prefix or regex, optionally ignoring case."""

    kind: str
    value: str
    ignore_case: bool = False
    #: Python's `re` for the operator's files; RE2 (linear time) for rules posted at run time.
    pattern: Searcher | None = None

    def describe(self) -> str:
        """The lookup as a verb phrase: `contain 'x'`, `match regex 'a.*'`."""
        verb = {"contains": "contain", "equals": "equal", "startswith": "start with", "regex": "match regex"}[self.kind]
        return f"{verb} {self.value!r}" + (" (ignoring case)" if self.ignore_case else "")


@dataclass(frozen=True, slots=True)
class Match:
    """The conditions of a rule; every one given must hold."""

    model: tuple[str, ...] | None = None
    api: tuple[str, ...] = ()
    user: TextLookup | None = None
    system: TextLookup | None = None
    any_message: TextLookup | None = None
    stream: bool | None = None
    headers: tuple[tuple[str, TextLookup], ...] = ()
    #: Inclusive bounds on the turn number (1 = first answer).
    turn: tuple[int, int | None] | None = None
    last_role: str | None = None
    tool_result: TextLookup | None = None
    tool_result_for: str | None = None
    tools: tuple[str, ...] = ()
    tool_choice: str | None = None
    response_format: str | None = None
    has_image: bool | None = None

    @property
    def is_catch_all(self) -> bool:
        return self == Match()


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """An error reply: HTTP status, the fields of the provider's error object, and how to send it."""

    status: int
    message: str | None = None
    type: str | None = None
    code: str | int | None = None
    param: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: `wrapped` ({"error": {...}}) or `flat` (the error object alone, as some compatible providers send).
    envelope: str = "wrapped"
    #: A raw body sent instead of any envelope, with its content type.
    body: str | None = None
    content_type: str | None = None
    #: Extra fields of the error object (e.g. `failed_generation`).
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StreamError:
    """The error event of a stream that fails midway."""

    message: str | None = None
    type: str | None = None
    code: str | int | None = None
    param: str | None = None
    event_line: bool = False


@dataclass(frozen=True, slots=True)
class TimedChunk:
    """One piece of a scripted stream timeline."""

    text: str
    after_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """How a streamed reply is chunked and paced, and which faults break it (chunk counts include the role chunk)."""

    chunk_tokens: int = 1
    ttft_ms: float = 0.0
    chunk_ms: float = 0.0
    tokens_per_second: float | None = None
    jitter_ms: float = 0.0
    chunks: tuple[TimedChunk, ...] = ()
    stall_ms: float = 0.0
    stall_after: int = 1
    disconnect_after: int | None = None
    end_after: int | None = None
    finish_chunk: bool = True
    done: bool = True
    error_after: int | None = None
    error: StreamError = field(default_factory=StreamError)
    malformed_at: int | None = None
    malformed_data: str | None = None
    #: A chunk index, -1 for every chunk, or None.
    split_at: int | None = None
    split_parts: int = 2
    split_utf8: bool = False
    line_ending: str = "lf"
    keepalive_every: int | None = None

    @property
    def is_timed(self) -> bool:
        return bool(self.ttft_ms or self.chunk_ms or self.tokens_per_second or self.jitter_ms or self.stall_ms) or any(
            c.after_ms for c in self.chunks
        )


@dataclass(frozen=True, slots=True)
class RawReply:
    """A literal HTTP response."""

    body: str
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Requests and tokens allowed per sliding minute."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    """One choice of a multi-choice reply."""

    content: str
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCallSpec:
    """A scripted tool call; `arguments` None means "generate them from the tool's schema"."""

    name: str
    arguments: str | Mapping[str, Any] | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class GenerateSpec:
    """A generated reply of `words` words or `tokens` tokens (40 words when neither is given)."""

    words: int | None = None
    tokens: int | None = None


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
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_ms: float = 0.0
    raw: RawReply | None = None
    hang: bool = False
    truncate_body: int | None = None
    tool_calls: tuple[ToolCallSpec, ...] = ()
    #: A JSON value sent as the content (`has_json` tells it apart from no value).
    json: Any = None
    has_json: bool = False
    generate: GenerateSpec | None = None
    refusal: str | None = None
    reasoning: str | None = None
    embedding: tuple[float, ...] | None = None

    @property
    def is_completion(self) -> bool:
        """True unless the reply is an error, a raw response or a hang."""
        return self.error is None and self.raw is None and not self.hang

    def summary(self) -> str:
        """A one-line description for the journal."""
        if self.hang:
            return "hang"
        if self.raw is not None:
            return f"raw {self.raw.status} body"
        if self.error is not None:
            return f"error {self.error.status}" + (f": {self.error.message}" if self.error.message else "")
        if self.choices:
            return f"{len(self.choices)} choices"
        calls = f"tool calls {', '.join(c.name for c in self.tool_calls)}" if self.tool_calls else ""
        if self.content is None and calls:
            return calls
        if self.refusal is not None:
            return "refusal"
        if self.generate is not None:
            return "generated"
        if self.has_json:
            return "json"
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
    rate_limit: RateLimit | None = None
    allow_unknown_tools: bool = False
    #: The rule's provider profile, else its file's `defaults.profile`.
    profile: str | None = None


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
    """Build a Scenario from YAML text (named by its `name:`, else `default_name`, else the file's stem).
    `content_file` paths resolve against `base_dir`; with `allowed_roots`
    (rules sent over HTTP) they must stay inside one of those folders."""
    # Imported here: the builder imports the types above, so a top-level import would be circular.
    from fake_llm.scenario_builder import _build

    data, lines = _load_yaml(text, source)
    return _build(data, lines, source, base_dir, allowed_roots, default_name)


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
    from fake_llm.scenario_builder import _build  # see parse_scenario

    if not isinstance(data, str):
        data = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    parsed, lines = _load_yaml(data, source)
    if isinstance(parsed, list):
        # A bare list of rules: the same lines, under `rules`, so errors point at what the user wrote.
        parsed, lines = {"rules": parsed}, {("rules", *path): line for path, line in lines.items()}
    return _build(parsed, lines, source, base_dir, allowed_roots, default_name, untrusted)


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
            warnings.extend(_risky_regexes(rule))
    return warnings


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
