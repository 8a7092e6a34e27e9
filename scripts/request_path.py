"""How many fake_llm modules and functions one streamed OpenAI chat request passes through.

Run `make request-path` (or `python scripts/request_path.py`). It serves one inline rule in-process (Starlette's
TestClient), profiles a single streamed `POST /v1/chat/completions` with sys.setprofile/threading.setprofile, and
counts the distinct fake_llm modules and functions called and the switches between modules along the way. It only
uses names that exist before and after the layer packages, so it runs on older commits too.
"""

from __future__ import annotations

import importlib
import itertools
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any

RULES = """rules:
  - name: hello
    match: {user: {contains: hello}}
    reply: {content: "Hello there, how may I help you today?", stream: {chunk_tokens: 2}}
"""
BODY = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hello"}]}


def _create_app() -> Any:
    for name in ("fake_llm.http.app", "fake_llm.app"):
        try:
            return importlib.import_module(name).create_app
        except ImportError:
            continue
    raise SystemExit("no create_app found")


def main() -> None:
    from starlette.testclient import TestClient

    import fake_llm
    from fake_llm.settings import Settings

    root = str(Path(fake_llm.__file__).resolve().parent)
    folder = Path(tempfile.mkdtemp())
    (folder / "rules.yaml").write_text(RULES)
    app = _create_app()(Settings(scenarios=(str(folder / "rules.yaml"),)))
    calls: list[tuple[str, str]] = []
    recording = threading.Event()

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and recording.is_set() and frame.f_code.co_filename.startswith(root):
            module = frame.f_globals.get("__name__", "?")
            calls.append((module, f"{module}.{frame.f_code.co_qualname}"))

    # Set before the client starts its event-loop thread, which answers the request.
    sys.setprofile(profile)
    threading.setprofile(profile)
    try:
        with TestClient(app) as client:
            client.post("/v1/chat/completions", json=BODY)  # warm up: imports and caches are not the request path
            recording.set()
            with client.stream("POST", "/v1/chat/completions", json=BODY) as response:
                text = "".join(response.iter_text())
            recording.clear()
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
    assert "[DONE]" in text, text[:200]
    modules = sorted({m for m, _ in calls})
    switches = sum(1 for a, b in itertools.pairwise(calls) if a[0] != b[0])
    print(f"modules: {len(modules)}  functions: {len({f for _, f in calls})}  module switches: {switches}")
    for module in modules:
        print("  " + module)


if __name__ == "__main__":
    main()
