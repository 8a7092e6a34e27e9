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
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*JournalAssertionError: fake-llm: no rule matched #1 POST /v1/chat/completions model='gpt-4o-mini' -> 4*",
            "*greet: user: last user message 'goodbye' does not contain 'hello'*",
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
    result.assert_outcomes(passed=1, errors=1)
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
            monkeypatch.setattr("fake_llm.http.engine.plan_completion", boom)
            assert ask(fake_llm, "x").status_code == 500
        """)
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
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
