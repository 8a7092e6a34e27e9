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
from fake_llm.scenario_schema import REPLY_BODY_KEYS, SCENARIO_SCHEMA, TEXT_KEYS, WHOLE_REPLY_KEYS
from fake_llm.templates import TemplateError, compile_template

LOOKUP_KINDS = ("contains", "equals", "startswith", "regex")
TOOL_CALLS_NOTE = "tool_calls may go with one text key"


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
    data, lines = _load_yaml(text, source)
    return _build(data, lines, source, base_dir, allowed_roots, default_name)


def _build(
    data: Any,
    lines: dict[tuple[Any, ...], int],
    source: str,
    base_dir: Path | None,
    allowed_roots: Sequence[Path] | None,
    default_name: str | None,
) -> Scenario:
    if data is None:
        data = {}
    located = _Located(source, lines)
    errors = [_most_specific(e) for e in jsonschema.Draft202012Validator(SCENARIO_SCHEMA).iter_errors(data)]
    problems = [located.problem(_error_path(error), _schema_message(error)) for error in errors]
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
    if not isinstance(data, str):
        data = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    parsed, lines = _load_yaml(data, source)
    if isinstance(parsed, list):
        # A bare list of rules: the same lines, under `rules`, so errors point at what the user wrote.
        parsed, lines = {"rules": parsed}, {("rules", *path): line for path, line in lines.items()}
    return _build(parsed, lines, source, base_dir, allowed_roots, default_name)


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


def _walk(
    node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int], problems: list[Problem], source: str
) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node)
            if key in seen:
                problems.append(
                    Problem(source, key_node.start_mark.line + 1, _format_path(path), f"duplicate key {key!r}")
                )
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


_TYPE_NAMES = {
    "string": "a string",
    "object": "a mapping",
    "array": "a list",
    "integer": "an integer",
    "boolean": "true or false",
    "number": "a number",
    "null": "null",
}


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
    instance: Any = error.instance
    expected: Any = error.validator_value
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(instance) - set(allowed))
        if len(extra) == 1:
            return f"unknown key; expected one of {', '.join(allowed)}"
        return f"unknown keys {', '.join(map(repr, extra))}; expected one of {', '.join(allowed)}"
    if error.validator == "type":
        wanted: list[str] = expected if isinstance(expected, list) else [expected]
        names = " or ".join(_TYPE_NAMES.get(w, w) for w in wanted)
        return f"expected {names}, got {_describe_value(instance)}"
    if error.validator == "required":
        missing = [k for k in expected if k not in instance]
        return f"missing required key {', '.join(map(repr, missing))}"
    if error.validator == "enum":
        return f"expected one of {', '.join(map(str, expected))}, got {_describe_value(instance)}"
    if error.validator == "anyOf":
        options = [_describe_schema(option) for option in expected]
        return f"expected {' or '.join(options)}, got {_describe_value(instance)}"
    return error.message


def _most_specific(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For `a mapping or null` (`match:`), a mapping is best explained by the mapping branch's own error: the
    deepest one (a wrong value inside), else any that is not about the mapping's own type."""
    if error.validator == "anyOf" and isinstance(error.instance, dict):
        inside = [sub for sub in error.context or [] if sub.relative_path or sub.validator != "type"]
        if inside:
            return _most_specific(max(inside, key=lambda sub: len(sub.relative_path)))
    return error


def _describe_schema(schema: Mapping[str, Any]) -> str:
    if "const" in schema:
        return repr(schema["const"])
    kind = schema.get("type", "object")
    return _TYPE_NAMES.get(kind, str(kind)) if isinstance(kind, str) else " or ".join(_TYPE_NAMES[k] for k in kind)


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
        self.default_profile: str | None = None

    def fail(self, path: Sequence[Any], message: str) -> None:
        self.problems.append(self.located.problem(path, message))

    def scenario(self, data: Mapping[str, Any], default_name: str) -> Scenario:
        source = self.located.source
        name = data.get("name") or default_name
        self.default_profile = (data.get("defaults") or {}).get("profile")
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
            rate_limit=RateLimit(**raw["rate_limit"]) if raw.get("rate_limit") else None,
            allow_unknown_tools=bool(raw.get("allow_unknown_tools")),
            profile=raw.get("profile") or self.default_profile,
        )

    def match(self, raw: Mapping[str, Any], path: tuple[Any, ...]) -> Match:
        model = raw.get("model")
        turn = raw.get("turn")
        bounds: tuple[int, int | None] | None = None
        if isinstance(turn, dict):
            low, high = turn.get("min", 1), turn.get("max")
            if high is not None and high < low:
                self.fail((*path, "turn"), f"max ({high}) is below min ({low})")
            bounds = (low, high)
        elif turn is not None:
            bounds = (turn, turn)
        tools = raw.get("tools")
        api = raw.get("api")
        return Match(
            api=(api,) if isinstance(api, str) else tuple(api or ()),
            turn=bounds,
            last_role=raw.get("last_role"),
            tool_result=self.lookup(raw.get("tool_result"), (*path, "tool_result")),
            tool_result_for=raw.get("tool_result_for"),
            tools=(tools,) if isinstance(tools, str) else tuple(tools or ()),
            tool_choice=raw.get("tool_choice"),
            response_format=raw.get("response_format"),
            has_image=raw.get("has_image"),
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
        stream = self.stream(raw.get("stream") or {}, (*path, "stream"))
        texts = [k for k in TEXT_KEYS if k in raw]
        whole = [k for k in WHOLE_REPLY_KEYS if k in raw]
        present = [k for k in REPLY_BODY_KEYS if k in raw]
        timeline = "".join(chunk.text for chunk in stream.chunks) if stream.chunks else None
        if (whole and len(present) > 1) or len(texts) > 1 or (not present and timeline is None):
            found = f" (found {', '.join(present)})" if present else ""
            self.fail(path, f"expected exactly one of {', '.join(REPLY_BODY_KEYS)}; {TOOL_CALLS_NOTE}{found}")
        content = raw.get("content")
        if "content_file" in raw:
            content = self.read_file(raw["content_file"], (*path, "content_file"))
        if timeline is not None:
            if present and present != ["content"] and present != ["content_file"]:
                self.fail((*path, "stream", "chunks"), f"a chunk timeline needs a text reply, not {present[0]}")
            elif content is not None and content != timeline:
                self.fail((*path, "stream", "chunks"), "the chunks' texts must add up to the reply's content")
            content = timeline
        choices = []
        for i, c in enumerate(raw.get("choices") or []):
            if ("content" in c) == ("content_file" in c):
                self.fail((*path, "choices", i), "a choice needs exactly one of content, content_file")
            text = c["content"] if "content" in c else self.read_file(c.get("content_file"), (*path, "choices", i))
            choices.append(Choice(content=text, finish_reason=c.get("finish_reason")))
        error = raw.get("error")
        raw_reply = raw.get("raw")
        for key in ("content", "refusal", "reasoning_content"):
            if isinstance(raw.get(key), str):
                self.template(raw[key], (*path, key))
        for i, call in enumerate(raw.get("tool_calls") or []):
            self.templates_in(call.get("arguments"), (*path, "tool_calls", i, "arguments"))
        self.templates_in(raw.get("json"), (*path, "json"))
        generate = raw.get("generate")
        if generate is not None and len(generate) > 1:
            self.fail((*path, "generate"), "give words or tokens, not both")
        return Reply(
            content=content,
            error=self.error(error) if error is not None else None,
            choices=tuple(choices),
            finish_reason=raw.get("finish_reason"),
            usage=raw.get("usage") or {},
            model=raw.get("model"),
            stream=stream,
            headers={k: str(v) for k, v in (raw.get("headers") or {}).items()},
            delay_ms=raw.get("delay_ms", 0.0),
            raw=RawReply(**raw_reply) if raw_reply is not None else None,
            hang=bool(raw.get("hang")),
            truncate_body=raw.get("truncate_body"),
            tool_calls=tuple(
                ToolCallSpec(c["name"], c.get("arguments"), c.get("id")) for c in raw.get("tool_calls") or []
            ),
            json=raw.get("json"),
            has_json="json" in raw,
            generate=GenerateSpec(**generate) if generate is not None else None,
            refusal=raw.get("refusal"),
            reasoning=raw.get("reasoning_content"),
            embedding=tuple(raw["embedding"]) if "embedding" in raw else None,
        )

    def template(self, text: str, path: tuple[Any, ...]) -> None:
        """Check a reply text's `{{ }}` names now, so a typo fails at load time rather than mid-test."""
        try:
            compile_template(text)
        except TemplateError as exc:
            self.fail(path, str(exc))

    def templates_in(self, value: Any, path: tuple[Any, ...]) -> None:
        if isinstance(value, str):
            self.template(value, path)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                self.templates_in(item, (*path, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.templates_in(item, (*path, i))

    @staticmethod
    def error(raw: Mapping[str, Any]) -> ErrorSpec:
        headers = {k.lower(): str(v) for k, v in (raw.get("headers") or {}).items()}
        # Retry hints become the headers the SDKs read (wire-format §8.1); explicit headers win.
        if "retry_after" in raw:
            headers.setdefault("retry-after", f"{raw['retry_after']:g}")
        if "retry_after_ms" in raw:
            headers.setdefault("retry-after-ms", f"{raw['retry_after_ms']:g}")
        if "should_retry" in raw:
            headers.setdefault("x-should-retry", str(raw["should_retry"]).lower())
        extra = {"failed_generation": raw["failed_generation"]} if "failed_generation" in raw else {}
        return ErrorSpec(
            status=raw["status"],
            message=raw.get("message"),
            type=raw.get("type"),
            code=raw.get("code"),
            param=raw.get("param"),
            headers=headers,
            envelope=raw.get("envelope", "wrapped"),
            body=raw.get("body"),
            content_type=raw.get("content_type"),
            extra=extra,
        )

    def stream(self, raw: Mapping[str, Any], path: tuple[Any, ...]) -> StreamSpec:
        if "chunk_ms" in raw and "tokens_per_second" in raw:
            self.fail(path, "give chunk_ms or tokens_per_second, not both")
        if ("error" in raw) != ("error_after" in raw) and "error_after" not in raw:
            self.fail((*path, "error"), "a stream error needs error_after (how many chunks come before it)")
        values = {k: v for k, v in raw.items() if k not in ("chunks", "error", "split_at")}
        return StreamSpec(
            **values,
            chunks=tuple(TimedChunk(c["text"], c.get("after_ms", 0.0)) for c in raw.get("chunks") or []),
            error=StreamError(**raw["error"]) if "error" in raw else StreamError(),
            split_at=-1 if raw.get("split_at") == "all" else raw.get("split_at"),
        )

    def read_file(self, name: str | None, path: tuple[Any, ...]) -> str:
        if name is None:
            return ""
        target = (self.base_dir / name).resolve()
        if self.allowed_roots is not None and not any(target.is_relative_to(root) for root in self.allowed_roots):
            self.fail(
                path, f"{name!r} is outside the scenario folders; rules sent at run time may only read files there"
            )
            return ""
        try:
            return target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.fail(path, f"cannot read {name!r}: {exc.strerror if isinstance(exc, OSError) else exc}")
            return ""
