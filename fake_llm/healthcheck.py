"""`fake-llm health`: the container health check. Healthy means the server answers /_fake/health and serves what its
scenario files say (no failed reload pending).

Docker keeps a health check's output in `docker inspect` only, so a check that fails because of a scenario error would
stay invisible in `docker compose up`. With `--log-to-pid1` (what the image's HEALTHCHECK uses) the reason is also
written to the stderr of the container's main process, which is where `docker compose up` and `docker logs` look.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

#: The stderr of the container's main process (fake-llm itself, as PID 1).
PID1_STDERR = Path("/proc/1/fd/2")


def default_url() -> str:
    port = os.environ.get("FAKE_LLM_PORT") or "8000"
    return f"http://127.0.0.1:{port}"


def check(url: str, timeout: float) -> tuple[bool, str]:
    """(healthy, one line or a few saying why) for the server at `url`."""
    request = urllib.request.Request(url.rstrip("/") + "/_fake/health")
    token = os.environ.get("FAKE_LLM_ADMIN_TOKEN")
    if token:  # with a token set, health shows its details (load errors, the Redis error) only to token holders
        request.add_header("X-Fake-LLM-Admin-Token", token)
    health: dict[str, Any]
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            health = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        # A 503 carries the same report: a failed reload's load errors, or why the state store (Redis) is unreachable.
        health = _report(exc) if exc.code == 503 else {}
        if not health.get("load_errors"):
            state = health.get("state")
            why = (state.get("error") if isinstance(state, dict) else None) or ""
            return False, f"GET {url}/_fake/health answered {exc.code}" + (f": {why}" if why else "")
    except (OSError, ValueError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return False, f"no answer from {url}/_fake/health: {reason}"
    errors = health.get("load_errors") or []
    if isinstance(errors, int):  # the short answer (another token): only how many
        errors = [f"{errors} load error(s); set FAKE_LLM_ADMIN_TOKEN to see them"]
    if errors:
        lines = "\n".join(f"  {problem}" for problem in errors)
        return False, (
            f"unhealthy: the scenario files have errors (the last good rules still serve until they are fixed):\n"
            f"{lines}"
        )
    return True, f"ok: {health.get('rules', 0)} rules at {url}"


def _report(error: urllib.error.HTTPError) -> dict[str, Any]:
    """The JSON report in an error answer, or {} when it holds none."""
    try:
        report = json.loads(error.read())
    except (OSError, ValueError):
        return {}
    return report if isinstance(report, dict) else {}


def run(url: str | None, timeout: float, log_to_pid1: bool) -> int:
    healthy, message = check(url or default_url(), timeout)
    if healthy:
        print(message)
        return 0
    print(f"fake-llm health: {message}", file=sys.stderr)
    if log_to_pid1 and os.getpid() != 1:
        try:
            with PID1_STDERR.open("a", encoding="utf-8") as main_stderr:
                main_stderr.write(f"fake-llm health check failed: {message}\n")
        except OSError:
            pass  # not in a container (or another user's process): stderr above is all there is
    return 1
