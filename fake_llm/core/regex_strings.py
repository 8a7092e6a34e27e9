"""Random strings that match a regex: a parser for the common regex subset and a sampler over the parsed tree,
used for JSON-Schema `pattern` (lookaround, backreferences and \\p classes are unsupported)."""

from __future__ import annotations

import random
import re
from typing import Any


class Unsupported(Exception):
    """A regex feature the generator does not produce strings for (lookaround, backreference, \\p)."""


Node = tuple[Any, ...]
_PRINTABLE = ((32, 126),)
_CLASSES: dict[str, tuple[tuple[int, int], ...]] = {
    "d": ((48, 57),),
    "w": ((48, 57), (65, 90), (95, 95), (97, 122)),
    "s": ((32, 32),),
}
_BRACES = re.compile(r"\{(\d*)(,?)(\d*)\}")


def _complement(ranges: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    """Printable ASCII outside `ranges`: what `[^...]`, `\\D` and friends produce."""
    chars = [c for c in range(32, 127) if not any(a <= c <= b for a, b in ranges)]
    if not chars:
        raise Unsupported
    return tuple((c, c) for c in chars)


class RegexParser:
    """Parses the common regex subset into ("lit"|"set"|"seq"|"alt"|"rep") nodes."""

    def __init__(self, pattern: str) -> None:
        self.p, self.i = pattern, 0

    def parse(self) -> Node:
        node = self.alternation()
        if self.i < len(self.p):
            raise Unsupported
        return node

    def peek(self, ahead: int = 0) -> str:
        return self.p[self.i + ahead] if self.i + ahead < len(self.p) else ""

    def alternation(self) -> Node:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.i += 1
            branches.append(self.sequence())
        return ("alt", branches) if len(branches) > 1 else branches[0]

    def sequence(self) -> Node:
        items = []
        while self.peek() not in ("", "|", ")"):
            items.append(self.quantified(self.atom()))
        return ("seq", items)

    def atom(self) -> Node:
        c = self.p[self.i]
        self.i += 1
        if c == "(":
            if flags := re.match(r"\?[aiLmsux-]+\)", self.p[self.i :]):
                self.i += flags.end()  # inline flags such as (?i): generated text matches regardless
                return ("seq", [])
            if named := re.match(r"\?:|\?P?<\w+>", self.p[self.i :]):
                self.i += named.end()
            elif self.peek() == "?":
                raise Unsupported  # lookaround, conditional
            node = self.alternation()
            if self.peek() != ")":
                raise Unsupported
            self.i += 1
            return node
        if c == "[":
            return self.char_class()
        if c in "^$":
            return ("seq", [])
        if c == ".":
            return ("set", _PRINTABLE)
        if c == "\\":
            return self.escape()
        if c in "*+?" or (c == "{" and _BRACES.match(self.p, self.i - 1)):
            raise Unsupported
        return ("lit", c)

    def escape(self) -> Node:
        c = self.peek()
        self.i += 1
        if not c or c.isdigit():
            raise Unsupported  # a trailing backslash, a backreference
        if c.lower() in _CLASSES:
            ranges = _CLASSES[c.lower()]
            return ("set", ranges if c.islower() else _complement(ranges))
        if c in "AZzbB":
            return ("seq", [])  # anchors and word boundaries; the final re.search check keeps us honest
        if c in "ntrfv":
            return ("lit", {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v"}[c])
        if c in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[c]
            digits = self.p[self.i : self.i + width]
            self.i += width
            return ("lit", chr(int(digits, 16)))
        if c.isalnum():
            raise Unsupported  # \p{...}, \N{...} and other escapes this generator does not know
        return ("lit", c)

    def class_item(self) -> tuple[tuple[int, int], ...]:
        c = self.p[self.i]
        self.i += 1
        node = self.escape() if c == "\\" else ("lit", c)
        if node[0] == "set":
            return tuple(node[1])
        if node[0] != "lit":
            raise Unsupported
        start = ord(node[1])
        if self.peek() == "-" and self.peek(1) not in ("]", ""):
            self.i += 1
            end = self.class_item()
            if len(end) != 1 or end[0][0] != end[0][1] or end[0][0] < start:
                raise Unsupported
            return ((start, end[0][0]),)
        return ((start, start),)

    def char_class(self) -> Node:
        negate = self.peek() == "^"
        self.i += negate
        ranges: list[tuple[int, int]] = []
        while not ranges or self.peek() != "]":
            if not self.peek():
                raise Unsupported
            ranges.extend(self.class_item())
        self.i += 1
        return ("set", _complement(tuple(ranges)) if negate else tuple(ranges))

    def quantified(self, atom: Node) -> Node:
        while True:
            c = self.peek()
            if c in ("*", "+", "?") and c:
                self.i += 1
                lo, hi = {"*": (0, None), "+": (1, None), "?": (0, 1)}[c]
            elif c == "{" and (m := _BRACES.match(self.p, self.i)) and (m[1] or m[3]):
                self.i = m.end()
                lo, hi = int(m[1] or 0), (int(m[3]) if m[3] else None) if m[2] else int(m[1])
            else:
                return atom
            if self.peek() in ("?", "+") and self.peek():
                self.i += 1  # lazy or possessive: same language
            atom = ("rep", atom, lo, hi)


def emit(node: Node, rng: random.Random, spread: tuple[int, int]) -> str:
    """A random string of the language of `node`; unbounded repeats add `spread` (low, high) extra copies."""
    kind = node[0]
    if kind == "lit":
        return str(node[1])
    if kind == "seq":
        return "".join(emit(n, rng, spread) for n in node[1])
    if kind == "alt":
        return emit(rng.choice(node[1]), rng, spread)
    if kind == "rep":
        _, inner, lo, hi = node
        count = lo + rng.randint(*spread) if hi is None else rng.randint(lo, min(hi, lo + max(spread[1], 8)))
        return "".join(emit(inner, rng, spread) for _ in range(count))
    # A set: printable ASCII when the class has some (readable, and never a lone surrogate), else any member.
    ranges = [(max(a, 32), min(b, 126)) for a, b in node[1] if a <= 126 and b >= 32] or [
        (a, b) for a, b in node[1] if b < 0xD800 or a > 0xDFFF
    ]
    if not ranges:
        raise Unsupported
    pick = rng.randrange(sum(b - a + 1 for a, b in ranges))
    for a, b in ranges:
        if pick <= b - a:
            return chr(a + pick)
        pick -= b - a + 1
    raise AssertionError("unreachable")  # pragma: no cover
