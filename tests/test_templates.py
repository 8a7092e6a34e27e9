"""Reply-text templates: rendering, filters, load-time errors, and no way to reach Python objects."""

from __future__ import annotations

from typing import Any

import pytest

from fake_llm.scenarios.templates import ANY_NAME, REPLY_NAMES, Allowed, TemplateError, compile_template

CONTEXT: dict[str, Any] = {
    "match": {"city": "paris", "1": "first group", "empty": ""},
    "request": {
        "model": "gpt-4o-mini",
        "stream": True,
        "max_tokens": None,
        "n": 2,
        "temperature": 0.5,
        "headers": {"x-user-id": "u-42"},
    },
    "last_user": "what's the weather in Paris?",
    "system": "You are terse.",
    "turn": 3,
    "tool_result": {"temp": 21, "unit": "C"},
    "tool_name": "get_weather",
}
TOP_NAMES = "last_user, match, request, system, tool_name, tool_result, tool_results, turn"
REQUEST_NAMES = (
    "request.headers.<name>, request.max_tokens, request.model, request.n, request.seed, request.stream, "
    "request.temperature"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sunny in {{ match.city }}.", "Sunny in paris."),
        ("{{match.city}}", "paris"),
        ("{{   match.city   }}", "paris"),
        ("{{ match.1 }}", "first group"),
        ("model={{ request.model }} n={{ request.n }}", "model=gpt-4o-mini n=2"),
        ("{{ request.stream }} {{ request.temperature }}", "true 0.5"),
        ("{{ request.headers.x-user-id }}", "u-42"),
        ("{{ request.headers.X-User-Id }}", "u-42"),
        ("You said: {{ last_user }}", "You said: what's the weather in Paris?"),
        ("{{ system }}|{{ turn }}|{{ tool_name }}", "You are terse.|3|get_weather"),
        ("{{ tool_result }}", '{"temp": 21, "unit": "C"}'),
        ("{{ match.missing }}", ""),
        ("{{ request.max_tokens }}", ""),
        ("{{ request.seed }}", ""),
        ("{{ request.headers.absent }}", ""),
        ("a {{ turn }} b {{ turn }} c", "a 3 b 3 c"),
        ("line one\n{{ match.city }}\nline three", "line one\nparis\nline three"),
        ('{{ "{{" }} match.city }}', "{{ match.city }}"),
        ("}} stays }}", "}} stays }}"),
        ("{ single } braces", "{ single } braces"),
    ],
)
def test_render(text: str, expected: str) -> None:
    assert compile_template(text, REPLY_NAMES).render(CONTEXT) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ match.city | upper }}", "PARIS"),
        ("{{ match.city|upper }}", "PARIS"),
        ("{{ request.model | upper }}", "GPT-4O-MINI"),
        ("{{ system | lower }}", "you are terse."),
        ("{{ last_user | title }}", "What's The Weather In Paris?"),
        ("{{ last_user | json }}", '"what\'s the weather in Paris?"'),
        ("{{ tool_result | json }}", '{"temp": 21, "unit": "C"}'),
        ("{{ request.stream | json }}", "true"),
        ("{{ match.missing | json }}", "null"),
        ('{{ match.missing | default("somewhere") }}', "somewhere"),
        ("{{ match.missing | default('single quotes') }}", "single quotes"),
        ('{{ match.empty | default("blank") }}', "blank"),
        ('{{ request.max_tokens | default("none") }}', "none"),
        ('{{ match.city | default("somewhere") }}', "paris"),
        ('{{ match.missing | default("x") | upper }}', "X"),
        ('{{ match.missing | default("a \\"quoted\\" }} word") }}', 'a "quoted" }} word'),
        ('{{ "literal" | upper }}', "LITERAL"),
    ],
)
def test_filters(text: str, expected: str) -> None:
    assert compile_template(text, REPLY_NAMES).render(CONTEXT) == expected


@pytest.mark.parametrize("text", ["", "plain text", "no braces { here }", "a } b }} c"])
def test_static_text_is_returned_unchanged(text: str) -> None:
    template = compile_template(text, REPLY_NAMES)
    assert template.is_static
    assert template.render({}) == text


def test_dynamic_template_is_not_static_and_lists_its_names() -> None:
    template = compile_template("{{ match.city }} {{ request.model }} {{ match.city | upper }}", REPLY_NAMES)
    assert not template.is_static
    assert template.names == ("match.city", "request.model")


def test_rendering_with_a_missing_context_gives_empty_strings() -> None:
    assert compile_template("[{{ match.city }}|{{ request.model }}]", REPLY_NAMES).render({}) == "[|]"


def test_custom_allowed_names() -> None:
    allowed: dict[str, Allowed] = {"user": {"name": None}, "vars": ANY_NAME}
    template = compile_template("{{ user.name }} {{ vars.anything }}", allowed)
    assert template.render({"user": {"name": "Ann"}, "vars": {"anything": 1}}) == "Ann 1"
    with pytest.raises(TemplateError, match=r"^unknown name 'match' in '\{\{ match \}\}' at line 1, column 1; "):
        compile_template("{{ match }}", allowed)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ city }}", f"unknown name 'city' in '{{{{ city }}}}' at line 1, column 1; allowed: {TOP_NAMES}"),
        (
            "Hi {{ request.user }}",
            f"unknown name 'request.user' in '{{{{ request.user }}}}' at line 1, column 4; allowed: {REQUEST_NAMES}",
        ),
        (
            "one\ntwo {{ last_user.text }}",
            "unknown name 'last_user.text' in '{{ last_user.text }}' at line 2, column 5: last_user has no sub-names",
        ),
        ("{{ match.city", "unclosed '{{' at line 1, column 1; a literal '{{' is written {{ \"{{\" }}"),
        ("ok {{ turn }} then {{ turn", "unclosed '{{' at line 1, column 20; a literal '{{' is written {{ \"{{\" }}"),
        ("{{ }}", "empty '{{ }}' at line 1, column 1; put a name inside, e.g. {{ last_user }}"),
        ("{{}}", "empty '{{}}' at line 1, column 1; put a name inside, e.g. {{ last_user }}"),
        (
            "{{ turn | shout }}",
            "unknown filter 'shout' in '{{ turn | shout }}' at line 1, column 1; "
            'filters: default("..."), json, lower, title, upper',
        ),
        (
            "{{ turn | default }}",
            "filter default is written default(\"...\") in '{{ turn | default }}' at line 1, column 1",
        ),
        ('{{ turn | upper("x") }}', "filter upper is written upper in '{{ turn | upper(\"x\") }}' at line 1, column 1"),
        (
            "{{ turn | default(turn) }}",
            "expected one quoted string in default(...) in '{{ turn | default(turn) }}' at line 1, column 1",
        ),
        ("{{ turn upper }}", "expected '| filter' after 'turn' in '{{ turn upper }}' at line 1, column 1"),
        ("{{ turn | }}", "expected '| filter' after 'turn' in '{{ turn | }}' at line 1, column 1"),
        ("{{ | upper }}", "expected a name before '|' in '{{ | upper }}' at line 1, column 1"),
        ("{{ turn + 1 }}", "unexpected '+' in '{{ turn + 1 }}' at line 1, column 1"),
    ],
)
def test_load_time_errors(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        compile_template(text, REPLY_NAMES)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{{ __class__ }}",
            f"unknown name '__class__' in '{{{{ __class__ }}}}' at line 1, column 1; allowed: {TOP_NAMES}",
        ),
        (
            "{{ request.__init__ }}",
            "unknown name 'request.__init__' in '{{ request.__init__ }}' at line 1, column 1; "
            f"allowed: {REQUEST_NAMES}",
        ),
        (
            "{{ request.model.__class__ }}",
            "unknown name 'request.model.__class__' in '{{ request.model.__class__ }}' at line 1, column 1: "
            "request.model has no sub-names",
        ),
        ("{{ match.__class__ }}", "invalid name 'match.__class__' in '{{ match.__class__ }}' at line 1, column 1"),
        (
            "{{ match.__globals__ }}",
            "invalid name 'match.__globals__' in '{{ match.__globals__ }}' at line 1, column 1",
        ),
        (
            "{{ request.model() }}",
            "expected '| filter' after 'request.model' in '{{ request.model() }}' at line 1, column 1",
        ),
        (
            "{{ __import__('os') }}",
            f"unknown name '__import__' in '{{{{ __import__('os') }}}}' at line 1, column 1; allowed: {TOP_NAMES}",
        ),
        ("{{ turn; 1 }}", "unexpected ';' in '{{ turn; 1 }}' at line 1, column 1"),
        ("{{ match['city'] }}", "unexpected '[' in '{{ match['city'] }}' at line 1, column 1"),
    ],
)
def test_no_code_execution(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        compile_template(text, REPLY_NAMES)
    assert str(caught.value) == message


class _Sneaky:
    """An object with attributes: templates must never reach them, only dict keys."""

    secret = "leaked"

    def __str__(self) -> str:
        return "sneaky"


def test_render_uses_dict_lookups_only() -> None:
    template = compile_template("[{{ match.secret }}]", REPLY_NAMES)
    assert template.render({"match": _Sneaky()}) == "[]"
    assert compile_template("[{{ match.upper }}]", REPLY_NAMES).render({"match": "text"}) == "[]"


def test_template_error_is_a_value_error() -> None:
    assert issubclass(TemplateError, ValueError)


def scenario_problems(text: str) -> str:
    from textwrap import dedent

    from fake_llm.errors import ScenarioError
    from fake_llm.scenarios.loader import parse_scenario

    with pytest.raises(ScenarioError) as info:
        parse_scenario(dedent(text), source="s.yaml")
    return str(info.value)


def test_a_misspelled_capture_name_fails_at_load_with_file_and_line() -> None:
    assert scenario_problems("""\
        rules:
          - name: weather
            match: {user: {regex: "weather in (?P<city>\\\\w+)"}}
            reply: {content: "Sunny in {{ match.cty }}."}
        """) == (
        "s.yaml:4: rules[0].reply.content: unknown name 'match.cty' in '{{ match.cty }}' at line 1, column 10; "
        "allowed: match.city"
    )


def test_a_capture_name_in_a_rule_without_a_regex_fails_at_load() -> None:
    assert scenario_problems("""\
        rules:
          - name: plain
            match: {user: hello}
            replies:
              - content: ok
              - tool_calls: [{name: f, arguments: {q: "{{ match.x }}"}}]
        """) == (
        "s.yaml:6: rules[0].replies[1].tool_calls[0].arguments.q: unknown name 'match.x' in '{{ match.x }}' at line 1, "
        "column 1: match has no names here (match.NAME is a named group of a regex in the rule's match, e.g. "
        "(?P<NAME>...))"
    )


def test_capture_names_of_every_regex_lookup_are_allowed() -> None:
    from textwrap import dedent

    from fake_llm.scenarios.loader import parse_scenario

    scenario = parse_scenario(
        dedent("""\
        rules:
          - match:
              system: {regex: "(?P<persona>\\\\w+)"}
              header: {x-team: {regex: "(?P<team>.+)"}}
            reply: {content: "{{ match.persona }} {{ match.team }}"}
        """),
        source="s.yaml",
    )
    assert scenario.rules[0].replies[0].content == "{{ match.persona }} {{ match.team }}"
