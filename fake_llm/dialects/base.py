"""The Provider protocol every dialect adapter implements, and the shared reply metadata."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from fake_llm.core.replies import Completion
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


class Provider(Protocol):
    """Parses one API's requests into ChatRequest and renders Completions and errors in that API's shapes."""

    api: str
    #: Prefix of reply ids (`chatcmpl-`, `msg_` ...).
    id_prefix: str
    #: The POST paths this dialect answers (Starlette path syntax: `{model:path}` captures a model name).
    routes: tuple[str, ...]

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str]) -> ChatRequest:
        """`params`: the path parameters and query string of the request (e.g. a model taken from the path)."""
        ...

    def api_key(self, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> str | None:
        """The key the request authenticates with (`params`: the query string, for `?key=`), or None."""
        ...

    def completion_body(self, completion: Completion, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]: ...

    def stream_events(self, completion: Completion, meta: ReplyMeta, request: ChatRequest) -> list[Event]: ...

    def stream_error_event(self, error: StreamError) -> Event: ...

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
