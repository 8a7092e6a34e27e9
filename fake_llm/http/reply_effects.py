"""What happens to a matched reply before it is rendered: a Python reply function is called (and its result
validated like YAML), and seeded chaos replaces or breaks the answer. Also the response that drops a connection
mid-body, which chaos uses for non-streamed answers."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from fake_llm.core.chaos import ChaosDraw, draw
from fake_llm.core.journal import JournalEntry
from fake_llm.errors import ErrorReply, ScenarioError
from fake_llm.http.sse import DelayedResponse, ScriptedDisconnect
from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import Reply, Rule
from fake_llm.scenarios.loader import parse_reply

JSON_TYPE = "application/json"


class ReplyFunctionError(Exception):
    """A Python reply returned something that is not a valid reply (the test author's mistake, shown at teardown)."""


async def call_reply_function(rule: Rule, request: ChatRequest) -> Reply:
    """Call the rule's reply function with the neutral request (awaiting it if it is async). `ErrorReply` raised
    inside it becomes that error reply; any other exception goes up to the engine, which answers 500 and journals
    it for the pytest plugin to raise again."""
    function = rule.reply_function
    assert function is not None
    try:
        result = function(request)
        if inspect.isawaitable(result):
            result = await result
    except ErrorReply as exc:
        result = {"error": exc.fields}
    try:
        return parse_reply(result, rule=rule.name)
    except ScenarioError as exc:
        raise ReplyFunctionError(f"the reply function of rule {rule.name!r} returned an invalid reply: {exc}") from None


def function_name(rule: Rule) -> str:
    return getattr(rule.reply_function, "__qualname__", None) or repr(rule.reply_function)


async def prepare_reply(
    rule: Rule, reply: Reply, request: ChatRequest, use: int, chaos_seed: int, entry: JournalEntry
) -> tuple[Reply, Chaos | None]:
    """The reply to send: the rule's Python function's, if it has one, then chaos's error if one was drawn; the
    journal entry gets the reply's summary and the chaos draws. Raises ReplyFunctionError for a bad result."""
    if rule.reply_function is not None:
        reply = await call_reply_function(rule, request)
    chaos = roll_chaos(rule, use, chaos_seed)
    if chaos is not None and rule.chaos is not None:
        entry.chaos = list(chaos.found.notes)
        if chaos.found.error:
            reply = dataclasses.replace(Reply(error=rule.chaos.error), headers=reply.headers)
            entry.faults.append("chaos: error")
    entry.reply = reply.summary()
    if rule.reply_function is not None:
        entry.reply = f"python {function_name(rule)}: {entry.reply}"
    return reply, chaos


@dataclass(frozen=True, slots=True)
class Chaos:
    """The chaos one request gets: the rule's spec and what was drawn for it."""

    rule: Rule
    found: ChaosDraw


def roll_chaos(rule: Rule, use: int, session_seed: int) -> Chaos | None:
    """The draws for the `use`-th request `rule` answers; a rule's own seed wins over the session's."""
    if rule.chaos is None:
        return None
    seed = rule.chaos.seed if rule.chaos.seed is not None else session_seed
    return Chaos(rule, draw(rule.chaos, seed, rule.name, use))


class DroppedResponse:
    """Sends the headers and the first part of `body`, then drops the connection (a non-streamed disconnect)."""

    def __init__(self, body: bytes, status: int, headers: dict[str, str], media_type: str) -> None:
        self.body, self.status = body, status
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self.headers.append((b"content-type", media_type.encode()))
        self.headers.append((b"content-length", str(len(body)).encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body[: len(self.body) // 2], "more_body": True})
        raise ScriptedDisconnect("chaos: connection dropped mid-body")


def chaos_body(
    content: bytes,
    headers: dict[str, str],
    entry: JournalEntry,
    chaos: Chaos | None,
    time_scale: float,
    media_type: str = JSON_TYPE,
) -> ASGIApp:
    """A non-streamed body, cut (malformed), dropped midway (disconnect) or delayed (stall) as chaos drew."""
    found, spec = (chaos.found, chaos.rule.chaos) if chaos is not None else (None, None)
    if found is None or spec is None:
        return Response(content, 200, headers, media_type=media_type)
    if found.malformed:
        cut = max(1, int(found.position * len(content)))
        content = content[:cut]
        entry.faults.append(f"chaos: body cut at byte {cut}")
    response: ASGIApp = Response(content, 200, headers, media_type=media_type)
    if found.disconnect:
        entry.faults.append(f"chaos: connection dropped after {len(content) // 2} bytes")
        response = DroppedResponse(content, 200, headers, media_type)
    if found.stall:
        entry.faults.append(f"chaos: stall {spec.stall_ms:g} ms")
        entry.delay_ms += spec.stall_ms
        response = DelayedResponse(response, spec.stall_ms * time_scale / 1000.0)
    return response
