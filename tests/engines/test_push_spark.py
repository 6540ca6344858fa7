"""`loader push` from the Spark-built warehouse, with its state and history kept there.

The reference is the same push from the DuckDB reference (conftest's ``duckdb_push``): a push
from Spark must leave the same lists, member for member and attribute for attribute. Then: a
second push sends nothing; status and export read Spark's state; a live push's lease refuses a
second push naming it, a dead one's is taken over; `dbt build` builds a history segment on the
recipients; a push SIGKILLed between a step's rows and its commit row, then rerun, converges.

The local metastore is embedded Derby (one JVM at a time) and this process holds the Spark
session dbt built with, so every push but the killed one runs in this process (the loader
reuses the session). The killed push and its rerun run as subprocesses on a copy of the
metastore (Derby's online backup), in a state schema of their own; their state is read
from its Parquet files with DuckDB, through the same committed-rows SQL as the views.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from klaviyo_emulator import Emulator
from loader.cli import app
from loader.config import Settings
from loader.engines import read_target
from loader.errors import LockedError
from loader.export import export_campaign
from loader.klaviyo.client import KlaviyoClient
from loader.state import CAMPAIGN_RECIPIENTS_COLUMNS
from loader.store.names import quote
from loader.store.schema import RECIPIENTS_VIEW, TABLES, columns, recipients_view_select
from loader.store.spark import COMMITS, committed_select, lease_table, writes_table
from loader.sync import PushOptions, PushResult, push
from loader.warehouse import read_campaigns
from tests.engines._build import EngineBuild, dbt_in_process, environment
from tests.engines._push import AT, RECIPIENTS, assert_state_agrees, view, writes
from tests.fixtures.warehouse import REPO

PUSHED_AT = datetime(2027, 1, 1, 9)


@pytest.fixture(scope="module")
def spark_emu() -> Iterator[Emulator]:
    """The emulator every in-process push of this module sends to (in order)."""
    emu = Emulator()
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


def settings_for(emu: Emulator, env: dict[str, str]) -> Settings:
    return Settings.from_env({**env, "KLAVIYO_BASE_URL": emu.base_url,
                              "KLAVIYO_API_KEY": emu.api_key})


def push_spark(build: EngineBuild, emu: Emulator, **options: Any) -> PushResult:
    """`loader push --all` on the Spark target, in this process (the session is reused)."""
    target = read_target(profiles_dir_path=REPO, env=build.env)
    with environment(build.env):
        return push(settings_for(emu, build.env),
                    PushOptions(all_campaigns=True, at=PUSHED_AT, **options), target=target)


def spark_rows(build: EngineBuild, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in build.warehouse.dbapi.session.sql(sql).collect()]


def test_push_from_spark_mirrors_the_audiences_and_a_second_push_sends_nothing(
        spark_build: EngineBuild, duckdb_push: tuple[Emulator, str],
        spark_emu: Emulator) -> None:
    first = push_spark(spark_build, spark_emu)
    assert first.error is None or first.status == "completed_with_rejections", first.error
    reference = view(duckdb_push[0])
    assert reference and any(reference.values())
    assert view(spark_emu) == reference
    # state and history are in Spark (the views over the committed writes), agreeing with the
    # lists
    expected = assert_state_agrees(lambda sql: spark_rows(spark_build, sql), reference,
                                   duckdb_push[1])
    before = writes(spark_emu)
    last = spark_rows(spark_build, "select max(write_id) from klaviyo_loader.commits")[0][0]
    second = push_spark(spark_build, spark_emu)
    assert second.error is None or second.status == "completed_with_rejections", second.error
    assert writes(spark_emu) == before, "a second push sent something"
    assert view(spark_emu) == reference
    assert sorted(spark_rows(spark_build, RECIPIENTS), key=repr) == expected
    # the second push wrote only bookkeeping: no member, no recipient
    assert spark_rows(spark_build, f"select count(*) from klaviyo_loader.commits where "
                      f"write_id > '{last}' and (tables like '%list_members%' "
                      f"or tables like '%recipients%')") == [(0,)]


def test_status_and_export_read_spark(spark_build: EngineBuild,
                                      duckdb_push: tuple[Emulator, str], tmp_path: Path) -> None:
    """After the pushes above: `loader status` shows each campaign's delivery from Spark's
    state, and `loader export` writes the same CSV as from the DuckDB reference."""
    runner = CliRunner()
    env = {**spark_build.env, "DUCKDB_PATH": str(tmp_path / "absent.duckdb")}
    with environment(env):
        status = runner.invoke(app, ["status", "--json", "--all-accounts"])
    assert status.exit_code == 0, status.output
    campaigns = json.loads(status.stdout)["campaigns"]
    delivered = {c["campaign_id"] for c in campaigns if c["last_delivery"]}
    expected = {r[0] for r in spark_rows(spark_build, "select campaign_id from "
                                                      "klaviyo_loader.deliveries "
                                                      "where status = 'completed'")}
    assert expected and delivered == expected
    con = duckdb.connect(duckdb_push[1], read_only=True)
    try:
        campaign = next(c for c in read_campaigns(con) if c.list_names)
    finally:
        con.close()
    mine, theirs = tmp_path / "spark.csv", tmp_path / "duckdb.csv"
    with environment(env):
        done = runner.invoke(app, ["export", campaign.campaign_id, "--list",
                                   campaign.list_names[0], "--output", str(mine)])
    assert done.exit_code == 0, done.output
    settings = Settings.from_env({"DUCKDB_PATH": duckdb_push[1]})
    export_campaign(duckdb_push[1], campaign.campaign_id, output=str(theirs),
                    list_name=campaign.list_names[0], state_schema=settings.state_schema)
    lines = mine.read_text().splitlines()
    assert len(lines) > 1
    assert sorted(lines) == sorted(theirs.read_text().splitlines())


def test_a_live_push_lease_refuses_a_second_push_and_a_dead_ones_is_taken_over(
        spark_build: EngineBuild, spark_emu: Emulator) -> None:
    account = KlaviyoClient.from_settings(settings_for(spark_emu, spark_build.env)
                                          ).get_account_id()
    lease = f"klaviyo_loader.{lease_table(account)}"
    session = spark_build.warehouse.dbapi.session

    def hold(pid: int) -> None:
        session.sql(f"drop table if exists {lease}")
        session.sql(f"create table {lease} (run_id string) using parquet tblproperties ("
                    f"'run_id' = 'holder01', 'host' = '{os.uname().nodename}', "
                    f"'pid' = '{pid}', 'since' = '2027-01-01T08:59:00Z', "
                    f"'heartbeat' = '{int(datetime.now().timestamp())}')")

    hold(os.getpid())  # alive: this process
    before = writes(spark_emu)
    try:
        with pytest.raises(LockedError) as err:
            push_spark(spark_build, spark_emu, lock_wait_s=1.0)
        assert "run holder01" in err.value.message and f"pid {os.getpid()}" in err.value.message
        assert "since 2027-01-01T08:59:00Z" in err.value.message
        assert writes(spark_emu) == before
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
        hold(int(dead.stdout))  # a killed push's lease: the next push takes it over
        result = push_spark(spark_build, spark_emu, lock_wait_s=1.0)
        assert result.error is None or result.status == "completed_with_rejections"
        assert not session.catalog.tableExists(lease_table(account), "klaviyo_loader")
    finally:
        session.sql(f"drop table if exists {lease}")


def test_history_segment_builds_on_recipients_in_spark(spark_build: EngineBuild,
                                                       tmp_path: Path) -> None:
    """After the pushes above, `dbt build` again: a history segment reads the recipients
    (the view of committed rows that stands where dbt's source points)."""
    assert spark_rows(spark_build, "select count(*) from klaviyo_loader.campaign_recipients"
                      )[0][0] > 0
    # the hook's empty table became the view over recipients, deliveries and the legacy rows
    session = spark_build.warehouse.dbapi.session
    kinds = {t.name: t.tableType for t in session.catalog.listTables("klaviyo_loader")}
    assert kinds[RECIPIENTS_VIEW] == "VIEW" and kinds["recipients_writes"] != "VIEW"
    assert [(f.name, f.dataType.simpleString()) for f in session.table(
        f"klaviyo_loader.{RECIPIENTS_VIEW}").schema.fields] == [
        (n, {"varchar": "string"}.get(t, t)) for n, t in CAMPAIGN_RECIPIENTS_COLUMNS]
    results = dbt_in_process(tmp_path, spark_build.env, "build", "--select",
                             "seg_history_recent_recipients")
    assert {r["status"] for r in results["results"]} <= {"success", "pass"}
    schema = spark_build.target.schema
    assert spark_rows(spark_build, f"select count(*) from {schema}.seg_history_recent_recipients"
                      )[0][0] > 0


# -- the killed push ----------------------------------------------------------------------

KILL_SCHEMA = "klaviyo_loader_kill"


def backup_metastore(build: EngineBuild, into: Path) -> None:
    """A copy of the live Derby metastore (online backup): a second JVM may boot the copy."""
    session = build.warehouse.dbapi.session
    source = Path(build.env["SPARK_STATE_DIR"]) / "metastore_db"
    jdbc = session._jvm.java.sql.DriverManager.getConnection(f"jdbc:derby:;databaseName={source}")
    try:
        call = jdbc.prepareCall("CALL SYSCS_UTIL.SYSCS_BACKUP_DATABASE(?)")
        call.setString(1, str(into))
        call.execute()
    finally:
        jdbc.close()


def run_push(emu: Emulator, env: dict[str, str], crash_at: str | None = None
             ) -> subprocess.CompletedProcess[str]:
    """``loader push`` on the Spark target, as a user runs it (a subprocess)."""
    run_env = {k: v for k, v in env.items() if k not in ("LOADER_CRASH_AT", "DUCKDB_PATH")}
    run_env.update({"KLAVIYO_BASE_URL": emu.base_url, "KLAVIYO_API_KEY": emu.api_key,
                    "PATH": os.environ.get("PATH", "")})
    if crash_at:
        run_env["LOADER_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, "-m", "loader", "push", "--all", "--at", AT,
                           "--quiet"], cwd=REPO, env=run_env, capture_output=True, text=True,
                          timeout=600)


def state_reader(state_dir: Path, schema: str) -> duckdb.DuckDBPyConnection:
    """The state of ``schema`` as a reader sees it, from its Parquet files (DuckDB):
    ``<t>`` the committed rows, ``<t>_writes`` every row written."""
    folder = state_dir / "warehouse" / f"{schema}.db"
    con = duckdb.connect()

    def files(name: str) -> list[str]:
        return sorted(str(p) for p in (folder / name).glob("*.parquet"))

    con.execute(f"create table {COMMITS} as select * from read_parquet(?)", [files(COMMITS)])
    for table in TABLES:
        log = writes_table(table)
        if files(log):
            con.execute(f"create table {log} as select * from read_parquet(?)", [files(log)])
        else:
            cols = ", ".join(f"{quote(c)} {t}" for c, t in columns(table))
            con.execute(f"create table {log} ({cols}, write_id varchar, write_op varchar)")
        con.execute(f"create view {table} as "
                    + committed_select(table, log, COMMITS, quote))
    con.execute(f"create view {RECIPIENTS_VIEW} as " + recipients_view_select(quote, quote))
    return con


def test_killed_push_on_spark_converges_on_rerun(
        spark_build: EngineBuild, duckdb_push: tuple[Emulator, str], tmp_path: Path) -> None:
    """Killed after a delivery's recipient spans were appended and before their commit row: no
    reader sees them, and the rerun records each recipient once."""
    state = tmp_path / "spark"
    backup_metastore(spark_build, state)
    env = {**spark_build.env, "SPARK_STATE_DIR": str(state), "LOADER_STATE_SCHEMA": KILL_SCHEMA}
    emu = Emulator()
    emu.start()
    try:
        killed = run_push(emu, env, crash_at="spark.uncommitted.recipient_spans:1")
        assert killed.returncode == -9, (killed.returncode, killed.stderr[-3000:])
        con = state_reader(state, KILL_SCHEMA)
        uncommitted = con.execute(
            "select count(*) from recipient_spans_writes where write_id not in "
            "(select write_id from commits)").fetchone()
        assert uncommitted and uncommitted[0] > 0  # written, never committed
        assert con.execute("select count(*) from campaign_recipients").fetchone() == (0,)
        assert con.execute("select count(*) from deliveries where status = 'running'"
                           ).fetchone() == (1,)
        con.close()
        rerun = run_push(emu, env)
        assert rerun.returncode in (0, 1), rerun.stderr[-3000:]
        reference = view(duckdb_push[0])
        assert view(emu) == reference
        con = state_reader(state, KILL_SCHEMA)
        members = dict(con.execute("select list_name, count(*) from list_members "
                                   "group by list_name").fetchall())
        assert members == {n: len(m) for n, m in reference.items() if m}
        assert con.execute("select count(*) from import_jobs where status = 'submitted'"
                           ).fetchone() == (0,)
        assert con.execute("select count(*) from deliveries where status <> 'completed'"
                           ).fetchone() == (0,)
        assert con.execute("select count(*) from pending_rows").fetchone() == (0,)
        # each recipient once per delivery, though the killed run had written them once
        assert con.execute("select count(*) from (select delivery_id, amperity_id, "
                           "sub_audience_id, treatment_id, list_id from campaign_recipients "
                           "group by all having count(*) > 1)").fetchone() == (0,)
        who = ("select campaign_id, amperity_id, sub_audience_id, treatment_id, is_control "
               "from {}campaign_recipients")
        ref = duckdb.connect(duckdb_push[1], read_only=True)
        try:
            expected = sorted((tuple(r) for r in ref.execute(who.format("klaviyo_loader."))
                               .fetchall()), key=repr)
        finally:
            ref.close()
        assert sorted((tuple(r) for r in con.execute(who.format("")).fetchall()),
                      key=repr) == expected
        con.close()
    finally:
        emu.stop()
