"""`loader status`: every campaign with its schedule, last delivery and next due time.

Reads the campaign registry (``klaviyo_campaigns``) and the loader's state (schema
``klaviyo_loader``, written by ``loader push``) read-only; never talks to Klaviyo. A state table
that does not exist yet (no push so far) reads as "never delivered".
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from loader.engines.profiles import Target
from loader.errors import WarehouseError
from loader.schedule import (
    COMPLETED_STATUSES,
    ScheduleError,
    deliveries_of,
    iso,
    next_due_at,
    timing_of,
    to_utc,
)
from loader.store import qualified
from loader.store.warehouse import read_warehouse
from loader.warehouse import REGISTRY, find_relation

SUMMARY_COUNTS = ("added", "updated", "removed", "rejected", "withheld", "duplicates")


@dataclass(frozen=True)
class LastDelivery:
    delivery_id: str | None
    run_id: str | None
    scheduled_for: datetime | None
    completed_at: datetime | None
    added: int | None
    updated: int | None
    removed: int | None
    rejected: int | None  # rows Klaviyo (or the size check) refused: the exit code's 1
    withheld: int | None = None  # identifiers withheld (shared, or invalid phone numbers)
    duplicates: int | None = None  # customers not sent: their identifier is another's


@dataclass(frozen=True)
class CampaignStatus:
    campaign_id: str
    campaign_name: str
    campaign_type: str
    schedule: str
    account_id: str | None
    last_delivery: LastDelivery | None
    next_due_at: datetime | None
    is_due: bool
    rejected_rows: int  # the last delivery's rejected count, as its push summary said
    launch_at: datetime | None = None
    problem: str | None = None  # an invalid timing: the campaign is listed, never silently dropped

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["next_due_at"] = _json_instant(self.next_due_at)
        data["launch_at"] = _json_instant(self.launch_at)
        if self.last_delivery is not None:
            last = data["last_delivery"]
            for key in ("scheduled_for", "completed_at"):
                last[key] = _json_instant(getattr(self.last_delivery, key))
        return data


@dataclass
class StateSnapshot:
    """What status needs from the loader's state: deliveries and rejected-row counts."""

    deliveries: list[dict[str, Any]] = field(default_factory=list)
    rejected_by_run: dict[tuple[str, str, str], int] = field(default_factory=dict)
    latest_account: str | None = None  # the account of the most recent push


def _json_instant(value: datetime | None) -> str | None:
    return None if value is None else iso(value)


# --------------------------------------------------------------------------------------------
# reading the warehouse (the one place that knows the sync engineer's tables)


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    return [r[0] for r in rows]


DELIVERY_COLUMNS = [
    "delivery_id", "run_id", "account_id", "campaign_id", "scheduled_for", "started_at",
    "completed_at", "status", "is_sample", *SUMMARY_COUNTS,
]


def read_state(con: duckdb.DuckDBPyConnection, schema: str) -> StateSnapshot:
    """What status needs from the loader's state; a missing table reads as empty.

    Only two deliveries per (account, campaign) can matter — the latest completed one (the
    summary) and the one with the latest tick (the schedule) — so DuckDB picks them and Python
    never sees a long delivery log. Columns this version does not know read as null.
    """
    present = set(_columns(con, schema, "deliveries"))
    deliveries: list[dict[str, Any]] = []
    if present:
        exprs = [f'"{c}"' if c in present else f'null as "{c}"' for c in DELIVERY_COLUMNS]
        completed = ", ".join(f"'{s}'" for s in COMPLETED_STATUSES)
        cur = con.execute(f"""
            with deliveries as (
                select {", ".join(exprs)} from {qualified(schema, "deliveries")}
            ),
            completed as (
                select * from deliveries
                where completed_at is not null and not coalesce(is_sample, false)
                    and (status is null or lower(status) in ({completed}))
            ),
            ranked as (
                select *,
                    row_number() over (partition by account_id, campaign_id
                        order by completed_at desc, scheduled_for desc nulls last) as by_completion,
                    row_number() over (partition by account_id, campaign_id
                        order by coalesce(scheduled_for, completed_at) desc) as by_tick
                from completed
            )
            select {", ".join(f'"{c}"' for c in DELIVERY_COLUMNS)} from ranked
            where by_completion = 1 or by_tick = 1
        """)
        deliveries = [dict(zip(DELIVERY_COLUMNS, row, strict=True)) for row in cur.fetchall()]
    # refusals (not the duplicates and withheld identifiers also recorded there), for state
    # written before deliveries counted them by category
    rejected: dict[tuple[str, str, str], int] = {}
    if _columns(con, schema, "rejected_rows"):
        for account_id, campaign_id, run_id, count in con.execute(
            f"select account_id, campaign_id, run_id, count(*) "
            f'from {qualified(schema, "rejected_rows")} '
            "where not (starts_with(reason, 'duplicate_') or starts_with(reason, 'withheld_')) "
            "group by all"
        ).fetchall():
            rejected[(str(account_id), str(campaign_id), str(run_id))] = int(count)
    latest = None
    if "account_id" in set(_columns(con, schema, "sync_runs")):
        row = con.execute(f'select account_id from {qualified(schema, "sync_runs")} '
                          "order by started_at desc limit 1").fetchone()
        latest = str(row[0]) if row and row[0] else None
    return StateSnapshot(deliveries, rejected, latest)


def read_campaigns(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Registry rows as plain dicts, in campaign id order (one bad row must not hide others)."""
    relation = find_relation(con, REGISTRY)
    if relation is None:
        raise WarehouseError(
            f"The campaign registry `{REGISTRY}` is not in the warehouse.",
            hint="Run `dbt build` first (and check DUCKDB_PATH points at the file it built).",
        )
    cur = con.execute(f"select * from {relation} order by campaign_id")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


# --------------------------------------------------------------------------------------------
# the status itself (pure)


def _last_delivery(rows: list[dict[str, Any]], campaign_id: str) -> dict[str, Any] | None:
    completed = deliveries_of(rows).get(campaign_id, [])
    if not completed:
        return None
    latest = max(completed, key=lambda d: (d.completed_at, d.tick))
    for row in rows:
        if (
            str(row.get("campaign_id")) == campaign_id
            and not row.get("is_sample")
            and to_utc(row.get("completed_at")) == latest.completed_at
            and to_utc(row.get("scheduled_for")) == latest.scheduled_for
        ):
            return row
    return None


def campaign_statuses(
    campaigns: list[Any], state: StateSnapshot, at: datetime, account: str | None = None
) -> list[CampaignStatus]:
    """One status per campaign and Klaviyo account the state knows (one row when none);
    ``account``: that account only."""
    accounts = sorted({str(d["account_id"]) for d in state.deliveries if d.get("account_id")})
    if account is not None:
        accounts = [account]
    grouped: dict[tuple[str | None, str], list[dict[str, Any]]] = {}
    for d in state.deliveries:  # one pass: (account, campaign) -> its deliveries
        account = str(d["account_id"]) if accounts and d.get("account_id") else None
        grouped.setdefault((account, str(d.get("campaign_id"))), []).append(d)
    out: list[CampaignStatus] = []
    for account in accounts or [None]:
        for campaign in campaigns:
            rows = grouped.get((account, str(_get(campaign, "campaign_id"))), [])
            out.append(_one_status(campaign, rows, state, account, at))
    return out


def _get(row: Any, name: str) -> Any:
    return row.get(name) if isinstance(row, dict) else getattr(row, name, None)


def _one_status(
    campaign: Any, rows: list[dict[str, Any]], state: StateSnapshot, account: str | None,
    at: datetime,
) -> CampaignStatus:
    cid = str(_get(campaign, "campaign_id"))
    name = str(_get(campaign, "campaign_name") or cid)
    ctype = str(_get(campaign, "campaign_type") or "")
    last_row = _last_delivery(rows, cid)
    last = None
    rejected = 0
    if last_row is not None:
        last = LastDelivery(
            delivery_id=last_row.get("delivery_id"),
            run_id=last_row.get("run_id"),
            scheduled_for=to_utc(last_row.get("scheduled_for")),
            completed_at=to_utc(last_row.get("completed_at")),
            **{k: None if last_row.get(k) is None else int(last_row[k]) for k in SUMMARY_COUNTS},
        )
        if last.rejected is not None:
            rejected = last.rejected
        else:
            key = (str(last_row.get("account_id")), cid, str(last_row.get("run_id")))
            rejected = state.rejected_by_run.get(key, 0)
    when = to_utc(at)
    assert when is not None
    try:
        timing = timing_of(campaign)
        due_at = next_due_at(campaign, rows, when)
    except ScheduleError as exc:
        return CampaignStatus(
            cid, name, ctype, "invalid", account, last, None, False, rejected, problem=exc.message
        )
    except Exception as exc:  # noqa: BLE001 - one campaign never hides the others
        return CampaignStatus(
            cid, name, ctype, "invalid", account, last, None, False, rejected,
            problem=f"its schedule cannot be evaluated: {type(exc).__name__}: {exc}",
        )
    return CampaignStatus(
        campaign_id=cid,
        campaign_name=name,
        campaign_type=timing.campaign_type,
        schedule=timing.describe(),
        account_id=account,
        last_delivery=last,
        next_due_at=due_at,
        is_due=due_at is not None and due_at <= when,
        rejected_rows=rejected,
        launch_at=timing.launch_at,
    )


def load_status(duckdb_path: str, state_schema: str, at: datetime,
                account: str | None = None, all_accounts: bool = False,
                target: Target | None = None) -> tuple[list[CampaignStatus], list[str]]:
    """Open the warehouse read-only and compute every campaign's status at ``at``: for
    ``account``, else the account of the most recent push (``all_accounts``: every account
    state knows). Also returns the accounts left out. ``target``: a PostgreSQL warehouse
    (``loader.store.warehouse.state_target``) instead of the DuckDB file."""
    with read_warehouse(duckdb_path, target, state_schema) as con:
        campaigns = read_campaigns(con)
        state = read_state(con, state_schema)
    known = sorted({str(d["account_id"]) for d in state.deliveries if d.get("account_id")})
    chosen = None if all_accounts else (account or state.latest_account)
    if chosen is not None and chosen not in known and account is None:
        chosen = None  # the latest push delivered nothing: show what state has
    others = [a for a in known if chosen is not None and a != chosen]
    return campaign_statuses(campaigns, state, at, chosen), others



# --------------------------------------------------------------------------------------------
# presenting


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _minute(value: datetime | None) -> str:
    """A UTC instant to the minute (the narrow table)."""
    return iso(value)[:16].replace("T", " ") + "Z" if value is not None else "-"


def _short_schedule(text: str) -> str:
    """``once at 2026-06-03T10:00:00Z`` → ``once 2026-06-03 10:00Z`` (the narrow table)."""
    return re.sub(r"(?:at )?(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}):\d{2}Z", r"\1 \2Z", text)


def _last_cell(last: LastDelivery | None, wide: bool = False) -> str:
    if last is None:
        return "never"
    if not wide:
        return _minute(last.completed_at)
    when = iso(last.completed_at)
    if last.scheduled_for is not None and iso(last.scheduled_for) != when:
        when += f"\n(for {iso(last.scheduled_for)})"
    return when


def problem_lines(statuses: list[CampaignStatus]) -> list[str]:
    """The lines under the narrow table: each campaign whose timing is invalid, with why."""
    return [f"{s.campaign_id}: invalid: {s.problem}" for s in statuses if s.problem]


def render_table(statuses: list[CampaignStatus], at: datetime, wide: bool = False) -> Any:
    """A rich Table of the statuses (imported lazily: the library stays usable without rich).
    Default columns fit 100 terminal columns; ``wide`` adds type, every count and account."""
    from rich import box
    from rich.table import Table

    several_accounts = len({s.account_id for s in statuses}) > 1
    table = Table(title=f"Campaigns at {iso(at)}", title_justify="left", box=box.SIMPLE_HEAD,
                  padding=(0, 1))
    headers = ["campaign", *(["type"] if wide else []), "schedule", "last delivery",
               "next due"]
    for header in headers:
        table.add_column(header, overflow="fold")
    counts = (["added", "updated", "removed", "rejected", "withheld", "duplicates"] if wide
              else ["sent", "rejected"])
    for header in counts:
        table.add_column(header, justify="right")
    if several_accounts or wide:
        table.add_column("account")
    for s in statuses:
        last = s.last_delivery
        if s.problem:  # the narrow table says where the reason is: under it
            next_due = f"[red]invalid: {s.problem}[/red]" if wide else "[red]invalid (below)[/red]"
        elif s.is_due:
            next_due = "[bold]due now[/bold]"
        else:
            shown = iso(s.next_due_at) if wide else _minute(s.next_due_at)
            next_due = shown if s.next_due_at else "never (sent)"
        name = s.campaign_id if not wide or s.campaign_name == s.campaign_id else (
            f"{s.campaign_name} ({s.campaign_id})")
        values: dict[str, Any] = {}
        if last is not None:
            values = {k: getattr(last, k) for k in SUMMARY_COUNTS}
            values["rejected"] = s.rejected_rows
            values["sent"] = (None if last.added is None and last.updated is None
                              else (last.added or 0) + (last.updated or 0))
        schedule = s.schedule if wide or s.problem else _short_schedule(s.schedule)
        cells = [name, *([s.campaign_type] if wide else []), schedule, _last_cell(last, wide),
                 next_due, *(_count(values.get(k)) if last else "-" for k in counts)]
        if several_accounts or wide:
            cells.append(s.account_id or "-")
        table.add_row(*cells)
    return table
