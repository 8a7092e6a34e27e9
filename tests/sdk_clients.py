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
