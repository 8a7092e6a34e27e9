"""The dashboard at /_fake/: one HTML page (its initial state filled in server-side) and its CSS/JS from
fake_llm/static/, driving the /_fake/ admin API.

The page is not secret (it holds no data); its script sends the admin token, when the server has one, on every call.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fake_llm.http.engine import FakeLLM

STATIC_DIR = Path(__file__).resolve().parent / "static"

#: Content types by suffix; only these kinds of files are served (the folder holds nothing else).
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}

#: Everything the page loads comes from this server: no CDN, no inline script, no framing by other sites. The
#: token may sit in the page URL (`?token=`), so no Referer leaves the page either.
PAGE_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'"
    ),
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    # Read from disk on every request and never cached: an upgraded package shows its new page at once.
    "cache-control": "no-cache",
}


def static_names() -> dict[str, Path]:
    """The files the dashboard may serve, by name: the regular files directly inside STATIC_DIR with a known type
    (the page itself only through /_fake/, where its initial state is filled in)."""
    if not STATIC_DIR.is_dir():  # pragma: no cover - a broken installation
        return {}
    return {
        p.name: p
        for p in STATIC_DIR.iterdir()
        if p.is_file() and p.suffix in CONTENT_TYPES and p.name != "dashboard.html"
    }


def _file_response(name: str) -> Response:
    # A lookup by exact name among the folder's files: `..`, slashes or encoded separators can never match one.
    path = static_names().get(name)
    if path is None:
        raise HTTPException(404)
    return Response(path.read_bytes(), media_type=CONTENT_TYPES[path.suffix], headers=PAGE_HEADERS)


def initial_state(engine: FakeLLM) -> dict[str, str]:
    """What the page shows before its script has asked the admin API anything (already HTML-escaped): how many
    requests and scenarios are about to load, and chat suggestions taken from the scenarios actually loaded."""
    entries = len(engine.journal.entries)
    names = [s.name for s in engine.selector.scenarios]
    shown = ", ".join(names[:6]) + (", …" if len(names) > 6 else "")
    return {
        "journal_loading": escape(f"Loading {entries} request{'s' * (entries != 1)}…"),
        "journal_loading_hidden": "" if entries else " hidden",
        "journal_empty_hidden": " hidden" if entries else "",
        "scenarios_loading": escape(f"Loading {len(names)} scenario{'s' * (len(names) != 1)}: {shown}…")
        if names
        else "No scenarios loaded.",
        "chat_placeholder": escape(chat_placeholder(engine), quote=True),
    }


def chat_placeholder(engine: FakeLLM) -> str:
    """Up to four messages the switched-on rules answer (their plain `user` triggers), else a neutral hint."""
    triggers: list[str] = []
    for rule in engine.selector.rules:
        lookup = rule.match.user
        if rule.scenario in engine.selector.disabled or lookup is None or lookup.kind == "regex":
            continue
        if lookup.value.strip() and lookup.value not in triggers:
            triggers.append(lookup.value)
    if not triggers:
        return "Type a message: the loaded scenarios decide the reply"
    return " · ".join(triggers[:4])


async def dashboard_page(request: Request) -> Response:
    engine: FakeLLM = request.app.state.fake_llm
    page = (STATIC_DIR / "dashboard.html").read_text(encoding="utf-8")
    for key, value in initial_state(engine).items():
        page = page.replace("{{" + key + "}}", value)
    return Response(page, media_type=CONTENT_TYPES[".html"], headers=PAGE_HEADERS)


async def dashboard_static(request: Request) -> Response:
    return _file_response(request.path_params["name"])


DASHBOARD_ROUTES = [
    Route("/_fake/", dashboard_page, methods=["GET"]),
    Route("/_fake/static/{name}", dashboard_static, methods=["GET"]),
]
