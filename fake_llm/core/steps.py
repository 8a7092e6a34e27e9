"""The neutral stream of a planned reply: its steps, in the order every dialect sends them.

Per choice: a role step, its reasoning pieces, its text (or refusal) pieces, then each tool call opened and its
argument fragments, and a finish step; then one usage step. Choices interleave piece by piece (choice 0's first
piece, choice 1's first piece, ...), as OpenAI sends `n` choices. A dialect that sends less (no reasoning, whole
tool calls) says so with StepOptions, so the pieces numbered here are exactly the pieces it sends: fault positions
count them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from fake_llm.model.plan import PlannedChoice, PlannedReply
from fake_llm.model.steps import Step, StepKind


class Calls(Enum):
    """How a dialect streams tool calls."""

    #: Each call opened (a TOOL_CALL step), then its arguments in fragments (ARGUMENTS steps): OpenAI, Anthropic.
    FRAGMENTS = "fragments"
    #: Each call opened by a TOOL_CALL step that is no piece (the dialect opens it with an item event carrying no
    #: content: Responses, realtime, Cohere), then its fragments.
    OPENED_APART = "opened_apart"
    #: Each call whole in one TOOL_CALL step carrying all its argument tokens (Gemini, Mistral).
    WHOLE = "whole"
    #: Every call of the choice in one TOOL_CALL step (`call` -1) carrying all their tokens (Ollama).
    TOGETHER = "together"


@dataclass(frozen=True, slots=True)
class StepOptions:
    """What of a reply a dialect's stream carries."""

    #: False when the reasoning is not sent (hidden thinking: it still counts in the usage).
    reasoning: bool = True
    #: False when a refusal is not streamed (the dialect has no refusal field).
    refusal: bool = True
    calls: Calls = Calls.FRAGMENTS
    #: A reply with nothing to send still sends one empty text piece, and a call without argument fragments one
    #: empty fragment (Bedrock Converse: every content block gets a delta).
    empty_pieces: bool = False


DEFAULT = StepOptions()


def choice_steps(choice: PlannedChoice, options: StepOptions = DEFAULT) -> list[Step]:
    """The content steps of one choice, its pieces numbered from 0."""
    pieces: list[Step] = []

    count = 0

    def add(kind: StepKind, tokens: tuple[str, ...] = (), call: int = -1) -> None:
        nonlocal count
        pieces.append(Step(kind, choice.index, tokens, call, count, "".join(tokens)))
        count += 1

    for chunk in choice.reasoning_chunks if options.reasoning else ():
        add(StepKind.REASONING, chunk)
    if choice.has_text or options.refusal:
        for chunk in choice.chunks:
            add(StepKind.TEXT if choice.has_text else StepKind.REFUSAL, chunk)
    if options.empty_pieces and not (pieces or choice.tool_calls):
        add(StepKind.TEXT)
    if options.calls is Calls.TOGETHER:
        if choice.tool_calls:
            add(StepKind.TOOL_CALL, tuple(t for call in choice.tool_calls for t in call.tokens))
        return pieces
    for index, call in enumerate(choice.tool_calls):
        if options.calls is Calls.WHOLE:
            add(StepKind.TOOL_CALL, call.tokens, index)
            continue
        if options.calls is Calls.OPENED_APART:
            pieces.append(Step(StepKind.TOOL_CALL, choice.index, call=index))
        else:
            add(StepKind.TOOL_CALL, call=index)
        for chunk in call.chunks or (((),) if options.empty_pieces else ()):
            add(StepKind.ARGUMENTS, chunk, index)
    return pieces


def stream_steps(completion: PlannedReply, options: StepOptions = DEFAULT) -> list[Step]:
    """Every step of the reply's stream: roles, the choices' pieces interleaved, finishes, then the usage."""
    steps = [Step(StepKind.ROLE, choice.index) for choice in completion.choices]
    per_choice = [choice_steps(choice, options) for choice in completion.choices]
    for number in range(max((len(p) for p in per_choice), default=0)):
        steps.extend(pieces[number] for pieces in per_choice if number < len(pieces))
    steps.extend(Step(StepKind.FINISH, choice.index) for choice in completion.choices)
    steps.append(Step(StepKind.USAGE))
    return steps
