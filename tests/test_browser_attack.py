"""A page on another local origin, in headless Chromium, tries what the report did (issue 11, finding 1): install
rules with a `text/plain` POST (no preflight), read the journal, and read a file through a `content_file` rule and
/v1/chat/completions. None of it may work; the page can still use the API (open CORS), as a frontend does."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fake_llm.testing.server import FakeLLMServer
from tests.test_dashboard import CHROMIUM, CHROMIUM_ARGS, WAIT_MS, sync_playwright

SECRET = "sk-live-BROWSER-SECRET-1234567890"
ATTACK = """<!doctype html><meta charset="utf-8"><title>evil</title><script>
const target = new URL(location.href).searchParams.get("target");
async function attempt(name, run) {
  try { window.results[name] = await run(); } catch (error) { window.results[name] = "failed: " + error; }
}
window.results = {};
window.done = (async () => {
  const rules = (file) => `rules:\\n  - name: pwned\\n    reply: {content_file: ${file}}\\n`;
  await attempt("post_env", () => fetch(target + "/_fake/rules?mode=replace", {method: "POST", mode: "no-cors",
    headers: {"Content-Type": "text/plain"}, body: rules(".env")}).then((r) => r.type));
  await attempt("post_notes", () => fetch(target + "/_fake/rules?mode=replace", {method: "POST", mode: "no-cors",
    headers: {"Content-Type": "text/plain"}, body: rules("notes.txt")}).then((r) => r.type));
  await attempt("post_json", () => fetch(target + "/_fake/rules?mode=replace", {method: "POST",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify({rules: [{name: "x", reply: {content: "x"}}]})})
    .then((r) => r.status));
  await attempt("reset", () => fetch(target + "/_fake/reset?rules=true", {method: "POST", mode: "no-cors"})
    .then((r) => r.type));
  await attempt("journal", () => fetch(target + "/_fake/journal").then((r) => r.text()));
  await attempt("chat", () => fetch(target + "/v1/chat/completions", {method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({model: "gpt-4o-mini", messages: [{role: "user", content: "hi"}]})})
    .then((r) => r.json()).then((body) => body.choices[0].message.content));
})();
</script>"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={SECRET}\n")
    (tmp_path / "notes.txt").write_text(f"notes {SECRET}\n")
    (tmp_path / "app.yaml").write_text("rules:\n  - name: operator\n    reply: {content: operator reply}\n")
    return tmp_path


@pytest.fixture
def attacker() -> Iterator[str]:
    """A page on another origin (its own port on localhost), as any site the developer visits could serve."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = ATTACK.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}/attack.html"
    server.shutdown()
    server.server_close()
    thread.join(10)


def test_a_page_on_another_origin_cannot_drive_the_control_plane(project: Path, attacker: str) -> None:
    if sync_playwright is None or CHROMIUM is None:
        pytest.skip("needs playwright and Debian's chromium")
    with FakeLLMServer(scenarios=[project]) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(f"{attacker}?target={server.url}")
            page.wait_for_function("window.results && 'chat' in window.results", timeout=WAIT_MS * 2)
            results = page.evaluate("window.results")
        finally:
            browser.close()
        assert results["journal"].startswith("failed"), results  # CORS: the page cannot read it
        assert results["post_json"].startswith("failed"), results  # the preflight is refused
        assert results["chat"] == "operator reply", results  # the API still answers with the operator's rules
        assert SECRET not in str(results)
        assert [r.name for r in server.engine.selector.rules] == ["operator"]
        refused = [e for e in server.journal.entries if e.rule == "pwned"]
        assert refused == []
