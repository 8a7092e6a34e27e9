"""ApiFastPath: which requests it answers itself (provider POSTs, by fixed path or parameters), which it passes on."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.routing import Match, Route
from starlette.testclient import TestClient

from fake_llm.dialects import COUNTERS, DIALECTS
from fake_llm.http.app import create_app
from fake_llm.http.engine import FakeLLM
from fake_llm.http.fast_path import ApiFastPath
from fake_llm.scenarios.loader import parse_scenario
from fake_llm.settings import Settings

SCENARIO = """
rules:
  - name: any
    reply: {content: "Hi."}
"""


def fast_path() -> ApiFastPath:
    engine = FakeLLM(Settings(), [parse_scenario(SCENARIO)])

    async def nowhere(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("passed on")

    return ApiFastPath(
        nowhere, engine=engine, dialects=[*DIALECTS.values(), *COUNTERS], cors_origins=["*"], expose_headers=[]
    )


def scope(path: str, method: str = "POST") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": [], "query_string": b""}


def test_no_fixed_path_is_also_claimed_by_a_path_with_parameters() -> None:
    # The dict lookup comes first; that is only the route table's order if no pattern matches a fixed path.
    paths = [p for dialect in (*DIALECTS.values(), *COUNTERS) for p in dialect.routes]
    patterns = [Route(p, lambda r: None, methods=["POST"]) for p in paths if "{" in p]
    for fixed in (p for p in paths if "{" not in p):
        assert all(route.matches(scope(fixed))[0] is Match.NONE for route in patterns), fixed


@pytest.mark.parametrize(
    ("path", "api", "params"),
    [
        ("/v1/chat/completions", "openai-chat", {}),
        ("/v1/messages", "anthropic", {}),
        ("/openai/deployments/gpt4/chat/completions", "azure", {"deployment": "gpt4"}),
        ("/v1beta/models/gemini-2.0-flash:generateContent", "gemini", {"target": "gemini-2.0-flash:generateContent"}),
    ],
)
def test_finds_the_dialect_by_path(path: str, api: str, params: dict[str, str]) -> None:
    request = scope(path)
    dialect = fast_path().dialect_for(request)
    assert dialect is not None
    assert dialect.api == api
    assert request["path_params"] == params


def test_other_paths_are_not_claimed() -> None:
    assert fast_path().dialect_for(scope("/_fake/rules")) is None
    assert fast_path().dialect_for(scope("/v1/models")) is None


def test_gets_preflights_and_admin_go_through_starlette() -> None:
    client = TestClient(create_app(Settings(), [parse_scenario(SCENARIO)]))
    assert client.get("/v1/chat/completions").status_code == 405  # the router's provider-shaped 405
    preflight = client.options(
        "/v1/chat/completions", headers={"Origin": "http://app.test", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert client.get("/_fake/health").status_code == 200


def test_answers_with_cors_for_browsers_and_vary_for_everyone() -> None:
    client = TestClient(create_app(Settings(), [parse_scenario(SCENARIO)]))
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    browser = client.post("/v1/chat/completions", json=body, headers={"Origin": "http://app.test"})
    assert browser.json()["choices"][0]["message"]["content"] == "Hi."
    assert browser.headers["access-control-allow-origin"] == "*"
    assert "x-request-id" in browser.headers["access-control-expose-headers"]
    sdk = client.post("/v1/chat/completions", json=body)
    assert "access-control-allow-origin" not in sdk.headers
    assert sdk.headers["vary"] == "Origin"


def test_a_restricted_origin_list_is_honoured() -> None:
    settings = Settings(cors_origins=("http://allowed.test",))
    client = TestClient(create_app(settings, [parse_scenario(SCENARIO)]))
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    allowed = client.post("/v1/chat/completions", json=body, headers={"Origin": "http://allowed.test"})
    assert allowed.headers["access-control-allow-origin"] == "http://allowed.test"
    other = client.post("/v1/chat/completions", json=body, headers={"Origin": "http://other.test"})
    assert "access-control-allow-origin" not in other.headers
