"""What a person sees: a progress bar per list while pushing, then the delivery summary."""

from __future__ import annotations

import os
from typing import Any

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


def summary_table(result: PushResult) -> Table:
    title = "Plan (dry run: nothing sent)" if result.dry_run else "Delivery summary"
    if result.sample is not None:
        title += f" — sample of {result.sample} a list"
    table = Table(title=title)
    cols = ["campaign", "list", "customers", "rows", "shrink", "expansion", "duplicates"]
    if result.dry_run:
        cols += ["adds", "changes", "removals", "unchanged", "requests", "est. s"]
    else:
        cols += ["added", "updated", "removed", "rejected", "unchanged"]
    for i, c in enumerate(cols):
        table.add_column(c, justify="left" if i < 2 else "right")
    for r in result.lists:
        base = [r.campaign_id, r.list_name + (" (new)" if r.created else ""), r.customers,
                r.rows, r.shrink, r.expansion, r.duplicates]
        if result.dry_run and r.plan is not None:
            p = r.plan
            reqs = ", ".join(f"{SHORT.get(op, op)} {n}" for op, n in sorted(p.requests.items()))
            extra: list[Any] = [p.adds, p.changes, p.removals, p.unchanged, reqs,
                                p.estimated_seconds]
        else:
            extra = [r.added, r.updated, r.removed, r.rejected, r.unchanged]
        table.add_row(*[f"{v:,}" if isinstance(v, int) else "-" if v is None else str(v)
                        for v in base + extra])
    return table


# Width of tables written to a file or pipe (cron, CI, `make demo` logs): wide enough that
# values are never cut; a table wider still is printed at its own width.
PIPE_WIDTH = 200


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


def print_summary(result: PushResult, console: Console) -> None:
    if not result.campaigns:
        console.print("No campaign is due; nothing to push.")
        return
    print_table(console, summary_table(result))
    if result.dry_run:
        reqs = ", ".join(f"{op} {n}" for op, n in sorted(result.requests.items()))
        console.print(f"Requests: {reqs}. Estimated duration from Klaviyo's published limits: "
                      f"{result.estimated_seconds} s (plus Klaviyo's job processing time).")
    elif result.rejected:
        console.print(f"{result.rejected:,} row(s) rejected; see "
                      f"klaviyo_loader.rejected_rows where run_id = '{result.run_id}'.")
