"""The media reply keys (`moderation:`, `image:`, `audio:`, `transcript:`) at load time: what the schema accepts,
and the errors, naming file, line and key, for typos, out-of-range values and a key on another dialect's rule."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from fake_llm.cli import main
from fake_llm.errors import ScenarioError
from fake_llm.scenarios.loader import parse_scenario


def problems(text: str) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(dedent(text), source="s.yaml")
    return str(info.value)


def test_media_replies_load() -> None:
    scenario = parse_scenario(
        dedent(
            """
            rules:
              - name: m
                match: {api: moderations}
                replies:
                  - moderation: [{categories: [violence, hate]}, {categories: {sexual: 0.2}, flagged: true}]
                  - moderation: {}
              - name: i
                reply: {image: {revised_prompt: "A cat."}}
              - name: a
                match: {api: [speech, images]}
                reply: {audio: {seconds: 1.5, frequency: 220}}
              - name: t
                match: {api: transcriptions}
                reply: {content: "Hello.", transcript: {language: german, duration: 2}}
            """
        ),
        source="s.yaml",
    )
    replies = [reply for rule in scenario.rules for reply in rule.replies]
    assert replies[0].media["moderation"][0]["categories"] == ["violence", "hate"]
    assert [r.summary() for r in replies] == ["moderation", "moderation", "image", "audio", "content 'Hello.'"]
    assert replies[4].media == {"transcript": {"language": "german", "duration": 2}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            """
            rules:
              - reply: {moderation: {categories: {violense: 0.9}}}
            """,
            "s.yaml:3: rules[0].reply.moderation.categories: expected one of harassment",
        ),
        (
            """
            rules:
              - reply: {moderation: {categories: {violence: 2}}}
            """,
            "s.yaml:3: rules[0].reply.moderation.categories.violence: 2 is greater than the maximum of 1",
        ),
        (
            """
            rules:
              - reply: {audio: {seconds: 0}}
            """,
            "s.yaml:3: rules[0].reply.audio.seconds",
        ),
        (
            """
            rules:
              - reply: {image: {}, content: hi}
            """,
            "s.yaml:3: rules[0].reply: expected exactly one of content",
        ),
        (
            """
            rules:
              - match: {api: openai-chat}
                reply: {moderation: {categories: [violence]}}
            """,
            "s.yaml:4: rules[0].reply.moderation: moderation: answers api moderations, but the rule matches "
            "['openai-chat']",
        ),
        (
            """
            rules:
              - match: {api: speech}
                replies: [{audio: {}}, {content: hi, transcript: {language: en}}]
            """,
            "s.yaml:4: rules[0].replies[1].transcript: transcript: answers api transcriptions or translations",
        ),
    ],
)
def test_media_key_errors(text: str, expected: str) -> None:
    assert problems(text).startswith(expected)


def test_check_reports_a_media_key_on_the_wrong_dialect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("rules:\n  - match: {api: anthropic}\n    reply: {image: {}}\n")
    assert main(["check", str(path)]) == 1
    assert "rules[0].reply.image: image: answers api images" in capsys.readouterr().err
