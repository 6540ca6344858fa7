"""What a person sees in a terminal: a progress bar per list while pushing, the delivery summary,
and the console every command prints its tables on (widths for terminals, files and pipes)."""

from __future__ import annotations

import os
from typing import Any

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from loader.sync.engine import PushResult

SHORT = {
    "bulk_import_profiles": "import",
    "get_bulk_import_profiles_jobs": "poll",
    "create_list": "create",
    "get_lists": "find",
    "get_profiles": "lookup",
    "remove_profiles_from_list": "remove",
    "update_profile": "clear",
}


class RichProgress:
    """One bar per list (on stderr)."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console, transient=False,
        )
        self.tasks: dict[str, Any] = {}
        self.progress.start()

    def start(self, key: str, label: str, total: int) -> None:
        self.tasks[key] = self.progress.add_task(label, total=max(total, 0))

    def advance(self, key: str, n: int) -> None:
        if key in self.tasks:
            self.progress.advance(self.tasks[key], n)

    def finish(self, key: str) -> None:
        if key in self.tasks:
            task = self.tasks[key]
            total = self.progress.tasks[task].total or 0
            self.progress.update(task, completed=total)

    def stop(self) -> None:
        self.progress.stop()


def _cell(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) else "-" if v is None else str(v)


def summary_table(result: PushResult, wide: bool = False) -> Table:
    """One row per campaign (its id), then one per list. Default columns fit 100 terminal
    columns; ``wide`` adds the rest (audience counts, duplicates, withheld, requests…)."""
    title = "Plan (dry run: nothing sent)" if result.dry_run else "Delivery summary"
    if result.sample is not None:
        title += f" — sample of {result.sample} a list"
    table = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1), title_justify="left")
    if result.dry_run:
        cols = ["adds", "changes", "removals", "unchanged", "clears", "requests", "est. s"]
    else:
        cols = ["added", "updated", "removed", "unchanged", "rejected", "withheld"]
    if wide:
        cols = ["customers", "rows", "shrink", "expansion", "duplicates", "withheld",
                *[c for c in cols if c != "withheld"]]
        cols += ["cleared", "jobs"] if not result.dry_run else []
    elif not result.dry_run and any(r.cleared for r in result.lists):
        cols.insert(cols.index("unchanged"), "cleared")  # fields set to null: never hidden
    table.add_column("campaign / list", overflow="fold")
    for c in cols:
        table.add_column(c, justify="right", overflow="fold")
    campaign = None
    for r in result.lists:
        if r.campaign_id != campaign:
            campaign = r.campaign_id
            table.add_row(f"[bold]{campaign}[/bold]", *[""] * len(cols))
        values: dict[str, Any] = {
            "customers": r.customers, "rows": r.rows, "shrink": r.shrink,
            "expansion": r.expansion, "duplicates": r.duplicates, "withheld": r.withheld,
            "added": r.added, "updated": r.updated, "removed": r.removed,
            "unchanged": r.unchanged, "rejected": r.rejected, "cleared": r.cleared,
            "jobs": r.import_jobs}
        if result.dry_run and r.plan is not None:
            p = r.plan
            values.update({
                "adds": p.adds, "changes": p.changes, "removals": p.removals,
                "unchanged": p.unchanged, "clears": p.clears,
                "requests": (", ".join(f"{SHORT.get(op, op)} {n}"
                                       for op, n in sorted(p.requests.items()))
                             if wide else sum(p.requests.values())),
                "est. s": p.estimated_seconds})
        table.add_row("  " + r.list_name + (" (new)" if r.created and wide else ""),
                      *[_cell(values.get(c)) for c in cols])
    return table


# Width of tables written to a file or pipe (cron, CI, `make demo` logs): a terminal's 100
# columns; a table wider still (`--wide`, long names) is printed at its own width, never cut.
PIPE_WIDTH = 100


def output_console(**kwargs: Any) -> Console:
    """A console for stdout: the terminal's width, or PIPE_WIDTH (or $COLUMNS if wider) when
    stdout is not a terminal, where rich would otherwise assume 80 columns."""
    console = Console(**kwargs)
    if not console.is_terminal:
        try:
            columns = int(os.environ.get("COLUMNS") or 0)
        except ValueError:
            columns = 0
        console.width = max(columns, PIPE_WIDTH)
    return console


def print_table(console: Console, table: Table) -> None:
    """Print a table whole: off a terminal, widen the console to the table's natural width."""
    if not console.is_terminal:
        unbounded = console.options.update_width(100_000)
        needed = Measurement.get(console, unbounded, table).maximum
        if needed > console.width:
            console.width = needed
    console.print(table)


def _notes_where(result: PushResult) -> str:
    """Where the withheld and duplicate rows of the summary are: a delivery records them, so
    a campaign delivered by this run has them under its run id, and one already delivered
    (nothing new to send: no delivery) under its last delivery's."""
    noted = {r.campaign_id for r in result.lists if r.withheld or r.duplicates}
    noted |= {cid for cid, n in result.control_duplicates.items() if n}
    resynced = sorted(cid for cid in noted if cid not in result.deliveries)
    places = []
    if len(resynced) < len(noted):
        places.append(f"klaviyo_loader.rejected_rows where run_id = '{result.run_id}'")
    if resynced:
        names = ", ".join(f"'{cid}'" for cid in resynced)
        places.append(f"for the campaign(s) already delivered, from each one's last delivery: "
                      f"klaviyo_loader.rejected_rows where campaign_id in ({names})")
    return f" ({'; '.join(places)})" if places else ""


def summary_notes(result: PushResult) -> list[str]:
    """The lines under the table: what was left out, what a resync and a rerun mean."""
    lines: list[str] = []
    created = [r.list_name for r in result.lists if r.created]
    if created and not result.dry_run:
        lines.append(f"Created {len(created)} Klaviyo list(s): "
                     + ", ".join(repr(n) for n in created) + ".")
    for cid in result.resynced:
        lines.append(f"{cid}: already delivered and nothing new to send, so no new delivery.")
    for cid, totals in result.delivery_totals.items():
        mine = [r for r in result.lists if r.campaign_id == cid]
        share = {k: sum(getattr(r, k) for r in mine) for k in ("added", "updated", "removed")}
        if any(totals.get(k, 0) != share[k] for k in share):
            lines.append(
                f"{cid}: delivery {result.deliveries.get(cid)} completed by this run, with "
                + ", ".join(f"{totals.get(k, 0):,} {k}" for k in share)
                + " in all (this run: " + ", ".join(f"{share[k]:,} {k}" for k in share) + ").")
    withheld = sum(r.withheld for r in result.lists)
    duplicates = sum(r.duplicates for r in result.lists) + sum(
        result.control_duplicates.values())
    if withheld or duplicates:
        where = "" if result.dry_run else _notes_where(result)
        parts = []
        if withheld:
            parts.append(f"{withheld:,} identifier(s) withheld: shared by several customers or "
                         "an invalid phone number (the customers are sent without them)")
        if duplicates:
            parts.append(f"{duplicates:,} customer(s) not sent: they share the campaign's "
                         "identifier with another customer, who keeps it")
        lines.append("; ".join(parts) + where + ".")
    refused = sum(r.still_refused for r in result.lists)
    if refused:
        lines.append(f"{refused:,} row(s) Klaviyo refused before and unchanged since were not "
                     "sent again (not in their lists; klaviyo_loader.rejected_members holds "
                     "them and the reason): a change to the row sends it again.")
    if result.rejected and not result.dry_run:
        lines.append(f"{result.rejected:,} row(s) rejected; see klaviyo_loader.rejected_rows "
                     f"where run_id = '{result.run_id}'.")
    return lines


def print_summary(result: PushResult, console: Console, wide: bool = False) -> None:
    if not result.campaigns and not result.failures:
        console.print("No campaign is due; nothing to push. (`loader status` shows when each "
                      "is next due; `loader push --all` re-checks every campaign now.)")
        return
    if result.lists:
        print_table(console, summary_table(result, wide))
    if result.dry_run:
        reqs = ", ".join(f"{op} {n}" for op, n in sorted(result.requests.items()))
        console.print(f"Requests: {reqs}.")
        console.print(f"Estimated duration from Klaviyo's published limits: "
                      f"{result.estimated_seconds} s (plus Klaviyo's job processing time).")
    for line in summary_notes(result):
        console.print(line, highlight=False)
