"""What a rule's `content_file` may read (issue 11, finding 2), over a real socket: regular files under a size cap,
no dotfiles, and for rules posted at run time only the scenario folders the server started with (a single scenario
file grants nothing unless --rules-folder names a folder)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import httpx
import pytest

from fake_llm.errors import ScenarioError
from fake_llm.scenarios.loader import load_scenario
from fake_llm.scenarios.safe_files import FileRefused, read_text_file
from fake_llm.testing.server import FakeLLMServer

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project root holding a recorded scenario file, an .env and a text file."""
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-live-abcdef1234567890\n")
    (tmp_path / "notes.txt").write_text("project notes\n")
    (tmp_path / "recorded.yaml").write_text("rules:\n  - name: hello\n    reply: {content: hi}\n")
    return tmp_path


def _post(server: FakeLLMServer, name: str) -> httpx.Response:
    rules = f"rules: [{{name: leak, reply: {{content_file: '{name}'}}}}]"
    return httpx.post(server.url + "/_fake/rules?mode=replace", content=rules, timeout=10)


@pytest.mark.parametrize("name", [".env", "notes.txt", "./.env"])
def test_a_scenario_file_grants_no_folder_to_run_time_rules(project: Path, name: str) -> None:
    with FakeLLMServer(scenarios=[project / "recorded.yaml"]) as server:
        response = _post(server, name)
        assert response.status_code == 400
        assert "sk-live" not in response.text
        reply = httpx.post(server.url + "/v1/chat/completions", json=CHAT, timeout=10).json()
        assert reply["choices"][0]["message"]["content"] == "hi"


def test_a_rules_folder_grants_its_files_but_never_dotfiles(project: Path) -> None:
    with FakeLLMServer(scenarios=[project / "recorded.yaml"], rules_folders=(str(project),)) as server:
        assert _post(server, "notes.txt").status_code == 200
        reply = httpx.post(server.url + "/v1/chat/completions", json=CHAT, timeout=10).json()
        assert reply["choices"][0]["message"]["content"] == "project notes\n"
        refused = _post(server, ".env")
        assert refused.status_code == 400
        assert "dotfile" in refused.json()["error"]["message"]


def test_a_scenario_folder_grants_its_files(project: Path) -> None:
    with FakeLLMServer(scenarios=[project]) as server:
        assert _post(server, "notes.txt").status_code == 200
        assert _post(server, ".env").status_code == 400


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_is_refused_without_blocking(project: Path) -> None:
    os.mkfifo(project / "pipe.txt")
    with FakeLLMServer(scenarios=[project]) as server:
        response = _post(server, "pipe.txt")
        assert response.status_code == 400
        assert "not a regular file" in response.json()["error"]["message"]
        assert httpx.get(server.url + "/_fake/health", timeout=5).status_code == 200


def test_devices_and_folders_are_refused(project: Path) -> None:
    (project / "sub").mkdir()
    with pytest.raises(FileRefused, match="not a regular file"):
        read_text_file("sub", project / "sub")
    if Path("/dev/zero").exists():
        with pytest.raises(FileRefused, match="not a regular file"):
            read_text_file("/dev/zero", Path("/dev/zero"))


def test_big_files_are_refused(project: Path) -> None:
    (project / "big.txt").write_bytes(b"x" * 2000)
    with pytest.raises(FileRefused, match="the limit is 1000"):
        read_text_file("big.txt", project / "big.txt", max_bytes=1000)
    assert read_text_file("big.txt", project / "big.txt", max_bytes=2000) == "x" * 2000


def test_disk_scenarios_may_not_name_dotfiles_either(project: Path) -> None:
    (project / "s.yaml").write_text("rules:\n  - name: a\n    reply: {content_file: .env}\n")
    with pytest.raises(ScenarioError, match="dotfile"):
        load_scenario(project / "s.yaml")


def test_the_server_keeps_answering_while_a_fifo_exists(project: Path) -> None:
    # The old loader opened FIFOs for reading and waited for a writer forever; now nothing blocks.
    if not hasattr(os, "mkfifo"):  # pragma: no cover - POSIX only
        pytest.skip("FIFOs are POSIX")
    os.mkfifo(project / "pipe.txt")
    done = threading.Event()
    with FakeLLMServer(scenarios=[project]) as server:

        def post() -> None:
            _post(server, "pipe.txt")
            done.set()

        worker = threading.Thread(target=post)
        worker.start()
        assert done.wait(10)
        worker.join(10)
