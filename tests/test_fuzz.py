"""Property: no body gets a 5xx, a reset or a hang, in any dialect (issue 11, finding 7), over a real socket. Bounded
for `make test` (a few hundred bodies, about 20 s at most); `make fuzz` runs 100,000 (tests/fuzz_run.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fake_llm.testing.server import FakeLLMServer
from tests.fuzz_corpus import DIALECTS, NASTY_RAW, RULES, _paths, encode, replaced

SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
TEXT = st.text(st.characters() | SURROGATES, max_size=40)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(rules=RULES, time_scale=0) as running:
        yield running


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=20) as running:
        yield running


@settings(max_examples=250, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), dialect=st.sampled_from(DIALECTS), stream=st.booleans())
def test_no_body_gets_a_5xx(server: FakeLLMServer, client: httpx.Client, data: Any, dialect: Any, stream: bool) -> None:
    name, path, template, headers = dialect
    body: Any = {**template, "stream": True} if stream else template
    raw: dict[str, str] = {}
    for _ in range(data.draw(st.integers(1, 3))):
        target = data.draw(st.sampled_from(_paths(body)))
        if data.draw(st.booleans()):
            marker = f"__RAW_{len(raw)}__"
            raw[marker] = data.draw(st.sampled_from(NASTY_RAW))
            body = replaced(body, target, marker)
        else:
            body = replaced(body, target, data.draw(JSON))
    content = encode(body, raw)
    response = client.post(server.url + path, content=content, headers={"content-type": "application/json", **headers})
    assert response.status_code < 500, f"{name}: {content[:300]!r} -> {response.text[:300]}"
    if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
        json.loads(response.text)  # the dialect's error envelope, never a cut body
