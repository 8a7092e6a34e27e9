"""Ordered expectations (issue 17 part 2): journal.assert_order and expect_ordered, with the official clients."""

from __future__ import annotations

import re
from textwrap import dedent
from typing import Any

import pytest

anthropic = pytest.importorskip("anthropic")
openai = pytest.importorskip("openai")

from fake_llm import FakeLLMServer  # noqa: E402
from fake_llm.errors import JournalAssertionError  # noqa: E402
from tests.sdk_clients import closing, openai_client  # noqa: E402

RULES = [
    {"name": "plan", "match": {"user": "plan"}, "reply": {"content": "the plan"}},
    {"name": "call-tool", "match": {"user": "tool"}, "reply": {"content": "tool called"}},
    {"name": "answer", "match": {"user": "answer"}, "reply": {"content": "the answer"}},
    {"name": "other", "reply": {"content": "other"}},
]


def ask(client: Any, *texts: str) -> None:
    for text in texts:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": text}])


def test_assert_order_passes_with_other_requests_in_between() -> None:
    with FakeLLMServer(rules=RULES) as server:
        ask(openai_client(server), "plan", "hello", "tool", "answer")
        server.journal.assert_order("plan", "call-tool", "answer")
        server.journal.assert_order("plan", "answer")


def test_assert_order_shows_the_sequence_that_happened() -> None:
    with FakeLLMServer(rules=RULES) as server:
        ask(openai_client(server), "plan", "answer", "tool")
        with pytest.raises(JournalAssertionError) as caught:
            server.journal.assert_order("plan", "call-tool", "answer")
    text = str(caught.value)
    assert text.startswith(
        "expected the rules to answer in the order plan -> call-tool -> answer, but answer #2 was 'answer', "
        "expected 'call-tool'.\nTheir answers, in order: plan -> answer -> call-tool\nEverything that happened:\n"
    )
    assert "#3 POST /v1/chat/completions model='m' -> 200 (rule 'call-tool')" in text


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (["plan"], "'call-tool' (#2) never answered after ['plan']"),
        (["plan", "tool", "answer", "answer"], "'answer' answered again after the expected sequence"),
    ],
)
def test_assert_order_missing_and_extra_answers(texts: list[str], message: str) -> None:
    with FakeLLMServer(rules=RULES) as server:
        ask(openai_client(server), *texts)
        with pytest.raises(JournalAssertionError, match=re.escape(message)):
            server.journal.assert_order("plan", "call-tool", "answer")


def test_assert_order_needs_names() -> None:
    with pytest.raises(ValueError, match="needs the names"):
        FakeLLMServer().journal.assert_order()


def test_expect_ordered_answers_in_order_through_anthropic() -> None:
    with FakeLLMServer() as server:
        server.expect_ordered(
            {"name": "first", "reply": {"content": "one"}},
            {"name": "second", "reply": {"content": "two"}},
        )
        client = closing(anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0, timeout=10))
        texts = [
            client.messages.create(model="c", max_tokens=5, messages=[{"role": "user", "content": "x"}]).content[0].text  # type: ignore[union-attr]
            for _ in range(2)
        ]
        assert texts == ["one", "two"]
        server.check_expectations()


def test_a_request_out_of_order_matches_nothing_and_says_what_it_waits_for() -> None:
    with FakeLLMServer() as server:
        server.expect_ordered(
            {"name": "plan", "match": {"user": "plan"}, "reply": {"content": "p"}},
            {"name": "act", "match": {"user": "act"}, "reply": {"content": "a"}},
        )
        with pytest.raises(openai.BadRequestError):
            ask(openai_client(server), "act")
        assert server.journal.last.reasons == [
            ("plan", "user: last user message 'act' does not contain 'plan' (ignoring case)"),
            ("act", "ordered: waits until 'plan' has answered"),
        ]
        with pytest.raises(JournalAssertionError) as caught:
            server.check_expectations()
    assert str(caught.value) == (
        "ordered expectation 'plan' (1 of 2: plan -> act) never answered.\nWhat answered, in order: <unmatched>"
    )


def test_the_fixture_fails_a_test_whose_ordered_expectations_were_not_met(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        dedent(
            """
            import openai

            def test_agent(fake_llm):
                fake_llm.expect_ordered(
                    {"name": "plan", "reply": {"content": "p"}},
                    {"name": "answer", "reply": {"content": "a"}},
                )
                client = openai.OpenAI(base_url=fake_llm.base_url, api_key="k")
                client.chat.completions.create(model="m", messages=[{"role": "user", "content": "go"}])
            """
        )
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*ordered expectation 'answer' (2 of 2: plan -> answer) never answered.", "*What answered, in order: plan"]
    )
