"""Shared state through a real Redis: three replicas (FakeLLMServer threads on their own ports, each with its own
engine) step sequences and `times` exactly once, share rate limits, rule changes and one journal; namespaces."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from textwrap import dedent
from typing import Any

import httpx
import pytest

from fake_llm import FakeLLMServer
from fake_llm.core.journal import JournalEntry
from fake_llm.core.redis_store import connect
from fake_llm.model.stream import Event

RULES = dedent(
    """\
    name: shared
    rules:
      - name: limited
        match: {user: limited}
        times: 30
        reply: {content: limited}
      - name: counter
        match: {user: count}
        replies: [{content: one}, {content: two}, {content: three}]
      - name: fallback
        match: {user: {regex: "^(limited|hi|hello)"}}
        reply: {content: fallback}
    """
)


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}


def content(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    text: str = response.json()["choices"][0]["message"]["content"]
    return text


@pytest.fixture
def namespace() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def replicas(redis_url: str, namespace: str) -> Iterator[list[FakeLLMServer]]:
    """Three replicas of one namespace, sharing the session's Redis."""
    with ExitStack() as stack:
        servers = [
            stack.enter_context(FakeLLMServer(rules=RULES, state=redis_url, namespace=namespace, freeze_time=1e9))
            for _ in range(3)
        ]
        yield servers


async def _post_all(requests: list[tuple[str, dict[str, Any], dict[str, str]]]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=60)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        return await asyncio.gather(*(client.post(url, json=body, headers=h) for url, body, h in requests))


def test_replies_step_exactly_once_across_replicas_under_200_concurrent_conversations(
    replicas: list[FakeLLMServer],
) -> None:
    async def conversation(client: httpx.AsyncClient, i: int) -> list[str]:
        # Each turn goes to the next replica; the same opening message keeps it one conversation.
        body = {"model": "m", "messages": [{"role": "user", "content": f"count for conversation {i}"}]}
        replies = []
        for turn in range(4):
            server = replicas[(i + turn) % 3]
            replies.append(content(await client.post(server.base_url + "/chat/completions", json=body)))
        return replies

    async def run() -> list[list[str]]:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200)) as client:
            return await asyncio.gather(*(conversation(client, i) for i in range(200)))

    results = asyncio.run(run())
    assert all(replies == ["one", "two", "three", "three"] for replies in results)
    entries = replicas[0].journal.entries
    assert len(entries) == 800
    assert sorted(e.seq for e in entries) == list(range(1, 801))  # one numbering for every replica
    assert sorted(e.step for e in entries).count(1) == 200


def test_times_are_used_exactly_once_across_replicas(replicas: list[FakeLLMServer]) -> None:
    requests = [(replicas[i % 3].base_url + "/chat/completions", chat("limited"), {}) for i in range(90)]
    answers = [content(r) for r in asyncio.run(_post_all(requests))]
    assert answers.count("limited") == 30
    assert answers.count("fallback") == 60
    assert replicas[2].engine.selector.hits()["limited"] == 30
    # An exhausted rule explains itself wherever it is asked.
    entry = replicas[1].journal.filter(rule="fallback")[-1]
    assert ("limited", "exhausted 30/30") in entry.reasons


def test_rate_limit_windows_are_shared(redis_url: str, namespace: str) -> None:
    with ExitStack() as stack:
        servers = [
            stack.enter_context(
                FakeLLMServer(rules=RULES, state=redis_url, namespace=namespace, freeze_time=1e9, requests_per_minute=5)
            )
            for _ in range(3)
        ]
        statuses = []
        for i in range(12):
            response = httpx.post(servers[i % 3].base_url + "/chat/completions", json=chat("hi"), timeout=10)
            statuses.append(response.status_code)
        assert statuses == [200] * 5 + [429] * 7
        assert "Limit 5, Used 5" in response.json()["error"]["message"]
        assert response.headers["x-ratelimit-remaining-requests"] == "0"


def test_one_journal_in_order_naming_each_replica(replicas: list[FakeLLMServer]) -> None:
    for i in range(9):
        httpx.post(replicas[i % 3].base_url + "/chat/completions", json=chat(f"hello {i}"), timeout=10)
    over_http = httpx.get(replicas[1].url + "/_fake/journal", timeout=10).json()["entries"]
    assert [e["seq"] for e in over_http] == list(range(1, 10))
    assert [e["body"]["messages"][0]["content"] for e in over_http] == [f"hello {i}" for i in range(9)]
    assert len({e["replica"] for e in over_http}) == 1  # three engines, one process: one host:pid
    for server in replicas:
        assert [e.seq for e in server.journal.entries] == list(range(1, 10))
    assert replicas[2].journal.last.rule == "fallback"


def test_stream_outcomes_reach_the_shared_journal(replicas: list[FakeLLMServer]) -> None:
    with httpx.stream(
        "POST", replicas[0].base_url + "/chat/completions", json=chat("count", stream=True), timeout=10
    ) as response:
        assert response.status_code == 200
        assert "[DONE]" in response.read().decode()
    deadline = time.monotonic() + 10
    while (entry := replicas[1].journal.last).stream_outcome is None and time.monotonic() < deadline:
        time.sleep(0.01)  # the server notes how the stream ended just after the client has read it: poll, bounded
    assert (entry.stream, entry.stream_outcome, entry.rule) == (True, "completed", "counter")


def test_rule_changes_and_switches_reach_every_replica(replicas: list[FakeLLMServer]) -> None:
    first, second, third = replicas
    added = httpx.post(
        first.url + "/_fake/rules",
        content="- name: runtime\n  match: {user: runtime}\n  reply: {content: added at run time}\n",
        timeout=10,
    )
    assert added.status_code == 200, added.text
    assert content(httpx.post(second.base_url + "/chat/completions", json=chat("runtime"), timeout=10)) == (
        "added at run time"
    )
    assert "runtime" in [r["name"] for r in httpx.get(third.url + "/_fake/rules", timeout=10).json()["rules"]]
    # A second set added on another replica keeps the first.
    later = [{"name": "later", "match": {"user": "later"}, "reply": {"content": "later"}}]
    assert httpx.post(third.url + "/_fake/rules", json=later, timeout=10).status_code == 200
    names = [r["name"] for r in httpx.get(first.url + "/_fake/rules", timeout=10).json()["rules"]]
    assert names[:2] == ["runtime", "later"]  # rules added at run time come before the files' rules

    switched = httpx.post(second.url + "/_fake/scenarios/shared/disable", timeout=10)
    assert switched.status_code == 200
    missed = httpx.post(third.base_url + "/chat/completions", json=chat("count"), timeout=10)
    assert missed.status_code == 400  # `shared` is off everywhere; run-time rules do not match "count"
    httpx.post(first.url + "/_fake/scenarios/all/activate", timeout=10)
    assert content(httpx.post(third.base_url + "/chat/completions", json=chat("count"), timeout=10)) == "one"

    assert httpx.post(third.url + "/_fake/reset?rules=true", timeout=10).status_code == 200
    assert httpx.post(first.base_url + "/chat/completions", json=chat("runtime"), timeout=10).status_code == 400
    assert [r["name"] for r in httpx.get(second.url + "/_fake/rules", timeout=10).json()["rules"]] == [
        "limited",
        "counter",
        "fallback",
    ]


def test_reset_wipes_one_namespace_only(replicas: list[FakeLLMServer]) -> None:
    first, second, _ = replicas

    def ask(server: FakeLLMServer, session: str) -> str:
        response = httpx.post(
            server.base_url + "/chat/completions",
            json=chat("count"),
            headers={"X-Fake-LLM-Session": session},
            timeout=10,
        )
        return content(response)

    assert [ask(first, "a"), ask(second, "a"), ask(first, "b")] == ["one", "two", "one"]
    assert len(first.session("a").journal) == 2
    reset = httpx.post(second.url + "/_fake/reset", headers={"X-Fake-LLM-Session": "a"}, timeout=10)
    assert reset.json() == {"reset": True, "rules_restored": False, "namespace": "a"}
    assert first.session("a").journal.entries == []
    assert [e.seq for e in second.session("b").journal.entries] == [1]
    assert ask(second, "a") == "one"  # its sequence starts again
    assert ask(first, "b") == "two"  # the other namespace's goes on
    shown = httpx.get(first.url + "/_fake/journal?session=b", timeout=10).json()["entries"]
    assert [e["step"] for e in shown] == [1, 2]
    assert first.journal.entries == []  # the default namespace saw none of it


def test_replacing_rules_reaches_every_replica(replicas: list[FakeLLMServer]) -> None:
    first, second, third = replicas
    only = "- name: only\n  reply: {content: only rule}\n"
    assert httpx.post(first.url + "/_fake/rules?mode=replace", content=only, timeout=10).status_code == 200
    assert [r["name"] for r in httpx.get(second.url + "/_fake/rules", timeout=10).json()["rules"]] == ["only"]
    third.add_rules([{"name": "extra", "match": {"user": "extra"}, "reply": {"content": "extra"}}])
    assert [r["name"] for r in httpx.get(first.url + "/_fake/rules", timeout=10).json()["rules"]] == [
        "only",
        "extra",
    ]
    assert content(httpx.post(second.base_url + "/chat/completions", json=chat("count"), timeout=10)) == "only rule"


def test_a_replica_with_other_files_skips_rules_it_cannot_take(
    redis_url: str, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    other = "name: other\nrules:\n  - name: clash\n    reply: {content: other files}\n"
    with (
        FakeLLMServer(rules=RULES, state=redis_url, namespace=namespace) as first,
        FakeLLMServer(rules=other, state=redis_url, namespace=namespace) as second,
    ):
        first.add_rules("- name: clash\n  match: {user: clash}\n  reply: {content: clash}\n")
        answer = httpx.post(second.base_url + "/chat/completions", json=chat("clash"), timeout=10)
        assert content(answer) == "other files"
    assert "could not apply rules another replica added" in caplog.text


def test_clearing_the_shared_journal_keeps_the_numbering(replicas: list[FakeLLMServer]) -> None:
    for server in replicas:
        httpx.post(server.base_url + "/chat/completions", json=chat("hi"), timeout=10)
    assert httpx.delete(replicas[0].url + "/_fake/journal", timeout=10).json() == {"cleared": True}
    assert replicas[1].journal.entries == []
    httpx.post(replicas[2].base_url + "/chat/completions", json=chat("hi"), timeout=10)
    assert [e.seq for e in replicas[1].journal.entries] == [4]
    # The counters' and windows' own resets wipe the namespace too (what a reset without rules does).
    replicas[0].engine.store.counters.reset()
    assert replicas[1].journal.entries == []
    replicas[0].engine.store.windows.reset()
    assert replicas[2].engine.selector.hits() == {}


def test_the_pytest_fixtures_run_on_redis(pytester: pytest.Pytester, redis_url: str, namespace: str) -> None:
    pytester.makeconftest(
        dedent(
            f"""\
            import pytest
            from fake_llm import Settings

            @pytest.fixture(scope="session")
            def fake_llm_settings():
                return Settings(state="{redis_url}", namespace="{namespace}")
            """
        )
    )
    pytester.makepyfile(
        dedent(
            """\
            import httpx

            def test_one(fake_llm):
                fake_llm.add_rules([{"name": "r", "replies": [{"content": "a"}, {"content": "b"}]}])
                body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
                for expected in ("a", "b"):
                    answer = httpx.post(fake_llm.base_url + "/chat/completions", json=body, timeout=10)
                    assert answer.json()["choices"][0]["message"]["content"] == expected
                assert fake_llm.journal.last.replica
                fake_llm.journal.assert_called("r", times=2)

            def test_two_starts_clean(fake_llm):
                assert fake_llm.journal.entries == []
                assert fake_llm.engine.selector.rules == []
            """
        )
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_a_namespace_with_glob_characters_resets_only_itself(replicas: list[FakeLLMServer]) -> None:
    def ask(session: str) -> httpx.Response:
        headers = {"X-Fake-LLM-Session": session}
        return httpx.post(replicas[0].base_url + "/chat/completions", json=chat("hi"), headers=headers, timeout=10)

    for session in ("a*", "abc", "a?c"):
        assert ask(session).status_code == 200
    httpx.post(replicas[1].url + "/_fake/reset", headers={"X-Fake-LLM-Session": "a*"}, timeout=10)
    assert replicas[2].session("a*").journal.entries == []
    assert len(replicas[2].session("abc").journal) == 1
    assert len(replicas[2].session("a?c").journal) == 1


def test_a_realtime_sessions_frames_reach_the_shared_journal_one_amendment_each(redis_url: str, namespace: str) -> None:
    journal = connect(redis_url, namespace).make_journal(50)
    journal.record(JournalEntry(seq=1, time=0.0, method="GET", path="/v1/realtime", headers={}, body={}))
    journal.session_event(1, Event('{"type":"session.created"}', event="session.created", kind="server"))
    journal.session_event(1, Event('{"type":"response.create"}', event="response.create", kind="client"))
    journal.stream_ended(1, "closed by the client (code 1000)")
    entry = journal.last
    assert [(e["event"], e["kind"]) for e in entry.events] == [
        ("session.created", "server"),
        ("response.create", "client"),
    ]
    assert entry.stream_outcome == "closed by the client (code 1000)"
