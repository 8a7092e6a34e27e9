"""The pytest plugin: `fake_llm` / `fake_llm_server` / `fake_llm_settings` fixtures, the marker and ini options.

Registered through the `pytest11` entry point. One server per session, reset before each test; strict at teardown.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from fake_llm.core.report import Coverage
    from fake_llm.settings import Settings
    from fake_llm.testing.server import FakeLLMServer

MARKER = (
    "fake_llm(scenarios=None, rules=None, activate=None, cassette=None, normalize=None, fail_on_unmatched=True, "
    "fail_on_unused_rules=False): scenario files or folders (relative to the test file) and inline rules for this "
    "test, the only scenario(s) switched on, a cassette to replay (or record with --fake-llm-record; True names it "
    "cassettes/<module>/<test>.yaml), the normalize: steps of a new cassette, and its teardown checks"
)
OPTIONS = ("scenarios", "rules", "activate", "cassette", "normalize", "fail_on_unmatched", "fail_on_unused_rules")
#: The session's chaos seed: given, or drawn once by the controller (and handed to xdist workers).
CHAOS_SEED = pytest.StashKey[int]()
#: The session's coverage and near-miss report, when asked for (--fake-llm-report, --fake-llm-report-json).
COVERAGE: pytest.StashKey[Coverage] = pytest.StashKey()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "fake_llm_scenarios", "scenario files or folders the fake_llm server loads for every test", type="paths"
    )
    parser.addini("fake_llm_seed", "seed for ids and generated values (default 0)", default="0")
    parser.addini("fake_llm_time_scale", "multiplier for scripted delays; 0 turns them off (default 1)", default="1")
    parser.addini(
        "fake_llm_fail_on_unmatched", "fail a test whose code sent a request no rule matched", type="bool", default=True
    )
    parser.addoption(
        "--fake-llm-record",
        metavar="URL",
        help="record the cassettes of `fake_llm(cassette=...)` tests from this provider instead of replaying them",
    )
    parser.addoption(
        "--fake-llm-report",
        action="store_true",
        help="print the coverage and near-miss report at the end: rules never hit, replies never reached, and each "
        "unmatched request with the closest rule",
    )
    parser.addoption("--fake-llm-report-json", metavar="PATH", help="write the same report as JSON (for CI)")
    parser.addoption(
        "--fake-llm-chaos-seed",
        type=int,
        metavar="N",
        help="seed of `chaos:` rules that give none (default: a fresh one, shown in the header, to replay a run)",
    )
    parser.addoption(
        "--fake-llm-record-mode",
        choices=("none", "once", "new_episodes", "all", "new"),
        help="vcrpy's record modes: none (replay only, the default without --fake-llm-record), once (record "
        "missing cassettes), new_episodes (record what the cassette does not answer yet; the default with "
        "--fake-llm-record; `new` is an alias), all (record every request again)",
    )
    parser.addoption(
        "--fake-llm-stale-only",
        action="store_true",
        help="with --fake-llm-record: re-record only the cassette rules whose requests changed (prompt, tool "
        "schemas or model), in place",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    seed = config.getoption("fake_llm_chaos_seed")
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "fake_llm_chaos_seed" in workerinput:
        seed = workerinput["fake_llm_chaos_seed"]
    config.stash[CHAOS_SEED] = seed if seed is not None else secrets.randbelow(2**31)
    if config.getoption("fake_llm_report") or config.getoption("fake_llm_report_json"):
        from fake_llm.core.report import Coverage

        config.stash[COVERAGE] = Coverage()
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(), "fake_llm_xdist")


class XdistHooks:
    """Hooks only pytest-xdist calls (registered when it is installed, as pytest warns of unknown hooks)."""

    def pytest_configure_node(self, node: Any) -> None:
        """Every worker uses the controller's chaos seed, so that one seed replays a parallel run too."""
        node.workerinput["fake_llm_chaos_seed"] = node.config.stash[CHAOS_SEED]

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """A worker's report joins the controller's."""
        coverage = node.config.stash.get(COVERAGE, None)
        data = getattr(node, "workeroutput", {}).get("fake_llm_report")
        if coverage is not None and data is not None:
            coverage.merge(data)


def pytest_sessionfinish(session: pytest.Session) -> None:
    coverage = session.config.stash.get(COVERAGE, None)
    workeroutput = getattr(session.config, "workeroutput", None)
    if coverage is not None and workeroutput is not None:  # an xdist worker: the controller prints the report
        workeroutput["fake_llm_report"] = coverage.to_dict()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    coverage = config.stash.get(COVERAGE, None)
    if coverage is None or hasattr(config, "workeroutput"):
        return
    import json

    from fake_llm.core.report import format_report

    data = coverage.to_dict()
    path = config.getoption("fake_llm_report_json")
    if path:
        Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if config.getoption("fake_llm_report"):
        terminalreporter.write_sep("-", "fake-llm report")
        terminalreporter.write_line(format_report(data))
    if path:
        terminalreporter.write_line(f"fake-llm report written to {path}")


def pytest_report_header(config: pytest.Config) -> list[str]:
    seed = config.stash[CHAOS_SEED]
    return [f"fake-llm: chaos seed {seed} (replay with --fake-llm-chaos-seed={seed})"]


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
        chaos_seed=pytestconfig.stash[CHAOS_SEED],
    )


@pytest.fixture(scope="session")
def fake_llm_server(fake_llm_settings: Settings) -> Iterator[FakeLLMServer]:
    """One fake-llm server for the whole session (use `fake_llm` in tests: it resets this one)."""
    from fake_llm.testing.server import FakeLLMServer

    server = FakeLLMServer(settings=fake_llm_settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def cassette_path(request: pytest.FixtureRequest, cassette: Any) -> Path | None:
    """The marker's `cassette=` relative to the test file; `True` names it after the test, as pytest-recording does:
    `cassettes/<module>/<test>.yaml`."""
    if cassette is None or cassette is False:
        return None
    folder = Path(str(request.node.path)).parent
    if cassette is True:
        test = "".join("-" if c in '<>:"/\\|?*' else c for c in request.node.name)
        return folder / "cassettes" / Path(str(request.node.path)).stem / f"{test}.yaml"
    return folder / str(cassette)


def describe_miss(entry: Any, cassette: Path | None) -> str:
    """A request no rule answered: what it asked, the closest rule field by field, and against a cassette, why
    the cassette missed (a new request, or a stale recording: prompt edited, tool schema or model changed)."""
    near = entry.closest or {}
    lines = [f"no rule matched {entry.describe()}, last user message {near.get('last_user', '')!r}"]
    if cassette is not None:
        cause = near.get("cause") or "new"
        lines.append(f"  the cassette {cassette} has no recording of this request: {cause}")
        if near.get("changes") and near["changes"] != [cause]:
            lines.append(f"  changes against the recording: {', '.join(near['changes'])}")
    if near.get("rule"):
        lines.append(f"  closest {'recorded ' if cassette else ''}rule {near['rule']!r} ({near['source']}) differs in:")
        lines += [f"    - {d}" for d in near["differences"]] or ["    - nothing: it is used up or switched off"]
    lines.append("  rules tried:")
    lines += [f"    {rule}: {why}" for rule, why in entry.reasons] or ["    (no rules loaded)"]
    return "\n".join(lines)


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

    At teardown the test fails on any internal fake-llm error, on requests no rule matched (unless
    `fail_on_unmatched=False`) and, with `fail_on_unused_rules=True`, on rules this test added that never answered.
    """
    from fake_llm.errors import JournalAssertionError

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
    cassette = cassette_path(request, options.get("cassette"))
    if cassette is None:
        yield fake_llm_server
    else:
        from fake_llm.testing.recording import use_cassette

        config = request.config
        with use_cassette(
            fake_llm_server,
            cassette,
            upstream=config.getoption("fake_llm_record"),
            mode=config.getoption("fake_llm_record_mode"),
            normalize=options.get("normalize") or (),
            stale_only=config.getoption("fake_llm_stale_only"),
        ) as handle:
            yield handle
    try:
        journal = fake_llm_server.journal
        problems: list[str] = []
        for entry in journal.errors:
            problems.append(f"fake-llm failed while answering {entry.describe()}:\n{entry.error}")
        for entry in journal.mismatches:
            problems.append(f"the reply to {entry.describe()} contradicts the request: {entry.reply}")
        if options["fail_on_unmatched"]:
            for entry in journal.unmatched:
                problems.append(describe_miss(entry, cassette))
        try:
            fake_llm_server.check_expectations()
        except JournalAssertionError as exc:
            problems.append(str(exc))
        if options.get("fail_on_unused_rules"):
            hits = fake_llm_server.engine.selector.hits()
            rules = fake_llm_server.engine.selector.rules
            unused = [r.name for r in rules if r.name not in session_rules and not hits.get(r.name)]
            if unused:
                problems.append(f"rules never used by this test: {', '.join(unused)}")
        if problems:
            raise JournalAssertionError("fake-llm: " + "\n".join(problems))
    finally:
        coverage = request.config.stash.get(COVERAGE, None)
        if coverage is not None:  # before the reset below forgets this test's hits
            coverage.merge(fake_llm_server.engine.coverage(request.node.nodeid).to_dict())
        fake_llm_server.reset(rules=True)
