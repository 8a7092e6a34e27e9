"""Bedrock Runtime driven by boto3 (`bedrock-runtime`, dummy credentials, SigV4 never checked) against the threaded
server, plus raw HTTP for the wire: Converse, ConverseStream, tools, errors, InvokeModel with Anthropic and Llama
bodies, and the binary event-stream framing decoded by botocore's own decoder."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from fake_llm.dialects.bedrock.eventstream import encode_frame
from fake_llm.testing.server import FakeLLMServer
from tests.conftest import MakeClient
from tests.helpers import serve
from tests.sdk_clients import closing

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402
from botocore.eventstream import EventStreamBuffer  # noqa: E402
from botocore.exceptions import ClientError, EventStreamError  # noqa: E402

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0"

RULES = """
- name: bedrock-only
  match: {api: bedrock, user: which api}
  reply: {content: "Bedrock Converse"}
- name: invoke-only
  match: {api: bedrock-invoke, user: which api}
  reply: {content: "Bedrock InvokeModel"}
- name: weather-answer
  match: {tool_result_for: get_weather}
  reply: {content: "It is {{ tool_result }} in Paris."}
- name: weather
  match: {user: weather}
  reply:
    content: "Let me check."
    tool_calls: [{name: get_weather, arguments: {city: Paris}}]
- name: throttle
  match: {user: throttle}
  reply: {error: {status: 429}}
- name: quota
  match: {user: quota}
  reply: {error: {status: 400, type: ServiceQuotaExceededException, message: "Quota exceeded."}}
- name: midstream
  match: {user: midstream}
  reply: {content: "This stream fails partway through.", stream: {error_after: 3, error: {type: throttlingException}}}
- name: think
  match: {user: think}
  reply: {reasoning_content: "The user wants the answer.", content: "Forty-two."}
- name: limited
  match: {user: limited}
  rate_limit: {requests_per_minute: 1}
  reply: {content: "once"}
- name: hello
  reply: {content: "Hello from the fake Bedrock!"}
"""

TOOLS = {
    "tools": [
        {
            "toolSpec": {
                "name": "get_weather",
                "description": "Weather in a city",
                "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}},
            }
        }
    ]
}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    yield from serve(RULES)


@pytest.fixture(autouse=True)
def _reset(server: FakeLLMServer) -> None:
    server.reset(rules=False)


def bedrock(server: FakeLLMServer, key: str = "AKIDEXAMPLE") -> Any:
    """A boto3 bedrock-runtime client for `server`: dummy credentials, no retries, bounded timeouts."""
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=10)
    return closing(
        boto3.client(
            "bedrock-runtime",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key="secret",
            config=config,
        )
    )


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"text": text}]}]


# --------------------------------------------------------------------------------------------- Converse


def test_converse_text_usage_and_metrics(server: FakeLLMServer) -> None:
    reply = bedrock(server).converse(modelId=MODEL, messages=user("hi"), system=[{"text": "Be brief."}])
    assert reply["output"]["message"] == {"role": "assistant", "content": [{"text": "Hello from the fake Bedrock!"}]}
    assert reply["stopReason"] == "end_turn"
    usage = reply["usage"]
    assert usage["inputTokens"] > 0
    assert usage["outputTokens"] > 0
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert reply["metrics"]["latencyMs"] > 0
    assert reply["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    entry = server.journal.last
    assert (entry.api, entry.rule, entry.model, entry.stream) == ("bedrock", "hello", MODEL, False)


def test_converse_inference_profile_arn_in_the_path(server: FakeLLMServer) -> None:
    bedrock(server).converse(modelId=PROFILE_ARN, messages=user("hi"))
    entry = server.journal.last
    assert entry.model == PROFILE_ARN
    assert entry.path == f"/model/{PROFILE_ARN}/converse"


def test_converse_stream_text(server: FakeLLMServer) -> None:
    events = list(bedrock(server).converse_stream(modelId=MODEL, messages=user("hi"))["stream"])
    names = [next(iter(e)) for e in events]
    assert names[0] == "messageStart"
    assert names[-2:] == ["messageStop", "metadata"]
    assert "contentBlockStart" not in names  # a text block opens with its first delta
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text == "Hello from the fake Bedrock!"
    metadata = events[-1]["metadata"]
    assert metadata["usage"]["outputTokens"] > 0
    assert metadata["metrics"]["latencyMs"] > 0
    assert events[-2]["messageStop"] == {"stopReason": "end_turn"}


def test_converse_tool_use_and_result_round_trip(server: FakeLLMServer) -> None:
    client = bedrock(server)
    first = client.converse(modelId=MODEL, messages=user("weather in Paris?"), toolConfig=TOOLS)
    assert first["stopReason"] == "tool_use"
    content = first["output"]["message"]["content"]
    assert content[0] == {"text": "Let me check."}
    call = content[1]["toolUse"]
    assert call["name"] == "get_weather"
    assert call["input"] == {"city": "Paris"}
    assert call["toolUseId"].startswith("tooluse_")
    result = {"toolResult": {"toolUseId": call["toolUseId"], "content": [{"text": "sunny"}], "status": "success"}}
    messages = [*user("weather in Paris?"), first["output"]["message"], {"role": "user", "content": [result]}]
    second = client.converse(modelId=MODEL, messages=messages, toolConfig=TOOLS)
    assert second["output"]["message"]["content"] == [{"text": "It is sunny in Paris."}]
    assert server.journal.last.rule == "weather-answer"


def test_converse_stream_tool_use(server: FakeLLMServer) -> None:
    stream = bedrock(server).converse_stream(modelId=MODEL, messages=user("weather?"), toolConfig=TOOLS)["stream"]
    events = list(stream)
    starts = [e["contentBlockStart"] for e in events if "contentBlockStart" in e]
    assert len(starts) == 1
    assert starts[0]["contentBlockIndex"] == 1
    assert starts[0]["start"]["toolUse"]["name"] == "get_weather"
    fragments = [
        e["contentBlockDelta"]["delta"]["toolUse"]["input"]
        for e in events
        if "contentBlockDelta" in e and "toolUse" in e["contentBlockDelta"]["delta"]
    ]
    assert json.loads("".join(fragments)) == {"city": "Paris"}
    assert [e for e in events if "messageStop" in e] == [{"messageStop": {"stopReason": "tool_use"}}]


def test_converse_reasoning_blocks(server: FakeLLMServer) -> None:
    reply = bedrock(server).converse(modelId=MODEL, messages=user("think"))
    reasoning, text = reply["output"]["message"]["content"]
    assert reasoning["reasoningContent"]["reasoningText"]["text"] == "The user wants the answer."
    assert reasoning["reasoningContent"]["reasoningText"]["signature"]
    assert text == {"text": "Forty-two."}


def test_provider_neutral_rule_answers_alike_through_converse_and_openai_chat(server: FakeLLMServer) -> None:
    from tests.sdk_clients import openai_client

    pytest.importorskip("openai")
    converse = bedrock(server).converse(modelId=MODEL, messages=user("hi there"))
    chat = openai_client(server).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi there"}]
    )
    assert converse["output"]["message"]["content"][0]["text"] == chat.choices[0].message.content
    assert converse["usage"]["outputTokens"] == chat.usage.completion_tokens
    assert [e.rule for e in server.journal.entries] == ["hello", "hello"]


def test_api_names_tell_converse_from_invoke(server: FakeLLMServer) -> None:
    client = bedrock(server)
    converse = client.converse(modelId=MODEL, messages=user("which api?"))
    assert converse["output"]["message"]["content"][0]["text"] == "Bedrock Converse"
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "which api?"}],
    }
    invoked = json.loads(client.invoke_model(modelId=MODEL, body=json.dumps(body))["body"].read())
    assert invoked["content"][0]["text"] == "Bedrock InvokeModel"
    assert [entry.api for entry in server.journal.entries] == ["bedrock", "bedrock-invoke"]


# --------------------------------------------------------------------------------------------- errors


def test_throttling_is_a_client_error_with_botocores_code(server: FakeLLMServer) -> None:
    with pytest.raises(ClientError) as caught:
        bedrock(server).converse(modelId=MODEL, messages=user("throttle"))
    error = caught.value.response
    assert error["Error"]["Code"] == "ThrottlingException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "ThrottlingException"
    assert type(caught.value).__name__ == "ThrottlingException"  # the modelled exception class


def test_rate_limit_rule_maps_to_throttling(server: FakeLLMServer) -> None:
    client = bedrock(server)
    client.converse(modelId=MODEL, messages=user("limited"))
    with pytest.raises(ClientError) as caught:
        client.converse(modelId=MODEL, messages=user("limited"))
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"


def test_scripted_exception_type_is_kept(server: FakeLLMServer) -> None:
    with pytest.raises(ClientError) as caught:
        bedrock(server).converse(modelId=MODEL, messages=user("quota"))
    assert caught.value.response["Error"] == {"Message": "Quota exceeded.", "Code": "ServiceQuotaExceededException"}


def test_mid_stream_exception_frame(server: FakeLLMServer) -> None:
    stream = bedrock(server).converse_stream(modelId=MODEL, messages=user("midstream"))["stream"]
    seen: list[Any] = []
    with pytest.raises(EventStreamError) as caught:
        seen.extend(stream)
    stream.close()  # an aborted stream keeps its connection until closed
    # error_after counts pieces of text, as in every dialect: messageStart, three text deltas, then the exception.
    assert len(seen) == 4
    assert [e["contentBlockDelta"]["delta"]["text"] for e in seen[1:]] == ["This", " stream", " fails"]
    assert caught.value.response["Error"]["Code"] == "throttlingException"


def test_validation_exception_names_the_member(make_client: MakeClient) -> None:
    client = make_client("- name: any\n  reply: {content: ok}\n")
    bad = {"messages": [{"role": "robot", "content": [{"text": "hi"}]}]}
    response = client.post(f"/model/{MODEL}/converse", json=bad)
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"] == "ValidationException"
    assert response.json()["message"] == (
        "1 validation error detected: Value \"robot\" at 'messages.1.member.role' failed to satisfy constraint: "
        "Member must satisfy enum value set: [user, assistant]"
    )
    missing = client.post(f"/model/{MODEL}/converse", json={"inferenceConfig": {"maxTokens": 10}})
    assert missing.status_code == 400
    assert "'messages'" in missing.json()["message"]


def test_unknown_operation_is_404(make_client: MakeClient) -> None:
    client = make_client("- name: any\n  reply: {content: ok}\n")
    response = client.post(f"/model/{MODEL}/summon", json={})
    assert response.status_code == 404
    assert response.headers["x-amzn-errortype"] == "ResourceNotFoundException"
    assert "converse-stream" in response.json()["message"]


def test_no_match_is_a_validation_exception_boto_does_not_retry(make_client: MakeClient) -> None:
    client = make_client("- name: only\n  match: {user: nothing like this}\n  reply: {content: ok}\n")
    response = client.post(f"/model/{MODEL}/converse", json={"messages": user("hi")})
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"] == "ValidationException"
    assert "only" in response.json()["message"]


def test_sigv4_access_key_is_the_api_key() -> None:
    with FakeLLMServer(rules=RULES, time_scale=0, api_keys=("AKIDGOOD",)) as locked:
        assert bedrock(locked, "AKIDGOOD").converse(modelId=MODEL, messages=user("hi"))["stopReason"] == "end_turn"
        with pytest.raises(ClientError) as caught:
            bedrock(locked, "AKIDBAD").converse(modelId=MODEL, messages=user("hi"))
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"


# --------------------------------------------------------------------------------------------- InvokeModel


def anthropic_body(text: str, **extra: Any) -> str:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": text}],
    }
    return json.dumps({**body, **extra})


def test_invoke_model_anthropic_body(server: FakeLLMServer) -> None:
    reply = bedrock(server).invoke_model(modelId=PROFILE_ARN, body=anthropic_body("hi"))
    assert reply["contentType"] == "application/json"
    message = json.loads(reply["body"].read())
    assert message["id"].startswith("msg_bdrk_")
    assert message["type"] == "message"
    assert message["content"] == [{"type": "text", "text": "Hello from the fake Bedrock!"}]
    assert message["usage"]["input_tokens"] > 0
    assert message["stop_reason"] == "end_turn"


def test_invoke_model_with_response_stream_anthropic(server: FakeLLMServer) -> None:
    tools = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    body = anthropic_body("weather?", tools=tools)
    reply = bedrock(server).invoke_model_with_response_stream(modelId=MODEL, body=body)
    events = [json.loads(part["chunk"]["bytes"]) for part in reply["body"]]
    types = [e["type"] for e in events]
    assert types[0] == "message_start"
    assert types[-1] == "message_stop"
    assert "ping" not in types
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["inputTokenCount"] > 0
    assert metrics["outputTokenCount"] > 0
    partial = "".join(e["delta"].get("partial_json", "") for e in events if e["type"] == "content_block_delta")
    assert json.loads(partial) == {"city": "Paris"}


def test_invoke_model_rejects_a_wrong_anthropic_version(server: FakeLLMServer) -> None:
    with pytest.raises(ClientError) as caught:
        bedrock(server).invoke_model(modelId=MODEL, body=anthropic_body("hi", anthropic_version="2023-06-01"))
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "bedrock-2023-05-31" in caught.value.response["Error"]["Message"]


LLAMA_PROMPT = (
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\nhi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
)


def test_invoke_model_llama_body(server: FakeLLMServer) -> None:
    body = json.dumps({"prompt": LLAMA_PROMPT, "max_gen_len": 64, "temperature": 0.5})
    reply = json.loads(bedrock(server).invoke_model(modelId="meta.llama3-70b-instruct-v1:0", body=body)["body"].read())
    assert reply["generation"] == "Hello from the fake Bedrock!"
    assert reply["prompt_token_count"] > 0
    assert reply["generation_token_count"] > 0
    assert reply["stop_reason"] == "stop"
    assert server.journal.last.body["prompt"] == LLAMA_PROMPT


def test_invoke_model_with_response_stream_llama(server: FakeLLMServer) -> None:
    body = json.dumps({"prompt": LLAMA_PROMPT})
    stream = bedrock(server).invoke_model_with_response_stream(modelId="meta.llama3-70b-instruct-v1:0", body=body)
    chunks = [json.loads(part["chunk"]["bytes"]) for part in stream["body"]]
    assert "".join(c["generation"] for c in chunks) == "Hello from the fake Bedrock!"
    assert chunks[0]["prompt_token_count"] > 0
    assert chunks[1]["prompt_token_count"] is None
    assert [c["stop_reason"] for c in chunks][-2:] == [None, "stop"]
    assert chunks[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] == chunks[-1]["generation_token_count"]


def test_llama_prompt_turns_are_matched() -> None:
    from fake_llm.dialects.bedrock.invoke import llama_messages

    messages = llama_messages(LLAMA_PROMPT)
    assert [(m.role, m.text) for m in messages] == [("system", "Be brief."), ("user", "hi there")]
    assert [(m.role, m.text) for m in llama_messages("Tell me a joke")] == [("user", "Tell me a joke")]


# --------------------------------------------------------------------------------------------- the framing


def decode(raw: bytes) -> list[Any]:
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    return list(buffer)


def test_every_frame_parses_with_botocore_and_carries_the_required_headers(make_client: MakeClient) -> None:
    client = make_client("- name: any\n  reply: {content: 'Hi é 👋'}\n")
    response = client.post(f"/model/{quote(PROFILE_ARN, safe='')}/converse-stream", json={"messages": user("hi")})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.amazon.eventstream"
    frames = decode(response.content)
    assert len(frames) >= 5
    for frame in frames:
        assert frame.headers[":message-type"] == "event"
        assert frame.headers[":content-type"] == "application/json"
        assert frame.headers[":event-type"]
        json.loads(frame.payload)


def test_encoder_crcs_are_checked_by_botocore() -> None:
    from botocore.eventstream import ChecksumMismatch

    frame = encode_frame({":event-type": "chunk", ":message-type": "event"}, b'{"bytes":"e30="}')
    (message,) = decode(frame)
    assert message.payload == b'{"bytes":"e30="}'
    assert base64.b64decode(json.loads(message.payload)["bytes"]) == b"{}"
    broken = bytearray(frame)
    broken[-6] ^= 0xFF  # a payload byte: the message CRC no longer holds
    with pytest.raises(ChecksumMismatch):
        decode(bytes(broken))


# --------------------------------------------------------------------------------------------- request validation

TOOLS_BODY = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"messages": "hi"}, "Value \"hi\" at 'messages' failed to satisfy constraint: Member must be a list"),
        ({"messages": []}, "A conversation must start with a user message."),
        (
            {"messages": [{"role": "assistant", "content": [{"text": "hi"}]}]},
            "A conversation must start with a user message.",
        ),
        (
            {"messages": [None]},
            "Value null at 'messages.1.member' failed to satisfy constraint: Member must not be null",
        ),
        (
            {"messages": [{"role": "user"}]},
            "at 'messages.1.member.content' failed to satisfy constraint: Member must not",
        ),
        (
            {"messages": [{"role": "user", "content": [{"text": "a", "image": {}}]}]},
            "The content block at messages.1.member.content.1.member must set exactly one of: text, image",
        ),
        ({"messages": [{"role": "user", "content": [{"text": 3}]}]}, "'messages.1.member.content.1.member.text'"),
        (
            {"messages": [{"role": "user", "content": [{"toolUse": {"name": "f"}}]}]},
            "'messages.1.member.content.1.member.toolUse.toolUseId' failed to satisfy constraint: Member must not be",
        ),
        (
            {"messages": [{"role": "user", "content": [{"toolResult": {"content": []}}]}]},
            "'messages.1.member.content.1.member.toolResult.toolUseId'",
        ),
        ({"messages": user("hi"), "system": [5]}, "'system.1.member' failed to satisfy constraint: Member must be a"),
        ({"messages": user("hi"), "inferenceConfig": {"maxTokens": 0}}, "'inferenceConfig.maxTokens'"),
        ({"messages": user("hi"), "inferenceConfig": {"temperature": 1.5}}, "'inferenceConfig.temperature'"),
        ({"messages": user("hi"), "inferenceConfig": {"stopSequences": ["a"] * 5}}, "'inferenceConfig.stopSequences'"),
        (
            {"messages": user("hi"), "toolConfig": {}},
            "'toolConfig.tools' failed to satisfy constraint: Member must not",
        ),
        ({"messages": user("hi"), "toolConfig": {"tools": [{}]}}, "'toolConfig.tools.1.member.toolSpec'"),
        (
            {"messages": user("hi"), "toolConfig": {"tools": [{"toolSpec": {"inputSchema": {"json": {}}}}]}},
            "'toolConfig.tools.1.member.toolSpec.name'",
        ),
        (
            {"messages": user("hi"), "toolConfig": {"tools": [{"toolSpec": {"name": "f"}}]}},
            "'toolConfig.tools.1.member.toolSpec.inputSchema'",
        ),
        (
            {**TOOLS_BODY, "toolConfig": {**TOOLS, "toolChoice": {"sometimes": {}}}},
            "'toolConfig.toolChoice' failed to satisfy constraint: Member must set one of: auto, any, tool",
        ),
        (["not", "an", "object"], "the request body must be a JSON object"),
    ],
)
def test_converse_validation(make_client: MakeClient, body: Any, expected: str) -> None:
    client = make_client("- name: any\n  reply: {content: ok}\n")
    response = client.post(f"/model/{MODEL}/converse", json=body)
    assert response.status_code == 400, response.text
    assert response.headers["x-amzn-errortype"] == "ValidationException"
    assert expected in response.json()["message"]


@pytest.mark.parametrize(
    ("choice", "rule"),
    [({"any": {}}, "forced"), ({"tool": {"name": "get_weather"}}, "by-name"), ({"auto": {}}, "auto")],
)
def test_tool_choice_maps_to_the_neutral_names(make_client: MakeClient, choice: dict[str, Any], rule: str) -> None:
    client = make_client(
        """
        - name: forced
          match: {tool_choice: required}
          reply: {tool_calls: [{name: get_weather, arguments: {city: Rome}}]}
        - name: by-name
          match: {tool_choice: get_weather}
          reply: {tool_calls: [{name: get_weather, arguments: {city: Lyon}}]}
        - name: auto
          reply: {content: ok}
        """
    )
    tools = {**TOOLS, "tools": [*TOOLS["tools"], {"systemTool": {"name": "web"}}]}
    response = client.post(
        f"/model/{MODEL}/converse", json={**TOOLS_BODY, "toolConfig": {**tools, "toolChoice": choice}}
    )
    assert response.status_code == 200, response.text
    assert client.get("/_fake/journal").json()["entries"][-1]["rule"] == rule


def test_images_and_json_tool_results_reach_matching(make_client: MakeClient) -> None:
    client = make_client(
        """
        - name: picture
          match: {has_image: true, any_message: '"sky":"sunny"'}
          reply: {content: "A sunny picture."}
        """
    )
    result = {"toolResult": {"toolUseId": "t1", "content": [{"json": {"sky": "sunny"}}]}}
    image = {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}}
    messages = [
        {"role": "user", "content": [{"text": "weather?"}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {}}}]},
        {"role": "user", "content": [result, image, {"text": "and this?"}]},
    ]
    response = client.post(f"/model/{MODEL}/converse", json={"messages": messages, "toolConfig": TOOLS})
    assert response.json()["output"]["message"]["content"] == [{"text": "A sunny picture."}]
