"""Hot reload (`serve --watch`): reload scenario files when they change, keeping the last good rules on an error."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fake_llm.http.engine import FakeLLM

log = logging.getLogger("fake_llm")

#: How long file events are gathered before one reload (editors often write a file in several steps).
DEBOUNCE_MS = 150


def watched_paths(engine: FakeLLM) -> list[Path]:
    """The folders to watch: each scenario folder, or the folder of each scenario file (and so its neighbours)."""
    return sorted(set(engine.roots))


async def watch(engine: FakeLLM, paths: Sequence[Path], stop: asyncio.Event) -> None:
    """Reload `engine`'s scenarios on every change under `paths` until `stop` is set."""
    import watchfiles

    async for changes in watchfiles.awatch(*paths, debounce=DEBOUNCE_MS, stop_event=stop, recursive=True):
        changed = sorted({Path(path).name for _, path in changes})
        # Parsed in a worker thread: a big scenario folder must not stall the streams being served meanwhile.
        await asyncio.to_thread(engine.reload, reason=f"changed: {', '.join(changed)}")


def watcher_lifespan(engine: FakeLLM) -> Any:
    """A Starlette lifespan that runs the watcher while the app serves, and stops it with the app."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.ensure_future(watch(engine, watched_paths(engine), stop))
        log.info("watching %s for scenario changes", ", ".join(map(str, watched_paths(engine))))
        try:
            yield
        finally:
            stop.set()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    return lifespan
