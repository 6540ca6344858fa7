"""Print the kill suite's figures at the end of the run (and write them as JSON when
LOADER_RELIABILITY_REPORT names a file): docs/reliability.md quotes them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.reliability import harness


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # noqa: ANN001
    if not harness.FIGURES and not harness.NOTES:
        return
    target = os.environ.get("LOADER_RELIABILITY_REPORT")
    terminalreporter.write_sep("-", "reliability figures")
    if harness.FIGURES:
        terminalreporter.write_line(harness.report(Path(target) if target else None))
    for line in harness.NOTES:
        terminalreporter.write_line(line)
