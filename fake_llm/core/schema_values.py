"""Deterministic example values for JSON Schemas: realistic Faker data that validates against the schema.

Serves structured output and tool-call arguments when a scenario scripts no content for them."""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import jsonschema
from faker import Faker

from fake_llm.core.regex_strings import Node, RegexParser, Unsupported, emit
from fake_llm.core.schema_keywords import count_or, is_multiple, is_number, merge, numeric_bounds, type_list
from fake_llm.core.value_hints import FORMATS, NAMED, NUMERIC, lookup_hint, make_value, singular
from fake_llm.model.spec import Searcher
from fake_llm.scenarios.safe_regex import UnsafeRegex, compile_linear

_SHALLOW = 3  # objects nested less deep than this get every optional property
_MINIMAL_DEPTH = 6  # past this nesting, or when a $ref repeats _MINIMAL_REPEATS times, only required parts are made
_MINIMAL_REPEATS = 3
_HARD_LIMIT = 48  # still nesting here means the required parts recurse forever: no finite instance exists
_ATTEMPTS = 30  # candidates tried for a pattern or a unique array item
#: Generated values stay this small whatever a request's schema asks (`minItems: 1000000000`): past these the schema
#: is refused, as generating it would take the server's memory and time (issue 11, finding 5).
MAX_ITEMS = 1000
MAX_CHARS = 100_000


def generate_value(schema: Mapping[str, Any], *, seed: int | str, root: Mapping[str, Any] | None = None) -> Any:
    """A JSON value valid against `schema`; the same schema and seed always give the same value.

    `root` is the document `$ref`s point into (default: `schema` itself). Unknown keywords are ignored;
    raises ValueError for a schema detected as unsatisfiable (minimum > maximum, `false`, unresolvable $ref...), for a
    malformed one (`required: 5`), and for one asking for more than fake-llm generates (MAX_ITEMS, MAX_CHARS)."""
    document = schema if root is None else root
    try:
        return _Generator(document, seed).value(schema, "", 0, ())
    except (TypeError, AttributeError, KeyError, IndexError) as exc:
        # The schema comes from a request and may have any shape: a keyword of the wrong type (`required: 5`,
        # `properties: []`) is the request's mistake. A metaschema check would be stricter than the generator,
        # which also accepts draft-4 and Gemini-style schemas on purpose.
        raise ValueError(f"the schema is malformed ({type(exc).__name__}: {exc})") from None
    except RecursionError:
        raise ValueError("the schema nests too deeply to generate a value") from None


class _Generator:
    def __init__(self, root: Mapping[str, Any], seed: int | str) -> None:
        self.root = root
        self.rng = random.Random(f"schema-values:{seed}")
        self.fake = Faker("en_US")
        self.fake.seed_instance(f"schema-values:{seed}")
        self._validator: Any = None

    def value(self, schema: Any, name: str, depth: int, refs: tuple[str, ...]) -> Any:
        if depth > _HARD_LIMIT or len(refs) > _HARD_LIMIT:
            raise _no_finite_value(refs)
        if schema is False:
            raise ValueError("schema `false` accepts no value")
        schema, refs = self.resolve(schema if isinstance(schema, Mapping) else {}, refs)
        minimal = depth > _MINIMAL_DEPTH or any(refs.count(r) >= _MINIMAL_REPEATS for r in refs)
        if "const" in schema:
            return schema["const"]
        enum = schema.get("enum")
        if isinstance(enum, list):
            if not enum:
                raise ValueError("an empty enum accepts no value")
            return enum[0] if minimal else self.rng.choice(enum)
        for key in ("oneOf", "anyOf"):
            if isinstance(schema.get(key), list):
                return self.choose(key, schema, name, depth, refs, minimal)
        types = type_list(schema) or ["string"]
        if minimal and "null" in types:
            return None
        kind = self.rng.choice([t for t in types if t != "null"] or types)
        if kind in ("integer", "number"):
            return self.number(schema, name, kind == "integer")
        if kind == "array":
            return self.array(schema, name, depth, refs, minimal)
        if kind == "object":
            return self.object(schema, depth, refs, minimal)
        if kind == "boolean":
            return self.rng.random() < 0.5
        return None if kind == "null" else self.text(schema, name)

    def resolve(self, schema: Mapping[str, Any], refs: tuple[str, ...]) -> tuple[Mapping[str, Any], tuple[str, ...]]:
        """`schema` with its `$ref` replaced by the target (siblings merged in) and its `allOf` merged."""
        while isinstance(ref := schema.get("$ref"), str):
            if len(refs) > _HARD_LIMIT:
                raise _no_finite_value(refs)
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema, refs = merge(self.lookup(ref), rest), (*refs, ref)
        parts = schema.get("allOf")
        if isinstance(parts, list):
            merged: Mapping[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            for part in parts:
                if part is False:
                    raise ValueError("allOf contains `false`, which accepts no value")
                part, refs = self.resolve(part if isinstance(part, Mapping) else {}, refs)
                merged = merge(merged, part)
            schema = merged
        return schema, refs

    def lookup(self, ref: str) -> Mapping[str, Any]:
        base = self.root.get("$id")
        local = ref[len(base) :] if isinstance(base, str) and base and ref.startswith(base) else ref
        node: Any = self.root
        if not local.startswith("#"):
            raise ValueError(f"cannot resolve $ref {ref!r}: only references inside the schema (#/...) are supported")
        for part in local[1:].split("/")[1:] if local != "#" else []:
            key = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and key in node:
                node = node[key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                raise ValueError(f"$ref {ref!r} points to nothing in the schema")
        if node is False:
            raise ValueError(f"$ref {ref!r} points to `false`, which accepts no value")
        return node if isinstance(node, Mapping) else {}

    def choose(
        self, key: str, schema: Mapping[str, Any], name: str, depth: int, refs: tuple[str, ...], minimal: bool
    ) -> Any:
        """A value from one anyOf/oneOf branch: non-null preferred, or when minimal the simplest (null, no $ref)."""
        branches = [b for b in schema[key] if b is not False]
        if not branches:
            raise ValueError(f"{key} has no branch that accepts a value")
        rest = {k: v for k, v in schema.items() if k != key}
        nulls = [b for b in branches if isinstance(b, Mapping) and type_list(b) == ["null"]]
        others = [b for b in branches if b not in nulls]
        if minimal:
            flat = [b for b in others if "$ref" not in json.dumps(b, default=str)]
            order = nulls + flat + [b for b in others if b not in flat]
        else:
            order = self.rng.sample(others, len(others)) + nulls
        found: list[Any] = []
        problem: ValueError | None = None
        for branch in order * 3:  # oneOf: a second draw from a branch may match it alone
            try:  # a branch can clash with the schema around it (allOf of two anyOfs): try the next one
                value = self.value(merge(rest, branch if isinstance(branch, Mapping) else {}), name, depth, refs)
            except ValueError as error:
                problem = problem or error
                continue
            if key == "anyOf" or self.matches_once(value, branches):
                return value
            found.append(value)
        if not found and problem is not None:
            raise problem
        return found[0]  # best effort: every value met more than one oneOf branch

    def matches_once(self, value: Any, branches: list[Any]) -> bool:
        try:
            if self._validator is None:
                self._validator = jsonschema.Draft202012Validator(self.root)
            return sum(bool(self._validator.evolve(schema=b).is_valid(value)) for b in branches) == 1
        except Exception:  # non-standard schemas (Gemini's upper-case types): trust the branch picked
            return True

    def number(self, schema: Mapping[str, Any], name: str, integer: bool) -> int | float:
        lo, lo_open, hi, hi_open = numeric_bounds(schema)
        if lo is not None and hi is not None and (lo > hi or (lo == hi and (lo_open or hi_open))):
            raise ValueError(f"no number lies between minimum {lo} and maximum {hi}")
        step = schema.get("multipleOf")
        step = step if is_number(step) and step > 0 else None
        hint: tuple[float, float, int] = lookup_hint(NUMERIC, name) or (1, 100, 2)
        wlo, whi, decimals = hint

        def inside(v: float) -> bool:
            above = lo is None or v > lo or (v == lo and not lo_open)
            return above and (hi is None or v < hi or (v == hi and not hi_open))

        # The name's plausible range cut to the schema's bounds; failing that, the bounds themselves.
        span = whi - wlo
        fallback_lo = lo if lo is not None else (hi - span if hi is not None else wlo)
        fallback_hi = hi if hi is not None else fallback_lo + span
        hinted = (max(wlo, lo) if lo is not None else wlo, min(whi, hi) if hi is not None else whi)
        for a, b in (hinted, (fallback_lo, fallback_hi)):
            if a > b:
                continue
            if step is None and not integer:
                value = self.rng.uniform(a, b)
                rounded = [round(value, d) for d in (decimals, 2, 4, 6) if d] if decimals else [round(value)]
                candidates: list[float] = [*rounded, value, (a + b) / 2]
                for candidate in candidates:
                    if inside(candidate):
                        return candidate
                continue
            # Whole multiples of the step (integer multiples of p/q are the multiples of p).
            unit = Fraction(str(step or 1))
            unit = Fraction(unit.numerator) if integer else unit
            first, last = math.ceil(Fraction(str(a)) / unit), math.floor(Fraction(str(b)) / unit)
            if first > last:
                continue
            # Random multiples first; float rounding fails jsonschema's test for some, so try more.
            picks = [self.rng.randint(first, last) for _ in range(_ATTEMPTS)]
            for k in picks + list(range(first, min(last, first + _ATTEMPTS) + 1)):
                exact = k * unit
                result = int(exact) if exact.denominator == 1 else float(exact)
                if first <= k <= last and inside(result) and (step is None or is_multiple(result, step)):
                    return result
        raise ValueError(f"no {'integer' if integer else 'number'} multiple of {step or 1} lies between {lo} and {hi}")

    def text(self, schema: Mapping[str, Any], name: str) -> str:
        lo, hi = count_or(schema.get("minLength"), 0), count_or(schema.get("maxLength"), None)
        if lo > MAX_CHARS:
            raise ValueError(f"minLength {lo} is more than fake-llm generates ({MAX_CHARS} characters)")
        if hi is not None and lo > hi:
            raise ValueError(f"minLength {lo} is greater than maxLength {hi}")
        fmt = str(schema.get("format", "")).lower()
        hint = lookup_hint(NAMED, name)
        # A named date (`birthday`) keeps its plausible range under format: date.
        maker = hint if fmt == "date" and hint in ("_birth", "_date") else FORMATS.get(fmt) or hint
        realistic = (
            make_value(maker, self.fake, self.rng) if maker else " ".join(self.fake.words(self.rng.randint(1, 3)))
        )
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            return self.patterned(pattern, realistic, lo, hi)
        return realistic if fmt in FORMATS else self.fit(realistic, lo, hi)

    def fit(self, text: str, lo: int, hi: int | None) -> str:
        while len(text) < lo:
            text += " " + self.fake.word()
        if hi is not None and len(text) > hi:
            text = text[:hi].rstrip()
        return text.ljust(lo, "x")

    def patterned(self, pattern: str, realistic: str, lo: int, hi: int | None) -> str:
        """The realistic value if it matches, else strings generated from the regex, checked with re.search."""
        try:
            regex = _compile(pattern)
        except re.error:
            return self.fit(realistic, lo, hi)  # not a Python regex: nothing can be checked
        try:
            tree: Node | None = RegexParser(pattern).parse()
        except Unsupported:
            tree = None
        fallbacks = [self.fake.password(max(lo, 12)), self.fake.word(), str(self.rng.randint(0, 999)), ""]
        for attempt in range(_ATTEMPTS + 1):
            candidate = realistic if attempt == 0 else fallbacks[attempt % len(fallbacks)]
            if attempt and tree is not None:
                try:  # unbounded repeats grow with the attempts, to reach a minLength
                    grow = 0 if attempt < 10 else max(1, lo * (attempt - 9) // 10)
                    candidate = emit(tree, self.rng, (grow, grow + 4))
                except Unsupported:
                    tree = None
            if regex.search(candidate) and lo <= len(candidate) <= (len(candidate) if hi is None else hi):
                return candidate
        return realistic  # best effort: the pattern is beyond this generator

    def array(
        self, schema: Mapping[str, Any], name: str, depth: int, refs: tuple[str, ...], minimal: bool
    ) -> list[Any]:
        prefix, items = schema.get("prefixItems"), schema.get("items", {})
        if isinstance(items, list):  # drafts 4-7 write tuples as items: [...] plus additionalItems
            prefix, items = items, schema.get("additionalItems", {})
        prefix = prefix if isinstance(prefix, list) else []
        lo, hi = count_or(schema.get("minItems"), 0), count_or(schema.get("maxItems"), None)
        if lo > MAX_ITEMS:
            raise ValueError(f"minItems {lo} is more than fake-llm generates ({MAX_ITEMS})")
        contains = schema.get("contains")
        lo = max(lo, 1) if contains not in (None, False) and not prefix and schema.get("minContains") != 0 else lo
        if items is False:
            hi = len(prefix) if hi is None else min(hi, len(prefix))
        if hi is not None and lo > hi:
            raise ValueError(f"an array needs at least {lo} items but at most {hi} are allowed")
        count = lo if minimal else max(lo, self.rng.randint(1, 3), len(prefix))
        count = count if hi is None else min(count, hi)
        out: list[Any] = []
        seen: set[str] = set()
        for index in range(count):
            sub = prefix[index] if index < len(prefix) else items
            if index == 0 and isinstance(contains, Mapping) and not prefix:
                sub = {"allOf": [sub if isinstance(sub, Mapping) else {}, contains]}
            for _ in range(_ATTEMPTS):
                value = self.value(sub, singular(name), depth + 1, refs)
                key = json.dumps(value, sort_keys=True, default=str)
                if key not in seen or not schema.get("uniqueItems"):
                    break
            else:
                if index >= lo:
                    break
                raise ValueError(f"cannot make {lo} distinct items for an array with uniqueItems")
            seen.add(key)
            out.append(value)
        return out

    def object(self, schema: Mapping[str, Any], depth: int, refs: tuple[str, ...], minimal: bool) -> dict[str, Any]:
        props = schema.get("properties")
        props = props if isinstance(props, Mapping) else {}
        required = [k for k in schema.get("required", ()) if isinstance(k, str)]
        extra = schema.get("additionalProperties", True)
        lo, hi = count_or(schema.get("minProperties"), 0), count_or(schema.get("maxProperties"), None)
        if lo > MAX_ITEMS:
            raise ValueError(f"minProperties {lo} is more than fake-llm generates ({MAX_ITEMS})")
        if hi is not None and len(required) > hi:
            raise ValueError(f"{len(required)} required properties but maxProperties is {hi}")
        optional = [k for k in props if k not in required and props[k] is not False]
        chosen = [*required, *(optional if not minimal and depth < _SHALLOW else [])]
        dependent = schema.get("dependentRequired")
        if isinstance(dependent, Mapping):
            chosen += [d for k in list(chosen) for d in dependent.get(k, ()) if isinstance(d, str)]
        chosen = list(dict.fromkeys(chosen))
        chosen += [k for k in optional if k not in chosen][: max(0, lo - len(chosen))]
        if hi is not None and len(chosen) > hi:
            chosen = [*required, *[k for k in chosen if k not in required][: hi - len(required)]]
        ordered = [k for k in props if k in chosen] + [k for k in chosen if k not in props]
        out = {key: self.value(self.property_schema(schema, key), key, depth + 1, refs) for key in ordered}
        # Maps (pydantic's dict[str, X]) get a couple of made-up keys; so does an object short of minProperties.
        is_map = not props and isinstance(extra, Mapping) and not minimal
        wanted = max(lo - len(out), self.rng.randint(1, 2) if is_map else 0)
        wanted = wanted if hi is None else min(wanted, hi - len(out))
        if wanted > 0 and extra is False:
            raise ValueError(f"minProperties {lo} needs more properties than additionalProperties: false allows")
        names = schema.get("propertyNames")
        for index in range(_ATTEMPTS * 2):
            if wanted <= 0:
                break
            key = self.value(names, "", depth + 1, refs) if isinstance(names, Mapping) else self.fake.word()
            key = key if isinstance(key, str) and key not in out else f"{self.fake.word()}_{index}"
            out[key] = self.value(extra if isinstance(extra, Mapping) else {}, key, depth + 1, refs)
            wanted -= 1
        return out

    def property_schema(self, schema: Mapping[str, Any], key: str) -> Any:
        """The schema a property's value must meet: its own, a matching patternProperties one, or the extras'."""
        props, patterns = schema.get("properties"), schema.get("patternProperties")
        if isinstance(props, Mapping) and key in props:
            return props[key]
        for regex, sub in patterns.items() if isinstance(patterns, Mapping) else ():
            try:
                if _compile(regex).search(key):
                    return sub
            except re.error:
                continue
        extra = schema.get("additionalProperties", True)
        if extra is False:
            raise ValueError(f"property {key!r} is required but additionalProperties is false")
        return extra if isinstance(extra, Mapping) else {}


def _compile(pattern: str) -> Searcher:
    """RE2 when it can run the pattern (linear time); Python's `re` only for what RE2 refuses (lookaround), which
    can only come from the operator's scenario files: request_json.py refuses such patterns in requests."""
    try:
        return compile_linear(pattern)
    except UnsafeRegex:
        return re.compile(pattern)


def schema_error(value: Any, schema: Mapping[str, Any]) -> str | None:
    """Why `value` does not validate against `schema` (`field: message`, the most relevant error), or None."""
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(value))
    if error is None:
        return None
    return f"{'.'.join(str(p) for p in error.absolute_path) or '<value>'}: {error.message}"


def _no_finite_value(refs: tuple[str, ...]) -> ValueError:
    cause = f": required parts keep going through $ref {max(dict.fromkeys(refs), key=refs.count)!r}" if refs else ""
    return ValueError(f"schema has no value nested less than {_HARD_LIMIT} deep{cause}")
