"""Deterministic ids and the injectable clock: same seed and sequence number, same bytes."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _digest(seed: int, *parts: object) -> int:
    text = ":".join(str(p) for p in (seed, *parts))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=24).digest(), "big")


class IdMaker:
    """Makes ids with the real prefixes (`chatcmpl-`, `req_`, `call_`...) from the seed and a sequence number."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def make(self, prefix: str, seq: int | str, length: int = 29) -> str:
        number = _digest(self.seed, prefix, seq)
        chars = []
        for _ in range(length):
            number, rest = divmod(number, len(_ALPHABET))
            chars.append(_ALPHABET[rest])
        return prefix + "".join(chars)

    def fingerprint(self, model: str) -> str:
        """A stable `system_fingerprint` per model and seed."""
        return f"fp_{_digest(self.seed, 'fp', model):x}"[:13]


class Clock:
    """Wall-clock seconds for `created` fields, or a frozen instant when `frozen` is given."""

    def __init__(self, frozen: float | None = None, source: Callable[[], float] = time.time) -> None:
        self.frozen = frozen
        self.source = source

    def now(self) -> float:
        return self.frozen if self.frozen is not None else self.source()
