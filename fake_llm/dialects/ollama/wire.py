"""What every Ollama answer shares: `created_at` timestamps, the timing and token metrics of a finished answer,
the `{"error": "..."}` envelope and the response headers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from fake_llm.core.replies import merge
from fake_llm.model.plan import Usage

#: Ollama's own wording for statuses a scenario's error leaves without a message.
ERROR_MESSAGES = {
    400: "bad request",
    401: "unauthorized",
    403: "forbidden",
    404: "model not found, try pulling it first",
    429: "too many requests",
    500: "internal server error",
    503: "server busy, please try again. maximum pending requests exceeded",
}
#: Nanoseconds per token a fake answer reports for prompt evaluation and generation (plausible for a local GPU).
PROMPT_NS_PER_TOKEN = 250_000
EVAL_NS_PER_TOKEN = 12_500_000
LOAD_NS = 15_000_000
_USAGE_NAMES = {"prompt_tokens": "prompt_eval_count", "completion_tokens": "eval_count"}


def dumps(value: Any) -> str:
    """Compact JSON as Go's encoder writes it (non-ASCII kept as UTF-8)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def created_at(seconds: float) -> str:
    """RFC 3339 with Go's trailing-zero trimming of fractional seconds (`time.RFC3339Nano`)."""
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def metrics(usage: Usage) -> dict[str, Any]:
    """The metrics of a finished answer: real token counts and durations derived from them (in nanoseconds).
    A scenario's `usage:` may use OpenAI's names (prompt_tokens, completion_tokens) or Ollama's."""
    overrides = {_USAGE_NAMES.get(k, k): v for k, v in usage.overrides.items() if not k.endswith("_details")}
    overrides.pop("total_tokens", None)
    counts = merge({"prompt_eval_count": usage.prompt_tokens, "eval_count": usage.completion_tokens}, overrides)
    prompt_ns = int(counts["prompt_eval_count"]) * PROMPT_NS_PER_TOKEN
    eval_ns = int(counts["eval_count"]) * EVAL_NS_PER_TOKEN
    return {
        "total_duration": LOAD_NS + prompt_ns + eval_ns,
        "load_duration": LOAD_NS,
        "prompt_eval_count": counts["prompt_eval_count"],
        "prompt_eval_duration": prompt_ns,
        "eval_count": counts["eval_count"],
        "eval_duration": eval_ns,
    }


def done_reason(finish_reason: str) -> str:
    """Ollama ends an answer with `stop` (tool calls too) or `length`."""
    return "length" if finish_reason == "length" else "stop"


def error_body(status: int, message: str, *, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`{"error": "<string>"}`: the ollama client raises ResponseError with that string and the status."""
    return {"error": message or ERROR_MESSAGES.get(status, f"error {status}"), **(extra or {})}


def response_headers() -> dict[str, str]:
    return {}
