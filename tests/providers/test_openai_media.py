"""OpenAI moderations, images, speech, transcriptions and translations driven by the official openai client against
the threaded server (raw HTTP for the wire details): real PNG and WAV bytes, every moderation category, verbose
transcripts with segments and words, errors in OpenAI's envelope and 429 -> RateLimitError."""

from __future__ import annotations

import base64
import io
import itertools
import json
import wave
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fake_llm.core.media import png_size, tone, wav
from fake_llm.model.media import MODERATION_CATEGORIES
from fake_llm.testing.server import FakeLLMServer
from tests.conftest import MakeClient
from tests.helpers import serve
from tests.sdk_clients import openai_client

openai = pytest.importorskip("openai")

RULES = """
- name: violent
  match: {api: moderations, any_message: kill}
  reply: {moderation: {categories: {violence: 0.93, harassment/threatening: 0.61}}}
- name: per-input
  match: {api: moderations, any_message: per input}
  reply: {moderation: [{categories: [hate]}, {flagged: false}]}
- name: moderate
  match: {api: moderations}
  reply: {moderation: {}}
- name: cat
  match: {api: images, user: cat}
  reply: {image: {revised_prompt: "A fluffy cat."}}
- name: image
  match: {api: images}
  reply: {image: {}}
- name: busy
  match: {api: speech, user: busy}
  reply: {error: {status: 429, message: "Rate limit reached for tts-1."}}
- name: long-speech
  match: {api: speech, user: exactly two seconds}
  reply: {audio: {seconds: 2, frequency: 300}}
- name: speech
  match: {api: speech}
  reply: {audio: {}}
- name: french
  match: {api: transcriptions, user: bonjour.wav}
  reply: {content: "Bonjour tout le monde.", transcript: {language: french}}
- name: hello
  match: {api: [transcriptions, translations]}
  reply: {content: "Hello there. How are you today? Fine!"}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    yield from serve(RULES)


@pytest.fixture(autouse=True)
def _reset(server: FakeLLMServer) -> None:
    server.reset(rules=False)


def upload(name: str = "hello.wav", seconds: float = 3.2) -> tuple[str, bytes, str]:
    return name, wav(tone(seconds, 200, 5)), "audio/wav"


# --------------------------------------------------------------------------------------------- moderations


def test_moderation_carries_all_13_categories_per_input(server: FakeLLMServer) -> None:
    reply = openai_client(server).moderations.create(input=["I will kill you", "what a nice day"])
    assert len(reply.results) == 2
    assert reply.model == "omni-moderation-latest"
    assert reply.id.startswith("modr-")
    raw = server.journal.last
    assert raw.rule == "violent"
    for result in reply.results:
        assert result.flagged is True  # the rule's moderation applies to every input
        assert result.categories.violence
        assert result.categories.harassment_threatening
        assert not result.categories.hate
        assert result.category_scores.violence == 0.93
    body = httpx.post(server.base_url + "/moderations", json={"input": "hello"}).json()
    (result,) = body["results"]
    for key in ("categories", "category_scores", "category_applied_input_types"):
        assert list(result[key]) == list(MODERATION_CATEGORIES)
    assert result["flagged"] is False
    assert all(0 < score < 0.001 for score in result["category_scores"].values())
    assert result["category_applied_input_types"]["violence"] == ["text"]


def test_moderation_default_scores_are_deterministic(server: FakeLLMServer) -> None:
    first = httpx.post(server.base_url + "/moderations", json={"input": "same text"}).json()
    second = httpx.post(server.base_url + "/moderations", json={"input": "same text"}).json()
    other = httpx.post(server.base_url + "/moderations", json={"input": "other text"}).json()
    assert first["results"] == second["results"] != other["results"]


def test_moderation_list_gives_one_result_per_input(server: FakeLLMServer) -> None:
    reply = openai_client(server).moderations.create(input=["per input a", "per input b", "per input c"])
    assert [r.flagged for r in reply.results] == [True, False, False]
    assert reply.results[0].category_scores.hate == 0.9


def test_moderation_of_an_image_input(server: FakeLLMServer) -> None:
    parts: Any = [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    reply = openai_client(server).moderations.create(model="omni-moderation-latest", input=parts)
    (result,) = reply.results
    applied = result.category_applied_input_types
    assert applied.violence == ["image", "text"]
    assert applied.hate == ["text"]
    with pytest.raises(openai.BadRequestError, match="image inputs"):
        openai_client(server).moderations.create(model="text-moderation-latest", input=parts)


def test_moderation_requires_input(make_client: MakeClient) -> None:
    client = make_client("- name: m\n  reply: {moderation: {}}\n")
    response = client.post("/v1/moderations", json={"model": "omni-moderation-latest"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "input"


# --------------------------------------------------------------------------------------------- images


def test_images_b64_json_are_real_pngs_of_the_requested_size(server: FakeLLMServer) -> None:
    reply = openai_client(server).images.generate(prompt="a red fox", size="512x512", n=2, response_format="b64_json")
    images = [base64.b64decode(item.b64_json or "") for item in reply.data]
    assert [png_size(image) for image in images] == [(512, 512), (512, 512)]
    assert images[0] != images[1]  # each index its own image
    again = openai_client(server).images.generate(prompt="a red fox", size="512x512", n=2, response_format="b64_json")
    assert [item.b64_json for item in again.data] == [item.b64_json for item in reply.data]
    assert reply.created == 1767225600


def test_image_url_is_served_by_the_server(server: FakeLLMServer) -> None:
    reply = openai_client(server).images.generate(model="dall-e-3", prompt="a cat on a mat", size="1792x1024")
    (item,) = reply.data
    assert item.revised_prompt == "A fluffy cat."
    assert item.url is not None
    assert item.url.startswith(server.url + "/_fake/images/1792x1024/")
    fetched = httpx.get(item.url)
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "image/png"
    assert png_size(fetched.content) == (1792, 1024)
    assert httpx.get(server.url + "/_fake/images/9999x9999/" + "0" * 32 + ".png").status_code == 404


def test_gpt_image_answers_base64_with_usage(server: FakeLLMServer) -> None:
    reply = openai_client(server).images.generate(model="gpt-image-1", prompt="a lighthouse", size="1536x1024")
    assert png_size(base64.b64decode(reply.data[0].b64_json or "")) == (1536, 1024)
    assert reply.usage is not None
    assert reply.usage.input_tokens > 0
    assert reply.size == "1536x1024"
    assert reply.output_format == "png"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "x", "size": "800x600"}, "size"),
        ({"prompt": "x", "model": "dall-e-3", "n": 2}, "n"),
        ({"model": "dall-e-2"}, "prompt"),
        ({"prompt": "x", "model": "gpt-image-1", "response_format": "url"}, "response_format"),
        ({"prompt": "x", "model": "gpt-image-1", "output_format": "webp"}, "output_format"),
    ],
)
def test_image_request_errors_name_the_param(make_client: MakeClient, body: dict[str, Any], param: str) -> None:
    response = make_client("- name: i\n  reply: {image: {}}\n").post("/v1/images/generations", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


# --------------------------------------------------------------------------------------------- speech


def test_speech_wav_is_real_audio_as_long_as_the_text(server: FakeLLMServer) -> None:
    text = "The quick brown fox jumps over the lazy dog again and again."
    audio = openai_client(server).audio.speech.create(model="tts-1", voice="alloy", input=text, response_format="wav")
    with wave.open(io.BytesIO(audio.content)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, 24000)
        seconds = reader.getnframes() / reader.getframerate()
    assert seconds == pytest.approx(len(text.split()) / 2.5)
    assert audio.response.headers["content-type"] == "audio/wav"


def test_speech_pcm_and_scripted_length(server: FakeLLMServer) -> None:
    audio = openai_client(server).audio.speech.create(
        model="gpt-4o-mini-tts", voice="coral", input="exactly two seconds", response_format="pcm"
    )
    assert len(audio.content) == 2 * 24000 * 2
    assert audio.response.headers["content-type"] == "audio/pcm"


def test_speech_mp3_default(server: FakeLLMServer) -> None:
    pytest.importorskip("lameenc")
    audio = openai_client(server).audio.speech.create(model="tts-1", voice="nova", input="Hello there.")
    assert audio.response.headers["content-type"] == "audio/mpeg"
    assert audio.content[:2] == b"\xff\xf3"  # an MPEG audio frame sync


def test_speech_formats_without_an_encoder_are_a_clear_400(server: FakeLLMServer) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client(server).audio.speech.create(model="tts-1", voice="nova", input="hi", response_format="opus")
    assert "supported response_format values here: " in caught.value.message
    assert "wav, pcm" in caught.value.message


def test_speech_rate_limit_is_the_sdks_rate_limit_error(server: FakeLLMServer) -> None:
    with pytest.raises(openai.RateLimitError, match="Rate limit reached"):
        openai_client(server).audio.speech.create(model="tts-1", voice="nova", input="busy", response_format="wav")


def test_speech_sse_stream(server: FakeLLMServer) -> None:
    body = {"model": "gpt-4o-mini-tts", "voice": "alloy", "input": "Hi there.", "response_format": "pcm"}
    response = httpx.post(server.base_url + "/audio/speech", json={**body, "stream_format": "sse"})
    events = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1]["type"] == "speech.audio.done"
    assert events[-1]["usage"]["output_tokens"] > 0
    audio = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert audio == httpx.post(server.base_url + "/audio/speech", json=body).content


def test_speech_validation(make_client: MakeClient) -> None:
    client = make_client("- name: s\n  reply: {audio: {}}\n")
    response = client.post("/v1/audio/speech", json={"model": "tts-1", "input": "hi", "voice": "robot"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "voice"
    response = client.post("/v1/audio/speech", json={"model": "tts-1", "input": "hi"})
    assert response.json()["error"]["param"] == "voice"


# --------------------------------------------------------------------------------------------- transcriptions


def test_transcription_json_text_and_usage(server: FakeLLMServer) -> None:
    reply = openai_client(server).audio.transcriptions.create(model="whisper-1", file=upload())
    assert reply.text == "Hello there. How are you today? Fine!"
    assert reply.usage is not None
    assert reply.usage.type == "duration"
    assert reply.usage.seconds == 4
    entry = server.journal.last
    assert entry.body["file"] == {"filename": "hello.wav", "content_type": "audio/wav", "bytes": 153644, "seconds": 3.2}


def test_transcription_text_is_plain(server: FakeLLMServer) -> None:
    text = openai_client(server).audio.transcriptions.create(model="whisper-1", file=upload(), response_format="text")
    assert text == "Hello there. How are you today? Fine!\n"


def test_verbose_transcription_segments_and_words(server: FakeLLMServer) -> None:
    reply = openai_client(server).audio.transcriptions.create(
        model="whisper-1",
        file=upload(),
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
        temperature=0.2,
    )
    assert reply.duration == 3.2
    assert reply.language == "english"
    assert [s.text for s in reply.segments or []] == [" Hello there.", " How are you today?", " Fine!"]
    first = (reply.segments or [])[0]
    assert (first.id, first.seek, first.start, first.temperature) == (0, 0, 0.0, 0.2)
    assert first.tokens
    assert first.avg_logprob < 0
    assert first.compression_ratio > 0
    assert 0 < first.no_speech_prob < 1
    assert (reply.segments or [])[-1].end == 3.2
    words = reply.words or []
    assert [w.word for w in words][:3] == ["Hello", "there.", "How"]
    assert all(a.end <= b.start + 1e-9 for a, b in itertools.pairwise(words))


def test_transcript_language_from_the_rule_and_subtitles(server: FakeLLMServer) -> None:
    client = openai_client(server)
    reply = client.audio.transcriptions.create(
        model="whisper-1", file=upload("bonjour.wav"), response_format="verbose_json"
    )
    assert reply.language == "french"
    assert reply.text == "Bonjour tout le monde."
    srt = client.audio.transcriptions.create(model="whisper-1", file=upload(), response_format="srt")
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,100\nHello there.\n\n2\n")
    vtt = client.audio.transcriptions.create(model="whisper-1", file=upload(), response_format="vtt")
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.100\nHello there.\n")


def test_transcription_stream_for_gpt4o(server: FakeLLMServer) -> None:
    stream = openai_client(server).audio.transcriptions.create(model="gpt-4o-transcribe", file=upload(), stream=True)
    events = list(stream)
    deltas = "".join(e.delta for e in events if e.type == "transcript.text.delta")
    assert deltas == events[-1].text == "Hello there. How are you today? Fine!"
    assert events[-1].usage is not None
    assert events[-1].usage.output_tokens > 0


def test_translation(server: FakeLLMServer) -> None:
    # The SDK marks translations deprecated; the endpoint is still served.
    with pytest.warns(DeprecationWarning, match="deprecated"):
        reply = openai_client(server).audio.translations.create(model="whisper-1", file=upload())
    assert reply.text == "Hello there. How are you today? Fine!"
    assert server.journal.last.api == "translations"


def test_transcription_errors(make_client: MakeClient) -> None:
    client = make_client("- name: t\n  reply: {content: hi}\n")
    files = {"file": ("a.wav", wav(tone(0.5, 200)), "audio/wav")}
    response = client.post(
        "/v1/audio/transcriptions", files=files, data={"model": "gpt-4o-transcribe", "response_format": "srt"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "response_format"
    response = client.post("/v1/audio/transcriptions", data={"model": "whisper-1"}, files={"other": ("x", b"1")})
    assert response.json()["error"]["param"] == "file"
    response = client.post("/v1/audio/transcriptions", json={"model": "whisper-1"})
    assert response.status_code == 400
    assert "multipart/form-data" in response.json()["error"]["message"]
    data = {"model": "whisper-1", "timestamp_granularities[]": "word"}
    response = client.post("/v1/audio/transcriptions", files=files, data=data)
    assert response.json()["error"]["param"] == "timestamp_granularities[]"


def test_upload_size_is_bounded(make_client: MakeClient) -> None:
    client = make_client("- name: t\n  reply: {content: hi}\n", max_body_bytes=50_000)
    files = {"file": ("big.wav", wav(tone(3, 200)), "audio/wav")}
    response = client.post("/v1/audio/transcriptions", files=files, data={"model": "whisper-1"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "request_too_large"
