"""Cassettes with vcrpy's habits and staleness (issue 17 parts 3 and 4), driven through pytester with the official
openai and anthropic clients; a second fake-llm stands in for the real provider."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent

import pytest
import yaml

pytest.importorskip("anthropic")
pytest.importorskip("openai")

from fake_llm import FakeLLMServer
from fake_llm.core.staleness import classify_miss
from fake_llm.model.request import ChatRequest, Message, ToolSpec
from fake_llm.scenarios.loader import load_scenario

PROVIDER_RULES = [
    {"name": "echo", "reply": {"content": "Upstream says: {{ last_user }}"}},
]

SUITE = """
import anthropic
import openai
import pytest

TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {PROPS}}}}]

@pytest.mark.fake_llm(cassette=True)
def test_chat(fake_llm):
    with openai.OpenAI(base_url=fake_llm.base_url, api_key="sk-real-key", max_retries=0) as client:
        reply = client.chat.completions.create(
            model="MODEL", tools=TOOLS, messages=[{"role": "user", "content": "PROMPT"}]
        )
    assert reply.choices[0].message.content.startswith("Upstream says:")

@pytest.mark.fake_llm(cassette=True)
def test_claude(fake_llm):
    with anthropic.Anthropic(base_url=fake_llm.url, api_key="sk-ant-real", max_retries=0) as client:
        message = client.messages.create(
            model="claude-x", max_tokens=20, messages=[{"role": "user", "content": "hi claude"}]
        )
    assert message.content[0].text == "Upstream says: hi claude"
"""


@pytest.fixture
def provider() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(rules=PROVIDER_RULES, time_scale=0) as server:
        yield server


def write_suite(
    pytester: pytest.Pytester,
    prompt: str = "What is 2+2?",
    model: str = "gpt-4o",
    props: str = '"q": {"type": "string"}',
) -> None:
    code = SUITE.replace("PROMPT", prompt).replace("MODEL", model).replace("PROPS", props)
    pytester.makepyfile(test_suite=code)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", *args)


def cassette(pytester: pytest.Pytester, test: str = "test_chat") -> Path:
    return pytester.path / "cassettes" / "test_suite" / f"{test}.yaml"


def rules_of(path: Path) -> list[dict[str, object]]:
    rules: list[dict[str, object]] = yaml.safe_load(path.read_text())["rules"]
    return rules


def test_none_mode_needs_the_cassette_and_says_how_to_record_it(pytester: pytest.Pytester) -> None:
    write_suite(pytester)
    result = run(pytester)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        ["*cassette */cassettes/test_suite/test_chat.yaml does not exist: record it with --fake-llm-record=URL*"]
    )


def test_once_records_missing_cassettes_named_after_the_tests_then_replays(
    pytester: pytest.Pytester, provider: FakeLLMServer
) -> None:
    write_suite(pytester)
    run(pytester, f"--fake-llm-record={provider.url}", "--fake-llm-record-mode=once").assert_outcomes(passed=2)
    assert len(provider.journal) == 2
    recorded = rules_of(cassette(pytester))
    assert len(recorded) == 1
    assert set(recorded[0]["fingerprint"]) == {"prompt", "tools", "model"}  # type: ignore[arg-type]
    assert "sk-real-key" not in cassette(pytester).read_text()
    assert cassette(pytester, "test_claude").is_file()
    # `once` with the cassettes present: nothing goes upstream; replay without any flag works offline.
    run(pytester, f"--fake-llm-record={provider.url}", "--fake-llm-record-mode=once").assert_outcomes(passed=2)
    run(pytester).assert_outcomes(passed=2)
    assert len(provider.journal) == 2


def test_new_episodes_adds_and_all_rerecords(pytester: pytest.Pytester, provider: FakeLLMServer) -> None:
    write_suite(pytester)
    run(pytester, f"--fake-llm-record={provider.url}", "--fake-llm-record-mode=once").assert_outcomes(passed=2)
    write_suite(pytester, prompt="What is 3+3?")
    run(pytester, f"--fake-llm-record={provider.url}", "--fake-llm-record-mode=new").assert_outcomes(passed=2)
    assert len(rules_of(cassette(pytester))) == 2
    assert len(provider.journal) == 3
    run(pytester, f"--fake-llm-record={provider.url}", "--fake-llm-record-mode=all").assert_outcomes(passed=2)
    assert len(provider.journal) == 5
    assert len(rules_of(cassette(pytester))) == 2


def record_then_change(pytester: pytest.Pytester, provider: FakeLLMServer, **change: str) -> pytest.RunResult:
    write_suite(pytester)
    run(pytester, f"--fake-llm-record={provider.url}", "--fake-llm-record-mode=once").assert_outcomes(passed=2)
    write_suite(pytester, **change)
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    return result


def test_a_miss_names_the_new_request_and_the_closest_recording_field_by_field(
    pytester: pytest.Pytester, provider: FakeLLMServer
) -> None:
    result = record_then_change(pytester, provider, prompt="What is 2+3?")
    result.stdout.fnmatch_lines(
        [
            "*no rule matched #1 POST /v1/chat/completions model='gpt-4o' -> 400 (unmatched); rules tried:",
            "    openai-chat-what-is-2-2-*: user: last user message 'What is 2+3?' does not equal 'What is 2+2?'",
            "  the cassette */cassettes/test_suite/test_chat.yaml has no recording of this request (last user "
            "message 'What is 2+3?'): prompt edited",
            "  closest recorded rule 'openai-chat-what-is-2-2-*' (*test_chat.yaml:*) differs in:",
            "    - user: last user message 'What is 2+3?' does not equal 'What is 2+2?'",
        ]
    )


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        ({"props": '"q": {"type": "integer"}'}, "tool schema changed"),
        ({"model": "gpt-4.1"}, "model changed"),
        ({"prompt": "Tell me a long story about dragons"}, "new"),
    ],
)
def test_misses_are_classified(
    pytester: pytest.Pytester, provider: FakeLLMServer, change: dict[str, str], cause: str
) -> None:
    result = record_then_change(pytester, provider, **change)
    result.stdout.fnmatch_lines([f"*has no recording of this request (last user message *): {cause}"])


def test_stale_only_rerecords_the_stale_rule_in_place_and_nothing_new(
    pytester: pytest.Pytester, provider: FakeLLMServer
) -> None:
    write_suite(pytester)
    run(pytester, f"--fake-llm-record={provider.url}", "--fake-llm-record-mode=once").assert_outcomes(passed=2)
    (before,) = rules_of(cassette(pytester))
    write_suite(pytester, props='"q": {"type": "integer"}')
    run(pytester, f"--fake-llm-record={provider.url}", "--fake-llm-stale-only").assert_outcomes(passed=2)
    (after,) = rules_of(cassette(pytester))
    assert after["name"] == before["name"]
    assert after["fingerprint"] != before["fingerprint"]
    run(pytester).assert_outcomes(passed=2)
    # A new request is no stale recording: it is not recorded, and the test fails with the miss.
    write_suite(pytester, prompt="Tell me a long story about dragons")
    result = run(pytester, f"--fake-llm-record={provider.url}", "--fake-llm-stale-only")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*has no recording of this request (last user message *): new"])
    assert len(rules_of(cassette(pytester))) == 1


def test_recording_normalises_prompts_for_the_cassette(pytester: pytest.Pytester, provider: FakeLLMServer) -> None:
    code = dedent(
        """
        import uuid, openai, pytest

        @pytest.mark.fake_llm(cassette=True, normalize=["uuid"])
        def test_job(fake_llm):
            text = f"Summarise job {uuid.uuid4()}"
            with openai.OpenAI(base_url=fake_llm.base_url, api_key="k", max_retries=0) as client:
                assert client.chat.completions.create(model="m", messages=[{"role": "user", "content": text}]).choices
        """
    )
    pytester.makepyfile(test_jobs=code)
    run(pytester, f"--fake-llm-record={provider.url}", "--fake-llm-record-mode=once").assert_outcomes(passed=1)
    path = pytester.path / "cassettes" / "test_jobs" / "test_job.yaml"
    data = yaml.safe_load(path.read_text())
    assert data["normalize"] == ["uuid"]
    assert data["rules"][0]["match"]["user"] == {"equals": "Summarise job <uuid>"}
    run(pytester).assert_outcomes(passed=1)  # another uuid, the same recording


def test_a_record_mode_that_records_needs_an_upstream(pytester: pytest.Pytester) -> None:
    write_suite(pytester)
    result = run(pytester, "--fake-llm-record-mode=all")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*record mode all records from a provider: give it with --fake-llm-record=URL"])


def test_classify_miss_without_fingerprints_and_for_an_identical_request(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        dedent(
            """
            rules:
              - name: plain
                match: {user: {equals: hi}}
                reply: {content: x}
            """
        )
    )
    request = ChatRequest("openai-chat", "m", (Message("user", "hello"),), tools=(ToolSpec("t"),))
    assert classify_miss(load_scenario(path).rules, request) is None


def test_cli_record_once_normalize_and_stale_only(
    tmp_path: Path, provider: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn
    from starlette.testclient import TestClient

    from fake_llm.cli import main

    served: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app))
    out = tmp_path / "c.yaml"

    def ask(*args: str, text: str, tool_type: str = "string") -> int:
        assert main(["record", "--upstream", provider.url, "--out", str(out), *args]) == 0
        tools = [{"type": "function", "function": {"name": "t", "parameters": {"type": tool_type}}}]
        body = {"model": "m", "tools": tools, "messages": [{"role": "user", "content": text}]}
        with TestClient(served["app"]) as client:  # type: ignore[arg-type]
            return client.post("/v1/chat/completions", json=body).status_code

    assert ask("--mode", "once", "--normalize", "uuid", text="job 123e4567-e89b-12d3-a456-426614174000") == 200
    assert "(mode once)" in capsys.readouterr().out
    (rule,) = rules_of(out)
    assert rule["match"]["user"] == {"equals": "job <uuid>"}  # type: ignore[index]
    assert yaml.safe_load(out.read_text())["normalize"] == ["uuid"]
    # `once` on an existing file answers from it; a changed schema is re-recorded by --stale-only, in place.
    assert ask("--mode", "once", text="job aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee") == 200
    assert len(provider.journal) == 1
    assert ask("--stale-only", text="job 123e4567-e89b-12d3-a456-426614174000", tool_type="object") == 200
    assert "stale rules only" in capsys.readouterr().out
    (again,) = rules_of(out)
    assert again["name"] == rule["name"]
    assert again["fingerprint"] != rule["fingerprint"]
    assert ask("--stale-only", text="something else entirely, not like the job", tool_type="object") == 400
    assert len(provider.journal) == 2
