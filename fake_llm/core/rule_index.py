"""RuleIndex: which rules can possibly match a request, found by their cheapest exact keys instead of running every
rule's checks; and Reasons, the why-not of the rules the index skipped, worked out only when someone reads it.

With 10k rules and the match on the last, the Selector would run 10k rules' checks (regexes included) per request.
A rule whose last user message must *equal* or *contain* a text (with or without ignore_case), or whose model is an
exact name, cannot match a request that fails that key, so it is only tried when the key holds: equality and model
names by a dict lookup, substrings by one `in` test each (no regex, no check functions). Every other rule (regexes,
globs, rules with `times`, whose use count is state; see `indexable` for the rest) is always tried.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence
from typing import overload

from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import Match, Rule

#: Characters that make a `model` pattern a glob rather than an exact name (fnmatch's).
_GLOB = frozenset("*?[")


class RuleIndex:
    """Positions (in the order rules are tried) of the rules worth trying for a request."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.size = len(rules)
        #: Last user message -> rules wanting it to equal that text; `folded`: compared casefolded (ignore_case).
        self.by_user: dict[str, list[int]] = {}
        self.by_user_folded: dict[str, list[int]] = {}
        self.by_model: dict[str, list[int]] = {}
        #: Rules whose last user message must contain a text (casefolded: ignoring case).
        self.user_contains = Substrings()
        self.user_contains_folded = Substrings()
        #: Rules the index cannot rule out: always tried.
        self.always: list[int] = []
        for position, rule in enumerate(rules):
            match, user = rule.match, rule.match.user
            if rule.times is not None or not indexable(rule):
                self.always.append(position)
            elif user is not None and user.pattern is None and user.kind == "equals":
                if user.ignore_case:
                    self.by_user_folded.setdefault(user.value.casefold(), []).append(position)
                else:
                    self.by_user.setdefault(user.value, []).append(position)
            elif user is not None and user.pattern is None and user.kind == "contains":
                if user.ignore_case:
                    self.user_contains_folded.add(user.value.casefold(), position)
                else:
                    self.user_contains.add(user.value, position)
            elif match.model and not any(_GLOB & set(pattern) for pattern in match.model):
                for name in set(match.model):
                    self.by_model.setdefault(name, []).append(position)
            else:
                self.always.append(position)

    @property
    def is_trivial(self) -> bool:
        """Every rule is always tried: the index cannot help."""
        return len(self.always) == self.size

    def candidates(self, request: ChatRequest) -> list[int]:
        """Positions of the rules that may match `request`, in order; the others certainly do not."""
        text = request.last_user
        folded = text.casefold() if self.by_user_folded or self.user_contains_folded.values else text
        groups = [
            self.always,
            self.by_user.get(text, []),
            self.by_user_folded.get(folded, []),
            self.by_model.get(request.model, []),
            self.user_contains.found_in(text),
            self.user_contains_folded.found_in(folded),
        ]
        return list(heapq.merge(*(group for group in groups if group)))


def indexable(rule: Rule) -> bool:
    """Whether the index may leave `rule` out by the raw request's keys. Not a rule with `normalize:` (it matches
    the request as its steps rewrite it, which the raw text need not show), nor one with a recording's fingerprint
    or an `after:` order: their reasons (the tool schemas, the order) must come from the same checks as the walk's.
    """
    return not rule.normalize and rule.fingerprint is None and rule.after is None


class Substrings:
    """Which of many texts occur in a request's text. With more texts than the request has characters, each text is
    filed under its rarest 3-character window, and each window of the request is looked up (10k rules: a few dozen
    lookups and checks for a short prompt, not 10k `in` tests); otherwise each text is tested."""

    def __init__(self) -> None:
        self.values: list[tuple[str, int]] = []
        self._by_window: dict[str, list[tuple[str, int, int]]] | None = None

    def add(self, value: str, position: int) -> None:
        self.values.append((value, position))
        self._by_window = None

    def _index(self) -> dict[str, list[tuple[str, int, int]]]:
        """window -> (text, position, offset of the window in the text), each text under its rarest window."""
        counts: dict[str, int] = {}
        for value, _ in self.values:
            for window in {value[i : i + 3] for i in range(len(value) - 2)}:
                counts[window] = counts.get(window, 0) + 1
        by_window: dict[str, list[tuple[str, int, int]]] = {}
        for value, position in self.values:
            if len(value) >= 3:
                offset = min(range(len(value) - 2), key=lambda i: counts[value[i : i + 3]])
                by_window.setdefault(value[offset : offset + 3], []).append((value, position, offset))
            else:  # too short for a window: under "", tested against every request
                by_window.setdefault("", []).append((value, position, 0))
        return by_window

    def found_in(self, text: str) -> list[int]:
        """Positions of the texts that occur in `text`, in order."""
        if len(text) >= len(self.values):
            return [position for value, position in self.values if value in text]
        if self._by_window is None:
            self._by_window = self._index()
        by_window = self._by_window
        hits = {position for value, position, _ in by_window.get("", ()) if value in text}
        for start in range(len(text) - 2):
            for value, position, offset in by_window.get(text[start : start + 3], ()):
                if start >= offset and text.startswith(value, start - offset):
                    hits.add(position)
        return sorted(hits)


class Reasons(Sequence[tuple[str, str]]):
    """(rule, why it did not match) for every rule before the chosen one, in order. Rules the selector tried have
    their reason at once; those the index skipped get theirs from `skipped()` on first read (a miss message, the
    journal, an assertion), which a request matched on its first candidate usually never needs."""

    def __init__(
        self, tried: list[tuple[int, str, str]], skipped: Callable[[], list[tuple[int, str, str]]] | None = None
    ) -> None:
        self._tried = tried
        self._skipped = skipped
        self._items: tuple[tuple[str, str], ...] | None = None

    def _all(self) -> tuple[tuple[str, str], ...]:
        if self._items is None:
            late = self._skipped() if self._skipped is not None else []
            self._items = tuple((name, why) for _, name, why in heapq.merge(self._tried, late))
        return self._items

    @overload
    def __getitem__(self, index: int) -> tuple[str, str]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[str, str]]: ...
    def __getitem__(self, index: int | slice) -> tuple[str, str] | Sequence[tuple[str, str]]:
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())

    def __bool__(self) -> bool:
        return bool(self._tried) or len(self) > 0

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Reasons | list | tuple):
            return list(self._all()) == list(other)
        return NotImplemented

    def __deepcopy__(self, memo: dict[int, object]) -> list[tuple[str, str]]:
        # dataclasses.asdict (the journal's to_dict) deep-copies fields: a plain list, not the rules behind it.
        return list(self._all())

    def __hash__(self) -> int:
        return hash(self._all())

    def __repr__(self) -> str:
        return repr(list(self._all()))


def skipped_reasons(
    explain: Callable[[Match, ChatRequest], tuple[str | None, dict[str, str]]],
    rules: Sequence[Rule],
    winner: int,
    tried: frozenset[int],
    only: str | None,
    disabled: frozenset[str],
    request: ChatRequest,
) -> list[tuple[int, str, str]]:
    """(position, rule, reason) of the rules before `winner` that the index left out, as the full walk gives them."""
    out = []
    for at in range(winner):
        rule = rules[at]
        off = (rule.scenario != only) if only is not None else (rule.scenario in disabled)
        if at not in tried and not off:
            out.append((at, rule.name, str(explain(rule.match, request)[0])))
    return out


def reasons_of(pairs: list[tuple[str, str]]) -> Reasons:
    return Reasons([(n, name, why) for n, (name, why) in enumerate(pairs)])
