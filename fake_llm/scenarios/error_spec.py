"""The ErrorSpec of a scenario's `error:` mapping (a rule's reply, or a chaos rule's injected error)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fake_llm.model.spec import ErrorSpec


def error_spec(raw: Mapping[str, Any]) -> ErrorSpec:
    """An `error:` mapping (already schema-checked) as an ErrorSpec, its retry hints as the headers SDKs read."""
    headers = {k.lower(): str(v) for k, v in (raw.get("headers") or {}).items()}
    # Retry hints become the headers the SDKs read (wire-format §8.1); explicit headers win.
    if "retry_after" in raw:
        headers.setdefault("retry-after", f"{raw['retry_after']:g}")
    if "retry_after_ms" in raw:
        headers.setdefault("retry-after-ms", f"{raw['retry_after_ms']:g}")
    if "should_retry" in raw:
        headers.setdefault("x-should-retry", str(raw["should_retry"]).lower())
    extra = {"failed_generation": raw["failed_generation"]} if "failed_generation" in raw else {}
    return ErrorSpec(
        status=raw["status"],
        message=raw.get("message"),
        type=raw.get("type"),
        code=raw.get("code"),
        param=raw.get("param"),
        headers=headers,
        envelope=raw.get("envelope", "wrapped"),
        body=raw.get("body"),
        content_type=raw.get("content_type"),
        extra=extra,
    )
