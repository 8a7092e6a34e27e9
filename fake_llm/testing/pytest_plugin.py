"""The pytest plugin: `fake_llm` / `fake_llm_server` / `fake_llm_settings` fixtures, the marker and ini options.

Registered through the `pytest11` entry point. One server per session, reset before each test; strict at teardown.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from fake_llm.testing.checks import StrictChecks, failure_text

if TYPE_CHECKING:
    from fake_llm.settings import Settings
    from fake_llm.testing.server import FakeLLMServer

MARKER = (
    "fake_llm(scenarios=None, rules=None, activate=None, cassette=None, fail_on_unmatched=True, "
    "fail_on_unused_rules=False): scenario files or folders (relative to the test file) and inline rules for this "
    "test, the only scenario(s) switched on, a cassette to replay (or record with --fake-llm-record), and its "
    "teardown checks"
)
OPTIONS = ("scenarios", "rules", "activate", "cassette", "fail_on_unmatched", "fail_on_unused_rules")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "fake_llm_scenarios", "scenario files or folders the fake_llm server loads for every test", type="paths"
    )
    parser.addini("fake_llm_seed", "seed for ids and generated values (default 0)", default="0")
    parser.addini("fake_llm_time_scale", "multiplier for scripted delays; 0 turns them off (default 1)", default="1")
    parser.addini(
        "fake_llm_fail_on_unmatched", "fail a test whose code sent a request no rule matched", type="bool", default=True
    )
    parser.addini(
        "fake_llm_conformance",
        "validate every response, stream event and error body fake-llm sends against the provider's spec",
        type="bool",
        default=False,
    )
    parser.addoption(
        "--fake-llm-conformance",
        action="store_true",
        default=None,
        help="validate every response fake-llm sends in this session against the providers' specs (fails the test)",
    )
    parser.addoption(
        "--fake-llm-record",
        metavar="URL",
        help="record the cassettes of `fake_llm(cassette=...)` tests from this provider instead of replaying them",
    )
    parser.addoption(
        "--fake-llm-record-mode",
        choices=("new", "all"),
        default="new",
        help="new: record what the cassette does not answer yet (default); all: record every request again",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    enabled = config.getoption("fake_llm_conformance")
    if enabled if enabled is not None else config.getini("fake_llm_conformance"):
        from fake_llm.conformance.session import ConformancePlugin

        config.pluginmanager.register(ConformancePlugin(), "fake_llm_conformance")


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.pluginmanager.get_plugin("fake_llm_conformance")
    if plugin is not None:
        plugin.unregister()


@pytest.fixture(scope="session")
def fake_llm_settings(pytestconfig: pytest.Config) -> Settings:
    """Settings of the session's server; override this fixture to change any of them."""
    from fake_llm.settings import Settings

    return Settings(
        port=0,
        scenarios=tuple(str(p) for p in pytestconfig.getini("fake_llm_scenarios")),
        seed=int(pytestconfig.getini("fake_llm_seed")),
        time_scale=float(pytestconfig.getini("fake_llm_time_scale")),
        freeze_time=1767225600.0,
    )


@pytest.fixture(scope="session")
def fake_llm_server(fake_llm_settings: Settings) -> Iterator[FakeLLMServer]:
    """One fake-llm server for the whole session (use `fake_llm` in tests: it resets this one)."""
    from fake_llm.settings import Settings
    from fake_llm.testing.server import FakeLLMServer

    settings = fake_llm_settings
    if settings.port == Settings().port:
        # An override that returns `Settings(...)` leaves the serve default (8000); tests want a free port, so
        # parallel sessions and a dev server on 8000 do not collide. Only a port named on purpose is kept.
        settings = settings.replace(port=0)
    server = FakeLLMServer(settings=settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Marker keyword arguments, closest marker winning (function over class over module)."""
    options: dict[str, Any] = {"fail_on_unmatched": request.config.getini("fake_llm_fail_on_unmatched")}
    for marker in reversed(list(request.node.iter_markers("fake_llm"))):
        unknown = set(marker.kwargs) - set(OPTIONS)
        if unknown or marker.args:
            raise TypeError(f"@pytest.mark.fake_llm takes only keyword arguments {', '.join(OPTIONS)}; got {marker}")
        options.update(marker.kwargs)
    return options


@pytest.fixture
def fake_llm(request: pytest.FixtureRequest, fake_llm_server: FakeLLMServer) -> Iterator[FakeLLMServer]:
    """The session's fake-llm server, reset for this test and set up by its `fake_llm` marker.

    The test fails on any internal fake-llm error, on requests no rule matched (unless `fail_on_unmatched=False`),
    on a rule it added that can never match and, with `fail_on_unused_rules=True`, on rules it added that never
    answered: one report, the explanation first (see pytest_checks.py).
    """
    options = _options(request)
    fake_llm_server.reset(rules=True)
    session_rules = {rule.name for rule in fake_llm_server.engine.selector.rules}
    scenarios = options.get("scenarios")
    if scenarios is not None:
        base = Path(str(request.node.path)).parent
        paths = [scenarios] if isinstance(scenarios, (str, Path)) else list(scenarios)
        fake_llm_server.load(*[p if Path(p).is_absolute() else base / p for p in paths])
    if options.get("rules") is not None:
        fake_llm_server.add_rules(options["rules"])
    if options.get("activate") is not None:
        active = options["activate"]
        fake_llm_server.activate(*([active] if isinstance(active, str) else active))
    checks = StrictChecks(fake_llm_server, options, session_rules)
    request.node.stash[CHECKS] = checks
    if options.get("cassette") is None:
        yield fake_llm_server
    else:
        from fake_llm.testing.recording import use_cassette

        cassette = Path(str(request.node.path)).parent / options["cassette"]
        upstream, mode = request.config.getoption("fake_llm_record"), request.config.getoption("fake_llm_record_mode")
        with use_cassette(fake_llm_server, cassette, upstream=upstream, mode=mode) as handle:
            yield handle
    try:
        late = checks.problems()  # what happened after the test function (other fixtures' teardown)
    finally:
        fake_llm_server.reset(rules=True)
    if late:
        __tracebackhide__ = True
        pytest.fail(failure_text(late), pytrace=False)


#: The strict checks of the running test, for the report hook below.
CHECKS = pytest.StashKey[StrictChecks]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Fold the fake_llm checks into the test's own report: a passing test fails with the explanation; a failing one
    (usually the client raising on the no-match 400) shows the explanation first, then its own traceback."""
    report = yield
    checks = item.stash.get(CHECKS, None)
    if call.when != "call" or checks is None or hasattr(report, "wasxfail"):
        return report
    problems = checks.problems()
    if problems:
        text = failure_text(problems)
        if report.failed:
            text += "\n\nThe test itself then raised (most likely because of the above):\n\n" + str(report.longrepr)
        report.outcome, report.longrepr = "failed", text
    return report
