"""A real pydantic-ai agent loop (three tools, then a structured result) against the `generic` pack alone."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import openai
import pydantic
import pytest

from fake_llm.testing.server import FakeLLMServer

pytest.importorskip("pydantic_ai")

from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.output import NativeOutput
from pydantic_ai.providers.openai import OpenAIProvider


class TripPlan(pydantic.BaseModel):
    destination: str
    days: int
    budget_usd: float
    notes: list[str]


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(scenarios=["generic"], freeze_time=1767225600) as running:
        yield running


def run(server: FakeLLMServer, calls: list[str], output: object, prompt: str) -> Any:
    """Run the agent on a client closed in the run's own event loop (an unclosed one warns at garbage collection)."""

    async def go() -> Any:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0, timeout=10) as client:
            return await trip_agent(client, calls, output).run(prompt)

    return asyncio.run(go())


def trip_agent(client: openai.AsyncOpenAI, calls: list[str], output: object) -> Agent[None, TripPlan]:
    model = OpenAIChatModel("gpt-4o", provider=OpenAIProvider(openai_client=client))
    agent: Agent[None, TripPlan] = Agent(model, output_type=output, instructions="You plan trips.")  # type: ignore[arg-type]

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        calls.append("get_weather")
        return f"sunny in {city}"

    @agent.tool_plain
    def convert_currency(amount: float, currency: str) -> float:
        """Convert an amount of money in a currency to US dollars."""
        calls.append("convert_currency")
        assert isinstance(amount, float)
        return round(amount * 1.1, 2)

    @agent.tool_plain
    def flight_time(origin: str, destination: str) -> int:
        """Flight time in minutes between two airports."""
        calls.append("flight_time")
        return 75

    return agent


def test_tool_output_agent_calls_every_tool_then_answers(server: FakeLLMServer) -> None:
    calls: list[str] = []
    result = run(
        server, calls, TripPlan, "Plan a trip: check the weather, convert 100 EUR to dollars and find the flight time."
    )
    assert isinstance(result.output, TripPlan)
    # tool_choice is `required` throughout: the pack calls the best fitting tool not yet called, then the output tool.
    assert sorted(calls) == ["convert_currency", "flight_time", "get_weather"]
    assert [entry.rule for entry in server.journal.entries] == ["generic-forced-tool"] * 4
    assert result.usage.input_tokens > 0
    assert result.usage.output_tokens > 0


def test_native_output_agent_answers_with_the_schema_after_a_tool(server: FakeLLMServer) -> None:
    calls: list[str] = []
    result = run(server, calls, NativeOutput(TripPlan), "What is the weather for my trip to Lisbon?")
    assert isinstance(result.output, TripPlan)
    assert calls == ["get_weather"]
    assert [entry.rule for entry in server.journal.entries] == ["generic-call-tool", "generic-structured-output"]
