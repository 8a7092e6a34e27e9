"""The listening socket `serve` binds before it says it is serving, and what to say when it cannot."""

from __future__ import annotations

import errno
import socket


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on `host:port` (port 0: a free port), so "serving" is printed only once it is bound and
    names the real port. Raises OSError as the OS reports it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # SO_REUSEADDR lets a restart reuse a port in TIME_WAIT; it never lets two servers listen on one port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def bind_error(host: str, port: int, exc: OSError) -> str:
    """What to tell the user when `bind` failed: a busy port names the port and how to pick another."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"fake-llm: port {port} on {host} is already in use (another fake-llm or server is running there); "
            f"pick another with --port N, or --port 0 for any free port"
        )
    return f"fake-llm: cannot listen on {host}:{port}: {exc.strerror or exc}"
