"""The control plane against drive-by browser requests and DNS rebinding, over real sockets (issue 11, finding 1),
and the legitimate uses that must keep working: curl and SDKs, the dashboard, a frontend's CORS, docker-compose."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from textwrap import dedent

import httpx
import pytest

from fake_llm.http.guard import host_name, is_loopback
from fake_llm.testing.server import FakeLLMServer

RULES = dedent(
    """
    rules:
      - name: hello
        reply: {content: "Hello from the operator"}
    """
)
EVIL = "http://evil.example"
ATTACK = dedent(
    """
    rules:
      - name: pwned
        reply: {content: "attacker text"}
    """
)
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(rules=RULES) as running:
        yield running


def _reply(server: FakeLLMServer) -> str:
    response = httpx.post(server.url + "/v1/chat/completions", json=CHAT, timeout=5)
    return str(response.json()["choices"][0]["message"]["content"])


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": EVIL, "content-type": "text/plain"},
        {"origin": EVIL, "content-type": "application/x-www-form-urlencoded"},
        {"origin": EVIL, "content-type": "multipart/form-data; boundary=x"},
        {"origin": "null", "content-type": "text/plain"},
        {"origin": "http://localhost:3000", "content-type": "application/json"},
        {"sec-fetch-site": "cross-site", "content-type": "text/plain"},
        {"sec-fetch-site": "same-site", "content-type": "text/plain"},
    ],
)
def test_a_cross_origin_page_cannot_install_rules(server: FakeLLMServer, headers: dict[str, str]) -> None:
    response = httpx.post(server.url + "/_fake/rules?mode=replace", content=ATTACK, headers=headers, timeout=5)
    assert response.status_code == 403
    assert "--allowed-origin" in response.json()["error"]["message"]
    assert "access-control-allow-origin" not in response.headers
    assert _reply(server) == "Hello from the operator"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/_fake/reset?rules=true"),
        ("POST", "/_fake/scenarios/all/activate"),
        ("GET", "/_fake/journal"),
        ("GET", "/_fake/rules"),
        ("DELETE", "/_fake/journal"),
    ],
)
def test_every_control_endpoint_refuses_other_origins(server: FakeLLMServer, method: str, path: str) -> None:
    httpx.post(server.url + "/v1/chat/completions", json=CHAT, timeout=5)
    response = httpx.request(method, server.url + path, headers={"origin": EVIL}, timeout=5)
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers
    assert len(server.journal) == 1


def test_preflights_to_the_control_plane_get_no_cors(server: FakeLLMServer) -> None:
    response = httpx.options(
        server.url + "/_fake/rules",
        headers={"origin": EVIL, "access-control-request-method": "POST", "access-control-request-headers": "x-y"},
        timeout=5,
    )
    assert response.status_code == 403
    assert not any(name.startswith("access-control-") for name in response.headers)


def test_the_api_keeps_open_cors_for_a_frontend(server: FakeLLMServer) -> None:
    origin = "http://localhost:3000"
    preflight = httpx.options(
        server.url + "/v1/chat/completions",
        headers={"origin": origin, "access-control-request-method": "POST", "access-control-request-headers": "x"},
        timeout=5,
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] in ("*", origin)
    response = httpx.post(server.url + "/v1/chat/completions", json=CHAT, headers={"origin": origin}, timeout=5)
    assert response.headers["access-control-allow-origin"] == "*"


def test_scripts_without_origin_keep_working(server: FakeLLMServer) -> None:
    # curl --data-binary @rules.yaml sends application/x-www-form-urlencoded and no Origin.
    response = httpx.post(
        server.url + "/_fake/rules?mode=replace",
        content=ATTACK,
        headers={"content-type": "application/x-www-form-urlencoded"},
        timeout=5,
    )
    assert response.status_code == 200
    assert _reply(server) == "attacker text"
    assert httpx.get(server.url + "/_fake/journal", timeout=5).status_code == 200


def test_the_dashboard_same_origin_works(server: FakeLLMServer) -> None:
    same = {"origin": server.url, "sec-fetch-site": "same-origin"}
    assert httpx.get(server.url + "/_fake/", headers={"sec-fetch-site": "none"}, timeout=5).status_code == 200
    assert httpx.get(server.url + "/_fake/journal", headers=same, timeout=5).status_code == 200
    response = httpx.post(server.url + "/_fake/reset", headers=same, timeout=5)
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


def test_an_allowed_origin_gets_cors_on_the_control_plane() -> None:
    origin = "http://localhost:5173"
    with FakeLLMServer(rules=RULES, allowed_origins=(origin,)) as server:
        preflight = httpx.options(
            server.url + "/_fake/rules",
            headers={"origin": origin, "access-control-request-method": "POST"},
            timeout=5,
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == origin
        response = httpx.post(server.url + "/_fake/rules", content=ATTACK, headers={"origin": origin}, timeout=5)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == origin
        assert httpx.post(server.url + "/_fake/reset", headers={"origin": EVIL}, timeout=5).status_code == 403


def test_the_admin_token_still_applies(server: FakeLLMServer) -> None:
    with FakeLLMServer(rules=RULES, admin_token="s3cret") as guarded:
        assert httpx.get(guarded.url + "/_fake/journal", timeout=5).status_code == 401
        ok = httpx.get(guarded.url + "/_fake/journal", headers={"authorization": "Bearer s3cret"}, timeout=5)
        assert ok.status_code == 200
        # A token does not let another origin in: the browser would send it only if a page had it.
        refused = httpx.get(
            guarded.url + "/_fake/journal", headers={"authorization": "Bearer s3cret", "origin": EVIL}, timeout=5
        )
        assert refused.status_code == 403


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.nip.io", "10.0.0.1"])
def test_dns_rebinding_hosts_are_refused_on_loopback(server: FakeLLMServer, host: str) -> None:
    for path in ("/_fake/journal", "/v1/models"):
        response = httpx.get(server.url + path, headers={"host": host}, timeout=5)
        assert response.status_code == 403
        assert "--allowed-host" in response.json()["error"]["message"]


@pytest.mark.parametrize("host", ["localhost", "localhost:1234", "127.0.0.1", "[::1]:80", "LOCALHOST"])
def test_loopback_host_names_are_accepted(server: FakeLLMServer, host: str) -> None:
    assert httpx.get(server.url + "/v1/models", headers={"host": host}, timeout=5).status_code == 200


def test_allowed_host_option() -> None:
    with FakeLLMServer(rules=RULES, allowed_hosts=("dev.internal",)) as server:
        headers = {"host": "dev.internal:8000"}
        assert httpx.get(server.url + "/v1/models", headers=headers, timeout=5).status_code == 200


def test_bound_to_all_interfaces_compose_hosts_work() -> None:
    with FakeLLMServer(rules=RULES, host="0.0.0.0") as server:
        url = f"http://127.0.0.1:{server.port}"
        response = httpx.post(url + "/v1/chat/completions", json=CHAT, headers={"host": "fake-llm:8000"}, timeout=5)
        assert response.status_code == 200
        health = httpx.get(url + "/_fake/health", headers={"host": "fake-llm:8000"}, timeout=5).json()
        assert health["rules"] == 1


def test_health_is_minimal_for_other_origins_and_tokenless_callers() -> None:
    with FakeLLMServer(rules=RULES, admin_token="s3cret") as server:
        cross = httpx.get(server.url + "/_fake/health", headers={"origin": EVIL}, timeout=5)
        assert cross.status_code == 200
        assert cross.json() == {"status": "ok", "load_errors": 0}
        assert "access-control-allow-origin" not in cross.headers
        assert httpx.get(server.url + "/_fake/health", timeout=5).json() == {"status": "ok", "load_errors": 0}
        full = httpx.get(server.url + "/_fake/health", headers={"x-fake-llm-admin-token": "s3cret"}, timeout=5)
        assert full.json()["rules"] == 1


@pytest.mark.parametrize(
    ("header", "name"), [("localhost:8000", "localhost"), ("[::1]:8000", "[::1]"), ("Example.COM", "example.com")]
)
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("::1", True), ("0.0.0.0", False), ("x", False)])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(("host", "status"), [("evil.example", b"403"), ("localhost", b"101")])
def test_websocket_upgrades_get_the_host_check_too(server: FakeLLMServer, host: str, status: bytes) -> None:
    request = (
        f"GET /v1/realtime?model=gpt-4o-realtime-preview HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request.encode())
        assert sock.recv(64).split(b" ")[1] == status
