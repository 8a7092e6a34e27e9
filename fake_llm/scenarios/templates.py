"""The reply-text template language: `{{ match.city }}`, `{{ request.model | upper }}`, checked when a scenario loads.

Only dotted names looked up in plain dicts, and a fixed set of filters: no code runs. `{{ "{{" }}` writes `{{`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from fake_llm.errors import ReplyTooLarge


class AnyName:
    """In an allowed-names tree: any sub-name may follow (regex captures, header names), checked at render time."""

    def __repr__(self) -> str:
        return "ANY_NAME"


ANY_NAME: Final = AnyName()
#: Allowed names: a leaf (None), any sub-name (ANY_NAME), or a mapping of the allowed sub-names.
Allowed: TypeAlias = "Mapping[str, Allowed] | AnyName | None"

#: The names reply text may use.
REPLY_NAMES: Mapping[str, Allowed] = {
    "match": ANY_NAME,
    "request": {
        "model": None,
        "stream": None,
        "max_tokens": None,
        "n": None,
        "temperature": None,
        "seed": None,
        "headers": ANY_NAME,
    },
    "last_user": None,
    "system": None,
    "turn": None,
    "tool_result": None,
    "tool_name": None,
    "tool_results": None,
}
#: The filters, as they are written.
_FILTER_FORMS = {"default": 'default("...")', "json": "json", "lower": "lower", "title": "title", "upper": "upper"}

_STRING = r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'"""
_TOKEN = re.compile(rf"\s*(?:(?P<string>{_STRING})|(?P<name>[\w.-]+)|(?P<punct>[|()]))")
_QUOTED = re.compile(_STRING)
_SEGMENT = re.compile(r"[A-Za-z0-9_][\w-]*")
_MISSING: Final = object()


class TemplateError(ValueError):
    """A template that cannot be compiled: unknown name or filter, unclosed `{{`, bad syntax."""


@dataclass(frozen=True, slots=True)
class _Filter:
    name: str
    argument: str | None = None


@dataclass(frozen=True, slots=True)
class _Expression:
    """One `{{ ... }}`: a dotted path (or a string literal) and its filters, applied left to right."""

    path: tuple[str, ...]
    literal: str | None
    filters: tuple[_Filter, ...]


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled template; `render` only looks names up in the context's dicts."""

    source: str
    parts: tuple[str | _Expression, ...]

    @property
    def is_static(self) -> bool:
        """True when the text has no `{{ }}`: render returns it unchanged."""
        return all(isinstance(p, str) for p in self.parts)

    @property
    def names(self) -> tuple[str, ...]:
        """The dotted names the template uses, in order of first use."""
        found = (".".join(p.path) for p in self.parts if isinstance(p, _Expression) and p.path)
        return tuple(dict.fromkeys(found))

    def render(self, context: Mapping[str, Any], limit: int | None = None) -> str:
        """The text for `context`; ReplyTooLarge as soon as it would pass `limit` characters (checked before the
        pieces are joined, so `{{ last_user }}` a thousand times never builds the whole text)."""
        if self.is_static:
            return self.source
        pieces = [p if isinstance(p, str) else _evaluate(p, context) for p in self.parts]
        if limit is not None and sum(map(len, pieces)) > limit:
            raise ReplyTooLarge(f"the reply template would produce more than {limit} characters (max_reply_bytes)")
        return "".join(pieces)


def reply_names(captures: Iterable[str]) -> Mapping[str, Allowed]:
    """The names a rule's reply may use: `match.NAME` only for the named groups of the rule's regex lookups."""
    return {**REPLY_NAMES, "match": {name: None for name in captures}}


def compile_template(text: str, allowed: Mapping[str, Allowed] = REPLY_NAMES) -> Template:
    """Parses `text` and checks every name against `allowed`; raises TemplateError naming the problem."""
    if "{{" not in text:
        return Template(text, (text,))
    parts: list[str | _Expression] = []
    position = 0
    while (start := text.find("{{", position)) >= 0:
        if start > position:
            parts.append(text[position:start])
        end = _closing(text, start)
        parts.append(_parse(text[start + 2 : end], allowed, f"'{text[start : end + 2]}' at {_where(text, start)}"))
        position = end + 2
    if position < len(text):
        parts.append(text[position:])
    return Template(text, tuple(parts))


def _where(text: str, index: int) -> str:
    line_start = text.rfind("\n", 0, index) + 1
    return f"line {text.count(chr(10), 0, index) + 1}, column {index - line_start + 1}"


def _closing(text: str, start: int) -> int:
    """The index of the `}}` closing the `{{` at `start`, skipping over quoted strings."""
    index = start + 2
    while index < len(text):
        if text.startswith("}}", index):
            return index
        quoted = _QUOTED.match(text, index)
        index = quoted.end() if quoted else index + 1
    raise TemplateError(f"unclosed '{{{{' at {_where(text, start)}; a literal '{{{{' is written {{{{ \"{{{{\" }}}}")


def _tokens(inner: str, where: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    index = 0
    while inner[index:].strip():
        token = _TOKEN.match(inner, index)
        if token is None or token.lastgroup is None:
            raise TemplateError(f"unexpected {inner[index:].strip()[0]!r} in {where}")
        tokens.append((token.lastgroup, token.group(token.lastgroup)))
        index = token.end()
    return tokens


def _parse(inner: str, allowed: Mapping[str, Allowed], where: str) -> _Expression:
    """`name.sub | filter | default("x")` or `"literal" | filter`, as an _Expression."""
    tokens = _tokens(inner, where)
    if not tokens:
        raise TemplateError(f"empty {where}; put a name inside, e.g. {{{{ last_user }}}}")
    kind, first = tokens.pop(0)
    if kind == "punct":
        raise TemplateError(f"expected a name before {first!r} in {where}")
    path = tuple(first.split(".")) if kind == "name" else ()
    if path:
        _check_path(path, allowed, where)
    filters: list[_Filter] = []
    while tokens:
        if tokens[0] != ("punct", "|") or len(tokens) < 2 or tokens[1][0] != "name":
            raise TemplateError(f"expected '| filter' after {first!r} in {where}")
        name = tokens[1][1]
        del tokens[:2]
        if name not in _FILTER_FORMS:
            raise TemplateError(f"unknown filter {name!r} in {where}; filters: {', '.join(_FILTER_FORMS.values())}")
        argument = None
        if tokens[:1] == [("punct", "(")]:
            if [k for k, _ in tokens[:3]] != ["punct", "string", "punct"] or tokens[2][1] != ")":
                raise TemplateError(f"expected one quoted string in {name}(...) in {where}")
            argument = _unquote(tokens[1][1])
            del tokens[:3]
        if (argument is None) == (name == "default"):
            raise TemplateError(f"filter {name} is written {_FILTER_FORMS[name]} in {where}")
        filters.append(_Filter(name, argument))
    return _Expression(path, None if path else _unquote(first), tuple(filters))


def _check_path(path: tuple[str, ...], allowed: Mapping[str, Allowed], where: str) -> None:
    node: Allowed = allowed
    for depth, segment in enumerate(path):
        name, parent = ".".join(path[: depth + 1]), ".".join(path[:depth])
        if isinstance(node, AnyName):
            if not _SEGMENT.fullmatch(segment) or segment.startswith("__"):
                raise TemplateError(f"invalid name {name!r} in {where}")
            continue
        if node is None:
            raise TemplateError(f"unknown name {name!r} in {where}: {parent} has no sub-names")
        if not node:
            raise TemplateError(f"unknown name {name!r} in {where}: {parent} has no names here")
        if segment not in node:
            names = ", ".join(_describe(f"{parent}." if depth else "", k, v) for k, v in sorted(node.items()))
            raise TemplateError(f"unknown name {name!r} in {where}; allowed: {names}")
        node = node[segment]


def _describe(scope: str, name: str, node: Allowed) -> str:
    return f"{scope}{name}.<name>" if scope and isinstance(node, AnyName) else scope + name


def _unquote(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1], flags=re.S)


def _evaluate(expression: _Expression, context: Mapping[str, Any]) -> str:
    value: Any = expression.literal if expression.literal is not None else _lookup(context, expression.path)
    for spec in expression.filters:
        if spec.name == "default":
            value = spec.argument if value is _MISSING or value is None or value == "" else value
        elif spec.name == "json":
            value = json.dumps(None if value is _MISSING else value, ensure_ascii=False, default=str)
        elif spec.name == "title":  # not str.title, which makes "it's" into "It'S"
            value = re.sub(r"(^|\s)(\S)", lambda m: m[1] + m[2].upper(), _text(value).lower())
        else:
            value = _text(value).upper() if spec.name == "upper" else _text(value).lower()
    return _text(value)


def _lookup(context: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """Dict lookups only (never getattr); a missing key gives _MISSING. Keys also match ignoring case (headers)."""
    value: Any = context
    for segment in path:
        if not isinstance(value, Mapping):
            return _MISSING
        if segment in value:
            value = value[segment]
            continue
        folded = {str(k).lower(): v for k, v in value.items()}
        value = folded.get(segment.lower(), _MISSING)
    return value


def _text(value: Any) -> str:
    """Strings as they are, missing and None as nothing, the rest as JSON (true, 3, {"a": 1})."""
    if value is _MISSING or value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)
