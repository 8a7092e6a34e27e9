"""The coverage and near-miss report (issue 17 part 5): GET /_fake/report, --fake-llm-report and its JSON form."""

from __future__ import annotations

import json
from textwrap import dedent

import httpx
import pytest

anthropic = pytest.importorskip("anthropic")
openai = pytest.importorskip("openai")

from fake_llm import FakeLLMServer  # noqa: E402
from tests.sdk_clients import closing, openai_client  # noqa: E402

RULES = dedent(
    """
    - name: greet
      match: {model: gpt-4o, user: hello}
      times: 1
      reply: {content: Hi}
    - name: retry
      match: {user: flaky}
      replies:
        - {error: {status: 429, message: slow down}}
        - {content: ok}
        - {content: ok again}
    - name: never
      match: {api: gemini}
      reply: {content: x}
    """
)


def test_the_report_endpoint_lists_unused_rules_steps_and_near_misses() -> None:
    with FakeLLMServer(rules=RULES) as server:
        client = openai_client(server)
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}])
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "flaky"}])
        anthropic_client = closing(anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0, timeout=10))
        with pytest.raises(anthropic.BadRequestError):
            anthropic_client.messages.create(
                model="gpt-4o", max_tokens=5, messages=[{"role": "user", "content": "hello, hi"}]
            )
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "hullo"}])
        data = httpx.get(server.url + "/_fake/report", timeout=10).json()
        text = httpx.get(server.url + "/_fake/report?format=text", timeout=10).text
        bad = httpx.get(server.url + "/_fake/report?format=xml", timeout=10)
    assert [r["name"] for r in data["never_hit"]] == ["never"]
    assert [(r["name"], r["reached"], r["steps"]) for r in data["steps_never_reached"]] == [("retry", 1, 3)]
    assert data["unmatched"][0]["closest"] == {
        "rule": "greet",
        "source": "<rules>:2",
        "differences": [],
    }
    assert data["unmatched"][1]["closest"] == {
        "rule": "retry",
        "source": "<rules>:6",
        "differences": ["user: last user message 'hullo' does not contain 'flaky' (ignoring case)"],
    }
    assert text == dedent(
        """\
        fake-llm report: 3 rules, 1 never hit, 1 with replies never reached, 2 unmatched requests
        Rules never hit:
          never (<rules>:12)
        Sequence steps never reached:
          retry (<rules>:6): reached reply 1 of 3
        Unmatched requests:
          #3 POST /v1/messages model='gpt-4o' -> 400 (unmatched) last user 'hello, hi'
            closest rule 'greet' (<rules>:2) differs in:
              - nothing: it is used up or switched off
          #4 POST /v1/chat/completions model='gpt-4' -> 400 (unmatched) last user 'hullo'
            closest rule 'retry' (<rules>:6) differs in:
              - user: last user message 'hullo' does not contain 'flaky' (ignoring case)
        """
    )
    assert bad.status_code == 400


def test_differences_lists_every_field_and_closest_prefers_fewer() -> None:
    from fake_llm.core.near_miss import closest, differences
    from fake_llm.model.request import ChatRequest, Message
    from fake_llm.scenarios.loader import parse_rules

    rules = parse_rules(RULES).rules
    request = ChatRequest("openai-chat", "gpt-4", (Message("user", "hullo"),), stream=True)
    assert differences(rules[0], request) == [
        "model 'gpt-4' does not match 'gpt-4o'",
        "user: last user message 'hullo' does not contain 'hello' (ignoring case)",
    ]
    near = closest(rules, request)
    assert near is not None
    assert near.describe() == (
        "closest rule 'retry' (<rules>:6) differs in:\n"
        "  - user: last user message 'hullo' does not contain 'flaky' (ignoring case)"
    )
    assert closest([], request) is None


PLUGIN_SUITE = """
import openai
import pytest

def client(fake_llm):
    return openai.OpenAI(base_url=fake_llm.base_url, api_key="k", max_retries=0)

def test_hello(fake_llm):
    client(fake_llm).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}])

INLINE = [{"name": "inline", "match": {"user": "x"}, "reply": {"content": "x"}}]

@pytest.mark.fake_llm(fail_on_unmatched=False, rules=INLINE)
def test_miss(fake_llm):
    with pytest.raises(openai.BadRequestError):
        client(fake_llm).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "bye"}])
"""


def write_suite(pytester: pytest.Pytester) -> None:
    (pytester.path / "rules.yaml").write_text("rules:\n" + "".join("  " + line + "\n" for line in RULES.splitlines()))
    pytester.makeini("[pytest]\nfake_llm_scenarios = rules.yaml\n")
    pytester.makepyfile(test_suite=PLUGIN_SUITE)


def test_the_plugin_prints_the_session_report_and_writes_json(pytester: pytest.Pytester) -> None:
    write_suite(pytester)
    result = pytester.runpytest("-p", "no:cacheprovider", "--fake-llm-report", "--fake-llm-report-json=report.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*- fake-llm report -*",
            "fake-llm report: 4 rules, 3 never hit, 0 with replies never reached, 1 unmatched requests",
            "Rules never hit:",
            "  retry (*rules.yaml:7)",
            "  never (*rules.yaml:13)",
            "  inline (<add_rules>:1, in test_suite.py::test_miss)",
            "Unmatched requests:",
            "  test_suite.py::test_miss: #1 POST /v1/chat/completions model='gpt-4o' -> 400 (unmatched) last user "
            "'bye'",
            # Rules a test adds are tried before the session's files, so on a tie the test's own rule is closest.
            "    closest rule 'inline' (<add_rules>:1) differs in:",
            "      - user: last user message 'bye' does not contain 'x' (ignoring case)",
            "fake-llm report written to report.json",
        ]
    )
    data = json.loads((pytester.path / "report.json").read_text())
    assert [r["name"] for r in data["never_hit"]] == ["retry", "never", "inline"]
    assert {r["name"]: r["hits"] for r in data["rules"]}["greet"] == 1


def test_no_report_unless_asked(pytester: pytest.Pytester) -> None:
    write_suite(pytester)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert "fake-llm report" not in result.stdout.str()
