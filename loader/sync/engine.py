"""`loader push` as a library call: campaigns → lists → plan → apply → state and history.

Over 400 lines because one push's orchestration (runs, deliveries, each campaign's lists, the
resumed delivery's counts, recipients) reads in order here; planning, applying and state
live in plan.py, apply.py and ``loader.store``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import duckdb

from loader.config import Settings, redact
from loader.dbt_results import stale_warnings
from loader.engines.profiles import Target
from loader.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REJECTED,
    AuthenticationError,
    ConfigError,
    LoaderError,
    PermissionDeniedError,
    RetriesExhaustedError,
    WarehouseError,
)
from loader.klaviyo.client import KlaviyoClient
from loader.klaviyo.limits import estimate_seconds
from loader.store import Store
from loader.store.lock import PushLock, connect
from loader.sync import clear, identity
from loader.sync.apply import LIST_SCAN_MAX, Applier, ListStats, now_utc
from loader.sync.crashpoints import crashpoint
from loader.sync.digest import Digests, Stored, same_withheld
from loader.sync.identity import WITHHELD
from loader.sync.plan import DESIRED, NOTES, ListPlan, Planner
from loader.warehouse import (
    CLEARABLE_FIELDS,
    DELIVERY_SUMMARY,
    REGISTRY,
    Campaign,
    attribute_columns,
    delivery_summary,
    read_registry,
)

# (list_id, identifier, amperity_id) of a delivery's rows the recording proves members against
# list_members; every other sendable row is one (Store.record_recipients says why)
SUSPECTS = "_klaviyo_suspects"
# above this share of a list's desired rows not unchanged (a first push: every row an add),
# and this many rows, the recording proves every row (one join) instead of listing nearly all
# of them as suspects (a small list refilled, next to a large one unchanged, is listed)
SUSPECT_SHARE = 0.5
SUSPECT_ROWS = 10_000
# the clear guard's defaults (PushOptions), ClearGuard's: half the members that had the
# field, and ten
CLEAR_GUARD_SHARE = clear.ClearGuard.share
CLEAR_GUARD_MIN = clear.ClearGuard.minimum

# Errors about the account or Klaviyo itself: the run stops (the next campaign would fail the
# same way). Any other LoaderError fails its campaign only; the others are still sent.
ACCOUNT_ERRORS = (AuthenticationError, PermissionDeniedError, RetriesExhaustedError)


class Progress(Protocol):
    def start(self, key: str, label: str, total: int) -> None: ...
    def advance(self, key: str, n: int) -> None: ...
    def finish(self, key: str) -> None: ...


class NoProgress:
    def start(self, key: str, label: str, total: int) -> None:
        pass

    def advance(self, key: str, n: int) -> None:
        pass

    def finish(self, key: str) -> None:
        pass


@dataclass
class PushOptions:
    campaigns: list[str] = field(default_factory=list)
    at: datetime | None = None  # naive UTC; default now
    dry_run: bool = False
    sample: int | None = None
    lock_wait_s: float = 30.0
    list_scan_max: int = LIST_SCAN_MAX  # members a list may hold for removals to read it
    all_campaigns: bool = False  # every registry campaign, due or not
    # the clear guard (loader.sync.clear.ClearGuard): a field a push would clear on at least
    # clear_guard_min members and clear_guard_share of the list's members that had it is not
    # cleared (a warning says so) unless allow_clears names it, or "all"
    allow_clears: list[str] = field(default_factory=list)
    clear_guard_share: float = CLEAR_GUARD_SHARE
    clear_guard_min: int = CLEAR_GUARD_MIN


@dataclass
class ListResult:
    campaign_id: str
    list_name: str
    list_id: str | None
    created: bool = False
    customers: int | None = None  # from klaviyo_delivery_summary (None when it is absent)
    rows: int | None = None
    shrink: int | None = None
    expansion: int | None = None
    duplicates: int = 0
    withheld: int = 0
    cleared: int = 0  # profiles whose fields went from a value to NULL, cleared in Klaviyo
    reclustered: int = 0  # members now another customer, same content: state updated only
    added: int = 0
    updated: int = 0
    removed: int = 0
    rejected: int = 0
    unchanged: int = 0
    # rows Klaviyo refused before whose content has not changed since: not sent again
    still_refused: int = 0
    import_jobs: int = 0
    pending_removals: int = 0  # members that left but whose Klaviyo profile was not found
    skipped: bool = False  # nothing it reads changed since a clean push: not planned
    plan: ListPlan | None = None

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "plan"}
        if self.plan is not None:
            d["plan"] = self.plan.as_dict()
        return d


@dataclass
class PushResult:
    run_id: str
    account_id: str | None
    dry_run: bool
    sample: int | None
    campaigns: list[str]
    lists: list[ListResult] = field(default_factory=list)
    deliveries: dict[str, str] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    estimated_seconds: float | None = None
    error: str | None = None
    hint: str | None = None
    status: str = "running"
    # campaign id -> {"error", "hint"}: campaigns that failed while the others were sent
    failures: dict[str, dict[str, str | None]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # campaigns pushed again with nothing to send: their last delivery stands, no new one
    resynced: list[str] = field(default_factory=list)
    # campaign id -> the delivery's totals (a rerun completing a killed run's delivery
    # reports all of it; the lists above show this run's share)
    delivery_totals: dict[str, dict[str, int]] = field(default_factory=dict)
    control_duplicates: dict[str, int] = field(default_factory=dict)
    # what the client did about answers Klaviyo lost (a list found by name instead of created
    # twice, an import job sent again), and how many answers were lost, by operation
    notes: list[str] = field(default_factory=list)
    unanswered: dict[str, int] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return sum(r.rejected for r in self.lists)

    @property
    def exit_code(self) -> int:
        if self.error or self.failures:
            return EXIT_FAILED
        return EXIT_REJECTED if self.rejected else EXIT_OK

    def fail(self, campaign_id: str, exc: LoaderError) -> None:
        self.failures[campaign_id] = {"error": exc.message, "hint": exc.hint}

    def as_dict(self) -> dict[str, Any]:
        totals = {k: sum(getattr(r, k) for r in self.lists)
                  for k in ("added", "updated", "removed", "rejected", "unchanged", "withheld",
                            "duplicates", "cleared")}
        return {
            "run_id": self.run_id, "account_id": self.account_id, "status": self.status,
            "exit_code": self.exit_code, "dry_run": self.dry_run, "sample": self.sample,
            "campaigns": self.campaigns, "deliveries": self.deliveries,
            "lists": [r.as_dict() for r in self.lists], "totals": totals,
            "requests": dict(sorted(self.requests.items())),
            "estimated_seconds": self.estimated_seconds,
            "unanswered": dict(sorted(self.unanswered.items())), "notes": self.notes,
            "error": self.error, "hint": self.hint, "failures": self.failures,
            "warnings": self.warnings, "resynced": self.resynced,
            "delivery_totals": self.delivery_totals,
            "control_duplicates": self.control_duplicates,
        }


def clear_guard(options: PushOptions) -> clear.ClearGuard:
    """The push's clear guard; an unknown field in ``allow_clears`` is a ConfigError."""
    allowed = frozenset(options.allow_clears)
    unknown = sorted(allowed - set(CLEARABLE_FIELDS) - {"all"})
    if unknown:
        raise ConfigError(f"--allow-clears: {', '.join(unknown)} is not a field a push clears",
                          hint="Name one of: all, " + ", ".join(CLEARABLE_FIELDS) + ".")
    if not 0 <= options.clear_guard_share <= 1 or options.clear_guard_min < 0:
        raise ConfigError("the clear guard's share is between 0 and 1 and its minimum >= 0",
                          hint="e.g. LOADER_CLEAR_GUARD_SHARE=0.5 LOADER_CLEAR_GUARD_MIN=10.")
    return clear.ClearGuard(options.clear_guard_share, options.clear_guard_min, allowed)


def list_conflicts(campaigns: list[Campaign]) -> dict[str, ConfigError]:
    """A list belongs to one campaign: two campaigns syncing one list would undo each other.
    Each campaign sending to a list another campaign sends to gets an error."""
    owners: dict[str, list[str]] = {}
    for c in campaigns:
        for name in c.list_names:
            if c.campaign_id not in owners.setdefault(name, []):
                owners[name].append(c.campaign_id)
    out: dict[str, ConfigError] = {}
    for name, ids in owners.items():
        if len(ids) > 1:
            for cid in ids:
                out.setdefault(cid, ConfigError(
                    f"Campaigns {' and '.join(repr(i) for i in ids)} all send to the Klaviyo "
                    f"list {name!r}; each would remove the others' members. Not pushed.",
                    hint="Give each campaign's treatments their own list names, then "
                    "`dbt build`.",
                ))
    return out


def pending_removals(results: list[ListResult]) -> None:
    """Members left in a list because no Klaviyo profile matched them fail the campaign."""
    pending = [r for r in results if r.pending_removals]
    if pending:
        what = "; ".join(f"{r.pending_removals:,} from {r.list_name!r} ({r.campaign_id})"
                         for r in pending)
        raise IncompleteRemovalError(
            f"Removals could not be matched to a Klaviyo profile: {what}. Their identifiers "
            "changed in Klaviyo since they were sent and the list is too large to read "
            "(over the list_scan_max members); they stay pending in klaviyo_loader.list_members.",
            hint="Push the campaign again (the removals are retried), or remove those members "
            "in Klaviyo by hand and push again.",
        )


class IncompleteRemovalError(LoaderError):
    """Some members that left an audience are still in the list (exit 2; retried next push)."""


def due(campaigns: list[Campaign], deliveries: list[dict[str, Any]], at: datetime
        ) -> tuple[list[Campaign], dict[str, LoaderError]]:
    """The campaigns due at ``at``, and an error for each whose timing is invalid."""
    from loader.schedule import due_each

    ids, problems = due_each([c.row for c in campaigns], deliveries, at)
    return [c for c in campaigns if c.campaign_id in ids], dict(problems)


def delivered_and_not_due(campaign: Campaign, deliveries: list[dict[str, Any]], at: datetime
                          ) -> bool:
    """A campaign already delivered for its current schedule tick: pushing it again is a
    resync, which makes a delivery only if something is sent."""
    from loader.schedule import ScheduleError, deliveries_of, is_due

    mine = [d for d in deliveries if d.get("campaign_id") == campaign.campaign_id]
    if not deliveries_of(mine).get(campaign.campaign_id):
        return False
    try:
        return not is_due(campaign.row, mine, at)
    except ScheduleError:
        return False


def scheduled_for(campaign: Campaign, at: datetime) -> datetime:
    from loader.schedule import scheduled_for as sched

    value = sched(campaign.row, at)
    return value.replace(tzinfo=None) if value.tzinfo else value


class Pusher:
    def __init__(self, settings: Settings, options: PushOptions, client: KlaviyoClient,
                 progress: Progress | None = None, target: Target | None = None) -> None:
        self.settings = settings
        self.target = target
        self.options = options
        self.client = client
        self.progress = progress or NoProgress()
        self.schema = settings.state_schema
        self.run_id = uuid.uuid4().hex[:12]
        self.at = options.at or now_utc()
        self._con: duckdb.DuckDBPyConnection | None = None
        self.store: Store | None = None
        # skip what did not change (loader.sync.digest): None on a sample or dry run
        self._digests: Digests | None = None
        # lists planned (or skipped) cleanly this run, whose digests are stored at its end
        self._clean: list[tuple[Campaign, str, str, list[str], int, int, int]] = []
        self._identity_pass: Callable[[], object] | None = None
        self._identity_state: object = None  # the state the identity pass read (digests)

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> PushResult:
        result = PushResult(self.run_id, None, self.options.dry_run, self.options.sample, [])
        if self.target is not None and self.target.type in ("postgres", "spark"):
            self._run_warehouse(result)
            return result
        if self.options.dry_run:
            con = connect(self.settings.duckdb_path, read_only=True)
            try:
                self._run(con, result)
            finally:
                con.close()
            return result
        if not os.path.exists(self.settings.duckdb_path):  # never create it, nor its lock
            raise WarehouseError(
                f"The warehouse file {self.settings.duckdb_path} does not exist.",
                hint="Run `dbt build` first, or point DUCKDB_PATH (or --duckdb-path) at its "
                "file.")
        with PushLock.for_database(self.settings.duckdb_path, self.run_id,
                                   self.options.lock_wait_s):
            con = connect(self.settings.duckdb_path)
            try:
                self._run(con, result)
            finally:
                con.close()
        return result

    def _run_warehouse(self, result: PushResult) -> None:
        """The push on a PostgreSQL or Spark warehouse: one push per (warehouse, account),
        worked in a local copy, every step written to the warehouse atomically (one PostgreSQL
        transaction: loader.store.postgres; one Spark commit row: loader.store.spark)."""
        from loader.store.warehouse import working_copy

        assert self.target is not None
        dry = self.options.dry_run
        with working_copy(self.target, self.schema, self.run_id, read_only=dry) as pg:
            account_id = self.client.get_account_id()
            if not dry:
                pg.lock(account_id, self.options.lock_wait_s)
                pg.ensure_schema()
            pg.load_warehouse(REGISTRY, DELIVERY_SUMMARY)
            pg.load_state(account_id)
            self._run(pg.con, result, Store(pg.con, self.schema, None if dry else pg),
                      account_id)

    def _run(self, con: duckdb.DuckDBPyConnection, result: PushResult,
             store: Store | None = None, account_id: str | None = None) -> None:
        self._con = con
        self.store = store = store or Store(con, self.schema)
        registry, invalid = read_registry(con)
        failed: dict[str, LoaderError] = {**invalid, **list_conflicts(registry)}
        account_id = account_id or self.client.get_account_id()
        result.account_id = account_id
        deliveries = store.deliveries(account_id)
        if self.options.all_campaigns:
            campaigns = list(registry)
        elif self.options.campaigns:
            campaigns = self._named(registry, invalid, result)
        else:
            campaigns, problems = due(registry, deliveries, self.at)
            failed.update(problems)
            campaigns += [c for c in registry if c.campaign_id in problems]
        for cid in invalid:  # a registry row that is not a campaign is reported either way
            if cid not in result.failures:
                result.fail(cid, invalid[cid])
        result.campaigns = [c.campaign_id for c in campaigns]
        todo = []
        for c in campaigns:
            if c.campaign_id in failed:
                result.fail(c.campaign_id, failed[c.campaign_id])
            else:
                todo.append(c)
        planner = Planner(con, self.schema, account_id)
        planner.clear_guard = clear_guard(self.options)
        has_state = planner.has_state
        self._identity_pass = lambda: self._identity_build(lambda: identity.build(
            con, self.schema, account_id, registry, todo, has_state))
        planner.identity = self._identity_pass
        result.warnings += self._orphans(store, registry, account_id, planner.has_state)
        # audiences the last dbt command failed to build: sent as an earlier build left them
        result.warnings += stale_warnings(self.settings.dbt_target_path, todo)
        if self.options.dry_run:
            planner.ready()
            for c in todo:
                self._each(result, c, lambda c=c: self._dry_run_campaign(con, planner, c,
                                                                          result))
            result.requests = self._request_totals(result)
            result.estimated_seconds = round(sum(
                estimate_seconds(op, n) for op, n in result.requests.items()), 1)
            result.status = "planned"
            self._summarise_failures(result)
            return
        store.ensure()
        planner.has_state = True
        store.start_run(self.run_id, account_id, now_utc(), ",".join(result.campaigns),
                        self.options.sample is not None)
        crashpoint("run.started")
        applier = Applier(store, account_id, self.client, self.run_id,
                          progress=lambda key, n: self.progress.advance(key, n))
        if self.options.sample is None:
            self._digests = Digests(con, store, account_id, registry,
                                    {"list_scan_max": self.options.list_scan_max},
                                    run_id=self.run_id)
            applier.state_changes = self._digests.changing  # the end reads only what changed
        try:
            recovered = applier.wait_and_confirm(applier.submitted_jobs())
            crashpoint("recovery.done")
            if self._digests is not None:
                # the state this push starts from: read only if a list may be skipped
                self._digests.begin(self._skippable(con, todo, deliveries))
            for c in todo:
                self._each(result, c, lambda c=c: self._push_campaign(
                    con, planner, applier, c, result, recovered, deliveries))
            self._record_digests(con, planner)
        except LoaderError as exc:  # an account-wide error: the run stops
            result.error, result.hint = exc.message, exc.hint
            result.status = "failed"
        except Exception as exc:  # record the failure, then let it surface
            self._finish_run(result, "failed", f"{type(exc).__name__}: {exc}")
            raise
        else:
            self._summarise_failures(result)
            result.status = ("failed" if result.failures else
                             "completed_with_rejections" if result.rejected else "completed")
        result.requests = dict(self.client.requests)
        result.notes, result.unanswered = list(self.client.notes), dict(self.client.unanswered)
        self._checkpoint(con)
        self._finish_run(result, result.status, result.error)
        crashpoint("run.finished")

    @staticmethod
    def _checkpoint(con: duckdb.DuckDBPyConnection) -> None:
        """Write this push's changes into the file now, so that the checkpoint that ends the
        run (closing, after its last step) also merges the partial row groups they left. A
        row group is merged only by the checkpoint after the one that wrote it: without this,
        the next push, however little it changes, pays for this one's merge (about 0.5 s of
        CPU at 300,000 recipients). Durability does not depend on it (each step committed)."""
        with contextlib.suppress(duckdb.Error):
            con.execute("checkpoint")

    def _named(self, registry: list[Campaign], invalid: dict[str, LoaderError],
               result: PushResult) -> list[Campaign]:
        """The campaigns named on the command line (by id or name); unknown ones fail."""
        out: list[Campaign] = []
        for name in self.options.campaigns:
            match = [c for c in registry if name in (c.campaign_id, c.campaign_name)]
            if match:
                if match[0] not in out:
                    out.append(match[0])
            elif name not in invalid:
                known = ", ".join(c.campaign_id for c in registry) or "none"
                result.fail(name, WarehouseError(
                    f"No campaign {name!r} in the registry (known: {known}).",
                    hint="Check the name, or run `dbt build` so the registry lists it."))
        return out

    def _each(self, result: PushResult, c: Campaign, work: Callable[[], None]) -> None:
        """Run one campaign's work: its own error fails it alone; an account-wide one (or a
        bug) stops the run."""
        try:
            work()
        except ACCOUNT_ERRORS:
            raise
        except LoaderError as exc:
            self._rollback()
            result.fail(c.campaign_id, exc)
        except duckdb.Error as exc:  # e.g. its audience relation cannot be read
            self._rollback()
            result.fail(c.campaign_id, WarehouseError(
                f"campaign {c.campaign_id!r}: {str(exc).splitlines()[0]}",
                hint="Check the campaign's audience relation (`dbt build`)."))

    def _rollback(self) -> None:
        """Leave no transaction of a failed campaign open for the next one."""
        if self._con is not None:
            with contextlib.suppress(duckdb.Error):
                self._con.execute("rollback")

    @staticmethod
    def _summarise_failures(result: PushResult) -> None:
        if not result.failures or result.error:
            return
        n = len(result.failures)
        total = len(set(result.campaigns) | set(result.failures))
        what = "; ".join(f"{cid}: {f['error']}" for cid, f in result.failures.items())
        result.error = f"{n} of {total} campaign(s) failed: {what}"
        result.hint = ("The other campaigns were sent. Fix the failed ones and push again "
                       "(state is kept; nothing is sent twice).")
        if n == 1:
            result.hint = next(iter(result.failures.values()))["hint"] or result.hint

    @staticmethod
    def _orphans(store: Store, registry: list[Campaign], account_id: str, has_state: bool
                 ) -> list[str]:
        """Lists the state filled that no campaign targets any more (e.g. a renamed list)."""
        if not has_state:
            return []
        targeted = {n for c in registry for n in c.list_names}
        return [f"the Klaviyo list {name!r} (id {lid}) still holds {n:,} member(s) a push "
                f"sent, but no campaign sends to it any more (renamed?); `loader lists` shows "
                f"it and `loader prune` empties or deletes it"
                for name, lid, n in store.orphan_lists(account_id, targeted)]

    def _finish_run(self, result: PushResult, status: str, error: str | None) -> None:
        tot = {k: sum(getattr(r, k) for r in result.lists)
               for k in ("added", "updated", "removed", "rejected")}
        if error:  # state never holds a secret
            error = redact(error, self.settings.credentials.secrets())
        assert self.store is not None
        self.store.finish_run(self.run_id, now_utc(), status, tot, error)

    @staticmethod
    def _request_totals(result: PushResult) -> dict[str, int]:
        totals: dict[str, int] = {"get_accounts": 1}
        for r in result.lists:
            if r.plan:
                for op, n in r.plan.requests.items():
                    totals[op] = totals.get(op, 0) + n
        return totals

    # -- dry run ---------------------------------------------------------------------------

    def _dry_run_campaign(self, con: duckdb.DuckDBPyConnection, planner: Planner, c: Campaign,
                          result: PushResult) -> None:
        columns = attribute_columns(con, c)
        summary = delivery_summary(con, c.campaign_id)
        control = planner.start_campaign(c)
        for name in c.list_names:
            ids = self.client.find_lists(name)
            if len(ids) > 1:
                self.client.resolve_list(name)  # raises AmbiguousListError
            list_id = ids[0] if ids else None
            planner.build_desired(c, name, columns, self.options.sample, list_id)
            plan = planner.plan(c, name, list_id, bool(ids), self.options.sample)
            r = self._list_result(c, name, list_id, summary)
            r.plan = plan
            r.added, r.updated, r.unchanged = plan.adds, plan.changes, plan.unchanged
            r.removed, r.duplicates = plan.removals, plan.duplicates
            r.rejected = plan.oversize + plan.invalid
            r.withheld = plan.withheld
            r.cleared = plan.clears
            result.lists.append(r)
            self._warn_empty(result, c, name, plan)
            self._warn_held(result, c, name, plan)
        result.control_duplicates[c.campaign_id] = control

    @staticmethod
    def _list_result(c: Campaign, name: str, list_id: str | None,
                     summary: dict[str, dict[str, int]]) -> ListResult:
        s = summary.get(name)
        if s is None:
            return ListResult(c.campaign_id, name, list_id)
        return ListResult(c.campaign_id, name, list_id, customers=s.get("customers", 0),
                          rows=s.get("rows_to_send", 0), shrink=s.get("shrink", 0),
                          expansion=s.get("expansion", 0), duplicates=s.get("duplicates", 0))

    # -- real push -------------------------------------------------------------------------

    def _warn_held(self, result: PushResult, c: Campaign, name: str, plan: ListPlan) -> None:
        """A warning for each field the clear guard held back on the list."""
        verb = "would clear" if self.options.dry_run else "was to clear"
        for h in plan.held_clears:
            result.warnings.append(
                f"campaign {c.campaign_id!r}, list {name!r}: the push {verb} {h.field!r} on "
                f"{h.clears:,} of the {h.had:,} member(s) that had one "
                f"({100 * h.clears // max(h.had, 1)} %); not cleared (a column renamed or "
                f"dropped upstream turns every value into NULL: check the campaign's mapping "
                f"and `dbt build` warnings). If it is meant, push again with "
                f"--allow-clears {h.field} (or --allow-clears all): state keeps the field "
                f"to clear")

    @staticmethod
    def _warn_empty(result: PushResult, c: Campaign, name: str, plan: ListPlan) -> None:
        if plan.desired == 0:
            result.warnings.append(
                f"campaign {c.campaign_id!r}: the list {name!r} gets nobody (its audience has "
                f"no sendable row); check the campaign's segments and conditions")

    def _running_delivery(self, account_id: str, c: Campaign) -> str | None:
        """A delivery a killed (or failed) run left running: this run resumes it."""
        assert self.store is not None
        return self.store.resume_delivery(account_id, c.campaign_id,
                                          self.options.sample is not None, self.run_id)

    def _new_delivery(self, account_id: str, c: Campaign) -> str:
        assert self.store is not None
        delivery_id = uuid.uuid4().hex[:16]
        self.store.open_delivery(delivery_id, self.run_id, account_id, c.campaign_id,
                                 scheduled_for(c, self.at), now_utc(),
                                 self.options.sample is not None)
        crashpoint("delivery.opened")
        return delivery_id

    def _push_campaign(self, con: duckdb.DuckDBPyConnection, planner: Planner,
                       applier: Applier, c: Campaign, result: PushResult,
                       recovered: dict[str, ListStats],
                       deliveries: list[dict[str, Any]]) -> None:
        """Push one campaign's lists. A campaign due (or never delivered) makes a delivery;
        one already delivered for its current tick (a named push again) makes one only when
        something is sent: otherwise its last delivery stands (``result.resynced``)."""
        account_id = planner.account_id
        store = applier.store
        columns = attribute_columns(con, c)
        scheduled_for(c, self.at)  # an invalid timing fails the campaign before anything
        summary = delivery_summary(con, c.campaign_id)
        sample = self.options.sample
        resync = sample is None and delivered_and_not_due(c, deliveries, self.at)
        delivery_id = self._running_delivery(account_id, c)
        resumed = delivery_id  # a killed run's delivery: members it sent count once
        if delivery_id is None and not resync:
            delivery_id = self._new_delivery(account_id, c)
        applier.delivery_id = delivery_id
        result.control_duplicates[c.campaign_id] = planner.start_campaign(c)
        lists: list[tuple[str, str]] = []
        con.execute("create or replace temp table _sample (list_id varchar, identifier varchar)")
        con.execute(f"create or replace temp table {SUSPECTS} (list_id varchar, "
                    f"identifier varchar, amperity_id varchar)")
        vouched = sample is None  # every list's plan (or skip) names its suspects
        counted: list[tuple[str, int]] = []  # lists empty when planned: (list, desired rows)
        campaign_results: list[ListResult] = []
        skipped: list[tuple[str, ListResult]] = []  # lists not planned: nothing changed
        clean: list[tuple[Campaign, str, str, list[str], int, int, int]] = []
        sent_before = 0  # members the resumed delivery sent before this run, still in its lists
        for name in c.list_names:
            list_id, created = self.client.resolve_list(
                name, known_ids=store.known_list_ids(account_id, name))
            assert list_id is not None
            lists.append((name, list_id))
            applier.forget_other_lists(name, list_id)
            if created:  # a new list is empty: never trust state for its id
                applier.forget_list(list_id)
                recovered.pop(list_id, None)
            crashpoint("list.resolved")
            r = self._list_result(c, name, list_id, summary)
            r.created = created
            skip = self._unchanged(c, name, list_id, columns, created or list_id in recovered,
                                   delivery_id)
            if skip is not None:  # nothing it reads changed: not planned, nothing to send
                r.unchanged, r.duplicates, r.withheld = (skip.desired, skip.duplicates,
                                                         skip.withheld)
                r.skipped = True
                skipped.append((name, r))
                clean.append((c, name, list_id, columns, skip.desired, skip.duplicates,
                              skip.withheld))
                self._warn_empty(result, c, name, ListPlan(c.campaign_id, name, list_id, True,
                                                           desired=skip.desired))
                result.lists.append(r)
                campaign_results.append(r)
                continue
            earlier = store.sent_earlier(account_id, list_id, resumed)
            planner.build_desired(c, name, columns, sample, list_id)
            if sample is not None:
                con.execute(f"insert into _sample select ?, identifier from {DESIRED}",
                            [list_id])
            plan = planner.plan(c, name, list_id, True, sample)
            planner.note_list(name)
            vouched = vouched and self._suspects(planner, list_id, plan, counted)
            self._warn_empty(result, c, name, plan)
            self._warn_held(result, c, name, plan)
            r.unchanged, r.duplicates, r.withheld = plan.unchanged, plan.duplicates, plan.withheld
            r.still_refused = plan.held_rejected
            sends = (plan.adds + plan.changes + plan.oversize + plan.clears + created
                     + (plan.removals if sample is None else 0) + (list_id in recovered))
            if delivery_id is None and sends:
                delivery_id = self._new_delivery(account_id, c)
                applier.delivery_id = delivery_id
            if self._digests is not None:  # from here on, state may change under its digest
                self._digests.forget(list_id)
            applier.rows_by_rowid = planner.diff_view  # DIFF is a view over DESIRED
            stats = applier.write_intent(
                planner.removals_sql(list_id) if sample is None else None,
                list_id, name, c.campaign_id)
            crashpoint("intent.written")
            key = list_id
            self.progress.start(key, f"{c.campaign_id} → {name}",
                                plan.adds + plan.changes + plan.removals)
            jobs, sub = applier.submit_all(list_id, name, c.campaign_id, planner.bounds)
            stats.merge(sub)
            confirmed = applier.confirm_or_resend(jobs, c.identifier)
            rec = recovered.pop(list_id, None)
            for st in (confirmed.get(list_id), rec):
                if st is not None:
                    stats.merge(st)
            # each member counts once: a recovered job's rows are this run's adds/updates, not
            # also unchanged; rows the resumed delivery sent before the kill stay unchanged
            # for this run but not for the delivery (its tally already counts them)
            recovered_rows = (rec.added + rec.updated) if rec else 0
            r.unchanged = max(0, r.unchanged - recovered_rows)
            sent_before += max(0, min(r.unchanged, earlier[0] + earlier[1] - recovered_rows))
            r.cleared = clear.clear_fields(applier, list_id, c.identifier, planner.clear_mask,
                                           planner.held_mask)
            r.reclustered = plan.reclustered
            if sample is None:
                stats.merge(applier.remove_all(list_id, c.identifier,
                                               self.options.list_scan_max))
            crashpoint("list.applied")
            self.progress.finish(key)
            r.added, r.updated, r.removed = stats.added, stats.updated, stats.removed
            r.rejected, r.import_jobs = stats.rejected + plan.invalid, stats.jobs
            r.pending_removals = stats.pending
            result.lists.append(r)
            campaign_results.append(r)
            # a list with clears held back is planned again next push (never skipped as
            # unchanged), so an --allow-clears or a fixed column reaches it
            if (sample is None and not r.rejected and not r.pending_removals
                    and not plan.oversize and not plan.held_rejected and not plan.invalid
                    and not plan.held_clears):
                clean.append((c, name, list_id, columns, plan.desired, plan.duplicates,
                              plan.withheld))
        pending_removals(campaign_results)
        if delivery_id is None:
            result.resynced.append(c.campaign_id)
            self._clean += clean
            return
        for name, r in skipped:  # a later list opened a delivery: it records every list
            planner.build_desired(c, name, columns, None)
            planner.note_list(name)
            vouched = vouched and r.list_id is not None and self._suspects(
                planner, r.list_id, None, counted)
        # a list empty when planned is proved by its count, now that its jobs are confirmed
        vouched = vouched and all(store.members(account_id, list_id) == desired
                                  for list_id, desired in counted)
        result.deliveries[c.campaign_id] = delivery_id
        result.delivery_totals[c.campaign_id] = self._complete_delivery(
            con, account_id, c, delivery_id, lists, campaign_results, sent_before,
            SUSPECTS if vouched else None)
        self._clean += clean

    @staticmethod
    def _suspects(planner: Planner, list_id: str, plan: ListPlan | None,
                  counted: list[tuple[str, int]]) -> bool:
        """Add the list's suspects to ``SUSPECTS`` (``Planner.add_suspects``; ``plan`` None: a
        list skipped by its digest, which has no plan rows). False, adding nothing, when most
        of a large list is not unchanged (the recording then proves every row of the
        delivery: one join instead of listing nearly all of them).

        A list state held no member of when it was planned (``plan.empty``: its first push,
        or one after it was emptied or recreated) lists no plan row: it is added to
        ``counted`` with its desired rows, and the caller proves its rows by a count once its
        jobs are confirmed. Every member it then holds was written by this push from a row
        of ``DESIRED`` with that row's (identifier, customer): the confirmation writes the
        plan's rows, nothing else writes a list's members while the push holds its lock, and
        a killed run's jobs were confirmed before anything was planned. ``list_members``
        holds an identifier once per list and ``DESIRED`` has one row per identifier, so
        when the list holds as many members as ``DESIRED`` has rows, every desired row is a
        member with its customer, which is what the proof join would find; any row refused,
        oversize, held or not confirmed makes the counts differ, and the caller then proves
        every row of the delivery by the join. The rows on several rows and those not sent
        for an invalid phone number are suspects as for any list."""
        if plan is not None and plan.empty:
            planner.add_suspects(SUSPECTS, list_id, planned=False)
            counted.append((list_id, plan.desired))
            return True
        if plan is not None and (doubt := plan.desired - plan.unchanged) > SUSPECT_ROWS \
                and doubt > SUSPECT_SHARE * plan.desired:
            return False
        planner.add_suspects(SUSPECTS, list_id, planned=plan is not None)
        return True

    def _skippable(self, con: duckdb.DuckDBPyConnection, todo: list[Campaign],
                   deliveries: list[dict[str, Any]]) -> list[tuple[Campaign, str, list[str]]]:
        """(campaign, list name, columns) of the lists this push might skip: those of the
        campaigns it pushes again for a tick already delivered (any other makes a delivery
        now, which plans). A campaign whose columns cannot be read fails in its own push."""
        out: list[tuple[Campaign, str, list[str]]] = []
        for c in todo:
            if not delivered_and_not_due(c, deliveries, self.at):
                continue
            try:
                columns = attribute_columns(con, c)
            except (LoaderError, duckdb.Error):
                continue
            out += [(c, name, columns) for name in c.list_names]
        return out

    def _unchanged(self, c: Campaign, name: str, list_id: str, columns: list[str],
                   fresh: bool, delivery_id: str | None) -> Stored | None:
        """The stored counts of a list that needs no plan: nothing it reads changed since a
        clean push, state holds no pending work for it, and no delivery records it now.
        Two stages: its inputs but state (no state read), then the whole digest over the
        state part read from the tables at the push's start, never a stored one."""
        d = self._digests
        if d is None or fresh or delivery_id is not None:
            return None
        stored = d.stored(list_id)
        if (stored is None or stored.inputs != d.inputs(c, name, columns)
                or d.pending(list_id)):
            return None
        state = d.fresh_state()
        if state is None or stored.digest != d.of(c, name, columns, state):
            return None
        return stored

    def _record_digests(self, con: duckdb.DuckDBPyConnection, planner: Planner) -> None:
        """Store the digests of the lists planned (or skipped) cleanly, computed over the
        state the sends left. The identity pass's verdicts must hold for that state: when
        they read state, they must have been computed on the state the push began with (the
        skipped lists were checked against it) and, when the sends changed state, come out
        the same on the new state; otherwise nothing is stored (the next push plans every
        list)."""
        d, clean, self._clean = self._digests, self._clean, []
        if d is None or not clean:
            return
        changed = d.refresh_state()
        if planner.identity_built and planner.identity_read_state:
            if self._identity_state != d.begin_state:
                return
            if changed:
                con.execute(f"create or replace temp table _klaviyo_withheld_used as "
                            f"select * from {WITHHELD}")
                planner.identity_built = False
                planner.identity = self._identity_pass
                planner.ready()
                same = same_withheld(con, WITHHELD, "_klaviyo_withheld_used")
                con.execute(f"create or replace temp table {WITHHELD} as "
                            f"select * from _klaviyo_withheld_used")
                if not same:
                    return
        elif changed and not planner.identity_built:
            return  # state changed with no list planned: not expected; store nothing
        d.record(clean, self.run_id, now_utc())

    def _identity_build(self, build: Callable[[], object]) -> object:
        """The identity pass, noting the state it read (``_record_digests`` checks it)."""
        if self._digests is not None:
            self._identity_state = self._digests.state_now()
        return build()

    def _complete_delivery(self, con: duckdb.DuckDBPyConnection, account_id: str, c: Campaign,
                           delivery_id: str, lists: list[tuple[str, str]],
                           results: list[ListResult], sent_before: int = 0,
                           suspects: str | None = None) -> dict[str, int]:
        """Record recipients and close the delivery, in one step (once per delivery).
        ``suspects``: the table of the rows the recording proves members (None: all)."""
        assert self.store is not None
        self.store.record_recipients(
            account_id=account_id, run_id=self.run_id, delivery_id=delivery_id, campaign=c,
            lists=lists, identifier=c.identifier, is_sample=self.options.sample is not None,
            sample_table="_sample", notes_table=NOTES,
            unchanged=max(0, sum(r.unchanged for r in results) - sent_before), at=now_utc(),
            suspects=suspects)
        crashpoint("delivery.completed")
        return self.store.delivery_totals(delivery_id)


def push(settings: Settings, options: PushOptions, progress: Progress | None = None,
         client: KlaviyoClient | None = None,
         client_factory: Callable[[Settings], KlaviyoClient] | None = None,
         target: Target | None = None) -> PushResult:
    """Run one push (or a dry run); errors that end the run are in ``result.error``.

    ``target``: the dbt target whose warehouse holds the audiences and the state (None or a
    DuckDB target: the DuckDB file of ``settings``)."""
    clear_guard(options)  # a bad --allow-clears or threshold fails before anything is read
    if client is None:
        client = (client_factory or KlaviyoClient.from_settings)(settings)
    return Pusher(settings, options, client, progress, target).run()
