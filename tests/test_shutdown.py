"""--graceful-timeout (issue 11, finding 10): on SIGTERM open streams get that long, then are cut; the client sees
the connection close without the dialect's final event, as README's Security section documents."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fake_llm.cli import _settings, build_parser

SLOW = "rules: [{name: slow, reply: {content: '" + "word " * 300 + "', stream: {chunk_tokens: 1, chunk_ms: 200}}}]\n"


def test_the_flag_and_variable_set_the_timeout() -> None:
    assert _settings(build_parser().parse_args(["serve", "--graceful-timeout", "0.5"])).graceful_timeout == 0.5


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")
def test_sigterm_cuts_streams_after_the_graceful_timeout(tmp_path: Path) -> None:
    scenario = tmp_path / "slow.yaml"
    scenario.write_text(SLOW)
    command = [
        sys.executable,
        "-m",
        "fake_llm",
        "serve",
        "--port",
        "0",
        "-s",
        str(scenario),
        "--graceful-timeout",
        "0.5",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as child:
        assert child.stdout is not None
        port = None
        for line in child.stdout:
            if found := re.search(r"(?:running on|serving) http://127\.0\.0\.1:(\d+)", line):
                port = int(found.group(1))
                break
        assert port
        body = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        received = ""
        with httpx.stream("POST", f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=20) as stream:
            lines = stream.iter_lines()
            received += next(lines)
            child.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            try:
                for line in lines:
                    received += line
            except httpx.TransportError:
                pass  # the cut: a chunked body that never ends properly
        child.communicate(timeout=20)
        waited = time.monotonic() - signalled
    assert child.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
    assert "[DONE]" not in received  # the 60-second stream was cut ...
    assert waited < 4, waited  # ... after about 0.5 s, not uvicorn's former fixed 5 s
