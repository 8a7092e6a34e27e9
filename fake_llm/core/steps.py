"""The neutral stream of a planned reply: its steps, in the order every dialect sends them.

Per choice: a role step, its reasoning pieces, its text (or refusal) pieces, then each tool call opened and its
argument fragments, and a finish step; then one usage step. Choices interleave piece by piece (choice 0's first
piece, choice 1's first piece, ...), as OpenAI sends `n` choices."""

from __future__ import annotations

from fake_llm.core.replies import Completion, PlannedChoice
from fake_llm.model.steps import Step, StepKind


def choice_pieces(choice: PlannedChoice) -> list[Step]:
    """The content pieces of one choice, numbered from 0."""
    pieces: list[Step] = []

    def add(kind: StepKind, tokens: tuple[str, ...] = (), call: int = -1) -> None:
        pieces.append(Step(kind, choice.index, tokens, call, len(pieces)))

    for chunk in choice.reasoning_chunks:
        add(StepKind.REASONING, chunk)
    for chunk in choice.chunks:
        add(StepKind.TEXT if choice.has_text else StepKind.REFUSAL, chunk)
    for index, call in enumerate(choice.tool_calls):
        add(StepKind.TOOL_CALL, call=index)
        for chunk in call.chunks:
            add(StepKind.ARGUMENTS, chunk, index)
    return pieces


def stream_steps(completion: Completion) -> list[Step]:
    """Every step of the reply's stream: roles, the choices' pieces interleaved, finishes, then the usage."""
    steps = [Step(StepKind.ROLE, choice.index) for choice in completion.choices]
    per_choice = [choice_pieces(choice) for choice in completion.choices]
    for number in range(max((len(p) for p in per_choice), default=0)):
        steps.extend(pieces[number] for pieces in per_choice if number < len(pieces))
    steps.extend(Step(StepKind.FINISH, choice.index) for choice in completion.choices)
    steps.append(Step(StepKind.USAGE))
    return steps
