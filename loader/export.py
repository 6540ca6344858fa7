"""`loader export --format klaviyo-csv`: an audience as the CSV Klaviyo's list/SFTP import reads.

The rows are exactly the profiles ``loader push`` would send to one destination list: one row
per campaign identifier (the audience's sendable, non-control rows; a customer sharing the
identifier with a smaller amperity_id left out), with the identifiers a push withholds left
empty (shared by several customers, or a phone number the numbering plans call invalid) and
several values of a custom property (expansion rows) as a JSON array, as push sends them.
DuckDB writes the file itself (``COPY … TO``), so memory stays flat however large the audience.

Column headers (docs/scheduling.md, "Export to CSV", lists the sources): Klaviyo's profile
import maps the headers ``Email``, ``PhoneNumber`` and ``ExternalID`` exactly (the identifier
comes first: Klaviyo's list upload wants the first column to be the email or phone number),
profile and location fields by their Klaviyo property names in PascalCase, and any other
header becomes a custom property of that name.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import duckdb

from loader.config import Settings
from loader.engines.profiles import Target
from loader.errors import ConfigError, WarehouseError
from loader.klaviyo.payloads import finite_sql, ident, placement
from loader.store import qualified
from loader.store.schema import table_exists
from loader.store.warehouse import read_warehouse
from loader.sync import identity
from loader.warehouse import (
    Campaign,
    attribute_columns,
    duplicates_sql,
    read_registry,
    select_campaigns,
)

FORMATS = ("klaviyo-csv",)
EXPORT_MEMORY_LIMIT = "64MB"  # DuckDB's buffer pool during the COPY (spills beyond it)

# our mapped column (architecture.md §2) -> Klaviyo CSV import header, in export order
KLAVIYO_CSV_HEADERS: dict[str, str] = {
    "email": "Email",
    "phone_number": "PhoneNumber",
    "external_id": "ExternalID",
    "first_name": "FirstName",
    "last_name": "LastName",
    "organization": "Organization",
    "title": "Title",
    "locale": "Locale",
    "image": "Image",
    "address1": "Address1",
    "address2": "Address2",
    "city": "City",
    "region": "Region",
    "zip": "Zip",
    "country": "Country",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "timezone": "Timezone",
    "ip": "IP",
}


@dataclass(frozen=True)
class ExportResult:
    campaign_id: str
    list_name: str
    headers: list[str]
    rows: int
    output: str  # a path, or "-" for standard output


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def export_plan(
    campaign: Campaign, columns: list[str], list_name: str | None
) -> tuple[str, list[tuple[str, str]]]:
    """The destination list and (column, header) pairs: the identifier first, then profile and
    location fields in Klaviyo's order, then custom properties in the campaign's order."""
    cid = campaign.campaign_id
    lists = campaign.list_names
    if list_name is None:
        if len(lists) != 1:
            raise ConfigError(
                f"campaign {cid!r} sends to {len(lists)} lists ({', '.join(lists) or 'none'}); "
                "a Klaviyo CSV import fills one list.",
                hint="Name it with --list LIST_NAME.",
            )
        list_name = lists[0]
    elif list_name not in lists:
        raise ConfigError(
            f"campaign {cid!r} does not send to a list named {list_name!r}; its lists: "
            f"{', '.join(lists) or 'none'}."
        )
    identifier = campaign.identifier
    known = [c for c in KLAVIYO_CSV_HEADERS if c in columns and c != identifier]
    custom = [c for c in columns if c not in KLAVIYO_CSV_HEADERS]
    pairs = [(identifier, KLAVIYO_CSV_HEADERS[identifier])]
    pairs += [(c, KLAVIYO_CSV_HEADERS[c]) for c in known]
    pairs += [(c, c) for c in custom]
    headers = [h for _, h in pairs]
    clash = sorted({h for h in headers if headers.count(h) > 1})
    if clash:
        raise WarehouseError(f"campaign {cid!r}: two columns export as {', '.join(clash)}.")
    return list_name, pairs


def rows_sql(campaign: Campaign, columns: list[str], list_name: str,
             pairs: list[tuple[str, str]], types: dict[str, str] | None = None) -> str:
    """One row per profile push would send to the list, under the export's headers. Needs
    ``identity.WITHHELD`` (``identity.build``). ``types``: the columns' DuckDB types (of
    ``identity.source_sql``), so that a property is written as push sends it: a list or a
    struct as its JSON (``["tents","boots"]``, not DuckDB's ``[tents, boots]``), a float's
    NaN or infinity as no value."""
    source = identity.source_sql(campaign, list_name, columns)
    idc = ident(campaign.identifier)
    types = types or {}

    def value(column: str) -> str:
        t = types.get(column, "").strip().upper()
        col = finite_sql(ident(column), t)
        if placement(column) == "property":  # several values: a JSON array, as push sends
            nested = t.endswith("]") or t.startswith(("STRUCT", "MAP", "JSON", "UNION"))
            one = (f"cast(to_json(min({col})) as varchar)" if nested
                   else f"cast(min({col}) as varchar)")
            return (f"case when count(distinct {col}) > 1 then "
                    f"cast(to_json(list_sort(list(distinct {col}))) as varchar) "
                    f"else {one} end")
        return f"min({col})"

    select = ", ".join(f"{value(c) if c != campaign.identifier else idc} as {ident(h)}"
                       for c, h in pairs)
    return f"""
with sendable as ({source}),
duplicates as ({duplicates_sql(campaign, list_name, source)}),
sent as (
    select s.* from sendable as s anti join (select amperity_id from duplicates
        where collides_with is not null) as d on d.amperity_id = s.amperity_id
)
select {select} from sent group by {idc}
"""


def _latest_account(con: duckdb.DuckDBPyConnection, schema: str) -> str | None:
    if not table_exists(con, schema, "sync_runs"):
        return None
    row = con.execute(f"select account_id from {qualified(schema, 'sync_runs')} "
                      "order by started_at desc limit 1").fetchone()
    return str(row[0]) if row and row[0] else None


def export_campaign(
    duckdb_path: str,
    campaign_name: str,
    fmt: str = "klaviyo-csv",
    output: str | None = None,
    list_name: str | None = None,
    stdout: IO[str] | None = None,
    state_schema: str | None = None,
    target: Target | None = None,
) -> ExportResult:
    """Write one campaign's list as a Klaviyo import CSV to ``output`` (None: standard output).

    The rows are exactly the profiles ``loader push`` sends to that list (``rows_sql``); the
    columns are the campaign's mapped attribute columns. Identifiers are withheld as a push
    to the account of the last push would withhold them (its state included).
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; supported: {', '.join(FORMATS)}.")
    schema = state_schema or Settings.from_env().state_schema
    with read_warehouse(duckdb_path, target, schema) as con:
        registry, _ = read_registry(con)
        (campaign,) = select_campaigns(registry, [campaign_name])
        columns = attribute_columns(con, campaign)
        chosen, pairs = export_plan(campaign, columns, list_name)
        account = _latest_account(con, schema)
        identity.build(con, schema, account, registry, [campaign],
                       table_exists(con, schema, "list_members"))
        types = {str(r[0]): str(r[1]) for r in con.execute(
            f"describe select * from ({identity.source_sql(campaign, chosen, columns)})"
        ).fetchall()}
        rows = _copy(con, rows_sql(campaign, columns, chosen, pairs, types), output, stdout)
    return ExportResult(campaign.campaign_id, chosen, [h for _, h in pairs], rows, output or "-")


def _copy(
    con: duckdb.DuckDBPyConnection, select: str, output: str | None, stdout: IO[str] | None
) -> int:
    """COPY the select to a CSV file (via a temporary file for standard output); row count."""
    with tempfile.TemporaryDirectory(prefix="loader-export-") as tmp:
        _stream_settings(con, tmp)
        if output is not None:
            target = Path(output)
            target.parent.mkdir(parents=True, exist_ok=True)
            return _copy_to(con, select, str(target))
        path = Path(tmp) / "export.csv"
        rows = _copy_to(con, select, str(path))
        out = stdout or sys.stdout
        with path.open(encoding="utf-8", newline="") as fh:
            shutil.copyfileobj(fh, out, 1 << 20)
        out.flush()
        return rows


def _stream_settings(con: duckdb.DuckDBPyConnection, spill_dir: str) -> None:
    """Make the COPY a stream whose memory does not grow with the audience.

    Row order means nothing to a Klaviyo import, and keeping it makes DuckDB buffer the result;
    a small buffer pool stops it caching the whole scanned relation (anything bigger spills to
    ``spill_dir``). Measured in docs/benchmarks.md.
    """
    con.execute("set preserve_insertion_order = false")
    con.execute(f"set memory_limit = {_literal(EXPORT_MEMORY_LIMIT)}")
    con.execute(f"set temp_directory = {_literal(spill_dir)}")


def _copy_to(con: duckdb.DuckDBPyConnection, select: str, path: str) -> int:
    options = "(format csv, header true, delimiter ',', quote '\"')"
    result = con.execute(f"copy ({select}) to {_literal(path)} {options}").fetchone()
    return int(result[0]) if result else 0
