"""The app of each `serve --workers N` process: the parent checks the settings, exports them, and uvicorn's
process manager imports `worker_app` in every worker."""

from __future__ import annotations

import dataclasses
import json
import os

from starlette.applications import Starlette

from fake_llm.http.app import create_app
from fake_llm.settings import Settings

#: Internal: how the parent hands its settings to the workers (they start as fresh interpreters).
SETTINGS_VARIABLE = "_FAKE_LLM_WORKER_SETTINGS"


def export_settings(settings: Settings) -> None:
    os.environ[SETTINGS_VARIABLE] = json.dumps(dataclasses.asdict(settings))


def worker_app() -> Starlette:
    """One worker's app, from the settings the parent exported."""
    data = json.loads(os.environ[SETTINGS_VARIABLE])
    for name, value in data.items():
        if isinstance(value, list):
            data[name] = tuple(value)
    return create_app(Settings(**data))
