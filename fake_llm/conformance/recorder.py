"""The conformance recorder: an ASGI middleware that captures every response fake-llm sends and has the matching
checker validate it, and the report that collects verdicts across a test session (or a lint run).

Output a scenario breaks on purpose is recognised from the journal entry the engine leaves in the ASGI scope
(`fake_llm.entry`): its `faults` name the scripted breakage (a raw or truncated body, malformed or cut streams),
and only what that fault makes invalid is skipped; everything else in the same exchange is still checked.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Importing a checker's module registers it.
from fake_llm.conformance import (  # noqa: F401
    anthropic_spec,
    bedrock_spec,
    cohere_spec,
    gemini_spec,
    mistral_spec,
    ollama_spec,
    openai_spec,
    realtime_spec,
)
from fake_llm.conformance.registry import Verdict, Violation, checker_for, checkers
from fake_llm.conformance.wire import parse_eventstream, parse_json_array, parse_ndjson, parse_sse
from fake_llm.http.app import error_shape

#: Faults after which the body is not the dialect's shape at all (it is the scenario's own bytes, or seeded chaos
#: cut it or dropped the connection midway).
BODY_FAULTS = (
    "raw body",
    "error body",
    "truncate_body",
    "flat error envelope",
    "chaos: body cut",
    "chaos: connection dropped",
)
#: Scripted non-JSON tool-call arguments: only the fields that carry them are exempt.
ARGUMENT_FIELDS = re.compile(r".*\.(arguments|input|partial_json|args)$")
#: Stream faults that cut the stream short: every event that arrives is checked, but not how the stream ends.
CUT_FAULTS = ("end_after", "disconnect_after", "finish_chunk=false", "done=false")
#: Content types of 2xx bodies that are media, not JSON (audio/speech, transcripts as text, SRT or WebVTT).
MEDIA_TYPES = ("audio/", "text/plain", "text/vtt", "application/x-subrip", "application/octet-stream")
#: WebSocket endpoints whose server events are checked, and the content type their frames are recorded under.
REALTIME_PATHS = ("/v1/realtime",)
REALTIME_EVENTS = "application/x-fake-llm-realtime-events"
#: Routes outside the dialects' own, by path, with the API whose checker answers for them.
OTHER_ROUTES = (
    ("/v1/models", "openai-models"),
    ("/v1/messages/count_tokens", "anthropic"),
    ("/api/tags", "ollama-models"),
    ("/api/show", "ollama-models"),
    ("/api/ps", "ollama-models"),
    ("/api/version", "ollama-models"),
)


@dataclass(frozen=True, slots=True)
class Exchange:
    """One response as it went out."""

    method: str
    path: str
    query: str
    status: int
    content_type: str
    body: bytes
    api: str | None
    faults: tuple[str, ...] = ()
    stream_outcome: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """The violations of one exchange."""

    exchange: Exchange
    violations: tuple[Violation, ...]

    def __str__(self) -> str:
        head = f"{self.exchange.method} {self.exchange.path} -> {self.exchange.status} ({self.exchange.api})"
        # The same fault usually repeats on every chunk of a stream: show it once, with where it occurred.
        grouped: dict[tuple[str, str, str], list[str]] = {}
        for v in self.violations:
            grouped.setdefault((v.schema, v.field, v.message), []).append(v.where)
        lines = [head]
        for (schema, field, message), wheres in grouped.items():
            at = wheres[0] if len(wheres) == 1 else f"{wheres[0]} (+{len(wheres) - 1} more)"
            lines.append(f"  {at}: {schema} {field}: {message}")
        return "\n".join(lines)


class Report:
    """Verdicts collected across many apps and threads: schemas exercised, findings, and what was skipped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition()
        self._pending = 0
        self.exercised: Counter[tuple[str, str]] = Counter()
        self.skipped: Counter[str] = Counter()
        #: Exchanges of dialects no checker is registered for, by API name.
        self.unchecked: Counter[str] = Counter()
        self.findings: list[Finding] = []

    def check(self, exchange: Exchange) -> Verdict:
        verdict = check_exchange(exchange, self.skipped_reason)
        checker = checker_for(exchange.api) if exchange.api else None
        family = checker.family if checker else "?"
        with self._lock:
            if checker is None and exchange.api:
                self.unchecked[exchange.api] += 1
            self.exercised.update((family, name) for name in verdict.schemas)
            if verdict.violations:
                self.findings.append(Finding(exchange, tuple(verdict.violations)))
        return verdict

    def skipped_reason(self, reason: str) -> None:
        with self._lock:
            self.skipped[reason] += 1

    @contextlib.contextmanager
    def pending(self) -> Iterator[None]:
        """Marks a verdict that is on its way (the response has gone out, its check has not finished)."""
        with self._idle:
            self._pending += 1
        try:
            yield
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def take_findings(self, wait: float = 30.0) -> list[Finding]:
        """The findings so far, and forget them (the pytest plugin fails the test that produced them); first waits
        (at most `wait` seconds) for the checks of responses that have already gone out."""
        with self._idle:
            self._idle.wait_for(lambda: self._pending == 0, timeout=wait)
        with self._lock:
            found, self.findings = self.findings, []
        return found

    def summary(self) -> list[str]:
        """Which response schemas were exercised (and how often), and which were never reached."""
        lines = []
        for checker in sorted(checkers(), key=lambda checker: checker.family):  # a stable order, whatever loaded first
            why = checker.available()
            if why is not None:
                lines.append(f"{checker.family}: not checked ({why})")
                continue
            hit = [f"{name} x{self.exercised[(checker.family, name)]}" for name in checker.response_schemas()
                   if self.exercised[(checker.family, name)]]  # fmt: skip
            missed = [n for n in checker.response_schemas() if not self.exercised[(checker.family, n)]]
            lines.append(f"{checker.family}: exercised {len(hit)}: {', '.join(hit) or '-'}")
            lines.append(f"{checker.family}: never reached {len(missed)}: {', '.join(missed) or '-'}")
        if self.unchecked:
            counts = ", ".join(f"{api} x{n}" for api, n in sorted(self.unchecked.items()))
            lines.append(f"no checker registered (conformance.registry.register) for: {counts}")
        if self.skipped:
            lines.append(
                "skipped by design (scripted faults): "
                + ", ".join(f"{k} x{v}" for k, v in sorted(self.skipped.items()))
            )
        return lines


def check_exchange(exchange: Exchange, skipped: Any = None) -> Verdict:
    """Validate one exchange with the checker for its API (an empty verdict when none applies)."""
    verdict = _check(exchange, skipped or (lambda reason: None))
    if "non-JSON tool arguments" in exchange.faults:
        kept = [v for v in verdict.violations if not ARGUMENT_FIELDS.match(v.field)]
        if len(kept) < len(verdict.violations) and skipped:
            skipped("non-JSON tool arguments")
        verdict.violations = kept
    if "scripted error code" in exchange.faults:  # the scenario's own `code:`, checked by `fake-llm lint`
        verdict.violations = [v for v in verdict.violations if not v.field.startswith("$.error.details")]
    if "error extra fields" in exchange.faults:  # the scenario's own `extra:` keys, added on purpose
        verdict.violations = [v for v in verdict.violations if v.message != "field not in the provider's schema"]
    return verdict


def _check(exchange: Exchange, note: Any) -> Verdict:
    checker = checker_for(exchange.api) if exchange.api else None
    if checker is None or checker.available() is not None:
        return Verdict()
    body_fault = next((f for f in exchange.faults if f.startswith(BODY_FAULTS)), None)
    if body_fault is not None:
        note(body_fault.split("=")[0])
        return Verdict()
    parse = _stream_parser(exchange)
    if parse is None and exchange.status < 400 and exchange.content_type.startswith(MEDIA_TYPES):
        # Speech audio and text/srt/vtt transcripts: the checker sees the bytes (there is no JSON to hold them to).
        return checker.check_body(exchange.api or "", exchange.path, exchange.status, exchange.body)
    if parse is None:
        try:
            body = json.loads(exchange.body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            verdict = Verdict()
            verdict.violations.append(Violation("body", "$", f"not JSON: {exchange.body[:80]!r}"))
            return verdict
        return checker.check_body(exchange.api or "", exchange.path, exchange.status, body)
    parsed = parse(exchange.body)
    cut = [f for f in exchange.faults if f.startswith(CUT_FAULTS)]
    if exchange.stream_outcome not in (None, "completed"):
        cut.append(exchange.stream_outcome)
    for reason in cut:
        note(reason.split("=")[0] if "=" in reason and not reason.endswith("false") else reason)
    scripted_malformed = any(f.startswith("malformed_at") for f in exchange.faults)
    verdict = checker.check_stream(
        exchange.api or "", exchange.path, parsed.events, complete=not cut and not scripted_malformed
    )
    if scripted_malformed:  # the broken event is missing from the sequence: its order cannot hold
        verdict.violations = [v for v in verdict.violations if not v.where.startswith("stream order")]
    for index, payload in parsed.not_json:
        if scripted_malformed or cut:
            note("malformed_at" if scripted_malformed else "cut mid-event")
            continue
        verdict.violations.append(Violation("event", "data:", f"not JSON: {payload[:80]!r}", f"event {index}"))
    return verdict


def _stream_parser(exchange: Exchange) -> Any:
    """How the client reads this response as a stream, or None for a single JSON body."""
    content_type = exchange.content_type
    if content_type.startswith("text/event-stream"):
        return parse_sse
    if content_type.startswith(("application/x-ndjson", REALTIME_EVENTS)):
        return parse_ndjson
    if content_type.startswith("application/vnd.amazon.eventstream"):
        return parse_eventstream
    if exchange.status < 400 and ":streamGenerateContent" in exchange.path:
        return parse_json_array
    return None


class ConformanceRecorder:
    """ASGI middleware: passes every request through and has `report` check the response that went out."""

    def __init__(self, app: ASGIApp, report: Report) -> None:
        self.app = app
        self.report = report

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] in REALTIME_PATHS:
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http" or scope["path"].startswith("/_fake"):
            await self.app(scope, receive, send)
            return
        status = 0
        content_type = ""
        chunks: list[bytes] = []
        checked = False

        def check() -> None:
            nonlocal checked
            if status and not checked:
                checked = True
                self.report.check(_exchange(scope, status, content_type, b"".join(chunks)))

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        content_type = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    # Checked after the last bytes leave (the check must not delay them: timing is part of what
                    # fake-llm sends), but the report knows one is pending, so a test that has read the response
                    # cannot take its findings before the verdict is in.
                    with self.report.pending():
                        await send(message)
                        check()
                    return
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            check()  # a stream cut short: checked with what went out

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A Realtime session: its server events (text frames), checked when the socket closes, one JSON per line
        (`REALTIME_EVENTS`). Beta sessions speak another event vocabulary than the GA document describes."""
        frames: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "websocket.send" and message.get("text") is not None:
                frames.append(message["text"].encode())
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            if _is_beta(scope):
                self.report.skipped_reason("realtime beta session (the document describes GA)")
            elif frames:
                body = b"\n".join(frames) + b"\n"
                path = scope["path"]
                self.report.check(Exchange("GET", path, "", 101, REALTIME_EVENTS, body, "realtime"))


def _is_beta(scope: Scope) -> bool:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    return "realtime=v1" in headers.get("openai-beta", "") or "realtime-v1" in headers.get("sec-websocket-protocol", "")


def _exchange(scope: Scope, status: int, content_type: str, body: bytes) -> Exchange:
    entry = scope.get("fake_llm.entry")
    journal = scope.get("fake_llm.journal")
    if entry is not None and journal is not None:  # entries are frozen: the journal's copy knows how a stream ended
        entry = journal.get(entry.seq) or entry
    path: str = scope["path"]
    api = getattr(entry, "api", None)
    if entry is None:
        api = next((name for prefix, name in OTHER_ROUTES if path.startswith(prefix)), None)
        if api is None and status in (404, 405):
            api = error_shape(path).api  # unknown URLs get their path's dialect envelope (app.http_error)
    return Exchange(
        method=scope.get("method", ""),
        path=path,
        query=scope.get("query_string", b"").decode("latin-1"),
        status=status,
        content_type=content_type,
        body=body,
        api=api,
        faults=tuple(getattr(entry, "faults", ()) or ()),
        stream_outcome=getattr(entry, "stream_outcome", None),
    )
