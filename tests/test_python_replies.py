"""Python callables as replies (issue 17 part 1), through the official openai and anthropic clients."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

anthropic = pytest.importorskip("anthropic")
openai = pytest.importorskip("openai")

from fake_llm import ChatRequest, ErrorReply, FakeLLMServer  # noqa: E402
from tests.sdk_clients import closing, openai_client  # noqa: E402


def anthropic_client(server: FakeLLMServer) -> Any:
    return closing(anthropic.Anthropic(base_url=server.url, api_key="sk-ant-test", timeout=10, max_retries=0))


def test_a_sync_function_answers_from_the_request_with_openai() -> None:
    seen: list[ChatRequest] = []

    def echo(request: ChatRequest) -> dict[str, Any]:
        seen.append(request)
        return {"content": f"You said {request.last_user!r} to {request.model}"}

    with FakeLLMServer(rules=[{"name": "echo", "match": {"user": "hi"}, "reply": echo}], time_scale=0) as server:
        reply = openai_client(server).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi there"}]
        )
        assert reply.choices[0].message.content == "You said 'hi there' to gpt-4o"
        assert seen[0].api == "openai-chat"
        entry = server.journal.last
        assert (entry.rule, entry.status) == ("echo", 200)
        assert entry.reply == "python test_a_sync_function_answers_from_the_request_with_openai.<locals>.echo: " + (
            "content \"You said 'hi there' to gpt-4o\""
        )


def test_an_async_function_with_a_tool_call_and_templates_with_anthropic() -> None:
    async def plan(request: ChatRequest) -> dict[str, Any]:
        await asyncio.sleep(0)
        city = request.last_user.rsplit(" ", 1)[-1]
        return {
            "content": "Checking {{ request.model }}.",
            "tool_calls": [{"name": "weather", "arguments": {"city": city}}],
        }

    tools = [{"name": "weather", "description": "Weather", "input_schema": {"type": "object"}}]
    with FakeLLMServer(time_scale=0) as server:
        server.add_rule("plan", match={"api": "anthropic"}, reply=plan)
        message = anthropic_client(server).messages.create(
            model="claude-sonnet-4-5",
            max_tokens=100,
            tools=tools,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": "Weather in Paris"}],
        )
    assert message.content[0].text == "Checking claude-sonnet-4-5."  # type: ignore[union-attr]
    assert message.content[1].input == {"city": "Paris"}  # type: ignore[union-attr]
    assert message.stop_reason == "tool_use"


def test_raising_error_reply_answers_in_the_providers_error_shape() -> None:
    def overloaded(request: ChatRequest) -> dict[str, Any]:
        raise ErrorReply(529, "Overloaded", type="overloaded_error")

    with FakeLLMServer(rules=[{"name": "busy", "reply": overloaded}]) as server:
        with pytest.raises(anthropic.APIStatusError) as caught:
            anthropic_client(server).messages.create(
                model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
            )
        assert caught.value.status_code == 529
        assert caught.value.body == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        with pytest.raises(openai.APIStatusError) as failed:
            openai_client(server).chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        assert failed.value.status_code == 529


def test_an_invalid_result_is_a_500_naming_the_rule_and_the_key_and_is_journaled() -> None:
    with FakeLLMServer(rules=[{"name": "broken", "reply": lambda request: {"content": 42}}]) as server:
        with pytest.raises(openai.InternalServerError) as caught:
            openai_client(server).chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        message = "the reply function of rule 'broken' returned an invalid reply: reply function of rule 'broken': "
        assert message in str(caught.value)
        assert "reply.content" in str(caught.value)
        assert server.journal.errors[0].rule == "broken"


def test_an_exception_in_the_function_is_an_internal_error_the_plugin_raises_again() -> None:
    def boom(request: ChatRequest) -> str:
        raise RuntimeError("bug in the test's reply")

    with FakeLLMServer(rules=[{"name": "boom", "reply": boom}]) as server:
        with pytest.raises(openai.InternalServerError):
            openai_client(server).chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        assert "RuntimeError: bug in the test's reply" in (server.journal.errors[0].error or "")


def test_python_and_yaml_rules_share_precedence_times_streams_and_faults() -> None:
    calls = iter(["first", "second"])
    with FakeLLMServer(time_scale=0) as server:
        server.add_rules(
            [
                {"name": "py", "match": {"user": "count"}, "times": 2, "reply": lambda r: next(calls)},
                {
                    "name": "cut",
                    "match": {"user": "stream"},
                    "reply": lambda r: {"content": "one two three four", "stream": {"end_after": 3}},
                },
                {"name": "yaml", "reply": {"content": "from YAML"}},
            ]
        )
        client = openai_client(server)
        texts = [
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "count"}])
            .choices[0]
            .message.content
            for _ in range(3)
        ]
        assert texts == ["first", "second", "from YAML"]
        stream = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "stream"}], stream=True
        )
        pieces = [chunk.choices[0].delta.content for chunk in stream if chunk.choices]
        assert "".join(p or "" for p in pieces) == "one two three"  # three content chunks
        assert server.journal.sequence() == ["py", "py", "yaml", "cut"]
        assert server.journal.last.faults == ["end_after=3"]


def test_a_callable_in_replies_is_refused_with_what_to_do() -> None:
    server = FakeLLMServer()
    with pytest.raises(TypeError, match="a Python reply goes in `reply`, not in `replies`"):
        server.add_rules([{"name": "x", "replies": [lambda r: "a"]}])


def test_the_request_a_function_gets_is_the_neutral_one_for_every_dialect() -> None:
    seen: list[str] = []

    def record(request: ChatRequest) -> str:
        seen.append(json.dumps([request.api, request.model, request.last_user]))
        return "ok"

    with FakeLLMServer(rules=[{"name": "any", "reply": record}]) as server:
        openai_client(server).chat.completions.create(model="m", messages=[{"role": "user", "content": "a"}])
        anthropic_client(server).messages.create(model="c", max_tokens=5, messages=[{"role": "user", "content": "b"}])
        openai_client(server).responses.create(model="r", input="c")
    assert seen == ['["openai-chat", "m", "a"]', '["anthropic", "c", "b"]', '["responses", "r", "c"]']
