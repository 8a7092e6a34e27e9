"""Secrets stay out of logs and record files (issue 11, finding 9), over real sockets: `?key=` in the access log of
`serve`, OpenAI-Organization/OpenAI-Project headers and quoted key fragments in record files."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import httpx
import pytest

from fake_llm.http.log_scrub import ScrubSecrets, scrub_url
from fake_llm.testing.recording import RecordingServer
from fake_llm.testing.server import FakeLLMServer

ORG, PROJECT = "org-SECRETORG123456", "proj_SECRETPROJ654321"
UPSTREAM = dedent(
    """
    rules:
      - name: who
        match: {user: who}
        reply: {content: "org {{ request.headers.openai-organization }} project {{ request.headers.openai-project }}"}
      - name: bad-key
        match: {user: bad key}
        reply:
          error: {status: 401, code: invalid_api_key, message: "Incorrect API key provided: sk-pro************wxyz."}
    """
)


@pytest.mark.parametrize(
    ("url", "scrubbed"),
    [
        ("/v1beta/models/g:generateContent?key=AIzaSECRET", "/v1beta/models/g:generateContent?key=[redacted]"),
        ("/x?alt=sse&key=AIzaSECRET&b=1", "/x?alt=sse&key=[redacted]&b=1"),
        ("/x?api-key=s&token=t", "/x?api-key=[redacted]&token=[redacted]"),
        ("/x?monkey=banana", "/x?monkey=banana"),
    ],
)
def test_scrub_url(url: str, scrubbed: str) -> None:
    assert scrub_url(url) == scrubbed


def test_the_filter_rewrites_uvicorn_access_records() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4", "GET", "/a?key=S", "1.1", 200),
        None,
    )
    ScrubSecrets().filter(record)
    assert "key=S" not in record.getMessage()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")
def test_serve_keeps_keys_out_of_its_access_log(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text("rules: [{name: hi, reply: {content: hi}}]\n")
    command = [sys.executable, "-m", "fake_llm", "serve", "--port", "0", "--scenarios", str(scenario)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as child:
        assert child.stdout is not None
        lines: list[str] = []
        port = None
        for line in child.stdout:  # bounded: the server prints its address right after start-up
            lines.append(line)
            if found := re.search(r"(?:running on|serving) http://127\.0\.0\.1:(\d+)", line):
                port = int(found.group(1))
                break
        assert port, lines
        body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
        url = f"http://127.0.0.1:{port}/v1beta/models/gemini-2.0-flash:generateContent?key=AIzaSyTOPSECRET"
        assert httpx.post(url, json=body, timeout=10).status_code == 200
        child.send_signal(signal.SIGTERM)
        rest, _ = child.communicate(timeout=15)
    log = "".join(lines) + rest
    assert "generateContent?key=[redacted]" in log
    assert "TOPSECRET" not in log


def test_record_files_keep_no_organisation_project_or_key_fragment(tmp_path: Path) -> None:
    openai = pytest.importorskip("openai")
    cassette = tmp_path / "recorded.yaml"
    with FakeLLMServer(rules=UPSTREAM) as upstream, RecordingServer(upstream.url, cassette) as proxy:
        client = openai.OpenAI(
            base_url=proxy.url + "/v1", api_key="sk-test", organization=ORG, project=PROJECT, max_retries=0
        )
        with client:
            who = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "who"}])
            assert who.choices[0].message.content == f"org {ORG} project {PROJECT}"
            with pytest.raises(openai.AuthenticationError):
                client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "bad key"}])
        journal = httpx.get(proxy.url + "/_fake/journal", timeout=10).text
    text = cassette.read_text(encoding="utf-8")
    for secret in (ORG, PROJECT, "sk-pro****", "wxyz"):
        assert secret not in text
    for secret in (ORG, PROJECT):  # journaled headers are redacted as well
        assert secret not in journal
    assert "Incorrect API key provided: [redacted]." in text


def test_health_never_shows_file_contents(tmp_path: Path) -> None:
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:SECRETLINE:/root:/bin/bash\n")
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "live.yaml").write_text("rules: [{name: hi, reply: {content: hi}}]\n")
    with FakeLLMServer(scenarios=[folder], watch=True) as server:
        (folder / "live.yaml").unlink()
        (folder / "live.yaml").symlink_to(secret)
        # What --watch does on the change (reloaded here directly, so the test does not wait on file events).
        assert server.engine.reload(reason="changed: live.yaml") is False
        assert server.engine.load_errors
        health = httpx.get(server.url + "/_fake/health", timeout=5)
        assert health.json()["load_errors"]
        assert "SECRETLINE" not in health.text
