"""The HTTP layer's part in two power tools: calling a rule's Python reply function (its result validated like
YAML, which only this layer may load), and the response that drops a connection mid-body (seeded chaos's
disconnect of a non-streamed answer)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
from typing import Any

from starlette.types import Receive, Scope, Send

from fake_llm.errors import ErrorReply, ScenarioError
from fake_llm.http.sse import ScriptedDisconnect
from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import Reply, Rule
from fake_llm.scenarios.loader import parse_reply


class ReplyFunctionError(Exception):
    """A Python reply returned something that is not a valid reply (the test author's mistake, shown at teardown)."""


async def _await(value: Any) -> Any:
    return await value


def python_reply(rule: Rule, request: ChatRequest) -> Reply:
    """Call the rule's reply function with the neutral request. An async function runs to completion on an event
    loop of its own (the pipeline is synchronous). `ErrorReply` raised inside it becomes that error reply; any
    other exception goes up to the engine, which answers 500 and journals it for the pytest plugin to raise."""
    function = rule.reply_function
    assert function is not None
    try:
        result = function(request)
        if inspect.isawaitable(result):
            with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="fake-llm-reply") as pool:
                result = pool.submit(asyncio.run, _await(result)).result()
    except ErrorReply as exc:
        result = {"error": exc.fields}
    try:
        return parse_reply(result, rule=rule.name)
    except ScenarioError as exc:
        raise ReplyFunctionError(f"the reply function of rule {rule.name!r} returned an invalid reply: {exc}") from None


class DroppedResponse:
    """Sends the headers and the first half of `body`, then drops the connection (a non-streamed disconnect)."""

    def __init__(self, body: bytes, status: int, headers: dict[str, str], media_type: str) -> None:
        self.body, self.status = body, status
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self.headers.append((b"content-type", media_type.encode()))
        self.headers.append((b"content-length", str(len(body)).encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body[: len(self.body) // 2], "more_body": True})
        raise ScriptedDisconnect("chaos: connection dropped mid-body")
