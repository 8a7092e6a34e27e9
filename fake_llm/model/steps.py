"""Step: one neutral stream step (a role, a piece of text, refusal or reasoning, a tool call opening or a fragment of
its arguments, a finish, the usage), the same for every dialect.

The core turns a planned reply into a list of steps (core/steps.py); each dialect's renderer maps steps to its wire
events, and fault positions count the steps that are content pieces (`piece >= 0`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class StepKind(Enum):
    """What a stream step says."""

    ROLE = "role"
    REASONING = "reasoning"
    TEXT = "text"
    #: A piece of a refusal (a choice that refuses streams its refusal like text).
    REFUSAL = "refusal"
    #: A tool call opens (its id and name, no arguments yet).
    TOOL_CALL = "tool_call"
    #: A fragment of a tool call's JSON arguments.
    ARGUMENTS = "arguments"
    FINISH = "finish"
    USAGE = "usage"


#: The kinds that are content pieces: fault positions (`error_after`, `split_at` ...) count these.
PIECES = frozenset({StepKind.REASONING, StepKind.TEXT, StepKind.REFUSAL, StepKind.TOOL_CALL, StepKind.ARGUMENTS})


@dataclass(frozen=True, slots=True)
class Step:
    """One neutral stream step of choice `choice`."""

    kind: StepKind
    choice: int = 0
    #: The tokens of a piece (empty for a role, a tool call opening, a finish or the usage).
    tokens: tuple[str, ...] = ()
    #: The tool call (its index among the choice's calls) a TOOL_CALL or ARGUMENTS step belongs to, else -1.
    call: int = -1
    #: The piece's number among its choice's content pieces (0, 1, ...); -1 for a role, finish or usage step.
    piece: int = -1
    #: The tokens joined (made once, by the core, for every renderer).
    text: str = ""
