"""pytest-xdist (issue 17 part 8): each worker has its own server; ini scenarios, cassettes, the report and the
chaos seed work under `-n 2`."""

from __future__ import annotations

import json
from textwrap import dedent

import pytest

pytest.importorskip("xdist")
pytest.importorskip("openai")

RULES = dedent(
    """
    rules:
      - name: greet
        match: {user: hello}
        reply: {content: Hello!}
      - name: shaky
        match: {user: shaky}
        chaos: {error_rate: 0.5}
        reply: {content: steady}
      - name: unused
        match: {user: nobody asks this}
        reply: {content: never}
    """
)

CASSETTE = dedent(
    """
    name: test_replay
    rules:
      - name: recorded
        match: {api: openai-chat, model: gpt-4o, user: {equals: from the cassette}}
        reply: {content: Recorded answer.}
    """
)

SUITE = dedent(
    """
    import json, os
    import openai
    import pytest

    def ask(fake_llm, text, model="gpt-4o"):
        with openai.OpenAI(base_url=fake_llm.base_url, api_key="k", max_retries=0) as client:
            return client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}])

    def log(fake_llm, **data):
        line = {"worker": os.environ.get("PYTEST_XDIST_WORKER"), "port": fake_llm.port, **data}
        with open(os.environ["WORKER_LOG"], "a") as out:
            out.write(json.dumps(line) + "\\n")

    @pytest.mark.parametrize("i", range(4))
    def test_ini_scenarios(fake_llm, i):
        assert ask(fake_llm, "hello").choices[0].message.content == "Hello!"
        try:
            ask(fake_llm, "shaky")
        except openai.APIError:
            pass
        log(fake_llm, chaos=fake_llm.journal.last.chaos[0])

    @pytest.mark.fake_llm(cassette=True)
    def test_replay(fake_llm):
        assert ask(fake_llm, "from the cassette").choices[0].message.content == "Recorded answer."
        log(fake_llm)
    """
)


def test_two_workers_two_servers_with_ini_rules_cassettes_report_and_one_chaos_seed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    (pytester.path / "rules.yaml").write_text(RULES)
    (pytester.path / "cassettes" / "test_suite").mkdir(parents=True)
    (pytester.path / "cassettes" / "test_suite" / "test_replay.yaml").write_text(CASSETTE)
    pytester.makeini("[pytest]\nfake_llm_scenarios = rules.yaml\n")
    pytester.makepyfile(test_suite=SUITE)
    monkeypatch.setenv("WORKER_LOG", str(pytester.path / "workers.jsonl"))
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "--fake-llm-report", "--fake-llm-report-json=report.json"
    )
    result.assert_outcomes(passed=5)
    header = next(line for line in result.outlines if line.startswith("fake-llm: chaos seed "))
    seed = int(header.split()[3])
    logs = [json.loads(line) for line in (pytester.path / "workers.jsonl").read_text().splitlines()]
    assert {entry["worker"] for entry in logs} == {"gw0", "gw1"}
    ports = {entry["worker"]: entry["port"] for entry in logs}
    assert ports["gw0"] != ports["gw1"]
    assert {entry["chaos"].split()[1] for entry in logs if "chaos" in entry} == {f"seed={seed}"}
    report = json.loads((pytester.path / "report.json").read_text())
    assert [rule["name"] for rule in report["never_hit"]] == ["unused"]
    assert {rule["name"]: rule["hits"] for rule in report["rules"]}["greet"] == 4
    result.stdout.fnmatch_lines(
        ["fake-llm report: * rules, 1 never hit, 0 with replies never reached, 0 unmatched requests", "  unused (*)"]
    )
