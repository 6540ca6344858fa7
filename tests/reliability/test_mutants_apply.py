"""Every mutant of `make reliability` still applies to the code it breaks.

The mutation runner (tests/reliability/mutants.py) patches the loader by exact text; when a
refactoring moves that text, the mutant would stop at once in `make reliability` with "its text
occurs 0 times". This check runs in `make test`, so the mutants are kept in step with the code
they guard when it changes, not discovered stale later.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.mutants import MUTANTS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_text_occurs_once_in_its_file(mutant) -> None:  # noqa: ANN001
    text = (ROOT / mutant.file).read_text()
    assert text.count(mutant.old) == 1, (
        f"mutant {mutant.name}: its text occurs {text.count(mutant.old)} times in "
        f"{mutant.file}; update tests/reliability/mutants.py")
    assert mutant.old != mutant.new
