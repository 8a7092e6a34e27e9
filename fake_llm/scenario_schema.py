"""The JSON Schema of the scenario format: the loader validates with it and `fake-llm schema` prints it."""

from __future__ import annotations

from typing import Any

SCHEMA_ID = "https://github.com/fake-llm/fake-llm/scenario.schema.json"

_TEXT_LOOKUP: dict[str, Any] = {
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

_MATCH: dict[str, Any] = {
    "description": "Every key must hold; an empty or missing match matches every request.",
    "type": "object",
    "properties": {
        "model": {
            "description": "Glob (fnmatch) on the request's model, or a list of globs.",
            "type": ["string", "array"],
            "items": {"type": "string"},
        },
        "user": {**_TEXT_LOOKUP, "description": "Text of the last user message."},
        "system": {**_TEXT_LOOKUP, "description": "System and developer instructions."},
        "any_message": {**_TEXT_LOOKUP, "description": "Text of any message."},
        "stream": {"type": "boolean", "description": "Whether the request asks for a stream."},
        "header": {
            "description": "Request headers (case-insensitive names) and a text lookup on each value.",
            "type": "object",
            "additionalProperties": _TEXT_LOOKUP,
        },
    },
    "additionalProperties": False,
}

_USAGE: dict[str, Any] = {
    "description": "Overrides of any usage field; nested objects are merged.",
    "type": "object",
    "properties": {
        "prompt_tokens": {"type": "integer", "minimum": 0},
        "completion_tokens": {"type": "integer", "minimum": 0},
        "total_tokens": {"type": "integer", "minimum": 0},
        "prompt_tokens_details": {"type": "object"},
        "completion_tokens_details": {"type": "object"},
    },
    "additionalProperties": True,
}

_STREAM: dict[str, Any] = {
    "description": "How a streamed reply is chunked.",
    "type": "object",
    "properties": {
        "chunk_tokens": {"type": "integer", "minimum": 1, "description": "Tokens per content chunk (default 1)."},
    },
    "additionalProperties": False,
}

_ERROR: dict[str, Any] = {
    "description": "Answer with an error in the provider's envelope instead of a completion.",
    "type": "object",
    "properties": {
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "message": {"type": "string"},
        "type": {"type": "string"},
        "code": {"type": ["string", "integer", "null"]},
        "param": {"type": ["string", "null"]},
        "headers": {"type": "object", "additionalProperties": {"type": ["string", "number"]}},
    },
    "required": ["status"],
    "additionalProperties": False,
}

#: Keys of a reply that produce its body; exactly one of them is required (checked by the loader).
REPLY_BODY_KEYS = ("content", "content_file", "error", "choices")

_CHOICE: dict[str, Any] = {
    "description": "One choice of a reply for requests with n > 1.",
    "type": "object",
    "properties": {
        "content": {"type": "string"},
        "content_file": {"type": "string"},
        "finish_reason": {"$ref": "#/$defs/finish_reason"},
    },
    "additionalProperties": False,
}

_REPLY: dict[str, Any] = {
    "description": "What the server answers. Exactly one of: " + ", ".join(REPLY_BODY_KEYS) + ".",
    "type": "object",
    "properties": {
        "content": {"type": "string", "description": "The assistant's text."},
        "content_file": {"type": "string", "description": "A file holding the text, relative to the scenario."},
        "error": _ERROR,
        "choices": {"type": "array", "minItems": 1, "items": _CHOICE},
        "finish_reason": {"$ref": "#/$defs/finish_reason"},
        "usage": _USAGE,
        "model": {"type": "string", "description": "Model name reported in the reply (default: the request's)."},
        "stream": _STREAM,
    },
    "additionalProperties": False,
}

_RULE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "description": "Unique across everything loaded."},
        "match": {"anyOf": [_MATCH, {"type": "null"}]},
        "reply": _REPLY,
        "replies": {
            "description": "Successive matches (per conversation) get successive replies; the last one repeats.",
            "type": "array",
            "minItems": 1,
            "items": _REPLY,
        },
        "times": {"type": "integer", "minimum": 1, "description": "The rule stops matching after this many uses."},
    },
    "additionalProperties": False,
}

SCENARIO_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "title": "fake-llm scenario",
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "defaults": {
            "type": "object",
            "properties": {
                "model": {"type": "string", "description": "Model listed by /v1/models and used when none is named."},
            },
            "additionalProperties": False,
        },
        "rules": {"type": "array", "items": _RULE},
    },
    "required": ["rules"],
    "additionalProperties": False,
    "$defs": {
        "finish_reason": {
            "description": "Override of the reported finish reason.",
            "enum": ["stop", "length", "tool_calls", "content_filter", "function_call"],
        },
    },
}
