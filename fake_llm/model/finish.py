"""FinishReason: why a planned choice ended, in neutral terms; each dialect maps it to its own word (Anthropic's
`stop_reason`, Gemini's `finishReason`, Bedrock's `stopReason` ...).

A StrEnum, so its members are the strings scenarios script (`finish_reason: length`) and compare and hash as
those strings in the dialects' mapping tables."""

from __future__ import annotations

from enum import StrEnum


class FinishReason(StrEnum):
    STOP = "stop"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"
    FUNCTION_CALL = "function_call"
