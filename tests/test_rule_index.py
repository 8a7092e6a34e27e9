"""The rule index picks the same rule, reply and reasons as trying every rule, and skips rules that cannot match."""

from __future__ import annotations

import random
from textwrap import dedent

import pytest

from fake_llm.core.matching import Selector
from fake_llm.core.rule_index import Reasons, RuleIndex, Substrings
from fake_llm.model.request import ChatRequest, Message
from fake_llm.scenarios.loader import parse_rules

RULES = dedent(
    """
    - name: exact
      match: {user: {equals: "ping"}}
      reply: {content: pong}
    - name: exact-folded
      match: {user: {equals: "PING ME", ignore_case: true}}
      reply: {content: pinged}
    - name: contains-plain
      match: {user: weather}
      reply: {content: sunny}
    - name: contains-strict
      match: {user: {contains: "Paris"}}
      reply: {content: France}
    - name: model
      match: {model: gpt-4o}
      reply: {content: four-o}
    - name: limited
      match: {user: once}
      times: 1
      reply: {content: only once}
    - name: regex
      match: {user: {regex: "^calc (?P<n>\\\\d+)$"}}
      reply: {content: "{{ match.n }}"}
    - name: steps
      match: {user: {equals: "again"}}
      replies: [{content: one}, {content: two}]
    - name: glob
      match: {model: "claude-*"}
      reply: {content: claude}
    """
)
OTHER = dedent(
    """
    - name: other-scenario
      match: {user: {equals: "ping"}}
      reply: {content: other}
    """
)


def ask(text: str, model: str = "gpt-4o-mini") -> ChatRequest:
    return ChatRequest(api="openai-chat", model=model, messages=(Message("user", text),))


def selectors() -> tuple[Selector, Selector]:
    """Two selectors on the same rules: one using the index, one forced to try every rule."""
    scenarios = [parse_rules(RULES, source="<a>"), parse_rules(OTHER, source="<b>")]
    indexed, walking = Selector(scenarios), Selector(scenarios)
    walking._index.always = list(range(walking._index.size))  # trivial: every rule is tried
    assert not indexed._index.is_trivial
    assert walking._index.is_trivial
    return indexed, walking


ASKS = [
    ask("ping"),
    ask("ping me"),
    ask("what's the WEATHER like"),
    ask("Paris?"),
    ask("paris?"),
    ask("hello", model="gpt-4o"),
    ask("once"),
    ask("once"),
    ask("calc 42"),
    ask("again"),
    ask("again"),
    ask("again"),
    ask("hi", model="claude-3"),
    ask("nothing matches this"),
]


@pytest.mark.parametrize("only", [None, "a", "b"])
def test_same_choices_and_reasons_as_trying_every_rule(only: str | None) -> None:
    indexed, walking = selectors()
    for request in ASKS:
        fast, slow = indexed.select(request, only), walking.select(request, only)
        assert (fast.rule and fast.rule.name, fast.reply, fast.step) == (
            slow.rule and slow.rule.name,
            slow.reply,
            slow.step,
        )
        assert fast.captures == slow.captures
        assert list(fast.reasons) == list(slow.reasons)
        assert fast.reasons == slow.reasons
    assert indexed.hits() == walking.hits()


def test_switched_off_scenarios_are_left_out_of_the_reasons() -> None:
    indexed, walking = selectors()
    for selector in (indexed, walking):
        selector.set_disabled(["a"])
    assert indexed.select(ask("ping")).reasons == walking.select(ask("ping")).reasons
    assert indexed.select(ask("zzz")).no_match_message(ask("zzz"), "POST", "/x") == walking.select(
        ask("zzz")
    ).no_match_message(ask("zzz"), "POST", "/x")


def test_candidates_skip_rules_whose_key_fails() -> None:
    rules = parse_rules(RULES, source="<a>").rules
    index = RuleIndex(rules)
    names = [r.name for r in rules]
    tried = [names[p] for p in index.candidates(ask("ping"))]
    assert tried == ["exact", "limited", "regex", "glob"]
    assert [names[p] for p in index.candidates(ask("weather in Paris", model="gpt-4o"))] == [
        "contains-plain",
        "contains-strict",
        "model",
        "limited",
        "regex",
        "glob",
    ]


def test_skipped_reasons_are_worked_out_only_when_read() -> None:
    calls: list[int] = []

    def skipped() -> list[tuple[int, str, str]]:
        calls.append(1)
        return [(0, "a", "no")]

    reasons = Reasons([(1, "b", "nope")], skipped)
    assert calls == []
    assert reasons == [("a", "no"), ("b", "nope")]
    assert reasons == (("a", "no"), ("b", "nope"))
    assert len(reasons) == 2
    assert reasons[1] == ("b", "nope")
    assert calls == [1]  # once
    assert repr(reasons) == "[('a', 'no'), ('b', 'nope')]"
    assert reasons != "text"
    assert hash(reasons) == hash((("a", "no"), ("b", "nope")))


def test_thousands_of_rules_cost_one_dict_lookup() -> None:
    many = "\n".join(
        f"- name: r{i}\n  match: {{user: {{equals: 'prompt {i}'}}}}\n  reply: {{content: a{i}}}" for i in range(10_000)
    )
    selector = Selector([parse_rules(many, source="<many>")])
    assert selector._index.candidates(ask("prompt 1999")) == [1999]
    chosen = selector.select(ask("prompt 1999"))
    assert chosen.rule is not None
    assert chosen.rule.name == "r1999"
    assert chosen.reasons[0] == ("r0", "user: last user message 'prompt 1999' does not equal 'prompt 0'")


def test_substrings_found_by_windows_or_by_scan_agree_with_in() -> None:
    rng = random.Random(3)
    alphabet = "abcé Ab"
    for _ in range(200):
        texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(rng.randint(1, 60))]
        found = Substrings()
        for position, text in enumerate(texts):
            found.add(text, position)
        for _ in range(10):
            prompt = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
            assert found.found_in(prompt) == [n for n, text in enumerate(texts) if text in prompt]
