"""The JSON Schema of the test-author power keys: `normalize:` steps, seeded `chaos:` and a recorded rule's
`fingerprint:` (scenario/schema.py puts them in place)."""

from __future__ import annotations

from typing import Any

#: Built-in `normalize:` steps (their patterns live in scenarios/normalizers.py).
NORMALIZER_NAMES = ("uuid", "iso_datetime", "hex_id", "tmp_path")

_NORMALIZE_STEP: dict[str, Any] = {
    "type": "object",
    "properties": {
        "regex": {"type": "string", "description": "Python regex (re.sub) over each prompt text."},
        "replace": {"type": "string", "description": "The replacement (\\1 and \\g<name> allowed)."},
    },
    "required": ["regex", "replace"],
    "additionalProperties": False,
}

NORMALIZE: dict[str, Any] = {
    "description": "Rewrite prompt texts before matching and recording: built-in names ("
    + ", ".join(NORMALIZER_NAMES)
    + ") or {regex, replace}, applied in order.",
    "type": "array",
    "items": {"anyOf": [{"enum": list(NORMALIZER_NAMES)}, _NORMALIZE_STEP]},
}

_RATE = {"type": "number", "minimum": 0, "maximum": 1}


def chaos_schema(error: dict[str, Any], ms: dict[str, Any]) -> dict[str, Any]:
    """The `chaos:` mapping, its `error` being a reply's `error:` schema."""
    return {
        "description": "Seeded chaos: each request draws its faults from the seed, and the journal shows every draw.",
        "type": "object",
        "properties": {
            "seed": {"type": "integer", "description": "Seed of the draws (default: the server's chaos seed)."},
            "error_rate": {**_RATE, "description": "Probability of answering `error` instead."},
            "error": {**error, "description": "The injected error (default 500 server_error)."},
            "disconnect_rate": {**_RATE, "description": "Probability of dropping the connection mid-answer."},
            "stall_rate": {**_RATE, "description": "Probability of a stall of `stall_ms`."},
            "stall_ms": {**ms, "description": "Length of a stall (default 5000)."},
            "malformed_rate": {**_RATE, "description": "Probability of a malformed chunk or body."},
        },
        "additionalProperties": False,
    }


FINGERPRINT: dict[str, Any] = {
    "description": "Written by the recorder: what the rule was recorded against (prompt: hash of the normalised "
    "prompt, tools: hash of the tool schemas, model), to explain cassette misses. A rule with a fingerprint only "
    "matches requests with the same tool schemas.",
    "type": "object",
    "properties": {"prompt": {"type": "string"}, "tools": {"type": "string"}, "model": {"type": "string"}},
    "required": ["prompt", "tools", "model"],
    "additionalProperties": False,
}
