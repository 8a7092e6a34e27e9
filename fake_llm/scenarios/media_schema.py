"""The JSON Schema of the reply keys for OpenAI's media and moderation endpoints: `moderation:`, `image:`, `audio:`
(each a whole reply body) and `transcript:` (what goes with a transcription's text)."""

from __future__ import annotations

from typing import Any

from fake_llm.model.media import MODERATION_CATEGORIES

#: Reply keys that make a media body (each one alone, like `content`).
MEDIA_BODY_KEYS = ("moderation", "image", "audio")
MEDIA_KEYS = (*MEDIA_BODY_KEYS, "transcript")
#: The dialects (`api:`) each media key answers.
MEDIA_APIS = {
    "moderation": ("moderations",),
    "image": ("images",),
    "audio": ("speech",),
    "transcript": ("transcriptions", "translations"),
}

_SCORE = {"type": "number", "minimum": 0, "maximum": 1}
_MODERATION_RESULT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "categories": {
            "description": "Flagged categories: a list of names (score 0.9 each), or names and their scores "
            "(a category is flagged from 0.5). The others get small deterministic scores.",
            "anyOf": [
                {"type": "array", "items": {"enum": list(MODERATION_CATEGORIES)}, "uniqueItems": True},
                {
                    "type": "object",
                    "propertyNames": {"enum": list(MODERATION_CATEGORIES)},
                    "additionalProperties": _SCORE,
                },
            ],
        },
        "flagged": {"type": "boolean", "description": "Overrides the result's `flagged` (default: any category)."},
    },
    "additionalProperties": False,
}

MEDIA_REPLY_PROPERTIES: dict[str, Any] = {
    "moderation": {
        "description": "A moderations reply: one result for every input, or a list with one per input (the last "
        "repeats).",
        "anyOf": [_MODERATION_RESULT, {"type": "array", "minItems": 1, "items": _MODERATION_RESULT}],
    },
    "image": {
        "description": "An images reply: each image is a real PNG of the requested size, deterministic per seed, "
        "prompt and index.",
        "type": "object",
        "properties": {"revised_prompt": {"type": "string", "description": "Sent as each image's revised_prompt."}},
        "additionalProperties": False,
    },
    "audio": {
        "description": "A speech reply: a tone of this length and pitch (default: the length of the text read aloud).",
        "type": "object",
        "properties": {
            "seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 600},
            "frequency": {"type": "number", "minimum": 50, "maximum": 4000, "description": "Pitch in Hz."},
        },
        "additionalProperties": False,
    },
    "transcript": {
        "description": "With `content:` (the text), for transcriptions and translations: the language and duration "
        "reported (default: the request's language, and the upload's length when it is a WAV file).",
        "type": "object",
        "properties": {
            "language": {"type": "string", "minLength": 1},
            "duration": {"type": "number", "exclusiveMinimum": 0},
        },
        "additionalProperties": False,
    },
}
