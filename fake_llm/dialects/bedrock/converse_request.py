"""Validating a Bedrock Converse request body into a ChatRequest. Messages name the offending member the way
Bedrock's ValidationException does (`1 validation error detected: Value ... at 'messages.1.member.role' ...`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fake_llm.errors import ProviderRequestError
from fake_llm.model.request import Message, ToolCall, ToolSpec

ROLES = ("user", "assistant")
#: Content block members a Converse message may carry (ContentBlock in the service model).
BLOCK_KINDS = (
    "text",
    "image",
    "document",
    "video",
    "audio",
    "toolUse",
    "toolResult",
    "guardContent",
    "cachePoint",
    "reasoningContent",
    "citationsContent",
    "searchResult",
)


def invalid(where: str, constraint: str, value: Any = None) -> ProviderRequestError:
    """The one-error ValidationException text Bedrock answers, naming the member path."""
    shown = "null" if value is None else json.dumps(value)[:60]
    return ProviderRequestError(
        f"1 validation error detected: Value {shown} at '{where}' failed to satisfy constraint: {constraint}",
        param=where,
    )


def _list(value: Any, where: str, *, required: bool = False) -> list[Any]:
    if value is None:
        if required:
            raise invalid(where, "Member must not be null")
        return []
    if not isinstance(value, list):
        raise invalid(where, "Member must be a list", value)
    return value


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise invalid(where, "Member must not be null" if value is None else "Member must be a structure", value)
    return value


def _block_kind(block: Any, where: str) -> str:
    """A ContentBlock is a union: exactly one member set."""
    members = [key for key in _mapping(block, where) if key in BLOCK_KINDS]
    if len(members) != 1 or len(block) != 1:
        raise ProviderRequestError(
            f"The content block at {where} must set exactly one of: {', '.join(BLOCK_KINDS)}.", param=where
        )
    return members[0]


def _tool_result_text(result: Mapping[str, Any], where: str) -> str:
    parts = []
    for j, item in enumerate(_list(result.get("content"), f"{where}.content", required=True)):
        item = _mapping(item, f"{where}.content.{j + 1}.member")
        if "text" in item:
            parts.append(str(item["text"]))
        elif "json" in item:
            parts.append(json.dumps(item["json"], separators=(",", ":")))
    return "\n".join(parts)


def parse_messages(raw: Any, system: Any) -> tuple[Message, ...]:
    """System blocks, then each turn; tool results become `tool` messages (as OpenAI's wire has them) so one rule's
    `tool_result:` and `last_role: tool` match alike across dialects."""
    messages: list[Message] = []
    texts = []
    for i, block in enumerate(_list(system, "system")):
        block = _mapping(block, f"system.{i + 1}.member")
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
    if texts:
        messages.append(Message("system", "\n".join(texts)))
    turns = _list(raw, "messages", required=True)
    for i, turn in enumerate(turns):
        where = f"messages.{i + 1}.member"
        turn = _mapping(turn, where)
        role = turn.get("role")
        if role not in ROLES:
            raise invalid(f"{where}.role", "Member must satisfy enum value set: [user, assistant]", role)
        text: list[str] = []
        calls: list[ToolCall] = []
        results: list[Message] = []
        has_image = False
        for j, block in enumerate(_list(turn.get("content"), f"{where}.content", required=True)):
            at = f"{where}.content.{j + 1}.member"
            kind = _block_kind(block, at)
            value = block[kind]
            if kind == "text":
                if not isinstance(value, str):
                    raise invalid(f"{at}.text", "Member must be a string", value)
                text.append(value)
            elif kind == "image":
                has_image = True
            elif kind == "toolUse":
                use = _mapping(value, f"{at}.toolUse")
                for key in ("toolUseId", "name"):
                    if not isinstance(use.get(key), str):
                        raise invalid(f"{at}.toolUse.{key}", "Member must not be null", use.get(key))
                arguments = json.dumps(use.get("input", {}), separators=(",", ":"))
                calls.append(ToolCall(use["toolUseId"], use["name"], arguments))
            elif kind == "toolResult":
                result = _mapping(value, f"{at}.toolResult")
                if not isinstance(result.get("toolUseId"), str):
                    raise invalid(f"{at}.toolResult.toolUseId", "Member must not be null", result.get("toolUseId"))
                content = _tool_result_text(result, f"{at}.toolResult")
                results.append(Message("tool", content, tool_call_id=result["toolUseId"]))
        if role == "user" and results:
            messages.extend(results)
            if text or has_image:
                messages.append(Message("user", "\n".join(text), has_image=has_image))
        else:
            messages.append(Message(role, "\n".join(text), tuple(calls), has_image=has_image))
    if not turns or turns[0].get("role") != "user":
        raise ProviderRequestError(
            "A conversation must start with a user message. Try again with a conversation that starts with a user "
            "message.",
            param="messages",
        )
    return tuple(messages)


def parse_tools(config: Any) -> tuple[tuple[ToolSpec, ...], Any]:
    """`toolConfig.tools[].toolSpec` and `toolChoice` (auto / any / tool), in ChatRequest's terms."""
    if config is None:
        return (), None
    config = _mapping(config, "toolConfig")
    specs = []
    for i, tool in enumerate(_list(config.get("tools"), "toolConfig.tools", required=True)):
        where = f"toolConfig.tools.{i + 1}.member"
        tool = _mapping(tool, where)
        if "toolSpec" not in tool:
            if "systemTool" in tool or "cachePoint" in tool:
                continue
            raise invalid(f"{where}.toolSpec", "Member must not be null")
        spec = _mapping(tool["toolSpec"], f"{where}.toolSpec")
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            raise invalid(f"{where}.toolSpec.name", "Member must not be null", name)
        schema = _mapping(spec.get("inputSchema"), f"{where}.toolSpec.inputSchema").get("json")
        description = spec.get("description")
        specs.append(
            ToolSpec(
                name,
                description if isinstance(description, str) else None,
                schema if isinstance(schema, dict) else None,
            )
        )
    choice: Any = None
    raw_choice = config.get("toolChoice")
    if raw_choice is not None:
        raw_choice = _mapping(raw_choice, "toolConfig.toolChoice")
        if "tool" in raw_choice:
            choice = {"type": "tool", "name": _mapping(raw_choice["tool"], "toolConfig.toolChoice.tool").get("name")}
        elif "any" in raw_choice:
            choice = "required"
        elif "auto" in raw_choice:
            choice = "auto"
        else:
            raise invalid("toolConfig.toolChoice", "Member must set one of: auto, any, tool", raw_choice)
    return tuple(specs), choice


def parse_inference(config: Any) -> tuple[int | None, tuple[str, ...]]:
    """`inferenceConfig`: maxTokens (>= 1), temperature and topP (0..1), stopSequences (up to 4)."""
    if config is None:
        return None, ()
    config = _mapping(config, "inferenceConfig")
    max_tokens = config.get("maxTokens")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise invalid("inferenceConfig.maxTokens", "Member must have value greater than or equal to 1", max_tokens)
    for key in ("temperature", "topP"):
        value = config.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1
        ):
            raise invalid(f"inferenceConfig.{key}", "Member must have value less than or equal to 1", value)
    stop = _list(config.get("stopSequences"), "inferenceConfig.stopSequences")
    if len(stop) > 4 or not all(isinstance(s, str) and s for s in stop):
        raise invalid("inferenceConfig.stopSequences", "Member must have length less than or equal to 4", stop)
    return max_tokens, tuple(stop)
