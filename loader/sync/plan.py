"""Planning one list: the desired profiles, the diff against state, the requests it will take.

All of it is SQL run inside DuckDB; Python sees counts, and later streams only changed rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb

from loader.klaviyo.limits import (
    IMPORT_MAX_BYTES,
    IMPORT_MAX_PROFILE_BYTES,
    IMPORT_MAX_PROFILES,
    estimate_seconds,
    limit,
)
from loader.klaviyo.payloads import IMPORT_BODY_OVERHEAD, ident, sql_str
from loader.store import qualified
from loader.store.schema import table_exists
from loader.sync import identity
from loader.warehouse import Campaign, desired_sql, duplicates_sql, fields_mask

DESIRED = "_klaviyo_desired"
# customers sharing the campaign identifier with another customer of the list (duplicates_sql)
DUPLICATES = "_klaviyo_duplicates"
# the list's customers and the identifiers withheld from them (identity.withheld_rows_sql)
WITHHELD_ROWS = "_klaviyo_withheld_rows"
# what a campaign's delivery records in rejected_rows once: customers left out as duplicates
# (the campaign's SQL, contract C1, and duplicates_sql) and identifiers withheld (C2)
NOTES = "_klaviyo_notes"
SENT = "sent_email, sent_phone_number, sent_external_id"
DIFF = "_klaviyo_diff"  # desired rows that are not unchanged, with `seq` on those to send


@dataclass
class ListPlan:
    campaign_id: str
    list_name: str
    list_id: str | None
    list_exists: bool
    desired: int = 0
    adds: int = 0
    changes: int = 0
    removals: int = 0
    unchanged: int = 0
    duplicates: int = 0  # customers not sent: they share the campaign identifier with another
    withheld: int = 0  # identifiers withheld from the list's profiles (shared or invalid)
    invalid: int = 0  # rows not sent: the campaign's identifier is an invalid phone number
    clears: int = 0  # profiles whose fields went from a value to NULL: one PATCH each
    oversize: int = 0
    held_rejected: int = 0  # rows refused before with the same content: not re-sent
    import_jobs: int = 0
    lookups: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    estimated_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def job_bounds(con: duckdb.DuckDBPyConnection) -> list[tuple[int, int]]:
    """(first seq, last seq) of each import job over ``DIFF``'s rows to send.

    Sizes stream in seq order; only the bounds (one pair a job) are kept. When even the
    largest profile cannot push 10,000 of them past 5 MB, jobs are every 10,000 rows, cut
    in SQL (the same cuts, without streaming every size through Python).
    """
    stats = con.execute(f"select count(*), max(nbytes) from {DIFF} where seq is not null"
                        ).fetchone()
    if not stats or not stats[0]:
        return []
    if IMPORT_BODY_OVERHEAD + IMPORT_MAX_PROFILES * (int(stats[1]) + 1) <= IMPORT_MAX_BYTES:
        return [(int(a), int(b)) for a, b in con.execute(f"""
            select min(seq), max(seq) from (
                select seq, (row_number() over (order by seq) - 1) // {IMPORT_MAX_PROFILES}
                    as job
                from {DIFF} where seq is not null)
            group by job order by job""").fetchall()]
    cur = con.execute(f"select seq, nbytes from {DIFF} where seq is not null order by seq")
    bounds: list[tuple[int, int]] = []
    first = last = None
    count = 0
    body = IMPORT_BODY_OVERHEAD
    while True:
        chunk = cur.fetchmany(100_000)
        if not chunk:
            break
        for seq, n in chunk:
            if count and (count >= IMPORT_MAX_PROFILES or body + n + 1 > IMPORT_MAX_BYTES):
                bounds.append((first, last))  # type: ignore[arg-type]
                first, count, body = None, 0, IMPORT_BODY_OVERHEAD
            if first is None:
                first = seq
            last = seq
            count += 1
            body += n + 1
    if count:
        bounds.append((first, last))  # type: ignore[arg-type]
    return bounds


def batch_bounds(sizes: Iterable[int]) -> Iterator[tuple[int, int]]:
    """Cut rows (given their payload sizes, in order) into import jobs: (first, last) indexes.

    A job holds at most 10,000 profiles and its body stays under 5 MB.
    """
    start = 0
    count = 0
    body = IMPORT_BODY_OVERHEAD
    i = -1
    for i, n in enumerate(sizes):
        if count and (count >= IMPORT_MAX_PROFILES or body + n + 1 > IMPORT_MAX_BYTES):
            yield start, i - 1
            start, count, body = i, 0, IMPORT_BODY_OVERHEAD
        count += 1
        body += n + 1
    if count:
        yield start, i


class Planner:
    """Diffs for one account, over one DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, schema: str, account_id: str) -> None:
        self.con = con
        self.schema = schema
        self.account_id = account_id
        self.has_state = table_exists(con, schema, "list_members")
        self.bounds: list[tuple[int, int]] | None = None  # import jobs of the last plan
        self.clear_mask = 0  # the fields the last planned campaign may clear
        identity.empty(con)  # nothing withheld until identity.build says otherwise
        # the account-wide identity pass, run before the first list planned (None: done)
        self.identity: Callable[[], object] | None = None
        self.identity_built = False
        self.identity_read_state = False  # its verdicts depend on state (list_members)
        con.execute(f"create or replace temp table {NOTES} (list_name varchar, "
                    f"identifier varchar, amperity_id varchar, reason varchar, "
                    f"is_control boolean, origin varchar)")

    def ready(self) -> bool:
        """Run the identity pass if it is still to run; True when it ran in this push."""
        build, self.identity = self.identity, None
        if build is not None:
            stats = build()
            self.identity_built = True
            self.identity_read_state = bool(getattr(stats, "read_state", True))
        return self.identity_built

    def _sent_columns(self) -> str:
        """SENT, or nulls in their place for state written before they existed (a dry run
        does not migrate state)."""
        row = self.con.execute(
            "select count(*) from information_schema.columns where table_schema = ? "
            "and table_name = 'list_members' and column_name = 'sent_email'",
            [self.schema]).fetchone()
        if row and row[0]:
            return SENT
        return ", ".join(f"null::varchar as {c.strip()}" for c in SENT.split(","))

    def t(self, name: str) -> str:
        return qualified(self.schema, name)

    def _has_sent_fields(self) -> bool:
        """State knows the fields sent (a dry run does not migrate older state)."""
        if not self.has_state:
            return False
        row = self.con.execute(
            "select count(*) from information_schema.columns where table_schema = ? "
            "and table_name = 'list_members' and column_name = 'sent_fields'",
            [self.schema]).fetchone()
        return bool(row and row[0])

    def build_desired(self, campaign: Campaign, list_name: str, columns: list[str],
                      sample: int | None) -> None:
        """(Re)create the temp table of profiles the list should hold (or its sample).

        The list's rows as they are sent (``identity.source_sql``: withheld identifiers set to
        null); customers sharing the campaign identifier with a smaller amperity_id of the
        list (``DUPLICATES``) are left out of ``DESIRED``; ``WITHHELD_ROWS`` says what was
        withheld from whom.
        """
        self.ready()
        self.clear_mask = fields_mask(campaign, columns)
        source = identity.source_sql(campaign, list_name, columns)
        self.con.execute(f"create or replace temp table {DUPLICATES} as "
                         f"{duplicates_sql(campaign, list_name, source)}")
        row = self.con.execute(f"select count(*) from {DUPLICATES} "
                               f"where collides_with is not null").fetchone()
        sql = desired_sql(campaign, list_name, columns,
                          DUPLICATES if row and row[0] else None, source)
        if sample is not None:
            sql = f"select * from ({sql}) order by md5(identifier), identifier limit {int(sample)}"
        self.con.execute(f"create or replace temp table {DESIRED} as {sql}")
        # what is withheld from the customers sent (and the rows not sent for an invalid
        # phone number, when that is the campaign's identifier)
        withheld = (f"select w.* from ({identity.withheld_rows_sql(campaign, list_name, columns)})"
                    f" as w where w.kind = {sql_str(campaign.identifier)} or exists (select 1 "
                    f"from {DESIRED} as d where d.identifier = w.identifier "
                    f"and d.amperity_id = w.amperity_id)")
        self.con.execute(f"create or replace temp table {WITHHELD_ROWS} as {withheld}")

    def start_campaign(self, campaign: Campaign) -> int:
        """(Re)create ``NOTES`` with the campaign's rows its SQL marked as duplicates
        (``shrink_reason = 'duplicate_<identifier>'``, contract C1), each naming the customer
        sent in its place (the smallest amperity_id holding the identifier). Returns how many
        control-group customers are among them."""
        idc = ident(campaign.identifier)
        rel = campaign.audience_relation
        self.con.execute(f"""
            create or replace temp table {NOTES} as
            with dups as (
                select distinct list_name, cast({idc} as varchar) as identifier, amperity_id,
                    shrink_reason, coalesce(is_control, false) as is_control
                from {rel} where starts_with(shrink_reason, 'duplicate_')
            ),
            winners as (
                select cast({idc} as varchar) as identifier, min(amperity_id) as winner
                from {rel} where {idc} is not null
                    and cast({idc} as varchar) in (select identifier from dups)
                group by 1
            )
            select d.list_name, d.identifier, d.amperity_id, d.shrink_reason || ': shares its '
                || {sql_str(campaign.identifier)} || ' with ' || case
                    when w.winner is not null and w.winner <> d.amperity_id
                    then w.winner || ' (the customer with the smallest amperity_id holding it, '
                        || 'who is the one sent)'
                    else 'another customer of the campaign' end || '; not sent' as reason,
                d.is_control, 'sql' as origin
            from dups as d left join winners as w on w.identifier = d.identifier""")
        row = self.con.execute(f"select count(distinct amperity_id) from {NOTES} "
                               f"where is_control").fetchone()
        return int(row[0]) if row else 0

    def note_list(self, list_name: str) -> None:
        """Add the list's duplicates and withheld identifiers (of the last plan) to ``NOTES``."""
        self.con.execute(f"""
            insert into {NOTES}
            select {sql_str(list_name)}, identifier, amperity_id, 'duplicate_'
                || identifier_kind || ': shares its ' || identifier_kind || ' with '
                || collides_with || ' in this list (Klaviyo would merge them into one '
                || 'profile); not sent', false, 'loader'
            from {DUPLICATES} where collides_with is not null
            union all
            select {sql_str(list_name)}, identifier, amperity_id, reason, false, 'loader'
            from {WITHHELD_ROWS}""")

    def _members(self, list_id: str | None) -> str:
        if not self.has_state or list_id is None:
            return ("select null::varchar as identifier, null::varchar as fingerprint, "
                    "null::varchar as profile_id, null::varchar as amperity_id, "
                    "null::varchar as sent_email, null::varchar as sent_phone_number, "
                    "null::varchar as sent_external_id where false")
        return (f"select identifier, fingerprint, profile_id, amperity_id, "
                f"{self._sent_columns()} from {self.t('list_members')} "
                f"where account_id = {sql_str(self.account_id)} "
                f"and list_id = {sql_str(list_id)}")

    def _held(self, list_id: str | None) -> str:
        if not self.has_state or list_id is None:
            return "select null::varchar as identifier, null::varchar as fingerprint where false"
        return (f"select identifier, fingerprint from {self.t('rejected_members')} "
                f"where account_id = {sql_str(self.account_id)} "
                f"and list_id = {sql_str(list_id)}")

    def diff_sql(self, list_id: str | None) -> str:
        """Every desired row with its diff class, plus state rows to remove.

        Columns: kind ('add'|'change'|'unchanged'|'held'|'oversize'|'remove'), identifier,
        amperity_id, fingerprint, payload, nbytes, profile_id, customers, sent_email,
        sent_phone_number, sent_external_id.
        """
        return f"""
with members as ({self._members(list_id)}),
held as ({self._held(list_id)}),
classified as (
    select
        case
            when m.identifier is not null and m.fingerprint = d.fingerprint then 'unchanged'
            when h.identifier is not null then 'held'
            when d.nbytes > {IMPORT_MAX_PROFILE_BYTES} then 'oversize'
            when m.identifier is null then 'add'
            else 'change'
        end as kind,
        d.identifier, d.amperity_id, d.fingerprint, d.payload, d.nbytes, m.profile_id,
        d.customers, d.sent_email, d.sent_phone_number, d.sent_external_id, d.fields,
        d.rowid + 1 as seq
    from {DESIRED} as d
    left join members as m on m.identifier = d.identifier
    left join held as h on h.identifier = d.identifier and h.fingerprint = d.fingerprint
)
select * from classified
"""

    def removals_sql(self, list_id: str | None) -> str:
        return f"""
with members as ({self._members(list_id)})
select 'remove' as kind, m.identifier, m.amperity_id, m.fingerprint, null::varchar as payload,
    0::bigint as nbytes, m.profile_id, 1::bigint as customers, m.sent_email,
    m.sent_phone_number, m.sent_external_id, null::bigint as fields
from members as m anti join {DESIRED} as d on d.identifier = m.identifier
"""

    def plan(self, campaign: Campaign, list_name: str, list_id: str | None, list_exists: bool,
             sample: int | None) -> ListPlan:
        """Counts and requests of one list; leaves the temp table ``DIFF`` for the apply step.

        ``DIFF`` holds the desired rows that are not unchanged, with ``seq`` (1…n in identifier
        order) on the adds and changes: the rows to send, already rendered.
        """
        p = ListPlan(campaign.campaign_id, list_name, list_id, list_exists)
        # seq: the row's position in DESIRED (no sort or window over wide rows, so it spills
        # nowhere); jobs are seq ranges, and a range's rows sit together in the table
        self.con.execute(f"""
            create or replace temp table {DIFF} as
            select case when kind in ('add', 'change') then seq end as seq, * exclude (seq)
            from ({self.diff_sql(list_id)}) where kind <> 'unchanged'""")
        counts = dict(self.con.execute(
            f"select kind, count(*) from {DIFF} group by kind").fetchall())
        total = self.con.execute(
            f"select (select count(*) from {DESIRED}), "
            f"(select count(*) from {DUPLICATES} where collides_with is not null), "
            f"(select count(*) filter (where starts_with(reason, 'withheld_')) "
            f"from {WITHHELD_ROWS}), "
            f"(select count(*) filter (where starts_with(reason, 'invalid_')) "
            f"from {WITHHELD_ROWS}), "
            f"(select count(distinct amperity_id) from {NOTES} "
            f"where list_name = {sql_str(list_name)} and origin = 'sql')").fetchone()
        if total:
            p.desired, p.withheld, p.invalid = int(total[0]), int(total[2]), int(total[3])
            p.duplicates = int(total[1]) + int(total[4])
        p.adds = counts.get("add", 0)
        p.changes = counts.get("change", 0)
        p.oversize = counts.get("oversize", 0)
        p.held_rejected = counts.get("held", 0)
        p.unchanged = p.desired - sum(counts.values())
        if sample is None:
            rem = self.con.execute(
                f"select count(*), count(*) filter (where profile_id is null) "
                f"from ({self.removals_sql(list_id)})").fetchone()
            p.removals, missing_ids = (int(rem[0]), int(rem[1])) if rem else (0, 0)
        else:
            missing_ids = 0
        self.bounds = job_bounds(self.con)  # the apply step sends these jobs
        p.import_jobs = len(self.bounds)
        page = limit("get_profiles").page_max or 100
        p.lookups = math.ceil(missing_ids / page) if missing_ids else 0
        from loader.sync import clear  # (clear builds on this module)

        p.clears, unknown = clear.count(self.con, self.schema, self.account_id, list_id,
                                        self.clear_mask, self._has_sent_fields())
        p.lookups += math.ceil(unknown / page) if unknown else 0
        req: dict[str, int] = {"get_lists": 1}
        if not list_exists:
            req["create_list"] = 1
        if p.import_jobs:
            req["bulk_import_profiles"] = p.import_jobs
            req["get_bulk_import_profiles_jobs"] = p.import_jobs  # at most one poll a job
        if p.lookups:
            req["get_profiles"] = p.lookups
        if p.removals:
            req["remove_profiles_from_list"] = math.ceil(p.removals / 1000)
        if p.clears:
            req["update_profile"] = p.clears
        p.requests = req
        p.estimated_seconds = round(sum(estimate_seconds(op, n) for op, n in req.items()), 1)
        return p
