"""The Bedrock checker: Converse bodies, ConverseStream and InvokeModelWithResponseStream frames and error bodies
against botocore's shipped JSON service model for `bedrock-runtime` (the shapes botocore parses the wire with).

A structure's required members must be present, every member must be one the model names (botocore drops unknown
members silently, so an invented one would go unnoticed by boto3 users and break stricter clients), a union sets
exactly one member, enums and scalar types hold, blobs are base64 (rest-json). InvokeModel's own bodies are the
model vendor's (Anthropic's Messages, Llama's): they carry no service-model shape and are not checked here.
"""

from __future__ import annotations

import base64
import functools
import importlib.metadata
import json
from collections.abc import Sequence
from typing import Any

from fake_llm.conformance.registry import SSEEvent, Verdict, Violation, register

SCALARS: dict[str, Any] = {
    "string": str,
    "integer": int,
    "long": int,
    "boolean": bool,
    "double": (int, float),
    "float": (int, float),
    "timestamp": (int, float, str),
}
#: The exception every error body is read as when no `__type` names one (all of them are `{message}`).
DEFAULT_ERROR = "ValidationException"


@functools.lru_cache(maxsize=1)
def shapes() -> dict[str, Any]:
    from botocore.loaders import Loader  # type: ignore[import-untyped]

    model: dict[str, Any] = Loader().load_service_model("bedrock-runtime", "service-2")
    return dict(model["shapes"])


def problems(value: Any, shape_name: str, where: str = "body", path: str = "$") -> list[Violation]:
    """What in `value` breaks the modelled shape `shape_name` (JSON as rest-json sends it)."""
    shape = shapes()[shape_name]
    kind = shape["type"]
    if shape.get("document"):
        return []

    def fail(message: str, at: str = path) -> list[Violation]:
        return [Violation(shape_name, at, message, where)]

    if kind == "structure":
        if not isinstance(value, dict):
            return fail(f"expected an object, got {value!r:.60}")
        members = shape["members"]
        out = [v for name in shape.get("required", []) if name not in value for v in fail("required", f"{path}.{name}")]
        if shape.get("union") and len(value) != 1:
            out += fail(f"a union sets exactly one member, not {len(value)}")
        for name, item in value.items():
            if name not in members:
                out += fail("field not in the service model", f"{path}.{name}")
            else:
                out += problems(item, members[name]["shape"], where, f"{path}.{name}")
        return out
    if kind == "list":
        if not isinstance(value, list):
            return fail("expected a list")
        return [
            v for i, item in enumerate(value) for v in problems(item, shape["member"]["shape"], where, f"{path}[{i}]")
        ]
    if kind == "map":
        if not isinstance(value, dict):
            return fail("expected an object")
        return [v for k, item in value.items() for v in problems(item, shape["value"]["shape"], where, f"{path}.{k}")]
    if kind == "blob":
        try:
            base64.b64decode(value, validate=True)
        except (ValueError, TypeError):
            return fail("not base64")
        return []
    if kind == "string" and "enum" in shape and value not in shape["enum"]:
        return fail(f"{value!r} is not one of {shape['enum']}")
    expected = SCALARS[kind]
    if not isinstance(value, expected) or (kind != "boolean" and isinstance(value, bool)):
        return fail(f"expected {kind}, got {value!r:.60}")
    return []


class BedrockChecker:
    family = "bedrock"
    apis: tuple[str, ...] = ("bedrock", "bedrock-invoke")

    def available(self) -> str | None:
        try:
            importlib.metadata.version("botocore")
        except importlib.metadata.PackageNotFoundError:
            return "botocore is not installed (pip install 'fake-llm[conformance]')"
        return None

    def response_schemas(self) -> list[str]:
        members = shapes()["ConverseStreamOutput"]["members"]
        return sorted({"ConverseResponse", "PayloadPart", DEFAULT_ERROR, *(m["shape"] for m in members.values())})

    def check_body(self, api: str, path: str, status: int, body: Any) -> Verdict:
        verdict = Verdict()
        if status >= 400:
            error = body.get("__type", "").rpartition("#")[2] if isinstance(body, dict) else ""
            name = error if error in shapes() else DEFAULT_ERROR
            found = problems({k: v for k, v in body.items() if k != "__type"} if isinstance(body, dict) else body, name)
            verdict.add(name, found)
        elif api == "bedrock":
            verdict.add("ConverseResponse", problems(body, "ConverseResponse"))
        return verdict  # InvokeModel: the model vendor's own body, which the service model leaves opaque

    def check_stream(self, api: str, path: str, events: Sequence[SSEEvent], *, complete: bool) -> Verdict:
        """`events` are decoded event-stream frames: `event` the `:event-type` (or `:exception-type`), `data` the
        payload JSON."""
        verdict = Verdict()
        union = "ConverseStreamOutput" if api == "bedrock" else "ResponseStream"
        members = shapes()[union]["members"]
        for i, event in enumerate(events):
            where = f"frame {i} ({event.event})"
            member = members.get(str(event.event))
            if member is None:
                verdict.violations.append(Violation(union, ":event-type", f"{event.event!r} is not a member", where))
                continue
            verdict.add(member["shape"], problems(event.data, member["shape"], where))
            if api == "bedrock-invoke" and event.event == "chunk" and isinstance(event.data, dict):
                try:  # each chunk's bytes decode to one JSON event of the model vendor
                    json.loads(base64.b64decode(event.data.get("bytes", "")))
                except ValueError:
                    verdict.violations.append(Violation("PayloadPart", "$.bytes", "not base64 JSON", where))
        if complete and api == "bedrock" and events and events[-1].event not in ("metadata", *_exceptions(members)):
            verdict.violations.append(Violation(union, "$", "the stream does not end with metadata", "stream order"))
        return verdict


def _exceptions(members: dict[str, Any]) -> list[str]:
    return [name for name, m in members.items() if shapes()[m["shape"]].get("exception")]


register(BedrockChecker())
