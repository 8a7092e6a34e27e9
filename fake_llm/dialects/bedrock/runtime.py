"""The Bedrock Runtime dialect: `POST /model/{modelId}/{converse|converse-stream|invoke|invoke-with-response-stream}`
(rest-json; model ids, inference-profile ARNs included, arrive URL-encoded in the path). Errors carry their type in
`x-amzn-ErrorType`, where botocore reads the code of the ClientError it raises."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from fake_llm.core.dialect import key_error
from fake_llm.dialects.base import ReplyMeta
from fake_llm.dialects.bedrock.converse import converse_body, converse_stream_events
from fake_llm.dialects.bedrock.converse_request import parse_inference, parse_messages, parse_tools
from fake_llm.dialects.bedrock.eventstream import CONTENT_TYPE, FrameEvent
from fake_llm.dialects.bedrock.invoke import INVOKE_API, invoke_body, invoke_stream_events, parse_invoke
from fake_llm.errors import ProviderRequestError
from fake_llm.model.plan import PlannedReply
from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import StreamError
from fake_llm.model.stream import Event

ACTIONS = ("converse", "converse-stream", "invoke", "invoke-with-response-stream")
STREAMING_ACTIONS = ("converse-stream", "invoke-with-response-stream")
#: Exception shapes of the service model and their HTTP statuses.
EXCEPTIONS = {
    "ValidationException": 400,
    "ServiceQuotaExceededException": 400,
    "ConflictException": 400,
    "UnrecognizedClientException": 403,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ModelTimeoutException": 408,
    "ModelErrorException": 424,
    "ModelStreamErrorException": 424,
    "ThrottlingException": 429,
    "ModelNotReadyException": 429,
    "InternalServerException": 500,
    "ServiceUnavailableException": 503,
}
#: The exception a status maps to when a scenario names none (first match in EXCEPTIONS order wins otherwise).
STATUS_TYPES = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    413: "ValidationException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
    504: "ModelTimeoutException",
}
DEFAULT_MESSAGES = {
    "ThrottlingException": "Too many requests, please wait before trying again.",
    "UnrecognizedClientException": "The security token included in the request is invalid.",
    "ServiceUnavailableException": "Bedrock is unable to process your request.",
    "ModelStreamErrorException": "The model encountered an error while streaming its response.",
}


def exception_type(status: int, scripted: str | None) -> str:
    """A scripted type when it names one of Bedrock's exceptions (any case of its first letter), else by status."""
    if scripted:
        name = scripted[0].upper() + scripted[1:]
        if name in EXCEPTIONS:
            return name
    return STATUS_TYPES.get(status, "InternalServerException" if status >= 500 else "ValidationException")


class BedrockRuntime:
    """Amazon Bedrock Runtime: Converse (`api: bedrock`) and InvokeModel (`api: bedrock-invoke`)."""

    api = "bedrock"
    #: InvokeModel with an Anthropic body answers a Messages body whose id has Bedrock's prefix.
    id_prefix = "msg_bdrk_"
    routes: tuple[str, ...] = ("/model/{target:path}",)
    #: What the HTTP layer does for this wire: streams go out as event-stream frames, and an error body's `__type`
    #: is copied into this header (http/aws_headers.py).
    stream_media_type: str | None = CONTENT_TYPE
    error_type_header: str | None = "x-amzn-errortype"
    body_format = "json"
    answers_json = True
    stream_framing = "sse"
    path_prefix = ""
    body_too_large_status = 400
    profile: str | None = None
    counts_tokens = False

    def api_key(self, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> str | None:
        """A Bedrock API key (`Authorization: Bearer`), or the access key id of a SigV4 signature (never verified)."""
        scheme, _, rest = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and rest.strip():
            return rest.strip()
        if scheme == "AWS4-HMAC-SHA256":
            credential = rest.partition("Credential=")[2]
            return credential.partition("/")[0] or None
        return None

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> ChatRequest:
        target = (params or {}).get("target", "")
        model, _, action = target.rpartition("/")
        if not model or action not in ACTIONS:
            raise ProviderRequestError(
                f"UnknownOperationException: fake-llm serves /model/{{modelId}}/ + one of {', '.join(ACTIONS)}; "
                f"got /model/{target}",
                status=404,
            )
        stream = action in STREAMING_ACTIONS
        if action.startswith("invoke"):
            return parse_invoke(body, model, stream, headers)
        if not isinstance(body, dict):
            raise ProviderRequestError("1 validation error detected: the request body must be a JSON object")
        max_tokens, stop = parse_inference(body.get("inferenceConfig"))
        tools, tool_choice = parse_tools(body.get("toolConfig"))
        return ChatRequest(
            api=self.api,
            model=model,
            messages=parse_messages(body.get("messages"), body.get("system")),
            stream=stream,
            max_tokens=max_tokens,
            stop=stop,
            tools=tools,
            tool_choice=tool_choice,
            headers=headers,
            body=body,
        )

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        if request.api == INVOKE_API:
            return invoke_body(completion, meta, request)
        return converse_body(completion, meta)

    def stream_events(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        if request.api == INVOKE_API:
            return invoke_stream_events(completion, meta, request)
        return converse_stream_events(completion, meta)

    def encode_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> tuple[bytes, str] | None:
        return None  # JSON: completion_body

    def load_body(self, request: ChatRequest, meta: ReplyMeta) -> dict[str, Any] | None:
        return None  # every request goes to the rules

    def count_body(self, tokens: int) -> dict[str, Any]:
        """Bedrock's CountTokens answer."""
        return {"inputTokens": tokens}

    def stream_failure(
        self, error: StreamError, position: int, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest
    ) -> list[Event]:
        return [self.stream_error_event(error, position)]

    def auth_error(self, given: str | None) -> ProviderRequestError:
        return key_error(given)

    def stream_error_event(self, error: StreamError, position: int) -> Event:
        """An exception frame; botocore raises EventStreamError with its `:exception-type` as the code. The stream
        members are camelCase (`throttlingException`); with none scripted, `modelStreamErrorException`."""
        name = exception_type(500, error.type) if error.type else "ModelStreamErrorException"
        message = error.message or DEFAULT_MESSAGES.get(name, "The model encountered an error.")
        payload = json.dumps({"message": message}, ensure_ascii=False, separators=(",", ":"))
        return FrameEvent(payload, event=name[0].lower() + name[1:], kind="error")

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
        """`{"message": ...}`, plus `__type`, which the HTTP layer copies into the `x-amzn-ErrorType` header
        (botocore reads the code from either)."""
        name = exception_type(status, type)
        body: dict[str, Any] = {"message": message or DEFAULT_MESSAGES.get(name, name)}
        body.update(extra or {})
        body["__type"] = name
        return body

    def response_headers(self, meta: ReplyMeta) -> dict[str, str]:
        request_id = uuid.uuid5(uuid.NAMESPACE_URL, f"fake-llm:{meta.seed}:{meta.request_id}")
        return {"x-amzn-requestid": str(request_id)}
