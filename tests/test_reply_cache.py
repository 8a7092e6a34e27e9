"""The reply cache: repeated requests get exactly the bytes and journal entries the pipeline gives, and nothing
stateful, timed or changed is ever replayed."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from textwrap import dedent
from typing import Any

import pytest
from starlette.testclient import TestClient

from fake_llm.core.ids import Clock
from fake_llm.http.app import create_app
from fake_llm.http.engine import FakeLLM
from fake_llm.http.reply_cache import LazyEvents, ReplyCache
from fake_llm.scenarios.loader import parse_scenario
from fake_llm.settings import Settings
from fake_llm.testing.server import python_rules

SCENARIO = dedent(
    """
    rules:
      - name: once
        match: {user: once}
        times: 2
        reply: {content: "only twice"}
      - name: steps
        match: {user: steps}
        replies: [{content: one}, {content: two}]
      - name: paced
        match: {user: paced}
        reply: {content: "slow down please", stream: {chunk_ms: 5}}
      - name: broken
        match: {user: broken}
        reply: {content: "a b c d e f", stream: {error_after: 2}}
      - name: tools
        match: {user: weather}
        reply: {tool_calls: [{name: get_weather, arguments: {city: Paris}}]}
      - name: any
        reply: {content: "Hello from the cache, 100% of 1767225600 times."}
    """
)

CHAT = "/v1/chat/completions"


def chat(text: str, stream: bool = False) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], "stream": stream}


REQUESTS: list[tuple[str, dict[str, Any]]] = [
    (CHAT, chat("hello")),
    (CHAT, chat("hello", stream=True)),
    (CHAT, chat("once")),
    (CHAT, chat("steps")),
    (CHAT, chat("paced", stream=True)),
    (CHAT, chat("broken", stream=True)),
    (CHAT, chat("weather")),
    ("/v1/messages", {"model": "claude-sonnet-4", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}),
    (
        "/v1/messages",
        {"model": "claude-sonnet-4", "max_tokens": 50, "stream": True, "messages": [{"role": "user", "content": "x"}]},
    ),
    ("/v1/responses", {"model": "gpt-4o-mini", "input": "hello"}),
    ("/v1/responses", {"model": "gpt-4o-mini", "input": "hello", "stream": True}),
    ("/v1beta/models/gemini-2.0-flash:generateContent", {"contents": [{"parts": [{"text": "hi"}]}]}),
]


def ticking(start: float = 1767225600.0, step: float = 0.4) -> Iterator[float]:
    """A clock that moves on by `step` seconds at each reading, so `created` changes every few requests."""
    return itertools.count(start, step)


def run(monkeypatch: pytest.MonkeyPatch, cached: bool, rounds: int = 6) -> tuple[list[Any], list[Any], FakeLLM]:
    """Every request `rounds` times over: the answers (status, headers, body) and the journal."""
    if not cached:
        monkeypatch.setattr(ReplyCache, "lookup", lambda self, key, version: None)
    app = create_app(Settings(), [parse_scenario(SCENARIO)])
    engine: FakeLLM = app.state.fake_llm
    engine.clock = Clock(source=ticking().__next__)
    client = TestClient(app)
    answers = []
    for _ in range(rounds):
        for path, body in REQUESTS:
            reply = client.post(path, json=body)
            headers = {k: v for k, v in reply.headers.items() if k not in ("date", "server")}
            answers.append((path, reply.status_code, headers, reply.content))
    monkeypatch.undo()
    return answers, [entry.to_dict() for entry in engine.journal.entries], engine


def test_replayed_answers_and_journal_entries_are_the_pipelines(monkeypatch: pytest.MonkeyPatch) -> None:
    cached_answers, cached_journal, cached_engine = run(monkeypatch, cached=True)
    plain_answers, plain_journal, plain_engine = run(monkeypatch, cached=False)
    for got, expected in zip(cached_answers, plain_answers, strict=True):
        assert got == expected
    assert cached_journal == plain_journal
    assert cached_engine.selector.hits() == plain_engine.selector.hits()


def test_only_stateless_untimed_answers_are_replayed() -> None:
    app = create_app(Settings(), [parse_scenario(SCENARIO)])
    engine: FakeLLM = app.state.fake_llm
    engine.clock = Clock(source=ticking(step=2.0).__next__)
    client = TestClient(app)
    replayed = []
    for path, body in REQUESTS:
        for _ in range(5):
            before = len(engine.journal.entries)
            client.post(path, json=body)
            assert len(engine.journal.entries) == before + 1
        replayed.append(_is_replay(engine))
    names = [body.get("messages", [{}])[0].get("content") if "messages" in body else path for path, body in REQUESTS]
    not_replayed = {n for n, r in zip(names, replayed, strict=True) if not r}
    # Responses answers carry more per-request ids (output items) than the three slots: verification refuses them.
    assert not_replayed == {"once", "steps", "paced", "broken", "weather", "/v1/responses"}


def _is_replay(engine: FakeLLM) -> bool:
    # A replayed entry is the learnt entry renumbered: its body is the very object the learnt entry holds.
    *earlier, last = engine.journal.entries
    return any(entry.body is last.body for entry in earlier)


def test_new_rules_make_remembered_answers_stale() -> None:
    app = create_app(Settings(freeze_time=1767225600), [parse_scenario(SCENARIO)])
    engine: FakeLLM = app.state.fake_llm
    client = TestClient(app)
    for n in range(4):  # seen, learnt, verified (the clock is frozen), replayed
        assert client.post(CHAT, json=chat("hello")).json()["choices"][0]["message"]["content"].startswith("Hello")
        assert _is_replay(engine) == (n == 3)
    engine.load_rules([{"name": "new", "match": {"user": "hello"}, "reply": {"content": "New rule."}}])
    assert client.post(CHAT, json=chat("hello")).json()["choices"][0]["message"]["content"] == "New rule."
    engine.selector.set_disabled([engine.selector.scenarios[0].name])
    engine.reset(rules=True)
    assert client.post(CHAT, json=chat("hello")).json()["choices"][0]["message"]["content"].startswith("Hello")


def test_lazy_events_read_like_a_list() -> None:
    made: list[int] = []

    def make() -> list[int]:
        made.append(1)
        return [1, 2, 3]

    events = LazyEvents(make=make)
    assert made == []
    assert events == [1, 2, 3]
    assert len(events) == 3
    assert events[0] == 1
    assert list(events) == [1, 2, 3]
    assert repr(events) == "[1, 2, 3]"
    assert made == [1]
    import copy

    assert copy.deepcopy(LazyEvents(make=lambda: [4])) == [4]


def test_each_session_namespace_has_its_own_answers_and_journal() -> None:
    app = create_app(Settings(freeze_time=1767225600), [parse_scenario(SCENARIO)])
    engine: FakeLLM = app.state.fake_llm
    client = TestClient(app)
    for session in ("a", "b"):
        for _ in range(4):
            reply = client.post(CHAT, json=chat("hello"), headers={"X-Fake-LLM-Session": session})
            assert reply.status_code == 200
    assert len(engine.journal.entries) == 0
    for session in ("a", "b"):
        space = engine.space(session)
        assert [entry.seq for entry in space.journal.entries] == [1, 2, 3, 4]
        assert _is_replay(space)
        assert space.selector.hits() == {"any": 4}


def test_python_replies_chaos_and_ordered_rules_are_never_replayed() -> None:
    # Their answers are not a pure function of the request: a Python reply may read anything (here, a counter),
    # chaos draws per use, and an `after:` rule waits for another rule's answer.
    calls: list[str] = []

    def counting(request: Any) -> dict[str, Any]:
        calls.append(request.last_user)
        return {"content": f"call {len(calls)}"}

    app = create_app(Settings(freeze_time=1767225600), [])
    engine: FakeLLM = app.state.fake_llm
    rules = [
        {"name": "python", "match": {"user": "python"}, "reply": counting},
        {
            "name": "chaos",
            "match": {"user": "chaos"},
            "chaos": {"seed": 5, "error_rate": 0.5},
            "reply": {"content": "c"},
        },
        {"name": "ordered", "match": {"user": "late"}, "reply": {"content": "after the gate"}},
        {"name": "early", "match": {"user": "late"}, "reply": {"content": "before the gate"}},
        {"name": "gate", "match": {"user": "gate"}, "reply": {"content": "gate"}},
    ]
    data, extras = python_rules(rules)
    engine.load_rules(data, extras={**extras, 2: {"after": "gate"}})  # `after:` as expect_ordered sets it
    client = TestClient(app)
    contents = [client.post(CHAT, json=chat("python")).json()["choices"][0]["message"]["content"] for _ in range(5)]
    assert contents == [f"call {n}" for n in range(1, 6)]
    statuses = {client.post(CHAT, json=chat("chaos")).status_code for _ in range(12)}
    assert statuses == {200, 500}  # every request drew its own fate, none was a replay
    assert not any(_is_replay_of(engine, entry) for entry in engine.journal.entries)
    late = [client.post(CHAT, json=chat("late")).json()["choices"][0]["message"]["content"] for _ in range(4)]
    assert late == ["before the gate"] * 4
    client.post(CHAT, json=chat("gate"))
    assert client.post(CHAT, json=chat("late")).json()["choices"][0]["message"]["content"] == "after the gate"


def _is_replay_of(engine: FakeLLM, entry: Any) -> bool:
    return any(other.body is entry.body for other in engine.journal.entries if other is not entry)
