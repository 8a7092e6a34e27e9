"""The built-in `normalize:` steps (uuid, iso_datetime, hex_id, tmp_path): patterns for the values that change on
every run of a prompt, each replaced by a stable placeholder."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from fake_llm.model.spec import Normalizer

#: name -> (pattern, placeholder). Order inside a `normalize:` list is the user's; `uuid` before `hex_id` keeps a
#: UUID from being read as hex runs.
BUILTINS: dict[str, tuple[str, str]] = {
    "uuid": (r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", "<uuid>"),
    "iso_datetime": (
        r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b",
        "<datetime>",
    ),
    # At least 8 hex digits with one digit among them, so that words such as `deadbeef` or `facade` survive.
    "hex_id": (r"\b(?:0x)?(?=[0-9a-fA-F]*[0-9])(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b", "<hex>"),
    # POSIX temporary folders (macOS's /private/var/folders too) and Windows' ...\Temp\..., up to whitespace or quotes.
    "tmp_path": (
        r"(?:/private)?/(?:tmp|var/folders|var/tmp)/[^\s'\"`]*|[A-Za-z]:\\[^\s'\"`]*?\\Temp\\[^\s'\"`]*",
        "<tmp>",
    ),
}


def builtin(name: str) -> Normalizer:
    """The built-in normaliser `name` (a KeyError for an unknown one; the schema lists the names)."""
    pattern, placeholder = BUILTINS[name]
    return Normalizer(name, re.compile(pattern), placeholder)


def compile_steps(raw: Sequence[Any]) -> tuple[Normalizer, ...]:
    """Steps given outside a scenario file (built-in names or {regex, replace}); ValueError names a bad one."""
    steps = []
    for item in raw:
        if isinstance(item, str):
            if item not in BUILTINS:
                raise ValueError(f"unknown normalizer {item!r}; built-in ones: {', '.join(BUILTINS)}")
            steps.append(builtin(item))
        elif isinstance(item, Mapping) and set(item) == {"regex", "replace"}:
            try:
                steps.append(Normalizer(item["regex"], re.compile(item["regex"]), item["replace"]))
            except re.error as exc:
                raise ValueError(f"invalid normalize regex {item['regex']!r}: {exc}") from None
        else:
            raise ValueError(f"a normalize step is a built-in name or {{regex, replace}}, got {item!r}")
    return tuple(steps)


def build_steps(raw: Sequence[Any]) -> tuple[tuple[Normalizer, ...], list[tuple[int, str]]]:
    """A schema-valid `normalize:` list as steps, and the index and message of each step whose regex or
    replacement is invalid (a bad group reference fails now, not on the first request)."""
    steps: list[Normalizer] = []
    problems: list[tuple[int, str]] = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            steps.append(builtin(item))
            continue
        try:
            pattern = re.compile(item["regex"])
            pattern.sub(item["replace"], "")
        except (re.error, IndexError) as exc:
            problems.append((i, f"invalid normalize step {item['regex']!r} -> {item['replace']!r}: {exc}"))
            continue
        steps.append(Normalizer(item["regex"], pattern, item["replace"]))
    return tuple(steps), problems
