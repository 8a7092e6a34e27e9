"""OpenAI embeddings through the official SDK: the default base64 path and floats (wire-format §4.2), dimensions,
batches, deterministic unit vectors, scripted vectors, the `api:` match key and request validation."""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fake_llm.testing.server import FakeLLMServer
from tests.helpers import serve
from tests.sdk_clients import openai_client

openai = pytest.importorskip("openai")

SMALL = "text-embedding-3-small"
LARGE = "text-embedding-3-large"
SCRIPTED = [0.1, -0.2, 0.3, 0.4]

RULES = f"""
- name: scripted
  match: {{api: embeddings, user: scripted}}
  reply: {{embedding: {SCRIPTED}}}
- name: any-embedding
  match: {{api: embeddings}}
  reply: {{content: "ignored"}}
- name: chat
  match: {{api: openai-chat}}
  reply: {{content: "a chat answer"}}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    yield from serve(RULES)


@pytest.fixture(autouse=True)
def _reset(server: FakeLLMServer) -> None:
    server.reset(rules=False)


client = openai_client


def norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


def test_sdk_default_asks_for_base64_and_decodes_it(server: FakeLLMServer) -> None:
    raw = client(server).embeddings.with_raw_response.create(model=SMALL, input="The food was tasty.")
    assert server.journal.last.body["encoding_format"] == "base64"
    wire = raw.http_response.json()
    encoded = wire["data"][0]["embedding"]
    assert isinstance(encoded, str)
    packed = base64.b64decode(encoded)
    assert len(packed) == 1536 * 4
    decoded = raw.parse().data[0].embedding
    assert decoded == list(struct.unpack("<1536f", packed))
    assert norm(decoded) == pytest.approx(1.0, abs=1e-5)
    assert wire["object"] == "list"
    assert wire["model"] == SMALL
    assert wire["data"][0]["object"] == "embedding"
    assert wire["usage"] == {"prompt_tokens": 5, "total_tokens": 5}


def test_float_format_gives_the_same_vector(server: FakeLLMServer) -> None:
    openai_client = client(server)
    default = openai_client.embeddings.create(model=SMALL, input="hello").data[0].embedding
    floats = openai_client.embeddings.create(model=SMALL, input="hello", encoding_format="float").data[0].embedding
    assert server.journal.last.body["encoding_format"] == "float"
    assert floats == default


def test_dimensions(server: FakeLLMServer) -> None:
    openai_client = client(server)
    assert len(openai_client.embeddings.create(model=LARGE, input="hello").data[0].embedding) == 3072
    full = openai_client.embeddings.create(model=SMALL, input="hello").data[0].embedding
    short = openai_client.embeddings.create(model=SMALL, input="hello", dimensions=256).data[0].embedding
    assert len(short) == 256
    assert norm(short) == pytest.approx(1.0, abs=1e-5)
    # A shortened vector points where the full vector's prefix points, as with text-embedding-3.
    cosine = sum(a * b for a, b in zip(short, full[:256], strict=True)) / norm(full[:256])
    assert cosine == pytest.approx(1.0, abs=1e-5)


def test_batch_gets_one_item_per_input_in_order(server: FakeLLMServer) -> None:
    openai_client = client(server)
    batch = openai_client.embeddings.create(model=SMALL, input=["alpha", "beta", "alpha"], encoding_format="float")
    assert [item.index for item in batch.data] == [0, 1, 2]
    alpha, beta, alpha_again = (item.embedding for item in batch.data)
    assert alpha == alpha_again
    assert alpha != beta
    single = openai_client.embeddings.create(model=SMALL, input="beta", encoding_format="float")
    assert single.data[0].embedding == beta
    assert batch.usage.prompt_tokens == batch.usage.total_tokens == 3


def test_vectors_depend_on_seed_model_and_text_only(server: FakeLLMServer) -> None:
    first = client(server).embeddings.create(model=SMALL, input="stable").data[0].embedding
    with (
        FakeLLMServer(rules=RULES, freeze_time=0, time_scale=0) as same_seed,
        FakeLLMServer(rules=RULES, seed=7, time_scale=0) as other_seed,
    ):
        assert client(same_seed).embeddings.create(model=SMALL, input="stable").data[0].embedding == first
        assert client(other_seed).embeddings.create(model=SMALL, input="stable").data[0].embedding != first
    other_model = client(server).embeddings.create(model="text-embedding-ada-002", input="stable").data[0].embedding
    assert len(other_model) == 1536
    assert other_model != first


def test_token_array_inputs(server: FakeLLMServer) -> None:
    batch = client(server).embeddings.create(model=SMALL, input=[[1, 2, 3], [4, 5]], encoding_format="float")
    assert len(batch.data) == 2
    assert batch.data[0].embedding != batch.data[1].embedding
    assert norm(batch.data[1].embedding) == pytest.approx(1.0, abs=1e-5)


def test_scripted_embedding_is_every_inputs_vector(server: FakeLLMServer) -> None:
    openai_client = client(server)
    floats = openai_client.embeddings.create(model=SMALL, input=["x", "scripted"], encoding_format="float")
    assert [item.embedding for item in floats.data] == [SCRIPTED, SCRIPTED]
    default = openai_client.embeddings.create(model=SMALL, input="scripted").data[0].embedding
    assert default == list(struct.unpack("<4f", struct.pack("<4f", *SCRIPTED)))  # float32 on the base64 path
    assert server.journal.last.rule == "scripted"


def test_api_match_key_keeps_chat_rules_off_embeddings(server: FakeLLMServer) -> None:
    openai_client = client(server)
    chat = openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert chat.choices[0].message.content == "a chat answer"
    openai_client.embeddings.create(model=SMALL, input="x")
    assert server.journal.last.rule == "any-embedding"
    server.add_rules("- {name: chat-only, match: {api: openai-chat}, reply: {content: hi}}", replace=True)
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.embeddings.create(model=SMALL, input="x")
    assert caught.value.code == "fake_llm_no_match"
    assert "api: request came in as 'embeddings'" in caught.value.message


def test_stream_is_refused(server: FakeLLMServer) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(server).embeddings.create(model=SMALL, input="hello", extra_body={"stream": True})
    assert caught.value.param == "stream"


@pytest.mark.parametrize(
    ("extra", "param", "message"),
    [
        pytest.param({"input": ""}, "input", "'$.input' is invalid", id="empty-string"),
        pytest.param({"input": []}, "input", "'$.input' is invalid", id="empty-list"),
        pytest.param({"input": ["a"] * 2049}, "input", "array too long", id="too-many"),
        pytest.param({"input": [1.5]}, "input", "Invalid type for 'input'", id="input-type"),
        pytest.param({"input": "a", "dimensions": 2000}, "dimensions", "above maximum value", id="dimensions"),
        pytest.param({"input": "a", "dimensions": 0}, "dimensions", "below minimum value", id="dimensions-zero"),
        pytest.param({"input": "a", "encoding_format": "hex"}, "encoding_format", "Invalid value", id="encoding"),
    ],
)
def test_validation_errors_name_the_param(
    server: FakeLLMServer, extra: dict[str, Any], param: str, message: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(server).embeddings.create(model=SMALL, **extra)
    assert caught.value.param == param
    assert message in caught.value.message


def test_missing_input_is_a_400(server: FakeLLMServer) -> None:
    with httpx.Client(timeout=10) as http:
        response = http.post(server.base_url + "/embeddings", json={"model": SMALL})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "input"
