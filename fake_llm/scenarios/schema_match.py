"""The `match:` part of the scenario format's JSON Schema, and the value shapes the rest of it shares."""

from __future__ import annotations

from typing import Any

MS = {"type": "number", "minimum": 0}
COUNT = {"type": "integer", "minimum": 0}
HEADERS: dict[str, Any] = {"type": "object", "additionalProperties": {"type": ["string", "number"]}}

TEXT_LOOKUP: dict[str, Any] = {
    "description": "A plain string is a case-insensitive substring; a mapping names exactly one lookup.",
    "type": ["string", "object"],
    "properties": {
        "contains": {"type": "string"},
        "equals": {"type": "string"},
        "startswith": {"type": "string"},
        "regex": {"type": "string", "description": "Python regex (re.search); named groups are kept."},
        "ignore_case": {"type": "boolean", "description": "Compare case-insensitively (default false)."},
    },
    "additionalProperties": False,
}

#: Every name `match.dialect` can hold: a request carries exactly one of them. The scenarios layer cannot import the
#: dialect registry, so tests/test_scenarios.py keeps this list equal to fake_llm.dialects.DIALECT_NAMES.
DIALECT_NAMES = (
    "openai-chat",
    "anthropic",
    "responses",
    "completions",
    "embeddings",
    "gemini",
    "azure",
    "scale",
    "realtime",
    "bedrock",
    "bedrock-invoke",
    "moderations",
    "images",
    "speech",
    "transcriptions",
    "translations",
    "ollama",
    "ollama-generate",
    "ollama-embed",
    "ollama-embeddings",
    "cohere",
    "cohere-embed",
    "cohere-rerank",
    "mistral",
    "mistral-embeddings",
)
#: An unknown name (`api: olama`) would load and never match: the enum makes it a load-time error listing these.
DIALECT_NAME: dict[str, Any] = {"type": "string", "enum": list(DIALECT_NAMES)}
# One name or a list of names; if/then (not anyOf) so that the error names the unknown value and the known ones.
DIALECTS: dict[str, Any] = {
    "type": ["string", "array"],
    "items": DIALECT_NAME,
    "if": {"type": "string"},
    "then": DIALECT_NAME,
}

MATCH: dict[str, Any] = {
    "description": "Every key must hold; an empty or missing match matches every request.",
    "type": "object",
    "properties": {
        "dialect": {
            **DIALECTS,
            "description": f"The dialect the request arrived in ({', '.join(DIALECT_NAMES)}), or a list of them.",
        },
        "api": {
            **DIALECTS,
            "description": "The old name of `dialect`, still accepted.",
        },
        "model": {
            "description": "Glob (fnmatch) on the request's model, or a list of globs.",
            "type": ["string", "array"],
            "items": {"type": "string"},
        },
        "user": {**TEXT_LOOKUP, "description": "Text of the last user message."},
        "system": {**TEXT_LOOKUP, "description": "System and developer instructions."},
        "any_message": {**TEXT_LOOKUP, "description": "Text of any message."},
        "stream": {"type": "boolean", "description": "Whether the request asks for a stream."},
        "header": {
            "description": "Request headers (case-insensitive names) and a text lookup on each value.",
            "type": "object",
            "additionalProperties": TEXT_LOOKUP,
        },
        "turn": {
            "description": "Assistant turns before this one, plus one (1 = the first answer); a number or {min, max}.",
            "anyOf": [
                {"type": "integer", "minimum": 1},
                {
                    "type": "object",
                    "properties": {"min": {"type": "integer", "minimum": 1}, "max": {"type": "integer", "minimum": 1}},
                    "additionalProperties": False,
                },
            ],
        },
        "last_role": {
            "description": "Role of the last message.",
            "enum": ["system", "developer", "user", "assistant", "tool", "function"],
        },
        "tool_result": {**TEXT_LOOKUP, "description": "Text of a tool result just sent (the trailing tool messages)."},
        "tool_result_for": {"type": "string", "description": "Name of the tool whose result was just sent."},
        "tools": {
            "description": "Tool names the request must offer (all of them).",
            "type": ["string", "array"],
            "items": {"type": "string"},
        },
        "tool_choice": {"type": "string", "description": "none, auto, required, or the name of a forced function."},
        "response_format": {"enum": ["text", "json_object", "json_schema"], "description": "Requested format type."},
        "has_image": {"type": "boolean", "description": "Whether a message carries an image."},
        "has_tools": {
            "type": "boolean",
            "description": "Whether the request offers tools and allows calling them (tool_choice is not none).",
        },
        "forces_tool": {
            "type": "boolean",
            "description": "Whether tool_choice makes a tool call mandatory (required, any, or a named function).",
        },
    },
    "additionalProperties": False,
}
