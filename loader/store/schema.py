"""The loader's state tables (schema ``klaviyo_loader``): their columns and how they are created.

Relations (docs/sync.md documents every column):

* ``sync_runs`` — one row per push;
* ``deliveries`` — one row per campaign delivery (a one-time send, a recurring tick, a sample);
* ``list_members`` — per (account, list): what the list last received, confirmed;
* ``rejected_rows`` — rows Klaviyo (or our size checks) refused, per run;
* ``campaign_recipients`` — once per delivered member (and control member) per delivery;
* ``rejected_members`` — (identifier, fingerprint) pairs refused, so an unchanged bad row is not
  re-sent on every run;
* ``list_digests`` — per (account, list): the digest of every input of its last clean plan, so
  an unchanged list is not planned again (``loader.sync.digest``);
* ``pending_rows`` / ``import_jobs`` — the write-ahead intent of the current plan: rows to send or
  remove, and the import jobs submitted for them. A job is confirmed into ``list_members`` only
  after Klaviyo reports it complete, so a kill at any instant leaves state that a rerun finishes.

Everything is keyed by the Klaviyo account id, so each account gets the full audience.
"""

from __future__ import annotations

import duckdb

from loader.store.names import qualified, quote

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
    "list_digests": """account_id varchar, list_id varchar, list_name varchar,
        campaign_id varchar, digest varchar, desired bigint, duplicates bigint,
        withheld bigint, run_id varchar, recorded_at timestamp""",
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
    con.execute(f"create schema if not exists {quote(schema)}")
    for name, cols in TABLES.items():
        con.execute(f"create table if not exists {qualified(schema, name)} ({cols})")
    for name, added in ADDED_COLUMNS.items():
        for col in added:
            con.execute(f"alter table {qualified(schema, name)} add column if not exists {col}")


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? "
        "and table_name = ?",
        [schema, name],
    ).fetchone()
    return bool(row and row[0])


# The natural key of each table: what identifies one row when a step's changes are copied to
# another engine (loader/store/postgres.py). Tables without one are keyed by every column.
KEYS: dict[str, tuple[str, ...]] = {
    "sync_runs": ("run_id",),
    "deliveries": ("delivery_id",),
    "list_members": ("account_id", "list_id", "identifier"),
    "rejected_members": ("account_id", "list_id", "identifier"),
    "pending_rows": ("account_id", "list_id", "op", "seq"),
    "import_jobs": ("account_id", "job_id"),
    "list_digests": ("account_id", "list_id"),
}


def columns(name: str) -> list[tuple[str, str]]:
    """(column, type) of a state table, in order (its first columns and those added since)."""
    spec = TABLES[name] + "".join(", " + c for c in ADDED_COLUMNS.get(name, [])
                                  if c.split()[0] not in TABLES[name].split())
    out: list[tuple[str, str]] = []
    for part in spec.split(","):
        col, kind = part.split()
        if col not in [c for c, _ in out]:
            out.append((col, kind))
    return out


def key(name: str) -> tuple[str, ...]:
    return KEYS.get(name) or tuple(c for c, _ in columns(name))
