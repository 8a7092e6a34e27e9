"""Gemini dialect through the official google-genai SDK and raw HTTP: text, streams, function calling, JSON mode,
limits, errors, model names, auth and validation (wire-format §6)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors, types
from pydantic import BaseModel

from fake_llm.dialects.gemini.generate import Gemini
from fake_llm.testing.server import FakeLLMServer
from tests.helpers import serve

MODEL = "gemini-2.5-flash"

RULES = """
- name: weather-answer
  match: {tool_result_for: get_weather}
  reply: {content: "It is {{ tool_result }} in Paris."}
- name: weather
  match: {user: weather}
  reply: {tool_calls: [{name: get_weather, arguments: {city: Paris}}]}
- name: gemini-only
  match: {api: openai-chat, user: dialect}
  reply: {content: "wrong dialect"}
- name: dialect
  match: {api: gemini, user: dialect}
  reply: {content: "gemini dialect"}
- name: tuned
  match: {model: "tunedModels/*"}
  reply: {content: "tuned {{ request.model }}"}
- name: colon
  match: {model: "acme/gem:v2"}
  reply: {content: "colon model"}
- name: think
  match: {user: think}
  reply: {content: "Forty-two.", reasoning_content: "Six times seven is forty-two."}
- name: json
  match: {user: json}
  reply: {generate: {}}
- name: rate
  match: {user: rate limit}
  reply: {error: {status: 429}}
- name: overloaded
  match: {user: overloaded}
  reply: {error: {status: 503, message: "The model is overloaded. Please try again later."}}
- name: broken
  match: {user: broken stream}
  reply:
    content: "one two three four five six"
    stream: {error_after: 2, error: {code: 503, message: "The model is overloaded."}}
- name: unfinished
  match: {user: unfinished}
  reply: {content: "one two three", stream: {finish_chunk: false}}
- name: temperature
  match: {user: temperature}
  reply: {content: "t={{ request.temperature }}"}
- name: image
  match: {has_image: true, system: brief}
  reply: {content: "I see an image."}
- name: fallback
  reply: {content: "The quick brown fox jumps over the lazy dog.", stream: {chunk_tokens: 2}}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    yield from serve(RULES)


@pytest.fixture
def client(server: FakeLLMServer) -> Iterator[genai.Client]:
    made = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=server.url, api_version="v1beta"))
    yield made
    made.close()


def post(server: FakeLLMServer, path: str, body: Any, **kwargs: Any) -> httpx.Response:
    headers = kwargs.pop("headers", {"x-goog-api-key": "k"})
    with httpx.Client(base_url=server.url, timeout=10) as raw:
        return raw.post(path, json=body, headers=headers, **kwargs)


def ask(text: str, **extra: Any) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": text}]}], **extra}


# ---------------------------------------------------------------------- text


def test_generate_content_text(client: genai.Client, server: FakeLLMServer) -> None:
    response = client.models.generate_content(model=MODEL, contents="Tell me something")
    assert response.text == "The quick brown fox jumps over the lazy dog."
    candidate = response.candidates[0]  # type: ignore[index]
    assert candidate.finish_reason == types.FinishReason.STOP
    assert candidate.content.role == "model"  # type: ignore[union-attr]
    assert response.model_version == MODEL
    assert response.response_id
    usage = response.usage_metadata
    assert usage is not None
    assert usage.prompt_token_count
    assert usage.candidates_token_count
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count
    entry = server.journal.last
    assert entry.path == f"/v1beta/models/{MODEL}:generateContent"
    assert entry.api == "gemini"
    assert entry.model == MODEL


def test_default_api_version_is_v1(server: FakeLLMServer) -> None:
    with genai.Client(api_key="k", http_options=types.HttpOptions(base_url=server.url)) as client:
        response = client.models.generate_content(model=MODEL, contents="dialect check")
        streamed = "".join(c.text or "" for c in client.models.generate_content_stream(model=MODEL, contents="hi"))
    assert response.text == "gemini dialect"
    assert streamed == "The quick brown fox jumps over the lazy dog."
    assert server.journal.last.path == f"/v1/models/{MODEL}:streamGenerateContent"


def test_non_stream_wire_shape(server: FakeLLMServer) -> None:
    body = post(server, f"/v1beta/models/{MODEL}:generateContent", ask("hello")).json()
    assert list(body) == ["candidates", "usageMetadata", "modelVersion", "responseId"]
    assert body["candidates"] == [
        {
            "content": {"parts": [{"text": "The quick brown fox jumps over the lazy dog."}], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
        }
    ]
    usage = body["usageMetadata"]
    assert usage["promptTokensDetails"] == [{"modality": "TEXT", "tokenCount": usage["promptTokenCount"]}]
    assert "thoughtsTokenCount" not in usage


def test_temperature_reaches_templates(client: genai.Client) -> None:
    config = types.GenerateContentConfig(temperature=0.25)
    assert client.models.generate_content(model=MODEL, contents="temperature", config=config).text == "t=0.25"


# ---------------------------------------------------------------------- streams


def test_stream_text(client: genai.Client) -> None:
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="Tell me something"))
    texts = [c.text for c in chunks[:-1]]
    assert texts == ["The quick", " brown fox", " jumps over", " the lazy", " dog."]  # only the new text each time
    last = chunks[-1]
    assert last.candidates[0].finish_reason == types.FinishReason.STOP  # type: ignore[index]
    assert all(c.candidates[0].finish_reason is None for c in chunks[:-1])  # type: ignore[index]
    assert all(c.usage_metadata is not None for c in chunks)
    counts = [c.usage_metadata.candidates_token_count or 0 for c in chunks]  # type: ignore[union-attr]
    assert counts == sorted(counts)
    assert counts[-1] == 10
    assert len({c.response_id for c in chunks}) == 1


def test_stream_wire_has_no_done_event_lines_or_comments(server: FakeLLMServer) -> None:
    response = post(server, f"/v1beta/models/{MODEL}:streamGenerateContent", ask("hello"), params={"alt": "sse"})
    assert response.headers["content-type"].startswith("text/event-stream")
    text = response.text
    assert text.endswith("\n\n")
    events = text.split("\n\n")[:-1]
    assert all(e.startswith("data: {") and "\n" not in e for e in events)
    assert "[DONE]" not in text
    assert "event:" not in text
    final = json.loads(events[-1][len("data: ") :])
    assert final["candidates"][0]["finishReason"] == "STOP"
    assert final["usageMetadata"]["totalTokenCount"] > 0


def test_stream_without_alt_is_one_json_array(server: FakeLLMServer) -> None:
    """Google answers a stream without `alt=sse` with one JSON array whose elements arrive as they are generated."""
    with_sse = post(server, f"/v1beta/models/{MODEL}:streamGenerateContent", ask("hello"), params={"alt": "sse"})
    response = post(server, f"/v1beta/models/{MODEL}:streamGenerateContent", ask("hello"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    assert response.text.startswith("[{")
    assert response.text.endswith("}]")
    assert "\r\n,{" in response.text
    chunks = response.json()
    sse = [json.loads(line[len("data: ") :]) for line in with_sse.text.splitlines() if line.startswith("data: ")]
    # The same chunks either way (each response has its own id).
    assert [{**c, "responseId": ""} for c in chunks] == [{**c, "responseId": ""} for c in sse]
    assert server.journal.last.stream is True


def test_async_stream(server: FakeLLMServer) -> None:
    client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=server.url, api_version="v1beta"))

    async def run() -> list[str]:
        async with client.aio as aio:
            stream = await aio.models.generate_content_stream(model=MODEL, contents="Tell me something")
            return [chunk.text or "" async for chunk in stream]

    with client:
        assert "".join(asyncio.run(asyncio.wait_for(run(), 10))) == "The quick brown fox jumps over the lazy dog."


def test_stream_without_finish_chunk(client: genai.Client) -> None:
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="unfinished"))
    assert "".join(c.text or "" for c in chunks) == "one two three"
    assert all(c.candidates[0].finish_reason is None for c in chunks)  # type: ignore[index]


def test_thoughts_only_when_included(client: genai.Client) -> None:
    hidden = client.models.generate_content(model=MODEL, contents="think")
    parts = hidden.candidates[0].content.parts  # type: ignore[index, union-attr]
    assert [p.thought for p in parts] == [None]  # type: ignore[union-attr]
    assert hidden.usage_metadata.thoughts_token_count  # type: ignore[union-attr]
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True))
    shown = client.models.generate_content(model=MODEL, contents="think", config=config)
    parts = shown.candidates[0].content.parts  # type: ignore[index, union-attr]
    assert [(p.thought, p.text) for p in parts] == [  # type: ignore[union-attr]
        (True, "Six times seven is forty-two."),
        (None, "Forty-two."),
    ]
    assert shown.text == "Forty-two."
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="think", config=config))
    thought = "".join(p.text or "" for c in chunks for p in c.candidates[0].content.parts if p.thought)  # type: ignore
    assert thought == "Six times seven is forty-two."
    assert "".join(c.text or "" for c in chunks) == "Forty-two."


# ---------------------------------------------------------------------- function calling


def get_weather(city: str) -> str:
    """The weather in a city."""
    return "sunny"


NO_AFC = types.AutomaticFunctionCallingConfig(disable=True)


def test_function_call(client: genai.Client) -> None:
    config = types.GenerateContentConfig(tools=[get_weather], automatic_function_calling=NO_AFC)
    response = client.models.generate_content(model=MODEL, contents="weather in Paris?", config=config)
    assert response.function_calls is not None
    assert [(c.name, c.args) for c in response.function_calls] == [("get_weather", {"city": "Paris"})]
    assert response.candidates[0].finish_reason == types.FinishReason.STOP  # type: ignore[index]
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="weather in Paris?", config=config))
    calls = [call for c in chunks for call in c.function_calls or ()]
    assert [(c.name, c.args) for c in calls] == [("get_weather", {"city": "Paris"})]


def test_function_response_round_trip(client: genai.Client, server: FakeLLMServer) -> None:
    config = types.GenerateContentConfig(tools=[get_weather], automatic_function_calling=NO_AFC)
    contents: list[Any] = [types.Content(role="user", parts=[types.Part.from_text(text="weather in Paris?")])]
    first = client.models.generate_content(model=MODEL, contents=contents, config=config)
    contents.append(first.candidates[0].content)  # type: ignore[index]
    reply = types.Part.from_function_response(name="get_weather", response={"result": "sunny"})
    contents.append(types.Content(role="user", parts=[reply]))
    second = client.models.generate_content(model=MODEL, contents=contents, config=config)
    assert second.text == "It is sunny in Paris."
    assert server.journal.last.rule == "weather-answer"


def test_automatic_function_calling(client: genai.Client) -> None:
    """The SDK runs the tool itself and sends the functionResponse back: one call, two requests."""
    config = types.GenerateContentConfig(tools=[get_weather])
    assert client.models.generate_content(model=MODEL, contents="weather?", config=config).text == (
        "It is sunny in Paris."
    )


def test_tool_config_modes(server: FakeLLMServer) -> None:
    tools = [{"functionDeclarations": [{"name": "get_weather", "parameters": {"type": "OBJECT", "properties": {}}}]}]
    path = f"/v1beta/models/{MODEL}:generateContent"
    forced = {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}
    assert post(server, path, ask("weather", tools=tools, toolConfig=forced)).status_code == 200
    none = post(server, path, ask("weather", tools=tools, toolConfig={"functionCallingConfig": {"mode": "NONE"}}))
    assert "functionCall" not in json.dumps(none.json())
    # ANY forces a call; a rule that replies with text contradicts it (a scenario mistake, reported as a 400).
    contradicted = post(server, path, ask("hello", tools=tools, toolConfig={"functionCallingConfig": {"mode": "ANY"}}))
    assert contradicted.status_code == 400
    assert "forces a tool call" in contradicted.json()["error"]["message"]


def test_function_response_must_answer_a_call(server: FakeLLMServer) -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "weather"}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"r": 1}}}]},
        ]
    }
    response = post(server, f"/v1beta/models/{MODEL}:generateContent", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert "function response turn" in error["message"]


# ---------------------------------------------------------------------- structured output and limits


class City(BaseModel):
    name: str
    population: int


def test_json_mode_with_schema(client: genai.Client) -> None:
    config = types.GenerateContentConfig(response_mime_type="application/json", response_schema=City)
    response = client.models.generate_content(model=MODEL, contents="json please", config=config)
    assert isinstance(response.parsed, City)
    json_schema = {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}}
    json_schema["required"] = ["tags"]
    config = types.GenerateContentConfig(response_mime_type="application/json", response_json_schema=json_schema)
    value = json.loads(client.models.generate_content(model=MODEL, contents="json", config=config).text or "")
    assert isinstance(value["tags"], list)


def test_max_output_tokens(client: genai.Client) -> None:
    config = types.GenerateContentConfig(max_output_tokens=3)
    response = client.models.generate_content(model=MODEL, contents="Tell me", config=config)
    assert response.text == "The quick brown"
    assert response.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS  # type: ignore[index]
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="Tell me", config=config))
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.MAX_TOKENS  # type: ignore[index]


def test_stop_sequences_and_candidate_count(client: genai.Client) -> None:
    config = types.GenerateContentConfig(stop_sequences=[" fox"], candidate_count=2)
    response = client.models.generate_content(model=MODEL, contents="Tell me", config=config)
    assert [(c.index, c.content.parts[0].text) for c in response.candidates] == [  # type: ignore[union-attr, index]
        (0, "The quick brown"),
        (1, "The quick brown"),
    ]


# ---------------------------------------------------------------------- errors


def test_rate_limit_error(client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model=MODEL, contents="rate limit")
    assert caught.value.code == 429
    assert caught.value.status == "RESOURCE_EXHAUSTED"
    assert "quota" in (caught.value.message or "")


def test_server_error(client: genai.Client, server: FakeLLMServer) -> None:
    with pytest.raises(errors.ServerError) as caught:
        client.models.generate_content(model=MODEL, contents="overloaded")
    assert caught.value.code == 503
    assert caught.value.status == "UNAVAILABLE"
    body = post(server, f"/v1beta/models/{MODEL}:generateContent", ask("overloaded")).json()
    assert body == {
        "error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}
    }


def test_mid_stream_error(client: genai.Client) -> None:
    stream = client.models.generate_content_stream(model=MODEL, contents="broken stream")
    assert [next(stream).text, next(stream).text] == ["one", " two"]
    with pytest.raises(errors.ServerError) as caught:
        next(stream)
    assert caught.value.code == 503
    assert caught.value.message == "The model is overloaded."


# ---------------------------------------------------------------------- model names and routing


def test_model_names_with_slash_and_colon(client: genai.Client, server: FakeLLMServer) -> None:
    tuned = client.models.generate_content(model="tunedModels/my-tune-1", contents="hi")
    assert tuned.text == "tuned tunedModels/my-tune-1"
    assert server.journal.last.path == "/v1beta/tunedModels/my-tune-1:generateContent"
    assert client.models.generate_content(model="acme/gem:v2", contents="hi").text == "colon model"
    assert server.journal.last.model == "acme/gem:v2"
    assert client.models.generate_content(model="models/acme/gem:v2", contents="hi").text == "colon model"


def test_unknown_method_is_404(server: FakeLLMServer) -> None:
    for path in (f"/v1beta/models/{MODEL}:predictLongRunning", f"/v1beta/models/{MODEL}"):
        response = post(server, path, ask("hi"))
        assert response.status_code == 404
        assert response.json()["error"]["status"] == "NOT_FOUND"


def test_api_match_key(client: genai.Client, server: FakeLLMServer) -> None:
    assert client.models.generate_content(model=MODEL, contents="dialect").text == "gemini dialect"
    assert dict(server.journal.last.reasons)["gemini-only"].startswith("api: request came in as 'gemini'")


# ---------------------------------------------------------------------- auth


@pytest.fixture(scope="module")
def locked() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(rules=RULES, api_keys=("k",), freeze_time=1767225600, time_scale=0) as running:
        yield running


def test_auth_by_header(locked: FakeLLMServer) -> None:
    options = types.HttpOptions(base_url=locked.url, api_version="v1beta")
    with genai.Client(api_key="k", http_options=options) as client:
        assert client.models.generate_content(model=MODEL, contents="hi").text
    wrong = genai.Client(api_key="wrong-key-123", http_options=options)
    with wrong, pytest.raises(errors.ClientError) as caught:
        wrong.models.generate_content(model=MODEL, contents="hi")
    # Google's split: a wrong key is a 400 INVALID_ARGUMENT with reason API_KEY_INVALID, never a 401.
    assert caught.value.code == 400
    assert caught.value.status == "INVALID_ARGUMENT"
    assert caught.value.message == "API key not valid. Please pass a valid API key."
    assert caught.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"


def test_missing_key_is_a_403(locked: FakeLLMServer) -> None:
    response = post(locked, f"/v1beta/models/{MODEL}:generateContent", ask("hi"), headers={})
    assert response.status_code == 403
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (403, "PERMISSION_DENIED")
    assert error["message"].startswith("Method doesn't allow unregistered callers")


def test_auth_by_query_key(server: FakeLLMServer) -> None:
    response = post(server, f"/v1beta/models/{MODEL}:generateContent", ask("hi"), params={"key": "k"}, headers={})
    assert response.status_code == 200
    assert Gemini().api_key({}, {"key": "k"}) == "k"
    assert Gemini().api_key({"x-goog-api-key": "h"}, {"key": "k"}) == "h"
    assert Gemini().api_key({"authorization": "Bearer tok"}) == "tok"


def test_query_key_checked_against_api_keys(locked: FakeLLMServer) -> None:
    path = f"/v1beta/models/{MODEL}:generateContent"
    assert post(locked, path, ask("hi"), params={"key": "k"}, headers={}).status_code == 200


# ---------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "contents"),
        ({"contents": []}, "contents"),
        ({"contents": "hi"}, "contents"),
        ({"contents": [{"role": "user", "parts": []}]}, "contents[0].parts"),
        ({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}, "contents[0].role"),
        ({"contents": [{"parts": [{"thought": True}]}]}, "contents[0].parts[0].data"),
        (ask("hi", generationConfig={"temperature": 3}), "generation_config.temperature"),
        (ask("hi", generationConfig={"temperature": "hot"}), "generation_config.temperature"),
        (ask("hi", generationConfig={"candidateCount": 9}), "generation_config.candidate_count"),
        (ask("hi", generationConfig={"maxOutputTokens": 0}), "generation_config.max_output_tokens"),
        (ask("hi", generationConfig={"stopSequences": ["a"] * 6}), "generation_config.stop_sequences"),
        (ask("hi", generationConfig={"responseMimeType": "text/html"}), "generation_config.response_mime_type"),
        (
            ask("hi", generationConfig={"responseSchema": {"type": "OBJECT"}}),
            "generation_config.response_mime_type",
        ),
        (ask("hi", tools=[{"functionDeclarations": [{"name": "bad name"}]}]), "tools[0].function_declarations[0].name"),
        (
            ask("hi", toolConfig={"functionCallingConfig": {"mode": "SOMETIMES"}}),
            "tool_config.function_calling_config.mode",
        ),
    ],
)
def test_validation_errors(server: FakeLLMServer, body: dict[str, Any], field: str) -> None:
    response = post(server, f"/v1beta/models/{MODEL}:generateContent", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 400
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["details"][-1]["fieldViolations"][0]["field"] == field
    assert field in error["message"] or error["message"] == "Please use a valid role: user, model."


def test_validation_error_through_the_sdk(client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model=MODEL, contents="hi", config=types.GenerateContentConfig(temperature=5))
    assert caught.value.code == 400
    assert "temperature" in (caught.value.message or "")


def test_snake_case_fields_and_images(server: FakeLLMServer) -> None:
    """Google's JSON parser takes proto (snake_case) names too; inline images set has_image."""
    image = {"inline_data": {"mime_type": "image/png", "data": "iVBORw0KGgo="}}
    body = {
        "contents": [{"role": "user", "parts": [{"text": "what is this?"}, image]}],
        "system_instruction": {"parts": [{"text": "Be brief."}]},
        "generation_config": {"max_output_tokens": "2"},
    }
    candidate = post(server, f"/v1beta/models/{MODEL}:generateContent", body).json()["candidates"][0]
    assert candidate == {
        "content": {"parts": [{"text": "I see"}], "role": "model"},
        "finishReason": "MAX_TOKENS",
        "index": 0,
    }


# ---------------------------------------------------------------------- countTokens and embeddings


def test_count_tokens_matches_the_prompt_usage(client: genai.Client, server: FakeLLMServer) -> None:
    counted = client.models.count_tokens(model=MODEL, contents="hello")
    entry = server.journal.last
    reply = client.models.generate_content(model=MODEL, contents="hello")
    assert counted.total_tokens == reply.usage_metadata.prompt_token_count > 0  # type: ignore[union-attr]
    assert (entry.path, entry.api, entry.outcome, entry.status) == (
        f"/v1beta/models/{MODEL}:countTokens",
        "gemini",
        "counted",
        200,
    )


def test_embed_content_through_the_sdk(client: genai.Client) -> None:
    """google-genai calls `:batchEmbedContents`; vectors are seeded by model and text, 3072 values for
    gemini-embedding-001 unless `output_dimensionality` says otherwise."""
    result = client.models.embed_content(model="gemini-embedding-001", contents=["red", "blue"])
    vectors = [e.values or [] for e in result.embeddings or []]
    assert [len(v) for v in vectors] == [3072, 3072]
    assert vectors[0] != vectors[1]
    again = client.models.embed_content(model="gemini-embedding-001", contents=["red"])
    assert (again.embeddings or [])[0].values == vectors[0]
    small = client.models.embed_content(
        model="gemini-embedding-001", contents="red", config=types.EmbedContentConfig(output_dimensionality=8)
    )
    assert len((small.embeddings or [])[0].values or []) == 8


def test_embed_content_rest_shape(server: FakeLLMServer) -> None:
    response = post(server, "/v1beta/models/text-embedding-004:embedContent", {"content": {"parts": [{"text": "x"}]}})
    assert response.status_code == 200
    assert list(response.json()) == ["embedding"]
    assert len(response.json()["embedding"]["values"]) == 768
    empty = post(server, "/v1beta/models/text-embedding-004:batchEmbedContents", {"requests": []})
    assert empty.status_code == 400
    assert empty.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_count_tokens_checks_the_key(locked: FakeLLMServer) -> None:
    path = f"/v1beta/models/{MODEL}:countTokens"
    assert post(locked, path, ask("hi"), headers={}).status_code == 403
    assert post(locked, path, ask("hi"), headers={"x-goog-api-key": "nope"}).status_code == 400
    assert post(locked, path, ask("hi")).json()["totalTokens"] > 0
    assert post(locked, path, {"contents": []}).status_code == 400
