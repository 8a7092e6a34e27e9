"""The scenario spec: Scenario, Rule, Match and Reply (with its stream, error and tool-call parts) as typed, frozen
values. Every layer reads them; only fake_llm.scenarios builds them from YAML, so this module imports no yaml."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

LOOKUP_KINDS = ("contains", "equals", "startswith", "regex")
TOOL_CALLS_NOTE = "tool_calls may go with one text key"


class Searcher(Protocol):
    """What matching needs of a compiled pattern: `re.Pattern` and RE2's compiled regexes both offer it."""

    def search(self, text: str, /) -> Any: ...
    def fullmatch(self, text: str, /) -> Any: ...
    @property
    def groupindex(self) -> Mapping[str, int]: ...
    @property
    def pattern(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class TextLookup:
    """A check on a piece of text: substring, equality, prefix or regex, optionally ignoring case."""

    kind: str
    value: str
    ignore_case: bool = False
    #: Python's `re` for the operator's files; RE2 (linear time) for rules posted at run time.
    pattern: Searcher | None = None

    def describe(self) -> str:
        """The lookup as a verb phrase: `contain 'x'`, `match regex 'a.*'`."""
        verb = {"contains": "contain", "equals": "equal", "startswith": "start with", "regex": "match regex"}[self.kind]
        return f"{verb} {self.value!r}" + (" (ignoring case)" if self.ignore_case else "")


@dataclass(frozen=True, slots=True)
class Match:
    """The conditions of a rule; every one given must hold."""

    model: tuple[str, ...] | None = None
    api: tuple[str, ...] = ()
    user: TextLookup | None = None
    system: TextLookup | None = None
    any_message: TextLookup | None = None
    stream: bool | None = None
    headers: tuple[tuple[str, TextLookup], ...] = ()
    #: Inclusive bounds on the turn number (1 = first answer).
    turn: tuple[int, int | None] | None = None
    last_role: str | None = None
    tool_result: TextLookup | None = None
    tool_result_for: str | None = None
    tools: tuple[str, ...] = ()
    tool_choice: str | None = None
    response_format: str | None = None
    has_image: bool | None = None
    #: The request offers tools and lets the model call them (tool_choice is not `none`).
    has_tools: bool | None = None
    #: tool_choice makes a tool call mandatory (required, any, or a named function).
    forces_tool: bool | None = None

    @property
    def is_catch_all(self) -> bool:
        return self == Match()


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """An error reply: HTTP status, the fields of the provider's error object, and how to send it."""

    status: int
    message: str | None = None
    type: str | None = None
    code: str | int | None = None
    param: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: `wrapped` ({"error": {...}}) or `flat` (the error object alone, as some compatible providers send).
    envelope: str = "wrapped"
    #: A raw body sent instead of any envelope, with its content type.
    body: str | None = None
    content_type: str | None = None
    #: Extra fields of the error object (e.g. `failed_generation`).
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StreamError:
    """The error event of a stream that fails midway."""

    message: str | None = None
    type: str | None = None
    code: str | int | None = None
    param: str | None = None
    event_line: bool = False


@dataclass(frozen=True, slots=True)
class TimedChunk:
    """One piece of a scripted stream timeline."""

    text: str
    after_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """How a streamed reply is chunked and paced, and which faults break it (chunk counts include the role chunk)."""

    chunk_tokens: int = 1
    ttft_ms: float = 0.0
    chunk_ms: float = 0.0
    tokens_per_second: float | None = None
    jitter_ms: float = 0.0
    chunks: tuple[TimedChunk, ...] = ()
    stall_ms: float = 0.0
    stall_after: int = 1
    disconnect_after: int | None = None
    #: The WebSocket close code a realtime session's `disconnect_after` closes with (1011: internal error).
    close_code: int = 1011
    end_after: int | None = None
    finish_chunk: bool = True
    done: bool = True
    error_after: int | None = None
    error: StreamError = field(default_factory=StreamError)
    malformed_at: int | None = None
    malformed_data: str | None = None
    #: A chunk index, -1 for every chunk, or None.
    split_at: int | None = None
    split_parts: int = 2
    split_utf8: bool = False
    line_ending: str = "lf"
    keepalive_every: int | None = None
    #: Seed of the valid-but-unusual stream shapes (`vary: {seed: N}`); None sends the plain stream.
    vary_seed: int | None = None

    @property
    def is_timed(self) -> bool:
        return bool(self.ttft_ms or self.chunk_ms or self.tokens_per_second or self.jitter_ms or self.stall_ms) or any(
            c.after_ms for c in self.chunks
        )


@dataclass(frozen=True, slots=True)
class RawReply:
    """A literal HTTP response."""

    body: str
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Requests and tokens allowed per sliding minute."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    """One choice of a multi-choice reply."""

    content: str
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCallSpec:
    """A scripted tool call of the tool `name`, or of the offered tools a `tool` selector chooses
    (core/tool_calls.py); `arguments` None means "generate them from the tool's schema"."""

    name: str | None
    arguments: str | Mapping[str, Any] | None = None
    id: str | None = None
    #: forced, first, pick, best or all.
    tool: str | None = None
    #: Fixes a `pick`; by default it follows the request (and the server seed).
    seed: int | None = None
    #: The tool's JSON Schema when the scenario knows it: literal arguments are coerced and checked at load.
    parameters: Mapping[str, Any] | None = None

    @property
    def label(self) -> str:
        return self.name if self.name is not None else f"<{self.tool}>"


@dataclass(frozen=True, slots=True)
class GenerateSpec:
    """A generated reply of `words` words or `tokens` tokens (40 words when neither is given)."""

    words: int | None = None
    tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """What a rule answers: content (one or several choices) or an error, plus overrides."""

    content: str | None = None
    error: ErrorSpec | None = None
    choices: tuple[Choice, ...] = ()
    finish_reason: str | None = None
    usage: Mapping[str, Any] = field(default_factory=dict)
    model: str | None = None
    stream: StreamSpec = field(default_factory=StreamSpec)
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_ms: float = 0.0
    raw: RawReply | None = None
    hang: bool = False
    truncate_body: int | None = None
    tool_calls: tuple[ToolCallSpec, ...] = ()
    #: A JSON value sent as the content (`has_json` tells it apart from no value).
    json: Any = None
    has_json: bool = False
    generate: GenerateSpec | None = None
    refusal: str | None = None
    reasoning: str | None = None
    embedding: tuple[float, ...] | None = None
    scores: tuple[float, ...] | None = None
    #: `moderation:`, `image:`, `audio:` and `transcript:` as written (the media dialects read them).
    media: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_completion(self) -> bool:
        """True unless the reply is an error, a raw response or a hang."""
        return self.error is None and self.raw is None and not self.hang

    def summary(self) -> str:
        """A one-line description for the journal."""
        if self.hang:
            return "hang"
        if self.raw is not None:
            return f"raw {self.raw.status} body"
        if self.error is not None:
            return f"error {self.error.status}" + (f": {self.error.message}" if self.error.message else "")
        if self.choices:
            return f"{len(self.choices)} choices"
        calls = f"tool calls {', '.join(c.label for c in self.tool_calls)}" if self.tool_calls else ""
        if self.content is None and calls:
            return calls
        if self.refusal is not None:
            return "refusal"
        if self.generate is not None:
            return "generated"
        if self.has_json:
            return "json"
        body = next((key for key in ("moderation", "image", "audio") if key in self.media), None)
        if body is not None:
            return body
        text = self.content or ""
        return "content " + repr(text if len(text) <= 60 else text[:57] + "...")


@dataclass(frozen=True, slots=True)
class Rule:
    """A match plus one reply or a sequence of replies; `source` is `file:line` for messages."""

    name: str
    match: Match
    replies: tuple[Reply, ...]
    times: int | None = None
    scenario: str = ""
    source: str = ""
    rate_limit: RateLimit | None = None
    allow_unknown_tools: bool = False
    #: The rule's provider profile, else its file's `defaults.profile`.
    profile: str | None = None
    #: Rules with a higher priority are tried first, whatever their file or when they were added (default 0).
    priority: int = 0
    #: Realtime sessions: what the user's untranscribed input audio is taken to say while this rule is tried.
    transcript: str | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    """One loaded scenario file."""

    name: str
    rules: tuple[Rule, ...]
    path: str = "<inline>"
    default_model: str | None = None
    #: Files its rules read (`content_file`...), resolved: `serve --watch` reloads when one changes.
    files: tuple[str, ...] = ()


def rules_in_order(scenarios: Sequence[Scenario]) -> list[Rule]:
    """Every rule in the order it is tried: higher `priority` first, then the order of `scenarios` and of the rules
    in each (a stable sort, so equal priorities keep that order)."""
    rules = [rule for scenario in scenarios for rule in scenario.rules]
    return sorted(rules, key=lambda rule: -rule.priority)
