"""Hot reload (`serve --watch`): reload scenario files when they change, keeping the last good rules on an error.

Only what the scenarios are made of is watched: the scenario files (and new `*.yaml`/`*.yml` files appearing in a
scenario folder) and the files their rules read (`content_file`). Anything else in those folders (notes, editor
swap files, the server's own log) is ignored, so a log written next to the scenarios cannot trigger a reload loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fake_llm.http.engine import FakeLLM

log = logging.getLogger("fake_llm")

#: How long file events are gathered before one reload (editors often write a file in several steps).
DEBOUNCE_MS = 150
SCENARIO_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class WatchScope:
    """What a change must touch to reload: these files, or a scenario file in one of these folders."""

    files: frozenset[Path]
    folders: frozenset[Path]

    @classmethod
    def of(cls, engine: FakeLLM) -> WatchScope:
        files: set[Path] = set()
        folders: set[Path] = set()
        for raw in engine.paths:
            path = Path(raw).resolve()
            if path.is_dir():
                folders.add(path)
                files.update(p.resolve() for p in path.iterdir() if p.suffix in SCENARIO_SUFFIXES)
            else:
                files.add(path)
        for scenario in engine.base_scenarios:
            files.update(Path(name) for name in scenario.files)
        return cls(frozenset(files), frozenset(folders))

    def directories(self) -> list[Path]:
        """The folders to ask the OS about (watching a folder also sees a file replaced by an editor's rename)."""
        return sorted({*self.folders, *(f.parent for f in self.files)})

    def watch_filter(self, change: object, path: str) -> bool:
        """watchfiles' filter signature."""
        return self.concerns(path)

    def concerns(self, path: str) -> bool:
        changed = Path(path).resolve()
        if changed in self.files:
            return True
        return changed.parent in self.folders and changed.suffix in SCENARIO_SUFFIXES


def watched_paths(engine: FakeLLM) -> list[Path]:
    """The folders watched for `engine` (the scenario folders, and the folders of the files its rules read)."""
    return WatchScope.of(engine).directories()


async def watch(engine: FakeLLM, stop: asyncio.Event, *, debounce_ms: int = DEBOUNCE_MS) -> None:
    """Reload `engine`'s scenarios whenever a file they are made of changes, until `stop` is set. The scope is
    computed again after each reload (a rule may start or stop reading a file)."""
    import watchfiles

    while not stop.is_set():
        scope = WatchScope.of(engine)
        directories = [d for d in scope.directories() if d.is_dir()]
        if not directories:
            return
        async for changes in watchfiles.awatch(
            *directories,
            watch_filter=scope.watch_filter,
            debounce=debounce_ms,
            stop_event=stop,
            recursive=False,
        ):
            changed = sorted({Path(path).name for _, path in changes})
            # Parsed in a worker thread: a big scenario folder must not stall the streams being served meanwhile.
            await asyncio.to_thread(engine.reload, reason=f"changed: {', '.join(changed)}")
            if WatchScope.of(engine) != scope:
                break  # watch the new set of files


def watcher_lifespan(engine: FakeLLM) -> Any:
    """A Starlette lifespan that runs the watcher while the app serves, and stops it with the app."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.ensure_future(watch(engine, stop))
        log.info("watching %s for scenario changes", ", ".join(map(str, watched_paths(engine))))
        try:
            yield
        finally:
            stop.set()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    return lifespan
