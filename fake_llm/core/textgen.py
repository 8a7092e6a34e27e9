"""Deterministic Faker prose of an exact length in words or tokens, for `generate:` replies, and request seeds."""

from __future__ import annotations

import hashlib
import json
import random

from faker import Faker

from fake_llm.core.tokens import ApproxTokenizer, Tokenizer

# Short common words, one token each in the approximate tokenizer and in the real BPE vocabularies: used to
# fill the last token or two when the next word of the prose would overshoot the count.
_FILLERS = ("and", "the", "it", "so", "we", "is", "a", "to", "on", "in")


def request_seed(global_seed: int, *parts: object) -> str:
    """A stable seed from the global seed and request parts (model, messages...), the same in every process."""
    text = json.dumps([global_seed, *parts], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def generate_text(
    *, seed: int | str, words: int | None = None, tokens: int | None = None, tokenizer: Tokenizer | None = None
) -> str:
    """Paragraphs of Faker sentences: exactly `words` whitespace-separated words, or exactly `tokens` tokens as
    `tokenizer` (default: the approximate one) counts them. Ends with a period when there is room for one."""
    if (words is None) == (tokens is None):
        raise ValueError("generate_text needs exactly one of words or tokens")
    size = words if words is not None else tokens
    if size is None or size < 0:
        raise ValueError(f"generate_text needs a length of 0 or more, not {size}")
    if size == 0:
        return ""
    pieces = _prose(seed, size)
    if words is not None:
        return _ending("".join(pieces[:words]))
    return _exact_tokens(pieces, size, tokenizer or ApproxTokenizer())


def _prose(seed: int | str, count: int) -> list[str]:
    """At least `count` words of prose, each but the first with the separator before it (space or paragraph break)."""
    fake = Faker("en_US")
    fake.seed_instance(f"textgen:{seed}")
    rng = random.Random(f"textgen:{seed}")
    pieces: list[str] = []
    while len(pieces) < count:
        paragraph = " ".join(fake.sentence(nb_words=rng.randint(6, 16)) for _ in range(rng.randint(3, 6))).split()
        pieces.append(("\n\n" if pieces else "") + paragraph[0])
        pieces.extend(" " + word for word in paragraph[1:])
    return pieces


def _ending(text: str) -> str:
    """`text` ending in a period, unless it is a single word (where the period would be half the text)."""
    text = text.rstrip(",;:")
    return text if " " not in text else text.rstrip(".!?") + "."


def _exact_tokens(pieces: list[str], target: int, tokenizer: Tokenizer) -> str:
    # The longest run of whole words (ended with a period) that fits, by bisection on whole-text counts:
    # counts are not additive across word boundaries in every tokenizer.
    low, high = 1, len(pieces)
    while low < high:
        middle = (low + high + 1) // 2
        if tokenizer.count(_ending("".join(pieces[:middle]))) <= target:
            low = middle
        else:
            high = middle - 1
    text = _ending("".join(pieces[:low]))
    # Then close the gap with the best-fitting of the next words (or a short common one) before the period.
    spare = [*(p.strip(" \n.").lower() for p in pieces[low : low + 40]), *_FILLERS]
    for _ in range(target + 8):
        count = tokenizer.count(text)
        if count == target:
            return text
        if count > target:  # a first word longer than the whole budget
            text = text[:-1]
            continue
        if not text.endswith(".") and tokenizer.count(text + ".") <= target:
            text += "."
            continue
        body, closer = text.removesuffix("."), None
        for word in spare:
            option = f"{body} {word}."
            option_count = tokenizer.count(option)
            if option_count == target:
                return option
            closer = option if closer is None and option_count < target else closer
        if closer is None:
            break
        text = closer
    # A tokenizer whose counts jump by more than one whatever we add: cut its own tokens, the closest we can get.
    return "".join(tokenizer.split(text)[:target])
