"""Building the demo on an engine: data copied from the DuckDB reference, then a real dbt build."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loader import demo_data
from loader.engines import Target, Warehouse, connect, read_target
from loader.engines.copy import copy_from_duckdb
from tests.fixtures.warehouse import (
    DBT,
    DBT_TIMEOUT_SECONDS,
    REPO,
    BuiltWarehouse,
    DbtFailed,
    build_warehouse,
)

ENGINES = ("postgres", "spark")
CUSTOMERS = 2000


@dataclass
class EngineBuild:
    """The demo built on one engine: its environment, open warehouse and dbt's results."""

    engine: str
    root: Path
    env: dict[str, str]
    target: Target
    warehouse: Warehouse
    run_results: dict[str, Any]

    def statuses(self) -> dict[str, str]:
        """unique_id -> status of every node the build ran."""
        return {r["unique_id"]: r["status"] for r in self.run_results["results"]}


def build_duckdb_reference(root: Path) -> BuiltWarehouse:
    return build_warehouse(root, customers=CUSTOMERS)


def dbt_args(root: Path, *args: str) -> list[str]:
    return [
        *args,
        "--profiles-dir", str(REPO),
        "--project-dir", str(REPO),
        "--target-path", str(root / "target"),
        "--log-path", str(root / "logs"),
    ]


def run_results(root: Path) -> dict[str, Any]:
    return json.loads((root / "target" / "run_results.json").read_text())


def dbt_subprocess(root: Path, env: Mapping[str, str], *args: str) -> dict[str, Any]:
    """dbt in a subprocess; its run results even when nodes failed (the tests report those)."""
    command = [str(DBT), *dbt_args(root, *args)]
    done = subprocess.run(command, cwd=REPO, env=dict(env), capture_output=True, text=True,
                          timeout=DBT_TIMEOUT_SECONDS)
    if done.returncode != 0 and not (root / "target" / "run_results.json").is_file():
        raise DbtFailed(f"dbt {' '.join(args)} on {env.get('DBT_TARGET')} exited "
                        f"{done.returncode}:\n{done.stdout}{done.stderr}")
    return run_results(root)


@contextlib.contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """os.environ replaced by ``env`` for the block (dbt in-process reads os.environ)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def dbt_in_process(root: Path, env: Mapping[str, str], *args: str) -> dict[str, Any]:
    """dbt in this process (on Spark it reuses the session started here); its run results even
    when nodes failed (the tests report those)."""
    from dbt.cli.main import dbtRunner

    with environment(env), contextlib.chdir(REPO):
        result = dbtRunner().invoke(dbt_args(root, *args))
    if result.exception is not None or result.result is None:
        raise DbtFailed(f"dbt {' '.join(args)} on {env.get('DBT_TARGET')} failed: "
                        f"{result.exception}")
    return run_results(root)


@contextlib.contextmanager
def build_postgres(reference: BuiltWarehouse, root: Path) -> Iterator[EngineBuild]:
    """A database of its own on the running server (PGHOST/PGPORT/PGUSER), dropped afterwards."""
    import psycopg2

    database = f"engines_{uuid.uuid4().hex[:10]}"
    env = {**reference.env, "DBT_TARGET": "postgres", "PGDATABASE": database}
    admin = psycopg2.connect(host=env.get("PGHOST"), port=env.get("PGPORT"),
                             user=env.get("PGUSER"), dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'create database "{database}"')
    try:
        target = read_target(profiles_dir_path=REPO, env=env)
        with connect(target) as warehouse:
            copy_from_duckdb(reference.duckdb_path, "amperity", demo_data.TABLES, warehouse)
            results = dbt_subprocess(root, env, "build")
            yield EngineBuild("postgres", root, env, target, warehouse, results)
    finally:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{database}" with (force)')
        admin.close()


@contextlib.contextmanager
def build_spark(reference: BuiltWarehouse, root: Path) -> Iterator[EngineBuild]:
    """One Spark session (started here, stopped at the end) for the copy, dbt and the reader."""
    state = root / "spark"
    state.mkdir()
    env = {**reference.env, "DBT_TARGET": "spark", "SPARK_STATE_DIR": str(state)}
    target = read_target(profiles_dir_path=REPO, env=env)
    with connect(target) as warehouse:
        warehouse.dbapi.session.sparkContext.setLogLevel("ERROR")
        copy_from_duckdb(reference.duckdb_path, "amperity", demo_data.TABLES, warehouse)
        results = dbt_in_process(root, env, "build")
        yield EngineBuild("spark", root, env, target, warehouse, results)
