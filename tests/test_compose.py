"""docker-compose use without a Docker engine: the compose files and README snippet, and `fake-llm health` (the
image's HEALTHCHECK) against real servers, including where its failure is written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from fake_llm import healthcheck
from fake_llm.cli import main
from fake_llm.testing.server import FakeLLMServer

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
GOOD = "name: live\nrules:\n  - name: answer\n    reply: {content: hi}\n"


def _seconds(value: str) -> float:
    found = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s)", value)
    assert found, value
    return float(found.group(1)) / (1000 if found.group(2) == "ms" else 1)


def _readme_compose() -> dict[str, Any]:
    block = re.search(r"```yml\n(services:.*?)```", README, re.S)
    assert block
    data: dict[str, Any] = yaml.safe_load(block.group(1))
    return data


@pytest.mark.parametrize(
    "compose",
    [_readme_compose(), yaml.safe_load((ROOT / "examples/compose/docker-compose.yml").read_text())],
    ids=["readme", "example"],
)
def test_compose_files_check_health_often_and_show_both_sdks_the_way(compose: dict[str, Any]) -> None:
    services = compose["services"]
    check = services["fake-llm"]["healthcheck"]
    assert _seconds(check["interval"]) <= 1  # not the image's 10 s: `up` waits for the first healthy check
    assert _seconds(check["interval"]) * check["retries"] >= 20  # and still allows a slow start
    app = services["app"]
    assert app["depends_on"]["fake-llm"]["condition"] == "service_healthy"
    assert app["environment"]["OPENAI_BASE_URL"] == "http://fake-llm:8000/v1"
    assert app["environment"]["ANTHROPIC_BASE_URL"] == "http://fake-llm:8000"
    assert app["environment"]["ANTHROPIC_API_KEY"]


def test_the_example_readme_has_no_leftover_copy_of_the_main_readme() -> None:
    text = (ROOT / "examples/compose/README.md").read_text(encoding="utf-8")
    assert "## Use it in docker-compose" not in text
    assert "written for the main README" not in text
    assert text.count("docker compose up --build --exit-code-from app") == 1


def test_the_image_health_check_is_fake_llm_health_writing_to_pid1() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert 'CMD ["fake-llm", "health", "--log-to-pid1"]' in dockerfile


def test_health_passes_on_a_healthy_server(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeLLMServer(rules=GOOD) as server:
        assert main(["health", "--url", server.url]) == 0
    assert capsys.readouterr().out == f"ok: 1 rules at {server.url}\n"


def test_health_fails_without_a_server(capsys: pytest.CaptureFixture[str], dead_url: str) -> None:
    assert main(["health", "--url", dead_url, "--timeout", "5"]) == 1
    assert capsys.readouterr().err.startswith(f"fake-llm health: no answer from {dead_url}/_fake/health: ")


def test_a_scenario_error_fails_health_and_reaches_the_main_process_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under --watch a broken file keeps the last good rules serving; the health check fails with the error and
    writes it where `docker compose up` shows it (PID 1's stderr; a file stands in for it here)."""
    scenario = tmp_path / "live.yaml"
    scenario.write_text(GOOD)
    main_log = tmp_path / "pid1-stderr"
    monkeypatch.setattr(healthcheck, "PID1_STDERR", main_log)
    with FakeLLMServer(scenarios=[tmp_path]) as server:
        scenario.write_text("rules:\n  - name: answer\n    reply: {contnt: hi}\n")
        assert server.engine.reload(reason="test") is False
        assert main(["health", "--url", server.url, "--log-to-pid1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fake-llm health: unhealthy: the scenario files have errors")
    assert f"  {scenario}:3: rules[0].reply.contnt: unknown key" in err
    assert main_log.read_text().startswith("fake-llm health check failed: unhealthy: the scenario files have errors")
    assert f"{scenario}:3: rules[0].reply.contnt: unknown key" in main_log.read_text()


def test_health_uses_fake_llm_port_like_the_image(tmp_path: Path) -> None:
    """The image runs `fake-llm health` with no URL: FAKE_LLM_PORT picks the port, as it does for `serve`."""
    with FakeLLMServer(rules=GOOD) as server:
        done = subprocess.run(
            [sys.executable, "-m", "fake_llm", "health"],
            env={"FAKE_LLM_PORT": str(server.port), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert (done.returncode, done.stdout) == (0, f"ok: 1 rules at http://127.0.0.1:{server.port}\n")
