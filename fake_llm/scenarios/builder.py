"""Scenario data checked against the JSON Schema and built into typed Scenario, Rule and Reply values, with the
checks a schema cannot express."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema

from fake_llm.errors import Problem, ScenarioError
from fake_llm.model.spec import (
    LOOKUP_KINDS,
    TOOL_CALLS_NOTE,
    ChaosSpec,
    Choice,
    Fingerprint,
    GenerateSpec,
    Match,
    Normalizer,
    RateLimit,
    RawReply,
    Reply,
    Rule,
    Scenario,
    Searcher,
    StreamError,
    StreamSpec,
    TextLookup,
    TimedChunk,
    ToolCallSpec,
)
from fake_llm.scenarios.coercion import CoercionError, coerce
from fake_llm.scenarios.error_spec import error_spec
from fake_llm.scenarios.media_schema import MEDIA_APIS, MEDIA_KEYS
from fake_llm.scenarios.normalizers import build_steps
from fake_llm.scenarios.safe_files import FileRefused, read_text_file
from fake_llm.scenarios.safe_regex import UnsafeRegex, compile_linear
from fake_llm.scenarios.schema import REPLY_BODY_KEYS, SCENARIO_SCHEMA, TEXT_KEYS, WHOLE_REPLY_KEYS
from fake_llm.scenarios.templates import TemplateError, compile_template, reply_names
from fake_llm.scenarios.yaml_lines import Located, error_path, most_specific, schema_message


def _literal_only(value: Any) -> Any:
    """`value` without its templated strings, which only get their type once rendered (checked at reply time)."""
    if isinstance(value, Mapping):
        return {k: _literal_only(v) for k, v in value.items() if not _has_template(v)}
    return value


def _has_template(value: Any) -> bool:
    """A templated string, or a list holding one (dropping items would shift the indexes errors name)."""
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return isinstance(value, str) and "{{" in value


def _field_path(field: str) -> list[str | int]:
    """`items[2].count` as the key path ["items", 2, "count"]."""
    return [int(part) if part.isdigit() else part for part in re.findall(r"[^.\[\]]+", field)]


def build_scenario(
    data: Any,
    lines: dict[tuple[Any, ...], int],
    source: str,
    base_dir: Path | None,
    allowed_roots: Sequence[Path] | None,
    default_name: str | None,
    untrusted: bool = False,
) -> Scenario:
    if data is None:
        data = {}
    located = Located(source, lines)
    errors = [most_specific(e) for e in jsonschema.Draft202012Validator(SCENARIO_SCHEMA).iter_errors(data)]
    problems = [located.problem(error_path(error), schema_message(error)) for error in errors]
    if problems:
        raise ScenarioError(sorted(_dedupe(problems), key=lambda p: p.line))
    builder = _Builder(located, base_dir or Path.cwd(), allowed_roots, untrusted=untrusted)
    scenario = builder.scenario(data, default_name or Path(source).stem.strip("<>"))
    if builder.problems:
        raise ScenarioError(builder.problems)
    return scenario


def _dedupe(problems: list[Problem]) -> list[Problem]:
    out: list[Problem] = []
    for p in problems:
        if p not in out:
            out.append(p)
    return out


def capture_names(match: Match) -> tuple[str, ...]:
    """The named groups of every regex lookup in `match`: what `{{ match.NAME }}` can hold when the rule matches."""
    lookups = [match.user, match.system, match.any_message, match.tool_result, *(lookup for _, lookup in match.headers)]
    names = (name for lookup in lookups if lookup is not None and lookup.pattern for name in lookup.pattern.groupindex)
    return tuple(dict.fromkeys(names))


class _Builder:
    """Turns schema-valid data into typed values, checking what a JSON Schema cannot say."""

    def __init__(
        self, located: Located, base_dir: Path, allowed_roots: Sequence[Path] | None, *, untrusted: bool = False
    ) -> None:
        #: Rules from a request (POST /_fake/rules): regexes must run in linear time.
        self.untrusted = untrusted
        self.located = located
        self.base_dir = base_dir
        self.allowed_roots = [root.resolve() for root in allowed_roots] if allowed_roots is not None else None
        self.problems: list[Problem] = []
        self.default_profile: str | None = None
        self.normalize: tuple[Normalizer, ...] = ()
        self.chaos: ChaosSpec | None = None
        #: Named regex groups of the rule being built: the only `match.NAME` its replies may use.
        self.captures: tuple[str, ...] = ()
        self.files: list[str] = []

    def fail(self, path: Sequence[Any], message: str) -> None:
        self.problems.append(self.located.problem(path, message))

    def scenario(self, data: Mapping[str, Any], default_name: str) -> Scenario:
        source = self.located.source
        name = data.get("name") or default_name
        self.default_profile = (data.get("defaults") or {}).get("profile")
        self.normalize = self.normalizers(data.get("normalize") or [], ("normalize",))
        self.chaos = self.chaos_spec(data["chaos"]) if "chaos" in data else None
        rules = tuple(self.rule(raw, ("rules", i), name) for i, raw in enumerate(data.get("rules") or []))
        defaults = data.get("defaults") or {}
        files, model = tuple(dict.fromkeys(self.files)), defaults.get("model")
        return Scenario(name, rules, source, model, normalize=self.normalize, chaos=self.chaos, files=files)

    def normalizers(self, raw: Sequence[Any], path: tuple[Any, ...]) -> tuple[Normalizer, ...]:
        steps, problems = build_steps(raw)
        for i, item in enumerate(raw):
            try:  # rules sent at run time: a normalize regex must run in linear time too
                _ = compile_linear(item["regex"]) if self.untrusted and isinstance(item, Mapping) else None
            except UnsafeRegex as exc:
                problems.append((i, f"regex {item['regex']!r} refused for a rule sent at run time: {exc}"))
        for i, message in problems:
            self.fail((*path, i, "regex"), message)
        return steps

    def chaos_spec(self, raw: Mapping[str, Any]) -> ChaosSpec:
        error = {"error": error_spec(raw["error"])} if "error" in raw else {}
        return ChaosSpec(**{**raw, **error})

    def rule(self, raw: Mapping[str, Any], path: tuple[Any, ...], scenario: str) -> Rule:
        if ("reply" in raw) == ("replies" in raw):
            self.fail(path, "a rule needs exactly one of reply, replies")
        raw_replies = raw.get("replies") or ([raw["reply"]] if "reply" in raw else [])
        replies_key = "replies" if "replies" in raw else "reply"
        match = self.match(raw.get("match") or {}, (*path, "match"))
        self.captures = capture_names(match)
        replies = tuple(
            self.reply(r, (*path, replies_key, i) if replies_key == "replies" else (*path, "reply"))
            for i, r in enumerate(raw_replies)
        )
        self.media_apis(raw, raw_replies, path, replies_key)
        return Rule(
            name=raw.get("name") or f"{scenario}[{path[-1]}]",
            match=match,
            replies=replies,
            times=raw.get("times"),
            scenario=scenario,
            source=f"{self.located.source}:{self.located.line(path)}",
            rate_limit=RateLimit(**raw["rate_limit"]) if raw.get("rate_limit") else None,
            allow_unknown_tools=bool(raw.get("allow_unknown_tools")),
            profile=raw.get("profile") or self.default_profile,
            priority=raw.get("priority", 0),
            transcript=raw.get("transcript"),
            normalize=self.normalize + self.normalizers(raw.get("normalize") or [], (*path, "normalize")),
            chaos=self.chaos_spec(raw["chaos"]) if "chaos" in raw else self.chaos,
            fingerprint=Fingerprint(**raw["fingerprint"]) if "fingerprint" in raw else None,
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
        api = self.dialect_key(raw, path)
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
            has_tools=raw.get("has_tools"),
            forces_tool=raw.get("forces_tool"),
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
        pattern: Searcher | None = None
        if kind == "regex" and self.untrusted:
            try:
                pattern = compile_linear(raw[kind], ignore_case=ignore_case)
            except UnsafeRegex as exc:
                self.fail((*path, kind), f"regex {raw[kind]!r} refused for a rule sent at run time: {exc}")
                return None
        elif kind == "regex":
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
            self.tool_call(call, (*path, "tool_calls", i))
        self.templates_in(raw.get("json"), (*path, "json"))
        generate = raw.get("generate")
        if generate is not None and len(generate) > 1:
            self.fail((*path, "generate"), "give words or tokens, not both")
        return Reply(
            content=content,
            error=error_spec(error) if error is not None else None,
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
                ToolCallSpec(
                    c.get("name"), c.get("arguments"), c.get("id"), c.get("tool"), c.get("seed"), c.get("parameters")
                )
                for c in raw.get("tool_calls") or []
            ),
            json=raw.get("json"),
            has_json="json" in raw,
            generate=GenerateSpec(**generate) if generate is not None else None,
            refusal=raw.get("refusal"),
            reasoning=raw.get("reasoning_content"),
            embedding=tuple(raw["embedding"]) if "embedding" in raw else None,
            scores=tuple(raw["scores"]) if "scores" in raw else None,
            media={key: raw[key] for key in MEDIA_KEYS if key in raw},
        )

    def dialect_key(self, raw: Mapping[str, Any], path: tuple[Any, ...]) -> Any:
        """`match.dialect`, or its old name `api` (one of them, not both)."""
        if "dialect" in raw and "api" in raw:
            self.fail((*path, "api"), "`api` is the old name of `dialect`: give one of them")
        return raw.get("dialect", raw.get("api"))

    def media_apis(
        self, raw: Mapping[str, Any], replies: Sequence[Mapping[str, Any]], path: tuple[Any, ...], key: str
    ) -> None:
        """A media reply key answers its own endpoints only: with `match.api` naming others, say so at load time."""
        match = raw.get("match") or {}
        api = match.get("dialect", match.get("api"))
        if api is None:
            return
        wanted = set([api] if isinstance(api, str) else api)
        for i, reply in enumerate(replies):
            for name, apis in MEDIA_APIS.items():
                if name in reply and not wanted & set(apis):
                    where = (*path, key, i, name) if key == "replies" else (*path, key, name)
                    self.fail(where, f"{name}: answers api {' or '.join(apis)}, but the rule matches {sorted(wanted)}")

    def tool_call(self, raw: Mapping[str, Any], path: tuple[Any, ...]) -> None:
        """Templates in the arguments, and with `parameters`, literal arguments coerced to the schema now."""
        arguments = raw.get("arguments")
        self.templates_in(arguments, (*path, "arguments"))
        if "seed" in raw and raw.get("tool") != "pick":
            self.fail((*path, "seed"), "seed only goes with tool: pick")
        if "parameters" in raw and "tool" in raw:
            self.fail((*path, "parameters"), "parameters go with name (a chosen tool's schema comes from the request)")
        schema = raw.get("parameters")
        if isinstance(schema, Mapping) and isinstance(arguments, Mapping):
            try:
                coerce(_literal_only(arguments), schema)
            except CoercionError as exc:
                field = (*path, "arguments", *_field_path(exc.field))
                self.fail(field, f"cannot be coerced to the tool's schema: {exc.message}")

    def template(self, text: str, path: tuple[Any, ...]) -> None:
        """Check a reply text's `{{ }}` names now, so a typo fails at load time rather than mid-test."""
        try:
            compile_template(text, reply_names(self.captures))
        except TemplateError as exc:
            message = str(exc)
            if not self.captures and "'match." in message:
                message += " (match.NAME is a named group of a regex in the rule's match, e.g. (?P<NAME>...))"
            self.fail(path, message)

    def templates_in(self, value: Any, path: tuple[Any, ...]) -> None:
        if isinstance(value, str):
            self.template(value, path)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                self.templates_in(item, (*path, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.templates_in(item, (*path, i))

    def stream(self, raw: Mapping[str, Any], path: tuple[Any, ...]) -> StreamSpec:
        if "chunk_ms" in raw and "tokens_per_second" in raw:
            self.fail(path, "give chunk_ms or tokens_per_second, not both")
        if ("error" in raw) != ("error_after" in raw) and "error_after" not in raw:
            self.fail((*path, "error"), "a stream error needs error_after (how many chunks come before it)")
        values = {k: v for k, v in raw.items() if k not in ("chunks", "error", "split_at", "vary")}
        return StreamSpec(
            **values,
            vary_seed=raw["vary"]["seed"] if "vary" in raw else None,
            chunks=tuple(TimedChunk(c["text"], c.get("after_ms", 0.0)) for c in raw.get("chunks") or []),
            error=StreamError(**raw["error"]) if "error" in raw else StreamError(),
            split_at=-1 if raw.get("split_at") == "all" else raw.get("split_at"),
        )

    def read_file(self, name: str | None, path: tuple[Any, ...]) -> str:
        if name is None:
            return ""
        target = (self.base_dir / name).resolve()
        self.files.append(str(target))  # watched even when missing, so that creating it fixes the load
        if self.allowed_roots is not None and not any(target.is_relative_to(root) for root in self.allowed_roots):
            self.fail(
                path,
                f"{name!r} is outside the scenario folders; rules sent at run time may only read files there "
                "(or in a --rules-folder)",
            )
            return ""
        try:
            return read_text_file(name, target)
        except FileRefused as exc:
            self.fail(path, f"cannot read {name!r}: {exc}")
            return ""
        except (OSError, UnicodeDecodeError) as exc:
            self.fail(path, f"cannot read {name!r}: {exc.strerror if isinstance(exc, OSError) else exc}")
            return ""
