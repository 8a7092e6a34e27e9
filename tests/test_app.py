"""The Starlette app: models, 404/405, the /_fake/ admin endpoints, keys, CORS, determinism, internal errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from fake_llm import __version__
from fake_llm.dialects.openai.chat import OpenAIChat
from fake_llm.http.app import create_app
from fake_llm.http.engine import FakeLLM
from fake_llm.scenarios.loader import parse_scenario
from fake_llm.settings import Settings
from tests.helpers import chat_body

MakeClient = Callable[..., TestClient]

URL = "/v1/chat/completions"

RULES = """
- name: greet
  match: {user: hello}
  reply: {content: "Hello there."}
- name: once
  match: {user: once}
  times: 1
  reply: {content: "only once"}
- name: essay
  match: {user: essay}
  reply: {content: "One two three.", stream: {chunk_tokens: 2}}
"""


def engine(client: TestClient) -> FakeLLM:
    fake: FakeLLM = client.app.state.fake_llm  # type: ignore[attr-defined]
    return fake


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    return make_client(RULES)


# --------------------------------------------------------------------------------------------- models

MODELS_SCENARIO = """
name: models
defaults: {model: gpt-4.1-mini}
rules:
  - name: by-list
    match: {model: [gpt-4o, "ft:gpt-4o-mini:*", gpt-4.1-mini]}
    reply: {content: hi, model: gpt-4o-2024-08-06}
  - name: by-glob
    match: {model: "claude-*"}
    reply: {content: hi}
  - name: slashed
    match: {model: meta-llama/Llama-3-8b}
    reply: {content: hi}
"""


@pytest.fixture
def models_client() -> Iterator[TestClient]:
    scenario = parse_scenario(MODELS_SCENARIO, source="<models>")
    with TestClient(create_app(Settings(freeze_time=1767225600), scenarios=[scenario])) as client:
        yield client


def test_models_lists_literal_names_then_the_default(models_client: TestClient) -> None:
    response = models_client.get("/v1/models")
    assert response.status_code == 200
    assert response.json() == {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": 1700000000, "owned_by": "fake-llm"}
            for name in ["gpt-4.1-mini", "gpt-4o", "gpt-4o-2024-08-06", "meta-llama/Llama-3-8b", "gpt-4o-mini"]
        ],
    }


@pytest.mark.parametrize(
    "model_id",
    [
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4o-2024-08-06",
        "ft:gpt-4o-mini:org::abc123",
        "claude-3-5-haiku",
        "meta-llama/Llama-3-8b",
    ],
)
def test_model_lookup_by_literal_or_glob(models_client: TestClient, model_id: str) -> None:
    response = models_client.get(f"/v1/models/{model_id}")
    assert response.status_code == 200
    assert response.json() == {"id": model_id, "object": "model", "created": 1700000000, "owned_by": "fake-llm"}


@pytest.mark.parametrize("model_id", ["gpt-5", "org/unknown", "ft:gpt-4o:org::x"])
def test_unknown_model_is_a_404_model_not_found(models_client: TestClient, model_id: str) -> None:
    response = models_client.get(f"/v1/models/{model_id}")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": f"The model '{model_id}' does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }


def test_models_without_scenarios_list_only_the_default(make_client: MakeClient) -> None:
    client = make_client("[]")
    assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["gpt-4o-mini"]


# --------------------------------------------------------------------------------------------- 404 / 405


def test_unknown_url_is_a_404_in_the_openai_envelope(client: TestClient) -> None:
    response = client.post("/v1/chat/completion", json=chat_body())
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "Unknown request URL: POST /v1/chat/completion. Please check the URL for typos.",
            "type": "invalid_request_error",
            "param": None,
            "code": "unknown_url",
        }
    }


def test_wrong_method_is_a_405_in_the_openai_envelope(client: TestClient) -> None:
    response = client.get(URL)
    assert response.status_code == 405
    assert response.json() == {
        "error": {
            "message": "Method GET is not allowed for /v1/chat/completions.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }


def test_405_names_the_allowed_methods(client: TestClient) -> None:
    # RFC 9110 §15.5.6: a 405 must carry an Allow header (Starlette's own 405 does).
    assert client.get(URL).headers.get("allow") == "POST"


# --------------------------------------------------------------------------------------------- health and journal


def test_health(client: TestClient) -> None:
    response = client.get("/_fake/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "state": {"backend": "in-process", "ok": True, "namespace": "default", "workers": 1},
        "version": __version__,
        "url": "http://testserver",
        "base_url": "http://testserver/v1",
        "port": None,
        "rules": 3,
        "scenarios": ["test"],
        "load_errors": [],
        "time_scale": 1.0,
    }


def test_health_is_degraded_with_a_503_while_load_errors_stand(client: TestClient) -> None:
    """A failed reload keeps the last good rules serving: `degraded`, and a 503 for probes that read only the status
    (compose `curl -f`, Kubernetes httpGet), as `fake-llm health` fails too; ok again once the files load."""
    engine = client.app.state.fake_llm  # type: ignore[attr-defined]
    engine.load_errors = ["x.yaml:3: rules[0].reply.contnt: unknown key"]
    response = client.get("/_fake/health")
    assert (response.status_code, response.json()["status"]) == (503, "degraded")
    assert response.json()["load_errors"] == ["x.yaml:3: rules[0].reply.contnt: unknown key"]
    assert response.json()["rules"] == 3  # still serving
    engine.load_errors = []
    response = client.get("/_fake/health")
    assert (response.status_code, response.json()["status"]) == (200, "ok")


def test_journal_lists_requests_with_filters_and_limit(client: TestClient) -> None:
    client.post(URL, json=chat_body("hello"))
    client.post(URL, json=chat_body("nothing"))
    client.post(URL, json={**chat_body("essay"), "model": "gpt-4.1"})
    client.post(URL, json={"model": "gpt-4o-mini"})
    entries = client.get("/_fake/journal").json()["entries"]
    assert [(e["seq"], e["outcome"], e["rule"], e["status"]) for e in entries] == [
        (1, "matched", "greet", 200),
        (2, "unmatched", None, 400),
        (3, "matched", "essay", 200),
        (4, "rejected", None, 400),
    ]
    first = entries[0]
    assert first["body"] == chat_body("hello")
    assert (first["method"], first["path"], first["model"], first["api"]) == ("POST", URL, "gpt-4o-mini", "openai-chat")
    assert first["time"] == 1767225600
    assert entries[1]["reasons"][0] == {
        "rule": "greet",
        "reason": "user: last user message 'nothing' does not contain 'hello' (ignoring case)",
    }

    def seqs(query: str) -> list[int]:
        response = client.get(f"/_fake/journal?{query}")
        assert response.status_code == 200
        return [e["seq"] for e in response.json()["entries"]]

    assert seqs("rule=essay") == [3]
    assert seqs("matched=true") == [1, 3]
    assert seqs("matched=false") == [2, 4]
    assert seqs("status=400") == [2, 4]
    assert seqs("model=gpt-4.*") == [3]
    assert seqs("path=/v1/*") == [1, 2, 3, 4]
    assert seqs("path=/v2/*") == []
    assert seqs("limit=2") == [3, 4]
    assert seqs("matched=true&limit=1") == [3]
    assert seqs("limit=0") == [1, 2, 3, 4]


def test_journal_rejects_non_integer_filters(client: TestClient) -> None:
    for query in ("status=abc", "limit=x"):
        response = client.get(f"/_fake/journal?{query}")
        assert response.status_code == 400
        assert response.json() == {"error": {"message": "status, limit and after must be integers"}}


def test_journal_redacts_keys(client: TestClient) -> None:
    client.post(URL, json=chat_body(), headers={"authorization": "Bearer sk-test-abcdefgh1234"})
    headers = client.get("/_fake/journal").json()["entries"][0]["headers"]
    assert headers["authorization"] == "Bearer [redacted]...1234"


def test_journal_delete_clears_but_keeps_numbering(client: TestClient) -> None:
    client.post(URL, json=chat_body())
    response = client.delete("/_fake/journal")
    assert response.status_code == 200
    assert response.json() == {"cleared": True}
    assert client.get("/_fake/journal").json() == {"entries": []}
    client.post(URL, json=chat_body())
    assert [e["seq"] for e in client.get("/_fake/journal").json()["entries"]] == [2]


# --------------------------------------------------------------------------------------------- reset


def test_reset_clears_journal_and_counters(client: TestClient) -> None:
    assert client.post(URL, json=chat_body("once")).status_code == 200
    assert client.post(URL, json=chat_body("once")).status_code == 400
    response = client.post("/_fake/reset")
    assert response.json() == {"reset": True, "rules_restored": False, "namespace": "default"}
    assert client.get("/_fake/journal").json() == {"entries": []}
    assert client.post(URL, json=chat_body("once")).json()["choices"][0]["message"]["content"] == "only once"
    assert [e["seq"] for e in client.get("/_fake/journal").json()["entries"]] == [1]


def test_reset_with_rules_restores_the_base_rules(client: TestClient) -> None:
    client.post("/_fake/rules?mode=replace", content="- name: only\n  reply: {content: replaced}\n")
    assert client.post(URL, json=chat_body("hello")).json()["choices"][0]["message"]["content"] == "replaced"
    client.post("/_fake/reset")
    assert client.post(URL, json=chat_body("hello")).json()["choices"][0]["message"]["content"] == "replaced"
    response = client.post("/_fake/reset?rules=true")
    assert response.json() == {"reset": True, "rules_restored": True, "namespace": "default"}
    assert client.post(URL, json=chat_body("hello")).json()["choices"][0]["message"]["content"] == "Hello there."
    assert [r["name"] for r in client.get("/_fake/rules").json()["rules"]] == ["greet", "once", "essay"]


# --------------------------------------------------------------------------------------------- run-time rules


def reply_to(client: TestClient, text: str) -> str:
    response = client.post(URL, json=chat_body(text))
    assert response.status_code == 200, response.text
    content: str = response.json()["choices"][0]["message"]["content"]
    return content


def test_post_rules_appends_yaml(client: TestClient) -> None:
    response = client.post("/_fake/rules", content="- name: added\n  match: {user: added}\n  reply: {content: new}\n")
    assert response.status_code == 200
    assert response.json() == {"loaded": ["added"], "mode": "append", "warnings": []}
    assert reply_to(client, "added") == "new"
    assert reply_to(client, "hello") == "Hello there."


def test_post_rules_accepts_json(client: TestClient) -> None:
    rules = [{"match": {"user": "json"}, "reply": {"content": "from json"}}]
    response = client.post("/_fake/rules", json=rules)
    assert response.json() == {"loaded": ["rules-1[0]"], "mode": "append", "warnings": []}
    assert reply_to(client, "json") == "from json"
    scenario = {"name": "posted", "rules": [{"match": {"user": "mapping"}, "reply": {"content": "from mapping"}}]}
    assert client.post("/_fake/rules", json=scenario).json()["loaded"] == ["posted[0]"]
    assert reply_to(client, "mapping") == "from mapping"


def test_post_rules_replace_mode(client: TestClient) -> None:
    response = client.post("/_fake/rules?mode=replace", content="- name: only\n  reply: {content: replaced}\n")
    assert response.json() == {"loaded": ["only"], "mode": "replace", "warnings": []}
    assert reply_to(client, "hello") == "replaced"
    assert [r["name"] for r in client.get("/_fake/rules").json()["rules"]] == ["only"]


def test_get_rules_summarises_rules_with_hits_and_warnings(client: TestClient) -> None:
    client.post(URL, json=chat_body("hello"))
    rules = "rules:\n  - name: catch-all\n    reply: {content: x}\n  - name: after\n    reply: {content: y}\n"
    assert client.post("/_fake/rules", content=rules).status_code == 200
    body = client.get("/_fake/rules").json()
    assert body["rules"][2] == {
        "name": "greet",
        "scenario": "test",
        "source": "<test>:2",
        "times": None,
        "hits": 1,
        "replies": ["content 'Hello there.'"],
    }
    # Rules added at run time are tried before the files loaded at start (and listed in the order tried).
    assert [r["name"] for r in body["rules"]] == ["catch-all", "after", "greet", "once", "essay"]
    assert body["warnings"] == [
        f"{source}: rule {name!r} can never match: the catch-all rule 'catch-all' (POST /_fake/rules:2) comes first"
        for source, name in [
            ("POST /_fake/rules:4", "after"),
            ("<test>:2", "greet"),
            ("<test>:5", "once"),
            ("<test>:9", "essay"),
        ]
    ]


def test_post_rules_error_names_the_line(client: TestClient) -> None:
    text = "name: posted\nrules:\n  - name: bad\n    reply: {contnt: x}\n"
    response = client.post("/_fake/rules", content=text)
    assert response.status_code == 400
    problem = response.json()["error"]["problems"][0]
    assert problem.startswith("POST /_fake/rules:4: rules[0].reply.contnt: unknown key; expected one of ")
    assert response.json()["error"]["message"] == problem
    assert [r["name"] for r in client.get("/_fake/rules").json()["rules"]] == ["greet", "once", "essay"]


def test_post_rules_list_error_names_the_line_that_was_sent(client: TestClient) -> None:
    response = client.post("/_fake/rules", content="- name: bad\n  reply: {contnt: x}\n")
    assert response.status_code == 400
    assert response.json()["error"]["problems"][0].startswith("POST /_fake/rules:2: rules[0].reply.contnt: ")


def test_post_rules_refuses_duplicate_names(client: TestClient) -> None:
    response = client.post("/_fake/rules", content="rules:\n  - name: greet\n    reply: {content: x}\n")
    assert response.status_code == 400
    (problem,) = response.json()["error"]["problems"]
    assert problem.startswith("POST /_fake/rules:2: ")
    assert problem.endswith(": duplicate rule name 'greet' (first at <test>:2)")
    assert reply_to(client, "hello") == "Hello there."


@pytest.mark.parametrize(
    ("url", "body", "headers", "message"),
    [
        ("/_fake/rules?mode=merge", "[]", {}, "mode must be append or replace, got 'merge'"),
        (
            "/_fake/rules",
            "{bad",
            {"content-type": "application/json"},
            "invalid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
    ],
)
def test_post_rules_bad_requests(
    client: TestClient, url: str, body: str, headers: dict[str, str], message: str
) -> None:
    response = client.post(url, content=body, headers=headers)
    assert response.status_code == 400
    assert response.json() == {"error": {"message": message}}


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    """A scenario folder with a text file, and a secret next to (outside) it."""
    folder = tmp_path / "pack"
    (folder / "texts").mkdir(parents=True)
    (folder / "texts" / "answer.txt").write_text("from the pack", encoding="utf-8")
    (folder / "base.yaml").write_text("rules:\n  - name: base\n    match: {user: base}\n    reply: {content: b}\n")
    (tmp_path / "secret.txt").write_text("top secret", encoding="utf-8")
    return folder


def test_post_rules_may_read_files_inside_the_scenario_folders(pack: Path) -> None:
    with TestClient(create_app(Settings(freeze_time=1767225600, scenarios=(str(pack),)))) as client:
        rules = "- name: filed\n  match: {user: filed}\n  reply: {content_file: texts/answer.txt}\n"
        assert client.post("/_fake/rules", content=rules).status_code == 200
        assert reply_to(client, "filed") == "from the pack"


@pytest.mark.parametrize("name", ["../secret.txt", "texts/../../secret.txt", "/etc/passwd"])
def test_post_rules_refuses_files_outside_the_scenario_folders(pack: Path, name: str) -> None:
    with TestClient(create_app(Settings(freeze_time=1767225600, scenarios=(str(pack),)))) as client:
        response = client.post("/_fake/rules", json=[{"name": "leak", "reply": {"content_file": name}}])
        assert response.status_code == 400
        assert response.json()["error"]["problems"] == [
            f"POST /_fake/rules:1: rules[0].reply.content_file: '{name}' is outside the scenario folders; rules "
            "sent at run time may only read files there (or in a --rules-folder)"
        ]
        assert "top secret" not in response.text
        assert [r["name"] for r in client.get("/_fake/rules").json()["rules"]] == ["base"]


# --------------------------------------------------------------------------------------------- admin token


@pytest.fixture
def guarded(make_client: MakeClient) -> TestClient:
    return make_client(RULES, admin_token="s3cret-token")


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/_fake/journal"),
        ("DELETE", "/_fake/journal"),
        ("POST", "/_fake/reset"),
        ("GET", "/_fake/rules"),
        ("POST", "/_fake/rules"),
    ],
)
def test_admin_endpoints_need_the_token(guarded: TestClient, method: str, url: str) -> None:
    for headers in ({}, {"x-fake-llm-admin-token": "wrong"}, {"authorization": "Bearer wrong"}):
        response = guarded.request(method, url, headers=headers, content="[]")
        assert response.status_code == 401
        assert response.json() == {
            "error": {"message": "this admin endpoint needs the admin token (X-Fake-LLM-Admin-Token header or Bearer)"}
        }


@pytest.mark.parametrize(
    "headers", [{"X-Fake-LLM-Admin-Token": "s3cret-token"}, {"Authorization": "Bearer s3cret-token"}]
)
def test_admin_token_by_header_or_bearer(guarded: TestClient, headers: dict[str, str]) -> None:
    assert guarded.get("/_fake/journal", headers=headers).status_code == 200
    assert guarded.post("/_fake/reset", headers=headers).status_code == 200


def test_health_and_the_api_stay_open_with_an_admin_token(guarded: TestClient) -> None:
    assert guarded.get("/_fake/health").status_code == 200
    assert guarded.post(URL, json=chat_body()).status_code == 200


# --------------------------------------------------------------------------------------------- API keys


@pytest.fixture
def keyed(make_client: MakeClient) -> TestClient:
    return make_client(RULES, api_keys=("k1", "sk-test-abcdefgh1234"))


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "You didn't provide an API key."),
        ({"authorization": "Bearer "}, "You didn't provide an API key."),
        ({"authorization": "Basic k1"}, "You didn't provide an API key."),
        ({"authorization": "Bearer k2"}, "Incorrect API key provided."),
        ({"authorization": "Bearer sk-wrong-key-9876"}, "Incorrect API key provided: sk-****9876."),
    ],
)
def test_missing_or_wrong_api_key_is_a_401(keyed: TestClient, headers: dict[str, str], message: str) -> None:
    response = keyed.post(URL, json=chat_body(), headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}
    }
    entry = engine(keyed).journal.last
    assert (entry.outcome, entry.status) == ("rejected", 401)


@pytest.mark.parametrize("key", ["k1", "sk-test-abcdefgh1234"])
def test_the_right_api_key_passes(keyed: TestClient, key: str) -> None:
    response = keyed.post(URL, json=chat_body(), headers={"authorization": f"Bearer {key}"})
    assert response.status_code == 200


def test_without_api_keys_any_key_or_none_passes(client: TestClient) -> None:
    assert client.post(URL, json=chat_body()).status_code == 200
    assert client.post(URL, json=chat_body(), headers={"authorization": "Bearer anything"}).status_code == 200


# --------------------------------------------------------------------------------------------- CORS


def test_cors_preflight(client: TestClient) -> None:
    response = client.options(
        URL,
        headers={
            "origin": "http://localhost:5173",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "authorization, content-type"


def test_cors_headers_on_a_streamed_response(client: TestClient) -> None:
    with client.stream(
        "POST", URL, json=chat_body("essay", stream=True), headers={"origin": "http://localhost:5173"}
    ) as r:
        r.read()
    assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert r.headers["access-control-allow-origin"] == "*"
    exposed = {h.strip() for h in r.headers["access-control-expose-headers"].split(",")}
    assert {"x-request-id", "retry-after", "retry-after-ms", "x-should-retry"} <= exposed


def test_cors_origins_setting(make_client: MakeClient) -> None:
    client = make_client(RULES, cors_origins=("http://allowed.test",))
    allowed = client.post(URL, json=chat_body(), headers={"origin": "http://allowed.test"})
    assert allowed.headers["access-control-allow-origin"] == "http://allowed.test"
    other = client.post(URL, json=chat_body(), headers={"origin": "http://other.test"})
    assert "access-control-allow-origin" not in other.headers


# --------------------------------------------------------------------------------------------- determinism


def stream_raw(client: TestClient, body: dict[str, Any]) -> bytes:
    with client.stream("POST", URL, json={**body, "stream": True}) as response:
        return response.read()


def test_same_requests_after_reset_give_identical_bytes(client: TestClient) -> None:
    def run() -> tuple[bytes, bytes, bytes, str]:
        first = client.post(URL, json=chat_body("hello"))
        streamed = stream_raw(client, chat_body("essay"))
        missed = client.post(URL, json=chat_body("nothing"))
        return first.content, streamed, missed.content, first.headers["x-request-id"]

    before = run()
    client.post("/_fake/reset")
    assert run() == before


def test_ids_differ_per_request_and_per_seed(make_client: MakeClient) -> None:
    seed0 = make_client(RULES, seed=0)
    seed1 = make_client(RULES, seed=1)
    a, b = (seed0.post(URL, json=chat_body()).json() for _ in range(2))
    c = seed1.post(URL, json=chat_body()).json()
    assert len({a["id"], b["id"], c["id"]}) == 3
    assert a["system_fingerprint"] == b["system_fingerprint"] != c["system_fingerprint"]
    assert {a["created"], c["created"]} == {1767225600}


# --------------------------------------------------------------------------------------------- internal errors


def boom(*args: object, **kwargs: object) -> Any:
    raise RuntimeError("boom")


def test_internal_error_is_a_500_in_the_openai_envelope(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("fake_llm.core.pipeline.plan_reply", boom)
    with caplog.at_level(logging.ERROR, logger="fake_llm"):
        response = client.post(URL, json=chat_body())
    assert response.status_code == 500
    assert response.headers["x-should-retry"] == "false"
    assert response.headers["x-request-id"].startswith("req_")
    assert response.json() == {
        "error": {
            "message": "fake-llm internal error: RuntimeError('boom')",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }
    (entry,) = engine(client).journal.errors
    assert (entry.outcome, entry.status, entry.rule) == ("error", 500, "greet")
    assert entry.error is not None
    assert entry.error.endswith("RuntimeError: boom\n")
    assert "internal error while answering POST /v1/chat/completions" in caplog.messages
    assert json.loads(client.get("/_fake/journal?status=500").text)["entries"][0]["outcome"] == "error"


def test_internal_error_while_rendering_is_journaled_once(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(OpenAIChat, "completion_body", boom)
    assert client.post(URL, json=chat_body()).status_code == 500
    assert [(e.seq, e.outcome) for e in engine(client).journal.entries] == [(1, "error")]


# --------------------------------------------------------------------------------------------- matching over HTTP


def test_header_match_and_session_sequences_over_http(make_client: MakeClient) -> None:
    client = make_client(
        """
        - name: team
          match: {header: {X-Team: {equals: blue}}}
          replies:
            - {content: first}
            - {content: second}
        """
    )
    headers = {"X-TEAM": "blue", "X-Fake-LLM-Session": "s1"}
    assert client.post(URL, json=chat_body("a"), headers=headers).json()["choices"][0]["message"]["content"] == "first"
    assert client.post(URL, json=chat_body("b"), headers=headers).json()["choices"][0]["message"]["content"] == "second"
    assert client.post(URL, json=chat_body("a"), headers={"x-team": "blue"}).json()["choices"][0]["message"][
        "content"
    ] == ("first")
    missed = client.post(URL, json=chat_body("a"), headers={"x-team": "Blue"})
    assert missed.status_code == 400
    assert missed.json()["error"]["message"].endswith(
        "Rules tried: team: header 'x-team': 'Blue' does not equal 'blue' (it would match ignoring case: add "
        "`ignore_case: true`)"
    )
    # The session header is also the namespace: its requests have a journal of their own.
    assert [e.step for e in engine(client).space("s1").journal.entries] == [1, 2]
    assert [e.step for e in engine(client).journal.entries] == [1, 0]


def test_journal_after_returns_only_newer_entries(make_client: MakeClient) -> None:
    client = make_client(RULES)
    for _ in range(3):
        client.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hello"}]})
    seqs = [e["seq"] for e in client.get("/_fake/journal", params={"after": 1}).json()["entries"]]
    assert seqs == [2, 3]
    assert client.get("/_fake/journal", params={"after": "x"}).status_code == 400


# --------------------------------------------------------------------------------------------- namespaces


def test_each_session_is_a_namespace_with_its_own_counters_rules_journal_and_reset(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(
        """
        - name: once
          match: {user: once}
          times: 1
          reply: {content: once}
        """
    )
    a, b = {"X-Fake-LLM-Session": "a"}, {"X-Fake-LLM-Session": "b"}
    assert client.post(URL, json=chat_body("once"), headers=a).status_code == 200
    assert client.post(URL, json=chat_body("once"), headers=a).status_code == 400  # used up in a...
    assert client.post(URL, json=chat_body("once"), headers=b).status_code == 200  # ...not in b
    added = client.post("/_fake/rules", content="- name: extra\n  reply: {content: extra}\n", headers=a)
    assert added.status_code == 200
    assert client.post(URL, json=chat_body("other"), headers=a).json()["choices"][0]["message"]["content"] == "extra"
    assert client.post(URL, json=chat_body("other"), headers=b).status_code == 400  # rules added in a stay in a
    assert len(client.get("/_fake/journal?session=b").json()["entries"]) == 2

    assert client.post("/_fake/reset", headers=a).json()["namespace"] == "a"
    assert client.get("/_fake/journal", headers=a).json()["entries"] == []
    assert len(client.get("/_fake/journal", headers=b).json()["entries"]) == 2
    assert client.post(URL, json=chat_body("once"), headers=a).status_code == 200  # a's times start again
    assert client.get("/_fake/journal").json()["entries"] == []  # the default namespace saw none of it

    import fake_llm.http.shared_state as shared_state

    monkeypatch.setattr(shared_state, "MAX_NAMESPACES", 2)
    for name in ("c", "d"):
        client.post(URL, json=chat_body("once"), headers={"X-Fake-LLM-Session": name})
    assert list(engine(client).namespaces) == ["c", "d"]  # the least recently used (a, b) are forgotten


def test_a_session_header_that_cannot_be_a_namespace_is_a_400(make_client: MakeClient) -> None:
    client = make_client("- name: any\n  reply: {content: ok}\n")
    too_long = {"X-Fake-LLM-Session": "s" * 201}
    answer = client.post(URL, json=chat_body(), headers=too_long)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "fake_llm_bad_session"
    assert "1 to 200 printable characters" in answer.json()["error"]["message"]
    assert client.get("/_fake/journal", headers=too_long).status_code == 400
