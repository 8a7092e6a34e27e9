"""Hot reload: `watch` reloads changed scenario files; a bad edit keeps the last good rules and reports the error."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from fake_llm.http.engine import FakeLLM
from fake_llm.settings import Settings
from fake_llm.testing.server import FakeLLMServer

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def scenario(text: str) -> str:
    return f"name: live\nrules:\n  - name: answer\n    reply: {{content: {text}}}\n"


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll `condition` until it holds or `timeout` passes (file events take a moment to arrive)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_reload_keeps_the_last_good_rules_and_reports_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "live.yaml"
    path.write_text(scenario("first"))
    engine = FakeLLM.from_settings(Settings(scenarios=(str(tmp_path),)))
    path.write_text(scenario("second"))
    assert engine.reload(reason="test") is True
    assert engine.selector.rules[0].replies[0].content == "second"
    path.write_text("rules:\n  - name: answer\n    reply: {contnt: broken}\n")
    assert engine.reload(reason="test") is False
    assert engine.selector.rules[0].replies[0].content == "second"
    assert len(engine.load_errors) == 1
    assert engine.load_errors[0].startswith(f"{path}:3: rules[0].reply.contnt: unknown key; expected one of ")
    entry = engine.journal.last
    assert (entry.method, entry.outcome) == ("RELOAD", "reload_error")
    path.write_text(scenario("third"))
    assert engine.reload() is True
    assert engine.load_errors == []
    assert engine.journal.last.outcome == "reloaded"


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("1", True), ("off", False), ("no", False)])
def test_watch_from_the_environment(raw: str, expected: bool) -> None:
    assert Settings.from_env({"FAKE_LLM_WATCH": raw}).watch is expected


def test_bad_watch_variable_names_it() -> None:
    with pytest.raises(ValueError, match="FAKE_LLM_WATCH='maybe': expected true or false"):
        Settings.from_env({"FAKE_LLM_WATCH": "maybe"})


def test_reload_keeps_rules_added_at_run_time(tmp_path: Path) -> None:
    (tmp_path / "live.yaml").write_text(scenario("file"))
    engine = FakeLLM.from_settings(Settings(scenarios=(str(tmp_path),)))
    engine.load_rules([{"name": "added", "reply": {"content": "added"}}])
    assert engine.reload() is True
    assert [r.name for r in engine.selector.rules] == ["added", "answer"]  # run-time rules still come first


def test_watching_server_picks_up_edits(tmp_path: Path) -> None:
    path = tmp_path / "live.yaml"
    path.write_text(scenario("before"))
    with FakeLLMServer(scenarios=[tmp_path], watch=True) as server:

        def answer() -> str:
            reply = httpx.post(server.base_url + "/chat/completions", json=BODY, timeout=5).json()
            return str(reply["choices"][0]["message"]["content"])

        def health() -> dict[str, object]:
            return dict(httpx.get(server.url + "/_fake/health", timeout=5).json())

        assert answer() == "before"
        path.write_text(scenario("after"))
        assert wait_for(lambda: answer() == "after")
        path.write_text("rules: [oops")
        assert wait_for(lambda: bool(health()["load_errors"]))
        assert answer() == "after"
        assert "invalid YAML" in str(health()["load_errors"])
        path.write_text(scenario("fixed"))
        assert wait_for(lambda: answer() == "fixed")
        assert health()["load_errors"] == []


def test_watch_reloads_on_the_scenario_files_and_the_files_they_read_only(tmp_path: Path) -> None:
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "answer.txt").write_text("from a file")
    (tmp_path / "live.yaml").write_text(
        "name: live\nrules:\n  - name: answer\n    reply: {content_file: texts/answer.txt}\n"
    )
    # The server's own log in the watched folder: each reload writes to it, which must not trigger another.
    handler = logging.FileHandler(tmp_path / "server.log")
    logger = logging.getLogger("fake_llm")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with FakeLLMServer(scenarios=[tmp_path], watch=True) as server:

            def answer() -> str:
                reply = httpx.post(server.base_url + "/chat/completions", json=BODY, timeout=5).json()
                return str(reply["choices"][0]["message"]["content"])

            def reloads() -> list[str]:
                return [e.path for e in server.journal.entries if e.method == "RELOAD"]

            assert answer() == "from a file"
            (tmp_path / "notes.txt").write_text("not a scenario")
            (tmp_path / "texts" / "answer.txt").write_text("edited")  # a file a rule reads
            assert wait_for(lambda: answer() == "edited")
            (tmp_path / "notes.txt").write_text("still not a scenario")
            (tmp_path / "live.yaml").write_text(scenario("sentinel"))  # a scenario file: the last reload
            assert wait_for(lambda: answer() == "sentinel")
            assert wait_for(lambda: len(reloads()) >= 2)
            assert reloads() == ["changed: answer.txt", "changed: live.yaml"]
            assert (tmp_path / "server.log").read_text().count("scenarios reloaded") == 2
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()


def test_watch_scope_lists_only_what_scenarios_are_made_of(tmp_path: Path) -> None:
    from fake_llm.http.reload import WatchScope

    elsewhere = tmp_path / "shared"
    elsewhere.mkdir()
    (elsewhere / "essay.md").write_text("essay")
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "a.yaml").write_text("rules:\n  - reply: {content_file: ../shared/essay.md}\n")
    (pack / "b.yml").write_text(scenario("b"))
    (pack / "notes.txt").write_text("x")
    engine = FakeLLM.from_settings(Settings(scenarios=(str(pack),)))
    scope = WatchScope.of(engine)
    assert scope.directories() == sorted([pack.resolve(), elsewhere.resolve()])
    assert scope.concerns(str(elsewhere / "essay.md"))
    assert scope.concerns(str(pack / "new.yaml"))  # a scenario file added to the folder
    assert not scope.concerns(str(pack / "notes.txt"))
    assert not scope.concerns(str(pack / "fake-llm.log"))
    assert not scope.concerns(str(elsewhere / "other.md"))
