"""The opt-in `generic` pack: any agent answered without naming its tools or schemas, through the official openai
and anthropic clients, a pytest marker and ini option, and a real pydantic-ai agent loop."""

from __future__ import annotations

import json
from collections.abc import Iterator
from textwrap import dedent
from typing import Any

import jsonschema
import pydantic
import pytest

from fake_llm.cli import main
from fake_llm.scenarios.loader import expand_paths
from fake_llm.settings import bundled_scenarios
from fake_llm.testing.server import FakeLLMServer
from tests.sdk_clients import closing, openai_client

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")

WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
}
CONVERT = {
    "name": "convert_currency",
    "description": "Convert an amount of money to another currency",
    "parameters": {
        "type": "object",
        "properties": {"amount": {"type": "number"}, "to": {"type": "string", "pattern": "^[A-Z]{3}$"}},
        "required": ["amount", "to"],
    },
}
TOOLS = [{"type": "function", "function": tool} for tool in (WEATHER, CONVERT)]


class Joke(pydantic.BaseModel):
    setup: str
    punchline: str
    rating: int


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(scenarios=["generic"], freeze_time=1767225600) as running:
        yield running


def test_the_pack_is_opt_in() -> None:
    default = [p.name for p in expand_paths([bundled_scenarios()])]
    assert "generic.yaml" not in default
    assert [p.name for p in expand_paths(["generic", "some/dir/generic"])] == ["generic.yaml", "generic.yaml"]


def test_check_accepts_the_pack_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "generic"]) == 0
    assert capsys.readouterr().out == "ok: 1 file(s), 6 rule(s)\n"


def test_openai_agent_turns(server: FakeLLMServer) -> None:
    client = openai_client(server)
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Please convert 30 euros to dollars"}]
    first = client.chat.completions.create(model="gpt-4o", messages=messages, tools=TOOLS)
    assert server.journal.last.rule == "generic-call-tool"
    (call,) = first.choices[0].message.tool_calls or []
    assert (call.function.name, first.choices[0].finish_reason) == ("convert_currency", "tool_calls")
    jsonschema.validate(json.loads(call.function.arguments), CONVERT["parameters"])
    messages += [
        {
            "role": "assistant",
            "tool_calls": [{"id": call.id, "type": "function", "function": call.function.model_dump()}],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "32.40 USD"},
    ]
    answer = client.chat.completions.create(model="gpt-4o", messages=messages, tools=TOOLS)
    assert answer.choices[0].message.content == "Here is what the tools returned: convert_currency: 32.40 USD."
    assert answer.usage is not None
    assert answer.usage.prompt_tokens > first.usage.prompt_tokens > 0  # type: ignore[union-attr]
    assert answer.usage.completion_tokens > 0


def test_openai_forced_structured_json_and_prose(server: FakeLLMServer) -> None:
    client = openai_client(server)
    forced = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], tools=TOOLS, tool_choice="required"
    )
    assert forced.choices[0].message.tool_calls
    parsed = client.chat.completions.parse(
        model="gpt-4o", messages=[{"role": "user", "content": "Tell me a joke"}], response_format=Joke
    )
    assert isinstance(parsed.choices[0].message.parsed, Joke)
    keyed = client.chat.completions.create(
        model="gpt-4o",
        messages=[
            {"role": "system", "content": "Respond in JSON with keys setup and punchline."},
            {"role": "user", "content": "Tell me a joke"},
        ],
        response_format={"type": "json_object"},
    )
    assert list(json.loads(keyed.choices[0].message.content or "")) == ["setup", "punchline"]
    prose = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hello"}])
    assert server.journal.last.rule == "generic-prose"
    assert len((prose.choices[0].message.content or "").split()) == 40
    assert prose.usage is not None
    assert prose.usage.completion_tokens > 0


def test_openai_responses_tools(server: FakeLLMServer) -> None:
    client = openai_client(server)
    response = client.responses.create(
        model="gpt-4o", input="weather in Oslo?", tools=[{"type": "function", "strict": True, **WEATHER}]
    )
    (call,) = [item for item in response.output if item.type == "function_call"]
    assert call.name == "get_weather"
    jsonschema.validate(json.loads(call.arguments), WEATHER["parameters"])


def test_anthropic_agent_turns(server: FakeLLMServer) -> None:
    client = closing(anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0, timeout=10))
    tools = [
        {"name": t["name"], "description": t["description"], "input_schema": t["parameters"]}
        for t in (WEATHER, CONVERT)
    ]
    messages: list[dict[str, Any]] = [{"role": "user", "content": "What's the weather like in Rome?"}]
    first = client.messages.create(model="claude-sonnet-4-5", max_tokens=500, messages=messages, tools=tools)
    (use,) = [block for block in first.content if block.type == "tool_use"]
    assert (use.name, first.stop_reason) == ("get_weather", "tool_use")
    jsonschema.validate(use.input, WEATHER["parameters"])
    messages += [
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "18 C and clear"}]},
    ]
    final = client.messages.create(model="claude-sonnet-4-5", max_tokens=500, messages=messages, tools=tools)
    assert [block.type for block in final.content] == ["text"]
    assert "18 C and clear" in final.content[0].text  # type: ignore[union-attr]
    assert final.usage.input_tokens > first.usage.input_tokens > 0
    forced = client.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=500,
        messages=[{"role": "user", "content": "x"}],
        tools=tools,
        tool_choice={"type": "tool", "name": "convert_currency"},
    )
    assert [b.name for b in forced.content if b.type == "tool_use"] == ["convert_currency"]


def test_marker_and_ini_load_the_pack(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nfake_llm_scenarios = generic\n")
    pytester.makepyfile(
        dedent("""\
        import httpx
        import pytest

        def ask(server):
            body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            return httpx.post(server.base_url + "/chat/completions", json=body, timeout=5)

        def test_ini(fake_llm):
            assert ask(fake_llm).status_code == 200
            assert fake_llm.journal.last.rule == "generic-prose"

        @pytest.mark.fake_llm(scenarios="generic")
        def test_marker(fake_llm):
            assert ask(fake_llm).status_code == 200
        """)
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)
