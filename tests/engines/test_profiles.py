"""The loader reads the same profiles.yml target as dbt (no engine needed: runs in `make test`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loader.engines import read_target
from loader.errors import ConfigError
from tests.fixtures.warehouse import REPO


def test_dbt_target_selects_the_output_and_env_vars_fill_it() -> None:
    env = {"DBT_TARGET": "postgres", "PGHOST": "127.0.0.1", "PGPORT": "6543",
           "PGUSER": "analyst", "PGDATABASE": "marketing", "PGSCHEMA": "audiences"}
    target = read_target(profiles_dir_path=REPO, env=env)
    assert (target.profile, target.name, target.type) == ("klaviyo_audiences", "postgres",
                                                         "postgres")
    assert target.settings["port"] == 6543  # as_number, as dbt renders it
    assert (target.settings["user"], target.database, target.schema) == (
        "analyst", "marketing", "audiences")


def test_explicit_target_wins_over_dbt_target_and_duckdb_is_the_default() -> None:
    env = {"DBT_TARGET": "postgres", "DUCKDB_PATH": "/data/w.duckdb"}
    assert read_target("duckdb", profiles_dir_path=REPO, env=env).settings["path"] == (
        "/data/w.duckdb")
    assert read_target(profiles_dir_path=REPO, env={}).type == "duckdb"


def test_spark_output_keeps_its_state_under_spark_state_dir() -> None:
    target = read_target("spark", profiles_dir_path=REPO, env={"SPARK_STATE_DIR": "/x/spark"})
    params = target.settings["server_side_parameters"]
    assert target.settings["method"] == "session"
    assert params["spark.sql.warehouse.dir"] == "/x/spark/warehouse"
    assert "databaseName=/x/spark/metastore_db" in params[
        "spark.hadoop.javax.jdo.option.ConnectionURL"]
    assert "-Dderby.system.home=/x/spark" in params["spark.driver.extraJavaOptions"]
    assert params["spark.sql.session.timeZone"] == "UTC"


def test_password_never_appears_in_describe_or_repr() -> None:
    target = read_target("postgres", profiles_dir_path=REPO,
                         env={"PGPASSWORD": "s3cret-pg-pass"})
    assert target.secrets() == ["s3cret-pg-pass"]
    assert "s3cret" not in target.describe() and "s3cret" not in repr(target)


def test_unknown_target_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="snowflake"):
        read_target("snowflake", profiles_dir_path=REPO, env={})


def test_missing_profiles_and_unsupported_types_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No profiles.yml"):
        read_target(profiles_dir_path=tmp_path, env={})
    (tmp_path / "profiles.yml").write_text(
        "klaviyo_audiences:\n  target: bq\n  outputs:\n"
        "    bq: {type: bigquery, method: oauth, project: p, dataset: d}\n"
        "    thrift: {type: spark, method: thrift, host: h, schema: s}\n")
    with pytest.raises(ConfigError, match=r"klaviyo_audiences\.bq is of type 'bigquery'"):
        read_target(profiles_dir_path=tmp_path, env={})
    with pytest.raises(ConfigError, match="method: session"):
        read_target("thrift", profiles_dir_path=tmp_path, env={})
