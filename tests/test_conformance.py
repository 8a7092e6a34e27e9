"""The conformance checkers catch off-spec output (so the session-wide check cannot pass vacuously), recognise
scripted breakage, and report through the pytest plugin."""

from __future__ import annotations

import copy
import json
from textwrap import dedent
from typing import Any

import pytest
from starlette.testclient import TestClient

from fake_llm.conformance.recorder import ConformanceRecorder, Exchange, Report, check_exchange
from fake_llm.conformance.registry import SSEEvent, checker_for
from fake_llm.conformance.wire import parse_sse
from fake_llm.http.app import wrap_every_app
from tests.conftest import MakeClient

CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1767225600,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hi", "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}
MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "Hi"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 3, "output_tokens": 1},
}
GEMINI = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]}, "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4},
    "modelVersion": "gemini-2.5-flash",
    "responseId": "abc",
}


def fields(api: str, path: str, body: Any, status: int = 200) -> list[str]:
    checker = checker_for(api)
    assert checker is not None
    return [f"{v.field}: {v.message}" for v in checker.check_body(api, path, status, body).violations]


def broken(body: dict[str, Any], path: list[Any], value: Any = ...) -> dict[str, Any]:
    """A copy of `body` with the key at `path` removed (`value` left out) or set to `value`."""
    out = copy.deepcopy(body)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


def test_valid_bodies_pass() -> None:
    assert fields("openai-chat", "/v1/chat/completions", CHAT) == []
    assert fields("anthropic", "/v1/messages", MESSAGE) == []
    assert fields("gemini", "/v1beta/models/gemini-2.5-flash:generateContent", GEMINI) == []


@pytest.mark.parametrize(
    ("api", "path", "body", "at", "value", "expected"),
    [
        ("openai-chat", "/v1/chat/completions", CHAT, ["id"], ..., "$.id: 'id' is a required property"),
        ("openai-chat", "/v1/chat/completions", CHAT, ["choices", 0, "finish_reason"], "done", "finish_reason"),
        ("openai-chat", "/v1/chat/completions", CHAT, ["created"], "soon", "$.created: 'soon' is not of type"),
        ("anthropic", "/v1/messages", MESSAGE, ["id"], ..., "$.id: Field required"),
        ("anthropic", "/v1/messages", MESSAGE, ["stop_reason"], "finished", "$.stop_reason: Input should be"),
        ("anthropic", "/v1/messages", MESSAGE, ["stop_sequence"], ..., "$.stop_sequence: missing (the provider"),
        ("anthropic", "/v1/messages", MESSAGE, ["logprobs"], None, "$.logprobs: field not in the provider's"),
        ("anthropic", "/v1/messages", MESSAGE, ["usage", "input_tokens"], "3", "$.usage.input_tokens: Input should"),
        (
            "gemini",
            "/v1/models/g:generateContent",
            GEMINI,
            ["candidates", 0, "finishReason"],
            "DONE",
            "not a valid FinishReason",
        ),
        ("gemini", "/v1/models/g:generateContent", GEMINI, ["usageMetadata", "prompt_tokens"], 3, "prompt_tokens"),
    ],
)
def test_broken_bodies_are_caught(
    api: str, path: str, body: dict[str, Any], at: list[Any], value: Any, expected: str
) -> None:
    found = fields(api, path, broken(body, at, value))
    assert any(expected in line for line in found), found


def test_error_bodies_are_checked_per_dialect() -> None:
    openai_error = fields("openai-chat", "/v1/chat/completions", {"error": {"message": "x"}}, 400)
    assert openai_error
    assert all("is a required property" in line for line in openai_error)
    assert fields("gemini", "/v1/models/g:generateContent", {"error": {"code": 403, "message": "x"}}, 403) == [
        "$.error: 'status' is a required property"
    ]
    bad_type = {"type": "error", "error": {"type": "teapot_error", "message": "x"}}
    assert any("$.error" in line for line in fields("anthropic", "/v1/messages", bad_type, 418))


def sse(*events: tuple[str | None, Any]) -> list[SSEEvent]:
    return [SSEEvent(data, name) for name, data in events]


def test_responses_stream_order() -> None:
    checker = checker_for("responses")
    assert checker is not None
    done = {"type": "response.output_text.done", "item_id": "m", "output_index": 0, "content_index": 0}
    events = sse(("response.output_text.done", {**done, "text": "x", "logprobs": [], "sequence_number": 0}))
    verdict = checker.check_stream("responses", "/v1/responses", events, complete=True)
    found = {f"{v.where}: {v.message}" for v in verdict.violations if v.where.startswith("stream order")}
    assert found == {
        "stream order, event 0: the first event must be response.created, not 'response.output_text.done'",
        "stream order, event 0: response.output_text.done for output_index 0 outside its output_item.added/done",
        "stream order, event 1: the stream has no terminal event (response.completed, failed or incomplete)",
    }


def test_anthropic_stream_order() -> None:
    checker = checker_for("anthropic")
    assert checker is not None
    delta = {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "x"}}
    events = sse(("content_block_delta", delta), ("message_stop", {"type": "message_stop"}))
    found = [v.message for v in checker.check_stream("anthropic", "/v1/messages", events, complete=True).violations]
    assert "the first event must be message_start, not 'content_block_delta'" in found
    assert "content_block_delta for index 1, but the open block is None" in found
    assert "message_stop without a message_delta before it" in found


def test_sse_reader_follows_the_event_stream_rules() -> None:
    parsed = parse_sse(b': keep-alive\r\n\r\nevent: a\r\ndata: {"x":\r\ndata: 1}\r\n\r\ndata: [DONE]\n\ndata: {bad\n\n')
    assert parsed.events == [SSEEvent({"x": 1}, "a"), SSEEvent("[DONE]")]
    assert parsed.not_json == [(2, "{bad")]


def test_scripted_breakage_is_skipped_by_design_and_named(make_client: MakeClient) -> None:
    report = Report()
    stop = wrap_every_app(lambda app: ConformanceRecorder(app, report))
    try:
        client = make_client(
            """
            - name: raw
              match: {user: raw}
              reply: {raw: {status: 200, body: "not json at all"}}
            - name: cut
              match: {user: cut}
              reply: {content: "Hello there", stream: {malformed_at: 1}}
            """
        )
    finally:
        stop()
    client.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "raw"}]})
    cut = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "cut"}]}
    client.post("/v1/chat/completions", json=cut)
    assert report.take_findings() == []
    assert report.skipped == {"raw body": 1, "malformed_at": 1}


def test_unscripted_broken_output_is_a_finding() -> None:
    body = json.dumps(broken(CHAT, ["choices", 0, "finish_reason"], "finished")).encode()
    verdict = check_exchange(Exchange("POST", "/v1/chat/completions", "", 200, "application/json", body, "openai-chat"))
    assert [v.field for v in verdict.violations] == ["$.choices[0].finish_reason"]
    not_json = check_exchange(
        Exchange("POST", "/v1/chat/completions", "", 200, "application/json", b"{", "openai-chat")
    )
    assert [v.message for v in not_json.violations] == ["not JSON: b'{'"]


def test_the_plugin_fails_a_test_whose_output_is_off_spec(pytester: pytest.Pytester) -> None:
    """In a subprocess: this session's own check would otherwise see the deliberately broken output."""
    pytester.makepyfile(
        dedent("""\
        import httpx
        from fake_llm.dialects import PROVIDERS

        def test_broken(fake_llm, monkeypatch):
            chat = PROVIDERS["openai-chat"]
            render = chat.completion_body

            def without_id(*args):
                body = render(*args)
                del body["id"]
                body["choices"][0]["finish_reason"] = "finished"
                return body

            monkeypatch.setattr(chat, "completion_body", without_id)
            fake_llm.add_rules("- name: r\\n  reply: {content: Hi}\\n")
            body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}
            assert httpx.post(fake_llm.base_url + "/chat/completions", json=body, timeout=60).status_code == 200

        def test_fine(fake_llm):
            fake_llm.add_rules("- name: r\\n  reply: {content: Hi}\\n")
            body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}
            assert httpx.post(fake_llm.base_url + "/chat/completions", json=body, timeout=60).status_code == 200
        """)
    )
    result = pytester.runpytest_subprocess("--fake-llm-conformance", "-p", "no:randomly", timeout=120)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*fake-llm conformance: output that breaks the provider's schema*",
            "*POST /v1/chat/completions -> 200 (openai-chat)*",
            "*body: CreateChatCompletionResponse $.choices[[]0].finish_reason: 'finished' is not one of*",
            "*body: CreateChatCompletionResponse $.id: 'id' is a required property*",
            "*anthropic: never reached 4: Message, MessageTokensCount, ErrorResponse, RawMessageStreamEvent*",
            "*openai: exercised 1: CreateChatCompletionResponse x2*",
        ]
    )


def test_dialects_without_a_checker_are_named_in_the_summary() -> None:
    report = Report()
    report.check(Exchange("POST", "/v9/chat", "", 200, "application/json", b"{}", "future-dialect"))
    assert report.take_findings() == []
    assert "no checker registered (conformance.registry.register) for: future-dialect x1" in report.summary()


BEDROCK_MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
CONVERSE = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}
#: For each dialect family added after the first three: (api, method, path, request body), and a field to break
#: (path into the body, the value or ... to delete it, what the violation says).
SERVED: list[tuple[str, str, str, dict[str, Any] | None, list[Any], Any, str]] = [
    ("bedrock", "POST", f"/model/{BEDROCK_MODEL}/converse", CONVERSE,
     ["metrics"], ..., "$.metrics: required"),
    ("bedrock", "POST", f"/model/{BEDROCK_MODEL}/converse", CONVERSE,
     ["stopReason"], "done", "$.stopReason: 'done' is not one of"),
    ("cohere", "POST", "/v2/chat", {"model": "command-r", "messages": [{"role": "user", "content": "hi"}]},
     ["finish_reason"], "DONE", "$.finish_reason: 'DONE' is none of"),
    ("cohere", "POST", "/v2/chat", {"model": "command-r", "messages": [{"role": "user", "content": "hi"}]},
     ["message"], ..., "$.message: Field required"),
    ("cohere-embed", "POST", "/v2/embed", {"model": "embed-v4.0", "texts": ["hi"], "input_type": "search_query",
     "embedding_types": ["float"]}, ["embeddings", "float"], [["x"]], "$.embeddings.float[0][0]: Input should be"),
    ("cohere-rerank", "POST", "/v2/rerank", {"model": "rerank-v3.5", "query": "q", "documents": ["a", "b"]},
     ["results", 0, "relevance_score"], ..., "$.results[0].relevance_score: Field required"),
    ("mistral", "POST", "/v1/chat/completions", {"model": "mistral-small-latest",
     "messages": [{"role": "user", "content": "hi"}]}, ["choices", 0, "finish_reason"], "done", "finish_reason"),
    ("mistral", "POST", "/v1/chat/completions", {"model": "mistral-small-latest",
     "messages": [{"role": "user", "content": "hi"}]}, ["usage"], ..., "$.usage: Field required"),
    ("mistral-embeddings", "POST", "/v1/embeddings", {"model": "mistral-embed", "input": ["hi"]},
     ["data", 0, "embedding"], "x", "$.data[0].embedding"),
    ("ollama", "POST", "/api/chat", {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}],
     "stream": False}, ["message", "role"], ..., "$.message.role: Field required"),
    ("ollama", "POST", "/api/chat", {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}],
     "stream": False}, ["eval_count"], "12", "$.eval_count: Input should be"),
    ("ollama-embed", "POST", "/api/embed", {"model": "all-minilm", "input": "hi"}, ["embeddings"], ...,
     "$.embeddings: Field required"),
    ("ollama-models", "GET", "/api/tags", None, ["models", 0, "size"], "big", "$.models[0].size"),
    ("transcriptions", "POST", "/v1/audio/transcriptions", None, ["text"], ..., "'text' is a required property"),
]  # fmt: skip


@pytest.mark.parametrize(("api", "method", "path", "request_body", "at", "value", "expected"), SERVED)
def test_new_dialect_checkers_pass_what_is_served_and_catch_it_broken(
    make_client: MakeClient,
    api: str,
    method: str,
    path: str,
    request_body: dict[str, Any] | None,
    at: list[Any],
    value: Any,
    expected: str,
) -> None:
    client = make_client("- name: any\n  reply: {content: Hello there}\n")
    if path.startswith("/v1/") and api.startswith("mistral"):
        path = "/mistral" + path  # Mistral is served under its own prefix
    if api == "transcriptions":
        response = client.post(
            path, data={"model": "whisper-1"}, files={"file": ("a.wav", b"RIFF0000WAVE", "audio/wav")}
        )
    else:
        response = client.request(method, path, json=request_body)
    assert response.status_code == 200, response.text
    body = response.json()
    assert fields(api, path, body) == []  # what fake-llm serves passes (the session check sees it too)
    found = fields(api, path, broken(body, at, value))
    assert any(expected in line for line in found), found


def test_bedrock_stream_frames_are_read_with_botocore_and_checked(make_client: MakeClient) -> None:
    client = make_client("- name: any\n  reply: {content: Hello there}\n")
    request = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    response = client.post(f"/model/{BEDROCK_MODEL}/converse-stream", json=request)
    exchange = Exchange(
        "POST", "/converse-stream", "", 200, response.headers["content-type"], response.content, "bedrock"
    )
    assert check_exchange(exchange).violations == []
    checker = checker_for("bedrock")
    assert checker is not None
    frames = [SSEEvent({"role": "model"}, "messageStart"), SSEEvent({"delta": {"text": "x"}}, "contentBlockDelta")]
    found = [str(v) for v in checker.check_stream("bedrock", "/", frames, complete=True).violations]
    assert any("$.role: 'model' is not one of" in line for line in found), found
    assert any("$.contentBlockIndex: required" in line for line in found), found
    assert any("does not end with metadata" in line for line in found), found


def test_ollama_stream_lines_end_with_one_done_line() -> None:
    checker = checker_for("ollama")
    assert checker is not None
    line = {"model": "m", "created_at": "2026-01-01T00:00:00Z", "message": {"role": "assistant", "content": "x"}}
    found = [
        str(v)
        for v in checker.check_stream(
            "ollama", "/api/chat", [SSEEvent({**line, "done": False})], complete=True
        ).violations
    ]
    assert found == ["stream order: ChatResponse $.done: no line with done: true ends the stream"]


def test_realtime_server_events_are_checked_and_beta_sessions_skipped(make_client: MakeClient) -> None:
    report = Report()
    client = make_client("- name: any\n  reply: {content: Hello there}\n")
    recorded = TestClient(ConformanceRecorder(client.app, report))
    with recorded.websocket_connect("/v1/realtime?model=gpt-realtime") as ws:
        assert ws.receive_json()["type"] == "session.created"
    with recorded.websocket_connect("/v1/realtime?model=gpt-realtime", headers={"OpenAI-Beta": "realtime=v1"}) as ws:
        ws.receive_json()
    assert report.take_findings() == []
    assert report.exercised[("openai-realtime", "RealtimeServerEventSessionCreated")] == 1
    assert report.skipped["realtime beta session (the document describes GA)"] == 1
    checker = checker_for("realtime")
    assert checker is not None
    part = {"type": "response.content_part.added", "event_id": "e", "response_id": "r", "item_id": "i",
            "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": ""}}  # fmt: skip
    events = [SSEEvent({"type": "session.created", "event_id": "e"}), SSEEvent(part), SSEEvent({"type": "x.y"})]
    found = [f"{v.field}: {v.message}" for v in checker.check_stream("realtime", "", events, complete=True).violations]
    assert any(line.startswith("$.session: 'session' is a required property") for line in found), found
    assert any(line.startswith("$.part.type: 'output_text' is not one of") for line in found), found
    assert "$.type: unknown type 'x.y'" in found
