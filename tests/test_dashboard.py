"""The dashboard at /_fake/: its routes, then the page in a real browser (Playwright driving Debian's Chromium)."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from textwrap import dedent
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import openai
import pytest

from fake_llm.http.dashboard import DASHBOARD_ROUTES, STATIC_DIR
from fake_llm.testing.server import FakeLLMServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Locator, Page, Request

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - the `test` extra installs it
    sync_playwright = None  # type: ignore[assignment]

#: Debian's Chromium (`apt-get install chromium`; CI installs it). Playwright's own browser download is never used.
CHROMIUM = (
    shutil.which("chromium")
    or shutil.which("chromium-browser")
    or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # Nothing but loopback: every host name fails to resolve (the page must load nothing from elsewhere anyway).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
OpenPage = Callable[[str], "Page"]
Ask = Callable[..., httpx.Response]
DOCS = Path(__file__).resolve().parent.parent / "docs"
#: Every run keeps its screenshot as an artifact (git-ignored); FAKE_LLM_UPDATE_SCREENSHOT=1 also refreshes the
#: README's copy, which would otherwise change (timestamps, ports) on every run.
SCREENSHOT = DOCS / "_artifacts" / "dashboard.png"
README_SCREENSHOT = DOCS / "dashboard.png"
WAIT_MS = 5000  # every expectation waits at most this long
#: The page polls the journal every 500 ms; most tests ask for 100 ms (`?poll=`) to stay quick.
FAST = "/_fake/?poll=100"

# A frontend developer's packs: each file is a scenario the switcher flips between. Faults come first: their rules
# only answer their trigger phrases, so the catch-all of the pack switched on answers everything else.
PACKS = {
    "0-faults.yaml": """
        name: faults
        rules:
          - name: mid-stream-error
            match: {user: "fault: mid-stream error"}
            reply:
              content: "This answer fails after a few words"
              stream: {chunk_ms: 10, error_after: 2, error: {message: "The server had an error midway."}}
    """,
    "1-happy-path.yaml": """
        name: happy-path
        rules:
          - name: happy-answer
            reply:
              content: "All good here, thanks for asking!"
              stream: {ttft_ms: 20, chunk_ms: 50, chunk_tokens: 1}
    """,
    "2-slow-network.yaml": """
        name: slow-network
        rules:
          - name: slow-answer
            reply:
              content: "Sorry for the wait."
              delay_ms: 60
              stream: {ttft_ms: 60, chunk_ms: 40, chunk_tokens: 1}
    """,
    "3-rate-limited.yaml": """
        name: rate-limited
        rules:
          - name: limited
            reply: {error: {status: 429, message: "Rate limit reached for requests.", retry_after_ms: 20}}
    """,
    "4-tool-calls.yaml": """
        name: tool-calls
        rules:
          - name: weather-call
            match: {user: weather, last_role: user}
            reply:
              tool_calls:
                - {name: get_weather, arguments: {city: Paris}}
              stream: {chunk_ms: 10}
          - name: weather-answer
            match: {last_role: tool}
            reply: {content: "It is sunny in Paris.", stream: {chunk_ms: 10}}
    """,
}
HAPPY = "All good here, thanks for asking!"


def _with_dashboard(server: FakeLLMServer) -> FakeLLMServer:
    # Until app.py lists DASHBOARD_ROUTES itself, the test mounts them (a no-op once it does).
    if not any(getattr(route, "path", None) == "/_fake/" for route in server.app.routes):
        server.app.router.routes.extend(DASHBOARD_ROUTES)
    return server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeLLMServer]:
    folder = tmp_path_factory.mktemp("packs")
    for name, text in PACKS.items():
        (folder / name).write_text(dedent(text).lstrip())
    with _with_dashboard(FakeLLMServer(scenarios=[folder], seed=1, time_scale=1.0)) as running:
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


@pytest.fixture
def fresh(server: FakeLLMServer) -> FakeLLMServer:
    """The shared server as started: empty journal, every scenario on, no load errors."""
    server.reset(rules=True)
    server.engine.load_errors = []
    return server


# ---------------------------------------------------------------------------------------------- routes, no browser


def test_page_and_static_files_are_served_with_their_types(fresh: FakeLLMServer, http: httpx.Client) -> None:
    page = http.get(fresh.url + "/_fake/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert 'src="static/dashboard.js"' in page.text
    types = {"dashboard.js": "text/javascript", "dashboard.css": "text/css", "favicon.svg": "image/svg+xml"}
    for name, kind in types.items():
        response = http.get(f"{fresh.url}/_fake/static/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith(kind)
        assert response.content == (STATIC_DIR / name).read_bytes()
    # The page is served without the admin token (it holds no data); `/_fake` without the slash finds it too.
    assert http.get(fresh.url + "/_fake", follow_redirects=True).status_code == 200
    assert "{{" not in page.text  # every server-side value filled in
    assert http.get(f"{fresh.url}/_fake/static/dashboard.html").status_code == 404  # the unfilled template


def test_first_paint_says_what_is_loading_and_suggests_the_loaded_triggers(
    fresh: FakeLLMServer, http: httpx.Client, ask: Ask
) -> None:
    page = http.get(fresh.url + "/_fake/").text
    # The user's own scenarios: their triggers, never the bundled pack's ("write an essay", "help").
    assert 'placeholder="fault: mid-stream error · weather"' in page
    assert "write an essay" not in page
    assert "Loading 5 scenarios: faults, happy-path, slow-network, rate-limited, tool-calls…" in page
    assert '<p class="empty" id="journal-loading" data-testid="journal-loading" aria-busy="true" hidden>' in page
    assert 'id="journal-empty" data-testid="journal-empty">No requests yet.' in page
    ask(fresh)
    ask(fresh)
    page = http.get(fresh.url + "/_fake/").text
    assert "Loading 2 requests…" in page
    assert 'id="journal-empty" data-testid="journal-empty" hidden>' in page  # never "No requests yet" with entries


def test_chat_placeholder_falls_back_without_plain_triggers() -> None:
    rules = [{"name": "r", "match": {"user": {"regex": "(?P<x>a)"}}, "reply": {"content": "{{ match.x }}"}}]
    with _with_dashboard(FakeLLMServer(rules=rules)) as server:
        page = httpx.get(server.url + "/_fake/", timeout=5).text
    assert 'placeholder="Type a message: the loaded scenarios decide the reply"' in page
    assert "Loading 1 scenario: rules-1…" in page


@pytest.mark.parametrize(
    "name",
    ["missing.js", "..%2Fdashboard.py", "..%2F..%2Fpyproject.toml", "%2E%2E%2Fadmin.py", "dashboard.py", ".", ""],
)
def test_static_serves_only_the_files_in_its_folder(fresh: FakeLLMServer, http: httpx.Client, name: str) -> None:
    response = http.get(f"{fresh.url}/_fake/static/{name}")
    assert response.status_code == 404
    assert b"import" not in response.content


def test_no_external_resources_in_the_page() -> None:
    for path in STATIC_DIR.iterdir():
        text = path.read_text().replace('xmlns="http://www.w3.org/2000/svg"', "")  # a name, not a resource
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text, re.IGNORECASE), path.name
        assert "@import" not in text, path.name
        assert "innerHTML" not in text, path.name  # server data goes in as text only


# ---------------------------------------------------------------------------------------------- in the browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if sync_playwright is None:
        pytest.skip("playwright is not installed: pip install -e '.[test]'")
    if CHROMIUM is None:
        pytest.skip("no Chromium executable (chromium) on this machine: apt-get install chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def context(browser: Browser) -> Iterator[BrowserContext]:
    """One browser context for the module (each test opens its own pages: sessionStorage is per page)."""
    context = browser.new_context(viewport={"width": 1500, "height": 1050}, service_workers="block")
    context.set_default_timeout(WAIT_MS)
    yield context
    context.close()


@pytest.fixture
def open_page(context: BrowserContext) -> Iterator[OpenPage]:
    """open_page(url) -> a new Page there; afterwards, no script error and no request that left loopback."""
    pages: list[Page] = []
    problems: list[str] = []

    def watch(request: Request) -> None:
        if urlsplit(request.url).hostname not in ("127.0.0.1", "localhost", "::1"):
            problems.append(f"request off loopback: {request.url}")

    def open_(url: str) -> Page:
        page = context.new_page()
        pages.append(page)
        page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
        page.on("request", watch)
        page.goto(url)
        return page

    yield open_
    for page in pages:
        page.close()
    assert problems == []


def _client(server: FakeLLMServer, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sk-test", default_headers=headers or None, max_retries=0)


@pytest.fixture
def ask(http: httpx.Client) -> Ask:
    """ask(server, text="hi", **headers): one non-streamed chat request."""

    def ask_(server: FakeLLMServer, text: str = "hi", **headers: str) -> httpx.Response:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
        return http.post(server.base_url + "/chat/completions", json=body, headers=headers)

    return ask_


def _row(page: Page, seq: int) -> Locator:
    return page.locator(f'[data-testid="journal-row"][data-seq="{seq}"]')


def _chat(page: Page, text: str) -> None:
    page.get_by_test_id("chat-message").fill(text)
    page.get_by_test_id("chat-send").click()


def test_client_requests_appear_in_the_live_journal(fresh: FakeLLMServer, open_page: OpenPage, ask: Ask) -> None:
    page = open_page(fresh.url + "/_fake/")  # the default 500 ms polling
    expect(page.get_by_test_id("journal-empty")).to_be_visible()
    expect(page.get_by_test_id("journal-loading")).to_have_count(0)
    expect(page.get_by_test_id("chat-message")).to_have_attribute("placeholder", "fault: mid-stream error · weather")
    expect(page.get_by_test_id("scenario")).to_have_count(len(PACKS))

    with _client(fresh) as client:
        reply = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hello from a test client"}]
        )
    assert reply.choices[0].message.content == HAPPY
    row = _row(page, 1)
    expect(row).to_contain_text("POST /v1/chat/completions")
    expect(row).to_contain_text("gpt-4o")
    expect(row).to_contain_text("happy-answer")
    expect(row.locator("td").nth(5)).to_have_text("200")

    # A request no rule answers shows why, in the row and in the detail panel; newest rows come first.
    missed = ask(fresh, "hi", **{"X-Fake-LLM-Scenario": "tool-calls"})
    assert missed.status_code == 400
    row = _row(page, 2)
    expect(row).to_contain_text("no match")
    expect(row).to_contain_text("weather-call: user:")
    expect(page.get_by_test_id("journal-row").first).to_have_attribute("data-seq", "2")
    row.click()
    detail = page.get_by_test_id("detail")
    expect(detail).to_be_visible()
    expect(detail.get_by_test_id("detail-reasons")).to_contain_text("weather-answer")
    expect(detail.get_by_test_id("detail-body")).to_contain_text('"content": "hi"')
    expect(detail).to_contain_text("x-fake-llm-scenario")
    # Hit counts follow the requests.
    happy = page.locator('[data-testid="rule"][data-rule="happy-answer"]')
    expect(happy.get_by_test_id("rule-hits")).to_have_text("1 hit")


def test_switching_scenarios_changes_the_next_reply(fresh: FakeLLMServer, open_page: OpenPage, ask: Ask) -> None:
    page = open_page(fresh.url + FAST)

    def scenario(name: str) -> Locator:
        return page.locator(f'[data-testid="scenario"][data-name="{name}"]')

    scenario("rate-limited").get_by_test_id("scenario-only").click()
    for name in PACKS:
        on = name == "3-rate-limited.yaml"
        expect(scenario(name[2:-5]).get_by_test_id("scenario-toggle")).to_be_checked(checked=on)
    limited = ask(fresh)
    assert limited.status_code == 429
    assert limited.json()["error"]["message"] == "Rate limit reached for requests."
    expect(_row(page, 1).locator("td").nth(5)).to_have_text("429")
    # The chat box goes through the same switch, and shows the error the app would get.
    _chat(page, "hello")
    expect(page.get_by_test_id("chat-error")).to_contain_text("429: Rate limit reached for requests.")
    expect(page.get_by_test_id("chat-message")).to_have_value("hello")  # kept, to retry

    page.get_by_test_id("scenarios-all-on").click()
    expect(scenario("happy-path").get_by_test_id("scenario-toggle")).to_be_checked()
    assert ask(fresh).json()["choices"][0]["message"]["content"] == HAPPY

    scenario("happy-path").get_by_test_id("scenario-toggle").uncheck()
    expect(scenario("happy-path")).to_have_attribute("data-enabled", "false")
    assert ask(fresh).json()["choices"][0]["message"]["content"] == "Sorry for the wait."
    page.get_by_test_id("chat-send").click()  # the kept "hello", now answered by the slow network
    expect(page.get_by_test_id("chat-reply-text").last).to_have_text("Sorry for the wait.")
    assert fresh.journal.last.rule == "slow-answer"


def test_chat_box_streams_the_reply_chunk_by_chunk(fresh: FakeLLMServer, open_page: OpenPage) -> None:
    page = open_page(fresh.url + FAST)
    # Record every text the reply is drawn with: each redraw is a mutation record of its own, even when a busy
    # machine delivers several chunks in one read and the observer runs once for all of them.
    page.evaluate(
        """() => {
            window.seen = [];
            new MutationObserver((records) => {
                for (const record of records) {
                    if (!record.target.matches?.('[data-testid="chat-reply-text"]')) continue;
                    const text = [...record.addedNodes].map((node) => node.textContent).join('');
                    if (text && window.seen[window.seen.length - 1] !== text) window.seen.push(text);
                }
            }).observe(document.getElementById('chat-transcript'), {subtree: true, childList: true});
        }"""
    )
    _chat(page, "hello")
    expect(page.get_by_test_id("chat-reply-text").last).to_have_text(HAPPY)
    expect(page.get_by_test_id("chat-status")).to_contain_text("done in")
    streamed = fresh.journal.last
    pieces = [json.loads(e.data)["choices"][0]["delta"].get("content") for e in streamed.events if e.kind == "content"]
    assert len(pieces) == 8
    # Drawn chunk by chunk: one draw per content chunk, each the text so far.
    assert page.evaluate("window.seen") == list(itertools.accumulate(pieces))
    # Each event is listed with its time since sending. On a busy machine a chunk may arrive late, never before the
    # server planned to send it (`+N ms` is rounded: half a ms of slack).
    chunks = page.get_by_test_id("chat-chunk")
    times = [int(text.split(" ms", 1)[0].lstrip("+")) for text in chunks.all_inner_texts()]
    count = int(page.get_by_test_id("chat-chunk-count").inner_text())
    assert count == len(times) == len(streamed.events)
    assert times == sorted(times), times
    planned = [event.at_ms for event in streamed.events]
    assert all(shown >= at - 0.5 for shown, at in zip(times, planned, strict=True)), (times, planned)

    # The conversation is kept: the second request sends the whole history.
    _chat(page, "and again")
    expect(page.get_by_test_id("chat-reply")).to_have_count(2)
    expect(page.get_by_test_id("chat-reply-text").last).to_have_text(HAPPY)
    roles = [m["role"] for m in fresh.journal.last.body["messages"]]
    assert roles == ["user", "assistant", "user"]

    # The streamed request in the journal: each event with its planned time.
    _row(page, 1).click()
    events = page.get_by_test_id("detail").get_by_test_id("stream-event")
    expect(events).to_have_count(len(fresh.journal.entries[0].events))
    expect(events.nth(2)).to_contain_text("+50")
    expect(events.nth(2)).to_contain_text('content " good"')


def test_chat_box_shows_a_reply_while_its_stream_is_still_open(fresh: FakeLLMServer, open_page: OpenPage) -> None:
    """The first chunks show while the rest is held back (a long stall), so the page really draws as chunks arrive,
    whatever the machine's load; Stop then ends the request."""
    fresh.add_rules(
        """
        - name: held
          priority: 10
          match: {user: hold}
          reply: {content: "First words, then the rest much later.", stream: {chunk_tokens: 1, stall_after: 3,
                  stall_ms: 60000}}
        """
    )
    page = open_page(fresh.url + FAST)
    _chat(page, "hold on")
    expect(page.get_by_test_id("chat-chunk-count")).to_have_text("3")  # the role chunk and two words, then the stall
    (held,) = fresh.journal.filter(rule="held")
    shown = "".join(json.loads(e.data)["choices"][0]["delta"].get("content") or "" for e in held.events[:3])
    assert shown.startswith("First")
    assert shown != "First words, then the rest much later."
    expect(page.get_by_test_id("chat-reply-text").last).to_have_text(shown)
    assert fresh.journal.filter(rule="held")[0].stream_outcome is None  # still open
    page.get_by_test_id("chat-stop").click()
    expect(page.get_by_test_id("chat-error")).to_contain_text("stopped after 3 chunks")
    for _ in range(500):  # the server notices the client leaving on its own schedule: poll, bounded
        if fresh.journal.filter(rule="held")[0].stream_outcome is not None:
            break
        time.sleep(0.01)
    assert fresh.journal.filter(rule="held")[0].stream_outcome == "client disconnected"


def test_chat_box_shows_stream_errors_and_tool_calls(fresh: FakeLLMServer, open_page: OpenPage) -> None:
    page = open_page(fresh.url + FAST)
    _chat(page, "fault: mid-stream error")
    expect(page.get_by_test_id("chat-error")).to_contain_text("error in the stream: The server had an error midway.")
    expect(page.get_by_test_id("chat-reply-text").last).to_have_text("This answer")

    page.get_by_test_id("chat-new").click()
    page.get_by_text("Options").click()
    page.get_by_test_id("chat-tools").fill("get_weather")
    page.get_by_test_id("chat-scenario").select_option("tool-calls")  # sent as X-Fake-LLM-Scenario
    _chat(page, "what is the weather in Paris?")
    expect(page.get_by_test_id("chat-reply").last).to_contain_text('get_weather({"city":"Paris"})')
    expect(page.locator("#chat-message-label")).to_contain_text("Result of get_weather")
    _chat(page, "sunny, 24 °C")
    expect(page.get_by_test_id("chat-reply-text").last).to_have_text("It is sunny in Paris.")
    roles = [m["role"] for m in fresh.journal.last.body["messages"]]
    assert roles == ["user", "assistant", "tool"]
    assert fresh.journal.last.headers["x-fake-llm-scenario"] == "tool-calls"
    # The journal's mid-stream-error entry says how the stream ended, never "completed".
    _row(page, 1).click()
    detail = page.get_by_test_id("detail")
    expect(detail).to_contain_text("ended by a mid-stream error event (error_after=2)")
    expect(detail).not_to_contain_text("completed")


def test_admin_token_from_the_url_and_the_401_message(open_page: OpenPage, ask: Ask) -> None:
    rules = [{"name": "hi", "reply": {"content": "Hi!"}}]
    with _with_dashboard(FakeLLMServer(rules=rules, admin_token="s3cret-token", time_scale=0)) as server:
        locked = open_page(server.url + FAST)
        banner = locked.get_by_test_id("auth-banner")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("needs the admin token")
        expect(locked.get_by_test_id("live-status")).to_have_text("waiting for the admin token")

        page = open_page(server.url + FAST + "&token=s3cret-token")
        expect(page.get_by_test_id("scenario")).to_have_count(1)
        assert page.url.endswith("/_fake/?poll=100")  # the token is read once, then kept in sessionStorage only
        ask(server)
        expect(_row(page, 1)).to_contain_text("hi")
        expect(page.get_by_test_id("auth-banner")).to_be_hidden()
        assert page.evaluate("sessionStorage.getItem('fake-llm-admin-token')") == "s3cret-token"

        # The banner's own form takes the token too.
        locked.get_by_test_id("token-input").fill("s3cret-token")
        locked.get_by_test_id("token-save").click()
        expect(banner).to_be_hidden()
        expect(_row(locked, 1)).to_be_visible()
        for opened in (page, locked):  # before the server stops under their polling
            opened.close()


def test_load_errors_show_in_a_banner(fresh: FakeLLMServer, open_page: OpenPage, ask: Ask) -> None:
    fresh.engine.load_errors = ["x.yaml:3: rules[0].reply.contnet: unknown key"]
    page = open_page(fresh.url + FAST)
    banner = page.get_by_test_id("load-errors")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("x.yaml:3: rules[0].reply.contnet: unknown key")
    fresh.engine.load_errors = []
    ask(fresh)  # a new journal entry refreshes health at once (it is also polled every 2 s)
    expect(banner).to_be_hidden()


def test_screenshot_for_the_readme(fresh: FakeLLMServer, open_page: OpenPage, ask: Ask) -> None:
    """docs/dashboard.png: a few requests of every kind, a streamed chat reply and one stream's events."""
    page = open_page(fresh.url + FAST)
    with _client(fresh) as client:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}])
    ask(fresh, "hi", **{"X-Fake-LLM-Scenario": "tool-calls"})
    ask(fresh, "hi", **{"X-Fake-LLM-Scenario": "rate-limited"})
    _chat(page, "Hello! How is the weather today?")
    expect(page.get_by_test_id("chat-reply-text").last).to_have_text(HAPPY)
    expect(page.get_by_test_id("journal-row")).to_have_count(4)
    _row(page, 4).click()
    expect(page.get_by_test_id("stream-event").first).to_be_visible()
    expect(page.get_by_test_id("detail")).to_contain_text("Streamcompleted")
    expect(page.locator('[data-rule="happy-answer"] [data-testid="rule-hits"]')).to_have_text("2 hits")
    page.evaluate("window.scrollTo(0, 0)")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), animations="disabled", caret="hide")
    if os.environ.get("FAKE_LLM_UPDATE_SCREENSHOT") == "1" or not README_SCREENSHOT.exists():
        README_SCREENSHOT.write_bytes(SCREENSHOT.read_bytes())
    assert SCREENSHOT.stat().st_size > 10_000
