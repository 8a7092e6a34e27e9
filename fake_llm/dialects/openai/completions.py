"""OpenAI legacy completions (`POST /v1/completions`): prompts parsed into a ChatRequest, and `text_completion`
objects, whole or streamed, with the legacy logprobs shape (wire-format §4.1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fake_llm.core.dialect import key_error
from fake_llm.core.logprobs import logprobs_for
from fake_llm.core.replies import merge
from fake_llm.core.steps import StepOptions, choice_steps
from fake_llm.core.tokens import TOKENS_PER_MESSAGE, TOKENS_REPLY_PRIMING, ApproxTokenizer
from fake_llm.dialects.base import ReplyMeta
from fake_llm.dialects.openai import envelope
from fake_llm.dialects.openai.envelope import dumps
from fake_llm.dialects.openai.request import invalid_type, missing, number_field
from fake_llm.dialects.openai.responses import check_type, parse_model
from fake_llm.errors import ProviderRequestError
from fake_llm.model.plan import PlannedChoice, PlannedReply, Usage
from fake_llm.model.request import ChatRequest, Message, options_of
from fake_llm.model.spec import StreamError
from fake_llm.model.steps import StepKind
from fake_llm.model.stream import Event

#: The real API's budget when a request names none: long scripted replies are cut with finish_reason `length`.
DEFAULT_MAX_TOKENS = 16
PROMPT_TYPES = "one of a string, array of strings, array of integers, or array of arrays of integers"
FIELD_TYPES: tuple[tuple[str, type, str], ...] = (
    *((name, bool, "a boolean") for name in ("stream", "echo")),
    *((name, str, "a string") for name in ("suffix", "user")),
    *((name, dict, "an object") for name in ("stream_options", "logit_bias")),
    ("seed", int, "an integer"),
)
#: Splits an echoed prompt into tokens for its logprobs (the server's tokenizer is not known to a dialect).
_PROMPT_TOKENIZER = ApproxTokenizer()


def bare_prompt_tokens(usage: Usage, request: ChatRequest) -> int:
    """Prompt tokens without the per-message overhead the planner adds for chat (tokens.count_prompt): legacy
    completions and embeddings count only their text."""
    overhead = TOKENS_PER_MESSAGE * len(request.messages) + TOKENS_REPLY_PRIMING
    return max(0, usage.prompt_tokens - overhead)


def token_ids_text(ids: list[int]) -> str:
    """A token-array prompt as text: the ids joined by spaces (no vocabulary here to decode them); counts roughly
    one token per id."""
    return " ".join(map(str, ids))


def parse_prompts(raw: Any, param: str = "prompt") -> list[str]:
    """A string, strings, a token array or token arrays, as one text per prompt."""
    if raw is None:
        raise missing(param)
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw:
        if all(isinstance(p, str) for p in raw):
            return list(raw)
        if all(isinstance(t, int) and not isinstance(t, bool) for t in raw):
            return [token_ids_text(raw)]
        if all(isinstance(p, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in p) for p in raw):
            return [token_ids_text(p) for p in raw]
    raise invalid_type(param, PROMPT_TYPES, raw)


#: A legacy completion streams text only (no reasoning field; a refusal streams as text).
_STEPS = StepOptions(reasoning=False)


@dataclass(frozen=True, slots=True)
class CompletionsOptions:
    """What the legacy completions renderer needs beyond the neutral request."""

    #: `echo`: the prompt is sent back before the completion.
    echo: bool = False


class OpenAICompletions:
    """The legacy completions dialect; auth, errors (also mid-stream) and headers are inherited from Chat."""

    api = "completions"
    id_prefix = "cmpl-"
    routes: tuple[str, ...] = ("/v1/completions",)

    body_too_large_status = 400
    profile: str | None = None
    counts_tokens = False
    body_format = "json"
    answers_json = True
    stream_framing = "sse"
    path_prefix = ""
    error_type_header: str | None = None
    stream_media_type: str | None = None

    def api_key(self, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> str | None:
        return envelope.bearer_key(headers)

    def encode_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> tuple[bytes, str] | None:
        return None  # JSON: completion_body

    def load_body(self, request: ChatRequest, meta: ReplyMeta) -> dict[str, Any] | None:
        return None  # every request goes to the rules

    def count_body(self, tokens: int) -> dict[str, Any]:
        return envelope.input_tokens_body(tokens)

    def stream_failure(
        self, error: StreamError, position: int, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest
    ) -> list[Event]:
        return [self.stream_error_event(error, position)]

    def auth_error(self, given: str | None) -> ProviderRequestError:
        return key_error(given)

    def stream_error_event(self, error: StreamError, position: int) -> Event:
        return envelope.stream_error_event(error)

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
        return envelope.error_body(status, message, type=type, param=param, code=code, extra=extra, flat=flat)

    def response_headers(self, meta: ReplyMeta) -> dict[str, str]:
        return envelope.response_headers(meta)

    def parse(self, body: Any, headers: Mapping[str, str], params: Mapping[str, str] | None = None) -> ChatRequest:
        """Validate as OpenAI does. A list of prompts gets `n` choices per prompt (index = prompt * n + j, as the real
        API numbers them), all planned from the one reply the request matched; rules see each prompt as a user
        message (`user` matches the last one, `any_message` any)."""
        model = parse_model(body)
        prompts = parse_prompts(body.get("prompt"))
        for name, kind, expected in FIELD_TYPES:
            check_type(body, name, kind, expected)
        stream = bool(body.get("stream"))
        if body.get("stream_options") is not None and not stream:
            raise ProviderRequestError(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options",
                code="invalid_value",
            )
        n = number_field(body, "n", 1, 128, integer=True) or 1
        number_field(body, "best_of", 0, 20, integer=True)
        number_field(body, "temperature", 0, 2)
        number_field(body, "top_p", 0, 1)
        number_field(body, "frequency_penalty", -2, 2)
        number_field(body, "presence_penalty", -2, 2)
        logprobs = number_field(body, "logprobs", 0, 5, integer=True)  # an int here, not Chat's boolean
        max_tokens = number_field(body, "max_tokens", 0, 2**31, integer=True)
        stop = body.get("stop")
        stops = [stop] if isinstance(stop, str) else stop or []
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise invalid_type("stop", "one of a string or array of strings", stop)
        if len(stops) > 4:
            raise ProviderRequestError(
                "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with "
                f"length {len(stops)} instead.",
                param="stop",
                code="array_above_max_length",
            )
        return ChatRequest(
            api=self.api,
            model=model,
            messages=tuple(Message("user", prompt) for prompt in prompts),
            stream=stream,
            n=n * len(prompts),
            max_tokens=DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens,
            stop=tuple(stops),
            include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
            seed=body.get("seed"),
            logprobs=None if logprobs is None else int(logprobs),
            options=CompletionsOptions(echo=bool(body.get("echo"))),
            headers=headers,
            body=body,
        )

    # ------------------------------------------------------------------ rendering

    def usage(self, usage: Usage, request: ChatRequest | None = None) -> dict[str, Any]:
        """The legacy usage object: no token details."""
        prompt = bare_prompt_tokens(usage, request) if request is not None else usage.prompt_tokens
        computed = {"prompt_tokens": prompt, "completion_tokens": usage.completion_tokens, "total_tokens": 0}
        merged = merge(computed, usage.overrides)
        if "total_tokens" not in usage.overrides:
            merged["total_tokens"] = merged["prompt_tokens"] + merged["completion_tokens"]
        return merged

    @staticmethod
    def _prompt(request: ChatRequest, choice: PlannedChoice) -> str:
        """The prompt a choice answers (choices go n per prompt); empty unless `echo` asked to repeat it."""
        if not options_of(request, CompletionsOptions).echo:
            return ""
        per_prompt = request.n // max(1, len(request.messages))
        return request.messages[choice.index // per_prompt].text

    @staticmethod
    def _legacy_logprobs(
        request: ChatRequest, tokens: tuple[str, ...], seed: str, position: int, offset: int, prompt: str = ""
    ) -> dict[str, Any] | None:
        """`{tokens, token_logprobs, top_logprobs, text_offset}` when `logprobs` is an int (§4.1). Each top_logprobs
        entry holds the `logprobs` most likely tokens, the sampled one always among them; an echoed prompt's tokens
        come first, the very first with null values, as the real API sends them."""
        top = request.logprobs
        if top is None:
            return None
        prompt_tokens = _PROMPT_TOKENIZER.split(prompt) if prompt else []
        entries = logprobs_for([*prompt_tokens, *tokens], max(top, 1), seed, position)
        offsets = []
        for entry in entries:
            offsets.append(offset)
            offset += len(entry.token)
        token_logprobs: list[float | None] = [e.logprob for e in entries]
        top_logprobs: list[dict[str, float] | None] = [dict(e.top) for e in entries]
        if prompt_tokens and position == 0:
            token_logprobs[0] = top_logprobs[0] = None
        return {
            "tokens": [e.token for e in entries],
            "token_logprobs": token_logprobs,
            "top_logprobs": top_logprobs,
            "text_offset": offsets,
        }

    def _head(self, completion: PlannedReply, meta: ReplyMeta) -> dict[str, Any]:
        return {
            "id": meta.id,
            "object": "text_completion",
            "created": meta.created,
            "model": completion.model,
            # Recorded legacy answers carry a null fingerprint (§4.1).
            "system_fingerprint": None,
        }

    def completion_body(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> dict[str, Any]:
        choices = []
        for choice in completion.choices:
            prompt = self._prompt(request, choice)
            choices.append(
                {
                    "text": prompt + (choice.text or ""),
                    "index": choice.index,
                    "logprobs": self._legacy_logprobs(request, choice.tokens, meta.content_seed, 0, 0, prompt),
                    "finish_reason": choice.finish_reason,
                }
            )
        return {**self._head(completion, meta), "choices": choices, "usage": self.usage(completion.usage, request)}

    def stream_events(self, completion: PlannedReply, meta: ReplyMeta, request: ChatRequest) -> list[Event]:
        """Each chunk is a whole `text_completion` object holding one choice's fragment (no delta wrapper); the last
        chunk of a choice carries its finish_reason, then the usage chunk when asked for, then `[DONE]` (§4.1).

        That last chunk has kind `finish`, so `finish_chunk: false` drops it: the stream loses its final fragment
        and never tells the finish_reason, as a stream cut just before its end would."""
        head = self._head(completion, meta)
        tail = {"usage": None} if request.include_usage else {}

        def chunk(index: int, text: str, logprobs: Any, finish_reason: str | None) -> str:
            choice = {"text": text, "index": index, "logprobs": logprobs, "finish_reason": finish_reason}
            return dumps({**head, "choices": [choice], **tail})

        plans = [self._choice_chunks(choice, request, meta.content_seed) for choice in completion.choices]
        events: list[Event] = []
        for step in range(max(len(plan) for plan in plans)):
            for choice, plan in zip(completion.choices, plans, strict=True):
                if step < len(plan):
                    text, tokens, logprobs = plan[step]
                    last = step == len(plan) - 1
                    data = chunk(choice.index, text, logprobs, choice.finish_reason if last else None)
                    events.append(Event(data, kind="finish" if last else "content", tokens=tokens, step=step))
        if request.include_usage:
            usage = self.usage(completion.usage, request)
            events.append(Event(dumps({**head, "choices": [], "usage": usage}), kind="usage"))
        events.append(Event("[DONE]", kind="done"))
        return events

    def _choice_chunks(self, choice: PlannedChoice, request: ChatRequest, seed: str) -> list[tuple[str, int, Any]]:
        """(text, tokens, logprobs) of each chunk of a choice: the echoed prompt first (a piece of its own), then the
        reply's neutral text pieces; at least one chunk, so that the finish_reason has a carrier."""
        prompt = self._prompt(request, choice)
        chunks: list[tuple[str, int, Any]] = []
        if prompt:
            chunks.append((prompt, 0, self._legacy_logprobs(request, (), seed, 0, 0, prompt)))
        # Positions continue after the prompt's tokens, so a streamed reply gets the logprobs a whole one gets.
        position, offset = len(_PROMPT_TOKENIZER.split(prompt)) if prompt else 0, len(prompt)
        for piece in choice_steps(choice, _STEPS):
            if piece.kind in (StepKind.TEXT, StepKind.REFUSAL):
                tokens, text = piece.tokens, piece.text
                chunks.append((text, len(tokens), self._legacy_logprobs(request, tokens, seed, position, offset)))
                position, offset = position + len(tokens), offset + len(text)
        return chunks or [("", 0, self._legacy_logprobs(request, (), seed, 0, 0))]
