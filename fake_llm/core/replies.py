"""Turns a scenario Reply into a provider-neutral PlannedReply: text (scripted, templated or generated), reasoning and
tool calls, cut at stop sequences and max_tokens, checked against the request's tool_choice, with usage."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from fake_llm.core.prompt_keys import requested_schema
from fake_llm.core.schema_values import generate_value, schema_error
from fake_llm.core.textgen import generate_text, request_seed
from fake_llm.core.tokens import Tokenizer, count_prompt
from fake_llm.core.tool_calls import forces_tool, plan_tool_calls
from fake_llm.errors import ReplyMismatch
from fake_llm.model.finish import FinishReason
from fake_llm.model.plan import PlannedChoice, PlannedReply, PlannedToolCall, Usage
from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import Match, Reply, Rule
from fake_llm.scenarios.coercion import CoercionError, coerce
from fake_llm.scenarios.safe_regex import full_match
from fake_llm.scenarios.templates import Template, compile_template

#: Length of a `generate:` reply that names none.
DEFAULT_GENERATED_WORDS = 40
#: What a JSON-mode request without a schema gets from `generate:`.
_JSON_OBJECT_SCHEMA = {
    "type": "object",
    "properties": {"result": {"type": "string"}, "confidence": {"type": "number", "minimum": 0, "maximum": 1}},
    "required": ["result", "confidence"],
}


@dataclass(frozen=True, slots=True)
class ReplyContext:
    """What a reply may draw on: regex captures, the seed for generated values, and the id of each tool call."""

    captures: Mapping[str, str] = field(default_factory=dict)
    seed: int = 0
    call_id: Callable[[int], str] = lambda i: f"call_{i}"
    #: Templates stop (ReplyTooLarge) before rendering more than this many characters.
    max_chars: int | None = None


def cut_at_stop(text: str, stops: tuple[str, ...], *, keep: bool = False) -> tuple[str, str | None]:
    """Text before the earliest stop sequence (or through it, with `keep`), and that sequence (None when none)."""
    found = [(i, stop) for stop in stops if stop and (i := text.find(stop)) >= 0]
    if not found:
        return text, None
    position, stop = min(found)
    return text[: position + len(stop) if keep else position], stop


def cut_pieces(pieces: list[str], length: int) -> list[str]:
    """The leading pieces that make up the first `length` characters, the last one cut to fit."""
    out: list[str] = []
    for piece in pieces:
        if length <= 0:
            break
        out.append(piece[:length])
        length -= len(piece)
    return out


@lru_cache(maxsize=4096)
def _template(text: str) -> Template:
    return compile_template(text)  # names were checked when the scenario loaded


def template_context(request: ChatRequest, captures: Mapping[str, str]) -> dict[str, Any]:
    """The names reply templates may use (see templates.REPLY_NAMES)."""
    results = request.tool_results
    return {
        "match": dict(captures),
        "request": {
            "model": request.model,
            "stream": request.stream,
            "max_tokens": request.max_tokens,
            "n": request.n,
            "temperature": request.body.get("temperature"),
            "seed": request.seed,
            "headers": dict(request.headers),
        },
        "last_user": request.last_user,
        "system": request.system,
        "turn": request.turn,
        "tool_result": results[-1].text if results else None,
        "tool_name": request.tool_names_by_call_id.get(results[-1].tool_call_id or "") if results else None,
        "tool_results": "; ".join(
            f"{request.tool_names_by_call_id.get(m.tool_call_id or '') or m.name or 'tool'}: {m.text}" for m in results
        ),
    }


class _LazyContext:
    """The template context, built on first use: most replies have no `{{ }}` and never need it."""

    def __init__(self, request: ChatRequest, captures: Mapping[str, str], limit: int | None = None) -> None:
        self.request = request
        self.captures = captures
        self.limit = limit
        self._built: dict[str, Any] | None = None

    def get(self) -> dict[str, Any]:
        if self._built is None:
            self._built = template_context(self.request, self.captures)
        return self._built


def _render(value: Any, context: _LazyContext) -> Any:
    """`value` with every string rendered as a template (mappings and lists walked)."""
    if isinstance(value, str):
        return _template(value).render(context.get(), context.limit) if "{{" in value else value
    if isinstance(value, Mapping):
        return {k: _render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, context) for v in value]
    return value


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _derived(seed: Callable[[], str], suffix: object) -> Callable[[], str]:
    """A seed for one part of a reply (a choice, a tool call), still computed only if it is used."""
    return lambda: f"{seed()}:{suffix}"


def scripted_text(reply: Reply, request: ChatRequest, context: _LazyContext, seed: Callable[[], str]) -> str | None:
    """The reply's text before any cut: rendered content, a JSON value, or generated prose or JSON."""
    if reply.has_json:
        return _dumps(_typed_json(_render(reply.json, context), request))
    if reply.generate is not None:
        if not reply.tool_calls and forces_tool(request):
            return None  # answered by a call of the forced tool (tool_calls.py), with no text, as real models do
        if request.guided_choice:
            return request.guided_choice[int(seed()[:8], 16) % len(request.guided_choice)]
        if request.guided_regex is not None:
            return str(generated({"type": "string", "pattern": request.guided_regex}, seed=seed()))
        if request.response_format_type in ("json_object", "json_schema"):
            schema = response_schema(request) or requested_schema([request.system, request.last_user])
            return _dumps(generated(schema or _JSON_OBJECT_SCHEMA, seed=seed()))
        if reply.generate.tokens is not None:
            return generate_text(seed=seed(), tokens=reply.generate.tokens)
        return generate_text(seed=seed(), words=reply.generate.words or DEFAULT_GENERATED_WORDS)
    if reply.content is not None:
        return _guided(str(_render(reply.content, context)), request)
    return None


def generated(schema: Mapping[str, Any], *, seed: str) -> Any:
    """A value for a request's schema; a schema no value can be made for (malformed, unsatisfiable, or past the size
    bounds) is the request's problem, answered as a mismatch (400) rather than a server error."""
    try:
        return generate_value(schema, seed=seed)
    except ValueError as exc:
        raise ReplyMismatch(f"cannot generate a value for the request's schema: {exc}") from None


def response_schema(request: ChatRequest) -> Mapping[str, Any] | None:
    """The JSON Schema of the request's structured output (`json_schema` response formats), if it has one."""
    spec = (request.response_format or {}).get("json_schema")
    schema = spec.get("schema") if isinstance(spec, Mapping) else None
    return schema if isinstance(schema, Mapping) else None


def _typed_json(value: Any, request: ChatRequest) -> Any:
    """A `json:` reply coerced to the request's structured-output schema (templates render text), then checked
    against it, as a real model's constrained output always fits."""
    schema = response_schema(request)
    if schema is None:
        return value
    try:
        value = coerce(value, schema)
    except CoercionError as exc:
        raise ReplyMismatch(f"the json reply does not fit the request's response_format schema: {exc}") from None
    error = schema_error(value, schema)
    if error is not None:
        raise ReplyMismatch(f"the json reply does not fit the request's response_format schema: {error}")
    return value


def _guided(text: str, request: ChatRequest) -> str:
    """A scripted text must obey the request's guided decoding, as a real guided server's output would."""
    if request.guided_choice and text not in request.guided_choice:
        raise ReplyMismatch(
            f"the reply {text!r} is not one of the request's guided_choice {list(request.guided_choice)}"
        )
    if request.guided_regex is not None and not full_match(request.guided_regex, text):
        raise ReplyMismatch(f"the reply {text!r} does not match the request's guided_regex {request.guided_regex!r}")
    return text


def plan_reply(
    reply: Reply,
    request: ChatRequest,
    tokenizer: Tokenizer,
    rule: Rule | None = None,
    ctx: ReplyContext | None = None,
    usage_fields: Mapping[str, Any] | None = None,
) -> PlannedReply:
    """The completion `reply` gives for `request`: n choices, each with its reasoning, text and tool calls. The text is
    cut first at the request's stop sequences, then at max_tokens (finish_reason `length`; reasoning counts against
    the budget first, tool-call arguments last), and cut into stream chunks (`stream.chunk_tokens` tokens each, or
    the pieces of a `stream.chunks` timeline). Raises ReplyMismatch when the reply contradicts the request."""
    rule = rule or Rule(name="<inline>", match=Match(), replies=(reply,))
    ctx = ctx or ReplyContext()
    context = _LazyContext(request, ctx.captures, ctx.max_chars)
    seeds: list[str] = []

    def base_seed() -> str:
        """The seed of generated values: the server seed plus the request, so the same request gets the same."""
        if not seeds:
            seeds.append(request_seed(ctx.seed, request.model, [[m.role, m.text] for m in request.messages]))
        return seeds[0]

    size = reply.stream.chunk_tokens
    calls = plan_tool_calls(reply, rule, request, lambda value: _render(value, context), ctx.call_id, base_seed)
    wants_reasoning = reply.reasoning is not None and request.reasoning_allowed
    reasoning = str(_render(reply.reasoning, context)) if wants_reasoning else None

    def groups(tokens: list[str]) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(tokens[i : i + size]) for i in range(0, len(tokens), size))

    scripted: list[tuple[str | None, str | None]] = [(c.content, c.finish_reason) for c in reply.choices]
    choices: list[PlannedChoice] = []
    for index in range(request.n):
        if scripted:
            raw_text, override = scripted[index % len(scripted)]
            raw_text = str(_render(raw_text, context))
        else:
            raw_text = scripted_text(reply, request, context, _derived(base_seed, index))
            override = reply.finish_reason
        refusal = str(_render(reply.refusal, context)) if reply.refusal is not None else None
        choice = _plan_choice(index, raw_text, override, refusal, reasoning, calls, reply, request, tokenizer, groups)
        choices.append(choice)
    if any(c.refusal for c in choices):
        refusal_tokens = tokenizer.split(choices[0].refusal or "")
        choices = [_with_refusal_tokens(c, refusal_tokens, groups) for c in choices]
    usage = Usage(
        prompt_tokens=count_prompt(tokenizer, request.prompt_texts(), len(request.messages)),
        completion_tokens=sum(c.completion_tokens for c in choices),
        reasoning_tokens=sum(c.reasoning_tokens for c in choices),
        overrides=merge(usage_fields, reply.usage) if usage_fields else reply.usage,
    )
    return PlannedReply(
        tuple(choices), usage, reply.model or request.model, reply.embedding, scores=reply.scores, media=reply.media
    )


def _finish(truncated: bool, override: str | None, called: bool) -> FinishReason:
    """`length` when max_tokens cut the choice, else the scripted reason, else `tool_calls` or `stop`."""
    if truncated:
        return FinishReason.LENGTH
    if override:
        return FinishReason(override)
    return FinishReason.TOOL_CALLS if called else FinishReason.STOP


class _Budget:
    """max_tokens as a choice spends it: reasoning first, then text, then tool-call arguments."""

    def __init__(self, limit: int | None) -> None:
        self.left = limit
        self.truncated = False

    def take(self, tokens: list[str]) -> list[str]:
        """`tokens`, cut to what is left (then the choice is truncated)."""
        if self.left is not None:
            if len(tokens) > self.left:
                tokens, self.truncated = tokens[: self.left], True
            self.left -= len(tokens)
        return tokens


def _plan_choice(
    index: int,
    raw_text: str | None,
    override: str | None,
    refusal: str | None,
    reasoning: str | None,
    calls: Sequence[tuple[str, str, str]],
    reply: Reply,
    request: ChatRequest,
    tokenizer: Tokenizer,
    groups: Callable[[list[str]], tuple[tuple[str, ...], ...]],
) -> PlannedChoice:
    """One choice: its reasoning, text (cut at stop sequences) and tool calls within max_tokens, and stream chunks."""
    budget = _Budget(request.max_tokens)
    reasoning_tokens = budget.take(tokenizer.split(reasoning) if reasoning else [])
    text, stop_sequence = cut_at_stop(raw_text or "", request.stop, keep=request.include_stop)
    tokens = budget.take(tokenizer.split(text))
    planned_calls: list[PlannedToolCall] = []
    for call_id, name, arguments in calls if not budget.truncated else []:
        arg_tokens = budget.take(tokenizer.split(arguments))
        planned_calls.append(PlannedToolCall(call_id, name, "".join(arg_tokens), tuple(arg_tokens), groups(arg_tokens)))
        if budget.truncated:
            break
    timeline = [chunk.text for chunk in reply.stream.chunks]
    if not request.stream:
        chunks: tuple[tuple[str, ...], ...] = ()  # only streams are cut into chunks
    elif timeline:
        chunks = tuple(tuple(tokenizer.split(p)) for p in cut_pieces(timeline, len("".join(tokens))))
    else:
        chunks = groups(tokens)
    truncated = budget.truncated
    return PlannedChoice(
        index=index,
        tokens=tuple(tokens),
        finish_reason=_finish(truncated, override, bool(planned_calls)),
        chunks=chunks,
        has_text=raw_text is not None and refusal is None,
        refusal=refusal,
        reasoning_chunks=groups(reasoning_tokens),
        tool_calls=tuple(planned_calls),
        stop_sequence=stop_sequence if not truncated else None,
    )


def _with_refusal_tokens(
    choice: PlannedChoice, tokens: list[str], groups: Callable[[list[str]], tuple[tuple[str, ...], ...]]
) -> PlannedChoice:
    """A refusal streams like text (as `refusal` deltas) and counts as completion tokens."""
    return dataclasses.replace(choice, tokens=tuple(tokens), chunks=groups(tokens), has_text=False)


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` merged in; nested mappings are merged key by key."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged
