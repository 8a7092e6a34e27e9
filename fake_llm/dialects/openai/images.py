"""OpenAI image generation (`POST /v1/images/generations`): real PNGs of the requested size, deterministic per
seed, model, prompt and index, sent as `b64_json` or as a `url` this server answers (`GET /_fake/images/...`). The
URL names the image's size and digest, so the server regenerates it on each GET and keeps nothing in memory."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fake_llm.core.media import png
from fake_llm.dialects.base import ReplyMeta
from fake_llm.dialects.openai.chat import OpenAIChat
from fake_llm.dialects.openai.request import invalid_type, missing, number_field
from fake_llm.dialects.openai.responses_request import check_type, invalid_value
from fake_llm.errors import ProviderRequestError
from fake_llm.model.plan import PlannedReply
from fake_llm.model.request import ChatRequest, Message, options_of
from fake_llm.model.stream import Event

DEFAULT_MODEL = "dall-e-2"
SIZES = {
    "dall-e-2": ("256x256", "512x512", "1024x1024"),
    "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
    "gpt-image-1": ("1024x1024", "1536x1024", "1024x1536", "auto"),
}
#: Models of the gpt-image family answer base64 only, with usage and their output settings.
GPT_IMAGE = re.compile(r"^gpt-image")
MAX_N = {"dall-e-3": 1}
PROMPT_LIMITS = {"dall-e-2": 1000, "dall-e-3": 4000}
FORMATS = ("url", "b64_json")
IMAGE_PATH = "/_fake/images/{size}/{digest}.png"
DIGEST = re.compile(r"^[0-9a-f]{32}$")


def served_sizes() -> set[str]:
    """Every size some model draws: the sizes GET /_fake/images answers."""
    return {size for group in SIZES.values() for size in group if size != "auto"}


def _sizes(model: str) -> tuple[str, ...]:
    return SIZES["gpt-image-1"] if GPT_IMAGE.match(model) else SIZES.get(model, SIZES["dall-e-2"])


def image_digest(seed: int, model: str, prompt: str, index: int) -> str:
    return hashlib.blake2b(f"{seed}:{model}:{prompt}:{index}".encode(), digest_size=16).hexdigest()


def dimensions(size: str) -> tuple[int, int]:
    width, _, height = ("1024x1024" if size == "auto" else size).partition("x")
    return int(width), int(height)


@dataclass(frozen=True, slots=True)
class ImageOptions:
    """What the images renderer needs beyond the neutral request (whose `n` stays 1: one reply, many images)."""

    #: `n`: how many images.
    images: int = 1
    size: str = "1024x1024"
    #: `response_format: b64_json` (gpt-image models always answer so), else URLs.
    b64_json: bool = False
    quality: str = "auto"


class OpenAIImages(OpenAIChat):
    """The image generation dialect; auth, error envelope and headers are Chat's. It never streams."""

    api = "images"
    id_prefix = "img-"  # image replies carry no id; the engine still names each reply
    routes: tuple[str, ...] = ("/v1/images/generations",)

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> ChatRequest:
        """Validated as OpenAI does per model; the prompt is the user message rules match."""
        if not isinstance(body, dict):
            raise invalid_type("body", "a JSON object", body)
        model = check_type(body, "model", str, "a string") or DEFAULT_MODEL
        prompt = body.get("prompt")
        if prompt is None:
            raise missing("prompt")
        check_type(body, "prompt", str, "a string")
        limit = PROMPT_LIMITS.get(model)
        if limit is not None and len(prompt) > limit:
            raise ProviderRequestError(
                f"Invalid 'prompt': string too long. Expected a string with maximum length {limit}, but got a string "
                f"with length {len(prompt)} instead.",
                param="prompt",
                code="string_above_max_length",
            )
        n = number_field(body, "n", 1, MAX_N.get(model, 10), integer=True) or 1
        size = check_type(body, "size", str, "a string") or "1024x1024"
        if size not in _sizes(model):
            raise invalid_value(size, _sizes(model), "size")
        response_format = check_type(body, "response_format", str, "a string")
        if response_format is not None:
            if GPT_IMAGE.match(model):
                raise ProviderRequestError(
                    f"Unknown parameter: 'response_format'. {model} always returns b64_json.",
                    param="response_format",
                    code="unknown_parameter",
                )
            if response_format not in FORMATS:
                raise invalid_value(response_format, FORMATS, "response_format")
        output_format = check_type(body, "output_format", str, "a string")
        if output_format not in (None, "png"):
            raise ProviderRequestError(
                f"fake-llm generates PNG images only; output_format {output_format!r} is not supported (use 'png').",
                param="output_format",
                code="invalid_value",
            )
        normalized = {**body, "model": model, "n": n, "size": size, "response_format": response_format or "url"}
        options = ImageOptions(
            images=n, size=size, b64_json=response_format == "b64_json", quality=str(body.get("quality") or "auto")
        )
        return ChatRequest(
            api=self.api,
            model=model,
            messages=(Message("user", prompt),),
            n=1,
            options=options,
            headers=headers,
            body=normalized,
        )

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        options = options_of(request, ImageOptions)
        spec = completion.media.get("image") or {}
        width, height = dimensions(options.size)
        gpt_image = bool(GPT_IMAGE.match(request.model))
        host = request.headers.get("host", "127.0.0.1")
        data = []
        for index in range(options.images):
            digest = image_digest(meta.seed, request.model, request.last_user, index)
            item: dict[str, Any] = {}
            if gpt_image or options.b64_json:
                item["b64_json"] = base64.b64encode(png(width, height, digest)).decode()
            else:
                item["url"] = f"http://{host}" + IMAGE_PATH.format(size=f"{width}x{height}", digest=digest)
            if request.model == "dall-e-3" or "revised_prompt" in spec:
                item["revised_prompt"] = spec.get("revised_prompt", request.last_user)
            data.append(item)
        reply: dict[str, Any] = {"created": meta.created, "data": data}
        if gpt_image:
            prompt_tokens = completion.usage.prompt_tokens
            output = 272 * options.images  # a low-quality square's tokens; enough for budgeting clients
            reply.update(
                background="opaque",
                output_format="png",
                # The reply reports the quality used, never `auto` (ImagesResponse.quality is low|medium|high); auto
                # resolves to low, which the output token count above assumes.
                quality=options.quality if options.quality in ("low", "medium", "high") else "low",
                size=f"{width}x{height}",
                usage={
                    "input_tokens": prompt_tokens,
                    "input_tokens_details": {"text_tokens": prompt_tokens, "image_tokens": 0},
                    "output_tokens": output,
                    "total_tokens": prompt_tokens + output,
                },
            )
        return reply

    def stream_events(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        return []  # never called: fake-llm does not stream partial images
