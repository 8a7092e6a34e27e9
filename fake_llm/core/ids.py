"""Deterministic ids and the injectable clock: same seed and sequence number, same bytes."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


#: Maps every byte to a base62 character (the slight bias towards the first few is irrelevant for ids).
_BYTE_TO_CHAR = bytes((_ALPHABET * 5)[:256], "ascii")


def _digest(seed: int, *parts: object, size: int = 32) -> bytes:
    text = f"{seed}:" + ":".join(map(str, parts))
    return hashlib.blake2b(text.encode(), digest_size=size).digest()


class IdMaker:
    """Makes ids with the real prefixes (`chatcmpl-`, `req_`, `call_`...) from the seed and a sequence number."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._fingerprints: dict[str, str] = {}

    def make(self, prefix: str, seq: int | str, length: int = 29) -> str:
        return prefix + _digest(self.seed, prefix, seq, size=min(length, 64)).translate(_BYTE_TO_CHAR).decode()

    def content_seed(self, body: Mapping[str, Any], rule: str, step: int) -> str:
        """A seed that depends only on what was asked and which reply answers it: identical requests answered by the
        same rule step get identical seeded values (logprobs), whatever came before. How the reply is delivered
        (`stream`, `stream_options`) is left out, so a streamed reply carries the values of a whole one."""
        asked = {key: value for key, value in body.items() if key not in ("stream", "stream_options")}
        canonical = json.dumps(asked, sort_keys=True, separators=(",", ":"), default=str)
        return _digest(self.seed, "content", rule, step, canonical, size=16).hex()

    def fingerprint(self, model: str) -> str:
        """A stable `system_fingerprint` per model and seed."""
        found = self._fingerprints.get(model)
        if found is None:
            if len(self._fingerprints) > 1024:  # bound the cache: model names come from clients
                self._fingerprints.clear()
            found = self._fingerprints[model] = "fp_" + _digest(self.seed, "fp", model, size=5).hex()
        return found


class Clock:
    """Wall-clock seconds for `created` fields, or a frozen instant when `frozen` is given."""

    def __init__(self, frozen: float | None = None, source: Callable[[], float] = time.time) -> None:
        self.frozen = frozen
        self.source = source

    def now(self) -> float:
        return self.frozen if self.frozen is not None else self.source()
