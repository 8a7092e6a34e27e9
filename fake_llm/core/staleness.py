"""Why a request missed a cassette: its recorded rules keep fingerprints (normalised prompt hash, tool-schema hash,
model), and a miss is classified as `prompt edited`, `tool schema changed`, `model changed` or `new`."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fake_llm.core.matching import subject
from fake_llm.core.near_miss import closest, near_miss
from fake_llm.core.normalize import fingerprint
from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import Rule

#: How alike the recorded and the new prompt text must be (difflib ratio) for the miss to count as an edit.
EDIT_SIMILARITY = 0.5
CAUSES = ("prompt edited", "tool schema changed", "model changed", "new")


@dataclass(frozen=True, slots=True)
class Staleness:
    """The cause of a cassette miss and the recorded rule it is a stale version of (None when new)."""

    cause: str
    rule: Rule | None = None
    #: Every change found against that rule, the main cause first (an edited prompt may come with a new model).
    changes: tuple[str, ...] = ()

    @property
    def is_stale(self) -> bool:
        return self.rule is not None


def _recorded_text(rule: Rule) -> str:
    """The prompt text a recorded rule's match quotes: its system prompt and last user message."""
    parts = [lookup.value for lookup in (rule.match.system, rule.match.user) if lookup is not None]
    return "\n".join(parts)


def _changes(rule: Rule, request: ChatRequest) -> list[str]:
    assert rule.fingerprint is not None
    now = fingerprint(request, rule.normalize)
    found = []
    if now.prompt != rule.fingerprint.prompt:
        found.append("prompt edited")
    if now.tools != rule.fingerprint.tools:
        found.append("tool schema changed")
    if now.model != rule.fingerprint.model:
        found.append("model changed")
    return found


def classify_miss(rules: Sequence[Rule], request: ChatRequest) -> Staleness | None:
    """Compare a request no rule answered with the fingerprinted rules of its dialect (None if there are none).

    Same prompt: the tool schemas or the model changed. Otherwise the rule whose quoted prompt text is most alike
    (at the same turn) is the edited one, if alike enough; else the request is new."""
    recorded = [r for r in rules if r.fingerprint is not None and (not r.match.api or request.api in r.match.api)]
    if not recorded:
        return None
    for rule in recorded:
        changes = _changes(rule, request)
        if changes and "prompt edited" not in changes:
            return Staleness(changes[0], rule, tuple(changes))
    best: tuple[float, Rule] | None = None
    for rule in recorded:
        if not _changes(rule, request):
            continue  # recorded against this very request: it missed for another reason (used up, stream flag)
        turn = rule.match.turn
        normalized = subject(rule, request)
        if turn is not None and not (turn[0] <= normalized.turn and (turn[1] is None or normalized.turn <= turn[1])):
            continue
        asked = "\n".join(p for p in (normalized.system if rule.match.system else None, normalized.last_user) if p)
        ratio = difflib.SequenceMatcher(None, _recorded_text(rule), asked).ratio()
        if best is None or ratio > best[0]:
            best = (ratio, rule)
    if best is not None and best[0] >= EDIT_SIMILARITY:
        return Staleness("prompt edited", best[1], tuple(_changes(best[1], request)))
    return Staleness("new")


def miss_details(rules: Sequence[Rule], request: ChatRequest) -> dict[str, Any]:
    """For the journal entry of a request no rule answered: its last user text, the closest rule and every field
    it differs in; against recorded rules, why the cassette missed (the closest rule is then the stale one)."""
    found: dict[str, Any] = {"last_user": request.last_user[:500]}
    stale = classify_miss(rules, request)
    near = near_miss(stale.rule, request) if stale is not None and stale.rule is not None else closest(rules, request)
    if near is not None:
        found.update(near.to_dict())
    if stale is not None:
        found.update(cause=stale.cause, changes=list(stale.changes))
    return found
