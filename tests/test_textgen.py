"""generate_text and request_seed: exact lengths, determinism, prose that reads like text."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from fake_llm.core.textgen import generate_text, request_seed
from fake_llm.core.tokens import ApproxTokenizer, Tokenizer, make_tokenizer

LENGTHS = (1, 2, 3, 7, 40, 120, 513)
SEEDS = (0, 1, "9f2c")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("words", LENGTHS)
def test_exact_word_count(words: int, seed: int | str) -> None:
    assert len(generate_text(seed=seed, words=words).split()) == words


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("tokens", LENGTHS)
def test_exact_token_count_with_the_default_tokenizer(tokens: int, seed: int | str) -> None:
    assert ApproxTokenizer().count(generate_text(seed=seed, tokens=tokens)) == tokens


def test_every_token_count_up_to_150_is_reached() -> None:
    tokenizer = ApproxTokenizer()
    assert all(tokenizer.count(generate_text(seed=n, tokens=n)) == n for n in range(151))


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
@pytest.mark.parametrize("tokens", [3, 17, 64, 300])
def test_exact_token_count_with_a_bpe_tokenizer(encoding: str, tokens: int) -> None:
    pytest.importorskip("bpe_openai")
    tokenizer: Tokenizer = make_tokenizer(encoding)
    text = generate_text(seed="bpe", tokens=tokens, tokenizer=tokenizer)
    assert tokenizer.count(text) == tokens
    assert text.endswith(".")


@pytest.mark.parametrize("length", [2, 5, 40, 200])
def test_ends_with_a_period(length: int) -> None:
    assert generate_text(seed=5, words=length).endswith(".")
    assert generate_text(seed=5, tokens=length).endswith(".")


def test_one_word_has_no_period() -> None:
    text = generate_text(seed=5, words=1)
    assert re.fullmatch(r"[A-Z][a-z]+", text)


def test_reads_like_prose() -> None:
    text = generate_text(seed=11, words=400)
    sentences = re.split(r"(?<=\.)\s+", text)
    assert len(sentences) > 10
    assert all(s[0].isupper() for s in sentences)
    assert "\n\n" in text  # paragraphs
    assert "lorem" not in text.lower()
    assert not text.startswith((" ", "\n"))


def test_zero_gives_empty_text() -> None:
    assert generate_text(seed=1, words=0) == ""
    assert generate_text(seed=1, tokens=0) == ""


@pytest.mark.parametrize("kwargs", [{"words": 30}, {"tokens": 90}])
def test_same_seed_same_text(kwargs: dict[str, Any]) -> None:
    assert generate_text(seed="abc", **kwargs) == generate_text(seed="abc", **kwargs)


@pytest.mark.parametrize("kwargs", [{"words": 30}, {"tokens": 90}])
def test_different_seeds_differ(kwargs: dict[str, Any]) -> None:
    assert len({generate_text(seed=seed, **kwargs) for seed in range(5)}) == 5


def test_longer_text_starts_like_the_shorter() -> None:
    """The same prose is cut at different lengths, so a bigger `words` only adds at the end."""
    short, long = generate_text(seed=3, words=20), generate_text(seed=3, words=60)
    assert long.split()[:19] == short.split()[:19]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "generate_text needs exactly one of words or tokens"),
        ({"words": 3, "tokens": 3}, "generate_text needs exactly one of words or tokens"),
        ({"words": -1}, "generate_text needs a length of 0 or more, not -1"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        generate_text(seed=1, **kwargs)


def test_request_seed_is_stable_and_sensitive() -> None:
    messages = [{"role": "user", "content": "hello"}]
    seed = request_seed(7, "gpt-4o", messages)
    assert seed == request_seed(7, "gpt-4o", [{"content": "hello", "role": "user"}])  # key order does not matter
    assert re.fullmatch(r"[0-9a-f]{32}", seed)
    others = {
        request_seed(8, "gpt-4o", messages),
        request_seed(7, "gpt-4o-mini", messages),
        request_seed(7, "gpt-4o", [{"role": "user", "content": "hello!"}]),
        request_seed(7, "gpt-4o"),
    }
    assert seed not in others
    assert len(others) == 4


def test_request_seed_is_the_same_in_another_process() -> None:
    """hash() is salted per process; the seed must not be."""
    code = "from fake_llm.core.textgen import request_seed; print(request_seed(3, 'm', [{'a': 1}]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == request_seed(3, "m", [{"a": 1}])


def test_same_request_seed_gives_the_same_text() -> None:
    seed = request_seed(42, "gpt-4o", [{"role": "user", "content": "write"}])
    assert generate_text(seed=seed, words=25) == generate_text(seed=seed, words=25)
