"""fake-llm: a local fake LLM provider server that replays YAML-scripted scenarios."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fake_llm.version import __version__

# Public names are imported on first use, so that loading the pytest plugin (or `fake-llm --version`) stays cheap.
_EXPORTS = {
    "ChatRequest": "fake_llm.model.request",
    "FakeLLMError": "fake_llm.errors",
    "FakeLLMServer": "fake_llm.testing.server",
    "Journal": "fake_llm.core.journal",
    "JournalAssertionError": "fake_llm.errors",
    "JournalEntry": "fake_llm.core.journal",
    "Scenario": "fake_llm.model.spec",
    "ScenarioError": "fake_llm.errors",
    "Settings": "fake_llm.settings",
    "create_app": "fake_llm.http.app",
    "load_scenario": "fake_llm.scenarios.loader",
    "load_scenarios": "fake_llm.scenarios.loader",
}

__all__ = [
    "ChatRequest",
    "FakeLLMError",
    "FakeLLMServer",
    "Journal",
    "JournalAssertionError",
    "JournalEntry",
    "Scenario",
    "ScenarioError",
    "Settings",
    "__version__",
    "create_app",
    "load_scenario",
    "load_scenarios",
]

if TYPE_CHECKING:
    from fake_llm.core.journal import Journal, JournalEntry
    from fake_llm.errors import FakeLLMError, JournalAssertionError, ScenarioError
    from fake_llm.http.app import create_app
    from fake_llm.model.request import ChatRequest
    from fake_llm.model.spec import Scenario
    from fake_llm.scenarios.loader import load_scenario, load_scenarios
    from fake_llm.settings import Settings
    from fake_llm.testing.server import FakeLLMServer


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'fake_llm' has no attribute {name!r}")
