"""Anthropic Messages request validation: 400s worded as Anthropic's pydantic words them, naming the dotted field,
and the messages, system prompt, tools and options read into provider-neutral form (wire-format §5.2)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fake_llm.errors import ProviderRequestError
from fake_llm.model.request import Message, ToolCall, ToolSpec

#: Request content blocks accepted (the ones matching reads, then server-tool blocks echoed back unchanged).
BLOCK_TYPES = (
    "text",
    "image",
    "document",
    "search_result",
    "tool_use",
    "tool_result",
    "thinking",
    "redacted_thinking",
    "server_tool_use",
    "web_search_tool_result",
    "web_fetch_tool_result",
    "code_execution_tool_result",
    "mcp_tool_use",
    "mcp_tool_result",
    "container_upload",
)
TOOL_CHOICES = ("auto", "any", "tool", "none")


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------- validation
# Anthropic validates with pydantic and reports `<dotted.path>: <pydantic message>` (§5.2).


def invalid(param: str, message: str) -> ProviderRequestError:
    return ProviderRequestError(f"{param}: {message}", param=param)


def required(param: str) -> ProviderRequestError:
    return invalid(param, "Field required")


def _bad_tag(param: str, tag: Any, expected: tuple[str, ...]) -> ProviderRequestError:
    if tag is None:
        return invalid(param, "Unable to extract tag using discriminator 'type'")
    tags = ", ".join(f"'{t}'" for t in expected)
    return invalid(param, f"Input tag '{tag}' found using 'type' does not match any of the expected tags: {tags}")


def string_field(value: Any, param: str) -> str:
    if value is None:
        raise required(param)
    if not isinstance(value, str):
        raise invalid(param, "Input should be a valid string")
    return value


def number_field(
    body: Mapping[str, Any], name: str, low: float, high: float | None = None, *, integer: bool = False
) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise invalid(name, "Input should be a valid integer" if integer else "Input should be a valid number")
    if value < low:
        raise invalid(name, f"Input should be greater than or equal to {low:g}")
    if high is not None and value > high:
        raise invalid(name, f"Input should be less than or equal to {high:g}")
    return value


def _content_text(content: Any, param: str) -> tuple[str, bool]:
    """Text and has-image of a tool_result's content (string or text/image/document blocks)."""
    if content is None:
        return "", False
    if isinstance(content, str):
        return content, False
    if not isinstance(content, list):
        raise invalid(param, "Input should be a valid string or a list of content blocks")
    texts: list[str] = []
    has_image = False
    for j, block in enumerate(content):
        if not isinstance(block, dict):
            raise invalid(f"{param}.{j}", "Input should be a valid dictionary")
        kind = block.get("type")
        if kind == "text":
            texts.append(string_field(block.get("text"), f"{param}.{j}.text.text"))
        elif kind == "image":
            has_image = True
        elif kind not in ("document", "search_result"):
            raise _bad_tag(f"{param}.{j}", kind, ("text", "image", "document", "search_result"))
    return "\n".join(texts), has_image


@dataclass
class _Turn:
    """Consecutive messages of one role, which Anthropic merges into one turn (§5.2)."""

    role: str
    index: int
    texts: list[str] = field(default_factory=list)
    has_image: bool = False
    calls: list[ToolCall] = field(default_factory=list)
    #: (tool_use_id, text, has_image, param) of each tool_result block.
    results: list[tuple[str, str, bool, str]] = field(default_factory=list)


def _read_block(turn: _Turn, block: Any, param: str) -> None:
    if not isinstance(block, dict):
        raise invalid(param, "Input should be a valid dictionary")
    kind = block.get("type")
    if kind not in BLOCK_TYPES:
        raise _bad_tag(param, kind, BLOCK_TYPES)
    where = f"{param}.{kind}"
    if kind == "text":
        text = string_field(block.get("text"), f"{where}.text")
        if not text:
            raise invalid(f"{where}.text", "text content blocks must be non-empty")
        turn.texts.append(text)
    elif kind in ("image", "document"):
        if not isinstance(block.get("source"), dict):
            raise required(f"{where}.source")
        turn.has_image = turn.has_image or kind == "image"
    elif kind == "tool_use":
        call_id, name = string_field(block.get("id"), f"{where}.id"), string_field(block.get("name"), f"{where}.name")
        arguments = block.get("input")
        if isinstance(arguments, dict):
            arguments = dumps(arguments)
        elif not isinstance(arguments, str):
            # A string is accepted too: it is what we send for scripted arguments that are not a JSON object.
            raise invalid(f"{where}.input", "Input should be a valid dictionary")
        turn.calls.append(ToolCall(call_id, name, arguments))
    elif kind == "tool_result":
        call_id = string_field(block.get("tool_use_id"), f"{where}.tool_use_id")
        text, has_image = _content_text(block.get("content"), f"{where}.content")
        turn.results.append((call_id, text, has_image, param))
    elif kind == "thinking":
        string_field(block.get("thinking"), f"{where}.thinking")
        string_field(block.get("signature"), f"{where}.signature")
    elif kind == "redacted_thinking":
        string_field(block.get("data"), f"{where}.data")


def parse_turns(raw: Any) -> list[_Turn]:
    if raw is None:
        raise required("messages")
    if not isinstance(raw, list):
        raise invalid("messages", "Input should be a valid list")
    if not raw:
        raise invalid("messages", "at least one message is required")
    turns: list[_Turn] = []
    for i, item in enumerate(raw):
        param = f"messages.{i}"
        if not isinstance(item, dict):
            raise invalid(param, "Input should be a valid dictionary")
        role = item.get("role")
        if role is None:
            raise required(f"{param}.role")
        if role not in ("user", "assistant"):
            # A system prompt goes in the top-level `system`, never in a message (§5.2).
            raise invalid(f"{param}.role", "Input should be 'user' or 'assistant'")
        if "content" not in item:
            raise required(f"{param}.content")
        content = item["content"]
        if not isinstance(content, (str, list)):
            raise invalid(f"{param}.content", "Input should be a valid string or a list of content blocks")
        final_assistant = role == "assistant" and i == len(raw) - 1
        if not content and not final_assistant:
            raise invalid(
                param, "all messages must have non-empty content except for the optional final assistant message"
            )
        if not turns or turns[-1].role != role:
            turns.append(_Turn(role, i))
        turn = turns[-1]
        if isinstance(content, str):
            if content:
                turn.texts.append(content)
        else:
            for j, block in enumerate(content):
                _read_block(turn, block, f"{param}.content.{j}")
        if final_assistant:
            last = content if isinstance(content, str) else (content[-1].get("text") if content else None)
            if isinstance(last, str) and last != last.rstrip():
                raise invalid("messages", "final assistant content cannot end with trailing whitespace")
    _check_tool_pairs(turns)
    return turns


def _check_tool_pairs(turns: list[_Turn]) -> None:
    """Every tool_use needs its tool_result in the very next turn, and every tool_result answers a tool_use of
    the turn before (Anthropic's own wording)."""
    for k, turn in enumerate(turns):
        asked = {call.id for call in turns[k - 1].calls} if k else set()
        for call_id, _, _, param in turn.results:
            if call_id not in asked:
                raise invalid(
                    param,
                    f"unexpected `tool_use_id` found in `tool_result` blocks: {call_id}. Each `tool_result` block "
                    "must have a corresponding `tool_use` block in the previous message.",
                )
        if turn.calls and k + 1 < len(turns):
            answered = {call_id for call_id, *_ in turns[k + 1].results}
            missing = [call.id for call in turn.calls if call.id not in answered]
            if missing:
                raise invalid(
                    f"messages.{turns[k + 1].index - 1}",
                    f"`tool_use` ids were found without `tool_result` blocks immediately after: {', '.join(missing)}. "
                    "Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
                )


def parse_messages(turns: list[_Turn], system: str | None) -> tuple[Message, ...]:
    """Turns as provider-neutral messages. A user turn's tool results become `tool` messages placed after its text,
    so they are the trailing results `tool_result`/`tool_result_for` match on."""
    messages = [Message("system", system)] if system else []
    for turn in turns:
        text = "\n".join(turn.texts)
        if turn.role == "assistant":
            messages.append(Message("assistant", text, tuple(turn.calls), has_image=turn.has_image))
            continue
        if turn.texts or turn.has_image or not turn.results:
            messages.append(Message("user", text, has_image=turn.has_image))
        messages.extend(
            Message("tool", result, tool_call_id=call_id, has_image=image) for call_id, result, image, _ in turn.results
        )
    return tuple(messages)


def parse_system(raw: Any) -> str | None:
    if raw is None or isinstance(raw, str):
        return raw
    if not isinstance(raw, list):
        raise invalid("system", "Input should be a valid string or a list of text blocks")
    texts = []
    for j, block in enumerate(raw):
        if not isinstance(block, dict):
            raise invalid(f"system.{j}", "Input should be a valid dictionary")
        if block.get("type") != "text":
            raise invalid(f"system.{j}.type", "Input should be 'text'")
        texts.append(string_field(block.get("text"), f"system.{j}.text"))
    return "\n".join(texts)


def parse_tools(raw: Any) -> tuple[ToolSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise invalid("tools", "Input should be a valid list")
    specs = []
    for i, tool in enumerate(raw):
        if not isinstance(tool, dict):
            raise invalid(f"tools.{i}", "Input should be a valid dictionary")
        kind = tool.get("type") or "custom"
        name = string_field(tool.get("name"), f"tools.{i}.{kind}.name")
        if kind != "custom":
            specs.append(ToolSpec(name))  # a versioned Anthropic tool (bash, web search...): no schema of ours
            continue
        schema = tool.get("input_schema")
        if schema is None:
            raise required(f"tools.{i}.custom.input_schema")
        if not isinstance(schema, dict):
            raise invalid(f"tools.{i}.custom.input_schema", "Input should be a valid dictionary")
        description = tool.get("description")
        specs.append(ToolSpec(name, description if isinstance(description, str) else None, schema))
    return tuple(specs)


def parse_tool_choice(raw: Any) -> Any:
    """The choice in the form ChatRequest.tool_choice_name reads: `auto`, `required` (for `any`), `none`, or a
    mapping naming the forced tool."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise invalid("tool_choice", "Input should be a valid dictionary")
    kind = raw.get("type")
    if kind not in TOOL_CHOICES:
        raise _bad_tag("tool_choice", kind, TOOL_CHOICES)
    if kind == "tool":
        return {"type": "tool", "name": string_field(raw.get("name"), "tool_choice.tool.name")}
    return "required" if kind == "any" else kind


def parse_thinking(raw: Any, max_tokens: int | None) -> None:
    if raw is None:
        return
    if not isinstance(raw, dict):
        raise invalid("thinking", "Input should be a valid dictionary")
    kind = raw.get("type")
    if kind not in ("enabled", "disabled", "adaptive"):
        raise _bad_tag("thinking", kind, ("enabled", "disabled", "adaptive"))
    if kind != "enabled":
        return
    budget = raw.get("budget_tokens")
    if budget is None:
        raise required("thinking.enabled.budget_tokens")
    if isinstance(budget, bool) or not isinstance(budget, int):
        raise invalid("thinking.enabled.budget_tokens", "Input should be a valid integer")
    if budget < 1024:
        raise invalid("thinking.enabled.budget_tokens", "Input should be greater than or equal to 1024")
    if max_tokens is not None and max_tokens <= budget:
        raise ProviderRequestError("`max_tokens` must be greater than `thinking.budget_tokens`.", param="max_tokens")


def parse_response_format(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """Structured outputs (`output_config.format`, formerly `output_format`) in the shape `generate:` reads."""
    config = body.get("output_config")
    spec = config.get("format") if isinstance(config, dict) else body.get("output_format")
    if spec is None:
        return None
    if not isinstance(spec, dict) or spec.get("type") != "json_schema" or not isinstance(spec.get("schema"), dict):
        raise invalid("output_config.format", "Input should be a json_schema format with a `schema` object")
    return {"type": "json_schema", "json_schema": {"schema": spec["schema"]}}
