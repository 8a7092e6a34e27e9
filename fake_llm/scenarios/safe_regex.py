"""Regexes that come from outside the operator's scenario files (a request's `guided_regex`, a JSON Schema `pattern`
in a request, a rule posted at run time) run on google-re2: linear time in the text, bounded memory, so one request
cannot pin the event loop (issue 11, finding 4). Patterns RE2 cannot run (backreferences, lookaround, repeats past
1000) are refused with the reason. Rules from disk keep Python's `re` and get a warning for catastrophic shapes.
"""

from __future__ import annotations

import re
from typing import Any

import re2  # type: ignore[import-untyped]

from fake_llm.model.spec import Searcher

#: Compiled-program memory RE2 may use per pattern (its default is 8 MiB; a request needs far less).
MAX_PROGRAM_BYTES = 2 * 1024 * 1024
#: Longest pattern accepted from a request.
MAX_PATTERN_CHARS = 2000


class UnsafeRegex(ValueError):
    """A pattern fake-llm will not run for an untrusted caller; the message says why."""


def compile_linear(pattern: str, *, ignore_case: bool = False) -> Searcher:
    """`pattern` compiled by RE2, or UnsafeRegex with the reason (too long, unsupported syntax, too big)."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise UnsafeRegex(f"the pattern is longer than {MAX_PATTERN_CHARS} characters")
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern to stderr
    options.max_mem = MAX_PROGRAM_BYTES
    options.case_sensitive = not ignore_case
    try:
        compiled: Searcher = re2.compile(pattern, options=options)
    except UnicodeEncodeError:
        raise UnsafeRegex("the pattern holds a lone surrogate, which is not valid UTF-8") from None
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        reason = reason.decode("utf-8", errors="replace") if isinstance(reason, bytes) else str(reason)
        raise UnsafeRegex(
            f"not a linear-time regex ({reason}); backreferences and lookaround are not supported"
        ) from None
    return compiled


def full_match(pattern: str, text: str) -> bool:
    """Whether all of `text` matches `pattern` (RE2); UnsafeRegex if the pattern is refused."""
    return compile_linear(pattern).fullmatch(text) is not None


def catastrophic_parts(pattern: str) -> list[str]:
    """Where `pattern` nests an unbounded repeat inside another (`(a+)+`, `(.*)*`, `(a|a)*`-like shapes): the
    backtracking blow-ups of Python's `re`. Empty when the shape is safe or the pattern is not valid."""
    try:
        tree = re._parser.parse(pattern)  # type: ignore[attr-defined]
    except (re.error, RecursionError, OverflowError):
        return []
    found: list[str] = []
    _scan(list(tree), inside_repeat=False, found=found)
    return found


_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}
_UNBOUNDED = 4294967295  # re._parser.MAXREPEAT


def _scan(items: list[Any], *, inside_repeat: bool, found: list[str]) -> None:
    for op, arg in items:
        name = str(op)
        if name in _REPEATS:
            _low, high, body = arg
            unbounded = int(high) >= _UNBOUNDED or int(high) > 100
            if unbounded and inside_repeat and name != "POSSESSIVE_REPEAT":
                found.append("a repeat nested in a repeat")
                return
            _scan(list(body), inside_repeat=inside_repeat or unbounded, found=found)
        elif name == "SUBPATTERN":
            _scan(list(arg[-1]), inside_repeat=inside_repeat, found=found)
        elif name == "BRANCH":
            for branch in arg[1]:
                _scan(list(branch), inside_repeat=inside_repeat, found=found)
        elif name in ("ASSERT", "ASSERT_NOT"):
            _scan(list(arg[1]), inside_repeat=inside_repeat, found=found)
