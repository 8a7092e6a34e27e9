"""A reply's tool calls: named ones, or tools chosen from what the request offers (`tool: forced|first|pick|best|
all`), checked against tool_choice, with arguments scripted (coerced to the tool's schema) or generated from it."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Mapping
from typing import Any

from fake_llm.core.schema_values import generate_value
from fake_llm.errors import ReplyMismatch
from fake_llm.model.request import ChatRequest, ToolSpec
from fake_llm.model.spec import Reply, Rule, ToolCallSpec
from fake_llm.scenarios.coercion import CoercionError, coerce

SELECTORS = ("forced", "first", "pick", "best", "all")
_EMPTY_OBJECT: Mapping[str, Any] = {"type": "object", "properties": {}}
_WORD = re.compile(r"[a-z0-9]+")
#: Words too common to tell one tool from another.
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "get",
        "give",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "please",
        "set",
        "show",
        "tell",
        "that",
        "the",
        "this",
        "to",
        "use",
        "using",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


def forces_tool(request: ChatRequest) -> bool:
    """Whether tool_choice makes a tool call mandatory (`required`, Anthropic `any`, Gemini `ANY`, or a name)."""
    return request.tool_choice_name not in (None, "auto", "none")


def forced_name(request: ChatRequest) -> str | None:
    """The one function the request forces: named by tool_choice, or the only tool offered under `required`."""
    choice = request.tool_choice_name
    if choice in (None, "auto", "none"):
        return None
    if choice != "required":
        return choice
    return request.tools[0].name if len(request.tools) == 1 else None


def _words(text: str) -> list[str]:
    # Split snake_case, kebab-case and camelCase names into their words.
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    return _WORD.findall(spaced.lower())


def _stem(word: str) -> str:
    for suffix in ("ing", "es", "ed", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _score(tool: ToolSpec, wanted: set[str]) -> int:
    """Name words count twice as much as description words."""
    name = {_stem(w) for w in _words(tool.name)}
    description = {_stem(w) for w in _words(tool.description or "")}
    return sum(2 * (w in name) + (w in description) for w in wanted)


def best_tools(request: ChatRequest) -> list[ToolSpec]:
    """Offered tools, best first: tools not yet called since the last user message before those already called,
    then by how many words of the last user message their name and description share, then in offered order."""
    wanted = {_stem(w) for w in _words(request.last_user) if w not in _STOPWORDS}
    called: set[str] = set()
    for message in reversed(request.messages):
        if message.role == "user":
            break
        called.update(call.name for call in message.tool_calls)
    ranked = sorted(
        enumerate(request.tools), key=lambda item: (item[1].name in called, -_score(item[1], wanted), item[0])
    )
    return [tool for _, tool in ranked]


def select(selector: str, request: ChatRequest, rule: Rule, seed: str) -> list[ToolSpec]:
    """The offered tools a `tool:` selector calls. A function forced by tool_choice wins over any selector."""
    if not request.tools:
        raise ReplyMismatch(f"rule {rule.name!r} calls {{tool: {selector}}} but the request offers no tools")
    forced = forced_name(request)
    if forced is not None:
        chosen = [tool for tool in request.tools if tool.name == forced]
        if not chosen:
            raise ReplyMismatch(f"the request forces the function {forced!r} but does not offer it")
        return chosen
    if selector == "forced":
        if request.tool_choice_name != "required":
            raise ReplyMismatch(
                f"rule {rule.name!r} calls {{tool: forced}} but the request forces no tool "
                f"(tool_choice {request.tool_choice_name!r}); use tool: best, first, pick or all"
            )
        return best_tools(request)[:1]  # `required` with several tools: the best fitting one
    if selector == "first":
        return [request.tools[0]]
    if selector == "pick":
        return [random.Random(f"pick:{seed}").choice(request.tools)]
    if selector == "best":
        return best_tools(request)[:1]
    return list(request.tools)


def plan_tool_calls(
    reply: Reply,
    rule: Rule,
    request: ChatRequest,
    render: Callable[[Any], Any],
    call_id: Callable[[int], str],
    seed: Callable[[], str],
) -> list[tuple[str, str, str]]:
    """(id, name, arguments) of each call, after checking them against the request's tools and tool_choice.
    A `generate:` reply to a request that forces a tool call calls the forced (or best fitting) tool."""
    choice = request.tool_choice_name
    if choice == "none":
        return []  # the request forbids tool calls: none are sent
    specs = reply.tool_calls
    if not specs and forces_tool(request) and reply.generate is not None:
        specs = (ToolCallSpec(name=None, tool="forced"),)
    if forces_tool(request) and not specs:
        raise ReplyMismatch(
            f"the request forces a tool call (tool_choice {choice!r}) but rule {rule.name!r} replies without one; "
            "add tool_calls to the reply (tool: forced calls whichever tool it forces) or match on tool_choice"
        )
    offered = {tool.name: tool for tool in request.tools}
    calls: list[tuple[str, str, str]] = []
    for i, spec in enumerate(specs):
        if spec.tool is not None:
            pick_seed = str(spec.seed) if spec.seed is not None else f"{seed()}:{i}"
            targets = [(tool.name, tool.parameters) for tool in select(spec.tool, request, rule, pick_seed)]
        else:
            name = spec.name or ""
            if choice not in (None, "auto", "required") and name != choice:
                raise ReplyMismatch(f"the request forces the function {choice!r} but rule {rule.name!r} calls {name!r}")
            if name not in offered and not rule.allow_unknown_tools:
                names = ", ".join(sorted(offered)) or "no tools"
                raise ReplyMismatch(
                    f"rule {rule.name!r} calls {name!r}, which the request does not offer (it offers {names}); "
                    "set allow_unknown_tools: true on the rule to script a call of an unknown tool"
                )
            tool = offered.get(name)
            targets = [(name, tool.parameters if tool is not None and tool.parameters else spec.parameters)]
        for name, schema in targets:
            index = len(calls)
            arguments = _arguments(spec, name, schema, render, f"{seed()}:{index}")
            calls.append((spec.id if spec.id and len(targets) == 1 else call_id(index), name, arguments))
    return calls


def _arguments(
    spec: ToolCallSpec, name: str, schema: Mapping[str, Any] | None, render: Callable[[Any], Any], seed: str
) -> str:
    """Scripted arguments rendered and coerced to the schema; a selector's arguments fill in generated ones."""
    if isinstance(spec.arguments, str):
        return str(render(spec.arguments))
    generated: dict[str, Any] = {}
    if spec.arguments is None or spec.tool is not None:
        try:
            value = generate_value(schema or _EMPTY_OBJECT, seed=seed)
        except ValueError as exc:  # a malformed or unsatisfiable schema in the request: its problem, not a 500
            raise ReplyMismatch(f"cannot generate arguments for tool {name!r}: {exc}") from None
        generated = value if isinstance(value, dict) else {}
        if spec.arguments is None:
            return _compact(value)
    scripted = render(spec.arguments)
    if spec.tool is not None and schema and isinstance(schema.get("properties"), Mapping):
        # A chosen tool gets only the scripted arguments its schema declares.
        scripted = {k: v for k, v in scripted.items() if k in schema["properties"]}
    arguments = {**generated, **scripted}
    if schema:
        try:
            arguments = coerce(arguments, schema)
        except CoercionError as exc:
            raise ReplyMismatch(f"tool {name!r} argument {exc}") from None
    return _compact(arguments)


def _compact(value: Any) -> str:
    """Tool-call arguments as OpenAI sends them: compact JSON (wire-format §2.3)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
