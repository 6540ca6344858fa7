"""Reading the warehouse: the campaign registry and audience relations, as SQL run in DuckDB.

The per-list "desired state" (one JSON:API profile per identifier, its fingerprint and size) is
rendered by DuckDB, so Python only ever handles the rows that changed, as ready JSON text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import duckdb

from loader.errors import WarehouseError
from loader.klaviyo.payloads import (
    IDENTIFIERS,
    LOCATION_FIELDS,
    PROFILE_FIELDS,
    aggregate_json,
    ident,
    placement,
    profile_sql,
    sql_str,
    value_json,
)

REGISTRY = "klaviyo_campaigns"
C = TypeVar("C")
# Profile and location fields a push may clear (docs/sync.md, "NULL means NULL"): bit i of a
# ``fields`` mask is CLEARABLE_FIELDS[i], set when the profile was sent with a non-null value.
CLEARABLE_FIELDS = PROFILE_FIELDS + LOCATION_FIELDS
DELIVERY_SUMMARY = "klaviyo_delivery_summary"
AUDIENCE_FIXED_COLUMNS = (
    "campaign_id", "campaign_name", "sub_audience_id", "sub_audience_name", "treatment_id",
    "treatment_name", "is_control", "list_name", "segment_id", "segment_name", "amperity_id",
    "shrink_reason",
)


@dataclass(frozen=True)
class Campaign:
    """One row of ``klaviyo_campaigns``."""

    campaign_id: str
    campaign_name: str
    campaign_type: str
    audience_relation: str
    identifier: str
    update_contacts: bool
    attribute_columns: list[str]
    list_names: list[str]
    destination_id: str | None
    destination_name: str | None
    launch_at: datetime | None
    dbt_invocation_id: str | None
    row: dict[str, Any]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Campaign:
        def split(value: Any) -> list[str]:
            return [v.strip() for v in str(value or "").split(",") if v.strip()]

        identifier = str(row.get("identifier") or "email")
        if identifier not in IDENTIFIERS:
            raise WarehouseError(
                f"campaign {row.get('campaign_id')!r}: identifier {identifier!r} is not one of "
                f"{', '.join(IDENTIFIERS)}."
            )
        return cls(
            campaign_id=str(row["campaign_id"]),
            campaign_name=str(row.get("campaign_name") or row["campaign_id"]),
            campaign_type=str(row.get("campaign_type") or "one_time"),
            audience_relation=str(row["audience_relation"]),
            identifier=identifier,
            update_contacts=bool(row.get("update_contacts", True)),
            attribute_columns=split(row.get("attribute_columns")),
            list_names=split(row.get("list_names")),
            destination_id=row.get("destination_id"),
            destination_name=row.get("destination_name"),
            launch_at=row.get("launch_at"),
            dbt_invocation_id=row.get("dbt_invocation_id"),
            row=row,
        )


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
          ) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def find_relation(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """The qualified name of a dbt-built relation, looked up in any schema (``main`` first)."""
    rows = con.execute(
        "select table_catalog, table_schema from information_schema.tables where table_name = ? "
        "order by table_schema <> 'main', table_schema",
        [name],
    ).fetchall()
    if not rows:
        return None
    catalog, schema = rows[0]
    return f"{ident(catalog)}.{ident(schema)}.{ident(name)}"


def read_campaigns(con: duckdb.DuckDBPyConnection) -> list[Campaign]:
    """Every campaign of the registry; the first invalid row raises (``read_registry`` keeps
    going)."""
    campaigns, problems = read_registry(con)
    if problems:
        raise next(iter(problems.values()))
    return campaigns


def read_registry(con: duckdb.DuckDBPyConnection
                  ) -> tuple[list[Campaign], dict[str, WarehouseError]]:
    """The registry's valid campaigns, and an error for each row that is not one (by campaign
    id): one bad row must not hide the others."""
    rel = find_relation(con, REGISTRY)
    if rel is None:
        raise WarehouseError(
            f"The campaign registry `{REGISTRY}` is not in the warehouse.",
            hint="Run `dbt build` (it builds the registry from the campaign models).",
        )
    campaigns: list[Campaign] = []
    problems: dict[str, WarehouseError] = {}
    for r in _rows(con, f"select * from {rel} order by campaign_id"):
        try:
            r["audience_relation"] = localise(con, str(r["audience_relation"]))
            campaigns.append(Campaign.from_row(r))
        except (KeyError, WarehouseError) as exc:
            cid = str(r.get("campaign_id"))
            problems[cid] = exc if isinstance(exc, WarehouseError) else WarehouseError(
                f"campaign {cid!r}: the registry row lacks {exc}.",
                hint="Rebuild the registry with `dbt build`.")
    return campaigns, problems


_PART = r'("(?:[^"]|"")+"|[^".]+)'
PARTS = re.compile(rf"^\s*{_PART}\.{_PART}\.{_PART}\s*$")


def localise(con: duckdb.DuckDBPyConnection, relation: str) -> str:
    """Drop the database part of a three-part name when no such database is attached.

    dbt-duckdb names the database after the file it built; the loader may open a copy or a
    renamed file, where the schema and table are the same.
    """
    m = PARTS.match(relation)
    if not m:
        return relation
    catalog = m.group(1).strip('"').replace('""', '"')
    attached = {r[0] for r in con.execute("select database_name from duckdb_databases()"
                                          ).fetchall()}
    return relation if catalog in attached else f"{m.group(2)}.{m.group(3)}"


def select_campaigns(campaigns: list[Campaign], wanted: list[str]) -> list[Campaign]:
    """The named campaigns (by id or name), in the order given; unknown names fail clearly."""
    return select_named(campaigns, wanted, lambda c: (c.campaign_id, c.campaign_name))


def select_named(campaigns: list[C], wanted: list[str],
                 names: Callable[[C], tuple[str, str]]) -> list[C]:
    """The campaigns whose (id, name) — ``names(campaign)`` — holds each wanted name, in the
    order given; an unknown name fails with the known ids."""
    out: list[C] = []
    for name in wanted:
        match = [c for c in campaigns if name in names(c)]
        if not match:
            known = ", ".join(str(names(c)[0]) for c in campaigns) or "none"
            raise WarehouseError(
                f"No campaign {name!r} in the registry (known: {known}).",
                hint="Check the name, or run `dbt build` so the registry lists it.",
            )
        if match[0] not in out:
            out.append(match[0])
    return out


def audience_columns(con: duckdb.DuckDBPyConnection, campaign: Campaign) -> list[str]:
    """The relation's columns, checked against the audience contract."""
    try:
        cur = con.execute(f"select * from {campaign.audience_relation} limit 0")
    except duckdb.Error as exc:
        raise WarehouseError(
            f"campaign {campaign.campaign_id!r}: cannot read its audience relation "
            f"{campaign.audience_relation}: {str(exc).splitlines()[0]}",
            hint="Run `dbt build` so the campaign model exists.",
        ) from None
    cols = [d[0] for d in cur.description]
    missing = [c for c in AUDIENCE_FIXED_COLUMNS if c not in cols]
    if campaign.identifier not in cols:
        missing.append(campaign.identifier)
    if missing:
        raise WarehouseError(
            f"campaign {campaign.campaign_id!r}: audience relation {campaign.audience_relation} "
            f"lacks column(s) {', '.join(missing)}.",
            hint="The audience contract is in docs/architecture.md §2; rebuild with `dbt build`.",
        )
    return cols


def attribute_columns(con: duckdb.DuckDBPyConnection, campaign: Campaign) -> list[str]:
    cols = audience_columns(con, campaign)
    mapped = cols[cols.index("shrink_reason") + 1:]
    if campaign.attribute_columns:
        mapped = [c for c in campaign.attribute_columns if c in cols] or mapped
    if campaign.identifier not in mapped:
        mapped = [campaign.identifier, *mapped]
    return mapped


def sendable_sql(campaign: Campaign, list_name: str) -> str:
    """Rows of one list that may be sent: not control, no shrink reason, identifier present."""
    return (
        f"select * from {campaign.audience_relation} where list_name = {sql_str(list_name)} "
        f"and not coalesce(is_control, false) and shrink_reason is null "
        f"and {ident(campaign.identifier)} is not null"
    )


def sent_identifiers(campaign: Campaign, columns: list[str]) -> list[str]:
    """The Klaviyo identifiers a list's profiles carry (Klaviyo keys a profile on each)."""
    sent = columns if campaign.update_contacts else [campaign.identifier]
    return [k for k in IDENTIFIERS if k == campaign.identifier or k in sent]


def duplicates_sql(campaign: Campaign, list_name: str, source: str | None = None) -> str:
    """Customers of one list sharing the campaign's identifier with another customer.

    Columns: amperity_id, identifier, identifier_kind and collides_with (the smallest other
    amperity_id holding it; null for the smallest holder, which is sent). A customer with a
    ``collides_with`` is not sent: Klaviyo would make the two one profile. The campaign's SQL
    resolves this across the whole campaign (``shrink_reason = 'duplicate_<identifier>'``);
    this guard keeps a hand-built audience relation from merging customers all the same.
    Other identifiers shared between customers are withheld instead (``loader.sync.identity``).
    ``source``: the list's rows (default ``sendable_sql``).
    """
    idc = ident(campaign.identifier)
    return f"""
with sendable as (
    {source or sendable_sql(campaign, list_name)}
),
holders as (
    select cast({idc} as varchar) as identifier, amperity_id from sendable group by all
),
shared as (
    select identifier, min(amperity_id) as owner_id from holders
    group by identifier having min(amperity_id) <> max(amperity_id)
)
select h.amperity_id, h.identifier, {sql_str(campaign.identifier)} as identifier_kind,
    case when h.amperity_id <> s.owner_id then s.owner_id end as collides_with
from holders as h inner join shared as s on s.identifier = h.identifier
"""


def field_bit(column: str) -> int:
    return 1 << CLEARABLE_FIELDS.index(column)


def clearable_columns(campaign: Campaign, columns: list[str]) -> list[str]:
    """The mapped profile and location fields a NULL in the audience clears in Klaviyo (none
    when the campaign sends membership only; never its own identifier)."""
    if not campaign.update_contacts:
        return []
    return [c for c in columns if c != campaign.identifier and placement(c) != "property"]


def fields_mask(campaign: Campaign, columns: list[str]) -> int:
    """The mask of ``clearable_columns``."""
    return sum(field_bit(c) for c in clearable_columns(campaign, columns))


def desired_sql(campaign: Campaign, list_name: str, columns: list[str],
                duplicates: str | None = None, source: str | None = None) -> str:
    """One row per identifier the list should hold.

    Columns: identifier, amperity_id (the customer sent: the smallest id among customers sharing
    the identifier), customers (how many customers share it), sent_email, sent_phone_number,
    sent_external_id (the other identifiers the profile carries; null when not sent, and for
    the campaign's own identifier, which is ``identifier``), fields (the mask of the
    clearable fields sent with a value, ``CLEARABLE_FIELDS``; null for membership only),
    payload (the JSON:API profile), fingerprint (md5 of the payload), nbytes (payload size
    in bytes).

    ``duplicates``: a relation shaped as ``duplicates_sql``; its customers with a
    ``collides_with`` are left out (they share the identifier with a customer that is sent).
    ``source``: the list's rows as they are sent (default ``sendable_sql``; a push passes
    ``loader.sync.identity.source_sql``, with withheld identifiers set to null).

    Identifiers with one row (the vast majority) are rendered straight from the row; only
    identifiers with several rows (expansion rows, shared identifiers) are aggregated.
    """
    idc = ident(campaign.identifier)
    others = [c for c in columns if c != campaign.identifier]
    singles = "".join(f", {value_json(c)} as {ident(c)}" for c in others)
    aggs = "".join(f", {aggregate_json(c)} as {ident(c)}" for c in others)
    sent = sent_identifiers(campaign, columns)
    others_sent = [k for k in sent if k != campaign.identifier]  # the identifier is `identifier`
    sent_single = "".join(
        f", cast(s.{ident(k)} as varchar) as sent_{k}" if k in others_sent
        else f", null::varchar as sent_{k}" for k in IDENTIFIERS)
    sent_agg = "".join(
        f", cast(min(s.{ident(k)}) as varchar)" if k in others_sent else ", null::varchar"
        for k in IDENTIFIERS)
    sent_cols = "".join(f", sent_{k}" for k in IDENTIFIERS)
    payload = profile_sql(columns, campaign.identifier, campaign.update_contacts)
    clearable = clearable_columns(campaign, columns)
    fields = (" + ".join(f"(case when {ident(c)} is not null then {field_bit(c)} else 0 end)"
                         for c in clearable) or "0") if campaign.update_contacts else "null"
    source = source or sendable_sql(campaign, list_name)
    if duplicates:
        source = (f"select * from ({source}) as a anti join (select amperity_id from "
                  f"{duplicates} where collides_with is not null) as x "
                  f"on x.amperity_id = a.amperity_id")
    return f"""
with sendable as (
    {source}
),
counted as (
    select {idc} as identifier, min(amperity_id) as amperity_id,
        count(distinct amperity_id) as customers, count(*) as n_rows
    from sendable group by 1
),
rendered as (
    select s.{idc} as identifier, s.amperity_id, 1::bigint as customers{sent_single},
        to_json(cast(s.{idc} as varchar)) as {idc}{singles}
    from sendable as s
    inner join counted as c on s.{idc} = c.identifier and c.n_rows = 1
    union all
    select s.{idc}, s.amperity_id, any_value(c.customers){sent_agg},
        to_json(cast(s.{idc} as varchar)){aggs}
    from sendable as s
    inner join counted as c on s.{idc} = c.identifier and c.n_rows > 1
        and s.amperity_id = c.amperity_id
    group by s.{idc}, s.amperity_id
),
profiles as (
    select identifier, amperity_id, customers{sent_cols}, ({fields})::bigint as fields,
        {payload} as payload
    from rendered
)
select identifier, amperity_id, customers{sent_cols}, fields, payload,
    md5(payload) as fingerprint, strlen(payload) as nbytes
from profiles
"""


def delivery_summary(con: duckdb.DuckDBPyConnection, campaign_id: str) -> dict[str, dict[str, int]]:
    """Per list name: customers, rows, shrink, expansion, duplicates from the dbt summary."""
    rel = find_relation(con, DELIVERY_SUMMARY)
    if rel is None:
        return {}
    rows = _rows(con, f"""
        select coalesce(list_name, '(control)') as list_name,
            sum(customers) as customers, sum(rows_to_send) as rows_to_send,
            sum(shrink_customers) as shrink, sum(expansion_rows) as expansion,
            sum(duplicate_identifier_customers) as duplicates
        from {rel} where campaign_id = ? group by 1""", [campaign_id])
    return {r["list_name"]: {k: int(v or 0) for k, v in r.items() if k != "list_name"}
            for r in rows}


def stream(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None,
           batch_rows: int = 50_000) -> Iterator[list[tuple[Any, ...]]]:
    """Run a query and yield its rows in batches (bounded memory)."""
    cur = con.execute(sql, params or [])
    while True:
        rows = cur.fetchmany(batch_rows)
        if not rows:
            return
        yield rows
