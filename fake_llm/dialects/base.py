"""The Dialect protocol and ReplyMeta, re-exported for the dialects (they live in core/dialect.py, where the
pipeline that calls them can see them). `Provider` is the old name of `Dialect`, kept for plugins."""

from __future__ import annotations

from fake_llm.core.dialect import Dialect, ReplyMeta

Provider = Dialect

__all__ = ["Dialect", "Provider", "ReplyMeta"]
