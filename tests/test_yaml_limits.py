"""Bounded YAML over a real socket (issue 11, finding 3): alias bombs and deep nesting get a 400 at once, admin bodies
are refused while they stream in, and a big load runs off the event loop while other clients are answered."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from textwrap import dedent

import httpx
import pytest

from fake_llm.errors import ScenarioError
from fake_llm.scenarios.loader import parse_rules
from fake_llm.scenarios.yaml_lines import MAX_YAML_DEPTH, MAX_YAML_NODES
from fake_llm.testing.server import FakeLLMServer


def alias_bomb(levels: int, width: int = 9) -> str:
    lines = ['l0: &l0 ["lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + f"\nrules:\n  - name: bomb\n    match: {{user: *l{levels}}}\n    reply: {{content: x}}\n"


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(rules="rules: [{name: hello, reply: {content: hi}}]", max_body_bytes=200_000) as running:
        yield running


@pytest.mark.parametrize("levels", [7, 12])
def test_an_alias_bomb_is_refused(server: FakeLLMServer, levels: int) -> None:
    response = httpx.post(server.url + "/_fake/rules", content=alias_bomb(levels), timeout=10)
    assert response.status_code == 400
    assert f"the limit is {MAX_YAML_NODES}" in response.json()["error"]["message"]
    assert httpx.get(server.url + "/_fake/health", timeout=5).json()["rules"] == 1


def test_a_few_aliases_still_work() -> None:
    text = dedent(
        """
        rules:
          - name: a
            match: {user: a}
            reply: &shared {content: same}
          - name: b
            reply: *shared
        """
    )
    scenario = parse_rules(text, source="<t>")
    assert [r.name for r in scenario.rules] == ["a", "b"]


@pytest.mark.parametrize(
    "text",
    ["rules: " + "[" * 3000 + "]" * 3000, "rules:\n" + "".join("  " * i + "- \n" for i in range(1, 100))],
    ids=["flow", "block"],
)
def test_deep_nesting_is_refused(server: FakeLLMServer, text: str) -> None:
    # A generous bound: the refusal takes ~2 s on a quiet machine (PyYAML's own parse), far more under a loaded one.
    response = httpx.post(server.url + "/_fake/rules", content=text, timeout=60)
    assert response.status_code == 400
    assert f"{MAX_YAML_DEPTH} levels" in response.json()["error"]["message"]


def test_a_self_referencing_alias_is_refused() -> None:
    with pytest.raises(ScenarioError, match="refers to its own parent"):
        parse_rules("loop: &a [*a]\nrules: []\n", source="<t>")


def test_deep_json_rules_get_a_400(server: FakeLLMServer) -> None:
    response = httpx.post(
        server.url + "/_fake/rules",
        content="[" * 100_000 + "]" * 100_000,
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400


def test_admin_bodies_are_capped_while_they_stream_in(server: FakeLLMServer) -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:  # no content-length: the server must count as it reads
        nonlocal sent
        for _ in range(50):
            sent += 10_000
            yield b"# " + b"x" * 9_997 + b"\n"

    response = httpx.post(server.url + "/_fake/rules", content=chunks(), timeout=10)
    assert response.status_code == 413
    assert "--max-body-bytes" in response.json()["error"]["message"]
    assert httpx.get(server.url + "/_fake/health", timeout=5).json()["rules"] == 1


def test_a_big_load_does_not_stall_other_clients() -> None:
    rules = "rules:\n" + "".join(
        f"  - name: r{i}\n    match: {{user: 'question {i}'}}\n    reply: {{content: 'answer {i}'}}\n"
        for i in range(1500)
    )
    done = threading.Event()
    answered_meanwhile = 0

    def load() -> None:
        with httpx.Client(timeout=60) as client:
            assert client.post(server.url + "/_fake/rules", content=rules).status_code == 200
        done.set()

    with FakeLLMServer(rules="rules: [{name: hello, reply: {content: hi}}]") as server:
        loader = threading.Thread(target=load)
        loader.start()
        with httpx.Client(timeout=5) as client:
            while not done.is_set():
                assert client.get(server.url + "/_fake/health").status_code == 200
                answered_meanwhile += 1
        loader.join(60)
    assert answered_meanwhile > 5, answered_meanwhile
