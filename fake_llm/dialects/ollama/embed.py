"""Ollama embeddings: `POST /api/embed` (`input` a string or strings, answered with `embeddings`, a list of unit
vectors) and the older `POST /api/embeddings` (`prompt`, answered with one `embedding`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fake_llm.dialects.base import ReplyMeta
from fake_llm.dialects.ollama import request as req
from fake_llm.dialects.ollama.chat import OllamaChat
from fake_llm.dialects.ollama.wire import LOAD_NS, PROMPT_NS_PER_TOKEN
from fake_llm.dialects.openai.completions import bare_prompt_tokens
from fake_llm.dialects.openai.embeddings import embed
from fake_llm.model.plan import PlannedReply
from fake_llm.model.request import ChatRequest, Message
from fake_llm.model.stream import Event

#: Vector length of the usual Ollama embedding models; others get nomic-embed-text's 768.
DIMENSIONS = {"all-minilm": 384, "mxbai-embed-large": 1024, "snowflake-arctic-embed": 1024, "bge-m3": 1024}
DEFAULT_DIMENSIONS = 768


def native_dimensions(model: str) -> int:
    return next((n for prefix, n in DIMENSIONS.items() if model.startswith(prefix)), DEFAULT_DIMENSIONS)


class OllamaEmbed(OllamaChat):
    """`/api/embed`: each input a user message (so rules match them), one vector per input, in order."""

    api = "ollama-embed"
    routes: tuple[str, ...] = ("/api/embed",)

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> ChatRequest:
        model = req.model_of(body)
        raw = body.get("input")
        if isinstance(raw, str):
            texts = [raw]
        elif isinstance(raw, list) and all(isinstance(t, str) for t in raw):
            texts = list(raw)
        elif raw is None:
            texts = []
        else:
            raise req.bad(f"invalid input type: {req.json_type(raw)}", "input")
        dimensions = body.get("dimensions")
        if dimensions is not None and (isinstance(dimensions, bool) or not isinstance(dimensions, int)):
            raise req.unmarshal_error(dimensions, "int", "dimensions")
        if isinstance(dimensions, int) and not 0 < dimensions <= native_dimensions(model):
            raise req.bad(f"dimensions must be between 1 and {native_dimensions(model)}", "dimensions")
        req.parse_options(body.get("options"))
        return ChatRequest(
            api=self.api,
            model=model,
            messages=tuple(Message("user", text) for text in texts),
            headers=headers,
            body=body,
        )

    def vectors(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[list[float]]:
        """A scripted `embedding:` (sent exactly as written) for every input, else each input's own deterministic
        unit vector."""
        if completion.embedding is not None:
            return [list(completion.embedding)] * len(request.messages)
        size = request.body.get("dimensions") or native_dimensions(request.model)
        return [embed(meta.seed, request.model, m.text, size) for m in request.messages]

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        prompt = bare_prompt_tokens(completion.usage, request)
        prompt = int(completion.usage.overrides.get("prompt_tokens", prompt))
        return {
            "model": completion.model,
            "embeddings": self.vectors(completion, meta, request),
            "total_duration": LOAD_NS + prompt * PROMPT_NS_PER_TOKEN,
            "load_duration": LOAD_NS,
            "prompt_eval_count": prompt,
        }

    def stream_events(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        return []  # never called: an embeddings request never streams


class OllamaEmbeddings(OllamaEmbed):
    """`/api/embeddings` (deprecated, still served by Ollama): `prompt` in, one `embedding` out."""

    api = "ollama-embeddings"
    routes: tuple[str, ...] = ("/api/embeddings",)

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> ChatRequest:
        model = req.model_of(body)
        prompt = body.get("prompt", "")
        if not isinstance(prompt, str):
            raise req.unmarshal_error(prompt, "string", "prompt")
        req.parse_options(body.get("options"))
        return ChatRequest(api=self.api, model=model, messages=(Message("user", prompt),), headers=headers, body=body)

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        # Ollama answers an empty prompt with an empty vector (it loads the model and returns).
        if not request.messages[0].text and completion.embedding is None:
            return {"embedding": []}
        return {"embedding": self.vectors(completion, meta, request)[0]}
