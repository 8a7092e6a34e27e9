"""Google Gemini (`POST /{v1,v1beta}/models/{model}:generateContent` and `:streamGenerateContent`): the dialect and
its wire shapes (wire-format §6); request validation lives in request.py."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any

from fake_llm.core.replies import merge
from fake_llm.core.steps import Calls, StepOptions, stream_steps
from fake_llm.dialects.base import ReplyMeta
from fake_llm.dialects.gemini.request import (
    bad_value,
    dumps,
    get_field,
    invalid,
    number_field,
    object_field,
    parse_contents,
    parse_response_format,
    parse_system,
    parse_tool_choice,
    parse_tools,
)
from fake_llm.errors import ProviderRequestError
from fake_llm.model.plan import PlannedChoice, PlannedReply, PlannedToolCall, Usage
from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import StreamError
from fake_llm.model.steps import Step, StepKind
from fake_llm.model.stream import Event

METHODS = ("generateContent", "streamGenerateContent")
#: google.rpc status names by HTTP status (wire-format §6 "Errors").
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
STATUS_CODES = {**{name: code for code, name in STATUS_NAMES.items()}, "FAILED_PRECONDITION": 400, "UNKNOWN": 500}
#: What Google says for each status when a scenario's error gives no message.
ERROR_MESSAGES = {
    400: "Request contains an invalid argument.",
    401: "Request had invalid authentication credentials.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    429: "You exceeded your current quota, please check your plan and billing details. For more information on this "
    "error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
    500: "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}
FINISH_REASONS = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP", "function_call": "STOP"}
FINISH_REASONS["content_filter"] = "SAFETY"
USAGE_NAMES = {
    "prompt_tokens": "promptTokenCount",
    "completion_tokens": "candidatesTokenCount",
    "total_tokens": "totalTokenCount",
    "reasoning_tokens": "thoughtsTokenCount",
}


class Gemini:
    """The Gemini API (Google AI Studio) dialect."""

    api = "gemini"
    id_prefix = ""  # responseId has no prefix
    # The model name holds `/` and the method follows a colon, so one path route serves both methods; tuned models
    # have their own collection (`tunedModels/x:generateContent`), told apart by the parameter name.
    routes: tuple[str, ...] = (
        "/v1beta/models/{target:path}",
        "/v1/models/{target:path}",
        "/v1beta/tunedModels/{tuned:path}",
        "/v1/tunedModels/{tuned:path}",
    )

    body_too_large_status = 400
    profile: str | None = None
    counts_tokens = False
    body_format = "json"
    answers_json = True
    stream_framing = "sse"
    path_prefix = ""
    error_type_header: str | None = None
    stream_media_type: str | None = None

    def api_key(self, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> str | None:
        """`x-goog-api-key` (google-genai), else `?key=` (when the engine passes the query), else an OAuth Bearer."""
        key = headers.get("x-goog-api-key", "").strip()
        if key:
            return key
        if params and params.get("key"):
            return params["key"]
        scheme, _, token = headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def auth_error(self, given: str | None) -> ProviderRequestError:
        """Google answers a wrong key with 400 INVALID_ARGUMENT (reason API_KEY_INVALID) and a missing one with
        403 PERMISSION_DENIED; never 401 (https://ai.google.dev/gemini-api/docs/troubleshooting)."""
        if given:
            return ProviderRequestError("API key not valid. Please pass a valid API key.", code="invalid_api_key")
        return ProviderRequestError(
            "Method doesn't allow unregistered callers (callers without established identity). Please use API Key "
            "or other form of API consumer identity to call this API.",
            status=403,
        )

    # ------------------------------------------------------------------ parsing

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> ChatRequest:
        """Validate a GenerateContentRequest as Google does (400 INVALID_ARGUMENT naming the field)."""
        params = params or {}
        tuned = params.get("tuned")
        target = tuned if tuned is not None else params.get("target", "")
        model, colon, method = target.rpartition(":")  # the method follows the last colon; the model may hold more
        if not model or not colon or method not in METHODS:
            collection = "tunedModels" if tuned is not None else "models"
            raise ProviderRequestError(
                f"Requested entity was not found: {collection}/{target} (fake-llm serves :generateContent, "
                ":streamGenerateContent, :countTokens, :embedContent and :batchEmbedContents).",
                status=404,
            )
        if tuned is not None:
            model = "tunedModels/" + model
        if not isinstance(body, dict):
            raise ProviderRequestError(f"Invalid JSON payload received. Expected an object, got {dumps(body)[:40]}.")
        config = object_field(get_field(body, "generationConfig"), "generation_config", "GenerationConfig")
        temperature = number_field(config, "temperature", 0, 2)
        number_field(config, "topP", 0, 1)
        number_field(config, "topK", 1, 2**31, integer=True)
        n = number_field(config, "candidateCount", 1, 8, integer=True) or 1
        max_tokens = number_field(config, "maxOutputTokens", 1, 2**31, integer=True)
        seed = number_field(config, "seed", -(2**31), 2**31 - 1, integer=True)
        stop = get_field(config, "stopSequences") or []
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise bad_value("generation_config.stop_sequences", "TYPE_STRING", stop)
        if len(stop) > 5:
            raise invalid("generation_config.stop_sequences", "the maximum number of stop sequences is 5.")
        messages = [*parse_system(body), *parse_contents(get_field(body, "contents"))]
        return ChatRequest(
            api=self.api,
            model=model,
            messages=tuple(messages),
            stream=method == "streamGenerateContent",
            # Without `alt=sse` Google streams one JSON array, element by element (wire-format §6).
            stream_format="sse" if params.get("alt") == "sse" else "json-array",
            n=n,
            max_tokens=max_tokens,
            stop=tuple(stop),
            tools=parse_tools(get_field(body, "tools")),
            tool_choice=parse_tool_choice(object_field(get_field(body, "toolConfig"), "tool_config", "ToolConfig")),
            response_format=parse_response_format(config),
            seed=seed,
            reasoning_shown=_include_thoughts(config),
            headers=headers,
            # Reply templates read `request.temperature` from the top level of the body, where OpenAI keeps it.
            body=body if temperature is None else {**body, "temperature": temperature},
        )

    # ------------------------------------------------------------------ rendering

    def usage(self, usage: Usage) -> dict[str, Any]:
        """usageMetadata; candidatesTokenCount excludes thoughts. Zero counts are left out, as proto3 JSON does.
        Scenario `usage:` may use OpenAI names (prompt_tokens ...) or Gemini's own."""
        thoughts = usage.reasoning_tokens
        computed = self._counts(usage.prompt_tokens, usage.completion_tokens - thoughts, thoughts)
        overrides: dict[str, Any] = {}
        for key, value in usage.overrides.items():
            if key in USAGE_NAMES:
                overrides[USAGE_NAMES[key]] = value
            elif key == "completion_tokens_details" and isinstance(value, Mapping) and "reasoning_tokens" in value:
                overrides["thoughtsTokenCount"] = value["reasoning_tokens"]
            elif not key.endswith("_details"):
                overrides[key] = value
        merged = merge(computed, overrides)
        if "totalTokenCount" not in overrides:
            merged["totalTokenCount"] = sum(
                merged.get(k) or 0 for k in ("promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount")
            )
        return merged

    @staticmethod
    def _counts(prompt: int, candidates: int, thoughts: int) -> dict[str, Any]:
        counts: dict[str, Any] = {"promptTokenCount": prompt}
        if candidates:
            counts["candidatesTokenCount"] = candidates
        counts["totalTokenCount"] = prompt + candidates + thoughts
        counts["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt}]
        if thoughts:
            counts["thoughtsTokenCount"] = thoughts
        return counts

    @staticmethod
    def _call_part(call: PlannedToolCall) -> dict[str, Any] | None:
        """`functionCall` with `args` as an object; a call whose arguments max_tokens cut is not sent."""
        try:
            args = json.loads(call.arguments)
        except json.JSONDecodeError:
            return None
        return {"functionCall": {"name": call.name, "args": args if isinstance(args, dict) else {"value": args}}}

    @staticmethod
    def _candidate(index: int, parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"} if parts else {"role": "model"}}
        if finish:
            candidate["finishReason"] = finish
        candidate["index"] = index
        return candidate

    @staticmethod
    def finish_reason(choice: PlannedChoice) -> str:
        reason = choice.finish_reason
        return FINISH_REASONS.get(reason, reason if reason.isupper() else reason.upper())

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        thoughts = request.reasoning_shown
        candidates = []
        for choice in completion.choices:
            parts: list[dict[str, Any]] = []
            if thoughts and choice.reasoning:
                parts.append({"text": choice.reasoning, "thought": True})
            text = choice.text if choice.has_text else choice.refusal
            if text:
                parts.append({"text": text})
            parts.extend(p for call in choice.tool_calls if (p := self._call_part(call)) is not None)
            candidates.append(self._candidate(choice.index, parts, self.finish_reason(choice)))
        return {
            "candidates": candidates,
            "usageMetadata": self.usage(completion.usage),
            "modelVersion": completion.model,
            "responseId": meta.id,
        }

    def stream_events(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        """One `data:` event per content step holding only the new parts of each candidate, usageMetadata counting
        so far, then a finish chunk (empty text, finishReason, final usage). No role chunk, no terminator: the end
        of the body ends a Gemini stream (wire-format §6), so nothing is of kind "done"."""
        thoughts = request.reasoning_shown
        tail = ',"modelVersion":' + dumps(completion.model) + ',"responseId":' + dumps(meta.id) + "}"
        # Hidden thinking happens before the first chunk, so it counts in thoughtsTokenCount from the start.
        prompt, emitted = completion.usage.prompt_tokens, 0
        thought = 0 if thoughts else completion.usage.reasoning_tokens
        events: list[Event] = []
        pieces = [
            s for s in stream_steps(completion, StepOptions(reasoning=thoughts, calls=Calls.WHOLE)) if s.piece >= 0
        ]
        # The pieces come ordered by number: one event per number carries every candidate's piece of that number.
        for number, same in itertools.groupby(pieces, key=lambda s: s.piece):
            candidates, tokens = [], 0
            for step in same:
                part = self._part(step, completion.choices[step.choice])
                if part is None:
                    continue
                candidates.append(self._candidate(step.choice, [part]))
                tokens += len(step.tokens)
                if step.kind is StepKind.REASONING:
                    thought += len(step.tokens)
                else:
                    emitted += len(step.tokens)
            if candidates:
                usage = self._counts(prompt, emitted, thought)
                data = '{"candidates":' + dumps(candidates) + ',"usageMetadata":' + dumps(usage) + tail
                events.append(Event(data, tokens=tokens, step=number))
        final = [self._candidate(c.index, [{"text": ""}], self.finish_reason(c)) for c in completion.choices]
        data = '{"candidates":' + dumps(final) + ',"usageMetadata":' + dumps(self.usage(completion.usage)) + tail
        events.append(Event(data, kind="finish"))
        return events

    def _part(self, step: Step, choice: PlannedChoice) -> dict[str, Any] | None:
        """A piece as a part: a thought, text, or a function call whole (Gemini never splits a functionCall across
        chunks); None for a call max_tokens cut, which is not sent."""
        if step.kind is StepKind.REASONING:
            return {"text": step.text, "thought": True}
        if step.kind is StepKind.TOOL_CALL:
            return self._call_part(choice.tool_calls[step.call])
        return {"text": step.text}

    def encode_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> tuple[bytes, str] | None:
        return None  # JSON: completion_body

    def load_body(self, request: ChatRequest, meta: ReplyMeta) -> dict[str, Any] | None:
        return None  # every request goes to the rules

    def count_body(self, tokens: int) -> dict[str, Any]:
        """`models/{model}:countTokens`' answer."""
        return {"totalTokens": tokens}

    def stream_failure(
        self, error: StreamError, position: int, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest
    ) -> list[Event]:
        return [self.stream_error_event(error, position)]

    def stream_error_event(self, error: StreamError, position: int) -> Event:
        """`data: {"error": {...}}`; google-genai raises ClientError/ServerError by its `code` (wire-format §6)."""
        status = error.code if isinstance(error.code, int) else STATUS_CODES.get(error.type or "", 500)
        code = error.code if isinstance(error.code, str) else None
        body = self.error_body(status, error.message or "", type=error.type, param=error.param, code=code)
        return Event(dumps(body), event="error" if error.event_line else None, kind="error")

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
        """`{"error": {code, message, status}}`: `code` is the HTTP status, `status` the google.rpc name (a `type`
        that is one overrides it). A string `code` becomes an ErrorInfo reason and `param` a BadRequest field
        violation in `details`, as Google reports them."""
        if code == "invalid_api_key":
            message, code = "API key not valid. Please pass a valid API key.", "API_KEY_INVALID"
        error: dict[str, Any] = {
            "code": code if isinstance(code, int) and not isinstance(code, bool) else status,
            "message": message or ERROR_MESSAGES.get(status, f"Error {status}."),
            "status": type if type in STATUS_CODES else STATUS_NAMES.get(status, "UNKNOWN"),
        }
        details: list[dict[str, Any]] = []
        if isinstance(code, str) and code:
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": code.upper(),
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                }
            )
        if param:
            violation = {"field": param, "description": error["message"].strip()}
            details.append({"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [violation]})
        if details:
            error["details"] = details
        error.update(extra or {})
        return error if flat else {"error": error}

    def response_headers(self, meta: ReplyMeta) -> dict[str, str]:
        return {
            "server-timing": "gfet4t7; dur=0",
            "x-content-type-options": "nosniff",
            "x-frame-options": "SAMEORIGIN",
            "x-xss-protection": "0",
        }


def _include_thoughts(config: Any) -> bool:
    """Gemini sends thought parts only when `thinkingConfig.includeThoughts` asks; otherwise reasoning only shows in
    thoughtsTokenCount."""
    thinking = get_field(config, "thinkingConfig") if isinstance(config, dict) else None
    return isinstance(thinking, dict) and get_field(thinking, "includeThoughts") is True
