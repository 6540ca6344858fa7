"""Loader-owned state in the warehouse (schema ``klaviyo_loader``) and the push lock.

Relations (docs/sync.md documents every column):

* ``sync_runs`` — one row per push;
* ``deliveries`` — one row per campaign delivery (a one-time send, a recurring tick, a sample);
* ``list_members`` — per (account, list): what the list last received, confirmed;
* ``rejected_rows`` — rows Klaviyo (or our size checks) refused, per run;
* ``campaign_recipients`` — once per delivered member (and control member) per delivery;
* ``rejected_members`` — (identifier, fingerprint) pairs refused, so an unchanged bad row is not
  re-sent on every run;
* ``pending_rows`` / ``import_jobs`` — the write-ahead intent of the current plan: rows to send or
  remove, and the import jobs submitted for them. A job is confirmed into ``list_members`` only
  after Klaviyo reports it complete, so a kill at any instant leaves state that a rerun finishes.

Everything is keyed by the Klaviyo account id, so each account gets the full audience.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import duckdb

from loader.errors import LockedError, WarehouseError

# DuckDB spills to disk beyond this, so the push's memory stays flat as audiences grow.
DEFAULT_MEMORY_LIMIT = "256MB"

CAMPAIGN_RECIPIENTS_COLUMNS: list[tuple[str, str]] = [
    ("amperity_id", "varchar"),
    ("campaign_id", "varchar"),
    ("campaign_name", "varchar"),
    ("campaign_type", "varchar"),
    ("sub_audience_id", "varchar"),
    ("sub_audience_name", "varchar"),
    ("treatment_id", "varchar"),
    ("treatment_name", "varchar"),
    ("is_control", "boolean"),
    ("destination_id", "varchar"),
    ("destination_name", "varchar"),
    ("list_id", "varchar"),
    ("segment_id", "varchar"),
    ("segment_name", "varchar"),
    ("delivery_datetime", "timestamp"),
    ("launch_datetime", "timestamp"),
    ("dataset_version", "varchar"),
    ("account_id", "varchar"),
    ("delivery_id", "varchar"),
    ("is_sample", "boolean"),
]

TABLES: dict[str, str] = {
    "sync_runs": """run_id varchar, account_id varchar, started_at timestamp,
        finished_at timestamp, status varchar, campaigns varchar, is_sample boolean,
        added bigint, updated bigint, removed bigint, rejected bigint, error varchar""",
    "deliveries": """delivery_id varchar, run_id varchar, account_id varchar,
        campaign_id varchar, scheduled_for timestamp, started_at timestamp,
        completed_at timestamp, status varchar, is_sample boolean, added bigint,
        updated bigint, removed bigint, rejected bigint, unchanged bigint, withheld bigint,
        duplicates bigint""",
    "list_members": """account_id varchar, list_id varchar, list_name varchar,
        identifier varchar, profile_id varchar, fingerprint varchar, amperity_id varchar,
        first_sent_at timestamp, last_sent_at timestamp, sent_email varchar,
        sent_phone_number varchar, sent_external_id varchar, sent_fields bigint""",
    "rejected_rows": """run_id varchar, account_id varchar, campaign_id varchar,
        list_name varchar, identifier varchar, amperity_id varchar, reason varchar,
        rejected_at timestamp, delivery_id varchar""",
    "campaign_recipients": ", ".join(f"{n} {t}" for n, t in CAMPAIGN_RECIPIENTS_COLUMNS),
    "rejected_members": """account_id varchar, list_id varchar, identifier varchar,
        fingerprint varchar, reason varchar, rejected_at timestamp""",
    "pending_rows": """account_id varchar, list_id varchar, seq bigint, op varchar,
        identifier varchar, amperity_id varchar, fingerprint varchar, payload varchar,
        nbytes bigint, profile_id varchar, is_new boolean, sent_email varchar,
        sent_phone_number varchar, sent_external_id varchar, fields bigint""",
    "import_jobs": """account_id varchar, list_id varchar, list_name varchar,
        campaign_id varchar, run_id varchar, job_id varchar, seq_from bigint, seq_to bigint,
        submitted_at timestamp, status varchar, confirmed_at timestamp, delivery_id varchar""",
}


# Columns added after the first release: state written before them gains them (null).
ADDED_COLUMNS: dict[str, list[str]] = {
    "list_members": ["sent_email varchar", "sent_phone_number varchar",
                     "sent_external_id varchar", "sent_fields bigint"],
    "pending_rows": ["sent_email varchar", "sent_phone_number varchar",
                     "sent_external_id varchar", "fields bigint"],
    "deliveries": ["withheld bigint", "duplicates bigint"],
    "rejected_rows": ["delivery_id varchar"],
    "import_jobs": ["delivery_id varchar"],
}


def ensure_schema(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    """Create the state schema and tables when missing; add columns newer versions need."""
    con.execute(f'create schema if not exists "{schema}"')
    for name, cols in TABLES.items():
        con.execute(f'create table if not exists "{schema}"."{name}" ({cols})')
    for name, added in ADDED_COLUMNS.items():
        for col in added:
            con.execute(f'alter table "{schema}"."{name}" add column if not exists {col}')


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? "
        "and table_name = ?",
        [schema, name],
    ).fetchone()
    return bool(row and row[0])


@dataclass
class PushLock:
    """An exclusive advisory lock beside the DuckDB file, naming the run that holds it."""

    path: Path
    run_id: str
    wait_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _fh: IO[str] | None = None

    @classmethod
    def for_database(cls, duckdb_path: str, run_id: str, wait_s: float = 30.0) -> PushLock:
        return cls(Path(f"{duckdb_path}.push.lock"), run_id, wait_s)

    def acquire(self) -> PushLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")  # noqa: SIM115 - held for the push's lifetime
        deadline = self.clock() + self.wait_s
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if self.clock() >= deadline:
                    fh.seek(0)
                    holder = fh.read().strip()
                    fh.close()
                    try:
                        info = json.loads(holder) if holder else {}
                    except ValueError:
                        info = {}
                    raise LockedError(
                        f"Another `loader push` holds the lock on this warehouse (run "
                        f"{info.get('run_id', '?')}, pid {info.get('pid', '?')}, since "
                        f"{info.get('started_at', '?')}).",
                        hint="Wait for it to finish; a killed push releases the lock by itself.",
                    ) from None
                self.sleep(0.2)
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"run_id": self.run_id, "pid": os.getpid(),
                             "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> PushLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def connect(path: str, read_only: bool = False, wait_s: float = 30.0,
            sleep: Callable[[float], None] = time.sleep) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, waiting a bounded time while another process holds it."""
    if read_only and not os.path.exists(path):
        raise WarehouseError(
            f"The warehouse file {path} does not exist.",
            hint="Run `dbt build` first, or point DUCKDB_PATH (or --duckdb-path) at its file.",
        )
    waited = 0.0
    config = {"memory_limit": os.environ.get("LOADER_DUCKDB_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT),
              "preserve_insertion_order": False}
    while True:
        try:
            return duckdb.connect(path, read_only=read_only, config=config)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or waited >= wait_s:
                raise WarehouseError(
                    f"Cannot open the warehouse {path}: {exc}",
                    hint="Another process (dbt, a push, a notebook) holds it; retry when it is "
                    "done.",
                ) from None
            sleep(0.5)
            waited += 0.5
