"""Fixtures for the sync tests: a hand-built warehouse and settings pointing at the emulator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from loader.config import Settings
from loader.sync import PushOptions, PushResult, push
from tests.sync.helpers import CampaignSpec, make_members, write_warehouse


@pytest.fixture
def spec() -> CampaignSpec:
    return CampaignSpec(members=make_members(240, seed=3, list_b=True), list_b="Spring Sale B")


@pytest.fixture
def warehouse(tmp_path: Path, spec: CampaignSpec) -> str:
    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, [spec])
    return path


def settings_for(emulator, path: str) -> Settings:  # noqa: ANN001
    return Settings.from_env({"KLAVIYO_BASE_URL": emulator.base_url,
                              "KLAVIYO_API_KEY": emulator.api_key, "DUCKDB_PATH": path})


@pytest.fixture
def run_push(klaviyo_emulator, warehouse: str) -> Callable[..., PushResult]:  # noqa: ANN001
    def run(emulator=None, path: str | None = None, **options) -> PushResult:  # noqa: ANN001
        options.setdefault("campaigns", ["spring_sale"])
        return push(settings_for(emulator or klaviyo_emulator, path or warehouse),
                    PushOptions(**options))
    return run
