"""Record mode for tests: RecordingServer (the recording proxy in a background thread, with FakeLLMServer's handle)
and use_cassette, which the pytest fixture's `cassette=` uses to replay a file or record into it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from fake_llm.http.engine import FakeLLM
from fake_llm.record.proxy import Recorder, create_recorder_app
from fake_llm.settings import Settings
from fake_llm.testing.server import FakeLLMServer


class RecordingServer(FakeLLMServer):
    """A recording proxy in a background thread, with FakeLLMServer's handle (`url`, `base_url`, `journal` ...).

    `engine` is what modes other than `all` answer from (the pytest fixture passes its session server's); by default an
    engine serving the cassette as it was."""

    def __init__(
        self,
        upstream: str,
        out: str | Path,
        *,
        mode: str = "new_episodes",
        api: Sequence[str] = (),
        timing: bool = True,
        redact: Sequence[str] = (),
        engine: FakeLLM | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        normalize: Sequence[Any] = (),
        stale_only: bool = False,
    ) -> None:
        super().__init__(settings=Settings(host=host, port=port))
        self.recorder = Recorder(
            upstream, out, mode=mode, api=api, timing=timing, redact=redact, normalize=normalize, stale_only=stale_only
        )
        self.app = create_recorder_app(self.recorder, engine)
        self.engine = self.app.state.engine


#: vcrpy's record modes; `new` is the old name of `new_episodes`.
RECORD_MODES = ("none", "once", "new_episodes", "all", "new")


def cassette_mode(mode: str | None, upstream: str | None, exists: bool) -> str:
    """The record mode a cassette test runs in: `none` (replay) without an upstream, `new_episodes` by default with
    one; `once` replays a cassette that exists. ValueError says what a mode that must record is missing."""
    mode = {"new": "new_episodes"}.get(mode or "", mode) or ("new_episodes" if upstream else "none")
    if mode not in RECORD_MODES:
        raise ValueError(f"record mode must be one of {', '.join(RECORD_MODES)}, got {mode!r}")
    if mode == "once" and exists:
        return "none"
    if mode != "none" and upstream is None:
        raise ValueError(f"record mode {mode} records from a provider: give it with --fake-llm-record=URL")
    return mode


@contextlib.contextmanager
def use_cassette(
    server: FakeLLMServer,
    path: Path,
    *,
    upstream: str | None = None,
    mode: str | None = None,
    normalize: Sequence[Any] = (),
    stale_only: bool = False,
) -> Iterator[FakeLLMServer]:
    """The pytest fixture's `cassette=`, with vcrpy's record modes: `none` serves the file (a request it does not
    answer fails the test); `once` records a missing file and replays an existing one; `new_episodes` replays what
    the file (or the server's rules) answers and records the rest; `all` records everything again. Recording
    goes through a proxy in front of `upstream`, whose `base_url` the test gets."""
    mode = cassette_mode(mode, upstream, path.is_file())
    if stale_only and upstream is None:
        raise ValueError("re-recording stale rules needs the provider: give it with --fake-llm-record=URL")
    if mode == "none" and not stale_only:
        if not path.is_file():
            raise FileNotFoundError(
                f"cassette {path} does not exist: record it with --fake-llm-record=URL (record mode once, "
                "new_episodes or all)"
            )
        server.load(path, replace=False)
        yield server
        return
    assert upstream is not None
    if mode != "all" and path.is_file():
        server.load(path, replace=False)
    proxy_mode = "new_episodes" if mode == "none" else mode
    with RecordingServer(
        upstream, path, mode=proxy_mode, engine=server.engine, normalize=normalize, stale_only=stale_only
    ) as proxy:
        yield proxy
