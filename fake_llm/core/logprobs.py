"""Deterministic, well-formed log probabilities for tokens, for clients that ask for `logprobs`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """A token, its log probability, and the most likely alternatives at its position (itself first)."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...]


def _unit(*parts: object) -> float:
    """A stable number in [0, 1) from `parts`."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _alternatives(token: str) -> list[str]:
    stem = token.strip() or token
    lead = token[: len(token) - len(token.lstrip())]
    candidates = [lead + stem.capitalize(), lead + stem.lower(), lead + stem + "s", " " + stem, stem, lead + stem + ","]
    candidates += [f"{lead}{stem}{i}" for i in range(20)]
    return [c for c in dict.fromkeys(candidates) if c != token]


def logprobs_for(tokens: list[str] | tuple[str, ...], top: int, seed: str, offset: int = 0) -> list[TokenLogprob]:
    """One entry per token: the chosen token is always the most likely (logprob in (-1.5, 0]), and `top`
    alternatives follow with strictly lower values. `offset` is the position of the first token."""
    out = []
    for position, token in enumerate(tokens, start=offset):
        chosen = -round(1.5 * _unit(seed, position, token) ** 3, 6)
        alternatives: list[tuple[str, float]] = [(token, chosen)]
        value = chosen
        for rank, other in enumerate(_alternatives(token)[: max(0, top - 1)]):
            value = round(value - 0.5 - 3 * _unit(seed, position, rank), 6)
            alternatives.append((other, value))
        out.append(TokenLogprob(token, chosen, tuple(alternatives[:top])))
    return out
