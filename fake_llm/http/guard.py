"""The ASGI guard in front of every route: the Host check against DNS rebinding when fake-llm listens on loopback, and
the origin check that keeps browser pages on other origins away from the /_fake/ control plane (SECURITY.md).

The /v1 API keeps its open CORS (Starlette's CORSMiddleware, inside this guard); the control plane answers no CORS
at all unless `--allowed-origin` names the page's origin.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Host names a loopback-bound server answers to without `--allowed-host`.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
#: /_fake/ paths any page may load: the dashboard's own files (they hold no data) and the minimal health answer.
OPEN_PATHS = ("/_fake/", "/_fake/static/", "/_fake/health")
CONTROL_PREFIX = "/_fake/"


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or `localhost`) only ever reaches this machine."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(host_header: str) -> str:
    """The name part of a Host header: `localhost:8000` -> `localhost`, `[::1]:8000` -> `[::1]`."""
    host_header = host_header.strip().lower()
    if host_header.startswith("["):
        return host_header[: host_header.find("]") + 1] if "]" in host_header else host_header
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def is_open_path(path: str) -> bool:
    return path == OPEN_PATHS[0] or path.startswith(OPEN_PATHS[1]) or path == OPEN_PATHS[2]


class RequestGuard:
    """Refuses (403) a request whose Host is foreign to a loopback-bound server, and a cross-origin browser request
    to the control plane; strips `Origin` from control-plane requests it lets through so CORSMiddleware adds nothing.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        bind_host: str,
        allowed_hosts: Iterable[str] = (),
        allowed_origins: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.check_host = is_loopback(bind_host)
        self.allowed_hosts = LOOPBACK_HOSTS | {host_name(h) for h in allowed_hosts}
        self.allowed_origins = frozenset(o.rstrip("/").lower() for o in allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        foreign_host = self.check_host and _on_socket(scope) and host_name(host) not in self.allowed_hosts
        if scope["type"] == "websocket":  # the realtime API: the same Host check; browsers send no CORS for these
            if foreign_host:
                await send({"type": "websocket.close", "code": 1008})  # before accept: the server answers 403
                return
            await self.app(scope, receive, send)
            return
        if foreign_host:
            await _refuse(
                send,
                f"fake-llm: Host {host!r} is not allowed while the server listens on loopback (DNS rebinding "
                f"protection). Start it with --allowed-host {host_name(host) or 'NAME'} (FAKE_LLM_ALLOWED_HOSTS) "
                "to allow it.",
            )
            return
        path: str = scope["path"]
        if not path.startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        origin = headers.get("origin")
        cross = self.cross_origin(origin, headers.get("sec-fetch-site"), scope.get("scheme", "http"), host)
        allowed = origin is not None and origin.rstrip("/").lower() in self.allowed_origins
        # The control plane never goes through CORSMiddleware: it answers CORS only for allowed origins, below.
        inner = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k != b"origin"]}
        if cross and not allowed:
            if is_open_path(path) and scope["method"] == "GET":
                inner["fake_llm.cross_origin"] = True  # health answers its minimal form
                await self.app(inner, receive, send)
                return
            await _refuse(
                send,
                f"fake-llm: cross-origin request from {origin or headers.get('sec-fetch-site')!r} to the control "
                f"plane refused. A page on another origin may not drive /_fake/; to allow one, start fake-llm with "
                f"--allowed-origin {origin if origin and origin != 'null' else 'ORIGIN'} (FAKE_LLM_ALLOWED_ORIGINS).",
            )
            return
        if allowed and origin is not None:
            if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
                await _preflight(send, origin, headers.get("access-control-request-headers", ""))
                return
            await self.app(inner, receive, _with_cors(send, origin))
            return
        await self.app(inner, receive, send)

    @staticmethod
    def cross_origin(origin: str | None, fetch_site: str | None, scheme: str, host: str) -> bool:
        """A browser request from a page that is not this server's own (`null` origins included). Requests with
        neither header (curl, SDKs, scripts) are not browser requests made on a page's behalf."""
        if origin is not None:
            return origin.rstrip("/").lower() != f"{scheme}://{host}".lower()
        return fetch_site is not None and fetch_site not in ("same-origin", "none")


def _on_socket(scope: Scope) -> bool:
    """Whether the request came in on a real socket (in-process test clients report a made-up server name)."""
    server = scope.get("server")
    if not server:
        return False
    try:
        ipaddress.ip_address(str(server[0]).strip("[]"))
    except ValueError:
        return False
    return True


async def _refuse(send: Send, message: str) -> None:
    # OpenAI's error envelope, `param` included (its ErrorResponse requires it; the conformance check holds us to it).
    error = {"message": message, "type": "forbidden", "param": None, "code": "fake_llm_forbidden"}
    body = json.dumps({"error": error}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _preflight(send: Send, origin: str, requested_headers: str) -> None:
    headers = [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-allow-methods", b"GET, POST, DELETE, OPTIONS"),
        (b"access-control-allow-headers", requested_headers.encode("latin-1") or b"content-type"),
        (b"access-control-max-age", b"600"),
        (b"vary", b"Origin"),
        (b"content-length", b"0"),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def _with_cors(send: Send, origin: str) -> Send:
    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {
                **message,
                "headers": [
                    *message.get("headers", []),
                    (b"access-control-allow-origin", origin.encode("latin-1")),
                    (b"vary", b"Origin"),
                ],
            }
        await send(message)

    return sender
