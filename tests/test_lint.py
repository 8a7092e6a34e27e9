"""`fake-llm lint`: every reply rendered through every dialect that can answer it and validated against the
providers' specs; file:line, rule, dialect and field in the report; non-zero exit; JSON output."""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

import pytest

from fake_llm.cli import main


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(dedent(text), encoding="utf-8")
    return path


def test_a_clean_scenario_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        """\
        name: clean
        rules:
          - name: greet
            reply: {content: "Hello, world"}
          - name: weather
            match: {user: weather}
            reply: {tool_calls: [{name: get_weather, arguments: {city: Paris}}]}
          - name: overloaded
            match: {user: busy}
            reply: {error: {status: 429}}
        """,
    )
    assert main(["lint", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("fake-llm lint: ok: 3 rule(s), ")


def test_non_json_arguments_and_a_foreign_finish_reason_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        """\
        name: broken
        rules:
          - name: broken-call
            reply: {tool_calls: [{name: get_weather, arguments: '{"city": "Par'}]}
          - name: legacy-reason
            match: {api: completions}
            reply: {content: "Hi", finish_reason: function_call}
        """,
    )
    assert main(["lint", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert (
        f"{path}:3: rule 'broken-call' [* body] tool_calls[get_weather].arguments: not a JSON object: "
        + repr('{"city": "Par')
        in lines
    )
    assert any(
        line.startswith(f"{path}:3: rule 'broken-call' [anthropic body] $.content[0].input: Message: Input should be")
        for line in lines
    )
    assert any(
        line.startswith(f"{path}:5: rule 'legacy-reason' [completions body] $.choices[0].finish_reason: ")
        and "'function_call' is not one of ['stop', 'length', 'content_filter']" in line
        for line in lines
    )
    assert lines[-1].startswith("fake-llm lint: ")
    assert " problem(s): 2 rule(s)" in lines[-1]


def test_json_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        """\
        name: broken
        rules:
          - name: legacy-reason
            match: {api: completions}
            reply: {content: "Hi", finish_reason: tool_calls}
        """,
    )
    assert main(["lint", "--format", "json", str(path)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["rules"] == 1
    first = report["problems"][0]
    assert (first["file"], first["line"], first["rule"], first["dialect"]) == (
        str(path),
        3,
        "legacy-reason",
        "completions",
    )
    assert first["field"] == "$.choices[0].finish_reason"
    assert {p["stream"] for p in report["problems"]} == {False, True}


def test_a_broken_file_is_a_load_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "name: x\nrules:\n  - name: r\n    reply: {contnet: hi}\n")
    assert main(["lint", "--format", "json", str(path)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert "contnet" in report["load_errors"][0]


def test_scripted_raw_and_hang_replies_are_named_not_rendered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        """\
        name: faults
        rules:
          - name: not-json
            reply: {raw: {status: 200, body: "nope"}}
        """,
    )
    assert main(["lint", str(path)]) == 0
    assert f"note: {path}:3: rule 'not-json': a raw reply is not rendered (scripted)" in capsys.readouterr().out
