"""The Dialect protocol every API adapter implements, and ReplyMeta, the ids one reply carries on the wire.

It lives in the core because the pipeline (core/pipeline.py) calls the request side of a dialect and the stream
planner calls its event side; the dialects import it from here (dialects/base.py re-exports it). Every member is
declared, so nothing is read with getattr.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from fake_llm.errors import ProviderRequestError
from fake_llm.model.plan import PlannedReply
from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import StreamError
from fake_llm.model.stream import Event


@dataclass(frozen=True, slots=True)
class ReplyMeta:
    """What identifies one reply on the wire: its id, creation time and fingerprint."""

    id: str
    created: int
    system_fingerprint: str
    request_id: str
    #: The server's seed, for values a dialect derives itself (embedding vectors, its own ids).
    seed: int = 0
    #: Seeds what must be equal for identical requests answered by the same rule (logprobs): a digest of the
    #: request body, the rule, its reply step and the server seed; never the id, which counts requests.
    content_seed: str = ""


class Dialect(Protocol):
    """Parses one API's requests into ChatRequest and renders planned replies and errors in that API's shapes."""

    #: The dialect's name (journal `api`, record-mode rule files, `match.api`).
    api: str
    #: Prefix of reply ids (`chatcmpl-`, `msg_` ...).
    id_prefix: str
    #: The POST paths this dialect answers (Starlette path syntax: `{model:path}` captures a model name).
    routes: tuple[str, ...]
    #: The status of a body over `max_body_bytes` (OpenAI answers 400, Anthropic's edge 413; wire-format §5.5).
    body_too_large_status: int
    #: The provider profile this dialect implies (Scale's paths), or None for the rule's or the server's.
    profile: str | None
    #: True for a token counter (Anthropic count_tokens): it is answered with the prompt's token count, no rule
    #: is consulted, and its request id derives from the body (the same count, the same id).
    counts_tokens: bool
    #: False when an answer is not JSON (audio bytes, plain-text transcripts: `encode_body` makes them); record mode
    #: forwards such exchanges without writing a rule.
    answers_json: bool
    #: A prefix fake-llm puts before the real API's paths (`/mistral`), which record mode drops going upstream.
    path_prefix: str
    #: How a stream is framed: `sse`, or `ndjson` (Ollama: one bare JSON object per line).
    stream_framing: str
    #: How the request body is sent: `json`, or `multipart` (the audio uploads, parsed by the HTTP layer).
    body_format: str
    #: AWS dialects: the header naming an error's type (botocore reads it), else None.
    error_type_header: str | None
    #: The content type of a stream when it is not `text/event-stream` (Bedrock's event stream), else None.
    stream_media_type: str | None

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str]) -> ChatRequest:
        """`params`: the path parameters and query string of the request (e.g. a model taken from the path)."""
        ...

    def api_key(self, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> str | None:
        """The key the request authenticates with (`params`: the query string, for `?key=`), or None."""
        ...

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]: ...

    def encode_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> tuple[bytes, str] | None:
        """The body and content type of an answer that is not JSON (audio bytes, plain-text transcripts); None to
        send `completion_body` as JSON."""
        ...

    def load_body(self, request: ChatRequest, meta: ReplyMeta) -> dict[str, Any] | None:
        """The answer to a request the dialect answers itself, no rule consulted (Ollama's model load), else None."""
        ...

    def count_body(self, tokens: int) -> dict[str, Any]:
        """The body answering a token count (only called when `counts_tokens`)."""
        ...

    def stream_events(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]: ...

    def stream_error_event(self, error: StreamError, position: int) -> Event:
        """The event a mid-stream `error` fault sends; `position` is its index among the stream's events."""
        ...

    def stream_failure(
        self, error: StreamError, position: int, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest
    ) -> list[Event]:
        """Every event a mid-stream `error` fault sends from `position` on: the error event, and whatever the API
        ends a failed stream with (Responses' `response.failed`); most dialects send the error event alone."""
        ...

    def auth_error(self, given: str | None) -> ProviderRequestError:
        """The error for a key not in `api_keys` (`given`: the key sent, None when there was none); most dialects
        answer `key_error(given)`, Gemini its 400/403 split."""
        ...

    def error_body(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        param: str | None = None,
        code: Any = None,
        extra: Mapping[str, Any] | None = None,
        flat: bool = False,
    ) -> dict[str, Any]: ...

    def response_headers(self, meta: ReplyMeta) -> dict[str, str]: ...


def key_error(given: str | None) -> ProviderRequestError:
    """The 401 for a wrong or missing key, as OpenAI words it (the other dialects render it in their own shape)."""
    shown = f": {given[:3]}****{given[-4:]}" if given and len(given) > 8 else ""
    message = f"Incorrect API key provided{shown}." if given else "You didn't provide an API key."
    return ProviderRequestError(message, code="invalid_api_key", status=401)
