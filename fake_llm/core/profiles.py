"""Provider profiles: the validations and response fields that set one OpenAI-compatible provider apart.

A profile comes from the rule (`profile:`), its file's `defaults.profile`, the dialect (Scale's paths), or the
server's `--profile`, in that order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fake_llm.errors import ProviderRequestError
from fake_llm.model.request import ChatRequest

PROFILES = ("openai", "cerebras", "scale", "gradient")


def check(profile: str | None, request: ChatRequest) -> None:
    """Reject what the profile's provider rejects (a 400 naming the param)."""
    if profile == "cerebras":
        _check_cerebras(request)
    elif profile == "scale":
        _check_scale(request)


def _check_cerebras(request: ChatRequest) -> None:
    # Cerebras accepts temperature only in 0..1.5, and refuses JSON mode together with streaming (wire-format §7a).
    temperature = request.body.get("temperature")
    if isinstance(temperature, (int, float)) and not isinstance(temperature, bool) and not 0 <= temperature <= 1.5:
        raise ProviderRequestError(
            f"Invalid 'temperature': {temperature}. Temperature must be between 0 and 1.5.",
            param="temperature",
            code="wrong_api_format",
        )
    if request.stream and request.response_format_type in ("json_object", "json_schema"):
        raise ProviderRequestError(
            "Streaming is not supported with JSON mode (response_format); set stream to false.",
            param="stream",
            code="wrong_api_format",
        )


def _check_scale(request: ChatRequest) -> None:
    # Scale names models vendor/model_name[/deployment] (wire-format §7b).
    if request.model.count("/") not in (1, 2) or "" in request.model.split("/"):
        raise ProviderRequestError(
            f"Invalid 'model': {request.model!r}. Expected 'vendor/model_name' or 'vendor/model_name/deployment'.",
            param="model",
        )


def usage_fields(profile: str | None) -> Mapping[str, Any]:
    """Usage fields the profile's provider adds to every reply (merged under the scenario's own `usage:`)."""
    if profile == "gradient":
        # DigitalOcean Gradient's prompt-caching usage, with its own spelling (wire-format §7c).
        return {
            "cache_created_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        }
    return {}
