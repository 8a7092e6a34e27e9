"""The journal: redaction, the ring buffer, queries, assertion texts and concurrent recording."""

from __future__ import annotations

import threading

import pytest

from fake_llm.core.journal import Journal, JournalEntry, redact_headers
from fake_llm.errors import JournalAssertionError


def entry(
    seq: int,
    *,
    rule: str | None = "greet",
    path: str = "/v1/chat/completions",
    model: str | None = "gpt-4o-mini",
    status: int = 200,
    outcome: str = "matched",
    headers: dict[str, str] | None = None,
    reasons: list[tuple[str, str]] | None = None,
) -> JournalEntry:
    return JournalEntry(
        seq=seq,
        time=1767225600.0,
        method="POST",
        path=path,
        headers=headers or {},
        body={"model": model},
        api="openai-chat",
        model=model,
        outcome=outcome,
        rule=rule,
        reasons=reasons or [],
        status=status,
    )


def filled() -> Journal:
    journal = Journal()
    journal.record(entry(1, headers={"x-team": "blue"}))
    journal.record(entry(2, rule="essay", model="gpt-4.1-mini"))
    journal.record(
        entry(
            3,
            rule=None,
            status=400,
            outcome="unmatched",
            model="claude-3",
            reasons=[("greet", "user: last user message 'bye' does not contain 'hello' (ignoring case)")],
        )
    )
    journal.record(entry(4, rule=None, path="/v1/messages", status=500, outcome="error"))
    journal.record(entry(5, rule=None, status=401, outcome="rejected", model=None))
    return journal


# --------------------------------------------------------------------------------------------- redaction


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([("Authorization", "Bearer sk-test-abcdefgh1234")], {"authorization": "Bearer [redacted]...1234"}),
        ([("authorization", "Bearer short")], {"authorization": "Bearer [redacted]"}),
        ([("X-Api-Key", "sk-ant-api03-abcdefghijkl")], {"x-api-key": "[redacted]...ijkl"}),
        ([("x-api-key", "short-key")], {"x-api-key": "[redacted]"}),
        ([("api-key", "azure-key-0123456789")], {"api-key": "[redacted]...6789"}),
        ([("x-goog-api-key", "AIzaSyA-0123456789")], {"x-goog-api-key": "[redacted]...6789"}),
        ([("X-Fake-LLM-Admin-Token", "admin-secret")], {"x-fake-llm-admin-token": "[redacted]"}),
        ([("Content-Type", "application/json")], {"content-type": "application/json"}),
    ],
)
def test_secret_headers_are_redacted(headers: list[tuple[str, str]], expected: dict[str, str]) -> None:
    assert redact_headers(headers) == expected


def test_authorization_without_a_scheme_never_leaks_the_key() -> None:
    # Some clients send the raw key in Authorization; the journal must not keep it.
    redacted = redact_headers([("Authorization", "sk-secret-value-123456")])["authorization"]
    assert "sk-secret" not in redacted
    assert "[redacted]" in redacted


# --------------------------------------------------------------------------------------------- the buffer


def test_ring_buffer_keeps_the_newest_entries() -> None:
    journal = Journal(size=3)
    for seq in range(1, 6):
        journal.record(entry(seq))
    assert [e.seq for e in journal.entries] == [3, 4, 5]
    assert len(journal) == 3
    assert journal.last.seq == 5


def test_sequence_numbers_and_clear() -> None:
    journal = Journal()
    assert [journal.next_seq() for _ in range(3)] == [1, 2, 3]
    journal.record(entry(3))
    journal.clear(restart_numbering=False)
    assert journal.entries == []
    assert journal.next_seq() == 4
    journal.clear()
    assert journal.next_seq() == 1


def test_entries_is_a_snapshot() -> None:
    journal = Journal()
    journal.record(entry(1))
    snapshot = journal.entries
    journal.record(entry(2))
    assert [e.seq for e in snapshot] == [1]


def test_last_of_an_empty_journal_fails_with_a_clear_text() -> None:
    with pytest.raises(JournalAssertionError, match=r"^the journal is empty: no request reached fake-llm$"):
        Journal().last  # noqa: B018


def test_journal_assertion_error_is_an_assertion_error() -> None:
    assert issubclass(JournalAssertionError, AssertionError)


# --------------------------------------------------------------------------------------------- queries


@pytest.mark.parametrize(
    ("query", "seqs"),
    [
        ({}, [1, 2, 3, 4, 5]),
        ({"rule": "greet"}, [1]),
        ({"rule": "nope"}, []),
        ({"path": "/v1/chat/*"}, [1, 2, 3, 5]),
        ({"path": "/v1/messages"}, [4]),
        ({"model": "gpt-4*"}, [1, 2, 4]),
        ({"model": "claude-3"}, [3]),
        ({"status": 200}, [1, 2]),
        ({"status": 400}, [3]),
        ({"matched": True}, [1, 2]),
        ({"matched": False}, [3, 4, 5]),
        ({"header": {"X-Team": "blue"}}, [1]),
        ({"header": {"x-team": "red"}}, []),
        ({"model": "gpt-4*", "status": 200, "path": "/v1/chat/completions"}, [1, 2]),
    ],
)
def test_filter_by_each_key(query: dict[str, object], seqs: list[int]) -> None:
    assert [e.seq for e in filled().filter(**query)] == seqs  # type: ignore[arg-type]


def test_unmatched_and_errors() -> None:
    journal = filled()
    assert [e.seq for e in journal.unmatched] == [3]
    assert [e.seq for e in journal.errors] == [4]
    assert [e.matched for e in journal.entries] == [True, True, False, False, False]


def test_entry_to_dict_and_describe() -> None:
    unmatched = filled().entries[2]
    data = unmatched.to_dict()
    assert data["reasons"] == [
        {"rule": "greet", "reason": "user: last user message 'bye' does not contain 'hello' (ignoring case)"}
    ]
    assert data["outcome"] == "unmatched"
    assert data["seq"] == 3
    assert unmatched.describe() == "#3 POST /v1/chat/completions model='claude-3' -> 400 (unmatched)"
    assert filled().entries[0].describe() == "#1 POST /v1/chat/completions model='gpt-4o-mini' -> 200 (rule 'greet')"


# --------------------------------------------------------------------------------------------- assert_called


def test_assert_called_returns_the_calls() -> None:
    journal = filled()
    assert [e.seq for e in journal.assert_called("greet")] == [1]
    assert [e.seq for e in journal.assert_called("essay", times=1)] == [2]


def test_assert_called_failure_lists_other_requests_with_why_the_rule_did_not_match() -> None:
    with pytest.raises(JournalAssertionError) as info:
        filled().assert_called("greet", times=2)
    assert str(info.value) == (
        "rule 'greet' was expected to answer 2 times, but answered 1 time.\n"
        "Other requests:\n"
        "  #2 POST /v1/chat/completions model='gpt-4.1-mini' -> 200 (rule 'essay')\n"
        "  #3 POST /v1/chat/completions model='claude-3' -> 400 (unmatched); 'greet' did not match: "
        "user: last user message 'bye' does not contain 'hello' (ignoring case)\n"
        "  #4 POST /v1/messages model='gpt-4o-mini' -> 500 (error)\n"
        "  #5 POST /v1/chat/completions model=None -> 401 (rejected)"
    )


def test_assert_called_never_called() -> None:
    journal = Journal()
    with pytest.raises(JournalAssertionError) as info:
        journal.assert_called("greet")
    assert str(info.value) == (
        "rule 'greet' was expected to answer at least once, but answered 0 times.\nNo other requests were made."
    )
    journal.record(entry(1))
    with pytest.raises(JournalAssertionError, match=r"expected to answer 0 times, but answered 1 time\.\n"):
        journal.assert_called("greet", times=0)


def test_assert_called_lists_only_the_last_ten_other_requests() -> None:
    journal = Journal()
    for seq in range(1, 16):
        journal.record(entry(seq, rule="other"))
    with pytest.raises(JournalAssertionError) as info:
        journal.assert_called("greet", times=1)
    lines = str(info.value).splitlines()
    assert len(lines) == 12
    assert lines[2].startswith("  #6 ")
    assert lines[-1].startswith("  #15 ")


# --------------------------------------------------------------------------------------------- threads


def test_recording_from_several_threads() -> None:
    journal = Journal(size=10_000)
    threads_count, per_thread = 8, 250
    barrier = threading.Barrier(threads_count)

    def work() -> None:
        barrier.wait()
        for _ in range(per_thread):
            seq = journal.next_seq()
            journal.record(entry(seq))
            journal.filter(status=200)

    threads = [threading.Thread(target=work) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seqs = sorted(e.seq for e in journal.entries)
    assert seqs == list(range(1, threads_count * per_thread + 1))


def test_session_events_replace_the_entry_and_never_change_one_already_read() -> None:
    journal = Journal()
    journal.record(JournalEntry(seq=1, time=0.0, method="GET", path="/v1/realtime", headers={}, body={}))
    before = journal.last
    journal.session_event(1, "first frame")
    journal.session_event(1, "second frame")
    assert before.events == []
    assert journal.last.events == ["first frame", "second frame"]
    journal.session_event(99, "no such entry")  # an entry no longer kept is left alone
    assert len(journal) == 1
