"""The journal's byte budget and robust reading (issue 11, finding 6): big bodies are kept truncated with a visible
marker, the oldest entries go once the budget is spent, and reading never fails whatever a request held."""

from __future__ import annotations

import json

import httpx

from fake_llm.core.journal import MAX_BODY_CHARS, Journal, JournalEntry
from fake_llm.testing.server import FakeLLMServer

RULES = "rules: [{name: hello, reply: {content: hi}}]"


def _ask(server: FakeLLMServer, text: str) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
    assert httpx.post(server.url + "/v1/chat/completions", json=body, timeout=10).status_code == 200


def test_big_bodies_are_kept_truncated_with_a_marker() -> None:
    with FakeLLMServer(rules=RULES) as server:
        _ask(server, "x" * (MAX_BODY_CHARS + 10_000))
        _ask(server, "small")
        entries = httpx.get(server.url + "/_fake/journal", timeout=10).json()["entries"]
        big, small = entries
        assert isinstance(big["body"], str)
        assert "[truncated by fake-llm:" in big["body"]
        assert len(big["body"]) < MAX_BODY_CHARS + 200
        assert small["body"]["messages"][0]["content"] == "small"  # ordinary bodies stay JSON


def test_the_byte_budget_drops_the_oldest_entries() -> None:
    with FakeLLMServer(rules=RULES, journal_bytes=1_000_000) as server:
        for index in range(30):
            _ask(server, f"{index} " + "y" * 100_000)
        entries = server.journal.entries
        assert 5 < len(entries) < 30
        assert server.journal.bytes <= 1_000_000
        assert entries[-1].body["messages"][0]["content"].startswith("29 ")
        assert len(httpx.get(server.url + "/_fake/journal", timeout=10).json()["entries"]) == len(entries)


def test_the_entry_count_still_applies() -> None:
    journal = Journal(size=3)
    for seq in range(1, 6):
        journal.record(JournalEntry(seq, 0.0, "POST", "/", {}, None))
    assert [e.seq for e in journal.entries] == [3, 4, 5]
    journal.clear()
    assert journal.bytes == 0


def test_reading_never_fails_on_odd_values() -> None:
    deep: object = "bottom"
    for _ in range(5000):
        deep = [deep]
    for body in ("lone \ud800 surrogate", {"text": "\udfff"}, deep, {"b": b"raw"}):
        journal = Journal()
        journal.record(JournalEntry(1, 0.0, "POST", "/", {}, body))
        loaded = json.loads(journal.entries[0].to_json())
        assert loaded["seq"] == 1


def test_a_rejected_surrogate_request_leaves_the_journal_readable() -> None:
    with FakeLLMServer(rules=RULES) as server:
        raw = '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "\\ud800"}]}'
        assert httpx.post(server.url + "/v1/chat/completions", content=raw, timeout=10).status_code == 400
        response = httpx.get(server.url + "/_fake/journal", timeout=10)
        assert response.status_code == 200
        assert response.json()["entries"][0]["status"] == 400
