"""SDK clients that tests open and the suite closes after each test, so no connection outlives its test."""

from __future__ import annotations

from typing import Any, TypeVar

Client = TypeVar("Client")

_open: list[Any] = []


def closing(client: Client) -> Client:
    """Register an SDK client (openai, anthropic...) to be closed when the current test ends; returns it."""
    _open.append(client)
    return client


def close_all() -> None:
    while _open:
        _open.pop().close()


def openai_client(server: Any) -> Any:
    """An `openai.OpenAI` client for `server` (no retries, a bounded timeout), closed when the test ends."""
    import openai

    return closing(openai.OpenAI(base_url=server.base_url, api_key="sk-test", timeout=10, max_retries=0))
