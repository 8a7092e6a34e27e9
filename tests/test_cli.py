"""The `fake-llm` command through `main([...])`: check, schema, version, help, serve (uvicorn faked), env vars."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from fake_llm import __version__
from fake_llm.cli import main
from fake_llm.http.engine import FakeLLM
from fake_llm.scenarios.schema import SCENARIO_SCHEMA
from fake_llm.settings import Settings, parse_time

GOOD = "rules:\n  - name: greet\n    match: {user: hello}\n    reply: {content: hi}\n"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No FAKE_LLM_* variable of the machine leaks into these tests."""
    for name in list(os.environ):
        if name.startswith("FAKE_LLM_"):
            monkeypatch.delenv(name)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Replace uvicorn.Server.run: record what `serve` would have served (and on which socket) instead of serving."""
    calls: dict[str, Any] = {}

    def run(server: Any, sockets: list[socket.socket]) -> None:
        assert not calls, "uvicorn.Server.run called twice"
        config = server.config
        calls.update(host=config.host, port=config.port, log_level=config.log_level, app=config.app)
        calls["bound"] = [s.getsockname()[1] for s in sockets]

    monkeypatch.setattr("uvicorn.Server.run", run)
    return calls


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def served_settings(served: dict[str, Any]) -> Settings:
    engine: FakeLLM = served["app"].state.fake_llm
    return engine.settings


# --------------------------------------------------------------------------------------------- check


def test_check_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.yml").write_text("rules:\n  - reply: {content: x}\n  - reply: {content: y}\n", encoding="utf-8")
    assert main(["check", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert out == "ok: 2 file(s), 3 rule(s)\n"
    assert err == (
        f"warning: {tmp_path / 'b.yml'}:3: rule 'b[1]' can never match: the catch-all rule 'b[0]' "
        f"({tmp_path / 'b.yml'}:2) comes first\n"
    )


def test_check_several_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.yaml").write_text("rules: []\n", encoding="utf-8")
    assert main(["check", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]) == 0
    assert capsys.readouterr() == ("ok: 2 file(s), 1 rule(s)\n", "")


def test_check_reports_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: a\n    times: zero\n    reply: {content: 1}\n", encoding="utf-8")
    assert main(["check", str(bad)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"{bad}:3: rules[0].times: expected an integer, got 'zero'\n"
        f"{bad}:4: rules[0].reply.content: expected a string, got 1\n"
        "fake-llm check: 2 problem(s)\n"
    )


def test_check_reports_an_unknown_dialect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: local\n    match: {api: olama}\n    reply: {content: x}\n", encoding="utf-8")
    assert main(["check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{bad}:3: rules[0].match.api: expected one of openai-chat, anthropic, ")
    assert err.endswith(", got 'olama' (did you mean 'ollama'?)\nfake-llm check: 1 problem(s)\n")


def test_check_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "nope.yaml")]) == 1
    assert capsys.readouterr().err == (
        f"{tmp_path / 'nope.yaml'}: no such scenario file or folder (bundled packs: generic)\n"
        "fake-llm check: 1 problem(s)\n"
    )


def test_check_needs_a_path(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["check"])
    assert info.value.code == 2
    assert "the following arguments are required: PATH" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------- schema, version, help


def test_schema_prints_a_valid_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == SCENARIO_SCHEMA
    jsonschema.Draft202012Validator.check_schema(printed)
    validator = jsonschema.Draft202012Validator(printed)
    assert validator.is_valid({"rules": [{"name": "a", "reply": {"content": "x"}}]})
    assert not validator.is_valid({"rules": [{"name": "a", "reply": {"content": 5}}]})


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"fake-llm {__version__}\n"


def test_no_command_prints_help_and_returns_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    out = capsys.readouterr().out
    assert out.startswith("usage: fake-llm [-h] [--version] COMMAND ...")
    for command in ("serve", "check", "schema"):
        assert command in out


def test_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["launch"])
    assert info.value.code == 2
    assert "invalid choice: 'launch'" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------- serve


def test_serve_with_a_bad_scenario_exits_2_before_serving(
    tmp_path: Path, served: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: a\n    reply:\n      contnt: hi\n", encoding="utf-8")
    assert main(["serve", "--scenarios", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"fake-llm: {bad}:4: rules[0].reply.contnt: unknown key; expected one of ")
    assert served == {}


def test_serve_runs_uvicorn_with_the_settings(
    tmp_path: Path, served: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(GOOD, encoding="utf-8")
    port = free_port()
    argv = [
        "serve",
        "-s",
        str(scenario),
        "--host",
        "0.0.0.0",
        "-p",
        str(port),
        "--api-key",
        "k1",
        "--api-key",
        "k2",
        "--seed",
        "7",
        "--freeze-time",
        "2026-01-01T00:00:00Z",
        "--time-scale",
        "0",
        "--log-level",
        "warning",
    ]
    assert main(argv) == 0
    assert capsys.readouterr() == (
        f"fake-llm {__version__} serving http://0.0.0.0:{port}/v1 - 1 rules from {scenario}\n",
        "",
    )
    assert (served["host"], served["port"], served["log_level"]) == ("0.0.0.0", port, "warning")
    assert served["bound"] == [port]
    settings = served_settings(served)
    assert settings.scenarios == (str(scenario),)
    assert settings.api_keys == ("k1", "k2")
    assert (settings.seed, settings.freeze_time, settings.time_scale) == (7, 1767225600.0, 0.0)


def test_serve_prints_shadowed_rule_warnings(
    tmp_path: Path, served: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text("rules:\n  - reply: {content: x}\n  - reply: {content: y}\n", encoding="utf-8")
    assert main(["serve", "-s", str(scenario), "--port", "0"]) == 0
    assert capsys.readouterr().err == (
        f"fake-llm: warning: {scenario}:3: rule 's[1]' can never match: the catch-all rule 's[0]' ({scenario}:2) "
        "comes first\n"
    )


def test_serve_brackets_an_ipv6_host(
    tmp_path: Path, served: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(GOOD, encoding="utf-8")
    assert main(["serve", "-s", str(scenario), "--host", "::1", "--port", "0"]) == 0
    assert f"serving http://[::1]:{served['bound'][0]}/v1 - " in capsys.readouterr().out


def test_serve_defaults_to_the_bundled_pack(served: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"fake-llm {__version__} serving http://127.0.0.1:{served['bound'][0]}/v1 - ")
    assert out.rstrip().endswith("(bundled)")
    assert served_settings(served).scenarios == ()
    engine: FakeLLM = served["app"].state.fake_llm
    assert engine.selector.rules


def test_serve_on_a_busy_port_names_it_and_suggests_another(
    tmp_path: Path, served: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(GOOD, encoding="utf-8")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["serve", "-s", str(scenario), "--port", str(port)]) == 3
    out, err = capsys.readouterr()
    assert out == ""  # nothing claims to be serving
    assert err == (
        f"fake-llm: port {port} on 127.0.0.1 is already in use (another fake-llm or server is running there); "
        "pick another with --port N, or --port 0 for any free port\n"
    )
    assert served == {}


def test_serve_on_port_0_prints_and_reports_the_bound_port(tmp_path: Path) -> None:
    """A real `fake-llm serve --port 0`: the printed URL carries the bound port, and /_fake/health reports it."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text(GOOD, encoding="utf-8")
    command = [sys.executable, "-m", "fake_llm", "serve", "-s", str(scenario), "--port", "0", "--log-level", "error"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()  # the server writes it once bound; a crash closes stdout (bounded)
            found = re.search(r"serving (http://127\.0\.0\.1:(\d+))/v1 - 1 rules", line)
            assert found, line
            url, port = found.group(1), int(found.group(2))
            assert port != 0
            health = httpx.get(url + "/_fake/health", timeout=10).json()
            assert (health["url"], health["base_url"], health["port"]) == (url, url + "/v1", port)
        finally:
            proc.terminate()
            proc.wait(10)


# --------------------------------------------------------------------------------------------- environment


def test_env_vars_reach_the_settings(
    tmp_path: Path, served: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(GOOD, encoding="utf-8")
    second.write_text("rules:\n  - name: other\n    reply: {content: x}\n", encoding="utf-8")
    port = free_port()
    monkeypatch.setenv("FAKE_LLM_PORT", str(port))
    monkeypatch.setenv("FAKE_LLM_API_KEYS", "k1, k2,")
    monkeypatch.setenv("FAKE_LLM_SCENARIOS", f"{first}{os.pathsep}{second}")
    monkeypatch.setenv("FAKE_LLM_FREEZE_TIME", "1767225600")
    monkeypatch.setenv("FAKE_LLM_ADMIN_TOKEN", "tok")
    assert main(["serve"]) == 0
    settings = served_settings(served)
    assert settings.port == served["port"] == port
    assert settings.api_keys == ("k1", "k2")
    assert settings.scenarios == (str(first), str(second))
    assert settings.freeze_time == 1767225600.0
    assert settings.admin_token == "tok"
    assert f"2 rules from {first}, {second}" in capsys.readouterr().out


def test_flags_beat_env_vars(tmp_path: Path, served: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(GOOD, encoding="utf-8")
    monkeypatch.setenv("FAKE_LLM_PORT", "1")  # a privileged port: binding it would fail, so the flag must win
    monkeypatch.setenv("FAKE_LLM_API_KEYS", "from-env")
    monkeypatch.setenv("FAKE_LLM_SCENARIOS", str(tmp_path / "missing.yaml"))
    monkeypatch.setenv("FAKE_LLM_SEED", "3")
    port = free_port()
    assert main(["serve", "--port", str(port), "--api-key", "from-flag", "-s", str(scenario)]) == 0
    settings = served_settings(served)
    assert (settings.port, settings.api_keys, settings.scenarios) == (port, ("from-flag",), (str(scenario),))
    assert settings.seed == 3  # no flag given: the variable still applies


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FAKE_LLM_PORT", "abc", "fake-llm: FAKE_LLM_PORT='abc': invalid literal for int() with base 10: 'abc'"),
        (
            "FAKE_LLM_TIME_SCALE",
            "fast",
            "fake-llm: FAKE_LLM_TIME_SCALE='fast': could not convert string to float: 'fast'",
        ),
        (
            "FAKE_LLM_FREEZE_TIME",
            "yesterday",
            "fake-llm: FAKE_LLM_FREEZE_TIME='yesterday': expected unix seconds or an ISO 8601 time, got 'yesterday'",
        ),
    ],
)
def test_bad_env_value_names_the_variable(
    served: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv(name, value)
    assert main(["serve"]) == 2
    assert capsys.readouterr().err == message + "\n"
    assert served == {}


def test_out_of_range_env_value_names_the_variable(
    served: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAKE_LLM_PORT", "70000")
    assert main(["serve"]) == 2
    assert "FAKE_LLM_PORT" in capsys.readouterr().err
    assert served == {}


def test_empty_env_var_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_LLM_PORT", "")
    assert Settings.from_env().port == 8000


# --------------------------------------------------------------------------------------------- parse_time


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("1767225600", 1767225600.0),
        ("1767225600.5", 1767225600.5),
        ("2026-01-01T00:00:00Z", 1767225600.0),
        ("2026-01-01T00:00:00", 1767225600.0),  # no zone means UTC
        ("2026-01-01T01:00:00+01:00", 1767225600.0),
        ("2026-01-01", 1767225600.0),
    ],
)
def test_parse_time(raw: str, seconds: float) -> None:
    assert parse_time(raw) == seconds


def test_parse_time_error() -> None:
    with pytest.raises(ValueError, match=r"^expected unix seconds or an ISO 8601 time, got 'soon'$"):
        parse_time("soon")


def test_bad_freeze_time_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--freeze-time", "soon"])
    assert info.value.code == 2
    assert "argument --freeze-time: invalid parse_time value: 'soon'" in capsys.readouterr().err
