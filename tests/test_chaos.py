"""Seeded chaos (issue 17 part 7): draws from the seed, journaled, replayable; the official clients see the faults."""

from __future__ import annotations

import contextlib
import json
from textwrap import dedent
from typing import Any

import httpx
import pytest

anthropic = pytest.importorskip("anthropic")
openai = pytest.importorskip("openai")

from fake_llm import FakeLLMServer  # noqa: E402
from fake_llm.cli import main  # noqa: E402
from fake_llm.core.chaos import draw  # noqa: E402
from fake_llm.model.spec import ChaosSpec  # noqa: E402
from tests.sdk_clients import closing, openai_client  # noqa: E402


def test_draws_follow_the_seed_and_say_what_they_rolled() -> None:
    spec = ChaosSpec(error_rate=0.5, stall_rate=0.25)
    first = draw(spec, 42, "rule", 1)
    assert first == draw(spec, 42, "rule", 1)
    assert first.notes[0] == "chaos seed=42 use=1"
    assert [n.split(" roll ")[0] for n in first.notes[1:]] == ["error", "stall"]
    assert [draw(spec, 42, "rule", use).error for use in range(1, 40)] != [
        draw(spec, 43, "rule", use).error for use in range(1, 40)
    ]
    # A rate of 0 never fires; changing one rate never shifts another kind's roll.
    assert not any(draw(ChaosSpec(), seed, "r", 1).error for seed in range(50))
    other = draw(ChaosSpec(error_rate=0.9, stall_rate=0.25), 42, "rule", 1)
    assert other.notes[2] == first.notes[2]


def chaos_rules(chaos: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": "chaotic", "chaos": chaos, "reply": {"content": "one two three four five six"}}]


def test_an_injected_error_reaches_openai_and_anthropic_in_their_shapes() -> None:
    error = {"status": 529, "type": "overloaded_error", "message": "Overloaded"}
    with FakeLLMServer(rules=chaos_rules({"seed": 1, "error_rate": 1, "error": error})) as server:
        with pytest.raises(openai.APIStatusError) as failed:
            openai_client(server).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        assert failed.value.status_code == 529
        client = closing(anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0, timeout=10))
        with pytest.raises(anthropic.APIStatusError) as caught:
            client.messages.create(model="c", max_tokens=5, messages=[{"role": "user", "content": "x"}])
        assert caught.value.body == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        entry = server.journal.last
        assert entry.faults == ["chaos: error"]
        assert entry.chaos[0] == "chaos seed=1 use=2"
        assert entry.chaos[1].startswith("error roll 0.")
        assert entry.chaos[1].endswith("< 1: yes")


def test_a_disconnect_breaks_an_openai_stream_after_the_drawn_chunk() -> None:
    with FakeLLMServer(rules=chaos_rules({"seed": 3, "disconnect_rate": 1}), time_scale=0) as server:
        stream = openai_client(server).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], stream=True
        )
        got: list[Any] = []
        # A dropped stream surfaces as openai.APIError or, mid-iteration, as the transport's own protocol error.
        with pytest.raises(Exception, match=r"(?i)peer closed|incomplete|connection|network"):
            got.extend(stream)
        (fault,) = server.journal.last.faults
        assert fault.startswith("disconnect_after=")
        assert len(got) == int(fault.split("=")[1]) + 1  # the role chunk, then that many content chunks


def test_a_disconnect_drops_a_non_streamed_answer_midway() -> None:
    with FakeLLMServer(rules=chaos_rules({"seed": 3, "disconnect_rate": 1})) as server:
        client = closing(anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0, timeout=10))
        with pytest.raises(anthropic.APIConnectionError):
            client.messages.create(model="c", max_tokens=50, messages=[{"role": "user", "content": "x"}])
        assert server.journal.last.faults == ["chaos: connection dropped midway"]


def test_a_malformed_body_and_a_malformed_chunk() -> None:
    with FakeLLMServer(rules=chaos_rules({"seed": 5, "malformed_rate": 1}), time_scale=0) as server:
        response = httpx.post(
            server.base_url + "/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "x"}]},
            timeout=10,
        )
        with pytest.raises(json.JSONDecodeError):
            response.json()
        (fault,) = server.journal.last.faults
        assert fault.startswith("chaos: body cut at 0.")
        assert fault.endswith(" of its length")
        stream = openai_client(server).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], stream=True
        )
        with pytest.raises(json.JSONDecodeError):
            list(stream)
        assert server.journal.last.faults[0].startswith("malformed_at=")


def test_a_stall_is_planned_in_the_schedule_and_the_delay() -> None:
    with FakeLLMServer(rules=chaos_rules({"seed": 5, "stall_rate": 1, "stall_ms": 700}), time_scale=0) as server:
        client = openai_client(server)
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        assert server.journal.last.delay_ms == 700
        assert server.journal.last.faults == ["chaos: stall 700 ms"]
        list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True))
        schedule = server.journal.last.schedule
        assert (schedule[0], schedule[-1]) == (0, 700)


def run_journal(seed: int) -> list[dict[str, Any]]:
    rules = chaos_rules({"error_rate": 0.3, "disconnect_rate": 0.3, "stall_rate": 0.3, "malformed_rate": 0.2})
    with FakeLLMServer(rules=rules, time_scale=0, chaos_seed=seed, freeze_time=1767225600) as server:
        client = openai_client(server)
        for i in range(12):
            with contextlib.suppress(Exception):  # injected errors, cut bodies and dropped connections
                list(
                    client.chat.completions.create(
                        model="m", messages=[{"role": "user", "content": f"q{i}"}], stream=i % 2 == 0
                    )
                )
        keys = ("seq", "rule", "status", "faults", "chaos", "schedule", "delay_ms", "reply")
        return [{k: entry.to_dict()[k] for k in keys} for entry in server.journal.entries]


def test_one_chaos_seed_replays_the_same_journal() -> None:
    first = run_journal(1234)
    assert first == run_journal(1234)
    assert first != run_journal(4321)
    assert {"chaos: error"} & {f for e in first for f in e["faults"]}


def test_serve_prints_the_chaos_seed(tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> None:
    scenario = tmp_path / "chaos.yaml"
    scenario.write_text("rules:\n  - chaos: {error_rate: 0.5}\n    reply: {content: x}\n")
    monkeypatch.setattr("uvicorn.Server.run", lambda self, sockets=None: sockets[0].close() if sockets else None)
    assert main(["serve", "--scenarios", str(scenario), "--chaos-seed", "77", "--port", "0"]) == 0
    assert "fake-llm: chaos seed 77 (replay this run's chaos with --chaos-seed 77)" in capsys.readouterr().out


SUITE = """
import json, openai, pytest

RULES = [{"name": "flaky", "chaos": {"error_rate": 0.4, "stall_rate": 0.3, "disconnect_rate": 0.2},
          "reply": {"content": "hello there"}}]

@pytest.mark.parametrize("i", range(6))
@pytest.mark.fake_llm(rules=RULES)
def test_call(fake_llm, i, request):
    client = openai.OpenAI(base_url=fake_llm.base_url, api_key="k", max_retries=0)
    for stream in (False, True):
        try:
            list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=stream))
        except openai.APIError:
            pass
    entries = [{k: e.to_dict()[k] for k in ("seq", "faults", "chaos", "schedule", "delay_ms", "status")}
               for e in fake_llm.journal.entries]
    with open(request.config.getoption("--journal-out"), "a") as out:
        out.write(json.dumps(entries) + "\\n")
"""

CONFTEST = """
def pytest_addoption(parser):
    parser.addoption("--journal-out")
"""


def test_a_suite_run_twice_with_the_headers_seed_gets_identical_journals(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\nfake_llm_time_scale = 0\n")
    first = pytester.runpytest("-p", "no:cacheprovider", "--journal-out=first.jsonl")
    first.assert_outcomes(passed=6)
    header = next(line for line in first.outlines if line.startswith("fake-llm: chaos seed "))
    seed = int(header.split()[3])
    assert header == f"fake-llm: chaos seed {seed} (replay with --fake-llm-chaos-seed={seed})"
    again = pytester.runpytest("-p", "no:cacheprovider", f"--fake-llm-chaos-seed={seed}", "--journal-out=again.jsonl")
    again.assert_outcomes(passed=6)
    again.stdout.fnmatch_lines([header])
    journals = (pytester.path / "first.jsonl").read_text()
    assert journals == (pytester.path / "again.jsonl").read_text()
    assert f"chaos seed={seed} use=1" in journals
    assert dedent(journals).count("\n") == 6
