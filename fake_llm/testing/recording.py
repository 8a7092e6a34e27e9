"""Record mode for tests: RecordingServer (the recording proxy in a background thread, with FakeLLMServer's handle)
and use_cassette, which the pytest fixture's `cassette=` uses to replay a file or record into it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from fake_llm.http.engine import FakeLLM
from fake_llm.record.proxy import Recorder, create_recorder_app
from fake_llm.settings import Settings
from fake_llm.testing.server import FakeLLMServer


class RecordingServer(FakeLLMServer):
    """A recording proxy in a background thread, with FakeLLMServer's handle (`url`, `base_url`, `journal` ...).

    `engine` is what mode `new` answers from (the pytest fixture passes its session server's); by default an
    engine serving the cassette as it was."""

    def __init__(
        self,
        upstream: str,
        out: str | Path,
        *,
        mode: str = "new",
        api: Sequence[str] = (),
        timing: bool = True,
        redact: Sequence[str] = (),
        engine: FakeLLM | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(settings=Settings(host=host, port=port))
        self.recorder = Recorder(upstream, out, mode=mode, api=api, timing=timing, redact=redact)
        self.app = create_recorder_app(self.recorder, engine)
        self.engine = self.app.state.engine


@contextlib.contextmanager
def use_cassette(
    server: FakeLLMServer, path: Path, *, upstream: str | None = None, mode: str = "new"
) -> Iterator[FakeLLMServer]:
    """The pytest fixture's `cassette=`: serve the file (replay), or with an `upstream` record into it through a
    proxy whose `base_url` the test gets; in mode `new` the rules the server already has still answer."""
    if upstream is None:
        if not path.is_file():
            raise FileNotFoundError(f"cassette {path} does not exist: record it with --fake-llm-record=URL")
        server.load(path, replace=False)
        yield server
        return
    if mode == "new" and path.is_file():
        server.load(path, replace=False)
    with RecordingServer(upstream, path, mode=mode, engine=server.engine) as proxy:
        yield proxy
