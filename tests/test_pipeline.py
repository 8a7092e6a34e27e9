"""The pipeline without HTTP: answer() turns an Inbound request into one Outcome of the closed set, and
journal_entry() turns that outcome into the one immutable journal entry."""

from __future__ import annotations

import dataclasses
import json
from textwrap import dedent
from typing import Any

import pytest

from fake_llm.core.journal import Journal
from fake_llm.core.outcome_journal import journal_entry
from fake_llm.core.outcomes import (
    Completed,
    Counted,
    ErrorReply,
    Hang,
    Mismatched,
    Outcome,
    RateLimited,
    RawBody,
    Rejected,
    Unmatched,
)
from fake_llm.core.pipeline import Inbound, answer
from fake_llm.dialects import COUNTERS, DIALECTS
from fake_llm.dialects.ollama.chat import OllamaOptions
from fake_llm.dialects.openai.completions import CompletionsOptions
from fake_llm.http.engine import FakeLLM
from fake_llm.model.request import ChatRequest, options_of
from fake_llm.scenarios.loader import parse_rules
from fake_llm.settings import Settings

RULES = """
- name: greet
  match: {user: {contains: hello}}
  reply: {content: Hi there}
- name: broken
  match: {user: {contains: broken}}
  reply: {error: {status: 503, message: down}}
- name: raw
  match: {user: {contains: raw}}
  reply: {raw: {status: 200, body: "not json", content_type: text/plain}}
- name: stuck
  match: {user: {contains: stuck}}
  reply: {hang: true}
- name: tools
  match: {user: {contains: tools}}
  reply: {content: no tool here}
- name: limited
  match: {user: {contains: limited}}
  rate_limit: {requests_per_minute: 1}
  reply: {content: once}
"""


def engine(**settings: Any) -> FakeLLM:
    scenario = parse_rules(dedent(RULES), source="<test>")
    return FakeLLM(Settings(freeze_time=1767225600, **settings), [scenario])


def inbound(body: Any, *, path: str = "/v1/chat/completions", headers: dict[str, str] | None = None) -> Inbound:
    raw = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    return Inbound("POST", path, headers or {}, {}, {}, raw)


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], **extra}


def ask(fake: FakeLLM, body: Any, dialect: str = "openai-chat", **options: Any) -> Outcome:
    return answer(fake, DIALECTS[dialect], inbound(body, **options), fake.journal.next_seq())


def test_a_matched_reply_is_completed_with_the_rule_seen() -> None:
    outcome = ask(engine(), chat("hello"))
    assert isinstance(outcome, Completed)
    assert outcome.plan is None
    assert outcome.completion.choices[0].text == "Hi there"
    assert (outcome.seen.rule, outcome.seen.model, outcome.seen.stream) == ("greet", "gpt-4o", False)
    assert outcome.meta.system_fingerprint.startswith("fp_")


def test_a_stream_is_planned_with_its_faults() -> None:
    outcome = ask(engine(), chat("hello", stream=True))
    assert isinstance(outcome, Completed)
    assert outcome.plan is not None
    assert outcome.plan.events[-1].data == "[DONE]"


@pytest.mark.parametrize(
    ("body", "kind", "status"),
    [
        (None, Rejected, 400),
        (b"{nope", Rejected, 400),
        ({"model": "gpt-4o"}, Rejected, 400),
        (chat("nothing matches this"), Unmatched, 400),
        (chat("broken"), ErrorReply, 503),
        (chat("raw"), RawBody, 200),
        (chat("stuck"), Hang, 200),
    ],
)
def test_each_exit_is_one_outcome_and_one_entry(body: Any, kind: type, status: int) -> None:
    fake = engine()
    seq = fake.journal.next_seq()
    outcome = answer(fake, DIALECTS["openai-chat"], inbound(body), seq)
    assert isinstance(outcome, kind)
    entry = journal_entry(seq, 0.0, inbound(body), "openai-chat", outcome, {})
    assert entry.status == status
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.status = 200  # type: ignore[misc]


def test_body_too_large_uses_the_dialect_status() -> None:
    outcome = ask(engine(), None, "anthropic")
    assert isinstance(outcome, Rejected)
    assert (outcome.error.status, outcome.error.code) == (413, "request_too_large")


def test_a_bad_key_is_rejected_before_parsing() -> None:
    outcome = ask(engine(api_keys=("sk-right",)), {"not": "a chat"}, headers={"authorization": "Bearer sk-wrong-key"})
    assert isinstance(outcome, Rejected)
    assert outcome.error.status == 401
    assert outcome.error.message == "Incorrect API key provided: sk-****-key."


def test_an_unknown_scenario_header_is_rejected() -> None:
    outcome = ask(engine(), chat("hello"), headers={"x-fake-llm-scenario": "nope"})
    assert isinstance(outcome, Rejected)
    assert outcome.error.code == "fake_llm_unknown_scenario"


def test_a_reply_that_contradicts_the_request_is_mismatched() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    outcome = ask(engine(), chat("tools", tools=tools, tool_choice="required"))
    assert isinstance(outcome, Mismatched)
    entry = journal_entry(1, 0.0, inbound(None), "openai-chat", outcome, {})
    assert (entry.outcome, entry.rule, entry.status) == ("mismatch", "tools", 400)


def test_the_second_request_over_a_rule_limit_is_rate_limited() -> None:
    fake = engine()
    assert isinstance(ask(fake, chat("limited")), Completed)
    outcome = ask(fake, chat("limited"))
    assert isinstance(outcome, RateLimited)
    assert outcome.headers["retry-after"]
    assert (
        journal_entry(2, 0.0, inbound(None), "openai-chat", outcome, {}).reply == "rate limited (requests per minute)"
    )


def test_a_token_counter_counts_without_a_rule() -> None:
    fake = engine()
    body = {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "nothing matches"}]}
    seq = fake.journal.next_seq()
    outcome = answer(fake, COUNTERS[0], inbound(body, path="/v1/messages/count_tokens"), seq)
    assert isinstance(outcome, Counted)
    assert outcome.tokens > 0
    entry = journal_entry(seq, 0.0, inbound(body), "anthropic", outcome, {})
    assert (entry.outcome, entry.rule, entry.model) == ("counted", None, "claude-sonnet-4-5")


def test_stream_ended_replaces_the_entry_under_the_lock() -> None:
    fake, journal = engine(), Journal()
    outcome = ask(fake, chat("hello", stream=True))
    journal.record(journal_entry(1, 0.0, inbound(None), "openai-chat", outcome, {}))
    journal.stream_ended(1, "client disconnected")
    journal.stream_ended(99, "completed")  # an entry the ring buffer forgot: nothing to note
    assert journal.last.stream_outcome == "client disconnected"
    assert journal.last.schedule


def test_a_renderer_reading_another_dialects_options_is_a_clear_bug() -> None:
    request = ChatRequest(api="openai-chat", model="m", messages=(), options=OllamaOptions())
    with pytest.raises(TypeError, match="openai-chat request carries OllamaOptions options, not CompletionsOptions"):
        options_of(request, CompletionsOptions)
    assert options_of(dataclasses.replace(request, options=CompletionsOptions(echo=True)), CompletionsOptions).echo
    assert options_of(dataclasses.replace(request, options=None), CompletionsOptions) == CompletionsOptions()
