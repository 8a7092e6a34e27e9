"""Scenario YAML read with the line of every key path, and JSON-Schema errors worded for people, so that each
problem points at file:line:key."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import jsonschema
import yaml

from fake_llm.errors import Problem, ScenarioError


class _LineLoader(yaml.SafeLoader):
    """SafeLoader (no arbitrary tags) that keeps nodes so we can map every key path to its line."""


#: Nesting deeper than this is refused (real scenarios nest a JSON Schema a dozen levels at most).
MAX_YAML_DEPTH = 64
#: Nodes a document may expand to once aliases are followed: alias bombs (`&a [*b, *b, ...]`) stop here.
MAX_YAML_NODES = 200_000


def load_yaml(text: str, source: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    loader = _LineLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise ScenarioError(
                [Problem(source, 0, "", f"YAML nested too deeply (the limit is {MAX_YAML_DEPTH} levels)")]
            ) from None
        lines: dict[tuple[Any, ...], int] = {}
        problems: list[Problem] = []
        if node is not None:
            walk = _Walk(lines, problems, source)
            size = walk.visit(node, ())
            if size > MAX_YAML_NODES:
                problems.append(
                    Problem(
                        source,
                        1,
                        "",
                        f"the document expands to {size} values through its aliases (the limit is {MAX_YAML_NODES})",
                    )
                )
        if problems:
            raise ScenarioError(problems)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        if "end of stream" in reason and getattr(exc, "context_mark", None) is not None:
            mark = exc.context_mark  # type: ignore[attr-defined]  # where the unclosed quote or bracket opened
        line = mark.line + 1 if mark is not None else 0
        hint = yaml_hint(reason, text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else "")
        message = f"invalid YAML: {hint} (the YAML parser says: {reason})" if hint else f"invalid YAML: {reason}"
        raise ScenarioError([Problem(source, line, "", message)]) from None
    finally:
        loader.dispose()
    return data, lines


def yaml_hint(reason: str, line: str) -> str:
    """PyYAML's words (`expected <block end>, but found '<block mapping start>'`) in plain terms, for the common
    mistakes behind them: tabs, indentation, a missing colon, an unclosed quote or bracket."""
    if "\\t" in reason or "\t" in line[: len(line) - len(line.lstrip())]:
        return "a tab indents this line; YAML indents with spaces only"
    if "could not find expected ':'" in reason:
        return "a key without its colon on this line or the one above (write `key: value`)"
    if "end of stream" in reason or "<stream end>" in reason:
        return "a quote or bracket opened on this line is never closed"
    if "but found" in reason or "mapping values are not allowed" in reason or "did not find expected" in reason:
        return (
            "check the indentation of this line against the lines above (keys of one mapping must line up, items "
            "of a list start with `- `), and that the key before it ends with a colon"
        )
    if "expected ','" in reason or "expected ',' or" in reason:
        return "a `[...]` or `{...}` on this line is not closed, or its items are not separated by commas"
    return ""


class _Walk:
    """Maps key paths to lines and sizes the document once aliases are expanded. An aliased node is walked once:
    its size is remembered, so the walk stays linear in the text even for an alias bomb."""

    def __init__(self, lines: dict[tuple[Any, ...], int], problems: list[Problem], source: str) -> None:
        self.lines, self.problems, self.source = lines, problems, source
        self.sizes: dict[int, int] = {}
        self.active: set[int] = set()
        self.too_deep = False

    def visit(self, node: yaml.Node, path: tuple[Any, ...]) -> int:
        if id(node) in self.active:
            self.problems.append(
                Problem(self.source, node.start_mark.line + 1, _format_path(path), "an alias refers to its own parent")
            )
            return 1
        if id(node) in self.sizes:  # an alias of a node already walked
            return self.sizes[id(node)]
        self.lines[path] = node.start_mark.line + 1
        if len(path) > MAX_YAML_DEPTH:
            if not self.too_deep:
                self.too_deep = True
                self.problems.append(
                    Problem(
                        self.source,
                        node.start_mark.line + 1,
                        _format_path(path[:MAX_YAML_DEPTH]),
                        f"nested deeper than {MAX_YAML_DEPTH} levels",
                    )
                )
            return 1
        self.active.add(id(node))
        size = 1
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node)
                if key in seen:
                    self.problems.append(
                        Problem(self.source, key_node.start_mark.line + 1, _format_path(path), f"duplicate key {key!r}")
                    )
                seen.add(key)
                size += self.visit(value_node, (*path, key))
                self.lines[(*path, key)] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                size += self.visit(item, (*path, index))
        size = min(size, MAX_YAML_NODES + 1)  # enough to refuse it; keeps the numbers small
        self.active.discard(id(node))
        self.sizes[id(node)] = size
        return size


def _format_path(path: Sequence[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class Located:
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


def schema_message(error: jsonschema.ValidationError) -> str:
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
        message = f"expected one of {', '.join(map(str, expected))}, got {_describe_value(instance)}"
        # A typo (`olama`) is the usual cause: name the close one.
        close = difflib.get_close_matches(instance, map(str, expected), n=1) if isinstance(instance, str) else []
        return message + (f" (did you mean {close[0]!r}?)" if close else "")
    if error.validator == "anyOf":
        options = [_describe_schema(option) for option in expected]
        return f"expected {' or '.join(options)}, got {_describe_value(instance)}"
    return error.message


def most_specific(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For `a mapping or null` (`match:`), a mapping is best explained by the mapping branch's own error: the
    deepest one (a wrong value inside), else any that is not about the mapping's own type."""
    if error.validator == "anyOf" and isinstance(error.instance, dict):
        inside = [sub for sub in error.context or [] if sub.relative_path or sub.validator != "type"]
        if inside:
            return most_specific(max(inside, key=lambda sub: len(sub.relative_path)))
    return error


def _describe_schema(schema: Mapping[str, Any]) -> str:
    if "const" in schema:
        return repr(schema["const"])
    kind = schema.get("type", "object")
    return _TYPE_NAMES.get(kind, str(kind)) if isinstance(kind, str) else " or ".join(_TYPE_NAMES[k] for k in kind)


def error_path(error: jsonschema.ValidationError) -> list[Any]:
    """Where an error points: an unknown key points at the key itself, so the line is the typo's."""
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        extra = sorted(k for k in error.instance if k not in allowed)
        if len(extra) == 1:
            path.append(extra[0])
    return path
