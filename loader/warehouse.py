"""Reading the warehouse: the campaign registry and audience relations, as SQL run in DuckDB.

The per-list "desired state" (one row per identifier: its values and their fingerprint) is built
by DuckDB; the JSON:API profiles are rendered by DuckDB too, only for the rows a push sends, so
Python only ever handles the rows that changed, as ready JSON text.
"""

from __future__ import annotations

import hashlib
import json
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
    RENDER_VERSION,
    aggregate_json,
    exact_number_sql,
    ident,
    placement,
    profile_firsts_sql,
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

        def names(value: Any) -> list[str]:
            """``list_names``: a JSON array of strings (a name may hold a comma); a registry
            built before it was one holds a comma-separated string."""
            text = str(value or "").strip()
            if not text.startswith("["):
                return split(text)
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if not isinstance(parsed, list) or not all(isinstance(n, str) for n in parsed):
                raise WarehouseError(
                    f"campaign {row.get('campaign_id')!r}: list_names {text!r} is not a JSON "
                    "array of list names.", hint="Rebuild the registry: dbt build -s "
                    "klaviyo_campaigns.")
            return [n for n in parsed if n.strip()]

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
            list_names=names(row.get("list_names")),
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


# DuckDB types whose hash() is taken over the stored value itself (fixed width; distinct 64-bit
# values never share a hash): a desired row keeps them typed. VARCHAR is hashed as its bytes;
# any other type (DOUBLE, whose 0.0 and -0.0 hash alike, lists, structs, time zones…) is kept
# and hashed as the JSON text it is sent as.
_FIXED_TYPES = re.compile(
    r"(BOOLEAN|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT"
    r"|UHUGEINT|DECIMAL\(\d+,\s*\d+\)|DATE|TIME|TIMESTAMP|TIMESTAMP_S|TIMESTAMP_MS"
    r"|TIMESTAMP_NS|UUID)")
FINGERPRINT_PREFIX = "h"  # a fingerprint of this version; md5 (older state) is hex, no 'h'


def value_kind(column_type: str) -> str:
    """How a desired row keeps a mapped value: 'text' (VARCHAR), 'fixed' (typed) or 'json'."""
    t = column_type.strip().upper()
    if t == "VARCHAR":
        return "text"
    return "fixed" if _FIXED_TYPES.fullmatch(t) else "json"


def value_columns(campaign: Campaign, columns: list[str]) -> list[str]:
    """The mapped columns a profile's JSON carries besides the identifier, in order."""
    sent = columns if campaign.update_contacts else [campaign.identifier]
    return [c for c in sent if c != campaign.identifier]


def fingerprint_seeds(campaign: Campaign, columns: list[str], types: dict[str, str],
                      timezone: str = "", aggregated: bool = False) -> tuple[int, int]:
    """Two 64-bit seeds from what shapes the JSON besides the values: the render version, the
    identifier, update_contacts, each sent column's name, placement and type (a type change
    may change the JSON for equal hashes: 1.50 vs 15.0), the session's time zone when a value
    is a timestamp with time zone, and whether the row is an aggregate of several rows."""
    cols = value_columns(campaign, columns)
    zoned = any("TIME ZONE" in types.get(c, "").upper() for c in cols)
    doc = json.dumps([RENDER_VERSION, campaign.identifier, campaign.update_contacts,
                      [[c, placement(c), types.get(c, "")] for c in cols],
                      timezone if zoned else "", aggregated])
    digest = hashlib.md5(doc.encode()).digest()
    return int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:], "big")


def fingerprint_sql(values: list[tuple[str, str]], seeds: tuple[int, int],
                    inexact: list[str] | None = None) -> str:
    """SQL: a row's 128-bit fingerprint, 'h' + two 64-bit DuckDB hashes in hex
    (``fingerprint_hashes_sql``, written by ``fingerprint_text_sql``)."""
    return fingerprint_text_sql(*fingerprint_hashes_sql(values, seeds, inexact))


def fingerprint_hashes_sql(values: list[tuple[str, str]], seeds: tuple[int, int],
                           inexact: list[str] | None = None) -> tuple[str, str]:
    """SQL: the two 64-bit hashes (UBIGINT) of a row's fingerprint (``fingerprint_sql``).

    ``values``: (SQL, kind) of each value in column order ('fixed', 'text' or 'json'). The
    first hash combines every value's own hash (``hash(a, b, …)``, an order-dependent
    combination: a value changed alone always changes it unless the value's own hash
    collides). The second is built from different input so that a collision of the first is
    not one of the second: the texts concatenated into one string (hashed in other 8-byte
    blocks than each text alone) with each one's length (-1 for NULL), then the typed values
    in reverse order with their NULL flags (a NULL and the one value hashing like NULL).

    ``inexact``: SQL conditions, one per typed value a JSON number could not carry exactly
    (``exact_number_sql``: sent as a JSON string, ``value_json``). Each that
    holds adds one to the first hash's seed: a row whose every value is exact keeps the
    fingerprint it had (nothing is sent again), a row holding such a value has another one, so
    it is sent again once, as a string, where it was sent rounded before. The values are
    hashed as always, so no change of a value goes unseen that did before.
    """
    texts = [v for v, k in values if k != "fixed"]
    fixed = [v for v, k in values if k == "fixed"]
    seed = f"{seeds[0]}::ubigint"
    if inexact:
        seed = (f"({seed} + ({' + '.join(f'(not coalesce({c}, true))::int' for c in inexact)})"
                f")::ubigint")
    first = ", ".join([seed, *(v for v, _ in values)])
    second = [f"{seeds[1]}::ubigint"]
    if texts:
        second.append(f"concat({', '.join(texts)})")
        second += [f"coalesce(strlen({v}), -1)" for v in texts]
    for v in reversed(fixed):
        second += [v, f"{v} is null"]
    return f"hash({first})", f"hash({', '.join(second)})"


def fingerprint_text_sql(first: str, second: str) -> str:
    """SQL: a fingerprint's text from its two 64-bit hashes (``fingerprint_sql``)."""
    # one concat (not a chain of ||: each makes a string) of pieces never null
    return (f"concat({sql_str(FINGERPRINT_PREFIX)}, to_hex({first}), '.', "
            f"to_hex({second}))")


def _value_items(campaign: Campaign, columns: list[str], types: dict[str, str],
                 ref: Callable[[int, str], str], json_kind_as_json: bool,
                 label: str) -> list[str]:
    """SQL select items ``<ref> as <label><i>``, one per value column, the reference turned
    into JSON text (``value_json``) when its kind (``value_kind``) is 'json' and
    ``json_kind_as_json``, or when it is not and not ``json_kind_as_json``."""
    out = []
    for i, c in enumerate(value_columns(campaign, columns)):
        r = ref(i, c)
        convert = (value_kind(types.get(c, "")) == "json") == json_kind_as_json
        out.append(f"{value_json(c, r, types.get(c, '')) if convert else r} as {label}{i}")
    return out


def json_texts_sql(campaign: Campaign, columns: list[str], types: dict[str, str],
                   alias: str) -> str:
    """SQL select items: the JSON text of each value column of a desired row (``_j<i>``),
    from its kept value (``<alias>._v<i>``)."""
    return ", ".join(_value_items(campaign, columns, types, lambda i, _c: f"{alias}._v{i}",
                                  False, "_j"))


def _payload_ref(campaign: Campaign, columns: list[str], identifier: str
                 ) -> Callable[[str], str]:
    index = {c: i for i, c in enumerate(value_columns(campaign, columns))}

    def ref(c: str) -> str:
        return f"to_json({identifier})" if c == campaign.identifier else f"_j{index[c]}"

    return ref


def payload_sql(campaign: Campaign, columns: list[str], identifier: str = "identifier",
                firsts: bool = False) -> str:
    """SQL: the JSON:API profile over a relation with ``identifier`` and the ``_j<i>`` texts
    (and, with ``firsts``, the columns of ``payload_firsts_sql``)."""
    return profile_sql(columns, campaign.identifier, campaign.update_contacts,
                       _payload_ref(campaign, columns, identifier), firsts)


def payload_firsts_sql(campaign: Campaign, columns: list[str],
                       identifier: str = "identifier") -> str:
    """SQL select items over the relation ``payload_sql`` reads: where each object of the
    profile starts (``profile_firsts_sql``), for ``payload_sql(…, firsts=True)``; may be
    empty (no object of several members)."""
    return profile_firsts_sql(columns, campaign.identifier, campaign.update_contacts,
                              _payload_ref(campaign, columns, identifier))


def several_sql(campaign: Campaign, list_name: str, source: str | None = None) -> str:
    """The list's identifiers held by several rows (expansion rows, customers sharing the
    identifier): one narrow group by of the identifier alone, usually empty. Column:
    identifier (as the audience types it). ``source`` as in ``desired_sql``."""
    idc = ident(campaign.identifier)
    return (f"select {idc} as identifier from ({source or sendable_sql(campaign, list_name)}) "
            f"group by 1 having count(*) > 1")


def kept_sql(campaign: Campaign, columns: list[str], types: dict[str, str],
             alias: str = "s") -> str:
    """SQL select items: each value column of a row of ``alias`` as a desired row keeps it
    (``_v<i>``: typed, or its JSON text for types kept as JSON, ``value_kind``)."""
    return "".join(f", {item}" for item in _value_items(
        campaign, columns, types, lambda _i, c: f"{alias}.{ident(c)}", True, "_v"))


def desired_sql(campaign: Campaign, list_name: str, columns: list[str],
                types: dict[str, str], source: str | None = None, timezone: str = "",
                several: str | None = None, narrow: bool = False, halves: bool = False) -> str:
    """One row per identifier the list should hold, not rendered.

    Columns: identifier (varchar), amperity_id (the customer sent: the smallest id among
    customers sharing the identifier), customers (how many customers hold it), sent_email,
    sent_phone_number, sent_external_id (the other identifiers the profile carries; null when
    not sent, and for the campaign's own identifier, which is ``identifier``), fields (the
    mask of the clearable fields sent with a value, ``CLEARABLE_FIELDS``; null for membership
    only), fingerprint (``fingerprint_sql`` of what the profile's JSON is made of), payload,
    holders, and ``_v0…`` (the values of ``value_columns``, typed, or their JSON text for
    types kept as JSON: ``value_kind``).

    Identifiers with one row (the vast majority) are a plain projection of their row (no
    group by, no join back): the JSON is rendered only for the rows a diff sends
    (``json_texts_sql``, ``payload_sql``). Identifiers with several rows (expansion rows,
    customers sharing the identifier) are aggregated over the rows of the customer sent and
    rendered here (``payload``); ``holders`` lists their customers, so the duplicates come
    from the same pass. Only those identifiers pay for the group by.
    ``types``: the DuckDB type of each column. ``source``: the list's rows as they are sent
    (default ``sendable_sql``; a push passes ``loader.sync.identity.source_sql``).
    ``several``: a relation of the identifiers with several rows (``several_sql``, kept in a
    table by the caller), or ``""`` when the caller knows none or will check (the projection
    alone); default: ``several_sql`` inline.
    ``narrow``: the rows without ``fingerprint`` and the ``_v<i>`` values (only with
    ``several=""``): what a plan against state keeps of every row, its diff joining the
    rows themselves for their fingerprints and fetching the values of the few keys it renders
    (``values_sql``).
    ``halves`` (only with ``several=""``): ``_fp1`` and ``_fp2``, the fingerprint's two
    64-bit hashes (``fingerprint_hashes_sql``), in place of ``fingerprint``.
    """
    idc = ident(campaign.identifier)
    values = value_columns(campaign, columns)
    kinds = [value_kind(types.get(c, "")) for c in values]
    sent = sent_identifiers(campaign, columns)
    others_sent = [k for k in sent if k != campaign.identifier]  # the identifier is `identifier`
    owner = "s.amperity_id = c.amperity_id"
    sent_single = "".join(
        f", cast(s.{ident(k)} as varchar) as sent_{k}" if k in others_sent
        else f", null::varchar as sent_{k}" for k in IDENTIFIERS)
    sent_agg = "".join(
        f", cast(min(s.{ident(k)}) filter (where {owner}) as varchar) as sent_{k}"
        if k in others_sent else f", null::varchar as sent_{k}" for k in IDENTIFIERS)
    sent_cols = "".join(f", sent_{k}" for k in IDENTIFIERS)
    kept = kept_sql(campaign, columns, types)
    aggs = "".join(f", {aggregate_json(c, owner, types.get(c, ''))} as _j{i}"
                   for i, c in enumerate(values))
    clearable = set(clearable_columns(campaign, columns))

    def fields(prefix: str) -> str:
        if not campaign.update_contacts:
            return "null::bigint"
        bits = [f"(case when {prefix}{i} is not null then {field_bit(c)} else 0 end)"
                for i, c in enumerate(values) if c in clearable]
        return f"({' + '.join(bits) or '0'})::bigint"

    single_values = [(f"_v{i}", k) for i, k in enumerate(kinds)]
    single_seeds = fingerprint_seeds(campaign, columns, types, timezone)
    # typed properties a JSON number may not carry exactly (sent as strings beyond that)
    inexact = [e for i, c in enumerate(values) if kinds[i] == "fixed"
               and placement(c) == "property"
               and (e := exact_number_sql(f"_v{i}", types.get(c, ""))) is not None]
    single_fp = fingerprint_sql(single_values, single_seeds, inexact)
    multi_fp = fingerprint_sql([(f"_j{i}", "json") for i in range(len(values))],
                               fingerprint_seeds(campaign, columns, types, timezone, True))
    v_cols = "".join(f", _v{i}" for i in range(len(values)))
    source = source or sendable_sql(campaign, list_name)
    assert not (narrow or halves) or several == "", "only for the plain projection"
    fingerprint = "" if narrow else f"\n        {single_fp} as fingerprint,"
    if halves:
        h1, h2 = fingerprint_hashes_sql(single_values, single_seeds, inexact)
        fingerprint = f"\n        {h1} as _fp1, {h2} as _fp2,"
    singles_final = f"""
    select identifier, amperity_id, customers{sent_cols}, {fields('_v')} as fields,{fingerprint}
        null::varchar as payload, null::varchar[] as holders{"" if narrow else v_cols}
    from singles"""
    if several == "":  # the caller found every identifier on one row
        return f"""
with sendable as (
    {source}
),
singles as (
    select cast(s.{idc} as varchar) as identifier, s.amperity_id, 1::bigint as customers
        {sent_single}{kept}
    from sendable as s
),
final as ({singles_final}
)
select * from final
"""
    several = several or f"({several_sql(campaign, list_name, source)})"
    return f"""
with sendable as (
    {source}
),
several as (
    select identifier from {several}
),
singles as (
    select cast(s.{idc} as varchar) as identifier, s.amperity_id, 1::bigint as customers
        {sent_single}{kept}
    from sendable as s
    anti join several as m on m.identifier = s.{idc}
),
counted as (
    select s.{idc} as identifier, min(s.amperity_id) as amperity_id
    from sendable as s
    semi join several as m on m.identifier = s.{idc}
    group by 1
),
multiples as (
    select cast(s.{idc} as varchar) as identifier, c.amperity_id,
        count(distinct s.amperity_id) as customers{sent_agg},
        list_sort(list(distinct s.amperity_id)) as holders{aggs}
    from sendable as s
    inner join counted as c on s.{idc} = c.identifier
    group by s.{idc}, c.amperity_id
),
final as ({singles_final}
    union all by name
    select identifier, amperity_id, customers{sent_cols}, {fields('_j')} as fields,
        {multi_fp} as fingerprint, {payload_sql(campaign, columns)} as payload, holders
    from multiples
)
select * from final
"""


def values_sql(campaign: Campaign, columns: list[str], types: dict[str, str], source: str,
               keys: str) -> str:
    """The ``_v<i>`` columns ``desired_sql`` keeps (``kept_sql``), with ``identifier``, for
    the list's rows (``source``, as ``desired_sql`` read them) whose identifier is among
    ``keys`` (SQL: a relation of one varchar column). Each identifier must be on one row
    (``desired_sql``'s plain projection): the rows are those of the narrow desired rows'
    keys, their values as the projection kept them."""
    idc = ident(campaign.identifier)
    return (f"select cast(s.{idc} as varchar) as identifier{kept_sql(campaign, columns, types)} "
            f"from ({source}) as s where cast(s.{idc} as varchar) in ({keys})")


def duplicates_from_desired(campaign: Campaign, desired: str) -> str:
    """``duplicates_sql``'s rows, from a desired relation (``desired_sql``'s ``holders``)."""
    return f"""
with shared as (
    select identifier, amperity_id as owner_id, unnest(holders) as amperity_id
    from {desired} where customers > 1
)
select amperity_id, identifier, {sql_str(campaign.identifier)} as identifier_kind,
    case when amperity_id <> owner_id then owner_id end as collides_with
from shared
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
