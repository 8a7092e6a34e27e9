"""When each event of a stream is due: time to first token, pacing, seeded jitter, stalls and scripted timelines.

Pure planning, no sleeping: the plan is journaled, and http/sse.py (EventStreamResponse) carries it out.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from fake_llm.model.spec import StreamSpec
from fake_llm.model.stream import Event


def schedule(events: Sequence[Event], spec: StreamSpec, rng: random.Random | None) -> list[Event]:
    """`events` with `at_ms` set: the first event after `ttft_ms`, each later content step after its gap
    (`chunks[i].after_ms`, else `chunk_ms` or the `tokens_per_second` pace) plus seeded jitter, and `stall_ms`
    added before event number `stall_after`. Times are offsets from the start of the stream, never decreasing."""
    if not spec.is_timed or rng is None:
        return list(events)
    timeline = [chunk.after_ms for chunk in spec.chunks]
    # Whatever precedes the first content (the role chunk) goes out with it, at the time to first token.
    now = spec.ttft_ms + (timeline[0] if timeline else 0.0)
    step = 0
    planned = list(events)
    for index, event in enumerate(planned):
        if event.step > step:
            step = event.step
            now += _gap(spec, step, event, timeline, rng)
        if spec.stall_ms and index == spec.stall_after:
            now += spec.stall_ms
        event.at_ms = round(now, 3)  # the events are this request's own: set in place, no copies
    return planned


def _gap(spec: StreamSpec, step: int, event: Event, timeline: list[float], rng: random.Random) -> float:
    """The wait before content step `step` (> 0), after the previous step."""
    if timeline:
        return timeline[step] if step < len(timeline) else 0.0
    gap = max(event.tokens, 1) / spec.tokens_per_second * 1000.0 if spec.tokens_per_second else spec.chunk_ms
    if spec.jitter_ms:
        gap = max(0.0, gap + rng.uniform(-spec.jitter_ms, spec.jitter_ms))
    return gap
