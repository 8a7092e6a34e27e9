"""Idle and slow sockets cannot starve normal clients (issue 11, finding 8), over real sockets: a connection that
sends no request headers is closed after the header timeout, and past max_connections the oldest idle one is shed
so a normal client still gets through."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx
import pytest

from fake_llm.testing.server import FakeLLMServer

RULES = "rules: [{name: hello, reply: {content: hi}}]"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def _idle_socket(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.settimeout(10)
    return sock


def _closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_a_silent_connection_is_closed_after_the_header_timeout() -> None:
    with FakeLLMServer(rules=RULES, header_timeout=0.2) as server:
        sock = _idle_socket(server.port)
        try:
            assert _closed_by_server(sock)  # recv waits at most 10 s; the server closes it after 0.2 s
        finally:
            sock.close()


def test_a_partial_request_is_closed_after_the_header_timeout() -> None:
    with FakeLLMServer(rules=RULES, header_timeout=0.2) as server:
        sock = _idle_socket(server.port)
        try:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
            assert _closed_by_server(sock)
        finally:
            sock.close()


def test_many_idle_sockets_do_not_lock_out_a_normal_client() -> None:
    # The report held 1,010 idle sockets under a 1,024 fd limit; here the connection limit is lowered to 20 and
    # twice as many idle sockets are held, with a header timeout long enough that it plays no part.
    with FakeLLMServer(rules=RULES, max_connections=20, header_timeout=60) as server:
        idle = [_idle_socket(server.port) for _ in range(40)]
        try:
            with httpx.Client(timeout=10) as client:
                for _ in range(3):
                    response = client.post(server.url + "/v1/chat/completions", json=CHAT)
                    assert response.status_code == 200
        finally:
            for sock in idle:
                sock.close()


def test_keep_alive_clients_still_work_under_the_limit() -> None:
    with FakeLLMServer(rules=RULES, max_connections=5, header_timeout=5) as server, httpx.Client(timeout=10) as client:
        for _ in range(20):
            assert client.post(server.url + "/v1/chat/completions", json=CHAT).status_code == 200


CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))
from fake_llm.testing.server import FakeLLMServer
with FakeLLMServer(rules="rules: [{name: hello, reply: {content: hi}}]", max_connections=64, header_timeout=60) as s:
    print(s.port, flush=True)
    sys.stdin.readline()
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_NOFILE is POSIX")
def test_idle_sockets_past_the_fd_limit_do_not_lock_out_a_normal_client() -> None:
    # The report's case: more idle sockets than the server has file descriptors. Without shedding, accept() fails
    # with EMFILE and every new client waits as long as the idle ones are held.
    idle: list[socket.socket] = []
    with subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as child:
        assert child.stdout is not None
        assert child.stdin is not None
        try:
            port = int(child.stdout.readline())
            idle = [_idle_socket(port) for _ in range(200)]
            with httpx.Client(timeout=10) as client:
                response = client.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=CHAT)
                assert response.status_code == 200
        finally:
            for sock in idle:
                sock.close()
            child.stdin.close()
            child.wait(15)
