"""The JSON Schema of the scenario format: the loader validates with it and `fake-llm schema` prints it."""

from __future__ import annotations

from typing import Any

from fake_llm.scenarios.media_schema import MEDIA_BODY_KEYS, MEDIA_REPLY_PROPERTIES
from fake_llm.scenarios.power_schema import FINGERPRINT, NORMALIZE, chaos_schema
from fake_llm.scenarios.schema_match import COUNT, HEADERS, MATCH, MS
from fake_llm.scenarios.schema_match import DIALECT_NAMES as DIALECT_NAMES

SCHEMA_ID = "https://github.com/fake-llm/fake-llm/scenario.schema.json"


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

_STREAM_ERROR: dict[str, Any] = {
    "description": "The error event sent mid-stream (after `error_after` pieces of content).",
    "type": "object",
    "properties": {
        "message": {"type": "string"},
        "type": {"type": "string"},
        "code": {"type": ["string", "integer", "null"]},
        "param": {"type": ["string", "null"]},
        "event_line": {"type": "boolean", "description": "Precede the data line with `event: error`."},
    },
    "additionalProperties": False,
}

_STREAM: dict[str, Any] = {
    "description": "How a streamed reply is chunked, paced and (optionally) broken. Chunk counts include every "
    "data event the client sees (the role chunk is chunk 0).",
    "type": "object",
    "properties": {
        "chunk_tokens": {"type": "integer", "minimum": 1, "description": "Tokens per content chunk (default 1)."},
        "ttft_ms": {**MS, "description": "Delay before the first chunk (time to first token)."},
        "chunk_ms": {**MS, "description": "Delay between content chunks."},
        "tokens_per_second": {"type": "number", "exclusiveMinimum": 0, "description": "Pace chunks by token rate."},
        "jitter_ms": {**MS, "description": "Seeded random +- jitter added to each gap between chunks."},
        "chunks": {
            "description": "A scripted timeline: the content as these pieces, each after a delay since the previous.",
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {"text": {"type": "string"}, "after_ms": MS},
                "required": ["text"],
                "additionalProperties": False,
            },
        },
        "stall_ms": {**MS, "description": "A pause before chunk number `stall_after`."},
        "stall_after": {**COUNT, "description": "How many chunks go out before the stall (default 1)."},
        "disconnect_after": {
            **COUNT,
            "description": "Drop the connection after this many pieces of content (text, reasoning, arguments).",
        },
        "close_code": {
            "type": "integer",
            "minimum": 1000,
            "maximum": 4999,
            "description": "Realtime sessions: the WebSocket close code `disconnect_after` closes with (default 1011).",
        },
        "end_after": {
            **COUNT,
            "description": "End the stream cleanly after this many pieces of content (no finish, no [DONE]).",
        },
        "finish_chunk": {"type": "boolean", "description": "Send the chunk carrying finish_reason (default true)."},
        "done": {"type": "boolean", "description": "Send the final `data: [DONE]` (default true)."},
        "error_after": {
            **COUNT,
            "description": "Send a mid-stream error event after this many pieces of content, then end.",
        },
        "error": _STREAM_ERROR,
        "malformed_at": {
            **COUNT,
            "description": "Replace the data of the event carrying piece N (from 0) with invalid JSON.",
        },
        "malformed_data": {"type": "string", "description": "The invalid data to send (default: half the chunk)."},
        "split_at": {
            "description": "Send the event carrying piece N (or every event: `all`) in several network writes.",
            "anyOf": [COUNT, {"const": "all"}],
        },
        "split_parts": {"type": "integer", "minimum": 2, "description": "Writes per split chunk (default 2)."},
        "split_utf8": {"type": "boolean", "description": "Cut split chunks inside a multi-byte UTF-8 character."},
        "line_ending": {"enum": ["lf", "crlf"], "description": "Line ending of the SSE framing (default lf)."},
        "keepalive_every": {
            "type": "integer",
            "minimum": 1,
            "description": "Send a `: keep-alive` comment line after every N chunks.",
        },
        "vary": {
            "description": "Send the stream in valid but unusual shapes the spec allows (writes cut anywhere, "
            "comments, CRLF, multi-line data, empty deltas, tool-call ids after their index), chosen by `seed`.",
            "type": "object",
            "properties": {"seed": {"type": "integer", "description": "Same seed, same shapes (journaled)."}},
            "required": ["seed"],
            "additionalProperties": False,
        },
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
        "headers": {**HEADERS, "description": "Extra response headers."},
        "envelope": {
            "enum": ["wrapped", "flat"],
            "description": 'The error object wrapped as {"error": {...}} (default) or sent alone (`flat`).',
        },
        "body": {"type": "string", "description": "Send this raw body instead of an envelope."},
        "content_type": {"type": "string", "description": "Content type of a raw `body` (default JSON)."},
        "failed_generation": {"type": "string", "description": "JSON-mode failure: the invalid text generated."},
        "retry_after": {"type": "number", "minimum": 0, "description": "`retry-after` header, in seconds."},
        "retry_after_ms": {"type": "number", "minimum": 0, "description": "`retry-after-ms` header."},
        "should_retry": {"type": "boolean", "description": "`x-should-retry` header."},
    },
    "required": ["status"],
    "additionalProperties": False,
}

_RAW: dict[str, Any] = {
    "description": "Answer with exactly this HTTP response (e.g. a 200 whose body is not JSON).",
    "type": "object",
    "properties": {
        "status": {"type": "integer", "minimum": 100, "maximum": 599},
        "body": {"type": "string"},
        "content_type": {"type": "string"},
    },
    "required": ["body"],
    "additionalProperties": False,
}

_RATE_LIMIT: dict[str, Any] = {
    "description": "A real sliding-window limiter: over the limit, answer 429 with a correct retry-after.",
    "type": "object",
    "properties": {
        "requests_per_minute": {"type": "integer", "minimum": 1},
        "tokens_per_minute": {"type": "integer", "minimum": 1},
    },
    "additionalProperties": False,
}

#: Keys that give a reply's text: at most one, alone or with `tool_calls` (checked by the loader).
TEXT_KEYS = ("content", "content_file", "json", "generate", "refusal", "embedding", "scores", *MEDIA_BODY_KEYS)
#: Keys that make the whole reply: nothing else that produces a body may go with them.
WHOLE_REPLY_KEYS = ("error", "raw", "hang", "choices")
REPLY_BODY_KEYS = (*TEXT_KEYS, "tool_calls", *WHOLE_REPLY_KEYS)

_TOOL_CALL: dict[str, Any] = {
    "description": "A call of a function tool: the one `name` names, or the offered tools `tool` chooses.",
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "tool": {
            "description": "Choose from the tools the request offers instead of naming one: `forced` (the one "
            "tool_choice forces), `first`, `pick` (seeded), `best` (best match of name and description with the last "
            "user message, tools not yet called first) or `all` (one call each, in parallel). A function forced by "
            "tool_choice always wins.",
            "enum": ["forced", "first", "pick", "best", "all"],
        },
        "seed": {"type": "integer", "description": "Fixes a `tool: pick` (default: follows the request)."},
        "arguments": {
            "description": "A mapping (sent as a JSON string, values coerced to the types the tool's schema declares), "
            "or a raw string (to script invalid JSON). Left out: generated from the tool's JSON Schema in the "
            "request; with `tool`, the scripted keys the chosen tool declares override generated ones.",
            "type": ["object", "string"],
        },
        "parameters": {
            "description": "The tool's JSON Schema, when the scenario knows it: literal arguments are coerced and "
            "checked at load (the schema the request sends wins at reply time).",
            "type": "object",
        },
        "id": {"type": "string", "description": "The call id (default: a deterministic `call_...`)."},
    },
    "oneOf": [{"required": ["name"]}, {"required": ["tool"]}],
    "additionalProperties": False,
}

_GENERATE: dict[str, Any] = {
    "description": "Generated, deterministic reply: prose of this length, or (when the request asks for JSON) an "
    "object that fits the request's schema.",
    "type": "object",
    "properties": {"words": {"type": "integer", "minimum": 0}, "tokens": {"type": "integer", "minimum": 0}},
    "additionalProperties": False,
}

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
        "content": {"type": "string", "description": "The assistant's text (templates allowed: {{ match.name }})."},
        "content_file": {"type": "string", "description": "A file holding the text, relative to the scenario."},
        "json": {"type": ["object", "array"], "description": "A JSON value sent as the content."},
        "generate": _GENERATE,
        "refusal": {"type": "string", "description": "A structured-output refusal (content is null)."},
        "embedding": {
            "description": "The exact vector an embeddings request gets (for every input).",
            "type": "array",
            "minItems": 1,
            "items": {"type": "number"},
        },
        "scores": {
            "description": "Rerank relevance scores, one per document in request order (Cohere rerank); documents "
            "past the list's end score 0.",
            "type": "array",
            "minItems": 1,
            "items": {"type": "number", "minimum": 0, "maximum": 1},
        },
        **MEDIA_REPLY_PROPERTIES,
        "tool_calls": {"type": "array", "minItems": 1, "items": _TOOL_CALL},
        "reasoning_content": {"type": "string", "description": "Reasoning text, sent as `reasoning_content`."},
        "error": _ERROR,
        "choices": {"type": "array", "minItems": 1, "items": _CHOICE},
        "raw": _RAW,
        "hang": {"const": True, "description": "Never answer (until the server's max_hang_seconds)."},
        "finish_reason": {"$ref": "#/$defs/finish_reason"},
        "usage": _USAGE,
        "model": {"type": "string", "description": "Model name reported in the reply (default: the request's)."},
        "stream": _STREAM,
        "headers": {**HEADERS, "description": "Extra response headers (e.g. x-ratelimit-remaining-requests)."},
        "delay_ms": {**MS, "description": "Wait this long before answering."},
        "truncate_body": {**COUNT, "description": "Cut the JSON body to this many bytes."},
    },
    "additionalProperties": False,
}

_NORMALIZE, _FINGERPRINT = NORMALIZE, FINGERPRINT
_CHAOS = chaos_schema(_ERROR, MS)

_RULE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "description": "Unique across everything loaded."},
        "match": {"anyOf": [MATCH, {"type": "null"}]},
        "reply": _REPLY,
        "replies": {
            "description": "Successive matches (per conversation) get successive replies; the last one repeats.",
            "type": "array",
            "minItems": 1,
            "items": _REPLY,
        },
        "times": {"type": "integer", "minimum": 1, "description": "The rule stops matching after this many uses."},
        "priority": {
            "type": "integer",
            "description": "Rules with a higher priority are tried first, before any order of files or of adding "
            "(default 0; negative values go after everything else).",
        },
        "rate_limit": _RATE_LIMIT,
        "profile": {"$ref": "#/$defs/profile"},
        "allow_unknown_tools": {
            "type": "boolean",
            "description": "Let replies call functions the request does not offer (to script hallucinated tools).",
        },
        "transcript": {
            "type": "string",
            "description": "Realtime sessions: what the user's input audio says while this rule is tried "
            "(its `user:` match then applies to it).",
        },
        "normalize": _NORMALIZE,
        "chaos": _CHAOS,
        "fingerprint": _FINGERPRINT,
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
                "profile": {"$ref": "#/$defs/profile"},
            },
            "additionalProperties": False,
        },
        "rules": {"type": "array", "items": _RULE},
        "normalize": {**_NORMALIZE, "description": "Normalisation for every rule of the file (before the rules' own)."},
        "chaos": {**_CHAOS, "description": "Chaos for every rule of the file that has none of its own."},
    },
    "required": ["rules"],
    "additionalProperties": False,
    "$defs": {
        "profile": {
            "description": "Provider profile: its request validations and response fields.",
            "enum": ["openai", "cerebras", "scale", "gradient"],
        },
        "finish_reason": {
            "description": "Override of the reported finish reason.",
            "enum": ["stop", "length", "tool_calls", "content_filter", "function_call"],
        },
    },
}
