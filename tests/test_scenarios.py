"""The scenario loader: typed values from YAML, and every error naming file:line: path."""

from __future__ import annotations

import re
from pathlib import Path
from textwrap import dedent

import pytest

from fake_llm.dialects import DIALECT_NAMES as DIALECT_NAMES_IN_REGISTRY
from fake_llm.errors import Problem, ScenarioError
from fake_llm.model.spec import Choice, ErrorSpec, Match, Reply, StreamSpec, TextLookup
from fake_llm.scenarios.loader import (
    check_unique_names,
    expand_paths,
    load_scenario,
    load_scenarios,
    parse_rules,
    parse_scenario,
    shadowed_rules,
)
from fake_llm.scenarios.schema import DIALECT_NAMES, REPLY_BODY_KEYS, SCENARIO_SCHEMA

# Key lists as the loader prints them ("expected one of ..."), read from the schema so that new keys do not break
# the pinned texts.
_RULE = SCENARIO_SCHEMA["properties"]["rules"]["items"]
_MATCH = next(option for option in _RULE["properties"]["match"]["anyOf"] if option.get("type") == "object")
RULE_KEYS = ", ".join(sorted(_RULE["properties"]))
REPLY_KEYS = ", ".join(sorted(_RULE["properties"]["reply"]["properties"]))
MATCH_KEYS = ", ".join(sorted(_MATCH["properties"]))
LOOKUP_KEYS = ", ".join(sorted(_MATCH["properties"]["user"]["properties"]))
STREAM_KEYS = ", ".join(sorted(_RULE["properties"]["reply"]["properties"]["stream"]["properties"]))
BODY_KEYS = ", ".join(REPLY_BODY_KEYS) + "; tool_calls may go with one text key"


def problems(text: str) -> str:
    """The text of the ScenarioError that `text` (dedented, named s.yaml) raises."""
    with pytest.raises(ScenarioError) as info:
        parse_scenario(dedent(text), source="s.yaml")
    return str(info.value)


# --------------------------------------------------------------------------------------------- error table

ERRORS = [
    pytest.param(
        """\
        rules:
          - name: a
            reply: {content: x}
            tims: 2
        """,
        f"s.yaml:4: rules[0].tims: unknown key; expected one of {RULE_KEYS}",
        id="unknown-rule-key-on-the-typos-line",
    ),
    pytest.param(
        """\
        rules:
          - name: a
            reply:
              content: x
              finish_reson: stop
        """,
        f"s.yaml:5: rules[0].reply.finish_reson: unknown key; expected one of {REPLY_KEYS}",
        id="unknown-reply-key-on-the-typos-line",
    ),
    pytest.param(
        """\
        rules:
          - name: a
            match:
              usr: hi
            reply: {content: x}
        """,
        f"s.yaml:4: rules[0].match.usr: unknown key; expected one of {MATCH_KEYS}",
        id="unknown-match-key-on-the-typos-line",
    ),
    pytest.param(
        """\
        rules:
          - name: a
            match:
              user:
                contans: x
            reply: {content: x}
        """,
        f"s.yaml:5: rules[0].match.user.contans: unknown key; expected one of {LOOKUP_KEYS}",
        id="unknown-lookup-key-on-the-typos-line",
    ),
    pytest.param(
        """\
        rules:
          - reply: {content: x, modle: m, finish: stop}
        """,
        f"s.yaml:2: rules[0].reply: unknown keys 'finish', 'modle'; expected one of {REPLY_KEYS}",
        id="two-unknown-keys-named-together",
    ),
    pytest.param(
        """\
        name: x
        rulez: []
        rules: []
        """,
        "s.yaml:2: rulez: unknown key; expected one of defaults, name, rules",
        id="unknown-top-level-key",
    ),
    pytest.param(
        """\
        rules:
          - reply: {content: x, stream: {chunk_tokns: 2}}
        """,
        f"s.yaml:2: rules[0].reply.stream.chunk_tokns: unknown key; expected one of {STREAM_KEYS}",
        id="unknown-stream-key",
    ),
    pytest.param(
        """\
        rules:
          - name: a
            times: "3"
            reply: {content: 5}
        """,
        "s.yaml:3: rules[0].times: expected an integer, got '3'\n"
        "s.yaml:4: rules[0].reply.content: expected a string, got 5",
        id="wrong-types-all-reported-in-line-order",
    ),
    pytest.param("rules: 5\n", "s.yaml:1: rules: expected a list, got 5", id="rules-not-a-list"),
    pytest.param("a string\n", "s.yaml:1: expected a mapping, got 'a string'", id="document-not-a-mapping"),
    pytest.param(
        """\
        rules:
          - reply: {error: {status: "500"}}
        """,
        "s.yaml:2: rules[0].reply.error.status: expected an integer, got '500'",
        id="error-status-not-an-integer",
    ),
    pytest.param(
        """\
        rules:
          - name: a
            match: 5
            reply: {content: x}
        """,
        "s.yaml:3: rules[0].match: expected a mapping or null, got 5",
        id="match-not-a-mapping",
    ),
    pytest.param(
        """\
        rules:
          - name: a
            match:
              model: 5
            reply: {content: x}
        """,
        "s.yaml:4: rules[0].match.model: expected a string or a list, got 5",
        id="match-model-wrong-type",
    ),
    pytest.param(
        """\
        rules:
          - name: a
            match:
              stream: "yes"
            reply: {content: x}
        """,
        "s.yaml:4: rules[0].match.stream: expected true or false, got 'yes'",
        id="match-stream-wrong-type",
    ),
    pytest.param(
        """\
        rules:
          - reply:
              error: {message: boom}
        """,
        "s.yaml:3: rules[0].reply.error: missing required key 'status'",
        id="error-without-status",
    ),
    pytest.param(
        """\
        rules:
          - reply: {error: {status: 200}}
        """,
        "s.yaml:2: rules[0].reply.error.status: 200 is less than the minimum of 400",
        id="error-status-below-400",
    ),
    pytest.param(
        "name: x\n",
        "s.yaml:1: missing required key 'rules'",
        id="missing-rules",
    ),
    pytest.param("", "s.yaml: missing required key 'rules'", id="empty-file-has-no-line"),
    pytest.param(
        """\
        rules:
          - reply: {content: x, finish_reason: done}
        """,
        "s.yaml:2: rules[0].reply.finish_reason: expected one of stop, length, tool_calls, content_filter, "
        "function_call, got 'done'",
        id="finish-reason-enum",
    ),
    pytest.param(
        """\
        rules:
          - reply:
              choices:
                - {content: a, finish_reason: halted}
        """,
        "s.yaml:4: rules[0].reply.choices[0].finish_reason: expected one of stop, length, tool_calls, "
        "content_filter, function_call, got 'halted'",
        id="choice-finish-reason-enum",
    ),
    pytest.param(
        """\
        rules:
          - times: 0
            reply: {content: x}
        """,
        "s.yaml:2: rules[0].times: 0 is less than the minimum of 1",
        id="times-zero",
    ),
    pytest.param(
        """\
        rules:
          - match:
              user: {regex: "a("}
            reply: {content: x}
        """,
        "s.yaml:3: rules[0].match.user.regex: invalid regex 'a(': missing ), unterminated subpattern at position 1",
        id="invalid-regex",
    ),
    pytest.param(
        """\
        rules:
          - match:
              header:
                X-Team:
                  regex: "("
            reply: {content: x}
        """,
        "s.yaml:5: rules[0].match.header.X-Team.regex: invalid regex '(': missing ), unterminated subpattern at "
        "position 0",
        id="invalid-regex-in-header",
    ),
    pytest.param(
        """\
        rules:
          - match: {user: {contains: a, equals: b}}
            reply: {content: x}
        """,
        "s.yaml:2: rules[0].match.user: a text lookup needs exactly one of contains, equals, startswith, regex",
        id="lookup-with-two-kinds",
    ),
    pytest.param(
        """\
        rules:
          - match: {system: {ignore_case: true}}
            reply: {content: x}
        """,
        "s.yaml:2: rules[0].match.system: a text lookup needs exactly one of contains, equals, startswith, regex",
        id="lookup-with-no-kind",
    ),
    pytest.param(
        """\
        rules:
          - name: a
            name: b
            reply: {content: x}
        """,
        "s.yaml:3: rules[0]: duplicate key 'name'",
        id="duplicate-yaml-key",
    ),
    pytest.param(
        """\
        rules:
          - name: a
            reply: {content: x, content: y}
        """,
        "s.yaml:3: rules[0].reply: duplicate key 'content'",
        id="duplicate-yaml-key-in-flow-mapping",
    ),
    pytest.param(
        """\
        rules:
          - name: [a
            reply: {content: x}
        """,
        "s.yaml:3: invalid YAML: a `[...]` or `{...}` on this line is not closed, or its items are not separated by "
        "commas (the YAML parser says: expected ',' or ']', but got ':')",
        id="invalid-yaml-syntax",
    ),
    pytest.param(
        """\
        rules:
          - name: a
            match: {user: hi}
             reply: {content: x}
        """,
        "s.yaml:4: invalid YAML: check the indentation of this line against the lines above (keys of one mapping must "
        "line up, items of a list start with `- `), and that the key before it ends with a colon (the YAML parser "
        "says: expected <block end>, but found '<block mapping start>')",
        id="yaml-bad-indentation",
    ),
    pytest.param(
        "rules:\n  - name: a\n\treply: {content: x}\n",
        "s.yaml:3: invalid YAML: a tab indents this line; YAML indents with spaces only (the YAML parser says: found "
        "character '\\t' that cannot start any token)",
        id="yaml-tab",
    ),
    pytest.param(
        """\
        rules:
          - name: a
            reply
              content: x
        """,
        "s.yaml:4: invalid YAML: a key without its colon on this line or the one above (write `key: value`) (the "
        "YAML parser says: could not find expected ':')",
        id="yaml-missing-colon",
    ),
    pytest.param(
        """\
        rules:
          - name: a
            reply: {content: "x}
        """,
        "s.yaml:3: invalid YAML: a quote or bracket opened on this line is never closed (the YAML parser says: found "
        "unexpected end of stream)",
        id="yaml-unclosed-quote",
    ),
    pytest.param(
        """\
        - name: a
          reply: {content: x}
        """,
        "s.yaml:1: a scenario file is a mapping, not a list: put the rules under `rules:` (indent them below it)",
        id="top-level-list",
    ),
    pytest.param(
        """\
        rules:
          - name: a
            reply: {content: x}
            replies: [{content: y}]
        """,
        "s.yaml:2: rules[0]: a rule needs exactly one of reply, replies",
        id="reply-and-replies",
    ),
    pytest.param(
        """\
        rules:
          - name: a
            times: 1
        """,
        "s.yaml:2: rules[0]: a rule needs exactly one of reply, replies",
        id="neither-reply-nor-replies",
    ),
    pytest.param(
        """\
        rules:
          - replies: []
        """,
        "s.yaml:2: rules[0].replies: [] should be non-empty",
        id="empty-replies",
    ),
    pytest.param(
        """\
        rules:
          - reply: {finish_reason: stop}
        """,
        f"s.yaml:2: rules[0].reply: expected exactly one of {BODY_KEYS}",
        id="reply-without-body",
    ),
    pytest.param(
        """\
        rules:
          - reply: {content: x, error: {status: 500}}
        """,
        f"s.yaml:2: rules[0].reply: expected exactly one of {BODY_KEYS} (found content, error)",
        id="reply-with-two-bodies",
    ),
    pytest.param(
        """\
        rules:
          - replies:
              - content: a
              - {model: m}
        """,
        f"s.yaml:4: rules[0].replies[1]: expected exactly one of {BODY_KEYS}",
        id="second-of-replies-without-body",
    ),
    pytest.param(
        """\
        rules:
          - reply:
              choices:
                - content: a
                  content_file: b.txt
                - finish_reason: stop
        """,
        "s.yaml:4: rules[0].reply.choices[0]: a choice needs exactly one of content, content_file\n"
        "s.yaml:6: rules[0].reply.choices[1]: a choice needs exactly one of content, content_file",
        id="choices-with-both-and-neither",
    ),
    pytest.param(
        """\
        rules:
          - reply: {choices: []}
        """,
        "s.yaml:2: rules[0].reply.choices: [] should be non-empty",
        id="empty-choices",
    ),
    pytest.param(
        """\
        rules:
          - reply: !!python/object:os.system {content: x}
        """,
        "s.yaml:2: invalid YAML: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object:os.system'",
        id="unsafe-python-object-tag",
    ),
    pytest.param(
        """\
        rules: !!python/object/apply:os.system ["echo pwned"]
        """,
        "s.yaml:1: invalid YAML: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'",
        id="unsafe-python-apply-tag",
    ),
]


@pytest.mark.parametrize(("text", "expected"), ERRORS)
def test_scenario_errors_name_file_line_and_path(text: str, expected: str) -> None:
    assert problems(text) == expected


def test_scenario_error_keeps_each_problem() -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario("rules:\n  - times: x\n    reply: {content: 1}\n", source="s.yaml")
    assert info.value.problems == [
        Problem("s.yaml", 2, "rules[0].times", "expected an integer, got 'x'"),
        Problem("s.yaml", 3, "rules[0].reply.content", "expected a string, got 1"),
    ]
    assert isinstance(info.value, ValueError)


def test_problem_without_line_or_path() -> None:
    assert str(Problem("s.yaml", 0, "", "no such scenario file or folder")) == "s.yaml: no such scenario file or folder"
    assert str(Problem("s.yaml", 7, "", "invalid YAML: x")) == "s.yaml:7: invalid YAML: x"


# --------------------------------------------------------------------------------------------- typed values


def test_rule_values_are_built_from_yaml() -> None:
    scenario = parse_scenario(
        dedent(
            """\
            name: demo
            defaults: {model: gpt-4.1-mini}
            rules:
              - name: full
                match:
                  model: [gpt-4o, "ft:*"]
                  user: Hello
                  system: {equals: Be brief., ignore_case: true}
                  any_message: {regex: "(?P<city>Paris|Rome)"}
                  stream: true
                  header: {X-Team: {startswith: blue}}
                times: 2
                reply:
                  content: hi
                  finish_reason: length
                  usage: {prompt_tokens: 9}
                  model: gpt-4o-2024-08-06
                  stream: {chunk_tokens: 3}
              - match: {model: gpt-4o}
                reply:
                  error: {status: 429, message: slow, type: requests, code: rate_limit_exceeded, param: model,
                          headers: {retry-after-ms: 20}}
            """
        ),
        source="demo.yaml",
    )
    assert scenario.name == "demo"
    assert scenario.path == "demo.yaml"
    assert scenario.default_model == "gpt-4.1-mini"
    full, second = scenario.rules
    assert full.name == "full"
    assert full.scenario == "demo"
    assert full.source == "demo.yaml:4"
    assert full.times == 2
    assert full.match.model == ("gpt-4o", "ft:*")
    assert full.match.user == TextLookup("contains", "Hello", ignore_case=True)
    assert full.match.system == TextLookup("equals", "Be brief.", ignore_case=True)
    assert full.match.any_message is not None
    assert full.match.any_message.pattern == re.compile("(?P<city>Paris|Rome)")
    assert full.match.stream is True
    assert full.match.headers == (("x-team", TextLookup("startswith", "blue")),)
    assert full.replies == (
        Reply(
            content="hi",
            finish_reason="length",
            usage={"prompt_tokens": 9},
            model="gpt-4o-2024-08-06",
            stream=StreamSpec(chunk_tokens=3),
        ),
    )
    assert second.name == "demo[1]"
    assert second.source == "demo.yaml:19"
    assert second.match == Match(model=("gpt-4o",))
    assert second.replies[0].error == ErrorSpec(
        status=429,
        message="slow",
        type="requests",
        code="rate_limit_exceeded",
        param="model",
        headers={"retry-after-ms": "20"},
    )


def test_regex_with_ignore_case_compiles_case_insensitive() -> None:
    scenario = parse_scenario('rules:\n  - match: {user: {regex: "^hi", ignore_case: true}}\n    reply: {content: x}\n')
    lookup = scenario.rules[0].match.user
    assert lookup is not None
    assert lookup.pattern == re.compile("^hi", re.IGNORECASE)
    assert lookup.describe() == "match regex '^hi' (ignoring case)"


@pytest.mark.parametrize(
    ("lookup", "expected"),
    [
        (TextLookup("contains", "a"), "contain 'a'"),
        (TextLookup("equals", "a"), "equal 'a'"),
        (TextLookup("startswith", "a", ignore_case=True), "start with 'a' (ignoring case)"),
        (TextLookup("regex", "a+"), "match regex 'a+'"),
    ],
)
def test_lookup_describe(lookup: TextLookup, expected: str) -> None:
    assert lookup.describe() == expected


def test_null_match_and_empty_match_are_catch_alls() -> None:
    scenario = parse_scenario("rules:\n  - match:\n    reply: {content: a}\n  - match: {}\n    reply: {content: b}\n")
    assert [rule.match.is_catch_all for rule in scenario.rules] == [True, True]


def test_choices_are_kept_in_order() -> None:
    scenario = parse_scenario(
        "rules:\n  - reply:\n      choices:\n        - {content: A}\n        - {content: B, finish_reason: length}\n"
    )
    assert scenario.rules[0].replies[0].choices == (Choice("A"), Choice("B", "length"))


def test_replies_sequence_is_kept_in_order() -> None:
    scenario = parse_scenario("rules:\n  - replies:\n      - content: one\n      - error: {status: 503}\n")
    assert [reply.summary() for reply in scenario.rules[0].replies] == ["content 'one'", "error 503"]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(content="short"), "content 'short'"),
        (Reply(content="x" * 61), "content '" + "x" * 57 + "...'"),
        (Reply(error=ErrorSpec(status=500, message="boom")), "error 500: boom"),
        (Reply(choices=(Choice("a"), Choice("b"))), "2 choices"),
    ],
)
def test_reply_summary(reply: Reply, expected: str) -> None:
    assert reply.summary() == expected


# --------------------------------------------------------------------------------------------- default names


@pytest.mark.parametrize(
    ("text", "source", "expected"),
    [
        (
            "rules:\n  - reply: {content: a}\n  - reply: {content: b}\n",
            "pack/greetings.yaml",
            ["greetings[0]", "greetings[1]"],
        ),
        ("name: named\nrules:\n  - reply: {content: a}\n", "pack/x.yaml", ["named[0]"]),
        ("rules:\n  - reply: {content: a}\n", "<inline>", ["inline[0]"]),
        ("rules:\n  - name: kept\n    reply: {content: a}\n  - reply: {content: b}\n", "s.yml", ["kept", "s[1]"]),
    ],
)
def test_default_rule_names(text: str, source: str, expected: list[str]) -> None:
    assert [rule.name for rule in parse_scenario(text, source=source).rules] == expected


def test_default_name_argument_names_an_unnamed_scenario() -> None:
    scenario = parse_scenario("rules:\n  - reply: {content: a}\n", source="<rules>", default_name="rules-3")
    assert scenario.name == "rules-3"
    assert scenario.rules[0].name == "rules-3[0]"


# --------------------------------------------------------------------------------------------- parse_rules


def test_parse_rules_from_yaml_list_text() -> None:
    scenario = parse_rules("- name: r1\n  match: {user: hi}\n  reply: {content: a}\n- reply: {content: b}\n")
    assert scenario.name == "rules"
    assert scenario.path == "<rules>"
    assert [rule.name for rule in scenario.rules] == ["r1", "rules[1]"]
    assert scenario.rules[0].match.user == TextLookup("contains", "hi", ignore_case=True)


def test_parse_rules_from_list_of_dicts() -> None:
    scenario = parse_rules([{"name": "r2", "reply": {"content": "b"}}, {"reply": {"content": "c"}}], default_name="rs")
    assert [(rule.name, rule.replies[0].content) for rule in scenario.rules] == [("r2", "b"), ("rs[1]", "c")]


def test_parse_rules_from_scenario_mapping() -> None:
    scenario = parse_rules({"name": "sc", "defaults": {"model": "m1"}, "rules": [{"reply": {"content": "c"}}]})
    assert (scenario.name, scenario.default_model, [r.name for r in scenario.rules]) == ("sc", "m1", ["sc[0]"])


def test_parse_rules_from_scenario_mapping_text_keeps_its_lines() -> None:
    with pytest.raises(ScenarioError) as info:
        parse_rules("name: sc\nrules:\n  - name: r\n    reply: {contnt: a}\n", source="POST /_fake/rules")
    assert str(info.value) == (f"POST /_fake/rules:4: rules[0].reply.contnt: unknown key; expected one of {REPLY_KEYS}")


def test_parse_rules_from_yaml_list_text_names_the_line_the_user_wrote() -> None:
    # The typo is on line 2 of what was sent; the error must point there, not at a line of a re-dumped copy.
    with pytest.raises(ScenarioError) as info:
        parse_rules("- name: r1\n  reply: {contnt: a}\n", source="POST /_fake/rules")
    assert str(info.value) == (f"POST /_fake/rules:2: rules[0].reply.contnt: unknown key; expected one of {REPLY_KEYS}")


def test_parse_rules_reports_invalid_yaml() -> None:
    with pytest.raises(ScenarioError) as info:
        parse_rules("- [a")
    assert str(info.value) == (
        "<rules>:1: invalid YAML: a quote or bracket opened on this line is never closed (the YAML parser says: "
        "expected ',' or ']', but got '<stream end>')"
    )


# --------------------------------------------------------------------------------------------- files and folders


def test_content_file_is_relative_to_the_scenario_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pack = tmp_path / "pack"
    (pack / "texts").mkdir(parents=True)
    (pack / "texts" / "answer.txt").write_text("from a file\n", encoding="utf-8")
    (pack / "s.yaml").write_text(
        "rules:\n  - reply: {content_file: texts/answer.txt}\n"
        "  - reply:\n      choices: [{content_file: texts/answer.txt}, {content: inline}]\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)  # somewhere else than the scenario's folder
    first, second = load_scenario(pack / "s.yaml").rules
    assert first.replies[0].content == "from a file\n"
    assert second.replies[0].choices == (Choice("from a file\n"), Choice("inline"))


def test_missing_content_file_names_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("rules:\n  - name: a\n    reply:\n      content_file: missing.txt\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value) == (
        f"{path}:4: rules[0].reply.content_file: cannot read 'missing.txt': No such file or directory"
    )


def test_allowed_roots_refuse_path_traversal(tmp_path: Path) -> None:
    root = tmp_path / "pack"
    root.mkdir()
    text = "rules:\n  - reply: {content_file: ../../etc/passwd}\n  - reply: {choices: [{content_file: /etc/passwd}]}\n"
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="POST /_fake/rules", base_dir=root, allowed_roots=[root])
    rest = "is outside the scenario folders; rules sent at run time may only read files there (or in a --rules-folder)"
    assert str(info.value) == (
        f"POST /_fake/rules:2: rules[0].reply.content_file: '../../etc/passwd' {rest}\n"
        f"POST /_fake/rules:3: rules[1].reply.choices[0]: '/etc/passwd' {rest}"
    )


def test_allowed_roots_accept_a_file_inside(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "ok.txt").write_text("inside", encoding="utf-8")
    scenario = parse_scenario(
        "rules:\n  - reply: {content_file: sub/ok.txt}\n", base_dir=tmp_path, allowed_roots=[tmp_path]
    )
    assert scenario.rules[0].replies[0].content == "inside"


def test_no_allowed_roots_means_no_files(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("inside", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        parse_scenario("rules:\n  - reply: {content_file: ok.txt}\n", base_dir=tmp_path, allowed_roots=[])
    assert str(info.value) == (
        "<inline>:2: rules[0].reply.content_file: 'ok.txt' is outside the scenario folders; rules sent at run time "
        "may only read files there (or in a --rules-folder)"
    )


def test_folder_expands_to_yaml_and_yml_in_name_order(tmp_path: Path) -> None:
    folder = tmp_path / "pack"
    folder.mkdir()
    (folder / "b.yml").write_text("rules:\n  - name: b\n    reply: {content: b}\n", encoding="utf-8")
    (folder / "a.yaml").write_text("rules:\n  - name: a\n    reply: {content: a}\n", encoding="utf-8")
    (folder / "c.yaml").write_text("rules:\n  - name: c\n    reply: {content: c}\n", encoding="utf-8")
    (folder / "notes.txt").write_text("not yaml", encoding="utf-8")
    (folder / "d.json").write_text("{}", encoding="utf-8")
    (folder / "nested.yaml").mkdir()
    single = tmp_path / "z.yaml"
    single.write_text("rules:\n  - name: z\n    reply: {content: z}\n", encoding="utf-8")
    assert expand_paths([single, folder]) == [single, folder / "a.yaml", folder / "b.yml", folder / "c.yaml"]
    scenarios = load_scenarios([folder])
    assert [(s.name, [r.name for r in s.rules]) for s in scenarios] == [("a", ["a"]), ("b", ["b"]), ("c", ["c"])]


def test_missing_path_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        expand_paths([tmp_path / "nope"])
    assert str(info.value) == f"{tmp_path / 'nope'}: no such scenario file or folder (bundled packs: generic)"


def test_unreadable_file_is_a_scenario_error(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(b"rules: [\xff]\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value).startswith(f"{path}: cannot read: 'utf-8' codec can't decode byte 0xff")


def test_problems_of_all_files_are_reported_together(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("rules:\n  - reply: {content: 1}\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("rules:\n  - times: 0\n    reply: {content: x}\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenarios([tmp_path])
    assert str(info.value) == (
        f"{tmp_path / 'a.yaml'}:2: rules[0].reply.content: expected a string, got 1\n"
        f"{tmp_path / 'b.yaml'}:2: rules[0].times: 0 is less than the minimum of 1"
    )


def test_duplicate_rule_names_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("rules:\n  - name: greet\n    reply: {content: a}\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text(
        "rules:\n  - name: other\n    reply: {content: b}\n  - name: greet\n    reply: {content: c}\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as info:
        load_scenarios([tmp_path])
    # The path names the rule's own `name` key, in the loader's path grammar (`rules[1].name`).
    assert str(info.value) == (
        f"{tmp_path / 'b.yaml'}:4: rules[1].name: duplicate rule name 'greet' (first at {tmp_path / 'a.yaml'}:2)"
    )


def test_check_unique_names_accepts_distinct_names() -> None:
    one = parse_scenario("rules:\n  - name: a\n    reply: {content: a}\n", source="one.yaml")
    two = parse_scenario("rules:\n  - name: b\n    reply: {content: b}\n", source="two.yaml")
    assert check_unique_names([one, two]) == []
    assert len(check_unique_names([one, one])) == 1


# --------------------------------------------------------------------------------------------- shadowed rules


def test_shadowed_rules_warn_about_rules_after_an_unlimited_catch_all() -> None:
    first = parse_scenario(
        "rules:\n  - name: specific\n    match: {user: hi}\n    reply: {content: a}\n"
        "  - name: everything\n    reply: {content: b}\n  - name: late\n    reply: {content: c}\n",
        source="one.yaml",
    )
    second = parse_scenario(
        "rules:\n  - name: later\n    match: {user: x}\n    reply: {content: d}\n", source="two.yaml"
    )
    assert shadowed_rules([first, second]) == [
        "one.yaml:7: rule 'late' can never match: the catch-all rule 'everything' (one.yaml:5) comes first",
        "two.yaml:2: rule 'later' can never match: the catch-all rule 'everything' (one.yaml:5) comes first",
    ]


def test_a_catch_all_with_times_shadows_nothing() -> None:
    scenario = parse_scenario(
        "rules:\n  - times: 1\n    reply: {content: a}\n  - name: ok\n    reply: {content: b}\n", source="s.yaml"
    )
    assert shadowed_rules([scenario]) == []


def test_match_dialect_and_its_old_name_api() -> None:
    new = parse_rules("- {match: {dialect: [anthropic, gemini]}, reply: {content: x}}")
    old = parse_rules("- {match: {api: anthropic}, reply: {content: x}}")
    assert new.rules[0].match.api == ("anthropic", "gemini")
    assert old.rules[0].match.api == ("anthropic",)
    with pytest.raises(ScenarioError, match=r"`api` is the old name of `dialect`: give one of them"):
        parse_rules("- {match: {dialect: anthropic, api: gemini}, reply: {content: x}}")


DIALECT_LIST = ", ".join(DIALECT_NAMES)


def test_an_unknown_dialect_is_a_load_error_naming_file_line_key_and_the_known_names(tmp_path: Path) -> None:
    """`api: olama` used to load and never match; now it fails before serving, as a list item too."""
    path = tmp_path / "s.yaml"
    path.write_text(
        dedent(
            """\
            rules:
              - name: local
                match: {api: olama}
                reply: {content: x}
              - name: either
                match:
                  dialect: [openai-chat, antropic]
                reply: {content: x}
              - name: numbered
                match: {dialect: 3}
                reply: {content: x}
            """
        ),
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value).splitlines() == [
        f"{path}:3: rules[0].match.api: expected one of {DIALECT_LIST}, got 'olama' (did you mean 'ollama'?)",
        f"{path}:7: rules[1].match.dialect[1]: expected one of {DIALECT_LIST}, got 'antropic' "
        "(did you mean 'anthropic'?)",
        f"{path}:10: rules[2].match.dialect: expected a string or a list, got 3",
    ]


def test_the_schema_knows_exactly_the_names_a_request_can_carry() -> None:
    """The scenarios layer may not import the dialect registry: this keeps its list equal to the registry's."""
    assert set(DIALECT_NAMES) == DIALECT_NAMES_IN_REGISTRY
    assert len(DIALECT_NAMES) == len(set(DIALECT_NAMES))
    for name in DIALECT_NAMES:  # each one loads
        assert parse_rules(f"- {{match: {{dialect: {name}}}, reply: {{content: x}}}}").rules[0].match.api == (name,)
