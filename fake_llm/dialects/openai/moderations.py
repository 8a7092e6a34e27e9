"""OpenAI moderations (`POST /v1/moderations`): one result per input with all 13 categories in `categories`,
`category_scores` and `category_applied_input_types`. Flags and scores come from the rule's `moderation:`; without
one, nothing is flagged and every score is small and deterministic."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from fake_llm.dialects.base import ReplyMeta
from fake_llm.dialects.openai.chat import OpenAIChat
from fake_llm.dialects.openai.request import invalid_type
from fake_llm.dialects.openai.responses_request import check_type
from fake_llm.errors import ProviderRequestError
from fake_llm.model.media import MODERATION_CATEGORIES
from fake_llm.model.plan import PlannedReply
from fake_llm.model.request import ChatRequest, Message
from fake_llm.model.stream import Event

DEFAULT_MODEL = "omni-moderation-latest"
#: Categories omni-moderation also scores on images; the rest apply to text only.
IMAGE_CATEGORIES = frozenset(
    {"self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "violence", "violence/graphic"}
)
#: Score of a category scripted by name only, and the score from which a category counts as flagged.
LISTED_SCORE = 0.9
THRESHOLD = 0.5


def _inputs(raw: Any) -> list[tuple[str, bool]]:
    """(text, is_image) of each input: a string, a list of strings, or a list of text / image_url parts."""
    if isinstance(raw, str):
        return [(raw, False)]
    if not isinstance(raw, list) or not raw:
        raise invalid_type("input", "a string, an array of strings or an array of multi-modal inputs", raw)
    inputs = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            inputs.append((item, False))
        elif isinstance(item, dict) and item.get("type") == "text" and isinstance(item.get("text"), str):
            inputs.append((item["text"], False))
        elif isinstance(item, dict) and item.get("type") == "image_url":
            url = item.get("image_url")
            if not isinstance(url, dict) or not isinstance(url.get("url"), str):
                raise invalid_type(f"input[{i}].image_url.url", "a string", url)
            inputs.append((url["url"], True))
        else:
            raise invalid_type(f"input[{i}]", "a string or a text or image_url part", item)
    return inputs


def default_score(seed: int, model: str, text: str, category: str) -> float:
    """A small score (below 0.001) that depends only on the input and category."""
    digest = hashlib.blake2b(f"{seed}:{model}:{text}:{category}".encode(), digest_size=4).digest()
    return round(int.from_bytes(digest, "big") / 2**32 * 0.001, 8)


class OpenAIModerations(OpenAIChat):
    """The moderations dialect; auth, error envelope and headers are Chat's. It never streams."""

    api = "moderations"
    id_prefix = "modr-"
    routes: tuple[str, ...] = ("/v1/moderations",)

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> ChatRequest:
        """Each input becomes a user message (`user:` matches the last one, `any_message:` any)."""
        if not isinstance(body, dict):
            raise invalid_type("body", "a JSON object", body)
        if body.get("input") is None:
            raise ProviderRequestError(
                "Missing required parameter: 'input'.", param="input", code="missing_required_parameter"
            )
        model = check_type(body, "model", str, "a string") or DEFAULT_MODEL
        inputs = _inputs(body["input"])
        if any(image for _, image in inputs) and not model.startswith("omni-moderation"):
            raise ProviderRequestError(
                f"Model {model} does not support image inputs; use omni-moderation-latest.", param="input"
            )
        messages = tuple(Message("user", "" if image else text, has_image=image) for text, image in inputs)
        return ChatRequest(api=self.api, model=model, messages=messages, headers=headers, body={**body, "model": model})

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        scripted = completion.media.get("moderation")
        specs = scripted if isinstance(scripted, list) else [scripted or {}]
        raw = request.body["input"]
        inputs = _inputs(raw)
        results = [
            self._result(specs[min(i, len(specs) - 1)] or {}, text, image, meta.seed, request.model)
            for i, (text, image) in enumerate(inputs)
        ]
        if isinstance(raw, list) and raw and not isinstance(raw[0], str):
            # Multi-modal inputs are moderated together: one result for the whole list.
            results = [self._merge(results)]
        return {"id": meta.id, "model": completion.model, "results": results}

    @staticmethod
    def _result(spec: Mapping[str, Any], text: str, image: bool, seed: int, model: str) -> dict[str, Any]:
        listed = spec.get("categories") or {}
        scripted = {name: LISTED_SCORE for name in listed} if isinstance(listed, list) else dict(listed)
        scores = {c: float(scripted.get(c, default_score(seed, model, text, c))) for c in MODERATION_CATEGORIES}
        flags = {c: scores[c] >= THRESHOLD for c in MODERATION_CATEGORIES}
        kinds = ["image"] if image else ["text"]
        applied = {c: kinds if not image or c in IMAGE_CATEGORIES else [] for c in MODERATION_CATEGORIES}
        return {
            "flagged": bool(spec.get("flagged", any(flags.values()))),
            "categories": flags,
            "category_scores": scores,
            "category_applied_input_types": applied,
        }

    @staticmethod
    def _merge(results: list[dict[str, Any]]) -> dict[str, Any]:
        scores = {c: max(r["category_scores"][c] for r in results) for c in MODERATION_CATEGORIES}
        applied = {c: sorted({k for r in results for k in r["category_applied_input_types"][c]}) for c in scores}
        return {
            "flagged": any(r["flagged"] for r in results),
            "categories": {c: any(r["categories"][c] for r in results) for c in MODERATION_CATEGORIES},
            "category_scores": scores,
            "category_applied_input_types": applied,
        }

    def stream_events(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        return []  # never called: moderations do not stream
