"""The engine suite: the project built on PostgreSQL and Spark next to a DuckDB reference.

Runs under `make test-engines` (scripts/engines/test.sh), which installs and starts the engines
and sets KLAVIYO_ENGINES (e.g. "postgres,spark"). Without it every engine test is skipped, so
`make test` needs nothing beyond DuckDB.

One session fixture per engine: the demo data (the DuckDB reference's own tables, copied) and a
real `dbt build` on that engine. PostgreSQL gets a database of its own per session; Spark gets
one in-process session for everything (dbt runs in this process and reuses it: Spark is slow to
start) with its warehouse and Derby metastore in a temporary folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import datetime

import pytest

from klaviyo_emulator import Emulator
from loader.config import Settings
from loader.sync import PushOptions, push
from tests.engines._build import (
    ENGINES,
    EngineBuild,
    build_duckdb_reference,
    build_postgres,
    build_spark,
)
from tests.fixtures.warehouse import BuiltWarehouse

ENGINE_FIXTURES = {"reference", "engine", "postgres_build", "spark_build", "duckdb_push"}
SELECTED = [e.strip() for e in os.environ.get("KLAVIYO_ENGINES", "").split(",") if e.strip()]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unknown = [e for e in SELECTED if e not in ENGINES]
    if unknown:
        raise pytest.UsageError(f"KLAVIYO_ENGINES names unknown engine(s): {', '.join(unknown)}")
    if SELECTED:
        return
    skip = pytest.mark.skip(reason="engine suite: run `make test-engines`")
    for item in items:
        if ENGINE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> BuiltWarehouse:
    """The demo built on DuckDB: what every engine must equal."""
    return build_duckdb_reference(tmp_path_factory.mktemp("engines_duckdb"))


@pytest.fixture(scope="session")
def postgres_build(reference: BuiltWarehouse,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineBuild]:
    if "postgres" not in SELECTED:
        pytest.skip("postgres is not in KLAVIYO_ENGINES")
    with build_postgres(reference, tmp_path_factory.mktemp("engines_postgres")) as build:
        yield build


@pytest.fixture(scope="session")
def spark_build(reference: BuiltWarehouse,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineBuild]:
    if "spark" not in SELECTED:
        pytest.skip("spark is not in KLAVIYO_ENGINES")
    with build_spark(reference, tmp_path_factory.mktemp("engines_spark")) as build:
        yield build


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> EngineBuild:
    """Each selected engine's build, in turn (PostgreSQL, then Spark)."""
    return request.getfixturevalue(f"{request.param}_build")


@pytest.fixture(scope="session")
def duckdb_push(reference: BuiltWarehouse, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[Emulator, str]]:
    """The same push from (a copy of) the DuckDB reference, into its own emulator: what a push
    from every engine must leave in Klaviyo."""
    path = str(tmp_path_factory.mktemp("push_duckdb") / "copy.duckdb")
    shutil.copy(reference.duckdb_path, path)
    emu = Emulator()
    emu.start()
    try:
        settings = Settings.from_env({"KLAVIYO_BASE_URL": emu.base_url,
                                      "KLAVIYO_API_KEY": emu.api_key, "DUCKDB_PATH": path})
        result = push(settings, PushOptions(all_campaigns=True, at=datetime(2027, 1, 1, 9)))
        assert result.error is None, result.error
        yield emu, path
    finally:
        emu.stop()
