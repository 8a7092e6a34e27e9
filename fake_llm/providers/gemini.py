"""Google Gemini (`POST /{v1,v1beta}/models/{model}:generateContent` and `:streamGenerateContent`): request
validation and wire shapes (wire-format §6)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from fake_llm.chat import ChatRequest, Message, ToolCall, ToolSpec
from fake_llm.errors import ProviderRequestError
from fake_llm.providers.base import ReplyMeta
from fake_llm.replies import Completion, PlannedChoice, PlannedToolCall, Usage, merge
from fake_llm.scenarios import StreamError
from fake_llm.streaming import Event

METHODS = ("generateContent", "streamGenerateContent")
PROTO = "type.googleapis.com/google.ai.generativelanguage.v1beta."
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
MIME_TYPES = ("text/plain", "application/json", "application/xml", "application/yaml", "text/x.enum")
MODES = ("MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED")
FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}")
#: Part fields that carry data; a part needs one of them (Part.data is a oneof).
DATA_FIELDS: tuple[str, ...] = ("text", "inlineData", "fileData", "functionCall", "functionResponse")
DATA_FIELDS += ("executableCode", "codeExecutionResult")
_COUNT_KEYS = ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties")
_USAGE_NAMES = {
    "prompt_tokens": "promptTokenCount",
    "completion_tokens": "candidatesTokenCount",
    "total_tokens": "totalTokenCount",
    "reasoning_tokens": "thoughtsTokenCount",
}


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _get(obj: Mapping[str, Any], name: str) -> Any:
    """A field by its JSON name or its proto name: Google's JSON parser accepts both (`inlineData`, `inline_data`)."""
    return obj[name] if name in obj else obj.get(_snake(name))


def invalid(field: str, message: str) -> ProviderRequestError:
    """A validation failure as Google words it; fields use proto (snake_case) paths, as Google's messages do."""
    return ProviderRequestError(f"* GenerateContentRequest.{field}: {message}\n", param=field)


def bad_value(field: str, kind: str, value: Any) -> ProviderRequestError:
    """A JSON value of the wrong type, as Google's JSON parser reports it."""
    return ProviderRequestError(f"Invalid value at '{field}' ({kind}), {dumps(value)}", param=field)


def _object(value: Any, field: str, kind: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_value(field, PROTO + kind, value)
    return value


def _number(config: Mapping[str, Any], name: str, low: float, high: float, *, integer: bool = False) -> Any:
    """A numeric generationConfig field; proto JSON also accepts numbers written as strings."""
    field = f"generation_config.{_snake(name)}"
    value = _get(config, name)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = int(value) if integer else float(value)
        except ValueError:
            raise bad_value(field, "TYPE_INT32" if integer else "TYPE_FLOAT", value) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise bad_value(field, "TYPE_INT32" if integer else "TYPE_FLOAT", value)
    if not low <= value <= high:
        shown = f"[{low:g}, {high:g}]" if high < 2**31 else f">= {low:g}"
        raise invalid(field, f"{_snake(name)} must be {'in the range ' if high < 2**31 else ''}{shown}.")
    return value


def json_schema(schema: Any) -> Any:
    """A Gemini (OpenAPI subset) Schema as JSON Schema: lower-case types, `nullable`, int64 counts sent as strings."""
    if isinstance(schema, list):
        return [json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for raw_key, value in schema.items():
        key = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), raw_key)
        if key in ("nullable", "propertyOrdering"):
            continue
        if key == "type" and isinstance(value, str):
            if value.upper() == "TYPE_UNSPECIFIED":
                continue
            value = value.lower()
        elif key in _COUNT_KEYS and isinstance(value, str) and value.isdigit():
            value = int(value)
        elif key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            value = {name: json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties", "prefixItems", "not"):
            value = json_schema(value)
        out[key] = value
    if _get(schema, "nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def _result_text(response: Any) -> str:
    """A functionResponse's `response` as tool-result text: a lone string value (`{"result": "sunny"}`, as the SDK's
    automatic function calling sends) is the text itself, anything else its JSON."""
    if isinstance(response, dict) and len(response) == 1:
        (value,) = response.values()
        if isinstance(value, str):
            return value
    return dumps(response)


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

    def api_key(self, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> str | None:
        """`x-goog-api-key` (google-genai), else `?key=` (when the engine passes the query), else an OAuth Bearer."""
        key = headers.get("x-goog-api-key", "").strip()
        if key:
            return key
        if params and params.get("key"):
            return params["key"]
        scheme, _, token = headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

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
                f"Requested entity was not found: {collection}/{target} (fake-llm serves :generateContent and "
                ":streamGenerateContent).",
                status=404,
            )
        if tuned is not None:
            model = "tunedModels/" + model
        if not isinstance(body, dict):
            raise ProviderRequestError(f"Invalid JSON payload received. Expected an object, got {dumps(body)[:40]}.")
        config = _object(_get(body, "generationConfig"), "generation_config", "GenerationConfig")
        temperature = _number(config, "temperature", 0, 2)
        _number(config, "topP", 0, 1)
        _number(config, "topK", 1, 2**31, integer=True)
        n = _number(config, "candidateCount", 1, 8, integer=True) or 1
        max_tokens = _number(config, "maxOutputTokens", 1, 2**31, integer=True)
        seed = _number(config, "seed", -(2**31), 2**31 - 1, integer=True)
        stop = _get(config, "stopSequences") or []
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise bad_value("generation_config.stop_sequences", "TYPE_STRING", stop)
        if len(stop) > 5:
            raise invalid("generation_config.stop_sequences", "the maximum number of stop sequences is 5.")
        messages = [*self._system(body), *self._contents(_get(body, "contents"))]
        return ChatRequest(
            api=self.api,
            model=model,
            messages=tuple(messages),
            stream=method == "streamGenerateContent",
            n=n,
            max_tokens=max_tokens,
            stop=tuple(stop),
            tools=self._tools(_get(body, "tools")),
            tool_choice=self._tool_choice(_object(_get(body, "toolConfig"), "tool_config", "ToolConfig")),
            response_format=self._response_format(config),
            seed=seed,
            headers=headers,
            # Reply templates read `request.temperature` from the top level of the body, where OpenAI keeps it.
            body=body if temperature is None else {**body, "temperature": temperature},
        )

    @staticmethod
    def _system(body: Mapping[str, Any]) -> list[Message]:
        raw = _get(body, "systemInstruction")
        if raw is None:
            return []
        if isinstance(raw, str):
            return [Message("system", raw)]
        parts = _object(raw, "system_instruction", "Content").get("parts") or []
        if not isinstance(parts, list):
            raise bad_value("system_instruction.parts", PROTO + "Part", parts)
        texts = [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return [Message("system", "\n".join(texts))]

    def _contents(self, raw: Any) -> list[Message]:
        """Turns into Messages: a model turn is one assistant message (its functionCalls as tool calls, with ids
        invented from position when the client sent none); each functionResponse a tool message answering the call
        of the preceding model turn with the same id or name, which is what `tool_result_for` matches on."""
        if not raw:
            raise invalid("contents", "contents is not specified")
        if not isinstance(raw, list):
            raise bad_value("contents", PROTO + "Content", raw)
        messages: list[Message] = []
        pending: list[ToolCall] = []  # the calls of the preceding model turn that have no response yet
        for i, content in enumerate(raw):
            field = f"contents[{i}]"
            content = _object(content, field, "Content")
            role = content.get("role") or "user"
            if role not in ("user", "model", "function"):
                raise ProviderRequestError("Please use a valid role: user, model.", param=f"{field}.role")
            parts = content.get("parts")
            if not parts:
                raise invalid(f"{field}.parts", "contents.parts must not be empty.")
            if not isinstance(parts, list):
                raise bad_value(f"{field}.parts", PROTO + "Part", parts)
            texts: list[str] = []
            calls: list[ToolCall] = []
            results: list[Message] = []
            has_image = False
            for j, part in enumerate(parts):
                where = f"{field}.parts[{j}]"
                part = _object(part, where, "Part")
                if not any(_get(part, name) is not None for name in DATA_FIELDS):
                    raise invalid(f"{where}.data", "required oneof field 'data' must have one initialized field")
                if "text" in part:
                    if not isinstance(part["text"], str):
                        raise bad_value(f"{where}.text", "TYPE_STRING", part["text"])
                    if not part.get("thought"):  # thought summaries are not conversation text
                        texts.append(part["text"])
                for name in ("inlineData", "fileData"):
                    media = _get(part, name)
                    if media is not None:
                        mime = _get(_object(media, f"{where}.{_snake(name)}", "Blob"), "mimeType")
                        has_image = has_image or str(mime or "").startswith("image/")
                call = _get(part, "functionCall")
                if call is not None:
                    calls.append(self._call(_object(call, f"{where}.function_call", "FunctionCall"), where, i, j))
                response = _get(part, "functionResponse")
                if response is not None:
                    results.append(self._result(response, f"{where}.function_response", pending))
            if results and pending:
                raise ProviderRequestError(
                    "Please ensure that the number of function response parts is equal to the number of function "
                    "call parts of the function call turn.",
                    param=f"{field}.parts",
                )
            messages.extend(results)
            if role == "model":
                messages.append(Message("assistant", "".join(texts), tuple(calls)))
            elif texts or has_image or not results:
                messages.append(Message("user", "\n".join(texts), has_image=has_image))
            pending = calls
        return messages

    @staticmethod
    def _call(call: Mapping[str, Any], where: str, i: int, j: int) -> ToolCall:
        name, args = call.get("name"), call.get("args")
        if not isinstance(name, str) or not name:
            raise invalid(f"{where}.function_call.name", "function_call.name must not be empty.")
        if args is not None and not isinstance(args, dict):
            raise bad_value(f"{where}.function_call.args", "type.googleapis.com/google.protobuf.Struct", args)
        call_id = call.get("id")
        return ToolCall(call_id if isinstance(call_id, str) and call_id else f"{name}@{i}.{j}", name, dumps(args or {}))

    @staticmethod
    def _result(raw: Any, where: str, pending: list[ToolCall]) -> Message:
        response = _object(raw, where, "FunctionResponse")
        name, given = response.get("name"), response.get("id")
        if not isinstance(name, str) or not name:
            raise invalid(f"{where}.name", "function_response.name must not be empty.")
        if not pending:
            raise ProviderRequestError(
                "Please ensure that function response turn comes immediately after a function call turn.", param=where
            )
        by_id = [c for c in pending if given and c.id == given]
        matches = by_id or [c for c in pending if c.name == name]
        if not matches:
            called = ", ".join(sorted({c.name for c in pending}))
            raise ProviderRequestError(
                f"Function response '{name}' answers no function call of the preceding model turn "
                f"(it called {called}).",
                param=f"{where}.name",
            )
        pending.remove(matches[0])
        return Message("tool", _result_text(response.get("response")), tool_call_id=matches[0].id, name=name)

    @staticmethod
    def _tools(raw: Any) -> tuple[ToolSpec, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            raise bad_value("tools", PROTO + "Tool", raw)
        specs = []
        for i, tool in enumerate(raw):
            declarations = _get(_object(tool, f"tools[{i}]", "Tool"), "functionDeclarations")
            for k, declaration in enumerate(declarations or []):  # googleSearch, codeExecution ...: not functions
                where = f"tools[{i}].function_declarations[{k}]"
                declaration = _object(declaration, where, "FunctionDeclaration")
                name = declaration.get("name")
                if not isinstance(name, str) or not FUNCTION_NAME.fullmatch(name):
                    raise invalid(
                        f"{where}.name",
                        "Invalid function name. Must start with a letter or an underscore. Must be alphameric "
                        "(a-z, A-Z, 0-9), underscores (_), dots (.), colons (:), or dashes (-), with a maximum "
                        "length of 64.",
                    )
                schema = _get(declaration, "parametersJsonSchema")
                if schema is None:
                    schema = json_schema(declaration.get("parameters"))
                description = declaration.get("description")
                specs.append(ToolSpec(name, description, schema if isinstance(schema, dict) else None))
        return tuple(specs)

    @staticmethod
    def _tool_choice(tool_config: Mapping[str, Any]) -> Any:
        """functionCallingConfig as the tool_choice values ChatRequest.tool_choice_name reads: NONE → none,
        AUTO/VALIDATED → auto, ANY → required, or the function when ANY allows exactly one."""
        where = "tool_config.function_calling_config"
        config = _get(tool_config, "functionCallingConfig")
        if config is None:
            return None
        mode = _object(config, where, "FunctionCallingConfig").get("mode", "AUTO")
        if mode not in MODES:
            kind = PROTO + "FunctionCallingConfig.Mode"
            raise bad_value(f"{where}.mode", kind, mode)
        allowed = _get(config, "allowedFunctionNames") or []
        if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
            raise bad_value(f"{where}.allowed_function_names", "TYPE_STRING", allowed)
        if mode == "NONE":
            return "none"
        if mode != "ANY":
            return "auto"
        return {"type": "function", "function": {"name": allowed[0]}} if len(allowed) == 1 else "required"

    @staticmethod
    def _response_format(config: Mapping[str, Any]) -> dict[str, Any] | None:
        """JSON mode as the response_format `generate:` replies read (replies.scripted_text)."""
        mime = _get(config, "responseMimeType")
        if mime is not None and mime not in MIME_TYPES:
            raise invalid(
                "generation_config.response_mime_type",
                "allowed mimetypes are `text/plain`, `application/json`, `application/xml`, `application/yaml` "
                "and `text/x.enum`.",
            )
        schema = _get(config, "responseJsonSchema")
        if schema is None:
            schema = json_schema(_get(config, "responseSchema"))
        if schema is not None and mime not in ("application/json", "text/x.enum"):
            raise invalid(
                "generation_config.response_mime_type",
                "response_mime_type must be `application/json` or `text/x.enum` when a response schema is set.",
            )
        if mime != "application/json":
            return None
        return {"type": "json_schema", "json_schema": {"schema": schema}} if schema else {"type": "json_object"}

    # ------------------------------------------------------------------ rendering

    def usage(self, usage: Usage) -> dict[str, Any]:
        """usageMetadata; candidatesTokenCount excludes thoughts. Zero counts are left out, as proto3 JSON does.
        Scenario `usage:` may use OpenAI names (prompt_tokens ...) or Gemini's own."""
        thoughts = usage.reasoning_tokens
        computed = self._counts(usage.prompt_tokens, usage.completion_tokens - thoughts, thoughts)
        overrides: dict[str, Any] = {}
        for key, value in usage.overrides.items():
            if key in _USAGE_NAMES:
                overrides[_USAGE_NAMES[key]] = value
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
    def _show_thoughts(request: ChatRequest) -> bool:
        """Gemini sends thought parts only when `thinkingConfig.includeThoughts` asks; otherwise reasoning only
        shows in thoughtsTokenCount."""
        config = _get(request.body, "generationConfig")
        thinking = _get(config, "thinkingConfig") if isinstance(config, dict) else None
        return isinstance(thinking, dict) and _get(thinking, "includeThoughts") is True

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

    def completion_body(self, completion: Completion, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        thoughts = self._show_thoughts(request)
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

    def stream_events(self, completion: Completion, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        """One `data:` event per content step holding only the new parts of each candidate, usageMetadata counting
        so far, then a finish chunk (empty text, finishReason, final usage). No role chunk, no terminator: the end
        of the body ends a Gemini stream (wire-format §6), so nothing is of kind "done"."""
        thoughts = self._show_thoughts(request)
        tail = ',"modelVersion":' + dumps(completion.model) + ',"responseId":' + dumps(meta.id) + "}"
        plans = [self._steps(choice, thoughts) for choice in completion.choices]
        # Hidden thinking happens before the first chunk, so it counts in thoughtsTokenCount from the start.
        prompt, emitted = completion.usage.prompt_tokens, 0
        thought = 0 if thoughts else completion.usage.reasoning_tokens
        events: list[Event] = []
        for step in range(max((len(p) for p in plans), default=0)):
            candidates, tokens = [], 0
            for choice, plan in zip(completion.choices, plans, strict=True):
                if step < len(plan):
                    parts, count, is_thought = plan[step]
                    candidates.append(self._candidate(choice.index, parts))
                    tokens += count
                    emitted, thought = (emitted, thought + count) if is_thought else (emitted + count, thought)
            usage = self._counts(prompt, emitted, thought)
            data = '{"candidates":' + dumps(candidates) + ',"usageMetadata":' + dumps(usage) + tail
            events.append(Event(data, tokens=tokens, step=step))
        final = [self._candidate(c.index, [{"text": ""}], self.finish_reason(c)) for c in completion.choices]
        data = '{"candidates":' + dumps(final) + ',"usageMetadata":' + dumps(self.usage(completion.usage)) + tail
        events.append(Event(data, kind="finish"))
        return events

    def _steps(self, choice: PlannedChoice, thoughts: bool) -> list[tuple[list[dict[str, Any]], int, bool]]:
        """(parts, tokens, is thought) per chunk: thought pieces, text pieces, then each function call whole
        (Gemini never splits a functionCall across chunks)."""
        steps: list[tuple[list[dict[str, Any]], int, bool]] = []
        for piece in choice.reasoning_chunks if thoughts else ():
            steps.append(([{"text": "".join(piece), "thought": True}], len(piece), True))
        for piece in choice.chunks:
            steps.append(([{"text": "".join(piece)}], len(piece), False))
        for call in choice.tool_calls:
            part = self._call_part(call)
            if part is not None:
                steps.append(([part], len(call.tokens), False))
        return steps

    def stream_error_event(self, error: StreamError) -> Event:
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
