"""The loader's state tables (schema ``klaviyo_loader``): their columns and how they are created.

Relations (docs/sync.md documents every column):

* ``sync_runs`` — one row per push;
* ``deliveries`` — one row per campaign delivery (a one-time send, a recurring tick, a sample);
* ``list_members`` — per (account, list): what the list last received, confirmed;
* ``rejected_rows`` — rows Klaviyo (or our size checks) refused, per run;
* ``recipient_spans`` — the recipients of a campaign's full (non-sample) deliveries as
  *spans*: one row per recipient (what varies per member: ``SPAN_COLUMNS``) with the first
  and last ``delivery_number`` (the campaign's completed full deliveries, numbered 1, 2, …
  in ``deliveries``) that included it, ``last_number`` null while the recipient is still in.
  A delivery opens spans for recipients that are new or whose recorded columns changed and
  closes those of recipients no longer there; an unchanged recipient writes nothing, so a
  delivery costs what changed, not the audience (compared column by column, null-safe);
* ``recipients`` — explicit rows, one per member per delivery: what sample deliveries record,
  and every row a loader before the spans wrote (read as they are: no copy on upgrade). Only
  what varies per member and the ``delivery_id``; what is constant per delivery (campaign,
  its name and type, destination, launch, dataset version, when it completed, account,
  sample) is in ``deliveries``, once;
* ``campaign_recipients`` — the *view* every reader (dbt's history source, the results
  models, an analyst) reads, one row per recipient per delivery with the columns of
  ``CAMPAIGN_RECIPIENTS_COLUMNS``: the spans expanded over the deliveries they cover,
  ``union all`` ``recipients`` joined to ``deliveries``, ``union all`` the rows of
  ``campaign_recipients_legacy``: the table ``campaign_recipients`` was before the view (or
  as dbt's on-run-start hook creates it before the first push), renamed by
  :func:`ensure_schema` and never written again;
* ``rejected_members`` — (identifier, fingerprint) pairs refused, so an unchanged bad row is not
  re-sent on every run;
* ``list_digests`` — per (account, list): the digest of every input of its last clean plan, of
  its inputs but state, and the account's state part it was computed over, so an unchanged
  list is not planned again (``loader.sync.digest``);
* ``pending_rows`` / ``import_jobs`` — the write-ahead intent of the current plan: rows to send or
  remove, and the import jobs submitted for them. A job is confirmed into ``list_members`` only
  after Klaviyo reports it complete, so a kill at any instant leaves state that a rerun finishes.

Everything is keyed by the Klaviyo account id, so each account gets the full audience.
"""

from __future__ import annotations

from collections.abc import Callable

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

# What varies per recipient (and the delivery it belongs to): the stored table ``recipients``.
RECIPIENTS_COLUMNS: list[tuple[str, str]] = [
    ("amperity_id", "varchar"),
    ("sub_audience_id", "varchar"),
    ("sub_audience_name", "varchar"),
    ("treatment_id", "varchar"),
    ("treatment_name", "varchar"),
    ("is_control", "boolean"),
    ("list_id", "varchar"),
    ("segment_id", "varchar"),
    ("segment_name", "varchar"),
    ("delivery_id", "varchar"),
]

# What varies per recipient of a full delivery: a span's recorded columns (all compared,
# null-safe, to decide whether a recipient is unchanged).
SPAN_COLUMNS: list[str] = [c for c, _ in RECIPIENTS_COLUMNS if c != "delivery_id"]

# The stored spans: the recorded columns, then the span's campaign, key and extent.
RECIPIENT_SPANS_COLUMNS: list[tuple[str, str]] = [
    ("account_id", "varchar"),
    ("campaign_id", "varchar"),
    *[(c, t) for c, t in RECIPIENTS_COLUMNS if c != "delivery_id"],
    ("first_number", "bigint"),
    ("span_no", "bigint"),
    ("last_number", "bigint"),
]

# What is constant per delivery: ``campaign_recipients`` column -> ``deliveries`` column.
DELIVERY_COLUMNS: dict[str, str] = {
    "campaign_id": "campaign_id",
    "campaign_name": "campaign_name",
    "campaign_type": "campaign_type",
    "destination_id": "destination_id",
    "destination_name": "destination_name",
    "delivery_datetime": "delivery_datetime",
    "launch_datetime": "launch_datetime",
    "dataset_version": "dataset_version",
    "account_id": "account_id",
    "is_sample": "is_sample",
}

RECIPIENTS_VIEW = "campaign_recipients"
RECIPIENT_SPANS = "recipient_spans"
LEGACY_RECIPIENTS = "campaign_recipients_legacy"

TABLES: dict[str, str] = {
    "sync_runs": """run_id varchar, account_id varchar, started_at timestamp,
        finished_at timestamp, status varchar, campaigns varchar, is_sample boolean,
        added bigint, updated bigint, removed bigint, rejected bigint, error varchar""",
    "deliveries": """delivery_id varchar, run_id varchar, account_id varchar,
        campaign_id varchar, scheduled_for timestamp, started_at timestamp,
        completed_at timestamp, status varchar, is_sample boolean, added bigint,
        updated bigint, removed bigint, rejected bigint, unchanged bigint, withheld bigint,
        duplicates bigint, campaign_name varchar, campaign_type varchar,
        destination_id varchar, destination_name varchar, delivery_datetime timestamp,
        launch_datetime timestamp, dataset_version varchar, delivery_number bigint""",
    "list_members": """account_id varchar, list_id varchar, list_name varchar,
        identifier varchar, profile_id varchar, fingerprint varchar, amperity_id varchar,
        first_sent_at timestamp, last_sent_at timestamp, sent_email varchar,
        sent_phone_number varchar, sent_external_id varchar, sent_fields bigint""",
    "rejected_rows": """run_id varchar, account_id varchar, campaign_id varchar,
        list_name varchar, identifier varchar, amperity_id varchar, reason varchar,
        rejected_at timestamp, delivery_id varchar""",
    "recipients": ", ".join(f"{n} {t}" for n, t in RECIPIENTS_COLUMNS),
    RECIPIENT_SPANS: ", ".join(f"{n} {t}" for n, t in RECIPIENT_SPANS_COLUMNS),
    LEGACY_RECIPIENTS: ", ".join(f"{n} {t}" for n, t in CAMPAIGN_RECIPIENTS_COLUMNS),
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
    "deliveries": ["withheld bigint", "duplicates bigint", "campaign_name varchar",
                   "campaign_type varchar", "destination_id varchar",
                   "destination_name varchar", "delivery_datetime timestamp",
                   "launch_datetime timestamp", "dataset_version varchar",
                   "delivery_number bigint"],
    "rejected_rows": ["delivery_id varchar"],
    "import_jobs": ["delivery_id varchar"],
    # the digest of a list's inputs but state, and the account's state part it was stored
    # over (loader.sync.digest: a skip's first stage, the next push's start)
    "list_digests": ["inputs varchar", "state varchar"],
}


# Tables a push never writes (steps that name no table do not compare them).
READ_ONLY_TABLES = frozenset({LEGACY_RECIPIENTS})


def ensure_schema(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    """Create the state schema and tables when missing; add columns newer versions need; and
    the view ``campaign_recipients`` (a table of that name, as a loader before the view or
    dbt's hook wrote it, becomes ``campaign_recipients_legacy`` with its rows first)."""
    con.execute(f"create schema if not exists {quote(schema)}")
    if relation_type(con, schema, RECIPIENTS_VIEW) == "BASE TABLE":
        if relation_type(con, schema, LEGACY_RECIPIENTS) is None:
            con.execute(f"alter table {qualified(schema, RECIPIENTS_VIEW)} "
                        f"rename to {quote(LEGACY_RECIPIENTS)}")
        else:  # both: a hook re-created the table by hand; keep its rows too
            legacy_cols = ", ".join(quote(c) for c, _ in CAMPAIGN_RECIPIENTS_COLUMNS)
            con.execute(f"insert into {qualified(schema, LEGACY_RECIPIENTS)} ({legacy_cols}) "
                        f"select {legacy_cols} from {qualified(schema, RECIPIENTS_VIEW)}")
            con.execute(f"drop table {qualified(schema, RECIPIENTS_VIEW)}")
    for name, cols in TABLES.items():
        con.execute(f"create table if not exists {qualified(schema, name)} ({cols})")
    for name, added in ADDED_COLUMNS.items():
        for col in added:
            con.execute(f"alter table {qualified(schema, name)} add column if not exists {col}")
    con.execute(f"create or replace view {qualified(schema, RECIPIENTS_VIEW)} as "
                + recipients_view_select(lambda t: qualified(schema, t)))


def recipients_view_select(rel: Callable[[str], str],
                           q: Callable[[str], str] = quote) -> str:
    """The select of the view ``campaign_recipients``: ``CAMPAIGN_RECIPIENTS_COLUMNS`` in order,
    one row per recipient per delivery: each span once per completed full delivery of its
    campaign it covers (``delivery_number`` from ``first_number`` to ``last_number``, or on
    while open), then the explicit ``recipients`` joined to their delivery, then the legacy
    rows. Portable SQL (DuckDB, PostgreSQL, Spark); ``rel`` names a state relation, ``q``
    quotes a column."""
    narrow = {c for c, _ in RECIPIENTS_COLUMNS}

    def picks(alias: str) -> str:
        return ", ".join(
            f"{alias}.{q(c)}" if c in narrow and c != "delivery_id"
            else f"d.{q(DELIVERY_COLUMNS.get(c, c))} as {q(c)}"
            for c, _ in CAMPAIGN_RECIPIENTS_COLUMNS)

    legacy = ", ".join(q(c) for c, _ in CAMPAIGN_RECIPIENTS_COLUMNS)
    number = q("delivery_number")
    return (f"select {picks('s')} from {rel(RECIPIENT_SPANS)} as s "
            f"inner join {rel('deliveries')} as d on d.{q('account_id')} = s.{q('account_id')} "
            f"and d.{q('campaign_id')} = s.{q('campaign_id')} "
            f"and d.{q('status')} = 'completed' and not d.{q('is_sample')} "
            f"and d.{number} >= s.{q('first_number')} "
            f"and (s.{q('last_number')} is null or d.{number} <= s.{q('last_number')}) "
            f"union all select {picks('r')} from {rel('recipients')} as r "
            f"inner join {rel('deliveries')} as d on d.{q('delivery_id')} = r.{q('delivery_id')} "
            f"union all select {legacy} from {rel(LEGACY_RECIPIENTS)}")


def relation_type(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> str | None:
    """'BASE TABLE', 'VIEW' (or another table_type) of a relation; None when missing."""
    row = con.execute(
        "select table_type from information_schema.tables where table_schema = ? "
        "and table_name = ?", [schema, name]).fetchone()
    return str(row[0]) if row else None


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
    # a span's identity survives its closing (an update of last_number); never null
    RECIPIENT_SPANS: ("account_id", "campaign_id", "first_number", "span_no"),
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
