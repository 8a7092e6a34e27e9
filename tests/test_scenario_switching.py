"""Switching scenarios on and off (admin API, fixture marker) and picking one per request (X-Fake-LLM-Scenario)."""

from __future__ import annotations

from collections.abc import Iterator
from textwrap import dedent

import httpx
import pytest

from fake_llm.testing.server import FakeLLMServer

HAPPY = "name: happy\nrules:\n  - name: happy-answer\n    reply: {content: all good}\n"
SLOW = "name: slow\nrules:\n  - name: slow-answer\n    reply: {content: eventually, delay_ms: 5}\n"
LIMITED = "name: limited\nrules:\n  - name: limited-answer\n    reply: {error: {status: 429, retry_after_ms: 1}}\n"
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeLLMServer]:
    folder = tmp_path_factory.mktemp("packs")
    for name, text in (("1-happy.yaml", HAPPY), ("2-slow.yaml", SLOW), ("3-limited.yaml", LIMITED)):
        (folder / name).write_text(text)
    with FakeLLMServer(scenarios=[folder], time_scale=0) as running:
        yield running


def ask(server: FakeLLMServer, **headers: str) -> httpx.Response:
    return httpx.post(server.base_url + "/chat/completions", json=BODY, headers=headers, timeout=5)


def content(response: httpx.Response) -> str:
    return str(response.json()["choices"][0]["message"]["content"])


def test_scenarios_are_listed_with_rules_and_hits(server: FakeLLMServer) -> None:
    ask(server)
    listed = httpx.get(server.url + "/_fake/scenarios", timeout=5).json()["scenarios"]
    assert [(s["name"], s["enabled"]) for s in listed] == [("happy", True), ("slow", True), ("limited", True)]
    assert listed[0]["rules"][0]["hits"] == 1
    assert listed[0]["path"].endswith("1-happy.yaml")


def test_activate_enable_and_disable_change_the_next_reply(server: FakeLLMServer) -> None:
    post = lambda path: httpx.post(server.url + path, timeout=5)  # noqa: E731
    assert content(ask(server)) == "all good"
    assert post("/_fake/scenarios/slow/activate").status_code == 200
    assert content(ask(server)) == "eventually"
    post("/_fake/scenarios/limited/activate")
    assert ask(server).status_code == 429
    post("/_fake/scenarios/all/activate")
    assert content(ask(server)) == "all good"
    post("/_fake/scenarios/happy/disable")
    assert content(ask(server)) == "eventually"
    post("/_fake/scenarios/happy/enable")
    assert content(ask(server)) == "all good"


def test_unknown_scenario_or_action_is_a_404(server: FakeLLMServer) -> None:
    missing = httpx.post(server.url + "/_fake/scenarios/nope/activate", timeout=5)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "unknown scenario 'nope'; loaded: happy, slow, limited"
    assert httpx.post(server.url + "/_fake/scenarios/happy/explode", timeout=5).status_code == 404


def test_switching_needs_the_admin_token_when_one_is_set() -> None:
    with FakeLLMServer(rules=[{"reply": {"content": "x"}}], admin_token="s3cret") as server:
        assert httpx.post(server.url + "/_fake/scenarios/all/activate", timeout=5).status_code == 401
        allowed = httpx.post(
            server.url + "/_fake/scenarios/all/activate", headers={"X-Fake-LLM-Admin-Token": "s3cret"}, timeout=5
        )
        assert allowed.status_code == 200


def test_header_picks_a_scenario_for_one_request(server: FakeLLMServer) -> None:
    assert content(ask(server, **server.headers(scenario="slow"))) == "eventually"
    assert content(ask(server)) == "all good"
    httpx.post(server.url + "/_fake/scenarios/limited/disable", timeout=5)
    assert ask(server, **{"X-Fake-LLM-Scenario": "limited"}).status_code == 429  # a header may pick a switched-off one


def test_header_naming_an_unknown_scenario_is_a_clear_400(server: FakeLLMServer) -> None:
    response = ask(server, **{"X-Fake-LLM-Scenario": "typo"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "fake-llm: X-Fake-LLM-Scenario names an unknown scenario 'typo'; loaded: happy, slow, limited"
    )


def test_session_and_scenario_headers_keep_sequences_apart() -> None:
    rules = "name: seq\nrules:\n  - name: counter\n    replies: [{content: one}, {content: two}]\n"
    with FakeLLMServer(rules=rules) as server:
        first = ask(server, **server.headers(scenario="seq", session="test-a"))
        other = ask(server, **server.headers(scenario="seq", session="test-b"))
        again = ask(server, **server.headers(scenario="seq", session="test-a"))
        assert [content(r) for r in (first, other, again)] == ["one", "one", "two"]


def test_marker_activates_a_scenario_for_one_test(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("packs").mkdir()
    pytester.path.joinpath("packs", "a.yaml").write_text("name: a\nrules:\n  - name: a1\n    reply: {content: A}\n")
    pytester.path.joinpath("packs", "b.yaml").write_text("name: b\nrules:\n  - name: b1\n    reply: {content: B}\n")
    pytester.makeini("[pytest]\nfake_llm_scenarios = packs\n")
    pytester.makepyfile(
        dedent("""\
        import httpx
        import pytest

        def ask(server):
            body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
            return httpx.post(server.base_url + "/chat/completions", json=body, timeout=5).json()

        @pytest.mark.fake_llm(activate="b")
        def test_b(fake_llm):
            assert ask(fake_llm)["choices"][0]["message"]["content"] == "B"

        def test_back_to_all(fake_llm):
            assert ask(fake_llm)["choices"][0]["message"]["content"] == "A"
        """)
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_activating_an_unknown_scenario_raises_naming_the_loaded_ones(server: FakeLLMServer) -> None:
    with pytest.raises(ValueError, match=r"^cannot activate unknown scenario 'hapy'; loaded scenarios: happy, slow, "):
        server.activate("hapy")
    assert content(ask(server)) == "all good"  # nothing was switched off


def test_every_scenario_switched_off_is_not_called_no_rules_loaded(server: FakeLLMServer) -> None:
    for name in ("happy", "slow", "limited"):
        httpx.post(server.url + f"/_fake/scenarios/{name}/disable", timeout=5)
    message = ask(server).json()["error"]["message"]
    assert "No rules are loaded" not in message
    assert message.endswith(
        "Rules tried: scenario 'happy': switched off; scenario 'slow': switched off; scenario 'limited': switched off"
    )


def test_marker_with_a_misspelled_scenario_fails_naming_the_known_ones(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("packs").mkdir()
    pytester.path.joinpath("packs", "app.yaml").write_text("name: app\nrules:\n  - name: a1\n    reply: {content: A}\n")
    pytester.makeini("[pytest]\nfake_llm_scenarios = packs\n")
    pytester.makepyfile(
        dedent("""\
        import pytest

        @pytest.mark.fake_llm(activate="ap")
        def test_ap(fake_llm):
            pass
        """)
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cannot activate unknown scenario 'ap'; loaded scenarios: app*"])
    result.stdout.no_fnmatch_line("*no rules loaded*")
