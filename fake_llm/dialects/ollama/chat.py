"""Ollama chat and generate (`POST /api/chat`, `POST /api/generate`): parsed into a ChatRequest, answered as one JSON
object or as NDJSON lines (one object per line, the last with `done: true`, `done_reason` and the metrics)."""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fake_llm.core.dialect import key_error
from fake_llm.core.steps import Calls, StepOptions, stream_steps
from fake_llm.dialects.base import ReplyMeta
from fake_llm.dialects.ollama import request as req
from fake_llm.dialects.ollama.wire import created_at, done_reason, dumps, error_body, metrics, response_headers
from fake_llm.errors import ProviderRequestError
from fake_llm.model.plan import PlannedChoice, PlannedReply, PlannedToolCall
from fake_llm.model.request import ChatRequest, Message, options_of
from fake_llm.model.spec import StreamError
from fake_llm.model.steps import StepKind
from fake_llm.model.stream import Event


def _call(call: PlannedToolCall) -> dict[str, Any] | None:
    """`{"function": {"name", "arguments": {...}}}`: arguments are an object (a call max_tokens cut is dropped)."""
    try:
        arguments = json.loads(call.arguments)
    except json.JSONDecodeError:
        return None
    return {"function": {"name": call.name, "arguments": arguments if isinstance(arguments, dict) else {}}}


@dataclass(frozen=True, slots=True)
class OllamaOptions:
    """What Ollama's renderers need beyond the neutral request."""

    #: `keep_alive: 0`: a request with nothing to answer unloads the model (else it loads it).
    unload: bool = False


def _load_reason(request: ChatRequest) -> str:
    return "unload" if options_of(request, OllamaOptions).unload else "load"


def _calls(choice: PlannedChoice) -> list[dict[str, Any]]:
    return [c for call in choice.tool_calls if (c := _call(call)) is not None]


class OllamaChat:
    """`/api/chat`: messages in, `message` out."""

    api = "ollama"
    id_prefix = ""  # Ollama answers carry no id
    routes: tuple[str, ...] = ("/api/chat",)
    stream_framing = "ndjson"
    path_prefix = ""
    body_too_large_status = 400
    profile: str | None = None
    counts_tokens = False
    answers_json = True
    body_format = "json"
    error_type_header: str | None = None
    stream_media_type: str | None = None

    def api_key(self, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> str | None:
        """Ollama Cloud (and proxies in front of a local Ollama) take `Authorization: Bearer`."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> ChatRequest:
        model = req.model_of(body)
        return self._request(body, headers, model, req.parse_messages(body.get("messages")))

    def _request(
        self, body: Mapping[str, Any], headers: Mapping[str, str], model: str, messages: tuple[Message, ...]
    ) -> ChatRequest:
        options = req.parse_options(body.get("options"))
        think = body.get("think")
        if think is not None and not isinstance(think, (bool, str)):
            raise req.unmarshal_error(think, "api.ThinkValue", "think")
        max_tokens = options.get("num_predict")
        seed = options.get("seed")
        sampling: dict[str, Any] = {k: options[k] for k in ("temperature", "top_p") if k in options}
        return ChatRequest(
            api=self.api,
            model=model,
            messages=messages,
            stream=req.check_stream(body),
            # num_predict -1 (or -2) means "until the context is full": no limit here.
            max_tokens=int(max_tokens) if isinstance(max_tokens, (int, float)) and max_tokens > 0 else None,
            stop=tuple(options.get("stop") or ()),
            tools=req.parse_tools(body.get("tools")),
            response_format=req.parse_format(body.get("format")),
            seed=int(seed) if isinstance(seed, (int, float)) else None,
            # Thinking text is sent only when `think` asks for it (as Ollama separates it only then).
            reasoning_shown=think not in (None, False),
            options=OllamaOptions(unload=body.get("keep_alive") in (0, "0", "0s")),
            headers=headers,
            # Reply templates read `request.temperature` at the top level, where OpenAI keeps it.
            body={**body, **sampling},
        )

    @staticmethod
    def _load_head(request: ChatRequest, meta: ReplyMeta) -> dict[str, Any]:
        return {"model": request.model, "created_at": created_at(meta.created)}

    def load_body(self, request: ChatRequest, meta: ReplyMeta) -> dict[str, Any] | None:
        """A request with nothing to answer (no messages, or generate without a prompt) loads the model, or with
        `keep_alive: 0` unloads it: Ollama answers at once with `done_reason` `load`/`unload`, and no rule is
        needed (clients preload models this way)."""
        if request.messages:
            return None
        message = {"role": "assistant", "content": ""}
        return {
            **self._load_head(request, meta),
            "message": message,
            "done_reason": _load_reason(request),
            "done": True,
        }

    # ------------------------------------------------------------------ rendering

    def _message(self, choice: PlannedChoice, request: ChatRequest, content: str | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": choice.text or "" if content is None else content}
        if content is None and choice.reasoning and request.reasoning_shown:
            message["thinking"] = choice.reasoning
        if content is None and choice.tool_calls:
            message["tool_calls"] = _calls(choice)
        return message

    def _head(self, completion: PlannedReply, meta: ReplyMeta) -> dict[str, Any]:
        return {"model": completion.model, "created_at": created_at(meta.created)}

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        choice = completion.choices[0]
        return {
            **self._head(completion, meta),
            "message": self._message(choice, request),
            "done_reason": done_reason(choice.finish_reason),
            "done": True,
            **metrics(completion.usage),
        }

    def _piece(self, head: dict[str, Any], **message: Any) -> str:
        return dumps({**head, "message": {"role": "assistant", **message}, "done": False})

    def stream_events(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        """Thinking pieces, content pieces, one line with the tool calls (Ollama never splits a call), then the
        final line: empty content, `done_reason`, `done: true` and the metrics."""
        head = self._head(completion, meta)
        choice = completion.choices[0]
        events: list[Event] = []
        options = StepOptions(reasoning=request.reasoning_shown, calls=Calls.TOGETHER)
        for step in stream_steps(completion, options):
            if step.kind is StepKind.REASONING:
                line = self._piece(head, content="", thinking=step.text)
            elif step.kind in (StepKind.TEXT, StepKind.REFUSAL):
                line = self._piece(head, content=step.text)
            elif step.kind is StepKind.TOOL_CALL:
                line = self._piece(head, content="", tool_calls=_calls(choice))
            else:
                continue  # no role line; the finish and usage make the final line
            events.append(Event(line, tokens=len(step.tokens), step=step.piece))
        final = {
            **head,
            "message": {"role": "assistant", "content": ""},
            "done_reason": done_reason(choice.finish_reason),
            "done": True,
            **metrics(completion.usage),
        }
        events.append(Event(dumps(final), kind="finish"))
        return events

    def encode_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> tuple[bytes, str] | None:
        return None  # JSON: completion_body

    def count_body(self, tokens: int) -> dict[str, Any]:
        return {"prompt_eval_count": tokens}

    def stream_failure(
        self, error: StreamError, position: int, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest
    ) -> list[Event]:
        return [self.stream_error_event(error, position)]

    def auth_error(self, given: str | None) -> ProviderRequestError:
        return key_error(given)

    def stream_error_event(self, error: StreamError, position: int) -> Event:
        """A line `{"error": "..."}`: the ollama client raises ResponseError when a line carries `error`."""
        return Event(dumps(error_body(500, error.message or "")), kind="error")

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
        if code == "invalid_api_key":
            message = "unauthorized"
        return error_body(status, message, extra=extra)

    def response_headers(self, meta: ReplyMeta) -> dict[str, str]:
        return response_headers()


def context_tokens(seed: int, model: str, count: int) -> list[int]:
    """The `context` a generate answer returns (token ids to continue from): deterministic ids, one per token."""
    raw = hashlib.shake_256(f"{seed}:{model}:context".encode()).digest(4 * count)
    return [x % 128000 for x in struct.unpack(f"<{count}I", raw)]


class OllamaGenerate(OllamaChat):
    """`/api/generate`: `system` and `prompt` in, `response` out (plus `context`)."""

    api = "ollama-generate"
    routes: tuple[str, ...] = ("/api/generate",)

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> ChatRequest:
        model = req.model_of(body)
        messages: list[Message] = []
        for name in ("system", "prompt", "suffix", "template"):
            value = body.get(name)
            if value is not None and not isinstance(value, str):
                raise req.unmarshal_error(value, "string", name)
        if body.get("system"):
            messages.append(Message("system", body["system"]))
        if body.get("prompt") or body.get("images"):
            messages.append(Message("user", body.get("prompt") or "", has_image=bool(body.get("images"))))
        return self._request(body, headers, model, tuple(messages))

    def load_body(self, request: ChatRequest, meta: ReplyMeta) -> dict[str, Any] | None:
        if request.messages:
            return None
        return {**self._load_head(request, meta), "response": "", "done": True, "done_reason": _load_reason(request)}

    def _line(self, head: dict[str, Any], response: str, **extra: Any) -> str:
        return dumps({**head, "response": response, **extra, "done": False})

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        choice = completion.choices[0]
        body: dict[str, Any] = {**self._head(completion, meta), "response": choice.text or ""}
        if choice.reasoning and request.reasoning_shown:
            body["thinking"] = choice.reasoning
        return {**body, **self._final(completion, meta)}

    def _final(self, completion: PlannedReply, meta: ReplyMeta) -> dict[str, Any]:
        counted = metrics(completion.usage)
        length = int(counted["prompt_eval_count"]) + int(counted["eval_count"])
        return {
            "done": True,
            "done_reason": done_reason(completion.choices[0].finish_reason),
            "context": context_tokens(meta.seed, completion.model, max(length, 1)),
            **counted,
        }

    def stream_events(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        head = self._head(completion, meta)
        events: list[Event] = []
        for step in stream_steps(completion, StepOptions(reasoning=request.reasoning_shown)):
            if step.kind is StepKind.REASONING:
                events.append(Event(self._line(head, "", thinking=step.text), tokens=len(step.tokens), step=step.piece))
            elif step.kind in (StepKind.TEXT, StepKind.REFUSAL):
                events.append(Event(self._line(head, step.text), tokens=len(step.tokens), step=step.piece))
        events.append(Event(dumps({**head, "response": "", **self._final(completion, meta)}), kind="finish"))
        return events
