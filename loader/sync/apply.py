"""Applying one list's plan: write intent, send import jobs, confirm them, remove leavers.

Over 400 lines because the whole commit protocol of one list (intent, jobs, confirmation,
removals, list scans) reads top to bottom in one place, each step beside its crash points;
the state it writes goes through ``loader.store`` steps.

Commit protocol (so a kill at any instant, then a rerun, converges exactly):

1. the diff is written to ``pending_rows`` (intent) in one transaction;
2. each import job is recorded in ``import_jobs`` as soon as Klaviyo accepts it;
3. a job is *confirmed* only once Klaviyo reports it complete: in one transaction its rows move
   into ``list_members`` (less the rows Klaviyo refused, which go to ``rejected_rows``), its
   pending rows are deleted and the job is marked confirmed (a list's completed jobs share
   the transaction: ``CONFIRM_BATCH_ROWS``);
4. a list's removed members leave state (``list_members`` and their pending rows) in one
   transaction after its last removal call (a kill before it: the rerun removes them again,
   harmless; never before the call, which would lose a member still in Klaviyo's list).

A rerun first confirms every job a killed run left submitted, then plans again from
``list_members``: rows already confirmed are not re-sent; a removal call repeated is harmless.
The killed run's pending rows still left (a job posted but never recorded, a DELETE made but
not yet forgotten, rows never sent) are sends Klaviyo may or may not hold, and the audience may
have changed since (an analyst fixed it and rebuilt): the planner treats those keys as unknown
(``Planner._members``). A key still desired is sent again whatever its fingerprint (an
idempotent upsert; the fields its unconfirmed send carried stay in the sent-fields mask, so one
now NULL is cleared); a key a pending upsert would have added and that is no longer desired is
removed (when no look-up finds its profile, it never reached Klaviyo: only state forgets it,
``removal.unknown``); a pending removal of a key desired again is sent again (re-adding it).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import duckdb

from loader.errors import ImportJobLostError, KlaviyoError
from loader.klaviyo.client import BadRequestError, KlaviyoClient
from loader.klaviyo.limits import IMPORT_MAX_PROFILE_BYTES
from loader.klaviyo.payloads import IDENTIFIERS, import_job_body_bytes, sql_str
from loader.store import Store, quote
from loader.sync.crashpoints import crashpoint
from loader.sync.digest import Change
from loader.sync.plan import DESIRED, DIFF, SENT, job_bounds
from loader.warehouse import field_bit

POINTER = re.compile(r"/data/attributes/profiles/data/(\d+)")
# Polling outstanding import jobs: the wait before the next poll grows from POLL_FIRST_S by
# half each round up to POLL_MAX_S, and is cut to when the jobs' own progress (profiles
# imported a second, seen across polls) says the last of them is done, never below
# POLL_MIN_S: the job endpoints' published burst is 10 requests a second.
POLL_FIRST_S = 0.1
POLL_MIN_S = 0.1
POLL_MAX_S = 5.0
# Reading a list's members to settle removals no look-up resolves: at most this many members
# (100 a request; 200,000 members take ~2,000 requests, under 3 minutes at Klaviyo's limits).
LIST_SCAN_MAX = 200_000
# Completed jobs of a list are confirmed together, once its last job completed or once they
# hold this many rows: few large appends to ``list_members`` cost DuckDB far less than many
# small ones (an append that is not a whole number of row groups is compressed again by the
# next checkpoint: 8 appends of 125,000 rows cost 2.9 s more CPU than 2 of 500,000).
CONFIRM_BATCH_ROWS = 500_000


# Pending rows live from the intent to their job's confirmation, in the same push: DuckDB
# compressing their strings as it does every large append (dictionary and FSST analysis of
# each string column) is most of the insert's CPU, for blocks freed when the rows are
# confirmed. Their strings are written plain (numbers and constant columns still compressed).
# The price is disk, not memory: the file's high-water mark grows by about 4x what the
# compressed rows took (~140 MB per million upserts instead of ~32 MB), free blocks that
# later writes reuse (a DuckDB file never shrinks).
TRANSIENT_OFF = "fsst,dictionary,dict_fsst"


@contextlib.contextmanager
def transient_writes(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Appends inside store strings plain (``TRANSIENT_OFF`` disabled); the connection's
    setting is restored after (a DuckDB without one of those methods: unchanged)."""
    before: str | None = None
    try:  # outside any transaction: a failed `set` must not abort the step's writes
        row = con.execute("select current_setting('disabled_compression_methods')").fetchone()
        current = str(row[0]) if row and row[0] else ""
        con.execute(f"set disabled_compression_methods = '{TRANSIENT_OFF}'")
        before = current
    except duckdb.Error:  # a version that lacks one of them: its default compression
        pass
    if before is None:
        yield
        return
    try:
        yield
    finally:
        con.execute(f"set disabled_compression_methods = '{before}'")


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple[Any, ...]],
                width: int) -> None:
    """Insert Python rows in one statement (column lists unnested), not one per row as
    ``executemany`` does."""
    if not rows:
        return
    columns = [list(c) for c in zip(*rows, strict=True)]
    con.execute(f"insert into {table} select {', '.join(['unnest(?)'] * width)}", columns)


def seq_ranges_sql(column: str, ranges: list[tuple[int, int]]) -> str:
    """SQL: ``column`` lies in one of the ranges; adjacent ranges (jobs cut from one plan)
    are merged, so a round of completed jobs is usually one ``between`` (a filter, no join)."""
    merged: list[list[int]] = []
    for a, b in sorted(ranges):
        if merged and a <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return "(" + " or ".join(f"{column} between {int(a)} and {int(b)}"
                             for a, b in merged) + ")"


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class ListStats:
    added: int = 0
    updated: int = 0
    removed: int = 0
    rejected: int = 0
    unchanged: int = 0
    duplicates: int = 0
    submitted: int = 0
    jobs: int = 0
    pending: int = 0  # removals left pending: no profile could be matched (see remove_all)
    rejections: list[tuple[str, str | None, str]] = field(default_factory=list)

    def merge(self, other: ListStats) -> None:
        for k in ("added", "updated", "removed", "rejected", "submitted", "jobs", "pending"):
            setattr(self, k, getattr(self, k) + getattr(other, k))


@dataclass
class Job:
    job_id: str
    list_id: str
    list_name: str
    campaign_id: str
    seq_from: int
    seq_to: int
    delivery_id: str | None = None  # the delivery the job's rows count for
    rows: int | None = None  # profiles in the job, when this run sent it

    @property
    def size(self) -> int:
        """Its profiles (at most its seq range's width when state alone knows the job)."""
        return self.rows if self.rows is not None else self.seq_to - self.seq_from + 1


def job_body(con: duckdb.DuckDBPyConnection, seq_from: int, seq_to: int,
             list_id: str, by_rowid: bool = False) -> tuple[bytes, int]:
    """One import job body and its profile count: the rendered profiles of ``DIFF`` with a
    seq from ``seq_from`` to ``seq_to``, in seq order, joined into the body's JSON text.

    Joined here rather than by ``string_agg(… order by seq)`` in DuckDB: the same bytes for
    about a third less CPU (the ordered string aggregate copies every profile again as it
    sorts). The profiles come as UTF-8 bytes (``encode``: a BLOB of the same bytes), joined
    as bytes: no Python string is made of them (decoding and encoding again cost more than
    the join). They come unsorted, each with its seq, and are put in order here: Python
    sorts 10,000 pairs by their distinct seqs for less CPU than DuckDB's ``order by seq``
    takes to move every profile through its sort (the table's rows need not lie in seq
    order: a push's connection does not preserve insertion order).

    ``by_rowid``: ``DIFF`` is the plan's view over ``DESIRED`` (``Planner.fresh_view_sql``,
    ``seq`` = rowid + 1): the profiles are read from ``DESIRED`` by a rowid range, which
    DuckDB's scan skips to (a filter on ``rowid + 1`` it evaluates on every row)."""
    if by_rowid:
        rows = con.execute(f"select rowid + 1, encode(payload) from {DESIRED} "
                           f"where rowid between ? and ?", [seq_from - 1, seq_to - 1]).fetchall()
    else:
        rows = con.execute(f"select seq, encode(payload) from {DIFF} where seq between ? and ?",
                           [seq_from, seq_to]).fetchall()
    rows.sort(key=itemgetter(0))
    return import_job_body_bytes([r[1] for r in rows], list_id), len(rows)


def _left(attrs: dict[str, Any], before: int) -> int | None:
    """``before`` plus the profiles a polled job has still to import (None: not said)."""
    try:
        total = int(attrs["total_count"])
        finished = int(attrs.get("completed_count") or 0) + int(attrs.get("failed_count") or 0)
    except (KeyError, TypeError, ValueError):
        return None
    return before + max(0, total - finished)


class JobProgress:
    """When outstanding import jobs should be polled again, from their progress.

    Each poll tells how many profiles the outstanding jobs have still to import; the rate
    they went down at since the first poll that said it gives when the last one should be
    done. ``wait(backoff)`` is the backoff, cut to that estimate (never under POLL_MIN_S):
    the jobs of a burst are checked as soon as they can be complete, not up to half a
    backoff later; jobs that make no progress are polled no more often than the backoff."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.first: tuple[float, int] | None = None  # (when, profiles left) first seen
        self.last: tuple[float, int] | None = None

    def seen(self, left: int | None) -> None:
        if left is None:  # a job without counts: the estimate is not trusted any more
            self.first = self.last = None
            return
        now = self.clock()
        if self.first is None:
            self.first = (now, left)
        self.last = (now, left)

    def wait(self, backoff: float) -> float:
        if self.first is None or self.last is None:
            return backoff
        (t0, left0), (t1, left1) = self.first, self.last
        if t1 <= t0 or left1 >= left0:
            return backoff
        eta = left1 * (t1 - t0) / (left0 - left1)  # at the rate seen so far
        return max(POLL_MIN_S, min(backoff, eta))


class Applier:
    """State writes and Klaviyo calls for one account."""

    def __init__(self, store: Store, account_id: str, client: KlaviyoClient, run_id: str,
                 progress: Callable[[str, int], None] | None = None) -> None:
        self.store = store
        self.con = store.con
        self.schema = store.schema
        self.account_id = account_id
        self.client = client
        self.run_id = run_id
        self.progress = progress or (lambda key, n: None)
        self.delivery_id: str | None = None  # the delivery rows are being sent for
        self.abandoned: list[Job] = []  # jobs Klaviyo lost or cancelled, since the last reset
        # follows this run's changes to list_members for the list digests (``Digests.changing``)
        self.state_changes: Callable[[], contextlib.AbstractContextManager[Change]] | None = None
        # the list's plan left DIFF as a view over DESIRED (``Planner.diff_view``): its job
        # bodies are read from DESIRED by rowid (``job_body``); set before ``submit_all``
        self.rows_by_rowid = False

    def t(self, name: str) -> str:
        return self.store.t(name)

    def changing(self) -> contextlib.AbstractContextManager[Change]:
        """Around a step's writes to ``list_members``: the ``Change`` to tell them to, for the
        digests (``Digests.changing``; inactive without them)."""
        if self.state_changes is None:
            return contextlib.nullcontext(Change(None, "list_members"))
        return self.state_changes()

    def members_where(self, list_id: str, keys: str) -> str:
        """SQL: the list's ``list_members`` rows whose identifier is in ``keys`` (a select)."""
        return (f"select * from {self.t('list_members')} "
                f"where account_id = {sql_str(self.account_id)} "
                f"and list_id = {sql_str(list_id)} and identifier in ({keys})")

    def _delete_members(self, change: Change, list_id: str, keys: str) -> None:
        """Delete the list's members whose identifier is in ``keys`` (SQL, a select), telling
        ``change`` the rows removed: their row ids are found once (the scan a delete makes
        anyway), then only those rows are hashed and deleted, by row id."""
        lm = self.t("list_members")
        self.con.execute(f"create or replace temp table _klaviyo_gone as select rowid as r "
                         f"from {lm} where account_id = ? and list_id = ? and identifier in "
                         f"({keys})", [self.account_id, list_id])
        change.rows(-1, f"select * from {lm} where rowid in (select r from _klaviyo_gone)")
        self.con.execute(f"delete from {lm} where rowid in (select r from _klaviyo_gone)")

    def tally(self, delivery_id: str | None = None, **counts: int) -> None:
        """Add counts to the delivery's row inside the caller's step (``Store.tally``)."""
        self.store.tally(delivery_id or self.delivery_id, **counts)

    # -- stale lists ------------------------------------------------------------------------

    def forget_other_lists(self, list_name: str, list_id: str) -> int:
        """Drop state of lists with this name but another id (deleted in Klaviyo by hand)."""
        stale = self.store.other_list_ids(self.account_id, list_name, list_id)
        self.store.forget_lists(self.account_id, stale)
        if stale:
            crashpoint("stale.forgotten")
        return len(stale)

    def forget_list(self, list_id: str) -> None:
        """Drop every row state holds for ``list_id``: the list was created this run, so it is
        empty whatever state says (an emulator restarted, or an id Klaviyo handed out again)."""
        self.store.forget_lists(self.account_id, [list_id])

    # -- intent -----------------------------------------------------------------------------

    def write_intent(self, removals_sql: str | None, list_id: str, list_name: str,
                     campaign_id: str) -> ListStats:
        """Replace the list's pending rows with the plan in ``DIFF``; reject oversize rows.

        The rendered profiles stay in ``DIFF`` (a temp table or view); the persistent intent in
        ``pending_rows`` carries no payload nor its size (nothing reads them back: a rerun
        renders again), only what confirming a job and planning a rerun need.
        """
        stats = ListStats()
        # the setting is global to the database: set before the step's transaction and
        # restored after its commit or rollback (a statement that fails inside would abort
        # the transaction, and with it the restore)
        with transient_writes(self.con), self.store.step(
                "pending_rows", "rejected_rows", "rejected_members", "deliveries"):
            self._write_intent(removals_sql, list_id, list_name, campaign_id, stats)
        return stats

    def _write_intent(self, removals_sql: str | None, list_id: str, list_name: str,
                      campaign_id: str, stats: ListStats) -> None:
        a = [self.account_id, list_id]
        self.con.execute(f"delete from {self.t('pending_rows')} where account_id = ? "
                         f"and list_id = ?", a)
        crashpoint("intent.replacing")  # inside the transaction: a kill rolls it back
        self._write_pending(removals_sql, a)
        oversize = self.con.execute(
            f"select identifier, amperity_id, fingerprint, nbytes from {DIFF} "
            f"where kind = 'oversize'").fetchall()
        for identifier, amperity_id, fingerprint, nbytes in oversize:
            reason = (f"profile_too_large: {nbytes:,} bytes exceeds Klaviyo's "
                      f"{IMPORT_MAX_PROFILE_BYTES:,}-byte limit a profile")
            self._reject(list_id, list_name, campaign_id, identifier, amperity_id, fingerprint,
                         reason)
            stats.rejected += 1
            stats.rejections.append((identifier, amperity_id, reason))
        self.tally(rejected=stats.rejected)

    def _write_pending(self, removals_sql: str | None, a: list[Any]) -> None:
        """The plan's upserts (from ``DIFF``) and removals into ``pending_rows``."""
        cols = ("account_id, list_id, seq, op, identifier, amperity_id, fingerprint, payload, "
                f"nbytes, profile_id, is_new, {SENT}, fields")
        self.con.execute(f"""
            insert into {self.t('pending_rows')} ({cols})
            select ?, ?, seq, 'upsert', identifier, amperity_id, fingerprint, null, null,
                profile_id, kind = 'add', {SENT}, fields
            from {DIFF} where seq is not null""", a)
        if removals_sql:
            self.con.execute(f"""
                insert into {self.t('pending_rows')} ({cols})
                select ?, ?, -row_number() over (order by identifier), 'remove', identifier,
                    amperity_id, fingerprint, null, 0, profile_id, is_new, {SENT}, null
                from ({removals_sql})""", a)

    def _reject(self, list_id: str, list_name: str, campaign_id: str, identifier: str,
                amperity_id: str | None, fingerprint: str | None, reason: str) -> None:
        ts = now_utc()
        self.con.execute(
            f"insert into {self.t('rejected_rows')} (run_id, account_id, campaign_id, "
            f"list_name, identifier, amperity_id, reason, rejected_at, delivery_id) "
            f"values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [self.run_id, self.account_id, campaign_id, list_name, identifier, amperity_id,
             reason, ts, self.delivery_id])
        self.con.execute(
            f"delete from {self.t('rejected_members')} where account_id = ? and list_id = ? "
            f"and identifier = ?", [self.account_id, list_id, identifier])
        self.con.execute(
            f"insert into {self.t('rejected_members')} values (?, ?, ?, ?, ?, ?)",
            [self.account_id, list_id, identifier, fingerprint, reason, ts])

    # -- imports ----------------------------------------------------------------------------

    def _body(self, seq_from: int, seq_to: int, list_id: str) -> tuple[bytes, int]:
        """One import job body and its profile count (``job_body``)."""
        return job_body(self.con, seq_from, seq_to, list_id, self.rows_by_rowid)

    def submit_all(self, list_id: str, list_name: str, campaign_id: str,
                   bounds: list[tuple[int, int]] | None = None) -> tuple[list[Job], ListStats]:
        """Send every pending upsert as import jobs (10,000 profiles / 5 MB each), pipelined.

        ``bounds``: the jobs' seq ranges when the plan already cut them (``job_bounds``).
        Each job's body is built (by DuckDB, on this thread) while the previous job's POST is
        in flight on a worker thread, so the time to the last accept approaches what the rate
        limits allow rather than that plus the bodies' CPU. The protocol is unchanged: the
        intent was written before any POST, and a job is recorded (``_submit``) only after
        Klaviyo accepted it, one job at a time, in order; one POST is in flight at a time.
        """
        stats = ListStats()
        jobs: list[Job] = []
        ranges = job_bounds(self.con) if bounds is None else bounds
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-post") as pool:
            inflight: tuple[int, int, int, Future[dict[str, Any]]] | None = None
            try:
                for a, b in ranges:
                    body, n = self._body(a, b, list_id)  # while the previous POST is under way
                    if inflight is not None:
                        self._submit(*inflight[:2], list_id, list_name, campaign_id, jobs,
                                     stats, sent=inflight[3], rows=inflight[2])
                    inflight = (a, b, n, pool.submit(self.client.submit_import, body))
                if inflight is not None:
                    self._submit(*inflight[:2], list_id, list_name, campaign_id, jobs, stats,
                                 sent=inflight[3], rows=inflight[2])
                    inflight = None
            finally:
                if inflight is not None:  # an error above: let the last POST finish first
                    inflight[3].cancel()
                    wait([inflight[3]])
        return jobs, stats

    def _submit(self, seq_from: int, seq_to: int, list_id: str, list_name: str,
                campaign_id: str, jobs: list[Job], stats: ListStats,
                sent: Future[dict[str, Any]] | None = None, rows: int = 0) -> None:
        """Send one job (``sent``: its POST, already under way, of ``rows`` profiles) and
        record it once accepted; a job Klaviyo refuses is halved until the bad profile(s) are
        found."""
        try:
            if sent is not None:
                job = sent.result()
            else:
                body, rows = self._body(seq_from, seq_to, list_id)
                job = self.client.submit_import(body)
        except BadRequestError as exc:
            seqs = [r[0] for r in self.con.execute(
                f"select seq from {DIFF} where seq between ? and ? order by seq",
                [seq_from, seq_to]).fetchall()]
            if len(seqs) > 1:  # find the bad profile(s) by halving; the rest still go
                mid = len(seqs) // 2
                self._submit(seqs[0], seqs[mid - 1], list_id, list_name, campaign_id, jobs,
                             stats)
                self._submit(seqs[mid], seqs[-1], list_id, list_name, campaign_id, jobs, stats)
                return
            reason = f"refused by Klaviyo: {exc.message}"
            with self.store.step("pending_rows", "rejected_rows", "rejected_members",
                                 "deliveries"):
                identifier, amperity_id = self._refuse(list_id, list_name, campaign_id,
                                                       seq_from, reason)
            crashpoint("job.refused")
            stats.rejected += 1
            stats.rejections.append((identifier, amperity_id, reason))
            self.progress(list_id, 1)
            return
        crashpoint("job.accepted")  # Klaviyo has the job; state does not know it yet
        j = Job(str(job["id"]), list_id, list_name, campaign_id, seq_from, seq_to,
                self.delivery_id)
        with self.store.step("import_jobs"):
            self.con.execute(
                f"insert into {self.t('import_jobs')} (account_id, list_id, list_name, "
                f"campaign_id, run_id, job_id, seq_from, seq_to, submitted_at, status, "
                f"confirmed_at, delivery_id) values (?, ?, ?, ?, ?, ?, ?, ?, ?, 'submitted', "
                f"null, ?)",
                [self.account_id, list_id, list_name, campaign_id, self.run_id, j.job_id,
                 j.seq_from, j.seq_to, now_utc(), self.delivery_id])
        crashpoint("job.recorded")
        jobs.append(j)
        stats.jobs += 1
        j.rows = rows
        stats.submitted += rows
        self.progress(list_id, rows)

    def _refuse(self, list_id: str, list_name: str, campaign_id: str, seq_from: int,
                reason: str) -> tuple[str, str | None]:
        """A row Klaviyo refused on its own: rejected, out of the intent (in the caller's
        step)."""
        info = self.con.execute(
            f"select identifier, amperity_id, fingerprint from {self.t('pending_rows')} "
            f"where account_id = ? and list_id = ? and op = 'upsert' and seq = ?",
            [self.account_id, list_id, seq_from]).fetchone()
        identifier, amperity_id, fingerprint = info if info else ("?", None, None)
        self._reject(list_id, list_name, campaign_id, identifier, amperity_id, fingerprint,
                     reason)
        self.con.execute(f"delete from {self.t('pending_rows')} where account_id = ? "
                         f"and list_id = ? and op = 'upsert' and seq = ?",
                         [self.account_id, list_id, seq_from])
        self.tally(rejected=1)
        return identifier, amperity_id

    def submitted_jobs(self) -> list[Job]:
        """Jobs a previous (killed) run submitted and never confirmed."""
        # a job recorded before jobs carried their delivery counts for the campaign's
        # running delivery
        return [Job(*r) for r in self.con.execute(
            f"select j.job_id, j.list_id, j.list_name, j.campaign_id, j.seq_from, j.seq_to, "
            f"coalesce(j.delivery_id, (select d.delivery_id from {self.t('deliveries')} as d "
            f"where d.account_id = j.account_id and d.campaign_id = j.campaign_id "
            f"and d.status = 'running' order by d.started_at desc limit 1)) "
            f"from {self.t('import_jobs')} as j where j.account_id = ? "
            f"and j.status = 'submitted' order by j.submitted_at", [self.account_id]
        ).fetchall()]

    def wait_and_confirm(self, jobs: list[Job], identifier_field: str | None = None
                         ) -> dict[str, ListStats]:
        """Poll until every job is done, confirming each; stats per list id."""
        out: dict[str, ListStats] = {}
        outstanding = {j.job_id: j for j in jobs}
        done: dict[str, list[tuple[Job, int]]] = {}
        interval = POLL_FIRST_S
        progress = JobProgress(self.client.clock)
        while outstanding:
            statuses: dict[str, dict[str, Any]] = {}
            if len(outstanding) > 1:
                for d in self.client.recent_jobs(100):
                    statuses[str(d["id"])] = d.get("attributes") or {}
            left: int | None = 0  # profiles the outstanding jobs have still to import
            for job_id in list(outstanding):
                attrs = statuses.get(job_id)
                if attrs is None:
                    try:
                        attrs = self.client.get_job(job_id).get("attributes") or {}
                    except KlaviyoError as exc:
                        if getattr(exc, "status", None) == 404:
                            self._abandon(outstanding.pop(job_id))
                            continue
                        raise
                status = attrs.get("status")
                if status == "complete":
                    job = outstanding.pop(job_id)
                    done.setdefault(job.list_id, []).append(
                        (job, int(attrs.get("failed_count") or 0)))
                elif status == "cancelled":
                    self._abandon(outstanding.pop(job_id))
                elif left is not None:
                    left = _left(attrs, left)
            progress.seen(left if outstanding else 0)
            crashpoint("jobs.polled")
            waiting = {j.list_id for j in outstanding.values()}
            for list_id in list(done):  # one transaction a batch of a list's jobs
                finished = done[list_id]
                rows = sum(j.size for j, _ in finished)
                if list_id in waiting and rows < CONFIRM_BATCH_ROWS:
                    continue  # more of its jobs to come: confirmed together, in fewer steps
                st = self.confirm(done.pop(list_id), identifier_field)
                out.setdefault(list_id, ListStats()).merge(st)
                out[list_id].rejections += st.rejections
            if outstanding:
                self.client.sleep(progress.wait(interval))
                interval = min(POLL_MAX_S, interval * 1.5)
        return out

    def _abandon(self, job: Job) -> None:
        """A job Klaviyo lost (404) or cancelled: its rows stay pending and are sent again
        (``confirm_or_resend`` in this run; planned again by the next run otherwise)."""
        with self.store.step("import_jobs"):
            self.con.execute(f"update {self.t('import_jobs')} set status = 'abandoned' "
                             f"where account_id = ? and job_id = ?",
                             [self.account_id, job.job_id])
        self.abandoned.append(job)
        crashpoint("job.abandoned")

    def confirm_or_resend(self, jobs: list[Job], identifier_field: str
                          ) -> dict[str, ListStats]:
        """Confirm this run's jobs of one list; send a lost or cancelled job's rows again, once.

        Rows Klaviyo never imported must not pass as delivered: a job lost twice ends the run
        (``ImportJobLostError``, exit 2) with its rows pending and the delivery still running,
        so the next push sends them.
        """
        self.abandoned = []
        out = self.wait_and_confirm(jobs, identifier_field)
        if not self.abandoned:
            return out
        first = self.abandoned[0]
        again, sub = self.submit_all(first.list_id, first.list_name, first.campaign_id,
                                     [(j.seq_from, j.seq_to) for j in self.abandoned])
        self.abandoned = []
        st = out.setdefault(first.list_id, ListStats())
        st.merge(sub)
        for list_stats in self.wait_and_confirm(again, identifier_field).values():
            st.merge(list_stats)
            st.rejections += list_stats.rejections
        if self.abandoned:
            ids = ", ".join(j.job_id for j in self.abandoned)
            raise ImportJobLostError(
                f"Klaviyo lost or cancelled the import job(s) {ids} of the list "
                f"{first.list_name!r}, sent twice: their rows were not imported.",
                hint="Push again (the rows stay pending and are sent again); if it keeps "
                "happening, check the account's import jobs in Klaviyo.",
            )
        return out

    def _import_errors(self, job: Job, identifier_field: str | None) -> dict[int, str]:
        """Klaviyo's import errors of one job, by the seq of the refused row."""
        bad: dict[int, str] = {}
        rows = self.con.execute(
            f"select identifier, seq from {self.t('pending_rows')} where account_id = ? "
            f"and list_id = ? and op = 'upsert' and seq between ? and ? order by seq",
            [self.account_id, job.list_id, job.seq_from, job.seq_to]).fetchall()
        ids = {r[0]: r[1] for r in rows}
        by_index = [r[1] for r in rows]  # the job's body holds these rows, in seq order
        for err in self.client.import_errors(job.job_id):
            attrs = err.get("attributes") or {}
            reason = "; ".join(str(x) for x in (attrs.get("title"), attrs.get("detail")) if x)
            pointer = ((attrs.get("source") or {}).get("pointer")) or ""
            m = POINTER.search(pointer)
            index = int(m.group(1)) if m else -1
            seq = by_index[index] if 0 <= index < len(by_index) else None
            if seq is None:
                original = attrs.get("original_payload") or {}
                value = ((original.get("attributes") or original).get(identifier_field or "")
                         if isinstance(original, dict) else None)
                seq = ids.get(str(value)) if value is not None else None
            if seq is not None:
                bad[seq] = reason or "rejected by Klaviyo"
        return bad

    def confirm(self, finished: list[tuple[Job, int]], identifier_field: str | None
                ) -> ListStats:
        """Move completed jobs' rows (all of one list) into ``list_members``, in one transaction.

        ``finished``: (job, failed_count) pairs; refused rows go to ``rejected_rows`` instead.
        """
        stats = ListStats()
        first = finished[0][0]
        bad: dict[int, str] = {}
        for job, failed_count in finished:
            if failed_count:
                bad.update(self._import_errors(job, identifier_field))
        a = [self.account_id, first.list_id]
        ts = now_utc()
        in_ranges = seq_ranges_sql("p.seq", [(j.seq_from, j.seq_to) for j, _ in finished])
        with self.store.step("pending_rows", "list_members", "rejected_members",
                             "rejected_rows", "import_jobs", "deliveries"):
            if bad:
                rows = self.con.execute(
                    f"select seq, identifier, amperity_id, fingerprint "
                    f"from {self.t('pending_rows')} where account_id = ? and list_id = ? "
                    f"and op = 'upsert' "
                    f"and list_contains(?, seq)", [*a, list(bad)]).fetchall()
                for seq, identifier, amperity_id, fingerprint in rows:
                    self._reject(first.list_id, first.list_name, first.campaign_id, identifier,
                                 amperity_id, fingerprint, bad[seq])
                    stats.rejected += 1
                    stats.rejections.append((identifier, amperity_id, bad[seq]))
            source = self._stage_confirmed(first.list_id, in_ranges, ts, list(bad))
            counts = self.con.execute(
                f"select count(*) filter (where is_new), count(*) filter (where not is_new), "
                f"count(*) filter (where in_members) from {source}").fetchone()
            stats.added, stats.updated = (int(counts[0]), int(counts[1])) if counts else (0, 0)
            with self.changing() as change:
                if counts and counts[2]:  # only rows state holds are replaced (none at first)
                    self._delete_members(change, first.list_id,
                                         f"select identifier from {source} where in_members")
                self._added(change, source, first.list_id, first.list_name)
                self.con.execute(f"""
                    insert into {self.t('list_members')} (account_id, list_id, list_name,
                        identifier, profile_id, fingerprint, amperity_id, first_sent_at,
                        last_sent_at, {SENT}, sent_fields)
                    select ?, ?, ?, identifier, profile_id, fingerprint, amperity_id,
                        first_sent_at, ?, {SENT}, sent_fields
                    from {source}""", [*a, first.list_name, ts])
            if self.store.holds("rejected_members", self.account_id, first.list_id):
                # a row refused before is no longer held
                self.con.execute(f"""
                    delete from {self.t('rejected_members')} where account_id = ?
                    and list_id = ? and identifier in (select identifier from {source})""", a)
            self.con.execute(f"""
                delete from {self.t('pending_rows')} as p where account_id = ? and list_id = ?
                and op = 'upsert' and {in_ranges}""", a)
            self.con.execute(f"update {self.t('import_jobs')} set status = 'confirmed', "
                             f"confirmed_at = ? where account_id = ? "
                             f"and list_contains(?, job_id)",
                             [ts, self.account_id, [j.job_id for j, _ in finished]])
            self.tally(first.delivery_id, added=stats.added, updated=stats.updated,
                       rejected=stats.rejected)
            crashpoint("jobs.confirming")  # inside the transaction: a kill rolls it back
        crashpoint("jobs.confirmed")
        self.con.execute("drop table if exists _confirm")
        self.con.execute("drop view if exists _confirm_adds")
        return stats

    def _stage_confirmed(self, list_id: str, in_ranges: str, ts: datetime, bad: list[int]
                         ) -> str:
        """The relation of the confirmed rows as ``list_members`` will hold them
        (``_confirm_sql``): a temp table when some are changes (joined with the members
        once, read four times), else a view over the pending rows (adds need nothing from
        ``list_members``: on a list's first push no row is copied twice)."""
        row = self.con.execute(
            f"select count(*) from (select 1 from {self.t('pending_rows')} as p "
            f"where p.account_id = ? and p.list_id = ? and p.op = 'upsert' "
            f"and {in_ranges} and not coalesce(p.is_new, false) limit 1)",
            [self.account_id, list_id]).fetchone()
        changes = bool(row and row[0])
        sql = self._confirm_sql(list_id, in_ranges, ts, bad, changes)
        if changes:
            self.con.execute(f"create or replace temp table _confirm as {sql}")
            return "_confirm"
        self.con.execute(f"create or replace temp view _confirm_adds as {sql}")
        return "_confirm_adds"

    def _added(self, change: Change, source: str, list_id: str, list_name: str) -> None:
        """Tell ``change`` the rows the confirmation inserts from ``source``, as the insert
        writes them (each column cast to its type in ``list_members``), without reading the
        table; a hashed column the insert does not write: the table is read again."""
        if not change.active:
            return
        given = {"list_id": sql_str(list_id), "list_name": sql_str(list_name),
                 **{c: c for c in ("identifier", "profile_id", "fingerprint", "amperity_id",
                                   "sent_email", "sent_phone_number", "sent_external_id",
                                   "sent_fields")}}
        columns = change.columns()
        if any(c not in given for c, _ in columns):
            change.unknown()
            return
        change.rows(1, "select " + ", ".join(f"cast({given[c]} as {t}) as {quote(c)}"
                                             for c, t in columns) + f" from {source}")

    def _confirm_sql(self, list_id: str, in_ranges: str, ts: datetime, bad: list[int],
                     changes: bool) -> str:
        """SQL: the confirmed rows of ``in_ranges`` as ``list_members`` will hold them, less
        the ``bad`` seqs (refused), confirmed at ``ts``; ``changes``: some rows were not
        planned as adds. Values are literals (the SQL may be a view's).

        A row planned as an add (``is_new``) was not a member when the plan was made, and
        nothing but its own confirmation makes it one before then (a plan's keys are
        distinct; removals, clears and list reads come after the imports): it needs nothing
        from ``list_members``. Only the other rows (changes) are joined with the list's
        members, and without them (a list's first push) there is no join at all: it would
        hash every member confirmed so far."""
        refused = f"[{', '.join(str(int(s)) for s in bad)}]::bigint[]"
        where = (f"p.account_id = {sql_str(self.account_id)} and p.list_id = {sql_str(list_id)} "
                 f"and p.op = 'upsert' and {in_ranges} and not list_contains({refused}, p.seq)")
        at = f"timestamp '{ts.isoformat(sep=' ')}'"
        adds = f"""
            select p.identifier, p.amperity_id, p.fingerprint, p.is_new, p.profile_id,
                p.sent_email, p.sent_phone_number, p.sent_external_id,
                {at} as first_sent_at, p.fields as sent_fields,
                false as in_members
            from {self.t('pending_rows')} as p
            where {where} and coalesce(p.is_new, false)"""
        if not changes:
            return adds
        # an identifier the row no longer carries that its profile still holds (in the mask
        # until clear.py clears it; kept while withheld or sent by another list) keeps the
        # value sent: it is what Klaviyo holds, and what the next plan looks it up by
        kept = ", ".join(f"coalesce(p.sent_{k}, case when m.sent_fields & {field_bit(k)} <> 0 "
                         f"then m.sent_{k} end) as sent_{k}" for k in IDENTIFIERS)
        return f"""{adds}
            union all
            select p.identifier, p.amperity_id, p.fingerprint, p.is_new,
                coalesce(p.profile_id, m.profile_id) as profile_id,
                {kept},
                coalesce(m.first_sent_at, {at}) as first_sent_at,
                -- a field sent before stays in the mask until it is cleared (clear.py)
                case when p.fields is null and m.sent_fields is null then null
                    else coalesce(p.fields, 0) | coalesce(m.sent_fields, 0)
                end as sent_fields,
                m.identifier is not null as in_members
            from {self.t('pending_rows')} as p
            left join {self.t('list_members')} as m on m.account_id = p.account_id
                and m.list_id = p.list_id and m.identifier = p.identifier
            where {where} and not coalesce(p.is_new, false)"""

    # -- removals ---------------------------------------------------------------------------

    def remove_all(self, list_id: str, identifier_field: str, scan_max: int = LIST_SCAN_MAX
                   ) -> ListStats:
        """Remove members that left the audience; never conclude "not in the list" from a
        failed look-up.

        1. Profile ids not cached are looked up by the campaign identifier, then by every other
           identifier the member was sent with (100 a request).
        2. A member whose profile still carries an identifier of the desired audience (it is,
           or just became, a wanted member's profile, e.g. its phone changed) leaves state
           without a DELETE; the others are DELETEd, 1,000 ids a call.
        3. Members still unresolved (every identifier changed in Klaviyo since): the list's
           own members are read (``scan_max`` members at most) and every one that carries no
           desired identifier is DELETEd. Beyond ``scan_max`` they stay pending
           (``ListStats.pending``): the run fails and the next push tries again.
        """
        stats = ListStats()
        a = [self.account_id, list_id]
        row = self.con.execute(f"select count(*) from {self.t('pending_rows')} "
                               f"where account_id = ? and list_id = ? and op = 'remove'",
                               a).fetchone()
        if not (row and row[0]):  # nobody left: no look-up, no read of the audience
            return stats
        self.con.execute("create or replace temp table _resolved (profile_id varchar, "
                         "email varchar, phone_number varchar, external_id varchar)")
        for kind in [identifier_field, *[k for k in IDENTIFIERS if k != identifier_field]]:
            self._look_up(list_id, identifier_field, kind)
        self._desired_hits(identifier_field, f"""
            select sent_email as email, sent_phone_number as phone_number,
                sent_external_id as external_id
            from {self.t('pending_rows')}
            where account_id = {sql_str(self.account_id)} and list_id = {sql_str(list_id)}
                and op = 'remove'
            union all
            select email, phone_number, external_id from _resolved""")

        def desired(*values: str) -> str:
            return self._desired_match(*values)

        keep = (f"({desired('r.sent_email', 'r.sent_phone_number', 'r.sent_external_id')} "
                f"or exists (select 1 from _resolved as p where p.profile_id = r.profile_id "
                f"and {desired('p.email', 'p.phone_number', 'p.external_id')}))")
        kept = [r[0] for r in self.con.execute(
            f"select identifier from {self.t('pending_rows')} as r where account_id = ? "
            f"and list_id = ? and op = 'remove' and {keep}", a).fetchall()]
        kept_set = set(kept)  # the profile stays a member of the list: only the state row goes
        rows = [r for r in self.con.execute(
            f"select identifier, profile_id from {self.t('pending_rows')} where account_id = ? "
            f"and list_id = ? and op = 'remove' and profile_id is not null order by seq",
            a).fetchall() if r[0] not in kept_set]
        for i in range(0, len(rows), 1000):
            chunk = rows[i:i + 1000]
            self.client.remove_from_list(list_id, sorted({r[1] for r in chunk}))
            crashpoint("removal.sent")  # removed in Klaviyo; state still holds them
            self.progress(list_id, len(chunk))
        # a killed run's unconfirmed add (is_new) no look-up resolves: no profile carries
        # its identifiers, so the list cannot hold it (no scan, which a large list forbids)
        unknown = [r[0] for r in self.con.execute(
            f"select identifier from {self.t('pending_rows')} where account_id = ? "
            f"and list_id = ? and op = 'remove' and is_new and profile_id is null "
            f"order by seq", a).fetchall() if r[0] not in kept_set]
        # every member settled above leaves state in one step, after the last DELETE: one
        # pass over the list's members however many DELETE calls were made (a kill before it
        # leaves them in state with their pending rows, so the rerun removes them again)
        gone = kept + [r[0] for r in rows] + unknown
        if gone:
            self._forget(list_id, gone)
            crashpoint("removal.forgotten")
            stats.removed += len(gone)
            self.progress(list_id, len(kept) + len(unknown))
        unresolved = [r[0] for r in self.con.execute(
            f"select identifier from {self.t('pending_rows')} where account_id = ? "
            f"and list_id = ? and op = 'remove' order by seq", a).fetchall()]
        if unresolved:
            if self._scan_and_remove(list_id, identifier_field, scan_max):
                self._forget(list_id, unresolved)
                crashpoint("scan.forgotten")
                stats.removed += len(unresolved)
                self.progress(list_id, len(unresolved))
            else:
                stats.pending += len(unresolved)
        return stats

    def _desired_hits(self, identifier_field: str, candidates: str) -> None:
        """Temp table ``_desired_hits (kind, value)``: the identifier values among
        ``candidates`` (SQL: columns email, phone_number, external_id) that a desired profile
        of the list carries, emails lower-cased.

        The desired audience is read once a kind, each value probing a hash of the few
        distinct candidates: never a hash table (nor a ``lower()``) of the whole audience per
        question asked. The campaign's own identifier is ``DESIRED.identifier``; the others
        are its ``sent_*`` columns.
        """
        self.con.execute(f"create or replace temp table _candidates as "
                         f"select distinct lower(email) as email, phone_number, external_id "
                         f"from ({candidates})")
        parts = []
        for kind in IDENTIFIERS:
            column = "identifier" if kind == identifier_field else f"sent_{kind}"
            value = f"lower(d.{column})" if kind == "email" else f"d.{column}"
            parts.append(f"select distinct '{kind}' as kind, {value} as value "
                         f"from {DESIRED} as d where {value} in "
                         f"(select {kind} from _candidates where {kind} is not null)")
        self.con.execute("create or replace temp table _desired_hits as "
                         + " union all ".join(parts))

    @staticmethod
    def _desired_match(email: str, phone: str, external_id: str) -> str:
        """SQL: a desired profile of the list carries one of these identifier values (they
        must be among the candidates ``_desired_hits`` was built from). Semi-joins on the
        small ``_desired_hits``."""
        def member(kind: str, value: str) -> str:
            if kind == "email":
                value = f"lower({value})"
            return f"{value} in (select value from _desired_hits where kind = '{kind}')"

        return (f"coalesce({member('email', email)} or {member('phone_number', phone)} "
                f"or {member('external_id', external_id)}, false)")

    def _look_up(self, list_id: str, identifier_field: str, kind: str) -> None:
        """Profile ids of pending removals by one identifier kind (100 values a request).

        Kept on the pending rows only: those members leave ``list_members`` in this run, and
        a killed run simply looks them up again.
        """
        a = [self.account_id, list_id]
        col = "identifier" if kind == identifier_field else f"sent_{kind}"
        values = [r[0] for r in self.con.execute(
            f"select distinct {col} from {self.t('pending_rows')} where account_id = ? "
            f"and list_id = ? and op = 'remove' and profile_id is null and {col} is not null "
            f"order by 1", a).fetchall()]
        pairs: list[tuple[str, str]] = []
        resolved: list[tuple[str | None, ...]] = []  # into _resolved in one insert, at the end
        for i in range(0, len(values), 100):
            chunk = values[i:i + 100]
            found = self.client.find_profiles(kind, chunk)
            crashpoint("lookup.answered")
            if not found:
                continue
            wanted = {v.lower() if kind == "email" else v: v for v in chunk}
            pairs += [(wanted[key], p["id"]) for p in found
                      if (key := (p[kind] or "").lower() if kind == "email" else p[kind])
                      in wanted]
            resolved += [(p["id"], p["email"], p["phone_number"], p["external_id"])
                         for p in found]
        insert_rows(self.con, "_resolved", resolved, 4)
        if not pairs:
            return
        self.con.execute("create or replace temp table _ids (value varchar, profile_id varchar)")
        insert_rows(self.con, "_ids", pairs, 2)
        with self.store.step("pending_rows"):
            self.con.execute(
                f"update {self.t('pending_rows')} as t set profile_id = i.profile_id "
                f"from _ids as i where t.account_id = ? and t.list_id = ? "
                f"and t.op = 'remove' and t.{col} = i.value and t.profile_id is null", a)
        crashpoint("lookup.stored")

    def _forget(self, list_id: str, identifiers: list[str]) -> None:
        """Removed members leave state (and the plan), in one transaction.

        The keys go into a small temp table first: each delete is a hash semi-join on it
        (one probe a state row), not ``list_contains`` of the whole batch for every row."""
        self.con.execute("create or replace temp table _forget (identifier varchar)")
        insert_rows(self.con, "_forget", [(i,) for i in identifiers], 1)
        a = [self.account_id, list_id]
        with self.store.step("list_members", "pending_rows", "deliveries"):
            with self.changing() as change:
                self._delete_members(change, list_id, "select identifier from _forget")
            self.con.execute(f"delete from {self.t('pending_rows')} where account_id = ? "
                             f"and list_id = ? and op = 'remove' and identifier in "
                             f"(select identifier from _forget)", a)
            self.tally(removed=len(identifiers))

    def _scan_and_remove(self, list_id: str, identifier_field: str, scan_max: int) -> bool:
        """Read the list's members; DELETE those that carry no desired identifier.

        False (nothing done) when the list holds more than ``scan_max`` members by state.
        Members that are wanted have their profile id cached in ``list_members``.
        """
        row = self.con.execute(
            f"select count(*) from {self.t('list_members')} where account_id = ? "
            f"and list_id = ?", [self.account_id, list_id]).fetchone()
        if (int(row[0]) if row else 0) > scan_max:
            return False
        self.con.execute("create or replace temp table _list_scan (profile_id varchar, "
                         "email varchar, phone_number varchar, external_id varchar)")
        page: list[tuple[str | None, ...]] = []
        for p in self.client.list_profiles(list_id):
            page.append((p["id"], p["email"], p["phone_number"], p["external_id"]))
            if len(page) >= 1000:
                insert_rows(self.con, "_list_scan", page, 4)
                page = []
        if page:
            insert_rows(self.con, "_list_scan", page, 4)
        crashpoint("scan.read")
        self._desired_hits(identifier_field,
                           "select email, phone_number, external_id from _list_scan")
        desired = self._desired_match("s.email", "s.phone_number", "s.external_id")
        extras = [r[0] for r in self.con.execute(
            f"select distinct profile_id from _list_scan as s where not {desired} "
            f"order by 1").fetchall()]
        for i in range(0, len(extras), 1000):
            self.client.remove_from_list(list_id, extras[i:i + 1000])
            crashpoint("scan.removed")
        key = "lower(s.email) = lower(m.identifier)" if identifier_field == "email" else (
            f"s.{identifier_field} = m.identifier")
        with self.store.step("list_members"):
            self.con.execute(
                f"update {self.t('list_members')} as m set profile_id = s.profile_id "
                f"from _list_scan as s where m.account_id = ? and m.list_id = ? "
                f"and m.profile_id is null and {key}", [self.account_id, list_id])
        return True
