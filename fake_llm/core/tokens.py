"""Token counting and splitting: one counter feeds usage numbers, truncation at max_tokens and stream chunking."""

from __future__ import annotations

import re
import warnings
from functools import lru_cache
from typing import Protocol

# Pre-tokenisation in the style of the GPT BPE encoders: contractions, a word with its leading space, up to
# three digits, a run of punctuation, whitespace. Each piece counts as one token; words longer than
# _LONG_WORD characters count one token per _LONG_WORD characters (real encoders split rare long words).
# Underscores count as punctuation, and the final `.` guarantees the pieces always add up to the whole text.
_PIECES = re.compile(r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d{1,3}| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+|.""", re.DOTALL)
_LONG_WORD = 8

#: Tokens OpenAI adds per chat message (role and separators) and once to prime the reply.
TOKENS_PER_MESSAGE = 3
TOKENS_REPLY_PRIMING = 3


class Tokenizer(Protocol):
    """Splits text into token strings that concatenate back to the text."""

    name: str

    def split(self, text: str) -> list[str]: ...

    def count(self, text: str) -> int: ...


#: Texts up to this size have their split cached: scripted replies and prompts repeat across requests.
_CACHED_TEXT = 4096


@lru_cache(maxsize=2048)
def _approx_split(text: str) -> tuple[str, ...]:
    tokens: list[str] = []
    for piece in _PIECES.findall(text):
        if len(piece) <= _LONG_WORD:
            tokens.append(piece)
        else:
            tokens.extend(piece[i : i + _LONG_WORD] for i in range(0, len(piece), _LONG_WORD))
    return tuple(tokens)


class ApproxTokenizer:
    """The built-in approximation: fast, dependency-free, within about 15% of o200k on English prose."""

    name = "approx"

    def split(self, text: str) -> list[str]:
        if len(text) <= _CACHED_TEXT:
            return list(_approx_split(text))
        return list(_approx_split.__wrapped__(text))

    def count(self, text: str) -> int:
        if len(text) <= _CACHED_TEXT:
            return len(_approx_split(text))
        return len(_approx_split.__wrapped__(text))


class BpeTokenizer:
    """Exact counts with the `bpe-openai` vocabularies (the `fake-llm[tokens]` extra), offline."""

    def __init__(self, encoding: str) -> None:
        try:
            with warnings.catch_warnings():
                # bpe-openai reads its vocabularies with a deprecated importlib.resources call: harmless, but fatal
                # under `-W error`, which test suites using our plugin often set.
                warnings.simplefilter("ignore", DeprecationWarning)
                import bpe_openai

                self._encoding = bpe_openai.get_encoding(encoding)
        except ImportError:  # pragma: no cover - exercised only without the extra installed
            raise ValueError(f"tokenizer {encoding!r} needs the tokens extra: pip install 'fake-llm[tokens]'") from None
        self.name = encoding

    def split(self, text: str) -> list[str]:
        tokens: list[str] = []
        pending = b""
        for token_bytes in self._encoding.decode_tokens_bytes(self._encoding.encode_ordinary(text)):
            pending += token_bytes
            try:
                tokens.append(pending.decode("utf-8"))
            except UnicodeDecodeError:
                continue  # a multi-byte character spans tokens: keep it whole in the next piece
            pending = b""
        if pending:  # pragma: no cover - encode() of valid text always ends on a character boundary
            tokens.append(pending.decode("utf-8", errors="replace"))
        return tokens

    def count(self, text: str) -> int:
        return len(self._encoding.encode_ordinary(text))


def make_tokenizer(name: str) -> Tokenizer:
    """The tokenizer called `name`: `approx`, or an encoding from bpe-openai such as `o200k_base`."""
    if name == "approx":
        return ApproxTokenizer()
    if name in ("o200k_base", "cl100k_base"):
        return BpeTokenizer(name)
    raise ValueError(f"unknown tokenizer {name!r}: expected approx, o200k_base or cl100k_base")


def count_prompt(tokenizer: Tokenizer, texts: list[str], messages: int) -> int:
    """Prompt tokens the way OpenAI counts chat input: content plus a fixed overhead per message."""
    return sum(tokenizer.count(t) for t in texts) + TOKENS_PER_MESSAGE * messages + TOKENS_REPLY_PRIMING
