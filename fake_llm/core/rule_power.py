"""The pipeline's steps for a rule's Python reply function and its seeded chaos: the reply to send instead of the
scripted one, the draws, and how a drawn fault breaks a JSON body (streams break through core/chaos.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from fake_llm.core.chaos import ChaosDraw, break_stream, draw
from fake_llm.core.outcomes import Seen
from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import ChaosSpec, Reply, Rule


def prepare_reply(
    rule: Rule,
    reply: Reply,
    request: ChatRequest,
    use: int,
    chaos_seed: int,
    seen: Seen,
    python_reply: Callable[[Rule, ChatRequest], Reply],
) -> tuple[Reply, Seen, ChaosDraw | None]:
    """The reply of the `use`-th request `rule` answers: its Python function's (through `python_reply`), then
    chaos's error if one is drawn; `seen` gets the summary and the draws."""
    if rule.reply_function is not None:
        reply = python_reply(rule, request)
        name = getattr(rule.reply_function, "__qualname__", None) or repr(rule.reply_function)
        seen = replace(seen, reply=f"python {name}: {reply.summary()}")
    if rule.chaos is None:
        return reply, seen, None
    found = draw(rule.chaos, rule.chaos.seed if rule.chaos.seed is not None else chaos_seed, rule.name, use)
    seen = replace(seen, chaos=found.notes)
    if found.error:  # an injected error replaces the answer
        reply = Reply(error=rule.chaos.error, headers=reply.headers)
        seen = replace(seen, reply=reply.summary(), chaos_faults=("chaos: error",))
    return reply, seen, found


def break_body(seen: Seen, found: ChaosDraw | None, spec: ChaosSpec | None) -> tuple[Seen, float | None, bool]:
    """A JSON body's drawn faults: `seen` with their names (and a stall's delay), where to cut the body, and
    whether to drop the connection midway."""
    if found is None or spec is None:
        return seen, None, False
    names = [f"chaos: body cut at {found.position:.4f} of its length"] if found.malformed else []
    names += ["chaos: connection dropped midway"] if found.disconnect else []
    if found.stall:
        names.append(f"chaos: stall {spec.stall_ms:g} ms")
        seen = replace(seen, delay_ms=seen.delay_ms + spec.stall_ms)
    return replace(seen, chaos_faults=tuple(names)), found.position if found.malformed else None, found.disconnect


def break_stream_reply(
    reply: Reply, found: ChaosDraw | None, spec: ChaosSpec | None, events: Callable[[], int]
) -> Reply:
    """The reply with its `stream:` broken as drawn; `events` counts the stream's events (only asked when needed)."""
    if found is None or spec is None:
        return reply
    return replace(reply, stream=break_stream(reply.stream, spec, found, events()))
