"""The loader's state, owned in one place: named operations over the ``klaviyo_loader`` tables.

A push reads and writes state only through a :class:`Store`. Its SQL runs in DuckDB: the
warehouse file itself, or, when the warehouse is PostgreSQL, a disposable local working copy
whose every step is copied to the warehouse in one PostgreSQL transaction before it commits
locally (``loader.store.postgres``). The protocol (docs/sync.md) is the same either way: each
``step()`` is one transaction, and a kill between two steps leaves state a rerun finishes.

Operations: ``start_run`` / ``finish_run``, ``deliveries``, ``resume_delivery`` /
``open_delivery``, ``tally``, ``known_list_ids``, ``forget_lists``, ``record_recipients``
(the delivery's recipients, notes and completion, in one step: a full delivery opens and
closes recipient spans for what changed, a sample writes its rows).
The apply step's writes (intent, jobs, confirmation, removals) go through ``step()`` too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

import duckdb

from loader.store.names import qualified, quote
from loader.store.schema import (
    LEGACY_RECIPIENTS,
    READ_ONLY_TABLES,
    RECIPIENT_SPANS,
    RECIPIENTS_COLUMNS,
    SPAN_COLUMNS,
    TABLES,
    ensure_schema,
    table_exists,
)

__all__ = ["Mirror", "Store", "qualified", "quote"]

SPAN_TYPES = dict(RECIPIENTS_COLUMNS)

# a delivery's suspects (Store.record_recipients) that list_members does not hold
NOT_MEMBERS = "_klaviyo_not_members"
# a full delivery's control members, grouped (Store.record_recipients)
CONTROLS = "_klaviyo_controls"
# the distinct values but the customer's of the recipients and open spans, with their hash
# (Store._compact_span_diff); SPAN_HASH: that hash of the columns it is formatted with
SPAN_VALUES = "_klaviyo_span_values"
# a recipient's key (a delivery records one per key), and the keys whose recipients a
# delivery compares again grouped (Store._needs_group_by)
SPAN_KEY = ("amperity_id", "sub_audience_id", "treatment_id", "list_id")
REGROUP = "_klaviyo_span_regroup"
SPAN_HASH = "hash({})"
# numbers the spans a campaign's first full delivery opens (Store._open_spans)
SPAN_NO = "_klaviyo_span_no"


def _same(columns: Sequence[str], a: str, b: str) -> str:
    """SQL: the rows ``a`` and ``b`` are equal on ``columns``, null-safe."""
    return " and ".join(f"{a}.{c} is not distinct from {b}.{c}" for c in columns)


class Mirror(Protocol):
    """Copies a step's changes to the warehouse that holds the truth (PostgreSQL)."""

    def flush(self, con: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> None: ...


class Store:
    """State operations for one schema over one DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, schema: str,
                 mirror: Mirror | None = None) -> None:
        self.con = con
        self.schema = schema
        self.mirror = mirror
        self._depth = 0
        # steps ended per table that may have changed it (``loader.sync.digest`` re-reads a
        # table's aggregate only when its count moved)
        self.steps: dict[str, int] = {}

    def t(self, name: str) -> str:
        """A state table's qualified name."""
        return qualified(self.schema, name)

    def exists(self, name: str = "list_members") -> bool:
        return table_exists(self.con, self.schema, name)

    def holds(self, table: str, account_id: str, list_id: str) -> bool:
        """``table`` (when it exists) has a row of the account's list (one row read at most)."""
        if not self.exists(table):
            return False
        row = self.con.execute(
            f"select count(*) from (select 1 from {self.t(table)} "
            f"where account_id = ? and list_id = ? limit 1)", [account_id, list_id]).fetchone()
        return bool(row and row[0])

    def members(self, account_id: str, list_id: str) -> int:
        """How many members ``list_members`` holds for the account's list."""
        row = self.con.execute(
            f"select count(*) from {self.t('list_members')} where account_id = ? "
            f"and list_id = ?", [account_id, list_id]).fetchone()
        return int(row[0]) if row else 0

    def ensure(self) -> None:
        ensure_schema(self.con, self.schema)

    @contextlib.contextmanager
    def step(self, *tables: str) -> Iterator[None]:
        """One protocol step: one transaction (and, with a mirror, one warehouse transaction
        holding the same changes, committed first). ``tables``: the tables it may change (all
        when none are named). A step inside a step joins it."""
        for table in tables or TABLES:  # counted before: a write that fails still counts
            self.steps[table] = self.steps.get(table, 0) + 1
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.con.execute("begin")
        self._depth = 1
        try:
            yield
            if self.mirror is not None:
                self.mirror.flush(self.con, tables or tuple(
                    t for t in TABLES if t not in READ_ONLY_TABLES))
        except BaseException:
            self._depth = 0
            with contextlib.suppress(duckdb.Error):
                self.con.execute("rollback")
            raise
        self._depth = 0
        self.con.execute("commit")

    # -- runs -------------------------------------------------------------------------------

    def start_run(self, run_id: str, account_id: str, started_at: datetime, campaigns: str,
                  is_sample: bool) -> None:
        with self.step("sync_runs"):
            self.con.execute(
                f"insert into {self.t('sync_runs')} values (?, ?, ?, null, 'running', ?, ?, "
                f"0, 0, 0, 0, null)", [run_id, account_id, started_at, campaigns, is_sample])

    def finish_run(self, run_id: str, finished_at: datetime, status: str,
                   totals: dict[str, int], error: str | None) -> None:
        with self.step("sync_runs"):
            self.con.execute(
                f"update {self.t('sync_runs')} set finished_at = ?, status = ?, added = ?, "
                f"updated = ?, removed = ?, rejected = ?, error = ? where run_id = ?",
                [finished_at, status, totals["added"], totals["updated"], totals["removed"],
                 totals["rejected"], error, run_id])

    # -- deliveries -------------------------------------------------------------------------

    def deliveries(self, account_id: str) -> list[dict[str, Any]]:
        """Every delivery of the account (the schedule decides from them what is due)."""
        if not self.exists("deliveries"):
            return []
        cur = self.con.execute(f"select * from {self.t('deliveries')} where account_id = ?",
                               [account_id])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def resume_delivery(self, account_id: str, campaign_id: str, is_sample: bool,
                        run_id: str) -> str | None:
        """A delivery a killed (or failed) run left running, now this run's; or None."""
        row = self.con.execute(
            f"select delivery_id from {self.t('deliveries')} where account_id = ? "
            f"and campaign_id = ? and status = 'running' and is_sample = ? "
            f"order by started_at desc limit 1",
            [account_id, campaign_id, is_sample]).fetchone()
        if not row:
            return None
        with self.step("deliveries"):
            self.con.execute(f"update {self.t('deliveries')} set run_id = ? "
                             f"where delivery_id = ?", [run_id, row[0]])
        return str(row[0])

    def open_delivery(self, delivery_id: str, run_id: str, account_id: str, campaign_id: str,
                      scheduled_for: datetime, started_at: datetime, is_sample: bool) -> None:
        with self.step("deliveries"):
            self.con.execute(
                f"insert into {self.t('deliveries')} (delivery_id, run_id, account_id, "
                f"campaign_id, scheduled_for, started_at, completed_at, status, is_sample, "
                f"added, updated, removed, rejected, unchanged, withheld, duplicates) "
                f"values (?, ?, ?, ?, ?, ?, null, 'running', ?, 0, 0, 0, 0, 0, 0, 0)",
                [delivery_id, run_id, account_id, campaign_id, scheduled_for, started_at,
                 is_sample])

    def tally(self, delivery_id: str | None, **counts: int) -> None:
        """Add counts (added, updated, removed, rejected) to a delivery, inside the caller's
        step: a delivery a rerun completes after a kill reports its whole total."""
        counts = {k: int(v) for k, v in counts.items() if v}
        if delivery_id is None or not counts:
            return
        sets = ", ".join(f"{quote(k)} = coalesce({quote(k)}, 0) + ?" for k in counts)
        with self.step("deliveries"):
            self.con.execute(f"update {self.t('deliveries')} set {sets} where delivery_id = ?",
                             [*counts.values(), delivery_id])

    def delivery_totals(self, delivery_id: str) -> dict[str, int]:
        keys = ("added", "updated", "removed", "rejected", "unchanged", "withheld", "duplicates")
        row = self.con.execute(
            f"select {', '.join(keys)} from {self.t('deliveries')} where delivery_id = ?",
            [delivery_id]).fetchone()
        return {k: int(v or 0) for k, v in zip(keys, row or (), strict=False)}

    # -- lists ------------------------------------------------------------------------------

    def known_list_ids(self, account_id: str, list_name: str) -> tuple[str, ...]:
        """Ids state holds for a list name: checked by id before a list is ever created."""
        rows = self.con.execute(
            f"select list_id from {self.t('list_members')} where account_id = ? "
            f"and list_name = ? union select list_id from {self.t('import_jobs')} "
            f"where account_id = ? and list_name = ? order by 1",
            [account_id, list_name, account_id, list_name]).fetchall()
        return tuple(str(r[0]) for r in rows)

    def sent_earlier(self, account_id: str, list_id: str, delivery_id: str | None
                     ) -> tuple[int, int]:
        """(added, updated): members of the list a resumed delivery sent before this run."""
        if delivery_id is None:
            return 0, 0
        row = self.con.execute(
            f"select count(*) filter (where m.first_sent_at >= d.started_at), "
            f"count(*) filter (where m.first_sent_at < d.started_at) "
            f"from {self.t('list_members')} as m, {self.t('deliveries')} as d "
            f"where d.delivery_id = ? and m.account_id = ? and m.list_id = ? "
            f"and m.last_sent_at >= d.started_at", [delivery_id, account_id, list_id]
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def other_list_ids(self, account_id: str, list_name: str, list_id: str) -> list[str]:
        """Lists state holds under this name with another id (deleted in Klaviyo by hand)."""
        return [str(r[0]) for r in self.con.execute(
            f"select distinct list_id from {self.t('list_members')} where account_id = ? "
            f"and list_name = ? and list_id <> ?", [account_id, list_name, list_id]).fetchall()]

    def forget_lists(self, account_id: str, list_ids: Sequence[str],
                     tables: Sequence[str] = ("list_members", "pending_rows",
                                              "rejected_members", "import_jobs")) -> None:
        """Drop the state of these lists, in one step."""
        if not list_ids:
            return
        with self.step(*tables):
            for table in tables:
                self.con.execute(f"delete from {self.t(table)} where account_id = ? "
                                 f"and list_contains(?, list_id)", [account_id, list(list_ids)])

    def orphan_lists(self, account_id: str, targeted: set[str]) -> list[tuple[str, str, int]]:
        """(name, id, members) of lists state filled that no campaign sends to any more."""
        rows = self.con.execute(
            f"select list_name, list_id, count(*) from {self.t('list_members')} "
            f"where account_id = ? group by all order by 1", [account_id]).fetchall()
        return [(str(n), str(i), int(c)) for n, i, c in rows if n not in targeted]

    # -- a delivery's end -------------------------------------------------------------------

    def record_recipients(self, *, account_id: str, run_id: str, delivery_id: str,
                          campaign: Any, lists: Sequence[tuple[str, str]], identifier: str,
                          is_sample: bool, sample_table: str, notes_table: str,
                          unchanged: int, at: datetime, suspects: str | None = None) -> bool:
        """Record the delivery's recipients, its duplicates and withheld identifiers, and
        complete it, writing what is constant per delivery (campaign, destination, launch,
        dataset version, completion time) once in its ``deliveries`` row: one step, once per
        delivery. Readers see every recipient of every delivery in the view
        ``campaign_recipients``.

        A full delivery is numbered (``deliveries.delivery_number``: the campaign's completed
        full deliveries 1, 2, …) and records its recipients as spans (``recipient_spans``):
        a recipient new or changed since the campaign's previous full delivery opens a span
        at this number, one no longer there (or changed) has its span closed at the previous
        number, an unchanged one writes nothing. A sample delivery writes explicit rows into
        ``recipients`` (what varies per member, and the delivery id).

        A recipient is a member the list holds (``list_members``, confirmed by Klaviyo) that
        the audience sends, or a control member. A sample delivery records only its sample;
        no delivery records a member a sample since the last full delivery already recorded.
        False when the delivery was already completed (nothing written).

        How a sendable row is known to be a member. Without ``suspects`` (a sample, or a
        delivery whose push does not vouch for its lists), by the *proof join*: the
        audience's rows joined with ``list_members`` on (list, identifier, customer), a
        million-row join at a million members. With ``suspects`` (a full delivery whose every
        list this push planned, or skipped by its digest: ``loader.sync.engine``), a table of
        ``(list_id, identifier, amperity_id)``: every row of each list's plan that was not
        unchanged (``DIFF``: adds, changes, refused or oversize rows, uncertain keys,
        removals, rows with something to clear), every row not sent for an invalid phone
        number, and every sendable row whose identifier is on several rows (``SEVERAL``).
        The suspects ``list_members`` does not hold now are found first (``NOT_MEMBERS``,
        a small join: the suspects are what changed) and their rows left out; every other
        sendable row with an identifier and a customer is recorded without a join, and that
        is exact, row for row, with the proof join:

        * a row left out is a suspect (list, identifier, customer) the members lack, or has
          no identifier or customer: the proof join finds no member for it either;
        * a row recorded whose (list, identifier, customer) is a suspect is held by
          ``list_members`` (it is not in ``NOT_MEMBERS``);
        * any other row recorded: its identifier is on this one row of the list (else every
          row of it is a suspect) and was sent (else a suspect), so the list's desired row
          for it is this row, with this customer, and the plan found it unchanged with
          nothing to do (else in ``DIFF``): ``list_members`` held the identifier with this
          fingerprint and (the plan makes state's ``amperity_id`` follow the desired row's)
          this customer. A list skipped by its digest is unchanged since a clean push, after
          which every desired row was such a member. After the plan nothing writes the
          list's ``list_members`` rows but for identifiers of ``DIFF`` (apply, confirm,
          clear and removals act on the plan's rows), so it holds the row now.
          Or its list held no member when planned and now holds one per desired row
          (``loader.sync.engine``: the count proof): every such member was written from a
          desired row, so this row's is among them.

        ``tests/history`` compares every delivery with what the proof join records.
        """
        from loader.sync.crashpoints import crashpoint

        c = campaign
        idc = quote(identifier)
        not_members = False  # NOT_MEMBERS holds a row (suspects given)
        lit = [f"({_lit(n)}, {_lit(i)})" for n, i in lists]
        values = ", ".join(lit) or "(null, null)"
        sample_filter = (f"and exists (select 1 from {sample_table} as s "
                         f"where s.list_id = l.list_id and s.identifier = a.{idc})"
                         if is_sample else "")
        # a full delivery's control members, grouped once into CONTROLS (below): every
        # select of the recipients then reads the same rows (``any_value`` may pick another
        # name each time it runs; the span comparison reads the recipients twice)
        controls = f"""
            select a.amperity_id, a.sub_audience_id,
                any_value(a.sub_audience_name) as sub_audience_name, a.treatment_id,
                any_value(a.treatment_name) as treatment_name, true as is_control,
                null::varchar as list_id, min(a.segment_id) as segment_id,
                min(a.segment_name) as segment_name
            from {c.audience_relation} as a
            where coalesce(a.is_control, false) and a.shrink_reason is null
            group by a.amperity_id, a.sub_audience_id, a.treatment_id"""
        campaign_of = (f"account_id = {_lit(account_id)} and campaign_id = "
                       f"{_lit(c.campaign_id)}")
        last_full = f"""(select coalesce(max(completed_at), '1970-01-01'::timestamp)
            from {self.t('deliveries')} where {campaign_of} and status = 'completed'
            and not is_sample)"""
        # members already recorded by a sample delivery since the last full one: not again
        # (samples are explicit rows, in ``recipients`` or, before the view, the legacy table)
        earlier_samples = f"""
            select r.amperity_id, r.sub_audience_id, r.treatment_id
            from {self.t('recipients')} as r
            inner join {self.t('deliveries')} as d on d.delivery_id = r.delivery_id
            where d.account_id = {_lit(account_id)}
                and d.campaign_id = {_lit(c.campaign_id)} and d.is_sample
                and d.delivery_datetime > {last_full}
            union all
            select amperity_id, sub_audience_id, treatment_id
            from {self.t(LEGACY_RECIPIENTS)}
            where {campaign_of} and is_sample and delivery_datetime > {last_full}"""
        def recorded(grouped: bool, keys: str | None = None, proved: bool = True) -> str:
            """The delivery's recipients (``SPAN_COLUMNS``): one
            row per (customer, sub-audience, treatment, list), control members once with no
            list. ``grouped=False`` skips the group by of the members (its costliest pass
            after the join): exact when no such key comes from two rows, which the caller
            checks (``_open_spans``, ``_needs_group_by``). ``keys``: a table of keys
            (``SPAN_KEY``); only the recipients of those keys (each with all its rows).
            ``proved=False`` (with ``grouped=False`` only): every row that could be a
            recipient, not proved a member nor checked against earlier samples: the
            recipients' rows are some of its rows (the proof joins at most one member to a
            row: ``list_members`` holds an identifier once per list), so a key on one of
            its rows at most is on one recipient's row at most (``_open_spans``)."""
            assert proved or not grouped
            def pick(agg: str, column: str) -> str:
                return f"{agg}(a.{column})" if grouped else f"a.{column}"

            def only(alias: str, list_id: str) -> str:
                if keys is None:
                    return ""
                return (f"semi join {keys} as k on k.amperity_id is not distinct from "
                        f"{alias}.amperity_id "
                        f"and k.sub_audience_id is not distinct from {alias}.sub_audience_id "
                        f"and k.treatment_id is not distinct from {alias}.treatment_id "
                        f"and k.list_id is not distinct from {list_id}")

            control = "" if is_sample else (f"union all select * from {CONTROLS} as c "
                                            f"{only('c', 'c.list_id')}")
            if not proved:
                return f"""
                    with lists(list_name, list_id) as (values {values})
                    select a.amperity_id, a.sub_audience_id, a.sub_audience_name,
                        a.treatment_id, a.treatment_name, false as is_control, l.list_id,
                        a.segment_id, a.segment_name
                    from {c.audience_relation} as a
                    inner join lists as l on l.list_name = a.list_name
                    where not coalesce(a.is_control, false) and a.shrink_reason is null
                        {sample_filter}
                    {control}"""

            group_by = ("group by a.amperity_id, a.sub_audience_id, a.treatment_id, l.list_id"
                        if grouped else "")
            # the proof of delivery reads the audience's keys and recorded columns and the
            # members' keys (list, identifier, customer): nothing else of either
            members = f"""inner join {self.t('list_members')} as m
                        on m.account_id = {_lit(account_id)} and m.list_id = l.list_id
                        and m.identifier = a.{idc} and m.amperity_id = a.amperity_id"""
            known = ""
            if suspects is not None:  # only the suspects' rows are proved (docstring)
                members = (f"anti join {NOT_MEMBERS} as x on x.list_id = l.list_id "
                           f"and x.identifier = a.{idc} and x.amperity_id = a.amperity_id"
                           if not_members else "")
                known = f"and a.{idc} is not null and a.amperity_id is not null"
            return f"""
                with lists(list_name, list_id) as (values {values}),
                recipients as (
                    select a.amperity_id, a.sub_audience_id,
                        {pick('any_value', 'sub_audience_name')} as sub_audience_name,
                        a.treatment_id,
                        {pick('any_value', 'treatment_name')} as treatment_name,
                        false as is_control, l.list_id,
                        {pick('min', 'segment_id')} as segment_id,
                        {pick('min', 'segment_name')} as segment_name
                    from {c.audience_relation} as a
                    inner join lists as l on l.list_name = a.list_name
                    {members}
                    {only('a', 'l.list_id')}
                    where not coalesce(a.is_control, false) and a.shrink_reason is null
                        {sample_filter} {known}
                    {group_by}
                    {control}
                )
                select r.amperity_id, r.sub_audience_id, r.sub_audience_name,
                    r.treatment_id, r.treatment_name, r.is_control, r.list_id,
                    r.segment_id, r.segment_name
                from recipients as r
                anti join ({earlier_samples}) as e on e.amperity_id = r.amperity_id
                    and e.sub_audience_id is not distinct from r.sub_audience_id
                    and e.treatment_id is not distinct from r.treatment_id"""

        with self.step(RECIPIENT_SPANS, "recipients", "rejected_rows", "deliveries"):
            done = self.con.execute(
                f"select status from {self.t('deliveries')} where delivery_id = ?",
                [delivery_id]).fetchone()
            if not done or done[0] == "completed":
                return False
            if suspects is not None and not is_sample:
                not_members = self._not_members(account_id, suspects)
            if not is_sample:
                self.con.execute(f"create or replace temp table {CONTROLS} as {controls}")
            number: int | None = None
            if is_sample:  # explicit rows: what varies per recipient, and the delivery
                self.con.execute(
                    f"insert into {self.t('recipients')} (amperity_id, sub_audience_id, "
                    f"sub_audience_name, treatment_id, treatment_name, is_control, list_id, "
                    f"segment_id, segment_name, delivery_id) select *, ? from "
                    f"({recorded(grouped=True)})",
                    [delivery_id])
            else:
                number = self._record_spans(account_id, c.campaign_id, recorded)
            # duplicates and withheld identifiers: recorded once per delivery
            self.con.execute(f"""
                insert into {self.t('rejected_rows')} (run_id, account_id, campaign_id,
                    list_name, identifier, amperity_id, reason, rejected_at, delivery_id)
                select distinct ?, ?, ?, n.list_name, n.identifier, n.amperity_id, n.reason,
                    ?::timestamp, ?
                from {notes_table} as n""",
                [run_id, account_id, c.campaign_id, at, delivery_id])
            notes = self.con.execute(
                f"select count(*) filter (where starts_with(reason, 'withheld_')), "
                f"count(distinct (amperity_id, list_name)) filter "
                f"(where starts_with(reason, 'duplicate_')), "
                f"count(*) filter (where starts_with(reason, 'invalid_') "
                f"and origin is distinct from 'shrink') "
                f"from {notes_table}").fetchone()
            # added/updated/removed/rejected were tallied as they happened (apply.py); rows a
            # phone-keyed campaign could not send (invalid numbers) are rejected rows too.
            # What every recipient row shares (campaign_recipients reads it from here).
            self.con.execute(
                f"update {self.t('deliveries')} set status = 'completed', completed_at = ?, "
                f"run_id = ?, unchanged = ?, withheld = ?, duplicates = ?, "
                f"rejected = coalesce(rejected, 0) + ?, campaign_name = ?, "
                f"campaign_type = ?, destination_id = ?, destination_name = ?, "
                f"delivery_datetime = ?::timestamp, launch_datetime = ?::timestamp, "
                f"dataset_version = ?, delivery_number = ? "
                f"where delivery_id = ?",
                [at, run_id, unchanged, notes[0] if notes else 0, notes[1] if notes else 0,
                 notes[2] if notes else 0, c.campaign_name, c.campaign_type,
                 c.destination_id, c.destination_name, at, c.launch_at, c.dbt_invocation_id,
                 number, delivery_id])
            crashpoint("recipients.written")  # inside the transaction: a kill rolls it back
        for temp in (NOT_MEMBERS, CONTROLS):
            self.con.execute(f"drop table if exists {temp}")
        return True

    def _record_spans(self, account_id: str, campaign_id: str,
                      recorded: Callable[..., str]) -> int:
        """A full delivery's recipients as spans, inside the caller's step; the delivery's
        number (one more than the campaign's last). ``recorded(grouped, keys=None)``: the
        select of ``SPAN_COLUMNS``, grouped by the key (customer, sub-audience, treatment,
        list) or not (exact when no key repeats among the audience's rows); of the keys in
        table ``keys`` only, when given.

        With no open span (the campaign's first full delivery, or the first after an empty
        audience or the upgrade) every recipient opens a span: :meth:`_open_spans`, no join.

        Otherwise the open spans (``last_number`` null) are compared with the recipients
        on all nine columns, null-safe (``list_id`` is null for control members; an open
        span equal to a recipient stays open, untouched), in one full join: unmatched open
        spans close at the previous number, unmatched recipients open spans at this one.
        That join is made on the customer and a hash of the other eight columns where that
        is provably the same join (:meth:`_compact_span_diff`: at 10M recipients the
        nine-column join spilled far over 256 MB), else on the nine columns
        (:meth:`_span_diff`). The recipients are taken without their group by (no
        audience-wide check up front); a key ``(customer, sub-audience, treatment, list)``
        from two rows shows in the (small) difference when it matters, see
        :meth:`_needs_group_by`, and only those keys are compared again from their grouped
        recipients (:meth:`_regroup`). No hash decides that a recipient is unchanged."""
        spans = self.t(RECIPIENT_SPANS)
        row = self.con.execute(
            f"select coalesce(max(delivery_number), 0) + 1 from {self.t('deliveries')} "
            f"where account_id = ? and campaign_id = ? and status = 'completed' "
            f"and not is_sample", [account_id, campaign_id]).fetchone()
        number = int(row[0]) if row else 1
        cols = ", ".join(SPAN_COLUMNS)
        row = self.con.execute(
            f"select count(*) from {spans} where account_id = ? and campaign_id = ? "
            f"and last_number is null", [account_id, campaign_id]).fetchone()
        if not (row and row[0]):  # nothing to compare with: every recipient opens a span
            self._open_spans(account_id, campaign_id, number, recorded)
            return number
        try:
            if not self._compact_span_diff(account_id, campaign_id, recorded(False)):
                self._span_diff(account_id, campaign_id, recorded(False))
            if self._needs_group_by(account_id, campaign_id):
                self._regroup(account_id, campaign_id, recorded(True, REGROUP))
            self.con.execute(
                f"update {spans} as o set last_number = ? from _klaviyo_span_diff as k "
                f"where o.account_id = ? and o.campaign_id = ? and k.span_no is not null "
                f"and o.first_number = k.first_number and o.span_no = k.span_no",
                [number - 1, account_id, campaign_id])
            self.con.execute(
                f"insert into {spans} (account_id, campaign_id, {cols}, first_number, "
                f"span_no, last_number) select ?, ?, {cols}, ?, rowid - (select min(rowid) "
                f"from _klaviyo_span_diff) + 1, null from _klaviyo_span_diff "
                f"where span_no is null",
                [account_id, campaign_id, number])
        finally:
            for temp in ("_klaviyo_span_diff", SPAN_VALUES, REGROUP, "_klaviyo_span_fix"):
                with contextlib.suppress(duckdb.Error):
                    self.con.execute(f"drop table if exists {temp}")
        return number

    def _span_diff(self, account_id: str, campaign_id: str, recipients: str,
                   into: str = "_klaviyo_span_diff", keys: str | None = None) -> None:
        """Fill ``into`` with the full join of the recipients (``recipients``, a select of
        ``SPAN_COLUMNS``) and the campaign's open spans (only those of ``keys``, a table of
        ``SPAN_KEY``, when given) on the nine columns, null-safe, keeping what did not
        match: recipients no open span equals (``span_no`` null: to open), and open spans
        (``first_number``, ``span_no``) no recipient equals (to close)."""
        spans = self.t(RECIPIENT_SPANS)
        same = _same(SPAN_COLUMNS, "n", "o")
        only = "" if keys is None else f"semi join {keys} as k on {_same(SPAN_KEY, 'k', 's')}"
        self.con.execute(f"""
            create or replace temp table {into} as
            with n as (
                select *, true as matched from ({recipients})
            ),
            o as (
                select {', '.join(f's.{c}' for c in SPAN_COLUMNS)}, s.first_number,
                    s.span_no
                from {spans} as s {only}
                where s.account_id = ? and s.campaign_id = ? and s.last_number is null
            )
            select {', '.join(f'n.{col}' for col in SPAN_COLUMNS)}, o.first_number,
                o.span_no
            from n full join o on {same}
            where n.matched is null or o.span_no is null""", [account_id, campaign_id])

    def _regroup(self, account_id: str, campaign_id: str, grouped: str) -> None:
        """Replace, in ``_klaviyo_span_diff``, what the ungrouped comparison found for the
        keys in ``REGROUP`` (their rows to open, and their open spans to close) by the
        comparison of their grouped recipients (``grouped``: ``recorded(True, REGROUP)``)
        with their open spans. Every other key's rows are already exact
        (:meth:`_needs_group_by`), so the group by and the join cost the keys that repeat,
        not the audience."""
        spans = self.t(RECIPIENT_SPANS)
        self._span_diff(account_id, campaign_id, grouped, "_klaviyo_span_fix", REGROUP)
        self.con.execute(f"""
            delete from _klaviyo_span_diff as d
            where (d.span_no is null and exists (select 1 from {REGROUP} as k
                    where {_same(SPAN_KEY, 'k', 'd')}))
                or (d.span_no is not null and exists (
                    select 1 from {spans} as o semi join {REGROUP} as k
                        on {_same(SPAN_KEY, 'k', 'o')}
                    where o.account_id = ? and o.campaign_id = ? and o.last_number is null
                        and o.first_number = d.first_number and o.span_no = d.span_no))""",
                         [account_id, campaign_id])
        self.con.execute("insert into _klaviyo_span_diff select * from _klaviyo_span_fix")

    def _compact_span_diff(self, account_id: str, campaign_id: str, recipients: str) -> bool:
        """Fill ``_klaviyo_span_diff`` as the full join of :meth:`_record_spans` on the nine
        columns would from ``recipients`` (its select, ungrouped), joining on two columns
        instead: the customer, and a 64-bit hash of the other eight (sub-audience,
        treatment, list, segment, their names, control). False (nothing written) when that
        cannot be exact: two of the value tuples share a hash.

        The value tuples are few (a campaign's sub-audiences, treatments, lists and
        segments), so they are first collected, exactly (a ``union`` of the recipients'
        and the open spans' distinct tuples: null-safe), into ``SPAN_VALUES`` with their
        hash. When no two of them share a hash, the hash is one-to-one on every tuple either
        side of the join holds, so two rows have equal hashes if and only if their tuples
        are equal (null-safe): the join on (customer, hash) pairs exactly the rows the join
        on the nine columns pairs. No hash decides that a recipient is unchanged: the
        tuples were compared when collected. The recipients' select must give the same rows
        each time it runs (control members come from ``CONTROLS``, grouped once). The rows
        to open get their eight columns back from ``SPAN_VALUES`` by the hash (one tuple per
        hash); the join itself carries two columns a side, where the nine-column one
        carried nine and spilled far over the loader's 256 MB at 10M recipients."""
        spans = self.t(RECIPIENT_SPANS)
        rest = [c for c in SPAN_COLUMNS if c != "amperity_id"]
        typed = ", ".join(f"cast({c} as {SPAN_TYPES[c]}) as {c}" for c in rest)
        digest = SPAN_HASH.format(", ".join(rest))
        open_spans = (f"from {spans} where account_id = ? and campaign_id = ? "
                      f"and last_number is null")
        self.con.execute(f"""
            create or replace temp table {SPAN_VALUES} as
            select *, {digest} as h from (
                select distinct {typed} from ({recipients})
                union
                select distinct {', '.join(rest)} {open_spans}
            )""", [account_id, campaign_id])
        row = self.con.execute(f"select count(*) = count(distinct h) "
                               f"from {SPAN_VALUES}").fetchone()
        if not (row and row[0]):
            return False
        self.con.execute(f"""
            create or replace temp table _klaviyo_span_diff as
            with n as (
                select amperity_id, {digest} as h from (select amperity_id, {typed}
                    from ({recipients}))
            ),
            o as (
                select amperity_id, {digest} as h, first_number, span_no {open_spans}
            ),
            d as (
                select n.amperity_id, n.h, o.first_number, o.span_no
                from n full join o on n.amperity_id is not distinct from o.amperity_id
                    and n.h = o.h
                where n.h is null or o.span_no is null
            )
            select d.amperity_id, {', '.join(f'v.{c}' for c in rest)}, d.first_number,
                d.span_no
            from d left join {SPAN_VALUES} as v on v.h = d.h""", [account_id, campaign_id])
        return True

    def _open_spans(self, account_id: str, campaign_id: str, number: int,
                    recorded: Callable[..., str]) -> None:
        """Open a span at ``number`` for every recipient (the campaign has no open span),
        inside the caller's step.

        First, one narrow pass: the 64-bit hash of the key (customer, sub-audience,
        treatment, list) of every row that could be a recipient (``recorded(False,
        proved=False)``: no proof of membership, no join) grouped by. When no hash is on two
        rows, no key is (a key's rows share its hash) and neither is any among the
        recipients (some of those rows): each recipient is its own group, and the
        recipients, ungrouped, are inserted straight into the spans, numbered by a temp
        sequence from 1 (``nextval``: unique; one pass where a temp table of the recipients
        spilled at 10M and was read again).

        Otherwise the recipients are taken without their group by (no
        audience-wide check up front), each with a 64-bit hash of its key (customer,
        sub-audience, treatment, list). Two rows with one hash are then the only possible
        departures from the grouped recipients: a key from two rows (a customer with two
        identifiers, or one identifier from two segments, in one list) or, rarely, two keys
        with one hash. Those rows (a group by of one bigint finds them) are every row of
        their keys; they are replaced by their groups, aggregated as ``recorded(True)``
        aggregates the audience's rows, so every span is a grouped recipient and the whole
        audience is grouped by no one. That is done in a temp table before the one insert
        into the spans (rows deleted from the spans in the step that wrote them made its
        commit cost 0.7 s at 1M), which numbers them by their row in it (``rowid``, from 1:
        unique, and free, where a ``row_number()`` cost 0.4 s more at 1M; the hash itself
        as ``span_no`` stored 15 % more, a random bigint per span)."""
        spans = self.t(RECIPIENT_SPANS)
        cols = ", ".join(SPAN_COLUMNS)
        key = ("amperity_id", "sub_audience_id", "treatment_id", "list_id")
        diff = "_klaviyo_span_diff"
        try:
            self.con.execute(
                f"create or replace temp table _klaviyo_span_repeats as select h from "
                f"(select hash({', '.join(key)}) as h from ({recorded(False, proved=False)})) "
                f"group by h having count(*) > 1")
            row = self.con.execute("select count(*) from _klaviyo_span_repeats").fetchone()
            if not (row and row[0]):
                self.con.execute(f"create or replace temp sequence {SPAN_NO} start 1")
                self.con.execute(
                    f"insert into {spans} (account_id, campaign_id, {cols}, first_number, "
                    f"span_no, last_number) select ?, ?, {cols}, ?, nextval('{SPAN_NO}'), "
                    f"null from ({recorded(False)})", [account_id, campaign_id, number])
                return
            self.con.execute(
                f"create or replace temp table {diff} as select {cols}, "
                f"hash({', '.join(key)}) as h from ({recorded(False)})")
            self.con.execute(
                f"create or replace temp table _klaviyo_span_repeats as select h "
                f"from {diff} group by h having count(*) > 1")
            row = self.con.execute("select count(*) from _klaviyo_span_repeats").fetchone()
            if row and row[0]:
                # the rows of a repeated hash are every row of their keys (the hash is the
                # key's): grouped as ``recorded(True)`` groups them (any_value of the
                # names, the least segment id and name), control members apart (grouped)
                self.con.execute(
                    f"create or replace temp table _klaviyo_span_grouped as select "
                    f"amperity_id, sub_audience_id, any_value(sub_audience_name) as "
                    f"sub_audience_name, treatment_id, any_value(treatment_name) as "
                    f"treatment_name, is_control, list_id, min(segment_id) as segment_id, "
                    f"min(segment_name) as segment_name from {diff} where h in "
                    f"(select h from _klaviyo_span_repeats) "
                    f"group by {', '.join(key)}, is_control")
                self.con.execute(f"delete from {diff} where h in "
                                 f"(select h from _klaviyo_span_repeats)")
                self.con.execute(f"insert into {diff} select {cols}, null "
                                 f"from _klaviyo_span_grouped")
            self.con.execute(
                f"insert into {spans} (account_id, campaign_id, {cols}, first_number, "
                f"span_no, last_number) select ?, ?, {cols}, ?, rowid - (select min(rowid) "
                f"from {diff}) + 1, null from {diff}",
                [account_id, campaign_id, number])
        finally:
            for temp in (diff, "_klaviyo_span_repeats", "_klaviyo_span_grouped"):
                with contextlib.suppress(duckdb.Error):
                    self.con.execute(f"drop table if exists {temp}")
            with contextlib.suppress(duckdb.Error):
                self.con.execute(f"drop sequence if exists {SPAN_NO}")

    def _not_members(self, account_id: str, suspects: str) -> bool:
        """Fill ``NOT_MEMBERS`` with the suspects (list, identifier, customer) that
        ``list_members`` does not hold now; whether there is any (usually none: a suspect
        is mostly a row the push just sent). The members are read through the suspects
        (a semi join probing them: no hash table of the list's members is built)."""
        self.con.execute(f"""
            create or replace temp table {NOT_MEMBERS} as
            with s as (
                select distinct list_id, identifier, amperity_id from {suspects}
            ),
            held as (
                select m.list_id, m.identifier, m.amperity_id
                from {self.t('list_members')} as m
                semi join s on s.list_id = m.list_id and s.identifier = m.identifier
                where m.account_id = ?
            )
            select s.* from s
            anti join held as h on h.list_id = s.list_id and h.identifier = s.identifier
                and h.amperity_id = s.amperity_id""", [account_id])
        row = self.con.execute(f"select count(*) from {NOT_MEMBERS}").fetchone()
        return bool(row and row[0])

    def _needs_group_by(self, account_id: str, campaign_id: str) -> bool:
        """Whether the difference in ``_klaviyo_span_diff``, computed from the recipients
        without their group by, needs some keys grouped, and which: fills ``REGROUP`` with
        the keys (customer, sub-audience, treatment, list: ``SPAN_KEY``) that came from two
        rows in a way the difference shows. Open spans are unique by that key (each
        delivery's grouped recipients are). For a key with rows n1, n2, …: if none of them
        is to open, each equals the key's open span, and so does their aggregate (it is
        unchanged either way: exact as it is); otherwise a row is to open while the key
        repeats among the rows to open (no open span equal to any of them), or while the
        key's open span stays open (another row equals it). Both show among the rows to
        open, which a push of 1 % changes keeps few, and are found here from those rows and
        the open spans of their keys; a key from one row shows neither (its open span, if
        any, is closed whenever the row differs from it) and is exact as it is."""
        key = ", ".join(SPAN_KEY)
        same = _same(SPAN_KEY, "o", "k")
        self.con.execute(f"""
            create or replace temp table {REGROUP} as
            with to_open as (
                select {key} from _klaviyo_span_diff where span_no is null
            )
            select {key} from to_open group by all having count(*) > 1
            union
            select {', '.join(f'o.{c}' for c in SPAN_KEY)}
            from {self.t(RECIPIENT_SPANS)} as o
            semi join to_open as k on {same}
            anti join _klaviyo_span_diff as c on c.first_number = o.first_number
                and c.span_no = o.span_no
            where o.account_id = ? and o.campaign_id = ? and o.last_number is null""",
            [account_id, campaign_id])
        row = self.con.execute(f"select count(*) from {REGROUP}").fetchone()
        return bool(row and row[0])


def _lit(value: str | None) -> str:
    """A SQL string literal (or null)."""
    return "null" if value is None else "'" + str(value).replace("'", "''") + "'"
