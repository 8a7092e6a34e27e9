"""The AWS wire around a dialect's answer (Bedrock): error types in a header, and event-stream content types."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fake_llm.dialects import Dialect


def with_aws_headers(dialect: Dialect, response: ASGIApp) -> ASGIApp:
    """`response` as `dialect`'s wire needs it: unchanged unless the dialect names an error-type header."""
    header = dialect.error_type_header
    if header is None:
        return response
    return AmazonHeaders(response, header.encode(), (dialect.stream_media_type or "").encode())


class AmazonHeaders:
    """Copies an error body's `__type` into the error-type header (botocore's ClientError code comes from it), and
    sends streams, which the SSE writer frames with the dialect's own event frames, under the dialect's type."""

    def __init__(self, inner: ASGIApp, header: bytes, stream_type: bytes) -> None:
        self.inner, self.header, self.stream_type = inner, header, stream_type

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        held: list[Message] = []

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                content_type = dict(message["headers"]).get(b"content-type", b"")
                if content_type.startswith(b"text/event-stream") and self.stream_type:
                    content_type = self.stream_type
                headers = [(k, v) for k, v in message["headers"] if k != b"content-type"]
                message = {**message, "headers": [*headers, (b"content-type", content_type)]}
                if message["status"] >= 400 and content_type.startswith(b"application/json"):
                    held.append(message)  # the error type is in the body: wait for it
                    return
            elif held and message["type"] == "http.response.body":
                start = held.pop()
                try:
                    name = json.loads(message.get("body", b"")).get("__type")
                except (ValueError, AttributeError):
                    name = None
                if isinstance(name, str):
                    start = {**start, "headers": [*start["headers"], (self.header, name.encode())]}
                await send(start)
            await send(message)

        await self.inner(scope, receive, wrapped)
