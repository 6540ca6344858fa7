"""`make help` lists every target of the Makefile with its `##` line."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def targets() -> set[str]:
    """Every rule's target named in plain words (not $(STAMP)-style files or .PHONY)."""
    found = set()
    for line in (REPO / "Makefile").read_text().splitlines():
        match = re.match(r"^([a-z][a-z0-9-]*)\s*:(?!=)", line)
        if match:
            found.add(match.group(1))
    return found


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_help_lists_every_target() -> None:
    result = subprocess.run(["make", "--no-print-directory", "help"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    listed = set()
    for line in result.stdout.splitlines():
        match = re.match(r"^  ([a-z][a-z0-9 /-]*): \S", line)
        if match:
            listed.update(name.strip() for name in match.group(1).split("/"))
    assert {"demo", "test", "lint", "help", "bench"} <= targets()
    assert targets() - listed == set(), "targets without a `## target: what it does` line"
