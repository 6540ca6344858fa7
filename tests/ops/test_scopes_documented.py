"""The scopes README and docs/sync.md tell a user to give the key are the ones the loader
checks (`loader check`, and a push before its first write): no more, no fewer."""

from __future__ import annotations

import re
from pathlib import Path

from loader.klaviyo.scopes import PUSH_SCOPES

ROOT = Path(__file__).resolve().parents[2]
SCOPE = re.compile(r"\b(?:accounts|lists|profiles|segments|events|metrics|campaigns):"
                   r"(?:read|write)\b")
CHECKED = {"accounts:read", *PUSH_SCOPES}


def test_readme_names_every_scope_the_loader_checks() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text[text.index("export KLAVIYO_API_KEY"):text.index("loader check")]
    assert set(SCOPE.findall(block)) == CHECKED


def test_sync_guide_names_every_scope_the_loader_checks() -> None:
    text = (ROOT / "docs" / "sync.md").read_text(encoding="utf-8")
    para = text[text.index("**Scopes first.**"):].split("\n\n")[0]
    assert set(SCOPE.findall(para)) == CHECKED
