"""ReplyCache: pre-rendered answers for requests seen before, with slots for what changes per request.

Answering the same request bytes again under the same rules gives the same bytes except for the reply id, the
request id and `created`. Such a request (same dialect, path, query, headers and body; a stateless rule: no
`times`, one reply, no rate limit, no delay, no Python reply, chaos or `after:`; a JSON body or a zero-delay stream
without faults), when it comes a second time, is learnt as a template (the ASGI messages, each per-request value
replaced by a slot); the next time, the pipeline's own answer is compared with the template filled with that
request's values (with another `created`, unless the clock is frozen). Once they agree, the answer is the template
filled in, and the journal gets the learnt entry with this request's number, time and headers: the entry the
pipeline would have made. A change to the rules, switched-off scenarios, counters or settings makes every
template stale.
"""

from __future__ import annotations

import dataclasses
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.types import Message

from fake_llm.core.journal import JournalEntry
from fake_llm.core.outcomes import Completed, Outcome

#: Distinct requests remembered (least recently used dropped first), and the largest body worth remembering.
MAX_TEMPLATES = 256
MAX_BODY = 8 * 1024
#: A request seen once: learnt only if it comes again (most distinct requests never do, and learning costs).
_SEEN = "seen"

Key = tuple[Any, ...]
#: The per-request values, in slot order: reply id, request id, created.
Values = tuple[str, str, int]


@dataclass(slots=True)
class Template:
    """One learnt answer: the response head and body as parts (bytes, or a slot number) and its journal entry."""

    version: object
    start: Message
    #: Header positions holding a slot -> the slot.
    header_slots: dict[int, int]
    #: The body as a %-format over the slots (b"%(0)s"...): filled by one C-level formatting call.
    body: bytes
    entry: JournalEntry
    learnt: Values
    frozen: bool
    verified: bool = False

    def fill(self, values: Values) -> tuple[Message, bytes]:
        """The head and body for a request with these values."""
        encoded = (values[0].encode(), values[1].encode(), str(values[2]).encode())
        headers = list(self.start["headers"])
        for index, slot in self.header_slots.items():
            headers[index] = (headers[index][0], encoded[slot])
        body = self.body % {b"0": encoded[0], b"1": encoded[1], b"2": encoded[2]}
        return {**self.start, "headers": headers}, body

    def journal_entry(self, seq: int, time: float, headers: dict[str, str], values: Values) -> JournalEntry:
        """The entry the pipeline would have made: the learnt one renumbered, its stream events with these ids."""
        changes: dict[str, Any] = {"seq": seq, "time": time, "headers": headers}
        if self.entry.events:
            learnt, events, frozen = self.learnt, self.entry.events, self.frozen
            changes["events"] = LazyEvents(make=lambda: [_refilled(e, learnt, values, frozen) for e in events])
            changes["stream_outcome"] = "completed"  # a zero-delay stream is written at once
        return dataclasses.replace(self.entry, **changes)


class LazyEvents(list[Any]):
    """A journal entry's stream events, made on first read: most entries are never read event by event."""

    def __init__(self, items: Iterable[Any] = (), make: Callable[[], list[Any]] | None = None) -> None:
        super().__init__(items)
        self._make = make

    def _filled(self) -> LazyEvents:
        if self._make is not None:
            make, self._make = self._make, None
            super().extend(make())
        return self

    def __iter__(self) -> Iterator[Any]:
        return super(LazyEvents, self._filled()).__iter__()

    def __len__(self) -> int:
        return super(LazyEvents, self._filled()).__len__()

    def __getitem__(self, index: Any) -> Any:
        return super(LazyEvents, self._filled()).__getitem__(index)

    def __eq__(self, other: object) -> bool:
        return super(LazyEvents, self._filled()).__eq__(other)

    __hash__ = None

    def __repr__(self) -> str:
        return super(LazyEvents, self._filled()).__repr__()

    def __reduce_ex__(self, protocol: Any) -> Any:  # copy and deepcopy get a plain list
        return list, (list(self),)


class ReplyCache:
    """Templates by request key: `lookup` gives a verified, current one; `observe` learns and verifies."""

    def __init__(self) -> None:
        self._templates: OrderedDict[Key, Template | str | None] = OrderedDict()

    @staticmethod
    def key(api: str, scope: Mapping[str, Any], body: bytes) -> Key | None:
        if len(body) > MAX_BODY:
            return None
        return (api, scope["path"], scope.get("query_string", b""), tuple(scope["headers"]), body)

    def lookup(self, key: Key, version: object) -> Template | None:
        template = self._templates.get(key)
        if isinstance(template, Template) and template.verified and template.version == version:
            self._templates.move_to_end(key)
            return template
        return None

    def observe(
        self, key: Key, version: object, outcome: Outcome, entry: JournalEntry, sent: list[Message], frozen: bool
    ) -> None:
        """After the pipeline answered `key` with `sent`: learn a template, or verify (or give up on) the one learnt."""
        template = self._templates.get(key, ...)
        if template is None:  # known not to be replayable
            return
        if isinstance(template, Template) and template.version == version:
            values = (outcome.meta.id, outcome.meta.request_id, outcome.meta.created)
            start, body = template.fill(values)
            if not (len(sent) == 2 and sent[0] == start and sent[1].get("body") == body):
                self._templates[key] = None  # something else in the answer changes from request to request
            elif frozen or values[2] != template.learnt[2]:
                template.verified = True
            return
        self._templates[key] = _learn(version, outcome, entry, sent, frozen) if template == _SEEN else _SEEN
        self._templates.move_to_end(key)
        while len(self._templates) > MAX_TEMPLATES:
            self._templates.popitem(last=False)


def _learn(
    version: object, outcome: Outcome, entry: JournalEntry, sent: list[Message], frozen: bool
) -> Template | None:
    """A template of `sent`, or None when this answer cannot be replayed (see the module docstring)."""
    if not isinstance(outcome, Completed) or outcome.faults or outcome.seen.delay_ms:
        return None
    plan = outcome.plan
    if plan is not None and (plan.abort or any(e.at_ms or e.parts != 1 for e in plan.events)):
        return None
    if len(sent) != 2 or sent[0]["type"] != "http.response.start" or sent[1].get("more_body", False):
        return None
    values: Values = (outcome.meta.id, outcome.meta.request_id, outcome.meta.created)
    pattern = _slot_pattern(values, frozen)
    encoded = [values[0].encode(), values[1].encode(), str(values[2]).encode()]
    header_slots = {
        i: encoded.index(value)
        for i, (_, value) in enumerate(sent[0]["headers"])
        if value in encoded[: 2 if frozen else 3]
    }
    body: list[bytes] = []
    for n, piece in enumerate(pattern.split(sent[1].get("body", b""))):
        if n % 2:
            body.append(b"%%(%d)s" % encoded.index(piece))
        else:
            body.append(piece.replace(b"%", b"%%"))
    return Template(version, sent[0], header_slots, b"".join(body), entry, values, frozen)


def _slot_pattern(values: Values, frozen: bool) -> re.Pattern[bytes]:
    """The per-request values in an answer: the ids (long random strings) anywhere, `created` only as the value of
    a created field (never inside other numbers); a frozen clock's `created` is no slot."""
    alternatives = [re.escape(values[0].encode()), re.escape(values[1].encode())]
    if not frozen:
        created = re.escape(str(values[2]).encode())
        alternatives.append(rb'(?<="created":)' + created + rb"(?![0-9])")
        alternatives.append(rb'(?<="created_at":)' + created + rb"(?![0-9])")
    return re.compile(b"(" + b"|".join(alternatives) + b")")


def _refilled(event: Any, learnt: Values, values: Values, frozen: bool) -> Any:
    data: str = event.data.replace(learnt[0], values[0]).replace(learnt[1], values[1])
    if not frozen and learnt[2] != values[2]:
        data = re.sub(rf'(?:(?<="created":)|(?<="created_at":)){learnt[2]}(?![0-9])', str(values[2]), data)
    return dataclasses.replace(event, data=data)
