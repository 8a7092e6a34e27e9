"""Golden wire transcripts: every dialect crossed with the reply kinds, at a fixed seed and a frozen clock.

Each case is one request against an in-process app; its transcript (the request line and body, the HTTP status,
the response headers and the raw response body) is stored byte for byte under fixtures/golden/<dialect>/.
tests/test_goldens.py only reads them. Refreshing is an explicit command, never part of `make test`:

    make goldens            # = .venv/bin/python -m tests.goldens

then read the diff as a reviewer: these files are the wire contract.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from textwrap import dedent
from typing import Any

from starlette.testclient import TestClient

from tests import realtime_transcripts

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "fixtures" / "golden"
FROZEN = 1767225600
SEED = 0
#: Response headers that carry no wire contract (the test client's transport adds none of these today; kept out
#: so a framework upgrade that adds one does not rewrite every golden).
SKIP_HEADERS = frozenset({"date", "server"})

RULES = dedent(
    """
    - name: greet
      match: {user: hello}
      reply: {content: "Paris is the capital of France.", stream: {chunk_tokens: 2}}
    - name: weather-call
      match: {user: weather}
      reply: {tool_calls: [{name: get_weather, arguments: {city: Paris, unit: celsius}}]}
    - name: teapot
      match: {user: teapot}
      reply: {error: {status: 429, message: "Rate limit reached.", headers: {retry-after-ms: 20}}}
    - name: broken
      match: {user: broken}
      reply:
        content: "one two three four five six"
        stream: {chunk_tokens: 1, error_after: 2, error: {message: overloaded, type: server_error}}
    - name: embed
      match: {api: embeddings}
      reply: {content: ""}
    - name: vectors
      match: {api: [ollama-embed, cohere-embed, cohere-rerank, mistral-embeddings]}
      reply: {content: ""}
    - name: moderate
      match: {api: moderations}
      reply: {content: ""}
    """
)

WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
CHAT_TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}]
RESPONSES_TOOLS = [{"type": "function", "name": "get_weather", "parameters": WEATHER}]
ANTHROPIC_TOOLS = [{"name": "get_weather", "input_schema": WEATHER}]
GEMINI_TOOLS = [{"functionDeclarations": [{"name": "get_weather", "parameters": WEATHER}]}]


@dataclass(frozen=True)
class Case:
    """One request and where its transcript lives (`<dialect>/<name>.http`)."""

    dialect: str
    name: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    #: Multipart uploads (name -> (filename, bytes, content type)): `body` is then sent as the form's fields.
    files: dict[str, tuple[str, bytes, str]] | None = None

    @property
    def file(self) -> Path:
        return GOLDEN / self.dialect / f"{self.name}.http"


def _chat_like(dialect: str, path: str, model: str) -> list[Case]:
    def ask(text: str, **extra: Any) -> dict[str, Any]:
        return {"model": model, "messages": [{"role": "user", "content": text}], **extra}

    usage = {"stream": True, "stream_options": {"include_usage": True}}
    return [
        Case(dialect, "non_stream", path, ask("hello")),
        Case(dialect, "stream", path, ask("hello", stream=True)),
        Case(dialect, "stream_include_usage", path, ask("hello", **usage)),
        Case(dialect, "error", path, ask("teapot")),
        Case(dialect, "tool_call", path, ask("weather in Paris?", tools=CHAT_TOOLS)),
        Case(dialect, "tool_call_stream", path, ask("weather in Paris?", tools=CHAT_TOOLS, stream=True)),
        Case(dialect, "stream_fault", path, ask("broken", stream=True)),
    ]


def _ollama() -> list[Case]:
    """Ollama streams unless `stream: false`; answers are JSON, streams NDJSON."""

    def ask(text: str, **extra: Any) -> dict[str, Any]:
        return {"model": "llama3.2", "messages": [{"role": "user", "content": text}], **extra}

    d, path = "ollama", "/api/chat"
    generate = {"model": "llama3.2", "prompt": "hello", "system": "Answer in one sentence."}
    return [
        Case(d, "non_stream", path, ask("hello", stream=False)),
        Case(d, "stream", path, ask("hello")),
        Case(d, "error", path, ask("teapot", stream=False)),
        Case(d, "tool_call", path, ask("weather in Paris?", tools=CHAT_TOOLS, stream=False)),
        Case(d, "tool_call_stream", path, ask("weather in Paris?", tools=CHAT_TOOLS)),
        Case(d, "stream_fault", path, ask("broken")),
        Case(d, "generate_stream", "/api/generate", generate),
        Case(d, "embed", "/api/embed", {"model": "nomic-embed-text", "input": ["a", "b"], "dimensions": 4}),
    ]


def _cohere() -> list[Case]:
    def ask(text: str, **extra: Any) -> dict[str, Any]:
        return {"model": "command-a-03-2025", "messages": [{"role": "user", "content": text}], **extra}

    d, path = "cohere", "/v2/chat"
    embed = {
        "model": "embed-v4.0",
        "texts": ["a"],
        "input_type": "search_query",
        "embedding_types": ["float", "int8", "ubinary"],
        "output_dimension": 256,
    }
    rerank = {"model": "rerank-v3.5", "query": "capital of France", "documents": ["Paris is in France", "Bananas"]}
    return [
        Case(d, "non_stream", path, ask("hello")),
        Case(d, "stream", path, ask("hello", stream=True)),
        Case(d, "error", path, ask("teapot")),
        Case(d, "tool_call", path, ask("weather in Paris?", tools=CHAT_TOOLS)),
        Case(d, "tool_call_stream", path, ask("weather in Paris?", tools=CHAT_TOOLS, stream=True)),
        Case(d, "stream_fault", path, ask("broken", stream=True)),
        Case(d, "embed", "/v2/embed", embed),
        Case(d, "rerank", "/v2/rerank", rerank),
    ]


def _mistral() -> list[Case]:
    """OpenAI's cases, less `stream_options` (Mistral reports usage on every stream's last chunk anyway)."""
    chat = _chat_like("mistral", "/mistral/v1/chat/completions", "mistral-small-latest")
    embeddings = {"model": "codestral-embed", "inputs": ["a"], "output_dimension": 4}
    return [
        *[case for case in chat if case.name != "stream_include_usage"],
        Case("mistral", "embeddings", "/mistral/v1/embeddings", embeddings),
    ]


def _completions() -> list[Case]:
    def ask(prompt: str, **extra: Any) -> dict[str, Any]:
        return {"model": "gpt-3.5-turbo-instruct", "prompt": prompt, **extra}

    path = "/v1/completions"
    usage = {"stream": True, "stream_options": {"include_usage": True}}
    return [
        Case("openai_completions", "non_stream", path, ask("hello")),
        Case("openai_completions", "stream", path, ask("hello", stream=True)),
        Case("openai_completions", "stream_include_usage", path, ask("hello", **usage)),
        Case("openai_completions", "error", path, ask("teapot")),
        Case("openai_completions", "stream_fault", path, ask("broken", stream=True)),
    ]


def _embeddings() -> list[Case]:
    path = "/v1/embeddings"
    model = "text-embedding-3-small"
    return [
        Case("openai_embeddings", "non_stream", path, {"model": model, "input": "hello", "dimensions": 8}),
        Case(
            "openai_embeddings",
            "batch_base64",
            path,
            {"model": model, "input": ["a", "b"], "dimensions": 4, "encoding_format": "base64"},
        ),
        Case("openai_embeddings", "error", path, {"model": model, "input": "x", "dimensions": -1}),
    ]


def _responses() -> list[Case]:
    def ask(text: str, **extra: Any) -> dict[str, Any]:
        return {"model": "gpt-4o-mini", "input": text, **extra}

    d, path = "openai_responses", "/v1/responses"
    return [
        Case(d, "non_stream", path, ask("hello")),
        Case(d, "stream", path, ask("hello", stream=True)),
        Case(d, "error", path, ask("teapot")),
        Case(d, "tool_call", path, ask("weather in Paris?", tools=RESPONSES_TOOLS)),
        Case(d, "tool_call_stream", path, ask("weather in Paris?", tools=RESPONSES_TOOLS, stream=True)),
        Case(d, "stream_fault", path, ask("broken", stream=True)),
    ]


def _anthropic() -> list[Case]:
    def ask(text: str, **extra: Any) -> dict[str, Any]:
        return {
            "model": "claude-sonnet-4-5",
            "max_tokens": 256,
            "messages": [{"role": "user", "content": text}],
            **extra,
        }

    d, path = "anthropic", "/v1/messages"
    version = {"anthropic-version": "2023-06-01"}
    count = {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": "hello there"}],
        "tools": ANTHROPIC_TOOLS,
    }
    return [
        Case(d, "non_stream", path, ask("hello"), version),
        Case(d, "stream", path, ask("hello", stream=True), version),
        Case(d, "error", path, ask("teapot"), version),
        Case(d, "tool_call", path, ask("weather in Paris?", tools=ANTHROPIC_TOOLS), version),
        Case(d, "tool_call_stream", path, ask("weather in Paris?", tools=ANTHROPIC_TOOLS, stream=True), version),
        Case(d, "stream_fault", path, ask("broken", stream=True), version),
        Case(d, "count_tokens", "/v1/messages/count_tokens", count, version),
        Case(d, "count_tokens_error", "/v1/messages/count_tokens", {"model": "claude-sonnet-4-5"}, version),
    ]


def _gemini(version: str) -> list[Case]:
    def ask(text: str, **extra: Any) -> dict[str, Any]:
        return {"contents": [{"role": "user", "parts": [{"text": text}]}], **extra}

    d = f"gemini_{version}"
    generate = f"/{version}/models/gemini-2.0-flash:generateContent"
    stream = f"/{version}/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
    return [
        Case(d, "non_stream", generate, ask("hello")),
        Case(d, "stream", stream, ask("hello")),
        Case(d, "error", generate, ask("teapot")),
        Case(d, "tool_call", generate, ask("weather in Paris?", tools=GEMINI_TOOLS)),
        Case(d, "tool_call_stream", stream, ask("weather in Paris?", tools=GEMINI_TOOLS)),
        Case(d, "stream_fault", stream, ask("broken")),
    ]


def _bedrock() -> list[Case]:
    model = "anthropic.claude-3-5-sonnet-20240620-v1:0"
    tools = {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": WEATHER}}}]}

    def ask(text: str, **extra: Any) -> dict[str, Any]:
        return {"messages": [{"role": "user", "content": [{"text": text}]}], **extra}

    def invoke(text: str) -> dict[str, Any]:
        return {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 256,
            "messages": [{"role": "user", "content": text}],
        }

    d, converse, stream = "bedrock", f"/model/{model}/converse", f"/model/{model}/converse-stream"
    return [
        Case(d, "non_stream", converse, ask("hello")),
        Case(d, "stream", stream, ask("hello")),
        Case(d, "error", converse, ask("teapot")),
        Case(d, "tool_call", converse, ask("weather in Paris?", toolConfig=tools)),
        Case(d, "tool_call_stream", stream, ask("weather in Paris?", toolConfig=tools)),
        Case(d, "stream_fault", stream, ask("broken")),
        Case(d, "invoke_anthropic", f"/model/{model}/invoke", invoke("hello")),
        Case(d, "invoke_anthropic_stream", f"/model/{model}/invoke-with-response-stream", invoke("hello")),
        Case(
            d,
            "invoke_llama_stream",
            "/model/meta.llama3-70b-instruct-v1:0/invoke-with-response-stream",
            {"prompt": "hello"},
        ),
    ]


def _openai_media() -> list[Case]:
    from fake_llm.core.media import tone, wav

    upload = {"file": ("hello.wav", wav(tone(2.0, 200, 4)), "audio/wav")}
    verbose = {
        "model": "whisper-1",
        "response_format": "verbose_json",
        "timestamp_granularities[]": ["word", "segment"],
    }
    speech = {"model": "tts-1", "voice": "alloy", "input": "hello", "response_format": "wav"}
    return [
        Case("openai_moderations", "non_stream", "/v1/moderations", {"input": ["hello", "a nice day"]}),
        Case("openai_moderations", "error", "/v1/moderations", {"model": "omni-moderation-latest"}),
        Case(
            "openai_images",
            "b64_json",
            "/v1/images/generations",
            {"prompt": "hello", "size": "256x256", "response_format": "b64_json"},
        ),
        Case("openai_images", "url", "/v1/images/generations", {"prompt": "hello", "model": "dall-e-3"}),
        Case("openai_images", "error", "/v1/images/generations", {"prompt": "hello", "size": "800x600"}),
        Case("openai_speech", "wav", "/v1/audio/speech", speech),
        Case("openai_speech", "error", "/v1/audio/speech", {**speech, "input": "teapot"}),
        Case("openai_transcriptions", "json", "/v1/audio/transcriptions", {"model": "whisper-1"}, files=upload),
        Case("openai_transcriptions", "verbose_json", "/v1/audio/transcriptions", verbose, files=upload),
        Case(
            "openai_transcriptions",
            "vtt",
            "/v1/audio/transcriptions",
            {"model": "whisper-1", "response_format": "vtt"},
            files=upload,
        ),
    ]


CASES: list[Case] = [
    *_chat_like("openai_chat", "/v1/chat/completions", "gpt-4o-mini"),
    *_responses(),
    *_completions(),
    *_embeddings(),
    *_anthropic(),
    *_gemini("v1beta"),
    *_gemini("v1"),
    *_chat_like("azure", "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", "gpt-4o"),
    # Scale's gateway names models vendor/model_name (a bare name is its 400, which would pin nothing else).
    *_chat_like("scale", "/v5/chat/completions", "openai/gpt-4o-mini"),
    *_ollama(),
    *_cohere(),
    *_mistral(),
    *_bedrock(),
    *_openai_media(),
]


def _client(rules: str = RULES) -> TestClient:
    from fake_llm.http.app import create_app
    from fake_llm.scenarios.loader import parse_rules
    from fake_llm.settings import Settings

    scenario = parse_rules(rules, source="<golden>")
    return TestClient(create_app(Settings(freeze_time=FROZEN, seed=SEED), scenarios=[scenario]))


def compact(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def transcript(
    method: str, path: str, request: bytes, status: int, headers: Iterator[tuple[str, str]], body: bytes
) -> bytes:
    """`POST path` + the request body, a blank line, `HTTP status`, the headers, a blank line, the raw body."""
    lines = [f"{method} {path}".encode(), request, b"", f"HTTP {status}".encode()]
    lines += [f"{k}: {v}".encode() for k, v in headers if k.lower() not in SKIP_HEADERS]
    return b"\n".join([*lines, b"", body])


def run_case(case: Case) -> bytes:
    """The transcript of `case` against a fresh app (so ids and sequence numbers start from the same place)."""
    if case.files is not None:  # a multipart upload: the request line shows the fields and each file's name
        sent = compact({**case.body, **{k: f"<{v[0]}: {len(v[1])} bytes>" for k, v in case.files.items()}})
        request = {"data": case.body, "files": case.files}
    else:
        sent, request = compact(case.body), {"json": case.body}
    with _client() as client, client.stream("POST", case.path, headers=case.headers, **request) as response:
        body = b"".join(response.iter_raw())
        return transcript("POST", case.path, sent, response.status_code, response.headers.items(), body)


# ------------------------------------------------------------------------------------------ record mode

RECORD_CASE = "record/openai_chat_round_trip.http"


def record_round_trip() -> bytes:
    """Record a stream and a tool call through the proxy from an upstream fake-llm, then replay the cassette: the
    transcript holds the cassette as written (upstream URL and times aside, which it does not keep) and the two
    replayed wire exchanges."""
    from fake_llm.record.proxy import Recorder, create_recorder_app
    from fake_llm.testing.server import FakeLLMServer

    asks = [
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}], "stream": True},
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "weather?"}], "tools": CHAT_TOOLS},
    ]
    parts: list[bytes] = []
    with TemporaryDirectory() as tmp, FakeLLMServer(rules=RULES, freeze_time=FROZEN, seed=SEED) as upstream:
        cassette = Path(tmp) / "recorded.yaml"
        recorder = Recorder(upstream.url, cassette, timing=False)
        with TestClient(create_recorder_app(recorder)) as proxy:
            for body in asks:
                proxy.post("/v1/chat/completions", json=body).read()
        text = cassette.read_bytes()
        parts += [b"# cassette", text]
        with _client(text.decode()) as replay:
            for body in asks:
                response = replay.post("/v1/chat/completions", json=body)
                parts.append(
                    transcript(
                        "POST",
                        "/v1/chat/completions",
                        compact(body),
                        response.status_code,
                        response.headers.items(),
                        response.content,
                    )
                )
    return b"\n".join(parts)


# ------------------------------------------------------------------------------- the older body-only files


def _legacy() -> dict[str, Callable[[], bytes]]:
    """fixtures/golden/chat_*.{json,sse}: bodies only, read by tests/providers/test_openai_chat.py."""
    rules = dedent(
        """
        - name: capital
          match: {user: capital of France}
          reply: {content: "The capital of France is Paris."}
        """
    )
    messages = [
        {"role": "system", "content": "Answer in one sentence."},
        {"role": "user", "content": "What is the capital of France?"},
    ]

    def body(extra: dict[str, Any]) -> Callable[[], bytes]:
        def run() -> bytes:
            from fake_llm.http.app import create_app
            from fake_llm.scenarios.loader import parse_rules
            from fake_llm.settings import Settings

            app = create_app(Settings(freeze_time=FROZEN, seed=0), scenarios=[parse_rules(rules, source="<golden>")])
            request = {"model": "gpt-4o-mini", "messages": messages, **extra}
            with TestClient(app) as client, client.stream("POST", "/v1/chat/completions", json=request) as response:
                return b"".join(response.iter_raw())

        return run

    return {
        "chat_completion.json": body({}),
        "chat_stream.sse": body({"stream": True}),
        "chat_stream_usage.sse": body({"stream": True, "stream_options": {"include_usage": True}}),
    }


def all_goldens() -> dict[Path, Callable[[], bytes]]:
    """Every golden file and how to produce its bytes."""
    out: dict[Path, Callable[[], bytes]] = {case.file: (lambda case=case: run_case(case)) for case in CASES}
    out[GOLDEN / RECORD_CASE] = record_round_trip
    out.update({GOLDEN / name: run for name, run in _legacy().items()})
    out.update(realtime_transcripts.goldens())
    return out


def main(argv: list[str]) -> int:
    """Write every golden file (or those whose path contains one of `argv`); print what changed."""
    for path, produce in all_goldens().items():
        if argv and not any(a in str(path) for a in argv):
            continue
        data = produce()
        old = path.read_bytes() if path.exists() else None
        if old != data:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            print(("new " if old is None else "changed ") + str(path.relative_to(ROOT)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
