"""The pytest plugin through pytester: fixture, marker, ini options and strict teardown."""

from __future__ import annotations

from textwrap import dedent

import pytest

HEADER = dedent("""\
    import httpx
    import pytest

    def ask(server, text, **extra):
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}
        return httpx.post(server.base_url + "/chat/completions", json=body, timeout=5)
    """)


def test_fixture_add_rules_and_journal(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HEADER
        + dedent("""\
        def test_it(fake_llm):
            fake_llm.add_rules("- name: greet\\n  match: {user: hello}\\n  reply: {content: Hi}\\n")
            assert ask(fake_llm, "hello there").json()["choices"][0]["message"]["content"] == "Hi"
            assert fake_llm.journal.last.rule == "greet"
            fake_llm.journal.assert_called("greet", times=1)

        def test_rules_do_not_leak_between_tests(fake_llm):
            assert fake_llm.engine.selector.rules == []
            assert len(fake_llm.journal) == 0
        """)
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_unmatched_request_fails_at_teardown_with_reasons(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HEADER
        + dedent("""\
        @pytest.mark.fake_llm(rules=[{"name": "greet", "match": {"user": "hello"}, "reply": {"content": "Hi"}}])
        def test_it(fake_llm):
            assert ask(fake_llm, "goodbye").status_code == 400
        """)
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "fake-llm: no rule matched #1 POST /v1/chat/completions model='gpt-4o-mini' -> 400 (unmatched); "
            "rules tried:",
            "    greet: user: last user message 'goodbye' does not contain 'hello' (ignoring case)",
        ]
    )


def test_fail_on_unmatched_can_be_turned_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HEADER
        + dedent("""\
        @pytest.mark.fake_llm(fail_on_unmatched=False)
        def test_marker(fake_llm):
            assert ask(fake_llm, "anything").status_code == 400
        """)
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_ini_option_turns_off_unmatched_check(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nfake_llm_fail_on_unmatched = false\n")
    pytester.makepyfile(HEADER + "def test_it(fake_llm):\n    assert ask(fake_llm, 'x').status_code == 400\n")
    pytester.runpytest().assert_outcomes(passed=1)


def test_unused_rules_fail_when_asked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HEADER
        + dedent("""\
        @pytest.mark.fake_llm(fail_on_unused_rules=True, rules=[
            {"name": "used", "match": {"user": "a"}, "reply": {"content": "A"}},
            {"name": "never", "match": {"user": "b"}, "reply": {"content": "B"}},
        ])
        def test_it(fake_llm):
            ask(fake_llm, "a")
        """)
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*rules never used by this test: never*"])


def test_ini_scenarios_and_marker_scenarios(pytester: pytest.Pytester) -> None:
    pytester.mkdir("llm")
    pytester.path.joinpath("llm", "base.yaml").write_text("rules:\n  - name: base\n    reply: {content: base}\n")
    pytester.path.joinpath("other.yaml").write_text("rules:\n  - name: other\n    reply: {content: other}\n")
    pytester.makeini("[pytest]\nfake_llm_scenarios = llm\n")
    pytester.makepyfile(
        HEADER
        + dedent("""\
        def test_session_scenarios(fake_llm):
            assert ask(fake_llm, "x").json()["choices"][0]["message"]["content"] == "base"

        @pytest.mark.fake_llm(scenarios="other.yaml")
        def test_marker_scenarios_replace_them(fake_llm):
            assert ask(fake_llm, "x").json()["choices"][0]["message"]["content"] == "other"

        def test_and_come_back_after(fake_llm):
            assert ask(fake_llm, "x").json()["choices"][0]["message"]["content"] == "base"
        """)
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=3)


def test_closest_marker_wins(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HEADER
        + dedent("""\
        pytestmark = pytest.mark.fake_llm(rules=[{"name": "module", "reply": {"content": "module"}}])

        @pytest.mark.fake_llm(rules=[{"name": "function", "reply": {"content": "function"}}])
        def test_function_marker(fake_llm):
            assert ask(fake_llm, "x").json()["choices"][0]["message"]["content"] == "function"

        def test_module_marker(fake_llm):
            assert ask(fake_llm, "x").json()["choices"][0]["message"]["content"] == "module"
        """)
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_marker_misuse_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HEADER
        + dedent("""\
        @pytest.mark.fake_llm(scenario="typo.yaml")
        def test_it(fake_llm):
            pass
        """)
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.fake_llm takes only keyword arguments scenarios, rules*"])


def test_internal_errors_fail_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HEADER
        + dedent("""\
        def test_it(fake_llm, monkeypatch):
            fake_llm.add_rules([{"name": "r", "reply": {"content": "x"}}])
            def boom(*args, **kwargs):
                raise RuntimeError("kaboom")
            monkeypatch.setattr("fake_llm.core.pipeline.plan_reply", boom)
            assert ask(fake_llm, "x").status_code == 500
        """)
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*fake-llm failed while answering #1 POST*", "*RuntimeError: kaboom*"])


def test_settings_fixture_can_be_overridden(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        dedent("""\
        import pytest
        from fake_llm.settings import Settings

        @pytest.fixture(scope="session")
        def fake_llm_settings():
            return Settings(port=0, seed=42, api_keys=("k",))
        """)
    )
    pytester.makepyfile(
        HEADER
        + dedent("""\
        def test_it(fake_llm):
            fake_llm.add_rules([{"reply": {"content": "x"}}])
            assert fake_llm.settings.seed == 42
            assert ask(fake_llm, "x").status_code == 401
        """)
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.fake_llm(scenarios=None, rules=None,*"])


def test_a_failing_client_call_and_the_no_match_make_one_report_explanation_first(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HEADER
        + dedent("""\
        def test_it(fake_llm):
            fake_llm.add_rules([{"name": "greet", "match": {"user": "hello"}, "reply": {"content": "Hi"}}])
            response = ask(fake_llm, "goodbye")
            response.raise_for_status()
        """)
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)  # not FAILED and ERROR for the same test
    assert "ERROR" not in result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*_ test_it _*",
            "fake-llm: no rule matched #1 POST /v1/chat/completions model='gpt-4o-mini' -> 400 (unmatched); "
            "rules tried:",
            "    greet: user: last user message 'goodbye' does not contain 'hello' (ignoring case)",
            "The test itself then raised (most likely because of the above):",
            "*response.raise_for_status()*",
            "*HTTPStatusError: Client error '400 Bad Request'*",
        ]
    )
    result.stdout.no_fnmatch_line("*pytest_plugin.py*")
    result.stdout.no_fnmatch_line("*pytest_checks.py*")


def test_a_request_after_the_test_function_fails_teardown_without_plugin_frames(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HEADER
        + dedent("""\
        @pytest.fixture
        def late(fake_llm):
            yield
            ask(fake_llm, "from a teardown")

        def test_it(late, fake_llm):
            pass
        """)
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["fake-llm: no rule matched #1 POST /v1/chat/completions*", "    (no rules loaded)"])
    result.stdout.no_fnmatch_line("*pytest_plugin.py*")


def test_rules_a_test_adds_win_over_an_ini_catch_all(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".yaml",
        base="rules:\n  - name: session-greet\n    match: {user: hi}\n    reply: {content: base}\n"
        "  - name: fallback\n    reply: {content: catch-all}\n",
    )
    pytester.makeini("[pytest]\nfake_llm_scenarios = base.yaml\n")
    pytester.makepyfile(
        HEADER
        + dedent("""\
        def content(response):
            return response.json()["choices"][0]["message"]["content"]

        def test_add_rules(fake_llm):
            fake_llm.add_rules([{"name": "mine", "match": {"user": "weather"}, "reply": {"content": "sunny"}}])
            assert content(ask(fake_llm, "weather?")) == "sunny"
            assert content(ask(fake_llm, "hi")) == "base"
            assert content(ask(fake_llm, "other")) == "catch-all"

        @pytest.mark.fake_llm(rules=[{"name": "marked", "match": {"user": "weather"}, "reply": {"content": "rain"}}])
        def test_marker_rules(fake_llm):
            assert content(ask(fake_llm, "weather?")) == "rain"

        def test_priority_beats_the_order(fake_llm):
            fake_llm.add_rules([{"name": "low", "priority": -1, "match": {"user": "hi"}, "reply": {"content": "low"}}])
            assert content(ask(fake_llm, "hi")) == "base"
            fake_llm.add_rules([{"name": "top", "priority": 5, "reply": {"content": "top"}}])
            assert content(ask(fake_llm, "hi")) == "top"
        """)
    )
    # test_priority_beats_the_order adds `low` below the catch-all: it must fail, naming the shadowing rule.
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_priority_beats_the_order _*",
            "fake-llm: rule 'low' (<add_rules>:1) added by this test can never match: the catch-all rule 'top' "
            "(<add_rules>:1) comes first; remove one, or give 'low' a higher `priority:` (it has -1, 'top' has 5)",
        ]
    )


def test_a_shadowed_rule_from_a_marker_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HEADER
        + dedent("""\
        RULES = [
            {"name": "any", "reply": {"content": "x"}},
            {"name": "specific", "match": {"user": "hello"}, "reply": {"content": "y"}},
        ]

        @pytest.mark.fake_llm(rules=RULES)
        def test_it(fake_llm):
            assert ask(fake_llm, "hello").status_code == 200
        """)
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*rule 'specific' (<add_rules>:4) added by this test can never match: the catch-all rule 'any'*"]
    )


def test_a_settings_override_returning_new_settings_still_binds_a_free_port(pytester: pytest.Pytester) -> None:
    import socket

    pytester.makeconftest(
        dedent("""\
        import pytest
        from fake_llm.settings import Settings

        @pytest.fixture(scope="session")
        def fake_llm_settings():
            return Settings(api_keys=("k",))  # port left at its default, 8000
        """)
    )
    pytester.makepyfile(
        HEADER
        + dedent("""\
        def test_it(fake_llm):
            assert fake_llm.port != 8000
            fake_llm.add_rules([{"reply": {"content": "x"}}])
            assert ask(fake_llm, "x").status_code == 401
        """)
    )
    with socket.socket() as busy:  # hold port 8000 if we can, as another dev server would
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            busy.bind(("127.0.0.1", 8000))
            busy.listen(1)
        except OSError:
            pass  # already taken by something else: the point still stands
        pytester.runpytest().assert_outcomes(passed=1)


def test_the_documented_override_keeps_the_ini_settings(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nfake_llm_seed = 9\n")
    pytester.makeconftest(
        dedent("""\
        import pytest

        @pytest.fixture(scope="session")
        def fake_llm_settings(fake_llm_settings):
            return fake_llm_settings.replace(api_keys=("k",))
        """)
    )
    pytester.makepyfile(
        dedent("""\
        def test_it(fake_llm):
            assert fake_llm.settings.seed == 9
            assert fake_llm.settings.api_keys == ("k",)
            assert fake_llm.settings.freeze_time == 1767225600.0
        """)
    )
    pytester.runpytest().assert_outcomes(passed=1)
