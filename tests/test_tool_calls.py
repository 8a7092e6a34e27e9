"""Tool calls without a name (`tool: forced|first|pick|best|all`), typed arguments, and `generate:` answering a
forced tool call, through every dialect's tool format."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fake_llm.errors import ScenarioError
from fake_llm.scenarios.loader import parse_rules
from tests.conftest import MakeClient

WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
        "additionalProperties": False,
    },
}
STOCKS = {
    "name": "get_stock_price",
    "description": "Latest price of a stock ticker",
    "parameters": {
        "type": "object",
        "properties": {"ticker": {"type": "string"}, "exact": {"type": "boolean"}},
        "required": ["ticker"],
    },
}


def chat_body(text: str, tools: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": text}],
        "tools": [{"type": "function", "function": tool} for tool in tools],
        **extra,
    }


def chat_calls(client: Any, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    message = response.json()["choices"][0]["message"]
    return [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in message["tool_calls"]]


@pytest.mark.parametrize(
    ("selector", "text", "expected"),
    [
        ("first", "what is the price of ACME stock?", ["get_weather"]),
        ("best", "what is the price of ACME stock?", ["get_stock_price"]),
        ("best", "weather in Paris", ["get_weather"]),
        ("best", "hello", ["get_weather"]),
        ("all", "anything", ["get_weather", "get_stock_price"]),
    ],
)
def test_selectors_choose_offered_tools(make_client: MakeClient, selector: str, text: str, expected: list[str]) -> None:
    client = make_client(f"- {{name: r, reply: {{tool_calls: [{{tool: {selector}}}]}}}}")
    calls = chat_calls(client, chat_body(text, [WEATHER, STOCKS]))
    assert [name for name, _ in calls] == expected
    for name, arguments in calls:
        schema = (WEATHER if name == "get_weather" else STOCKS)["parameters"]
        assert set(schema["required"]) <= set(arguments)


def test_pick_is_seeded(make_client: MakeClient) -> None:
    client = make_client("""
        - {name: fixed, match: {user: fixed}, reply: {tool_calls: [{tool: pick, seed: 7}]}}
        - {name: free, reply: {tool_calls: [{tool: pick}]}}
    """)
    tools = [WEATHER, STOCKS, {"name": "third"}, {"name": "fourth"}]
    fixed = {chat_calls(client, chat_body(f"fixed {i}", tools))[0][0] for i in range(4)}
    assert len(fixed) == 1
    picked = {chat_calls(client, chat_body(f"question {i}", tools))[0][0] for i in range(12)}
    assert len(picked) > 1  # the pick follows the request
    again = {chat_calls(client, chat_body(f"question {i}", tools))[0][0] for i in range(12)}
    assert again == picked


def test_best_prefers_tools_not_yet_called(make_client: MakeClient) -> None:
    client = make_client("- {name: r, reply: {tool_calls: [{tool: best}]}}")
    body = chat_body("weather in Paris", [WEATHER, STOCKS])
    body["messages"] += [
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": WEATHER_CALL}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]
    assert chat_calls(client, body)[0][0] == "get_stock_price"


WEATHER_CALL = {"name": "get_weather", "arguments": '{"city": "Paris", "days": 1}'}


@pytest.mark.parametrize(
    "tool_choice",
    ["required", {"type": "function", "function": {"name": "get_stock_price"}}],
)
def test_generate_answers_a_forced_tool_call(make_client: MakeClient, tool_choice: Any) -> None:
    client = make_client(
        "- {name: forced-any, match: {tool_choice: required}, reply: {generate: {}}}\n"
        "- {name: forced-named, match: {forces_tool: true}, reply: {generate: {}}}"
    )
    tools = [STOCKS] if tool_choice == "required" else [WEATHER, STOCKS]
    body = chat_body("hi", tools, tool_choice=tool_choice)
    message = client.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]
    assert message["content"] is None
    calls = chat_calls(client, body)
    assert [name for name, _ in calls] == ["get_stock_price"]
    assert isinstance(calls[0][1]["ticker"], str)


def test_a_forced_function_wins_over_the_selector(make_client: MakeClient) -> None:
    client = make_client("- {name: r, reply: {tool_calls: [{tool: all}]}}")
    body = chat_body(
        "weather", [WEATHER, STOCKS], tool_choice={"type": "function", "function": {"name": "get_stock_price"}}
    )
    assert [name for name, _ in chat_calls(client, body)] == ["get_stock_price"]


def test_tool_forced_needs_a_forcing_request(make_client: MakeClient) -> None:
    client = make_client("- {name: r, reply: {tool_calls: [{tool: forced}]}}")
    response = client.post("/v1/chat/completions", json=chat_body("hi", [WEATHER]))
    assert response.status_code == 400
    assert (
        "calls {tool: forced} but the request forces no tool (tool_choice None)" in response.json()["error"]["message"]
    )
    forced = client.post("/v1/chat/completions", json=chat_body("hi", [WEATHER, STOCKS], tool_choice="required"))
    assert forced.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"] in (
        "get_weather",
        "get_stock_price",
    )


def test_a_selector_without_offered_tools_is_a_mismatch(make_client: MakeClient) -> None:
    client = make_client("- {name: r, reply: {tool_calls: [{tool: best}]}}")
    response = client.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
    assert response.status_code == 400
    assert (
        response.json()["error"]["message"] == "fake-llm: rule 'r' calls {tool: best} but the request offers no tools"
    )


def test_template_arguments_take_the_schema_types(make_client: MakeClient) -> None:
    client = make_client("""
        - name: r
          match: {user: {regex: "(?P<city>[A-Z]\\\\w+) for (?P<n>\\\\w+) days"}}
          reply: {tool_calls: [{name: get_weather, arguments: {city: "{{ match.city }}", days: "{{ match.n }}"}}]}
        - name: chosen
          match: {user: chosen}
          reply: {tool_calls: [{tool: best, arguments: {days: "5", unknown: 1}}]}
    """)
    assert chat_calls(client, chat_body("Paris for 3 days", [WEATHER])) == [
        ("get_weather", {"city": "Paris", "days": 3})
    ]
    ((name, arguments),) = chat_calls(client, chat_body("chosen weather", [WEATHER, STOCKS]))
    assert (name, arguments["days"]) == ("get_weather", 5)
    assert "unknown" not in arguments
    response = client.post("/v1/chat/completions", json=chat_body("Paris for three days", [WEATHER]))
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "fake-llm: tool 'get_weather' argument days: expected an integer, got \"three\""
    )


def test_anthropic_error_shape_names_the_field(make_client: MakeClient) -> None:
    client = make_client("- {name: r, reply: {tool_calls: [{name: get_weather, arguments: {city: x, days: soon}}]}}")
    response = client.post(
        "/v1/messages",
        json={
            "model": "claude-sonnet-4-5",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": WEATHER["name"], "input_schema": WEATHER["parameters"]}],
        },
    )
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error"
    assert "argument days: expected an integer" in body["error"]["message"]


def test_literal_arguments_are_checked_at_load_when_the_schema_is_known() -> None:
    rules = """
    - name: r
      match: {user: {regex: "(?P<x>[0-9]+)"}}
      reply:
        tool_calls:
          - name: get_weather
            parameters: {type: object, properties: {days: {type: integer}, tags: {type: array, items: {type: integer}}}}
            arguments: {days: "a week", tags: [1, "{{ match.x }}"], city: "{{ last_user }}"}
    """
    with pytest.raises(ScenarioError) as caught:
        parse_rules(rules, source="s.yaml")
    assert str(caught.value) == (
        "s.yaml:8: rules[0].reply.tool_calls[0].arguments.days: cannot be coerced to the tool's schema: "
        'expected an integer, got "a week"'
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("{tool: best, seed: 3}", "rules[0].reply.tool_calls[0].seed: seed only goes with tool: pick"),
        ("{tool: best, parameters: {}}", "rules[0].reply.tool_calls[0].parameters: parameters go with name"),
        ("{tool: sometimes}", "rules[0].reply.tool_calls[0].tool"),
        ("{}", "rules[0].reply.tool_calls[0]"),
        ("{name: a, tool: best}", "rules[0].reply.tool_calls[0]"),
    ],
)
def test_bad_tool_call_keys_fail_at_load(call: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_rules(f"- {{name: r, reply: {{tool_calls: [{call}]}}}}", source="s.yaml")


def test_responses_gemini_and_anthropic_tools(make_client: MakeClient) -> None:
    client = make_client("- {name: r, reply: {tool_calls: [{tool: best}]}}")
    responses = client.post(
        "/v1/responses",
        json={
            "model": "gpt-4o",
            "input": "stock price of ACME",
            "tools": [{"type": "function", **WEATHER}, {"type": "function", **STOCKS}],
        },
    ).json()
    assert [item["name"] for item in responses["output"] if item["type"] == "function_call"] == ["get_stock_price"]
    anthropic = client.post(
        "/v1/messages",
        json={
            "model": "claude-sonnet-4-5",
            "max_tokens": 200,
            "messages": [{"role": "user", "content": "stock price of ACME"}],
            "tools": [
                {"name": t["name"], "description": t["description"], "input_schema": t["parameters"]}
                for t in (WEATHER, STOCKS)
            ],
            "tool_choice": {"type": "any"},
        },
    ).json()
    uses = [block for block in anthropic["content"] if block["type"] == "tool_use"]
    assert [block["name"] for block in uses] == ["get_stock_price"]
    assert isinstance(uses[0]["input"]["ticker"], str)
    gemini = client.post(
        "/v1beta/models/gemini-2.5-flash:generateContent",
        json={
            "contents": [{"role": "user", "parts": [{"text": "weather in Rome"}]}],
            "tools": [{"functionDeclarations": [WEATHER, STOCKS]}],
        },
    ).json()
    parts = gemini["candidates"][0]["content"]["parts"]
    assert [p["functionCall"]["name"] for p in parts if "functionCall" in p] == ["get_weather"]


@pytest.mark.parametrize(
    ("match", "body", "reason"),
    [
        ("{has_tools: true}", {}, "has_tools: the request offers no tools"),
        ("{has_tools: true}", {"tools": [WEATHER], "tool_choice": "none"}, "has_tools: the request forbids tool calls"),
        ("{has_tools: false}", {"tools": [WEATHER]}, "has_tools: the request offers tools"),
        (
            "{forces_tool: true}",
            {"tools": [WEATHER], "tool_choice": "auto"},
            "forces_tool: the request's tool_choice is 'auto'",
        ),
        (
            "{forces_tool: false}",
            {"tools": [WEATHER], "tool_choice": "required"},
            "forces_tool: the request's tool_choice is 'required'",
        ),
    ],
)
def test_has_tools_and_forces_tool_explain_a_miss(
    make_client: MakeClient, match: str, body: dict[str, Any], reason: str
) -> None:
    client = make_client(f"- {{name: r, match: {match}, reply: {{content: x}}}}")
    if "tools" in body:
        body = {**body, "tools": [{"type": "function", "function": tool} for tool in body["tools"]]}
    response = client.post(
        "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x"}], **body}
    )
    assert response.status_code == 400
    assert reason in response.json()["error"]["message"]


def test_chosen_parallel_calls_stream_with_indexes(make_client: MakeClient) -> None:
    client = make_client("- {name: r, reply: {tool_calls: [{tool: all}]}}")
    with client.stream("POST", "/v1/chat/completions", json=chat_body("x", [WEATHER, STOCKS], stream=True)) as response:
        lines = [line[6:] for line in response.iter_lines() if line.startswith("data: {")]
    arguments: dict[int, str] = {}
    names: dict[int, str] = {}
    for chunk in map(json.loads, lines):
        for delta in (chunk["choices"] or [{}])[0].get("delta", {}).get("tool_calls") or []:
            names.setdefault(delta["index"], delta.get("function", {}).get("name", ""))
            arguments[delta["index"]] = arguments.get(delta["index"], "") + delta["function"].get("arguments", "")
    assert names == {0: "get_weather", 1: "get_stock_price"}
    assert set(json.loads(arguments[0])) == {"city", "days"}


def test_gemini_json_mode_honours_named_keys(make_client: MakeClient) -> None:
    client = make_client("- {name: r, reply: {generate: {}}}")
    response = client.post(
        "/v1beta/models/gemini-2.5-flash:generateContent",
        json={
            "contents": [{"role": "user", "parts": [{"text": "Reply with the keys title and year"}]}],
            "generationConfig": {"responseMimeType": "application/json"},
        },
    )
    text = response.json()["candidates"][0]["content"]["parts"][0]["text"]
    assert list(json.loads(text)) == ["title", "year"]
