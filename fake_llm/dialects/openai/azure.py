"""Azure OpenAI chat completions (`/openai/deployments/{deployment}/chat/completions?api-version=...`): the OpenAI
Chat dialect (wire-format §2) plus Azure's auth header, content-filter annotations and gateway error shape."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from fake_llm.dialects.base import ReplyMeta
from fake_llm.dialects.openai.chat import OpenAIChat
from fake_llm.dialects.openai.envelope import dumps
from fake_llm.errors import ProviderRequestError
from fake_llm.model.plan import PlannedReply
from fake_llm.model.request import ChatRequest
from fake_llm.model.stream import Event

_SAFE = {"filtered": False, "severity": "safe"}
_CLEAN = {"filtered": False, "detected": False}
#: What Azure's content filter reports for a prompt, and for an answer that passed it.
PROMPT_FILTER = {"hate": _SAFE, "jailbreak": _CLEAN, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}
ANSWER_FILTER = {
    "hate": _SAFE,
    "protected_material_code": _CLEAN,
    "protected_material_text": _CLEAN,
    "self_harm": _SAFE,
    "sexual": _SAFE,
    "violence": _SAFE,
}
#: A `content_filter` finish: Azure names the category that tripped (which one is our choice).
FILTERED = {**ANSWER_FILTER, "violence": {"filtered": True, "severity": "medium"}}
#: Statuses Azure's API gateway answers itself, as `{"error": {"code": "<status>", "message": ...}}`.
GATEWAY_MESSAGES = {
    401: "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for "
    "an active subscription and use a correct regional API endpoint for your resource.",
    404: "Resource not found",
    429: "Requests to the ChatCompletions_Create Operation under Azure OpenAI API have exceeded call rate limit of "
    "your current OpenAI S0 pricing tier. Please retry after 1 second. Please go here: "
    "https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.",
}


def _answer_filter(finish_reason: str | None) -> dict[str, Any]:
    return FILTERED if finish_reason == "content_filter" else ANSWER_FILTER


def _verdict(kind: str, finish_reason: str | None) -> str:
    """A chunk choice's `content_filter_results`: the verdict on content, empty on the role and finish chunks
    (unless the finish is `content_filter`)."""
    verdict = kind not in ("role", "finish") or finish_reason == "content_filter"
    return ',"content_filter_results":' + dumps(_answer_filter(finish_reason) if verdict else {})


class AzureOpenAIChat(OpenAIChat):
    """Azure OpenAI chat completions; the model is the body's `model` if sent, else the deployment name."""

    api = "azure"
    # The deployment route is what `openai.AzureOpenAI` calls; `/openai/v1/` is Azure's newer OpenAI-compatible
    # surface (plain `openai.OpenAI(base_url=...)`, no api-version, model from the body).
    routes: tuple[str, ...] = ("/openai/deployments/{deployment}/chat/completions", "/openai/v1/chat/completions")

    def api_key(self, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> str | None:
        """`api-key` (what AzureOpenAI sends for a key), else `Authorization: Bearer` (Entra ID tokens)."""
        key = headers.get("api-key", "").strip()
        return key or super().api_key(headers)

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> ChatRequest:
        params = params or {}
        deployment = params.get("deployment")
        if deployment is None:
            return super().parse(body, headers, params)
        if not params.get("api-version"):
            # Azure answers a deployment call without api-version with a bare 404 (the SDK always sends one).
            raise ProviderRequestError(GATEWAY_MESSAGES[404], code="404", status=404)
        injected = {**body, "model": deployment} if isinstance(body, dict) and body.get("model") is None else body
        chat = super().parse(injected, headers, params)
        return dataclasses.replace(chat, body=body) if injected is not body else chat

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        """OpenAI's body plus `prompt_filter_results` and each choice's `content_filter_results`."""
        body = super().completion_body(completion, meta, request)
        for choice in body["choices"]:
            choice["content_filter_results"] = _answer_filter(choice.get("finish_reason"))
        body["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": PROMPT_FILTER}]
        return body

    def stream_events(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        """OpenAI's chunks, led by Azure's prompt-filter chunk (empty id/model, `choices: []`), with
        `content_filter_results` on every choice: the verdict on content chunks, empty on the role and finish chunks
        (unless the finish is `content_filter`)."""
        head = {"choices": [], "created": 0, "id": "", "model": "", "object": ""}
        prompt = {**head, "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": PROMPT_FILTER}]}
        return [Event(dumps(prompt), kind="prompt_filter"), *self.chunk_events(completion, meta, request, _verdict)]

    def error_body(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        param: str | None = None,
        code: Any = None,
        extra: Mapping[str, Any] | None = None,
        flat: bool = False,
    ) -> dict[str, Any]:
        """401/404/429 come from Azure's gateway as `{"error": {"code": "429", "message": ...}}` (a string code);
        everything else, or an error a scenario gives a `type` or `param`, in OpenAI's envelope."""
        if status not in GATEWAY_MESSAGES or param is not None or type not in (None, "requests", "tokens"):
            return super().error_body(status, message, type=type, param=param, code=code, extra=extra, flat=flat)
        if code == "invalid_api_key":  # the engine's auth failure: Azure words it its own way
            message = GATEWAY_MESSAGES[401]
        if code in (None, "invalid_api_key", "rate_limit_exceeded"):
            code = str(status)
        error = {"code": code, "message": message or GATEWAY_MESSAGES[status], **(extra or {})}
        return error if flat else {"error": error}

    def response_headers(self, meta: ReplyMeta) -> dict[str, str]:
        return {
            "x-request-id": meta.request_id,
            "apim-request-id": meta.request_id,
            "x-ms-region": "East US",
            "x-ms-rai-invoked": "true",
            "x-content-type-options": "nosniff",
        }
