"""The neutral stream steps the core makes from a planned reply (core/steps.py), before any dialect renders them."""

from __future__ import annotations

from fake_llm.core.steps import Calls, StepOptions, choice_steps, stream_steps
from fake_llm.model.finish import FinishReason
from fake_llm.model.plan import PlannedChoice, PlannedReply, PlannedToolCall, Usage
from fake_llm.model.steps import PIECES, StepKind


def _choice(index: int, text: tuple[tuple[str, ...], ...], **extra: object) -> PlannedChoice:
    tokens = tuple(t for chunk in text for t in chunk)
    return PlannedChoice(index, tokens, FinishReason.STOP, chunks=text, **extra)  # type: ignore[arg-type]


def test_a_choice_streams_reasoning_then_text_then_each_call_opened_and_its_fragments() -> None:
    call = PlannedToolCall("call_1", "lookup", '{"q":1}', ('{"q"', ":1}"), (('{"q"',), (":1}",)))
    choice = _choice(0, (("Hi",), (" there",)), reasoning_chunks=(("hmm",),), tool_calls=(call,))
    pieces = choice_steps(choice)
    assert [(p.kind, p.text, p.call) for p in pieces] == [
        (StepKind.REASONING, "hmm", -1),
        (StepKind.TEXT, "Hi", -1),
        (StepKind.TEXT, " there", -1),
        (StepKind.TOOL_CALL, "", 0),
        (StepKind.ARGUMENTS, '{"q"', 0),
        (StepKind.ARGUMENTS, ":1}", 0),
    ]
    assert [p.piece for p in pieces] == list(range(6))
    assert all(p.kind in PIECES for p in pieces)


def test_a_refusal_streams_as_refusal_pieces() -> None:
    choice = _choice(0, (("No",),), has_text=False, refusal="No")
    assert [p.kind for p in choice_steps(choice)] == [StepKind.REFUSAL]


def test_choices_interleave_piece_by_piece_between_roles_and_finishes_then_usage() -> None:
    reply = PlannedReply(
        (_choice(0, (("a",), ("b",))), _choice(1, (("c",),))), Usage(prompt_tokens=1, completion_tokens=3), "m"
    )
    steps = [(s.kind, s.choice, s.text) for s in stream_steps(reply)]
    assert steps == [
        (StepKind.ROLE, 0, ""),
        (StepKind.ROLE, 1, ""),
        (StepKind.TEXT, 0, "a"),
        (StepKind.TEXT, 1, "c"),
        (StepKind.TEXT, 0, "b"),
        (StepKind.FINISH, 0, ""),
        (StepKind.FINISH, 1, ""),
        (StepKind.USAGE, 0, ""),
    ]


def test_pieces_are_numbered_as_a_dialect_sends_them() -> None:
    call = PlannedToolCall("call_1", "lookup", '{"q":1}', ('{"q"', ":1}"), (('{"q"',), (":1}",)))
    choice = _choice(0, (("Hi",),), reasoning_chunks=(("hmm",),), tool_calls=(call, call), has_text=True)

    def shape(options: StepOptions) -> list[tuple[StepKind, int, int, int]]:
        return [(s.kind, s.call, len(s.tokens), s.piece) for s in choice_steps(choice, options)]

    hidden = shape(StepOptions(reasoning=False, calls=Calls.WHOLE))
    assert hidden == [(StepKind.TEXT, -1, 1, 0), (StepKind.TOOL_CALL, 0, 2, 1), (StepKind.TOOL_CALL, 1, 2, 2)]
    together = shape(StepOptions(reasoning=False, calls=Calls.TOGETHER))
    assert together == [(StepKind.TEXT, -1, 1, 0), (StepKind.TOOL_CALL, -1, 4, 1)]
    apart = shape(StepOptions(calls=Calls.OPENED_APART))
    assert [piece for *_, piece in apart] == [0, 1, -1, 2, 3, -1, 4, 5]
    refusal = _choice(0, (("No",),), has_text=False, refusal="No")
    assert choice_steps(refusal, StepOptions(refusal=False)) == []
