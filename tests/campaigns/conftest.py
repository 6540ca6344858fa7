"""Fixtures for campaign tests: a throw-away dbt project with synthetic inputs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.campaigns._project import CampaignProject


@pytest.fixture(scope="module")
def campaign_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CampaignProject]:
    root: Path = tmp_path_factory.mktemp("campaign_project")
    yield CampaignProject(root)
