"""Reading a request's JSON body so that no input can fail later: NaN/Infinity, numbers past Python's int digit
limit, lone surrogates and deep nesting are refused up front with the dotted path of the field (issue 11, item 7).

Real providers answer these with a 400 (their parsers reject NaN and lone surrogates outright); fake-llm names the
field so a test author sees which value was wrong.
"""

from __future__ import annotations

import json
import math
from typing import Any

from fake_llm.errors import ProviderRequestError
from fake_llm.scenarios.safe_regex import UnsafeRegex, compile_linear

#: Deeper than any real request (tool schemas included); deeper ones would hit Python's recursion limit downstream.
MAX_DEPTH = 100
#: Python refuses int()/str() beyond 4300 digits by default (CVE-2020-10735); no API field needs more than a few.
MAX_INT_DIGITS = 1000


class _Refused:
    """Stands in for a value the JSON decoder must not turn into a Python number; the walk reports where it was."""

    __slots__ = ("why",)

    def __init__(self, why: str) -> None:
        self.why = why


def _int(text: str) -> Any:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        return _Refused(f"an integer of {len(text.lstrip('-'))} digits is out of range")
    return int(text)


def _float(text: str) -> Any:
    value = float(text)
    return value if math.isfinite(value) else _Refused(f"{text} is out of range for a number")


def _constant(text: str) -> Any:
    return _Refused(f"{text} is not valid JSON (only finite numbers are)")


def parse_body(raw: bytes) -> Any:
    """The decoded body. Raises ProviderRequestError (400) naming the field for any value fake-llm cannot carry."""
    try:
        body = json.loads(raw, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise ProviderRequestError(
            f"We could not parse the JSON body of your request ({exc.msg} at line {exc.lineno} column {exc.colno}). "
            "The API expects a JSON object."
        ) from None
    except UnicodeDecodeError:
        raise ProviderRequestError(
            "We could not parse the JSON body of your request (it is not UTF-8). The API expects a JSON object."
        ) from None
    except RecursionError:
        raise ProviderRequestError(
            f"We could not parse the JSON body of your request: it is nested more than {MAX_DEPTH} levels deep."
        ) from None
    check_value(body)
    return body


def check_value(value: Any) -> None:
    """Walk `value` without recursion; raise for the first refused number, lone surrogate or too-deep nesting."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if len(path) > MAX_DEPTH:
            raise _invalid(path, f"nesting deeper than {MAX_DEPTH} levels is not supported")
        if isinstance(item, _Refused):
            raise _invalid(path, item.why)
        if isinstance(item, str):
            _check_text(item, path)
        elif isinstance(item, dict):
            _check_schema_regexes(item, path)
            for key, child in item.items():
                _check_text(key, (*path, key))
                stack.append((child, (*path, key)))
        elif isinstance(item, list):
            stack.extend((child, (*path, index)) for index, child in enumerate(item))


def _check_schema_regexes(item: dict[str, Any], path: tuple[Any, ...]) -> None:
    """A JSON Schema inside the request (tool parameters, response formats) may carry `pattern`s that fake-llm runs
    when it generates values: they must be linear-time ones (safe_regex.py)."""
    pattern = item.get("pattern")
    regexes = [(pattern, (*path, "pattern"))] if isinstance(pattern, str) else []
    by_pattern = item.get("patternProperties")
    if isinstance(by_pattern, dict):
        regexes += [(key, (*path, "patternProperties", key)) for key in by_pattern if isinstance(key, str)]
    for regex, where in regexes:
        try:
            compile_linear(regex)
        except UnsafeRegex as exc:
            raise _invalid(where, f"the regex is refused: {exc}") from None


def _check_text(text: str, path: tuple[Any, ...]) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _invalid(
            path, f"the string holds a lone surrogate (\\u{ord(text[exc.start]):04x}), not valid UTF-8"
        ) from None


def field_path(path: tuple[Any, ...]) -> str:
    """`messages[0].content`, as the providers name fields in their errors."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _invalid(path: tuple[Any, ...], why: str) -> ProviderRequestError:
    name = field_path(path) or "body"
    printable = name.encode("utf-8", errors="backslashreplace").decode("utf-8")
    return ProviderRequestError(f"Invalid value for '{printable}': {why}.", param=printable)
