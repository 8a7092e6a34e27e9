"""Seeded chaos: which faults a request gets, drawn from (seed, rule, use) so that one seed replays a run exactly,
and every draw is written to the journal."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

from fake_llm.model.spec import ChaosSpec, StreamSpec

#: The draws, always made in this order (a changed rate never shifts the other draws).
KINDS = ("error", "disconnect", "stall", "malformed")


@dataclass(frozen=True, slots=True)
class ChaosDraw:
    """The faults one request gets. `position` (0..1) says where in the answer a fault falls."""

    seed: int
    error: bool = False
    disconnect: bool = False
    stall: bool = False
    malformed: bool = False
    position: float = 0.0
    notes: tuple[str, ...] = ()


def draw(spec: ChaosSpec, seed: int, rule: str, use: int) -> ChaosDraw:
    """The draws of the `use`-th request a rule answers (1-based), with a journal note for each."""
    rng = random.Random(f"fake-llm-chaos:{seed}:{rule}:{use}")
    rates = {
        "error": spec.error_rate,
        "disconnect": spec.disconnect_rate,
        "stall": spec.stall_rate,
        "malformed": spec.malformed_rate,
    }
    rolls = {kind: rng.random() for kind in KINDS}
    position = rng.random()
    hit = {kind: rates[kind] > 0 and rolls[kind] < rates[kind] for kind in KINDS}
    notes = [f"chaos seed={seed} use={use}"]
    for kind in KINDS:
        if rates[kind] > 0:
            verdict = "< {:g}: yes" if hit[kind] else ">= {:g}: no"
            notes.append(f"{kind} roll {rolls[kind]:.4f} " + verdict.format(rates[kind]))
    # An injected error replaces the answer: the other faults have nothing left to break.
    if hit["error"]:
        hit.update(disconnect=False, stall=False, malformed=False)
    return ChaosDraw(seed, position=round(position, 4), notes=tuple(notes), **hit)


def break_stream(stream: StreamSpec, chaos: ChaosSpec, found: ChaosDraw, events: int) -> StreamSpec:
    """The stream spec with the drawn faults at the drawn position: a stall before, a malformed chunk at, or a
    disconnect after chunk 1..events-1 (never before the role chunk, so the client has started reading)."""
    at = 1 + int(found.position * max(events - 1, 1))
    if found.stall:
        stream = dataclasses.replace(stream, stall_ms=stream.stall_ms + chaos.stall_ms, stall_after=at)
    if found.malformed:
        stream = dataclasses.replace(stream, malformed_at=at)
    if found.disconnect:
        stream = dataclasses.replace(stream, disconnect_after=at)
    return stream
