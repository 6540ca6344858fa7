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
from loader.klaviyo.payloads import IDENTIFIERS, IMPORT_BODY_OVERHEAD, ident, sql_str
from loader.store import Store, qualified
from loader.store.schema import table_exists
from loader.sync import identity
from loader.warehouse import (
    FINGERPRINT_PREFIX,
    Campaign,
    desired_sql,
    duplicates_from_desired,
    field_bit,
    fields_mask,
    fingerprint_text_sql,
    json_texts_sql,
    payload_firsts_sql,
    payload_sql,
    sendable_sql,
    several_sql,
    value_columns,
    values_sql,
)

# the list's desired rows (desired_sql): whole, or narrow (no values, no fingerprint) for a
# list state knows whose identifiers are on one row each (Planner.narrow)
DESIRED = "_klaviyo_desired"
# the list's identifiers held by several rows (warehouse.several_sql): usually none
SEVERAL = "_klaviyo_several"
# customers sharing the campaign identifier with another customer of the list (from DESIRED)
DUPLICATES = "_klaviyo_duplicates"
# the list's customers and the identifiers withheld from them (identity.withheld_rows_sql)
WITHHELD_ROWS = "_klaviyo_withheld_rows"
# the identifier fields of the clearable ones (``fields`` mask bits of email, phone_number,
# external_id): a clear leaves them while another list sends them or they are withheld
IDENTIFIER_BITS = sum(field_bit(k) for k in IDENTIFIERS)
# what a campaign's delivery records in rejected_rows once: customers left out as duplicates
# (the campaign's SQL, contract C1, and duplicates_sql) and identifiers withheld (C2)
NOTES = "_klaviyo_notes"
SENT = "sent_email, sent_phone_number, sent_external_id"
# the reason recorded for a row the campaign's SQL left out because its identifier is invalid
# (shrink_reason 'invalid_<identifier>': the normalization, docs/campaigns.md, nulled it)
INVALID_REASONS = {
    "email": "invalid_email: the customer's email is not a valid address (the campaign's "
             "normalization, docs/campaigns.md \"Email\", made it null); the row is "
             "rejected, not sent (the email is the campaign's identifier)",
    "phone_number": "invalid_phone_number: the customer's phone number could not be read as "
                    "an E.164 number (the campaign's normalization, docs/campaigns.md "
                    "\"Phone number\", made it null); the row is rejected, not sent (the "
                    "phone number is the campaign's identifier)",
}
# desired rows that are not unchanged, with `seq` on those to send, rendered; the members to
# remove (kind 'remove'); unchanged rows with a field to clear or an older fingerprint to
# replace (kind 'unchanged', not rendered); a table, or for a first push's list a view of
# the desired rows rendered as they were built (Planner.fresh_view_sql)
DIFF = "_klaviyo_diff"
# the diff's narrow half: keys not unchanged (Planner.changed_sql)
CHANGED = "_klaviyo_changed"
# what the diff's narrow way reads of CHANGED's keys, copied first (Planner.stage_changed):
# their members, their desired rows' position and sent identifiers, the rendered keys' values
CHANGED_MEMBERS = "_klaviyo_changed_members"
CHANGED_DESIRED = "_klaviyo_changed_desired"
CHANGED_VALUES = "_klaviyo_changed_values"
# above this share of the desired rows changed, the diff carries every column through one
# join instead (Planner.diff_sql's 'wide' path: a mapping change sends everyone)
WIDE_SHARE = 0.5
# the keys of a list's leftover pending rows (a killed run's sends Klaviyo may hold), copied
# when the list is planned: writing the new intent replaces them before removals are read
UNCERTAIN = "_klaviyo_uncertain"


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
    # fields the clear guard holds back (clear.ClearGuard): not cleared, left in state's masks
    held_clears: list[Any] = field(default_factory=list)
    oversize: int = 0
    held_rejected: int = 0  # rows refused before with the same content: not re-sent
    uncertain: int = 0  # keys a killed run may have sent unrecorded: planned as unknown
    # unchanged members now another customer (re-clustered, or a shared identifier's new
    # holder): nothing sent, state names the new customer (``clear.upgrade``)
    reclustered: int = 0
    # state held no member of the list when it was planned: every member it holds after the
    # apply step was written from this plan's rows (the recording's count proof, engine.py)
    empty: bool = False
    import_jobs: int = 0
    lookups: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    estimated_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items()}
        d["held_clears"] = [dict(h.__dict__) for h in self.held_clears]
        return d


def job_bounds(con: duckdb.DuckDBPyConnection) -> list[tuple[int, int]]:
    """(first seq, last seq) of each import job over ``DIFF``'s rows to send.

    Sizes stream in seq order; only the bounds (one pair a job) are kept. When even the
    largest profile cannot push 10,000 of them past 5 MB, jobs are every 10,000 rows, cut
    in SQL (the same cuts, without streaming every size through Python).
    """
    stats = con.execute(f"select count(*), max(nbytes), min(seq), max(seq) from {DIFF} "
                        f"where seq is not null").fetchone()
    if not stats or not stats[0]:
        return []
    if IMPORT_BODY_OVERHEAD + IMPORT_MAX_PROFILES * (int(stats[1]) + 1) <= IMPORT_MAX_BYTES:
        count, lo, hi = int(stats[0]), int(stats[2]), int(stats[3])
        if hi - lo + 1 == count:  # seqs without a gap (a first push): the cuts are arithmetic
            return [(a, min(a + IMPORT_MAX_PROFILES - 1, hi))
                    for a in range(lo, hi + 1, IMPORT_MAX_PROFILES)]
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
        self._columns_found: set[tuple[str, str]] = set()  # (table, column): _has_column
        self.bounds: list[tuple[int, int]] | None = None  # import jobs of the last plan
        self.clear_mask = 0  # the fields the last planned campaign may clear
        self.held_mask = 0  # of those, the fields the clear guard held back (last plan)
        self.clear_guard: Any = None  # a clear.ClearGuard (None: every clear is sent)
        # what the last build_desired planned: its campaign, mapped columns and their types
        self.campaign: Campaign | None = None
        self.list_name: str | None = None
        self.columns: list[str] = []
        self.types: dict[str, str] = {}
        self.uncertain_list: str | None = None  # the list whose leftovers fill UNCERTAIN
        # the list whose CHANGED build_desired joined, and its UNCERTAIN count
        self.prepared: str | None = None
        self.prepared_uncertain = 0
        # the list's rows as build_desired read them, and whether DESIRED holds narrow rows
        # (no values, no fingerprint: changed_sql and diff_sql read the list's rows for them)
        self.source = ""
        self.timezone = ""
        self.narrow = False
        # the list whose DESIRED rows carry their rendered profile (``_rendered_sql``), and
        # whether the last plan's DIFF is a view over them (``fresh_view_sql``; else a table)
        self.rendered: str | None = None
        self.diff_view = False
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

    def _has_column(self, table: str, column: str) -> bool:
        """State's ``table`` has ``column``. A column found is remembered for the push (a
        push never drops one); one missing is asked again (a dry run does not migrate)."""
        if (table, column) in self._columns_found:
            return True
        row = self.con.execute(
            "select count(*) from information_schema.columns where table_schema = ? "
            "and table_name = ? and column_name = ?", [self.schema, table, column]).fetchone()
        if row and row[0]:
            self._columns_found.add((table, column))
            return True
        return False

    def _sent_columns(self, table: str = "list_members") -> str:
        """SENT, or nulls in their place for state written before they existed (a dry run
        does not migrate state)."""
        if self._has_column(table, "sent_email"):
            return SENT
        return ", ".join(f"null::varchar as {c.strip()}" for c in SENT.split(","))

    def t(self, name: str) -> str:
        return qualified(self.schema, name)

    def _has_sent_fields(self) -> bool:
        """State knows the fields sent (a dry run does not migrate older state)."""
        return self.has_state and self._has_column("list_members", "sent_fields")

    def build_desired(self, campaign: Campaign, list_name: str, columns: list[str],
                      sample: int | None, list_id: str | None = None) -> None:
        """(Re)create the temp table of profiles the list should hold (or its sample).

        The list's rows as they are sent (``identity.source_sql``: withheld identifiers set to
        null), one row per identifier with its values and their fingerprint, not rendered
        (``desired_sql``); customers sharing the campaign identifier with a smaller
        amperity_id of the list (``DUPLICATES``, from the same pass) are not sent;
        ``WITHHELD_ROWS`` says what was withheld from whom.

        ``list_id``: the list this plan is for. When state holds members of it (and no sample
        is asked), the diff's narrow half (``CHANGED``) is joined here, over the desired rows
        built as if every identifier had one row: its counts prove it (``_single_rows``), so
        no pass groups the list's rows by identifier unless one has several. Those desired
        rows are narrow (``narrow``: no values, no fingerprint; ``desired_sql``): ``CHANGED``
        reads the list's rows again for their fingerprints, and ``diff_sql`` the values of the
        keys it renders. When an identifier has several rows, they are built whole.
        """
        self.ready()
        self.clear_mask = fields_mask(campaign, columns)
        self.held_mask = 0
        source = identity.source_sql(campaign, list_name, columns)
        self.types = {str(r[0]): str(r[1]) for r in self.con.execute(
            f"describe select * from ({source})").fetchall()}
        row = self.con.execute("select current_setting('TimeZone')").fetchone()
        timezone = str(row[0]) if row else ""
        self.campaign, self.columns, self.list_name = campaign, columns, list_name
        self.source, self.timezone = source, timezone
        self.prepared = None
        self.narrow = False
        self.rendered = None
        if (sample is None and list_id is not None and self._has_members(list_id)):
            self.prepared_uncertain = self.load_uncertain(list_id)
            self.prepared = list_id

            def build(several: str) -> None:
                # one row per identifier (several ""): the narrow rows, which CHANGED joins
                # by key (it reads the list's rows again for their fingerprints)
                self.narrow = several == ""
                self.con.execute(f"create or replace temp table {DESIRED} as " + desired_sql(
                    campaign, list_name, columns, self.types, source, timezone, several,
                    narrow=self.narrow))
                self.con.execute(f"create or replace temp table {CHANGED} as "
                                 f"{self.changed_sql(list_id)}")

            build("")  # as if every identifier had one row: the common case, checked
            if self._single_rows(list_id):
                self.con.execute(f"create or replace temp table {SEVERAL} "
                                 f"(identifier varchar)")
            else:
                build(self._several(campaign, list_name, source))
        else:
            # one narrow pass finds the identifiers with several rows; when there are none
            # (the common case) the desired rows are a plain projection of the list's rows
            desired = desired_sql(campaign, list_name, columns, self.types, source, timezone,
                                  self._several(campaign, list_name, source))
            if sample is None and list_id is not None:
                # a list state holds no member of: every row will be rendered (a first
                # push), so it is rendered here, once, and the plan reads DESIRED itself
                desired = self._rendered_sql(desired)
                self.rendered = list_id
            self.con.execute(f"create or replace temp table {DESIRED} as {desired}")
        self.con.execute(f"create or replace temp table {DUPLICATES} as "
                         f"{duplicates_from_desired(campaign, DESIRED)}")
        if sample is not None:
            self.con.execute(f"create or replace temp table {DESIRED} as select * from {DESIRED} "
                             f"order by md5(identifier), identifier limit {int(sample)}")
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
        who keeps the identifier (the smallest amperity_id holding it), sent in its place or
        held in a control group. Returns how many control-group customers are among them."""
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
            ),
            held as (
                select w.identifier, bool_and(coalesce(r.is_control, false)) as control
                from winners as w inner join {rel} as r on r.amperity_id = w.winner
                    and cast(r.{idc} as varchar) = w.identifier
                group by 1
            )
            select d.list_name, d.identifier, d.amperity_id, d.shrink_reason || ': shares its '
                || {sql_str(campaign.identifier)} || ' with ' || case
                    when w.winner is not null and w.winner <> d.amperity_id
                    then w.winner || ' (the customer with the smallest amperity_id holding it, '
                        || case when h.control then 'who keeps it in a control group, not '
                            || 'sent)' else 'who is the one sent)' end
                    else 'another customer of the campaign' end || '; not sent' as reason,
                d.is_control, 'sql' as origin
            from dups as d left join winners as w on w.identifier = d.identifier
                left join held as h on h.identifier = d.identifier""")
        row = self.con.execute(f"select count(distinct amperity_id) from {NOTES} "
                               f"where is_control").fetchone()
        invalid = INVALID_REASONS.get(campaign.identifier)
        if invalid is not None:
            # rows the campaign's SQL left out because normalization nulled the identifier
            # (origin 'shrink': recorded, not counted as duplicates nor as rejected)
            self.con.execute(f"""
                insert into {NOTES}
                select distinct list_name, null, amperity_id, {sql_str(invalid)},
                    coalesce(is_control, false), 'shrink'
                from {rel} where shrink_reason = {sql_str('invalid_' + campaign.identifier)}""")
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

    def load_uncertain(self, list_id: str | None) -> int:
        """Copy the list's leftover pending rows into ``UNCERTAIN``; how many there are.

        What an unfinished run left pending once the rerun's recovery confirmed every job it
        recorded: sends Klaviyo may or may not have received (a job accepted but never
        recorded, a DELETE made but not yet forgotten, or rows never sent at all).
        """
        self.uncertain_list = None
        if not self.has_state or list_id is None or not table_exists(
                self.con, self.schema, "pending_rows"):
            return 0
        row = self.con.execute(
            f"select count(*) from (select 1 from {self.t('pending_rows')} "
            f"where account_id = ? and list_id = ? limit 1)",
            [self.account_id, list_id]).fetchone()
        if not row or not row[0]:
            return 0
        self.con.execute(
            f"create or replace temp table {UNCERTAIN} as select distinct on (identifier) "
            f"identifier, op, profile_id, amperity_id, {self._sent_columns('pending_rows')}, "
            f"{'fields' if self._has_column('pending_rows', 'fields') else 'null::bigint'} "
            f"as fields "
            f"from {self.t('pending_rows')} where account_id = ? and list_id = ? "
            f"order by identifier, op desc", [self.account_id, list_id])
        self.uncertain_list = list_id
        row = self.con.execute(f"select count(*) from {UNCERTAIN}").fetchone()
        return int(row[0]) if row else 0

    def _members(self, list_id: str | None) -> str:
        """What Klaviyo's list holds, as far as state knows.

        ``list_members``, unless a killed run left pending rows for the list: those keys'
        jobs may have reached Klaviyo unrecorded (or their DELETE may have been made), so
        what the list holds for them is uncertain. Their fingerprint is then unknown (a
        desired key is re-sent whatever its content), and a pending upsert of a key state
        never confirmed counts as a member (no longer desired, it is removed).
        """
        if not self.has_state or list_id is None:
            return ("select null::varchar as identifier, null::varchar as fingerprint, "
                    "null::varchar as profile_id, null::varchar as amperity_id, "
                    "null::varchar as sent_email, null::varchar as sent_phone_number, "
                    "null::varchar as sent_external_id, true as in_state, "
                    "null::bigint as uncertain_fields, null::bigint as sent_fields where false")
        sent_fields = "sent_fields" if self._has_sent_fields() else "null::bigint"
        known = (f"select identifier, fingerprint, profile_id, amperity_id, "
                 f"{self._sent_columns()}, true as in_state, null::bigint as uncertain_fields, "
                 f"{sent_fields} as sent_fields "
                 f"from {self.t('list_members')} "
                 f"where account_id = {sql_str(self.account_id)} "
                 f"and list_id = {sql_str(list_id)}")
        if self.uncertain_list != list_id:
            return known
        return f"""
    with known as ({known}),
    pending as (select * from {UNCERTAIN}),
    uncertain_known as (
        select k.identifier,
            case when p.identifier is null then k.fingerprint end as fingerprint,
            k.profile_id, k.amperity_id, k.sent_email, k.sent_phone_number, k.sent_external_id,
            true as in_state,
            case when p.op = 'upsert' then p.fields end as uncertain_fields, k.sent_fields
        from known as k
        left join pending as p on p.identifier = k.identifier
    ),
    unconfirmed_upserts as (
        select p.identifier, null::varchar as fingerprint, p.profile_id, p.amperity_id,
            p.sent_email, p.sent_phone_number, p.sent_external_id, false as in_state,
            p.fields as uncertain_fields, null::bigint as sent_fields
        from pending as p
        where p.op = 'upsert'
            and not exists (select 1 from known as k where k.identifier = p.identifier)
    )
    select * from uncertain_known
    union all
    select * from unconfirmed_upserts
"""

    def add_suspects(self, table: str, list_id: str, planned: bool) -> None:
        """Insert into ``table`` (list_id, identifier, amperity_id) the rows of the last
        planned list that the recording must prove members of (``Store.record_recipients``):
        every row the plan did not find unchanged (``DIFF``, when ``planned``; a list skipped
        by its digest has none), every row not sent for an invalid phone number, and every
        sendable row whose identifier is on several rows (``SEVERAL``)."""
        assert self.campaign is not None and self.list_name is not None, "build_desired first"
        c = self.campaign
        parts = [f"select identifier, amperity_id from {WITHHELD_ROWS} "
                 f"where starts_with(reason, 'invalid_')"]
        if planned:
            parts.append(f"select identifier, amperity_id from {DIFF}")
        row = self.con.execute(f"select count(*) from {SEVERAL}").fetchone()
        if row and row[0]:
            idc = ident(c.identifier)
            parts.append(f"select cast({idc} as varchar), amperity_id from "
                         f"({sendable_sql(c, self.list_name)}) where {idc} in "
                         f"(select identifier from {SEVERAL})")
        self.con.execute(f"insert into {table} select distinct ?, identifier, amperity_id "
                         f"from ({' union all '.join(parts)}) where identifier is not null",
                         [list_id])

    def _several(self, campaign: Campaign, list_name: str, source: str) -> str:
        """Fill ``SEVERAL`` (the list's identifiers on several rows: one narrow group by);
        ``SEVERAL`` when it holds any, else "" (``desired_sql``'s plain projection)."""
        self.con.execute(f"create or replace temp table {SEVERAL} as "
                         f"{several_sql(campaign, list_name, source)}")
        row = self.con.execute(f"select count(*) from {SEVERAL}").fetchone()
        return SEVERAL if row and row[0] else ""

    def _single_rows(self, list_id: str) -> bool:
        """Every identifier of ``DESIRED`` (a projection of the list's rows, one a row) is on
        one row, proven by counts of the narrow diff ``CHANGED`` just joined, not by
        grouping the list's rows by identifier.

        State holds each member once, so every desired row matches at most one member. The
        rows that match one are all but the unmatched ones (kept in ``CHANGED``, where
        ``m_identifier`` is null), and the members matched are all but the unmatched ones
        (``d_identifier`` null). Equal counts mean no member is matched by two rows; the
        unmatched rows (adds, few) are checked by a group by of their own. Any doubt (two
        rows of one identifier, or state holding an identifier twice) answers False: the
        caller then finds the identifiers with several rows the exact way.
        """
        row = self.con.execute(f"""
            select
                (select count(*) from {DESIRED})
                    - count(*) filter (where m_identifier is null)
                    = (select count(*) from ({self._members(list_id)}))
                    - count(*) filter (where d_identifier is null),
                (select count(*) from (select d_identifier from {CHANGED}
                    where m_identifier is null group by 1 having count(*) > 1)) = 0
            from {CHANGED}""").fetchone()
        return bool(row and row[0] and row[1])

    def _has_members(self, list_id: str | None) -> bool:
        """State holds a member of the list."""
        return self._holds("list_members", list_id)

    def _held_any(self, list_id: str | None) -> bool:
        """State holds a row of the list Klaviyo refused (``rejected_members``)."""
        return self._holds("rejected_members", list_id)

    def _holds(self, table: str, list_id: str | None) -> bool:
        """State's ``table`` (when it exists) has a row of the list."""
        if not self.has_state or list_id is None:
            return False
        return Store(self.con, self.schema).holds(table, self.account_id, list_id)

    def _held(self, list_id: str | None) -> str:
        if not self.has_state or list_id is None:
            return "select null::varchar as identifier, null::varchar as fingerprint where false"
        return (f"select identifier, any_value(fingerprint) as fingerprint "
                f"from {self.t('rejected_members')} "
                f"where account_id = {sql_str(self.account_id)} "
                f"and list_id = {sql_str(list_id)} group by identifier")

    def _clearing(self, m: str = "m", d: str = "d") -> str:
        """SQL: state says a field was sent (or may have been, ``uncertain_fields``) that the
        desired row no longer carries."""
        return (f"({d}.fields is not null and (coalesce({m}.sent_fields, 0) "
                f"| coalesce({m}.uncertain_fields, 0)) & ~{d}.fields & {int(self.clear_mask)}"
                f" <> 0)")

    def _keep_identifiers(self, list_id: str | None) -> None:
        """Take from ``DIFF.clear`` the identifier fields a clear must leave on a member's
        profile (the plan's rows that would clear one: usually none, and then nothing more is
        read). An identifier field is left when

        * the value the profile holds (the member's ``sent_<field>``; any, state not knowing
          it) was withheld from the desired row (``WITHHELD_ROWS``: shared with another
          customer, not removed: the warehouse still gives it to this customer; a value
          withheld that replaces another is no reason to keep the old one), or
        * another list of the account still sends one for the same profile: one of its
          ``list_members`` rows holds a key of the member (its identifier or an identifier
          it was sent with; Klaviyo keys a profile on each) and holds that field, as its
          own identifier (by the identifier's shape, as ``identity`` reads it) or as
          ``sent_<field>``. Clearing it would take it from that list's profile too, and
          that list, unchanged, would never send it again."""
        bits = int(self.clear_mask) & IDENTIFIER_BITS
        if not bits or not self.has_state or list_id is None:
            return
        row = self.con.execute(f"select count(*) from {DIFF} "
                               f"where clear & {bits} <> 0").fetchone()
        if not row or not row[0]:
            return
        kinds = [k for k in IDENTIFIERS if bits & field_bit(k)]
        held = " | ".join(f"case when sent_{k} is not null or (identifier is not null and "
                          f"{identity.KIND_BY_SHAPE} = {sql_str(k)}) then {field_bit(k)} "
                          f"else 0 end" for k in kinds)
        withheld = " | ".join(
            f"case when exists (select 1 from {WITHHELD_ROWS} as w "
            f"where w.identifier = d.identifier and w.kind = {sql_str(k)} "
            f"and (m.sent_{k} is null or w.value = {identity.value_sql(k, f'm.sent_{k}')}"
            f")) then {field_bit(k)} else 0 end" for k in kinds)
        keys = ", ".join(["d.identifier", *(f"m.sent_{k}" for k in IDENTIFIERS)])
        members = (f"select identifier, {self._sent_columns()} from {self.t('list_members')} "
                   f"where account_id = {sql_str(self.account_id)}")
        self.con.execute(f"""
            with candidates as (
                select d.identifier, {withheld} as withheld, unnest([{keys}]) as key
                from {DIFF} as d
                inner join ({members} and list_id = {sql_str(list_id)}) as m
                    on m.identifier = d.identifier
                where d.clear & {bits} <> 0
            ),
            others as (  -- what the account's other lists send, by profile key
                select lower(key) as key, bit_or(held) as held
                from (select unnest([identifier, {SENT}]) as key, {held} as held
                      from ({members} and list_id <> {sql_str(list_id)}))
                where key is not null
                    and lower(key) in (select lower(key) from candidates where key is not null)
                group by all
            ),
            kept as (
                select c.identifier, any_value(c.withheld) | coalesce(bit_or(o.held), 0) as kept
                from candidates as c
                left join others as o on o.key = lower(c.key)
                group by c.identifier
            )
            update {DIFF} as d set clear = d.clear & ~k.kept
            from kept as k
            where d.identifier = k.identifier and k.kept <> 0""")

    def changed_sql(self, list_id: str | None) -> str:
        """The narrow half of the diff (kept in ``CHANGED``): a full join of the desired rows'
        (identifier, fingerprint, fields, amperity_id) with the members' (identifier,
        fingerprint, state flags), keeping the keys that are not unchanged or have a field
        to clear.

        A member whose customer changed (identity resolution gave the person a new
        ``amperity_id``, or another customer now holds a shared identifier) is kept too, even
        when its fingerprint is unchanged: nothing is sent for it, but state must name the
        customer now sent (``diff_sql``'s ``recluster``).

        The desired side is ``DESIRED``, or, when it holds the narrow rows (``narrow``: no
        fingerprint), the list's rows themselves, projected as ``DESIRED`` would hold them
        (``desired_sql``, one row per identifier): their fingerprints are computed where they
        are compared, never stored for the million rows whose fingerprint state holds. They
        cross the join as the fingerprint's two 64-bit hashes (``halves``), and their text
        (``fingerprint_text_sql``) is made after it, so the join's hash table holds 16 bytes
        of a fingerprint instead of its ~35 characters; the text compared is the same.

        Columns: rid (the desired row's rowid; null for a member no longer desired, and for
        every row when ``DESIRED`` is narrow: ``diff_sql`` finds it by identifier),
        d_identifier, d_amperity_id, d_fingerprint, d_fields, m_identifier, m_fingerprint,
        in_state, uncertain_fields, m_sent_fields, render (a desired row whose fingerprint
        state does not hold).
        """
        if self.narrow:
            assert self.campaign is not None and self.list_name is not None
            rows = desired_sql(self.campaign, self.list_name, self.columns, self.types,
                               self.source, self.timezone, "", halves=True)
            # the fingerprint's two hashes cross the join, its text is made after it (the
            # same text, compared whole): the join's table holds 16 bytes of it, not ~40
            desired = (f"select null::bigint as rid, identifier, _fp1, _fp2, fields, "
                       f"amperity_id from ({rows})")
            fingerprint = fingerprint_text_sql("d._fp1", "d._fp2")
        else:
            desired = (f"select rowid as rid, identifier, fingerprint, fields, amperity_id "
                       f"from {DESIRED}")
            fingerprint = "d.fingerprint"
        return f"""
with members as ({self._members(list_id)})
select d.rid, d.identifier as d_identifier, d.amperity_id as d_amperity_id,
    {fingerprint} as d_fingerprint, d.fields as d_fields, m.identifier as m_identifier,
    m.fingerprint as m_fingerprint, m.in_state, m.uncertain_fields,
    m.sent_fields as m_sent_fields,
    d.identifier is not null and m.fingerprint is distinct from {fingerprint} as render
from ({desired}) as d
full join (select identifier, fingerprint, in_state, uncertain_fields, sent_fields,
    amperity_id from members) as m on m.identifier = d.identifier
where d.identifier is null or m.fingerprint is distinct from {fingerprint}
    or {self._reclustered()} or {self._clearing()}
"""

    def _value_names(self) -> list[str]:
        """The desired rows' value columns (``_v<i>``, ``desired_sql``)."""
        assert self.campaign is not None
        return [f"_v{i}" for i in range(len(value_columns(self.campaign, self.columns)))]

    @staticmethod
    def _reclustered(m: str = "m", d: str = "d") -> str:
        """SQL: a member (matched on the identifier) whose customer is not the desired
        row's: state must say who is sent now (the recording proves delivery by it)."""
        return f"{m}.amperity_id is distinct from {d}.amperity_id"

    def diff_sql(self, list_id: str | None, path: str = "wide") -> str:
        """The desired rows and the list's members, joined on the identifier: every desired
        row that is not unchanged, rendered, with its diff class; the members no longer
        desired; the unchanged rows with something to do.

        ``path`` says how the rows are joined (each gives the same rows):

        * ``changed``: from ``CHANGED`` (``changed_sql``, built first, and what its keys read
          copied by ``stage_changed``, run before this SQL): only its keys fetch
          their desired values (by rowid; from narrow desired rows, their position and sent
          identifiers by identifier and the rendered keys' values from the list's rows,
          ``values_sql``) and their members' other columns, so a push that changes 1 % of a
          list moves 1 % of its values through a join;
        * ``wide``: one full join carrying every desired column (cheaper when most rows
          changed: a mapping change sends everyone);
        * ``none``: state knows no member of the list (a first push; the caller checks
          there is no uncertain key either): every desired row is an add, no join;
        * ``fresh``: as ``none``, and no row of the list was refused before (the caller
          checks): ``fresh_sql``, the same rows without the classification's other cases.

        Columns: kind ('add'|'change'|'unchanged'|'held'|'oversize'|'remove'), identifier,
        amperity_id, fingerprint, payload, nbytes, profile_id, customers, sent_email,
        sent_phone_number, sent_external_id, fields, seq, is_new, desired_fields, clear,
        recluster, upgrade.

        A row is unchanged when state holds its fingerprint. Only the other rows are
        rendered (``payload``, ``nbytes``): adds, changes, refused rows, oversize rows. A
        fingerprint written by an older loader (the md5 of the profile's JSON) is compared
        with the md5 of the rendered profile; equal, the row is unchanged (``upgrade``: state
        gets the new fingerprint, ``loader.sync.clear.upgrade``). ``recluster``: an unchanged
        row whose member names another customer (a new ``amperity_id`` for the person, or a
        shared identifier's new holder): nothing is sent, state gets the customer
        (``loader.sync.clear.upgrade``). ``clear``: the fields state says were sent and the
        desired row no longer carries (``loader.sync.clear``).
        ``seq``: the desired row's rowid + 1 (its position in ``DESIRED``).
        """
        assert self.campaign is not None, "build_desired first"
        mask = int(self.clear_mask)
        texts = json_texts_sql(self.campaign, self.columns, self.types, "j")
        prefix = sql_str(FINGERPRINT_PREFIX)

        def old(fp: str) -> str:  # a fingerprint of an older loader: the md5 of the JSON
            return f"not starts_with({fp}, {prefix})"

        sent = ", ".join(f"case when d_identifier is null then m_sent_{k} else sent_{k} end "
                         f"as sent_{k}" for k in IDENTIFIERS)
        if path == "fresh":
            return self.fresh_sql()
        if not self.has_state or list_id is None:
            path = "none"
        if path == "none":
            joined = f"""
joined as (
    select d.* exclude (identifier), d.rowid + 1 as seq, d.identifier as d_identifier,
        null::varchar as m_identifier, null::varchar as m_fingerprint,
        null::varchar as profile_id, null::varchar as m_amperity_id,
        null::varchar as m_sent_email, null::varchar as m_sent_phone_number,
        null::varchar as m_sent_external_id, null::boolean as in_state,
        null::bigint as uncertain_fields, null::bigint as m_sent_fields, true as render
    from {DESIRED} as d
),"""
        elif path == "changed":
            if self.narrow:
                # DESIRED's narrow rows: the desired columns from CHANGED, the row's position
                # and sent identifiers, and the values of the keys rendered, each fetched for
                # CHANGED's keys alone (stage_changed)
                v_cols = "".join(f", v.{c}" for c in self._value_names())
                sent_d = "".join(f", d.sent_{k}" for k in IDENTIFIERS)
                desired = f"""c.d_amperity_id as amperity_id, 1::bigint as customers{sent_d},
        c.d_fields as fields, c.d_fingerprint as fingerprint, null::varchar as payload,
        null::varchar[] as holders{v_cols}, d.rid + 1 as seq"""
                rows = f"""
    left join {CHANGED_DESIRED} as d on d.identifier = c.d_identifier
    left join {CHANGED_VALUES} as v on v.identifier = c.d_identifier"""
            else:
                desired = "d.* exclude (identifier), c.rid + 1 as seq"
                rows = f"""
    left join {DESIRED} as d on d.rowid = c.rid"""
            joined = f"""
joined as (
    select {desired}, c.d_identifier, c.m_identifier,
        c.m_fingerprint, k.profile_id, k.amperity_id as m_amperity_id,
        k.sent_email as m_sent_email, k.sent_phone_number as m_sent_phone_number,
        k.sent_external_id as m_sent_external_id, c.in_state, c.uncertain_fields,
        c.m_sent_fields, c.render
    from {CHANGED} as c{rows}
    left join {CHANGED_MEMBERS} as k on k.identifier = c.m_identifier
),"""
        else:
            joined = f"""
members as ({self._members(list_id)}),
joined as (
    select d.* exclude (identifier), d.rowid + 1 as seq, d.identifier as d_identifier,
        m.identifier as m_identifier, m.fingerprint as m_fingerprint, m.profile_id,
        m.amperity_id as m_amperity_id, m.sent_email as m_sent_email,
        m.sent_phone_number as m_sent_phone_number, m.sent_external_id as m_sent_external_id,
        m.in_state, m.uncertain_fields, m.sent_fields as m_sent_fields,
        d.identifier is not null and m.fingerprint is distinct from d.fingerprint as render
    from {DESIRED} as d
    full join members as m on m.identifier = d.identifier
    where d.identifier is null or m.fingerprint is distinct from d.fingerprint
        or {self._reclustered()} or {self._clearing()}
),"""
        return f"""
with held as ({self._held(list_id)}),{joined}
texts as (
    select j.*, {texts or "null as _j"}
    from joined as j
),
rendered as (
    select * exclude (payload),
        case when render then coalesce(payload, {payload_sql(self.campaign, self.columns,
                                                             "d_identifier")}) end as payload
    from texts
),
classified as (
    select
        case
            when d_identifier is null then 'remove'
            when m_identifier is not null and (m_fingerprint = r.fingerprint
                or ({old("m_fingerprint")} and m_fingerprint = md5(r.payload))) then 'unchanged'
            when h.identifier is not null and (h.fingerprint = r.fingerprint
                or ({old("h.fingerprint")} and h.fingerprint = md5(r.payload))) then 'held'
            when strlen(r.payload) > {IMPORT_MAX_PROFILE_BYTES} then 'oversize'
            when m_identifier is null or not in_state then 'add'
            else 'change'
        end as kind, r.*
    from rendered as r
    left join held as h on h.identifier = r.d_identifier
)
select kind, coalesce(d_identifier, m_identifier) as identifier,
    case when d_identifier is null then m_amperity_id else amperity_id end as amperity_id,
    case when d_identifier is null then m_fingerprint else fingerprint end as fingerprint,
    case when kind <> 'unchanged' then payload end as payload,
    case when kind <> 'unchanged' then coalesce(strlen(payload), 0) else 0 end::bigint
        as nbytes,
    profile_id, coalesce(customers, 1)::bigint as customers, {sent},
    -- fields an unconfirmed send may have set stay in the mask (clear.py clears them)
    case when d_identifier is null then null when uncertain_fields is null then fields
        else fields | uncertain_fields end as fields,
    seq, d_identifier is null and not in_state as is_new, fields as desired_fields,
    case when in_state and d_identifier is not null then m_sent_fields & ~fields & {mask}
        end as clear,
    kind = 'unchanged' and m_amperity_id is distinct from amperity_id as recluster,
    kind = 'unchanged' and m_fingerprint <> fingerprint as upgrade
from classified
"""

    def stage_changed(self, list_id: str | None) -> None:
        """Before ``diff_sql``'s ``changed`` way: copy what it reads of ``CHANGED``'s keys into
        small temp tables, one pass each (``CHANGED_MEMBERS``: their members' rows; with
        narrow desired rows, ``CHANGED_DESIRED``: their desired rows' position and sent
        identifiers, and ``CHANGED_VALUES``: the values of the keys rendered, from the list's
        rows). Each pass streams one large relation past a hash table of the changed keys;
        joined in one statement, the three passes' hash tables of wide rows were held at once
        and a 1 % push of 10M profiles ran out of DuckDB's 256 MB."""
        self.con.execute(f"create or replace temp table {CHANGED_MEMBERS} as "
                         f"select * from ({self._members(list_id)}) "
                         f"where identifier in (select m_identifier from {CHANGED})")
        if not self.narrow:
            return
        assert self.campaign is not None, "build_desired first"
        keys = f"select d_identifier from {CHANGED}"
        self.con.execute(f"create or replace temp table {CHANGED_DESIRED} as "
                         f"select rowid as rid, identifier, {SENT} from {DESIRED} "
                         f"where identifier in ({keys})")
        self.con.execute(f"create or replace temp table {CHANGED_VALUES} as " + values_sql(
            self.campaign, self.columns, self.types, self.source, f"{keys} where render"))

    def _drop_staged(self) -> None:
        for t in (CHANGED, CHANGED_MEMBERS, CHANGED_DESIRED, CHANGED_VALUES):
            self.con.execute(f"drop table if exists {t}")

    def _rendered_sql(self, desired: str) -> str:
        """``desired`` (``desired_sql``'s rows, whole) with every row's profile rendered into
        ``payload`` (as ``fresh_sql`` renders it; a row aggregated from several keeps its own)
        and its size in bytes, ``_nbytes``: the desired rows of a list state holds no member
        of, every one of which a first push sends. ``plan`` then reads them through a view
        (``fresh_view_sql``) instead of copying them, rendered, into a table of their own."""
        assert self.campaign is not None, "build_desired first"
        names = [str(r[0]) for r in self.con.execute(
            f"describe select * from ({desired})").fetchall()]
        keep = ", ".join("_rendered as payload" if n == "payload" else ident(n) for n in names)
        return f"""
with d as ({desired}),
{self._rendering_ctes("d.*", "d", "_rendered")}
select {keep}, strlen(_rendered)::bigint as _nbytes
from rendered
"""

    @staticmethod
    def fresh_view_sql() -> str:
        """``DIFF``'s rows (``fresh_sql``'s, seq first) over desired rows rendered by
        ``_rendered_sql``, none of them oversize (the caller checks): a projection, no copy.
        ``seq`` is the row's rowid + 1, as ``fresh_sql`` gives it; the job bodies read the
        profiles by rowid (``loader.sync.apply.job_body``: a filter on ``rowid + 1`` is not
        a range DuckDB's scan skips to)."""
        return f"""
select rowid + 1 as seq, 'add' as kind, identifier, amperity_id, fingerprint, payload,
    _nbytes as nbytes, null::varchar as profile_id, coalesce(customers, 1)::bigint as customers,
    {SENT}, fields, false as is_new, fields as desired_fields, null::bigint as clear,
    false as recluster, false as upgrade
from {DESIRED}
"""

    def _replace_diff(self, view: bool) -> None:
        """Drop ``DIFF`` (a table or a view, as the last plan left it) before the next."""
        for (kind,) in self.con.execute(
                "select 'view' from duckdb_views() where temporary and view_name = ? "
                "union all select 'table' from duckdb_tables() where temporary "
                "and table_name = ?", [DIFF, DIFF]).fetchall():
            self.con.execute(f"drop {kind} {DIFF}")
        self.diff_view = view

    def _rendering_ctes(self, select: str, source: str, rendered: str) -> str:
        """SQL: the CTEs ``texts``, ``firsts`` and ``rendered`` that render each desired row's
        profile (``payload_sql``) as column ``rendered``, over ``select`` (items of the desired
        rows aliased ``d``) from ``source``; a row aggregated from several keeps the
        ``payload`` it was built with."""
        assert self.campaign is not None, "build_desired first"
        texts = json_texts_sql(self.campaign, self.columns, self.types, "d")
        firsts = payload_firsts_sql(self.campaign, self.columns, "identifier")
        payload = payload_sql(self.campaign, self.columns, "identifier", firsts=True)
        return f"""texts as (
    select {select}, {texts or "null as _j"}
    from {source}
),
firsts as (
    select *{", " + firsts if firsts else ""}
    from texts
),
rendered as (
    select *, coalesce(payload, {payload}) as {rendered}
    from firsts
)"""

    def fresh_sql(self) -> str:
        """``diff_sql``'s rows for a list that state knows nothing of: no member, no key a
        killed run left uncertain, no row refused before (the caller checks). Every desired
        row is an add (or oversize), rendered as ``diff_sql`` renders it: one projection of
        the desired rows, no join, none of the columns of a member (a first push of a
        million profiles spends its plan rendering them, not classifying them). Where each
        object of a profile starts is found one projection before the rendering
        (``payload_firsts_sql``), once a row."""
        assert self.campaign is not None, "build_desired first"
        rendering = self._rendering_ctes("d.* exclude (payload), d.rowid + 1 as seq, d.payload",
                                         f"{DESIRED} as d", "rendered")
        return f"""
with {rendering},
measured as (
    select *, strlen(rendered) > {IMPORT_MAX_PROFILE_BYTES} as oversize
    from rendered
)
select case when oversize then 'oversize' else 'add' end as kind, identifier, amperity_id,
    fingerprint, rendered as payload, strlen(rendered)::bigint as nbytes,
    null::varchar as profile_id, coalesce(customers, 1)::bigint as customers, {SENT},
    fields, seq, false as is_new, fields as desired_fields, null::bigint as clear,
    false as recluster, false as upgrade
from measured
"""

    def _any_oversize(self) -> bool:
        """A rendered desired row is too large to send (``_rendered_sql``'s ``_nbytes``)."""
        row = self.con.execute(f"select count(*) from {DESIRED} "
                               f"where _nbytes > {IMPORT_MAX_PROFILE_BYTES}").fetchone()
        return bool(row and row[0])

    def removals_sql(self, list_id: str | None) -> str:
        """The members to remove (of the last plan, ``DIFF``)."""
        return f"""
select 'remove' as kind, identifier, amperity_id, fingerprint, null::varchar as payload,
    0::bigint as nbytes, profile_id, 1::bigint as customers, sent_email,
    sent_phone_number, sent_external_id, null::bigint as fields, is_new
from {DIFF} where kind = 'remove'
"""

    def plan(self, campaign: Campaign, list_name: str, list_id: str | None, list_exists: bool,
             sample: int | None) -> ListPlan:
        """Counts and requests of one list; leaves ``DIFF`` for the apply step (a temp table,
        or a view of ``DESIRED`` when ``build_desired`` rendered them: ``diff_view``).

        ``DIFF`` holds the desired rows that are not unchanged, with ``seq`` (1…n in identifier
        order) on the adds and changes: the rows to send, already rendered.
        """
        p = ListPlan(campaign.campaign_id, list_name, list_id, list_exists)
        prepared = list_id is not None and self.prepared == list_id
        p.uncertain = self.prepared_uncertain if prepared else self.load_uncertain(list_id)
        # seq: the row's position in DESIRED (no sort or window over wide rows, so it spills
        # nowhere); jobs are seq ranges, and a range's rows sit together in the table
        path = "none"  # state knows no member of the list: every desired row is an add
        if not self._held_any(list_id):
            path = "fresh"  # nor any row refused before: adds and oversize rows only
        if prepared or p.uncertain or self._has_members(list_id):
            if not prepared:
                self.con.execute(f"create or replace temp table {CHANGED} as "
                                 f"{self.changed_sql(list_id)}")
            row = self.con.execute(f"select (select count(*) from {CHANGED}), "
                                   f"(select count(*) from {DESIRED})").fetchone()
            path = "wide" if row and row[0] > WIDE_SHARE * max(row[1], 1) else "changed"
            if path == "wide":
                self.con.execute(f"drop table {CHANGED}")  # (memory for the wide join)
                if self.narrow:  # the wide join carries every value: the rows again, whole
                    self.con.execute(f"create or replace temp table {DESIRED} as " + desired_sql(
                        campaign, list_name, self.columns, self.types, self.source,
                        self.timezone, ""))
                    self.narrow = False
        p.empty = path in ("none", "fresh")
        if path == "changed":
            self.stage_changed(list_id)
        if (path == "fresh" and list_id is not None and self.rendered == list_id
                and not self._any_oversize()):
            # DESIRED holds every row rendered (build_desired): DIFF is a view of them
            self._replace_diff(view=True)
            self.con.execute(f"create temp view {DIFF} as {self.fresh_view_sql()}")
        else:
            self._replace_diff(view=False)
            self.con.execute(f"""
                create temp table {DIFF} as
                select case when kind in ('add', 'change') then seq end as seq, * exclude (seq)
                from ({self.diff_sql(list_id, path)})""")
            self._keep_identifiers(list_id)
        self._drop_staged()
        self.prepared = None
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
            f"where list_name = {sql_str(list_name)} and origin = 'sql'), "
            f"(select count(*) filter (where profile_id is null) from {DIFF} "
            f"where kind = 'remove'), "
            f"(select count(*) filter (where recluster) from {DIFF})").fetchone()
        missing_ids = 0
        if total:
            p.desired, p.withheld, p.invalid = int(total[0]), int(total[2]), int(total[3])
            p.duplicates = int(total[1]) + int(total[4])
            missing_ids = int(total[5]) if sample is None else 0
            p.reclustered = int(total[6])
        p.adds = counts.get("add", 0)
        p.changes = counts.get("change", 0)
        p.oversize = counts.get("oversize", 0)
        p.held_rejected = counts.get("held", 0)
        p.unchanged = p.desired - p.adds - p.changes - p.oversize - p.held_rejected
        p.removals = counts.get("remove", 0) if sample is None else 0
        self.bounds = job_bounds(self.con)  # the apply step sends these jobs
        p.import_jobs = len(self.bounds)
        page = limit("get_profiles").page_max or 100
        p.lookups = math.ceil(missing_ids / page) if missing_ids else 0
        from loader.sync import clear  # (clear builds on this module)

        if self.clear_guard is not None:
            p.held_clears = clear.held_clears(
                self.con, self.schema, self.account_id, list_id, self.clear_mask,
                self._has_sent_fields(), self.clear_guard)
            self.held_mask = clear.held_mask(p.held_clears)
            self.clear_mask &= ~self.held_mask
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
