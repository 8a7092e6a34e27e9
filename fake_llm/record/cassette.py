"""The cassette: the scenario file `fake-llm record` writes (Cassette, one rule per exchange), the YAML style it is
written in (dump_yaml), and the scrubbing of secrets from what is written."""

from __future__ import annotations

import itertools
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from fake_llm.record.rules import FlowList, FlowMap, rule_name
from fake_llm.scenarios.loader import load_scenarios, parse_scenario

REDACTED = "[redacted]"
#: Shorter secrets are not searched for in what is written, so that a short value cannot scrub ordinary words.
MIN_SECRET = 4
#: The first line of a new cassette (no path in it: cassettes are committed, and paths differ between machines).
HEADER = "# Recorded by `fake-llm record`, one rule per exchange; `fake-llm serve --scenarios FILE` replays them.\n"


# ---------------------------------------------------------------------------------------------- the file


class _Dumper(yaml.SafeDumper):
    """Safe YAML in insertion order, multi-line text as `|` blocks, and never an anchor."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # lists indented under their key, as the bundled scenarios are


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


def _represent_flow_list(dumper: yaml.SafeDumper, value: FlowList) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=True)


def _represent_flow_map(dumper: yaml.SafeDumper, value: FlowMap) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=True)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(FlowList, _represent_flow_list)
_Dumper.add_representer(FlowMap, _represent_flow_map)


def dump_yaml(data: Any, indent: int = 0) -> str:
    """`data` as the recorder writes YAML, every line indented by `indent` spaces."""
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
    return "".join(" " * indent + line if line.strip() else line for line in text.splitlines(keepends=True))


class Cassette:
    """The scenario file being recorded: the rules it held, and the rules recorded now, written after each exchange.

    New rules are appended to the file's text, so hand edits and comments stay; a re-recorded rule (mode `all`)
    is replaced where it stands, which rewrites the file from its data (comments other than the leading ones go)."""

    def __init__(self, path: Path, *, mode: str) -> None:
        self.path = path
        self.mode = mode
        self._lock = threading.Lock()
        if path.is_file():
            load_scenarios([path])  # a broken cassette stops the recorder before anything is forwarded
            self.text = path.read_text(encoding="utf-8")
        else:
            self.text = HEADER + dump_yaml({"name": path.stem}) + "rules:\n"
        self.data: dict[str, Any] = yaml.safe_load(self.text)
        self.data["rules"] = self.data.get("rules") or []
        self.indent = self._append_indent()
        #: Rules recorded now that replace none, and every rule recorded now by its match.
        self.added: list[dict[str, Any]] = []
        self.recorded: dict[str, dict[str, Any]] = {}

    def _append_indent(self) -> int | None:
        """The column of the `rules:` items when new ones can be appended to the text as is, else None."""
        if not self.path.is_file():
            return 2
        node = yaml.compose(self.text)
        key, rules = node.value[-1] if isinstance(node, yaml.MappingNode) and node.value else (None, None)
        if key is None or key.value != "rules" or not isinstance(rules, yaml.SequenceNode) or not rules.value:
            return None
        return None if rules.flow_style else rules.start_mark.column

    def add(self, match: dict[str, Any], reply: dict[str, Any]) -> str:
        """Record one exchange; a match recorded before in this session gets the reply appended to its `replies:`
        (a retried request replays as it happened). Returns the rule's name."""
        key = json.dumps(match, sort_keys=True)
        with self._lock:
            rule = self.recorded.get(key)
            if rule is not None:
                replies = rule.pop("replies", None) or [rule.pop("reply")]
                rule["replies"] = [*replies, reply]
            else:
                old = self.data["rules"]
                index = next((i for i, r in enumerate(old) if r.get("match") == match), None)
                if self.mode == "all" and index is not None:
                    rule = {"name": old[index].get("name") or self._name(match), "match": match, "reply": reply}
                    old[index], self.indent = rule, None
                else:
                    rule = {"name": self._name(match), "match": match, "reply": reply}
                    self.added.append(rule)
                self.recorded[key] = rule
            self._write()
            return str(rule["name"])

    def _name(self, match: Mapping[str, Any]) -> str:
        taken = {r.get("name") for r in [*self.data["rules"], *self.added]}
        base = name = rule_name(match)
        n = 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        return name

    def _write(self) -> None:
        """Write the file (validated first: a bad recording never replaces a good file) through a temporary file."""
        if self.indent is not None:
            text = self.text if self.text.endswith("\n") else self.text + "\n"
            text += dump_yaml(self.added, self.indent) if self.added else ""
        else:
            lines = self.text.splitlines(keepends=True)
            head = "".join(itertools.takewhile(lambda line: line.startswith("#"), lines))
            text = head + dump_yaml({**self.data, "rules": [*self.data["rules"], *self.added]})
        parse_scenario(text, source=str(self.path), base_dir=self.path.parent)  # names are unique by construction
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, self.path)


# ---------------------------------------------------------------------------------------------- redaction


def field_values(value: Any, names: frozenset[str]) -> Iterator[str]:
    """String values of the fields named `names`, anywhere in a request body."""
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).lower() in names and isinstance(item, str):
                yield item
            else:
                yield from field_values(item, names)
    elif isinstance(value, list):
        for item in value:
            yield from field_values(item, names)


#: A key as providers quote it in errors: "Incorrect API key provided: sk-proj-****************wxyz".
_KEY_FRAGMENT = re.compile(r"[A-Za-z0-9_-]{2,}\*{3,}[A-Za-z0-9_-]*|\bsk-[A-Za-z0-9_-]{16,}")


def scrub_secrets(value: Any, secrets: Sequence[str]) -> Any:
    """`value` with every secret, and every key or masked key fragment an upstream message quotes, replaced
    wherever it occurs (mapping and list types kept)."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return _KEY_FRAGMENT.sub(REDACTED, value)
    if isinstance(value, dict):
        return type(value)({k: scrub_secrets(v, secrets) for k, v in value.items()})
    if isinstance(value, list):
        return type(value)(scrub_secrets(v, secrets) for v in value)
    return value
