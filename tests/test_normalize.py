"""Prompt normalisation (issue 17 part 6): `normalize:` on a scenario or rule, built-ins, errors, official clients."""

from __future__ import annotations

from textwrap import dedent

import pytest

anthropic = pytest.importorskip("anthropic")

from fake_llm import FakeLLMServer  # noqa: E402
from fake_llm.core.normalize import normalize_text  # noqa: E402
from fake_llm.errors import ScenarioError  # noqa: E402
from fake_llm.scenarios.loader import parse_scenario  # noqa: E402
from fake_llm.scenarios.normalizers import builtin  # noqa: E402
from tests.sdk_clients import closing, openai_client  # noqa: E402


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("uuid", "job 123e4567-e89b-12d3-a456-426614174000 done", "job <uuid> done"),
        ("uuid", "not-a-uuid-1234", "not-a-uuid-1234"),
        ("iso_datetime", "at 2026-01-02T03:04:05.123Z and 2026-01-02 10:00", "at <datetime> and <datetime>"),
        ("iso_datetime", "at 2026-01-02T03:04:05+02:00.", "at <datetime>."),
        ("iso_datetime", "on 2026-01-02", "on <datetime>"),
        ("hex_id", "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 and 0x1a2b3c4d5e", "commit <hex> and <hex>"),
        ("hex_id", "words like deadbeef, facade and 12345678 stay", "words like deadbeef, facade and 12345678 stay"),
        ("tmp_path", "read /tmp/pytest-of-me/pytest-3/test_a0/in.txt now", "read <tmp> now"),
        ("tmp_path", "'/private/var/folders/x1/T/abc' and /var/tmp/q", "'<tmp>' and <tmp>"),
        ("tmp_path", r"C:\Users\me\AppData\Local\Temp\pytest-1\x.txt", "<tmp>"),
        ("tmp_path", "/home/me/project/file.txt", "/home/me/project/file.txt"),
    ],
)
def test_builtin_normalizers(name: str, text: str, expected: str) -> None:
    assert normalize_text(text, [builtin(name)]) == expected


SCENARIO = """\
name: runs
normalize: [uuid, iso_datetime]
rules:
  - name: run
    normalize:
      - {regex: 'attempt \\d+', replace: 'attempt N'}
    match:
      user: {equals: "Run <uuid> at <datetime>, attempt N"}
      system: {equals: "Now: <datetime>"}
    reply: {content: "Run accepted."}
  - name: ids
    match: {user: {regex: 'job (?P<id><uuid>)'}}
    reply: {content: "saw {{ match.id }}"}
"""


def test_rules_match_normalised_prompts_through_openai_and_anthropic() -> None:
    scenario = parse_scenario(SCENARIO, source="runs.yaml")
    with FakeLLMServer(time_scale=0) as server:
        server.engine.install([scenario], replace=True)
        reply = openai_client(server).chat.completions.create(
            model="m",
            messages=[
                {"role": "system", "content": "Now: 2026-05-01T09:00:00Z"},
                {
                    "role": "user",
                    "content": "Run 123e4567-e89b-12d3-a456-426614174000 at 2026-05-01T09:00:01Z, attempt 7",
                },
            ],
        )
        assert reply.choices[0].message.content == "Run accepted."
        client = closing(anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0, timeout=10))
        message = client.messages.create(
            model="c",
            max_tokens=10,
            system="Now: 1999-12-31T23:59:59+01:00",
            messages=[{"role": "user", "content": "Run aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee at 2000-01-01, attempt 1"}],
        )
        assert message.content[0].text == "Run accepted."  # type: ignore[union-attr]
        # The journal keeps what was sent, not the normalised text.
        assert server.journal.last.body["messages"][0]["content"].endswith("attempt 1")


def test_regex_captures_see_the_normalised_text() -> None:
    scenario = parse_scenario(SCENARIO, source="runs.yaml")
    with FakeLLMServer() as server:
        server.engine.install([scenario], replace=True)
        reply = openai_client(server).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "job 123e4567-e89b-12d3-a456-426614174000"}]
        )
    assert reply.choices[0].message.content == "saw <uuid>"


def test_a_rules_normalize_does_not_leak_to_other_rules() -> None:
    rules = [
        {"name": "norm", "normalize": ["uuid"], "match": {"user": {"equals": "id <uuid>"}}, "reply": {"content": "a"}},
        {"name": "raw", "match": {"user": {"equals": "id <uuid>"}}, "reply": {"content": "b"}},
    ]
    with FakeLLMServer(rules=rules) as server:
        client = openai_client(server)
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "id <uuid>"}])
        client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "id 123e4567-e89b-12d3-a456-426614174000"}]
        )
        assert server.journal.sequence() == ["norm", "norm"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "normalize: [uuids]\nrules: []\n",
            "s.yaml:1: normalize[0]: expected one of uuid, iso_datetime, hex_id, tmp_path or a mapping, got 'uuids'",
        ),
        (
            "rules:\n  - reply: {content: x}\n    normalize:\n      - {regex: '(unclosed', replace: x}\n",
            "s.yaml:4: rules[0].normalize[0].regex: invalid normalize step '(unclosed' -> 'x': missing ), unterminated "
            "subpattern at position 0",
        ),
        (
            "rules:\n  - reply: {content: x}\n    normalize:\n      - {regex: 'a', replace: '\\2'}\n",
            "s.yaml:4: rules[0].normalize[0].regex: invalid normalize step 'a' -> '\\\\2': invalid group reference 2 "
            "at position 1",
        ),
    ],
)
def test_bad_normalize_steps_name_file_line_and_key(text: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(dedent(text), source="s.yaml")
    assert str(caught.value) == expected


def test_a_normalize_rule_among_many_indexed_rules_still_matches() -> None:
    # 150 rules the rule index files by their exact text, then one whose text only matches once normalised: the
    # index must never leave it out because the raw prompt holds a uuid the rule's text does not (the later
    # `any-job`, an indexed candidate for the raw text, would answer instead).
    exact = "".join(
        f"  - {{name: r{n}, match: {{user: 'ask-{n:03d}'}}, reply: {{content: 'r{n}'}}}}\n" for n in range(150)
    )
    text = dedent(
        """\
        name: many
        rules:
        {exact}  - name: normalised
            normalize: [uuid]
            match: {{user: 'job <uuid>'}}
            reply: {{content: 'normalised'}}
          - name: any-job
            match: {{user: 'job'}}
            reply: {{content: 'any job'}}
        """
    ).format(exact=exact)
    scenario = parse_scenario(text, source="many.yaml")
    with FakeLLMServer(time_scale=0) as server:
        server.engine.install([scenario], replace=True)
        ordered = [{"name": "ordered", "match": {"user": "second"}, "reply": {"content": "after r7"}}]
        server.engine.load_rules(ordered, extras={0: {"after": "r7"}})  # as expect_ordered adds it
        assert not server.engine.selector._index.is_trivial  # the indexed path is the one under test
        client = openai_client(server)

        def ask(prompt: str) -> str | None:
            reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": prompt}])
            return reply.choices[0].message.content

        assert ask("job 123e4567-e89b-12d3-a456-426614174000") == "normalised"
        assert ask("ask-149") == "r149"
        assert ask("another job") == "any job"
        with pytest.raises(Exception, match="no rule matched"):
            ask("second")
        assert ("ordered", "ordered: waits until 'r7' has answered") in list(server.journal.last.reasons)
        assert ask("ask-007") == "r7"
        assert ask("second") == "after r7"
