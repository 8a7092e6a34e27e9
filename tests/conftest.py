"""Shared fixtures: an in-process app built from inline YAML rules, answered through Starlette's TestClient."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable, Iterator
from textwrap import dedent
from typing import Any

import pytest
from starlette.testclient import TestClient

from fake_llm.http.app import create_app
from fake_llm.scenarios.loader import parse_rules
from fake_llm.settings import Settings
from tests.redis_server import RedisServer
from tests.sdk_clients import close_all

MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client() -> Iterator[MakeClient]:
    """Build a TestClient for `rules` (inline YAML, dedented) with `Settings(freeze_time=1767225600, **settings)`."""
    clients: list[TestClient] = []

    def make(rules: str, **settings: Any) -> TestClient:
        scenario = parse_rules(dedent(rules), source="<test>")
        client = TestClient(create_app(Settings(freeze_time=1767225600, **settings), scenarios=[scenario]))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture(autouse=True)
def _close_sdk_clients() -> Iterator[None]:
    """Close the SDK clients a test registered with `tests.sdk_clients.closing`."""
    yield
    close_all()


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A loopback URL that refuses connections for the whole test: its port stays bound (so no other server, from
    this run or another on the machine, can take it) but never listens. A port freed by a stopped server could be
    taken again before the test connects."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server for the whole session on a free loopback port (tests isolate themselves by namespace)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian package redis-server; .ci/run installs it)")
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url
