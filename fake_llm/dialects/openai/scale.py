"""Scale GenAI Platform chat completions (`/v4/beta/chat/completions`, `/v5/chat/completions`, wire-format §7b).

OpenAI-shaped, authenticated by `x-api-key`; the guided-decoding and memory fields are parsed by the OpenAI adapter.
"""

from __future__ import annotations

from collections.abc import Mapping

from fake_llm.dialects.openai.chat import OpenAIChat


class ScaleChat(OpenAIChat):
    """The Scale GenAI Platform dialect: the OpenAI chat shapes under the `scale` profile."""

    api = "scale"
    routes: tuple[str, ...] = ("/v4/beta/chat/completions", "/v5/chat/completions")
    #: Requests on these paths get the `scale` profile unless a rule or file names another.
    profile: str | None = "scale"

    def api_key(self, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> str | None:
        return headers.get("x-api-key") or super().api_key(headers, params)
