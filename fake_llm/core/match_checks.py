"""Per-key match checks, each explaining its failure: `explain` (a rule's match against a request), `subject` (the
request as a rule's `normalize:` steps make it) and `rule_reason` (the match, then a recording's tool-schema
fingerprint). The Selector (core/matching.py) runs them in rule order."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from fnmatch import fnmatchcase

from fake_llm.core.normalize import normalize_request, tools_hash
from fake_llm.core.tool_calls import forces_tool
from fake_llm.model.request import ChatRequest
from fake_llm.model.spec import Match, Rule, TextLookup
from fake_llm.scenarios.safe_regex import compile_linear

#: A check returns None when it holds, else a reason; regex captures go into the dict it is given.
Check = Callable[[Match, ChatRequest, dict[str, str]], "str | None"]


def _clip(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def lookup_text(lookup: TextLookup, text: str, captures: dict[str, str]) -> bool:
    """Whether `text` satisfies `lookup`; a regex's named groups are added to `captures`."""
    if lookup.pattern is not None:
        found = lookup.pattern.search(text)
        if found is None:
            return False
        captures.update({k: v for k, v in found.groupdict().items() if v is not None})
        return True
    value, subject = lookup.value, text
    if lookup.ignore_case:
        value, subject = value.casefold(), subject.casefold()
    if lookup.kind == "contains":
        return value in subject
    if lookup.kind == "equals":
        return value == subject
    return subject.startswith(value)


def case_hint(lookup: TextLookup, texts: Sequence[str]) -> str:
    """A hint for a case-sensitive lookup that fails only because of case (mapping forms do not ignore case)."""
    if lookup.ignore_case:
        return ""
    if isinstance(lookup.pattern, re.Pattern):
        folded = re.compile(lookup.pattern.pattern, lookup.pattern.flags | re.IGNORECASE)
        hit = any(folded.search(text) for text in texts)
    elif lookup.pattern is not None:  # a run-time rule's RE2 pattern: its case-folded twin stays linear-time
        folded_linear = compile_linear(lookup.value, ignore_case=True)
        hit = any(folded_linear.search(text) for text in texts)
    else:
        relaxed = TextLookup(lookup.kind, lookup.value, ignore_case=True)
        hit = any(lookup_text(relaxed, text, {}) for text in texts)
    return " (it would match ignoring case: add `ignore_case: true`)" if hit else ""


def _check_model(match: Match, request: ChatRequest, captures: dict[str, str]) -> str | None:
    if match.model is None or any(fnmatchcase(request.model, pattern) for pattern in match.model):
        return None
    wanted = " or ".join(repr(p) for p in match.model)
    return f"model {request.model!r} does not match {wanted}"


def _text_check(key: str, describe: str, read: Callable[[ChatRequest], Sequence[str]]) -> Check:
    def check(match: Match, request: ChatRequest, captures: dict[str, str]) -> str | None:
        lookup: TextLookup | None = getattr(match, key)
        if lookup is None:
            return None
        texts = read(request)
        if any(lookup_text(lookup, text, captures) for text in texts):
            return None
        shown = _clip(texts[0]) if len(texts) == 1 else f"{len(texts)} messages"
        return f"{key}: {describe} {shown} does not {lookup.describe()}{case_hint(lookup, texts)}"

    return check


def _check_api(match: Match, request: ChatRequest, captures: dict[str, str]) -> str | None:
    if not match.api or request.api in match.api:
        return None
    return f"api: request came in as {request.api!r}, rule wants {' or '.join(map(repr, match.api))}"


def _check_stream(match: Match, request: ChatRequest, captures: dict[str, str]) -> str | None:
    if match.stream is None or match.stream == request.stream:
        return None
    return f"stream: request has stream={str(request.stream).lower()}"


def _check_headers(match: Match, request: ChatRequest, captures: dict[str, str]) -> str | None:
    for name, lookup in match.headers:
        value = request.headers.get(name)
        if value is None:
            return f"header {name!r} is missing"
        if not lookup_text(lookup, value, captures):
            return f"header {name!r}: {_clip(value)} does not {lookup.describe()}{case_hint(lookup, [value])}"
    return None


def _check_turn(match: Match, request: ChatRequest, captures: dict[str, str]) -> str | None:
    if match.turn is None:
        return None
    low, high = match.turn
    if request.turn >= low and (high is None or request.turn <= high):
        return None
    wanted = str(low) if low == high else f"{low}..{high if high is not None else ''}"
    return f"turn: request is at turn {request.turn}, rule wants {wanted}"


def _check_last_role(match: Match, request: ChatRequest, captures: dict[str, str]) -> str | None:
    if match.last_role is None or request.last_role == match.last_role:
        return None
    return f"last_role: the last message is from {request.last_role!r}, not {match.last_role!r}"


def _check_tool_result(match: Match, request: ChatRequest, captures: dict[str, str]) -> str | None:
    if match.tool_result is None and match.tool_result_for is None:
        return None
    results = request.tool_results
    if not results:
        return "tool_result: the last message is not a tool result"
    if match.tool_result_for is not None:
        names = [request.tool_names_by_call_id.get(m.tool_call_id or "", "?") for m in results]
        if match.tool_result_for not in names:
            sent = ", ".join(map(repr, names))
            return f"tool_result_for: results just sent are for {sent}, not {match.tool_result_for!r}"
    lookup = match.tool_result
    if lookup is not None and not any(lookup_text(lookup, m.text, captures) for m in results):
        return f"tool_result: tool result {_clip(results[-1].text)} does not {lookup.describe()}"
    return None


def _check_tools(match: Match, request: ChatRequest, captures: dict[str, str]) -> str | None:
    offered = {tool.name for tool in request.tools}
    missing = [name for name in match.tools if name not in offered]
    if not missing:
        return None
    return f"tools: the request does not offer {', '.join(map(repr, missing))} (offers {sorted(offered) or 'none'})"


def _check_request_options(match: Match, request: ChatRequest, captures: dict[str, str]) -> str | None:
    if match.tool_choice is not None and request.tool_choice_name != match.tool_choice:
        has = "sets no tool_choice" if request.tool_choice_name is None else f"has {request.tool_choice_name!r}"
        return f"tool_choice: the request {has}, rule wants {match.tool_choice!r}"
    if match.response_format is not None and request.response_format_type != match.response_format:
        fmt = request.response_format_type
        has = "sets no response_format" if fmt is None else f"has {fmt!r}"
        return f"response_format: the request {has}, rule wants {match.response_format!r}"
    if match.has_image is not None and request.has_image != match.has_image:
        return "has_image: the request has " + ("an image" if request.has_image else "no image")
    has_tools = bool(request.tools) and request.tool_choice_name != "none"
    if match.has_tools is not None and has_tools != match.has_tools:
        if has_tools:
            return "has_tools: the request offers tools"
        return "has_tools: the request " + ("offers no tools" if not request.tools else "forbids tool calls")
    if match.forces_tool is not None and forces_tool(request) != match.forces_tool:
        return f"forces_tool: the request's tool_choice is {request.tool_choice_name!r}"
    return None


#: Checks in the order they are tried; the first failure is the reason a rule did not match.
CHECKS: tuple[Check, ...] = (
    _check_api,
    _check_model,
    _check_stream,
    _check_headers,
    _check_turn,
    _check_last_role,
    _check_tools,
    _check_request_options,
    _check_tool_result,
    _text_check("user", "last user message", lambda r: [r.last_user]),
    _text_check("system", "system prompt", lambda r: [r.system]),
    _text_check("any_message", "any message of", lambda r: [m.text for m in r.messages] or [""]),
)


def explain(match: Match, request: ChatRequest) -> tuple[str | None, dict[str, str]]:
    """The first reason `match` does not hold for `request` (None if it holds) and the regex captures."""
    captures: dict[str, str] = {}
    for check in CHECKS:
        reason = check(match, request, captures)
        if reason is not None:
            return reason, captures
    return None, captures


def subject(rule: Rule, request: ChatRequest) -> ChatRequest:
    """The request as `rule` sees it: normalised by its `normalize:` steps."""
    return normalize_request(request, rule.normalize)


def rule_reason(rule: Rule, request: ChatRequest) -> tuple[str | None, dict[str, str]]:
    """Why `rule` does not hold for `request` (already normalised for it), with its captures: its match, then the
    tool schemas its recording's fingerprint names."""
    reason, captures = explain(rule.match, request)
    if reason is None and rule.fingerprint is not None and tools_hash(request) != rule.fingerprint.tools:
        reason = "fingerprint: the request's tool schemas differ from the ones this rule was recorded with"
    return reason, captures
