"""`POST /v1/messages/count_tokens`: Anthropic's token counter, a dialect of its own that shares the Messages
parser, key, error and header functions (by holding a Messages dialect, not by inheriting from it).

The pipeline answers it with the same token count a Messages reply reports as `usage.input_tokens`, and journals it
like every other request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fake_llm.core.dialect import ReplyMeta, key_error
from fake_llm.dialects.anthropic.messages import AnthropicMessages
from fake_llm.errors import ProviderRequestError
from fake_llm.model.plan import PlannedReply
from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import StreamError
from fake_llm.model.stream import Event


class AnthropicCountTokens:
    """Validated and authenticated like `/v1/messages`; answers `{"input_tokens": N}`."""

    api = "anthropic"
    id_prefix = "msg_"
    routes: tuple[str, ...] = ("/v1/messages/count_tokens",)
    body_too_large_status = 413
    profile: str | None = None
    counts_tokens = True
    body_format = "json"
    answers_json = True
    stream_framing = "sse"
    path_prefix = ""
    error_type_header: str | None = None
    stream_media_type: str | None = None

    def __init__(self) -> None:
        self.messages = AnthropicMessages()

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str]) -> ChatRequest:
        """A count request has no max_tokens and no sampling options."""
        return self.messages.parse_request(body, headers, counting=True)

    def api_key(self, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> str | None:
        return self.messages.api_key(headers, params)

    def encode_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> tuple[bytes, str] | None:
        return None  # JSON: completion_body

    def load_body(self, request: ChatRequest, meta: ReplyMeta) -> dict[str, Any] | None:
        return None  # every request goes to the rules

    def count_body(self, tokens: int) -> dict[str, Any]:
        return self.messages.count_body(tokens)

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        return self.messages.completion_body(completion, meta, request)

    def stream_events(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        return self.messages.stream_events(completion, meta, request)

    def stream_failure(
        self, error: StreamError, position: int, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest
    ) -> list[Event]:
        return [self.stream_error_event(error, position)]

    def auth_error(self, given: str | None) -> ProviderRequestError:
        return key_error(given)

    def stream_error_event(self, error: StreamError, position: int) -> Event:
        return self.messages.stream_error_event(error, position)

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
    ) -> dict[str, Any]:
        return self.messages.error_body(status, message, type=type, param=param, code=code, extra=extra, flat=flat)

    def response_headers(self, meta: ReplyMeta) -> dict[str, str]:
        return self.messages.response_headers(meta)
