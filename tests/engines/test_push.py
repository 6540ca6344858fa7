"""`loader push` from the PostgreSQL-built warehouse, with its state and history kept there.

The reference is the same push from the DuckDB reference (whose exactness tests/sync proves)
into an emulator of its own: a push from PostgreSQL must leave the same lists, member for
member and attribute for attribute. Then: a second push sends nothing; a push SIGKILLed at a
crash point (inside a confirmation's transaction) and rerun converges on the same lists and
on state that matches them; a second push waits for the account's advisory lock and fails
naming its holder; `dbt build` builds the history segments on the recipients the push wrote.

The push runs in a database of its own (a template copy of the engine build's), so the build
tests keep comparing an untouched warehouse.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from klaviyo_emulator import Emulator
from loader.config import Settings
from loader.engines import connect, read_target
from loader.errors import LockedError
from loader.export import export_campaign
from loader.klaviyo.client import KlaviyoClient
from loader.state import CAMPAIGN_RECIPIENTS_COLUMNS
from loader.store.postgres import APPLICATION, lock_keys
from loader.sync import PushOptions, push
from loader.warehouse import read_campaigns
from tests.engines._build import EngineBuild, dbt_subprocess
from tests.engines._push import AT, assert_state_agrees, view, writes
from tests.fixtures.warehouse import REPO


@pytest.fixture(scope="module")
def pg_push(postgres_build: EngineBuild) -> Iterator[dict[str, str]]:
    """The environment of a fresh database copied from the engine build's."""
    import psycopg2

    env = postgres_build.env
    source, copy = env["PGDATABASE"], f"push_{uuid.uuid4().hex[:10]}"
    postgres_build.warehouse.close()  # a template has no other session
    admin = psycopg2.connect(host=env.get("PGHOST"), port=env.get("PGPORT"),
                             user=env.get("PGUSER"), dbname="postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'create database "{copy}" template "{source}"')
    finally:
        postgres_build.warehouse = connect(postgres_build.target)
    try:
        yield {**env, "PGDATABASE": copy}
    finally:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{copy}" with (force)')
        admin.close()


def run_loader(emu: Emulator, env: dict[str, str], *args: str, crash_at: str | None = None
               ) -> subprocess.CompletedProcess[str]:
    """``loader <args>`` on the PostgreSQL target, as a user runs it (a subprocess)."""
    run_env = {k: v for k, v in env.items() if k not in ("LOADER_CRASH_AT", "DUCKDB_PATH")}
    run_env.update({"KLAVIYO_BASE_URL": emu.base_url, "KLAVIYO_API_KEY": emu.api_key,
                    "DBT_TARGET": "postgres", "PATH": os.environ.get("PATH", "")})
    if crash_at:
        run_env["LOADER_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, "-m", "loader", *args], cwd=REPO, env=run_env,
                          capture_output=True, text=True, timeout=300)


def run_push(emu: Emulator, env: dict[str, str], crash_at: str | None = None
             ) -> subprocess.CompletedProcess[str]:
    return run_loader(emu, env, "push", "--all", "--at", AT, "--quiet", crash_at=crash_at)


PG_TYPES = {"varchar": "character varying", "boolean": "boolean",
            "timestamp": "timestamp without time zone"}
OLD = ("amp-before", "spring_sale", "Spring Sale", "one_time", "all", "All", "t", "T", False,
       "klaviyo", "Klaviyo", "L-before", "seg", "Seg", datetime(2026, 1, 2, 3, 4, 5),
       datetime(2026, 1, 1, 9, 0), "inv-before", "acct-before", "d-before", False)
OLD_ROW = ", ".join("null" if v is None else str(v).lower() if isinstance(v, bool)
                    else f"'{v}'" for v in OLD)


def pg_exec(env: dict[str, str], sql: str) -> None:
    with connect(read_target(profiles_dir_path=REPO, env=env)) as w:
        w.execute(sql)


def pg_rows(env: dict[str, str], sql: str) -> list[tuple[Any, ...]]:
    with connect(read_target(profiles_dir_path=REPO, env=env)) as w:
        return w.query(sql)


def test_push_from_postgres_mirrors_the_audiences_and_a_second_push_sends_nothing(
        pg_push: dict[str, str], duckdb_push: tuple[Emulator, str],
        klaviyo_emulator: Emulator) -> None:
    first = run_push(klaviyo_emulator, pg_push)
    assert first.returncode in (0, 1), first.stderr  # 1: rows Klaviyo refused (demo data)
    reference = view(duckdb_push[0])
    assert reference and any(reference.values())
    assert view(klaviyo_emulator) == reference
    # state and history are in PostgreSQL, and agree with the lists
    assert_state_agrees(lambda sql: pg_rows(pg_push, sql), reference, duckdb_push[1])
    before = writes(klaviyo_emulator)
    second = run_push(klaviyo_emulator, pg_push)
    assert second.returncode in (0, 1), second.stderr
    assert writes(klaviyo_emulator) == before, "a second push sent something"
    assert view(klaviyo_emulator) == reference


def test_status_and_export_read_postgres(pg_push: dict[str, str],
                                         duckdb_push: tuple[Emulator, str],
                                         klaviyo_emulator: Emulator, tmp_path: Path) -> None:
    """After the push above: `loader status` shows each campaign's delivery from PostgreSQL's
    state, and `loader export` writes the same CSV as from the DuckDB reference."""
    status = run_loader(klaviyo_emulator, pg_push, "status", "--json", "--all-accounts")
    assert status.returncode == 0, status.stderr
    campaigns = json.loads(status.stdout)["campaigns"]
    delivered = {c["campaign_id"] for c in campaigns if c["last_delivery"]}
    expected = {r[0] for r in pg_rows(pg_push, "select campaign_id from "
                                               "klaviyo_loader.deliveries "
                                               "where status = 'completed'")}
    assert expected and delivered == expected
    con = duckdb.connect(duckdb_push[1], read_only=True)
    try:
        campaign = next(c for c in read_campaigns(con) if c.list_names)
    finally:
        con.close()
    mine, theirs = tmp_path / "pg.csv", tmp_path / "duckdb.csv"
    done = run_loader(klaviyo_emulator, pg_push, "export", campaign.campaign_id, "--list",
                      campaign.list_names[0], "--output", str(mine))
    assert done.returncode == 0, done.stderr
    settings = Settings.from_env({"DUCKDB_PATH": duckdb_push[1]})
    export_campaign(duckdb_push[1], campaign.campaign_id, output=str(theirs),
                    list_name=campaign.list_names[0], state_schema=settings.state_schema)
    lines = mine.read_text().splitlines()
    assert len(lines) > 1
    assert lines[0] == theirs.read_text().splitlines()[0]
    assert sorted(lines) == sorted(theirs.read_text().splitlines())


def test_killed_push_on_postgres_converges_on_rerun(
        pg_push: dict[str, str], duckdb_push: tuple[Emulator, str],
        tmp_path: Path) -> None:
    emu = Emulator()
    emu.start()
    env = {**pg_push, "LOADER_STATE_SCHEMA": "klaviyo_loader_kill"}  # its own state
    # state as a loader before the narrow form left it: campaign_recipients a table, one row
    cols = ", ".join(f"{n} {PG_TYPES[t]}" for n, t in CAMPAIGN_RECIPIENTS_COLUMNS)
    try:
        pg_exec(env, f"create schema klaviyo_loader_kill; "
                     f"create table klaviyo_loader_kill.campaign_recipients ({cols}); "
                     f"insert into klaviyo_loader_kill.campaign_recipients values ({OLD_ROW})")
        killed = run_push(emu, env, crash_at="jobs.confirming:2")
        assert killed.returncode == -9, (killed.returncode, killed.stderr)
        # the kill rolled the confirmation back: PostgreSQL holds jobs submitted, unconfirmed
        submitted = pg_rows(env, "select count(*) from klaviyo_loader_kill.import_jobs "
                                 "where status = 'submitted'")
        assert submitted[0][0] >= 1
        rerun = run_push(emu, env)
        assert rerun.returncode in (0, 1), rerun.stderr
        reference = view(duckdb_push[0])
        assert view(emu) == reference
        members = dict(pg_rows(env, "select list_name, count(*) from "
                                    "klaviyo_loader_kill.list_members group by list_name"))
        assert members == {n: len(m) for n, m in reference.items() if m}
        assert pg_rows(env, "select count(*) from klaviyo_loader_kill.import_jobs "
                            "where status = 'submitted'") == [(0,)]
        assert pg_rows(env, "select count(*) from klaviyo_loader_kill.deliveries "
                            "where status <> 'completed'") == [(0,)]
        # each recipient once per delivery, though the killed run had started the delivery
        assert pg_rows(env, "select count(*) from (select delivery_id, amperity_id, "
                            "sub_audience_id, treatment_id, list_id "
                            "from klaviyo_loader_kill.campaign_recipients "
                            "group by 1, 2, 3, 4, 5 "
                            "having count(*) > 1) as d") == [(0,)]
        # the old row kept its place in the history, next to the rerun's delivery
        assert pg_rows(env, "select * from klaviyo_loader_kill.campaign_recipients "
                            "where delivery_id = 'd-before'") == [OLD]
        assert pg_rows(env, "select count(*) from klaviyo_loader_kill.campaign_recipients "
                            "where delivery_id <> 'd-before'")[0][0] > 0
    finally:
        emu.stop()
        pg_exec(env, "drop schema if exists klaviyo_loader_kill cascade")


def test_second_push_waits_then_names_the_lock_holder(
        pg_push: dict[str, str], klaviyo_emulator: Emulator) -> None:
    """The advisory lock of (database, account) is held, as a running push holds it."""
    import psycopg2

    settings = Settings.from_env({"KLAVIYO_BASE_URL": klaviyo_emulator.base_url,
                                  "KLAVIYO_API_KEY": klaviyo_emulator.api_key})
    account = KlaviyoClient.from_settings(settings).get_account_id()
    holder = psycopg2.connect(host=pg_push["PGHOST"], port=pg_push["PGPORT"],
                              user=pg_push["PGUSER"], dbname=pg_push["PGDATABASE"],
                              application_name=APPLICATION.format(run_id="holder01"))
    try:
        with holder.cursor() as cur:
            cur.execute("select pg_advisory_lock(%s, %s)", lock_keys(account))
        holder.commit()
        with pytest.raises(LockedError) as err:
            push(settings, PushOptions(all_campaigns=True, lock_wait_s=1.0),
                 target=read_target(profiles_dir_path=REPO, env=pg_push))
        assert "run holder01" in err.value.message and "pid" in err.value.message
        assert "since" in err.value.message
        assert writes(klaviyo_emulator) == {}
    finally:
        holder.close()
    # released with its connection: the next push takes the lock
    result = push(settings, PushOptions(all_campaigns=True, dry_run=True),
                  target=read_target(profiles_dir_path=REPO, env=pg_push))
    assert result.error is None, result.error


def test_history_segment_builds_on_recipients_in_postgres(
        pg_push: dict[str, str], postgres_build: EngineBuild, tmp_path: Path) -> None:
    """After the pushes above, `dbt build` again: history segments read the recipients
    (through the view campaign_recipients, with the columns and types of the source)."""
    assert pg_rows(pg_push, "select count(*) from klaviyo_loader.campaign_recipients")[0][0] > 0
    assert pg_rows(pg_push, "select table_type from information_schema.tables where "
                            "table_schema = 'klaviyo_loader' and table_name = "
                            "'campaign_recipients'") == [("VIEW",)]
    assert pg_rows(pg_push, "select column_name, data_type from information_schema.columns "
                            "where table_schema = 'klaviyo_loader' and table_name = "
                            "'campaign_recipients' order by ordinal_position") == [
        (n, PG_TYPES[t]) for n, t in CAMPAIGN_RECIPIENTS_COLUMNS]
    results = dbt_subprocess(tmp_path, pg_push, "build", "--select",
                             "seg_history_recent_recipients")
    assert {r["status"] for r in results["results"]} <= {"success", "pass"}
    schema = postgres_build.target.schema
    assert pg_rows(pg_push, f"select count(*) from {schema}.seg_history_recent_recipients"
                   )[0][0] > 0
