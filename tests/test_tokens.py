"""Token splitting and counting: the built-in approximation and exact encodings from bpe-openai."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fake_llm.core.tokens import (
    TOKENS_PER_MESSAGE,
    TOKENS_REPLY_PRIMING,
    ApproxTokenizer,
    BpeTokenizer,
    count_prompt,
    make_tokenizer,
)

TEXTS = [
    pytest.param("", id="empty"),
    pytest.param("Hello, world!", id="punctuation"),
    pytest.param("It's 12345 o'clock, isn't it?", id="contractions-and-digits"),
    pytest.param("  two  spaces\n\nand\ttabs  ", id="whitespace-runs"),
    pytest.param("supercalifragilisticexpialidocious", id="long-word"),
    pytest.param("naïve café 日本語テキスト 🎉🎉 Ελληνικά", id="non-ascii"),
    pytest.param("snake_case and __dunder__ names", id="underscores"),
    pytest.param("C:\\path\\to\\file.py -> {json: [1, 2]}", id="symbols"),
]


@pytest.mark.parametrize("text", TEXTS)
def test_approx_split_concatenates_back_to_the_input(text: str) -> None:
    assert "".join(ApproxTokenizer().split(text)) == text


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Hello, world!", ["Hello", ",", " world", "!"]),
        ("It's 12345", ["It", "'s", " 123", "45"]),
        ("a  b", ["a", " ", " b"]),
        ("end.\n\nNext", ["end", ".", "\n", "\n", "Next"]),
    ],
)
def test_approx_split_pieces(text: str, tokens: list[str]) -> None:
    assert ApproxTokenizer().split(text) == tokens


def test_approx_long_words_count_one_token_per_eight_characters() -> None:
    tokenizer = ApproxTokenizer()
    assert tokenizer.split("supercalifragilistic") == ["supercal", "ifragili", "stic"]
    assert tokenizer.split(" abcdefgh") == [" abcdefg", "h"]  # the leading space belongs to the word
    assert tokenizer.count("abcdefgh") == 1
    assert tokenizer.count("abcdefghi") == 2


@pytest.mark.parametrize(("text", "count"), [("", 0), ("Hello, world!", 4), ("Paris is nice.", 4), ("one two", 2)])
def test_approx_counts(text: str, count: int) -> None:
    tokenizer = ApproxTokenizer()
    assert tokenizer.count(text) == count
    assert tokenizer.count(text) == len(tokenizer.split(text))


def test_count_prompt_adds_the_per_message_overhead() -> None:
    tokenizer = ApproxTokenizer()
    assert (TOKENS_PER_MESSAGE, TOKENS_REPLY_PRIMING) == (3, 3)
    assert count_prompt(tokenizer, ["hello"], 1) == 1 + 3 + 3
    assert count_prompt(tokenizer, ["Be brief.", "Hello, world!"], 2) == 3 + 4 + 2 * 3 + 3


#: bpe-openai 0.1.4 calls the deprecated `importlib.resources.open_binary` when it is first imported.
BPE_IMPORT_WARNING = "ignore:open_binary is deprecated:DeprecationWarning"


@pytest.mark.filterwarnings(BPE_IMPORT_WARNING)
def test_make_tokenizer_names() -> None:
    assert make_tokenizer("approx").name == "approx"
    assert isinstance(make_tokenizer("o200k_base"), BpeTokenizer)
    assert make_tokenizer("cl100k_base").name == "cl100k_base"


def test_unknown_tokenizer_error() -> None:
    with pytest.raises(ValueError, match=r"^unknown tokenizer 'gpt2': expected approx, o200k_base or cl100k_base$"):
        make_tokenizer("gpt2")


# --------------------------------------------------------------------------------------------- exact (bpe-openai)


def test_exact_tokenizer_loads_under_warnings_as_errors() -> None:
    # The pytest plugin runs inside projects that turn warnings into errors (this one does): choosing an exact
    # tokenizer must not fail there because a dependency warns while loading its vocabulary.
    code = "from fake_llm.core.tokens import make_tokenizer; print(make_tokenizer('o200k_base').count('Hello, world!'))"
    result = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", code], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout, result.stderr[-300:]) == (0, "4\n", "")


@pytest.fixture(scope="module")
def o200k() -> BpeTokenizer:
    return BpeTokenizer("o200k_base")


@pytest.mark.filterwarnings(BPE_IMPORT_WARNING)
@pytest.mark.parametrize("text", TEXTS)
def test_o200k_split_concatenates_back_to_the_input(o200k: BpeTokenizer, text: str) -> None:
    assert "".join(o200k.split(text)) == text


@pytest.mark.filterwarnings(BPE_IMPORT_WARNING)
def test_o200k_counts_are_exact(o200k: BpeTokenizer) -> None:
    assert o200k.split("Hello, world!") == ["Hello", ",", " world", "!"]
    assert o200k.count("Hello, world!") == 4
    assert o200k.count("") == 0


@pytest.mark.filterwarnings(BPE_IMPORT_WARNING)
def test_o200k_keeps_multi_byte_characters_whole(o200k: BpeTokenizer) -> None:
    text = "日本語テキスト 🎉 naïve"
    pieces = o200k.split(text)
    # Some characters span several tokens: they come out as one piece, so there are fewer pieces than tokens.
    assert len(pieces) < o200k.count(text)
    for piece in pieces:
        piece.encode("utf-8")  # a lone surrogate or a replacement character would mean a cut character
        assert "\ufffd" not in piece
    assert " 🎉" in pieces
