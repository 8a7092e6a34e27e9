"""Match checks (each explains its failure), the Selector's load order, `times`, `replies:` and no-match texts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from fake_llm.core.matching import Selector, explain, rule_summary
from fake_llm.model.request import ChatRequest, Message
from fake_llm.model.spec import Match, Scenario
from fake_llm.scenarios.loader import parse_rules


def request(
    user: str = "hello there",
    *,
    system: str | None = None,
    model: str = "gpt-4o-mini",
    stream: bool = False,
    headers: Mapping[str, str] | None = None,
    history: tuple[Message, ...] = (),
) -> ChatRequest:
    """A chat request: optional system prompt, earlier turns, then `user` as the last user message."""
    messages = (*((Message("system", system),) if system is not None else ()), *history, Message("user", user))
    return ChatRequest(api="openai-chat", model=model, messages=messages, stream=stream, headers=dict(headers or {}))


def match_of(raw: Mapping[str, Any]) -> Match:
    return parse_rules([{"name": "r", "match": dict(raw), "reply": {"content": "x"}}]).rules[0].match


def scenario(text: str) -> Scenario:
    return parse_rules(text, source="<test>")


# --------------------------------------------------------------------------------------------- per-key table

MATCHES = [
    # model: fnmatch globs, case-sensitive, a string or a list
    pytest.param({"model": "gpt-4o*"}, request(model="gpt-4o-mini"), None, id="model-glob"),
    pytest.param({"model": "gpt-4o"}, request(model="gpt-4o"), None, id="model-literal"),
    pytest.param(
        {"model": "gpt-4o*"}, request(model="gpt-3.5"), "model 'gpt-3.5' does not match 'gpt-4o*'", id="model-glob-miss"
    ),
    pytest.param(
        {"model": "GPT-4o"},
        request(model="gpt-4o"),
        "model 'gpt-4o' does not match 'GPT-4o'",
        id="model-case-sensitive",
    ),
    pytest.param({"model": ["a", "ft:gpt-4o-mini:*"]}, request(model="ft:gpt-4o-mini:org::x1"), None, id="model-list"),
    pytest.param(
        {"model": ["a", "b*"]}, request(model="c"), "model 'c' does not match 'a' or 'b*'", id="model-list-miss"
    ),
    # a plain string is a case-insensitive substring
    pytest.param({"user": "HeLLo"}, request("say hello"), None, id="user-plain-ignores-case"),
    pytest.param(
        {"user": "bye"},
        request("say hello"),
        "user: last user message 'say hello' does not contain 'bye' (ignoring case)",
        id="user-plain-miss",
    ),
    pytest.param({"system": "PIRATE"}, request(system="You are a pirate."), None, id="system-plain"),
    pytest.param(
        {"system": "pirate"},
        request(system="Be a robot."),
        "system: system prompt 'Be a robot.' does not contain 'pirate' (ignoring case)",
        id="system-plain-miss",
    ),
    pytest.param(
        {"system": "pirate"},
        request(),
        "system: system prompt '' does not contain 'pirate' (ignoring case)",
        id="system-absent",
    ),
    pytest.param({"any_message": "ROBOT"}, request(system="Be a robot."), None, id="any-message-plain"),
    pytest.param(
        {"any_message": "pirate"},
        request(system="Be a robot."),
        "any_message: any message of 2 messages does not contain 'pirate' (ignoring case)",
        id="any-message-miss",
    ),
    # the mapping lookups are case-sensitive unless ignore_case
    pytest.param({"user": {"contains": "hello"}}, request("say hello"), None, id="contains"),
    pytest.param(
        {"user": {"contains": "Hello"}},
        request("say hello"),
        "user: last user message 'say hello' does not contain 'Hello' (it would match ignoring case: add "
        "`ignore_case: true`)",
        id="contains-case-sensitive",
    ),
    pytest.param({"user": {"contains": "Hello", "ignore_case": True}}, request("say hello"), None, id="contains-ic"),
    pytest.param({"user": {"equals": "hi!"}}, request("hi!"), None, id="equals"),
    pytest.param(
        {"user": {"equals": "hi"}},
        request("hi!"),
        "user: last user message 'hi!' does not equal 'hi'",
        id="equals-miss",
    ),
    pytest.param(
        {"user": {"equals": "HI!"}},
        request("hi!"),
        "user: last user message 'hi!' does not equal 'HI!' (it would match ignoring case: add `ignore_case: true`)",
        id="equals-case",
    ),
    pytest.param({"user": {"equals": "HI!", "ignore_case": True}}, request("hi!"), None, id="equals-ic"),
    pytest.param({"user": {"startswith": "oh"}}, request("oh hi"), None, id="startswith"),
    pytest.param(
        {"user": {"startswith": "hi"}},
        request("oh hi"),
        "user: last user message 'oh hi' does not start with 'hi'",
        id="startswith-miss",
    ),
    pytest.param(
        {"user": {"startswith": "OH"}},
        request("oh hi"),
        "user: last user message 'oh hi' does not start with 'OH' (it would match ignoring case: add "
        "`ignore_case: true`)",
        id="startswith-case",
    ),
    pytest.param({"user": {"startswith": "OH", "ignore_case": True}}, request("oh hi"), None, id="startswith-ic"),
    pytest.param({"user": {"regex": r"\bhi$"}}, request("oh hi"), None, id="regex-searches"),
    pytest.param(
        {"user": {"regex": "^HI"}},
        request("hi"),
        "user: last user message 'hi' does not match regex '^HI' (it would match ignoring case: add "
        "`ignore_case: true`)",
        id="regex-case-sensitive",
    ),
    pytest.param({"user": {"regex": "^HI", "ignore_case": True}}, request("hi"), None, id="regex-ic"),
    # stream
    pytest.param({"stream": True}, request(stream=True), None, id="stream-true"),
    pytest.param({"stream": True}, request(), "stream: request has stream=false", id="stream-true-miss"),
    pytest.param({"stream": False}, request(stream=True), "stream: request has stream=true", id="stream-false-miss"),
    # headers: names are case-insensitive (requests arrive with lower-cased names)
    pytest.param({"header": {"X-Team": "blue"}}, request(headers={"x-team": "BLUE sky"}), None, id="header"),
    pytest.param(
        {"header": {"X-Team": {"equals": "blue"}}},
        request(headers={"x-team": "red"}),
        "header 'x-team': 'red' does not equal 'blue'",
        id="header-miss",
    ),
    pytest.param(
        {"header": {"X-Team": {"equals": "blue"}}},
        request(headers={"x-team": "Blue"}),
        "header 'x-team': 'Blue' does not equal 'blue' (it would match ignoring case: add `ignore_case: true`)",
        id="header-case-hint",
    ),
    pytest.param({"header": {"X-Team": "blue"}}, request(), "header 'x-team' is missing", id="header-missing"),
    pytest.param(
        {"header": {"a": "1", "B": "2"}},
        request(headers={"a": "1"}),
        "header 'b' is missing",
        id="second-header-missing",
    ),
    # long texts are clipped in reasons
    pytest.param(
        {"user": "zzz"},
        request("y" * 100),
        "user: last user message '" + "y" * 57 + "...' does not contain 'zzz' (ignoring case)",
        id="long-text-clipped",
    ),
    pytest.param({}, request(), None, id="empty-match-holds"),
]


@pytest.mark.parametrize(("raw", "req", "reason"), MATCHES)
def test_each_match_key(raw: Mapping[str, Any], req: ChatRequest, reason: str | None) -> None:
    assert explain(match_of(raw), req)[0] == reason


def test_last_user_message_is_matched_not_earlier_ones() -> None:
    history = (Message("user", "hello"), Message("assistant", "Hi!"))
    assert explain(match_of({"user": "hello"}), request("thanks", history=history))[0] == (
        "user: last user message 'thanks' does not contain 'hello' (ignoring case)"
    )
    assert explain(match_of({"any_message": "hello"}), request("thanks", history=history))[0] is None


def test_system_and_developer_messages_are_joined() -> None:
    req = ChatRequest(
        api="openai-chat",
        model="m",
        messages=(Message("system", "Be brief."), Message("developer", "Speak French."), Message("user", "hi")),
    )
    assert explain(match_of({"system": {"equals": "Be brief.\nSpeak French."}}), req)[0] is None


def test_regex_named_groups_are_captured() -> None:
    reason, captures = explain(
        match_of({"user": {"regex": "write an? (?P<kind>essay|poem)(?P<opt> now)?"}}), request("please write a poem")
    )
    assert reason is None
    assert captures == {"kind": "poem"}  # unmatched optional groups are left out


def test_captures_from_headers_and_user_are_merged() -> None:
    raw = {"header": {"x-team": {"regex": "(?P<team>\\w+)"}}, "user": {"regex": "(?P<word>\\w+)$"}}
    assert explain(match_of(raw), request("say hi", headers={"x-team": "blue"})) == (
        None,
        {"team": "blue", "word": "hi"},
    )


def test_first_failing_check_is_the_reason() -> None:
    raw = {"model": "claude-*", "stream": True, "header": {"x-a": "1"}, "user": "nope"}
    assert explain(match_of(raw), request())[0] == "model 'gpt-4o-mini' does not match 'claude-*'"
    assert explain(match_of(raw), request(model="claude-3"))[0] == "stream: request has stream=false"
    assert explain(match_of(raw), request(model="claude-3", stream=True))[0] == "header 'x-a' is missing"
    assert explain(match_of(raw), request(model="claude-3", stream=True, headers={"x-a": "1"}))[0] == (
        "user: last user message 'hello there' does not contain 'nope' (ignoring case)"
    )


# --------------------------------------------------------------------------------------------- the Selector

RULES = """
- name: greet
  match: {user: hello}
  reply: {content: greeting}
- name: limited
  match: {user: limited}
  times: 2
  reply: {content: limited}
- name: fallback
  match: {user: limited}
  reply: {content: fallback}
"""


def test_first_matching_rule_in_load_order_wins() -> None:
    selector = Selector([scenario(RULES)])
    selection = selector.select(request("hello, limited"))
    assert selection.rule is not None
    assert selection.rule.name == "greet"
    assert selection.reply is not None
    assert selection.reply.content == "greeting"
    assert selection.reasons == ()
    assert selection.step == 1


def test_reasons_list_every_rule_tried_before_the_winner() -> None:
    selection = Selector([scenario(RULES)]).select(request("limited"))
    assert selection.rule is not None
    assert selection.rule.name == "limited"
    assert selection.reasons == (
        ("greet", "user: last user message 'limited' does not contain 'hello' (ignoring case)"),
    )


def test_times_exhaustion() -> None:
    selector = Selector([scenario(RULES)])
    picked = [selector.select(request("limited")).rule for _ in range(3)]
    assert [rule.name for rule in picked if rule is not None] == ["limited", "limited", "fallback"]
    fourth = selector.select(request("limited"))
    assert fourth.reasons == (
        ("greet", "user: last user message 'limited' does not contain 'hello' (ignoring case)"),
        ("limited", "exhausted 2/2"),
    )
    assert selector.hits() == {"limited": 2, "fallback": 2}


def test_exhausted_rule_is_reported_in_a_miss() -> None:
    selector = Selector([scenario("- name: once\n  times: 1\n  reply: {content: x}\n")])
    assert selector.select(request()).rule is not None
    miss = selector.select(request())
    assert miss.rule is None
    assert miss.reply is None
    assert miss.reasons == (("once", "exhausted 1/1"),)


SEQUENCE = """
- name: flaky
  match: {user: retry}
  replies:
    - {error: {status: 503}}
    - {content: second}
    - {content: third}
"""


def contents(selector: Selector, *requests: ChatRequest) -> list[str]:
    out = []
    for req in requests:
        reply = selector.select(req).reply
        assert reply is not None
        out.append(f"error {reply.error.status}" if reply.error else str(reply.content))
    return out


def test_replies_advance_and_the_last_one_repeats() -> None:
    selector = Selector([scenario(SEQUENCE)])
    assert contents(selector, *[request("retry")] * 5) == ["error 503", "second", "third", "third", "third"]
    assert [selector.select(request("retry")).step for _ in range(2)] == [6, 7]


def test_replies_advance_per_derived_conversation() -> None:
    selector = Selector([scenario(SEQUENCE)])
    first_a = request("retry A")
    first_b = request("retry B")
    # A later turn of conversation A repeats its opening (up to the first user message), so it continues A.
    later_a = request("retry again", history=(Message("user", "retry A"), Message("assistant", "sorry")))
    assert contents(selector, first_a, first_b, later_a, first_b) == ["error 503", "error 503", "second", "second"]


def test_system_prompt_is_part_of_the_derived_conversation() -> None:
    selector = Selector([scenario(SEQUENCE)])
    assert contents(selector, request("retry", system="one"), request("retry", system="two")) == [
        "error 503",
        "error 503",
    ]


def test_session_header_decides_the_conversation() -> None:
    selector = Selector([scenario(SEQUENCE)])
    s1 = {"x-fake-llm-session": "s1"}
    s2 = {"x-fake-llm-session": "s2"}
    # Different openings in one session share a sequence; the same opening in two sessions does not.
    assert contents(
        selector,
        request("retry A", headers=s1),
        request("retry B", headers=s1),
        request("retry A", headers=s2),
        request("retry C", headers=s1),
    ) == ["error 503", "second", "error 503", "third"]


def test_conversation_key_values() -> None:
    assert request("x", headers={"x-fake-llm-session": "abc"}).conversation_key == "session:abc"
    derived = request("x").conversation_key
    assert derived.startswith("conversation:")
    assert len(derived) == len("conversation:") + 16
    assert request("x", history=()).conversation_key == derived
    assert request("y").conversation_key != derived


def test_reset_forgets_uses_and_positions() -> None:
    selector = Selector([scenario(RULES + SEQUENCE)])
    assert contents(selector, request("retry"), request("retry")) == ["error 503", "second"]
    for _ in range(2):
        selector.select(request("limited"))
    selector.reset()
    assert selector.hits() == {}
    assert contents(selector, request("retry")) == ["error 503"]
    assert contents(selector, request("limited")) == ["limited"]


def test_replace_keeps_counters_of_rules_that_keep_their_name() -> None:
    selector = Selector([scenario(RULES)])
    selector.select(request("limited"))
    selector.select(request("limited"))
    selector.replace([scenario(RULES)])
    assert [rule.name for rule in selector.rules] == ["greet", "limited", "fallback"]
    assert selector.select(request("limited")).rule is not None
    assert selector.hits()["fallback"] == 1


def test_rule_summary() -> None:
    text = (
        "name: pack\nrules:\n  - name: flaky\n    times: 3\n"
        "    replies:\n      - {error: {status: 503}}\n      - {content: ok}\n"
    )
    rule = parse_rules(text, source="pack.yaml").rules[0]
    assert rule_summary(rule, 2) == {
        "name": "flaky",
        "scenario": "pack",
        "source": "pack.yaml:3",
        "times": 3,
        "hits": 2,
        "replies": ["error 503", "content 'ok'"],
    }


# --------------------------------------------------------------------------------------------- no-match text


def test_no_match_message_lists_each_rule_and_its_reason() -> None:
    selector = Selector([scenario(RULES)])
    for _ in range(2):
        selector.select(request("limited"))
    selector.select(request("limited"))
    miss = selector.select(request("nothing", model="gpt-4.1"))
    assert miss.rule is None
    assert miss.no_match_message(request("nothing", model="gpt-4.1"), "POST", "/v1/chat/completions") == (
        "fake-llm: no rule matched POST /v1/chat/completions (model 'gpt-4.1', last user message 'nothing'). "
        "Rules tried: greet: user: last user message 'nothing' does not contain 'hello' (ignoring case); "
        "limited: exhausted 2/2; "
        "fallback: user: last user message 'nothing' does not contain 'limited' (ignoring case)"
    )


def test_no_match_message_without_rules() -> None:
    miss = Selector().select(request())
    assert miss.no_match_message(request(), "POST", "/v1/chat/completions") == (
        "fake-llm: no rule matched POST /v1/chat/completions (model 'gpt-4o-mini', last user message 'hello there'). "
        "No rules are loaded."
    )


def test_no_match_message_caps_the_rule_list() -> None:
    rules = "".join(f"- name: r{i}\n  match: {{model: m{i}}}\n  reply: {{content: x}}\n" for i in range(35))
    req = request(model="other")
    message = Selector([scenario(rules)]).select(req).no_match_message(req, "POST", "/v1/chat/completions")
    listed = message.split("Rules tried: ")[1].split("; ")
    assert len(listed) == 31
    assert listed[0] == "r0: model 'other' does not match 'm0'"
    assert listed[29] == "r29: model 'other' does not match 'm29'"
    assert listed[30] == "... and 5 more rules"
    short = Selector([scenario(rules)]).select(req).no_match_message(req, "POST", "/x", limit=2)
    assert short.endswith(
        "Rules tried: r0: model 'other' does not match 'm0'; r1: model 'other' does not match 'm1'; "
        "... and 33 more rules"
    )


def test_sequence_positions_are_bounded_and_forget_the_oldest_conversation(monkeypatch: pytest.MonkeyPatch) -> None:
    import fake_llm.core.state as state_module

    monkeypatch.setattr(state_module, "MAX_CONVERSATIONS", 3)
    rules = [{"name": "seq", "replies": [{"content": "one"}, {"content": "two"}]}]
    selector = Selector([parse_rules(rules)])

    def answer(session: str) -> str | None:
        selection = selector.select(_session_request(session))
        return selection.reply.content if selection.reply else None

    assert [answer(s) for s in ("a", "b", "c", "a", "d")] == ["one", "one", "one", "two", "one"]
    assert len(selector._counters._steps) == 3
    assert answer("b") == "one"  # b was the least recently seen: forgotten, so it starts again
    assert answer("a") == "two"  # a was kept


def _session_request(session: str) -> ChatRequest:
    return ChatRequest(
        api="openai-chat",
        model="m",
        messages=(Message("user", "hi"),),
        headers={"x-fake-llm-session": session},
    )


def test_request_options_missing_from_the_request_are_said_in_words() -> None:
    plain = request("extract it")
    assert explain(match_of({"tool_choice": "extract_contact"}), plain)[0] == (
        "tool_choice: the request sets no tool_choice, rule wants 'extract_contact'"
    )
    assert explain(match_of({"response_format": "json_schema"}), plain)[0] == (
        "response_format: the request sets no response_format, rule wants 'json_schema'"
    )
    forced = ChatRequest(
        api="openai-chat", model="m", messages=(Message("user", "x"),), tool_choice="auto", stream=False
    )
    assert explain(match_of({"tool_choice": "required"}), forced)[0] == (
        "tool_choice: the request has 'auto', rule wants 'required'"
    )
