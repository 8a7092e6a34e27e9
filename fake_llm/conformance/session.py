"""The conformance check of a pytest session (`--fake-llm-conformance` or `fake_llm_conformance = true`).

Every app fake-llm builds during the session is wrapped by the recorder, so every body, event and error body a
test provokes (TestClient or threaded server alike) is validated. A test whose exchanges break their schema fails
with the field and the reason; the terminal summary lists the schemas exercised and those never reached.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from fake_llm.conformance import openai_spec, openapi
from fake_llm.conformance.recorder import ConformanceRecorder, Finding, Report
from fake_llm.http.app import wrap_every_app


class ConformancePlugin:
    """Registered by fake_llm.pytest_plugin when the check is on; owns the session's Report."""

    def __init__(self) -> None:
        self.report = Report()
        self._stop = wrap_every_app(lambda app: ConformanceRecorder(app, self.report))

    def unregister(self) -> None:
        self._stop()

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # Parse the pinned OpenAPI document once, before any test: parsed lazily, its first use (seconds on a busy
        # machine) would land inside a served request and stall that server's thread mid-stream.
        openapi.schema_names(openai_spec.FAMILY)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
        outcome = yield
        if call.when == "setup":
            return
        findings = self.report.take_findings()
        if not findings:
            return
        report: pytest.TestReport = outcome.get_result()
        report.outcome = "failed"
        text = "fake-llm conformance: output that breaks the provider's schema\n" + _describe(findings)
        report.longrepr = text if report.longrepr is None else f"{report.longrepr}\n\n{text}"

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.write_sep("-", "fake-llm conformance")
        for line in self.report.summary():
            terminalreporter.write_line(line)
        late = self.report.take_findings()
        if late:
            terminalreporter.write_line("findings outside any test:\n" + _describe(late), red=True)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.report.findings and exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _describe(findings: list[Finding]) -> str:
    shown = [str(f) for f in findings[:10]]
    if len(findings) > 10:
        shown.append(f"... and {len(findings) - 10} more")
    return "\n".join(shown)
