"""Identifiers withheld account-wide, computed once a push (contract C2, docs/sync.md).

Klaviyo matches an incoming profile by email, then by phone number, then by external id, and
updates the profile it finds — even when that profile holds another email. So a secondary
identifier (phone_number, external_id, or email when the campaign's identifier is another)
shared by two customers makes Klaviyo put one customer's profile in the other's list. Such an
identifier is withheld from every profile that carries it: the customer is still sent by its
campaign identifier, without it. Withheld (``WITHHELD``, one row per kind and value):

* ``shared``: held by two or more customers (different ``amperity_id``) among the sendable rows
  of every campaign of the registry that sends that kind of identifier (as its identifier or as
  another one), and what the state says each list of the account was sent;
* ``invalid``: a phone number the numbering plans call invalid (``loader.sync.phones``); a
  campaign keyed on phone_number does not send such a row at all.

Only identifiers that a pushed campaign sends as a secondary identifier (and phone numbers it
sends) are examined, so a push pays for what it sends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from loader.errors import LoaderError
from loader.klaviyo.payloads import IDENTIFIERS, ident, sql_str
from loader.state import table_exists
from loader.store import qualified
from loader.sync import phones
from loader.warehouse import Campaign, attribute_columns, sendable_sql, sent_identifiers

WITHHELD = "_klaviyo_withheld"  # kind, value, why ('shared'|'invalid'), holders, region
_HOLDERS = "_klaviyo_holders"  # kind, value, amperity_id: who holds each identifier


# SQL: the kind of a ``list_members`` row's ``identifier`` from its shape, where the campaign
# that keyed the list is not known: an email has an @, a phone number is E.164
KIND_BY_SHAPE = ("case when identifier like '%@%' then 'email' "
                 "when regexp_full_match(identifier, '\\+[0-9]+') then 'phone_number' "
                 "else 'external_id' end")


def value_sql(kind: str, column: str | None = None) -> str:
    """SQL: an identifier column as compared across campaigns (emails lower-cased)."""
    col = column or ident(kind)
    return f"lower(trim({col}))" if kind == "email" else f"cast({col} as varchar)"


@dataclass
class IdentityStats:
    phone_numbers: int = 0  # distinct phone numbers checked against the numbering plans
    invalid_phone_numbers: int = 0
    by_library: int = 0  # decided by phonenumbers in Python (may carry a national prefix)
    shared: dict[str, int] = field(default_factory=dict)  # kind -> shared values
    read_state: bool = False  # the verdicts depend on list_members (not only on audiences)


def _columns(con: duckdb.DuckDBPyConnection, campaign: Campaign) -> list[str] | None:
    try:
        return attribute_columns(con, campaign)
    except LoaderError:
        return None  # the campaign's own push reports it


def secondary_kinds(campaign: Campaign, columns: list[str]) -> list[str]:
    return [k for k in sent_identifiers(campaign, columns) if k != campaign.identifier]


def _state_holders(con: duckdb.DuckDBPyConnection, schema: str, account_id: str,
                   registry: list[Campaign], kinds: set[str]) -> list[str]:
    """SQL parts: identifiers the account's lists were sent, by kind, from ``list_members``."""
    if not table_exists(con, schema, "list_members"):
        return []
    cols = {r[0] for r in con.execute(
        "select column_name from information_schema.columns where table_schema = ? "
        "and table_name = 'list_members'", [schema]).fetchall()}
    members = (f'(select * from {qualified(schema, "list_members")} '
               f"where account_id = {sql_str(account_id)})")
    kind_of_list = {name: c.identifier for c in registry for name in c.list_names}
    cases = " ".join(f"when {sql_str(n)} then {sql_str(k)}" for n, k in kind_of_list.items())
    # a list no campaign targets any more: the identifier's kind from its shape
    kind = f"case list_name {cases} else {KIND_BY_SHAPE} end" if cases else KIND_BY_SHAPE
    parts = [f"select kind, value, amperity_id from (select {kind} as kind, identifier as value, "
             f"amperity_id from {members}) where kind in "
             f"({', '.join(sql_str(k) for k in kinds)})"]
    for k in kinds:
        if f"sent_{k}" in cols:
            parts.append(f"select {sql_str(k)}, {value_sql(k, f'sent_{k}')}, amperity_id "
                         f"from {members} where sent_{k} is not null")
    return parts


def build(con: duckdb.DuckDBPyConnection, schema: str, account_id: str | None,
          registry: list[Campaign], pushed: list[Campaign], has_state: bool) -> IdentityStats:
    """(Re)create ``WITHHELD`` for a push of ``pushed`` (campaigns of ``registry``)."""
    stats = IdentityStats()
    columns = {c.campaign_id: _columns(con, c) for c in registry}
    for c in pushed:
        if c.campaign_id not in columns:
            columns[c.campaign_id] = _columns(con, c)
    # the secondary identifiers the pushed campaigns send, and the phone numbers they send
    secondary: list[str] = []
    phone_parts: list[str] = []
    kinds: set[str] = set()
    for c in pushed:
        cols = columns.get(c.campaign_id)
        if cols is None:
            continue
        sendable = _sendable(c)
        for k in secondary_kinds(c, cols):
            kinds.add(k)
            secondary.append(f"select {sql_str(k)} as kind, {value_sql(k)} as value "
                             f"from ({sendable}) where {ident(k)} is not null")
        if "phone_number" in sent_identifiers(c, cols):
            phone_parts.append(f"select cast(phone_number as varchar) as value "
                               f"from ({sendable}) where phone_number is not null")
    con.execute(f"create or replace temp table {WITHHELD} (kind varchar, value varchar, "
                f"why varchar, holders varchar[], region varchar)")
    if phone_parts:
        counts = phones.classify(con, " union all ".join(phone_parts))
        stats.phone_numbers, stats.invalid_phone_numbers = counts["numbers"], counts["invalid"]
        stats.by_library = counts["by_library"]
        con.execute(f"insert into {WITHHELD} select 'phone_number', value, 'invalid', null, "
                    f"region from {phones.VERDICTS} where not valid")
    if not secondary:
        return stats
    holders: list[str] = []
    for c in registry:
        cols = columns.get(c.campaign_id)
        if cols is None:
            continue
        for k in sent_identifiers(c, cols):
            if k in kinds:
                holders.append(f"select {sql_str(k)} as kind, {value_sql(k)} as value, "
                               f"amperity_id from ({_sendable(c)}) where {ident(k)} is not null")
    if has_state and account_id is not None:
        state = _state_holders(con, schema, account_id, registry, kinds)
        stats.read_state = bool(state)
        holders += state
    con.execute(f"create or replace temp table {_HOLDERS} as "
                + " union all ".join(f"select * from ({h})" for h in holders))
    con.execute(f"""
        insert into {WITHHELD}
        with everywhere as (
            select kind, value from {_HOLDERS}
            group by kind, value having min(amperity_id) <> max(amperity_id)
        ),
        shared as (  -- those a pushed campaign sends as a secondary identifier
            select e.kind, e.value from everywhere as e
            semi join ({" union all ".join(secondary)}) as c on c.kind = e.kind
                and c.value = e.value
        ),
        listed as (
            select h.kind, h.value, list_sort(list(distinct h.amperity_id)) as holders
            from {_HOLDERS} as h semi join shared as s on s.kind = h.kind and s.value = h.value
            group by h.kind, h.value
        )
        select l.kind, l.value, 'shared', l.holders, null
        from listed as l anti join {WITHHELD} as w on w.kind = l.kind and w.value = l.value""")
    for kind, n in con.execute(f"select kind, count(*) from {WITHHELD} where why = 'shared' "
                               f"group by kind").fetchall():
        stats.shared[str(kind)] = int(n)
    con.execute(f"drop table if exists {_HOLDERS}")
    return stats


def _sendable(c: Campaign) -> str:
    """Every sendable row of the campaign, any list (not control, no shrink, identifier set)."""
    return (f"select * from {c.audience_relation} where not coalesce(is_control, false) "
            f"and shrink_reason is null and {ident(c.identifier)} is not null "
            f"and list_name is not null")


def empty(con: duckdb.DuckDBPyConnection) -> None:
    """An empty ``WITHHELD`` (nothing withheld)."""
    con.execute(f"create or replace temp table {WITHHELD} (kind varchar, value varchar, "
                f"why varchar, holders varchar[], region varchar)")


def source_sql(campaign: Campaign, list_name: str, columns: list[str]) -> str:
    """The rows of one list as they are sent: its sendable rows with every withheld secondary
    identifier set to null, less the rows whose campaign identifier is an invalid phone number.
    Needs ``WITHHELD``."""
    sql = sendable_sql(campaign, list_name)
    replace = [f"case when {value_sql(k)} in (select value from {WITHHELD} "
               f"where kind = {sql_str(k)}) then null else {ident(k)} end as {ident(k)}"
               for k in secondary_kinds(campaign, columns)]
    select = f"select * replace ({', '.join(replace)})" if replace else "select *"
    where = ""
    if campaign.identifier == "phone_number":
        where = (f" where cast(phone_number as varchar) not in (select value from {WITHHELD} "
                 f"where kind = 'phone_number' and why = 'invalid')")
    return f"{select} from ({sql}) as s{where}"


def withheld_rows_sql(campaign: Campaign, list_name: str, columns: list[str]) -> str:
    """One row per customer of the list and identifier withheld from it: identifier (the
    campaign's), amperity_id, kind, value, reason (``withheld_<kind>: …``); and one per row
    not sent because the campaign's identifier is an invalid phone number (a rejected row:
    ``invalid_phone_number: …``). Needs ``WITHHELD``."""
    sendable = sendable_sql(campaign, list_name)
    idc = ident(campaign.identifier)
    kinds = secondary_kinds(campaign, columns)
    if campaign.identifier == "phone_number":
        kinds = [*kinds, "phone_number"]
    if not kinds:
        return ("select null::varchar as identifier, null::varchar as amperity_id, "
                "null::varchar as kind, null::varchar as value, null::varchar as reason "
                "where false")
    parts = " union all ".join(
        f"select distinct cast({idc} as varchar) as identifier, amperity_id, "
        f"{sql_str(k)} as kind, {value_sql(k)} as value from ({sendable}) "
        f"where {ident(k)} is not null" for k in kinds)
    primary = sql_str(campaign.identifier)
    return f"""
with candidates as ({parts}),
matched as (
    select c.identifier, c.amperity_id, c.kind, c.value, w.why, w.region,
        list_filter(w.holders, lambda x: x <> c.amperity_id) as others
    from candidates as c inner join {WITHHELD} as w on w.kind = c.kind and w.value = c.value
    where w.why = 'invalid' or c.kind <> {primary}
)
select identifier, amperity_id, kind, value,
    case when kind = {primary} then 'invalid_' else 'withheld_' end || kind || ': ' || case
        when why = 'invalid' then 'invalid number ' || value || coalesce(
            ' (not a valid number in the numbering plan of ' || region || ')',
            ' (no such country calling code)')
        else value || ' is also held by ' || array_to_string(others[1:3], ', ')
            || case when len(others) > 3 then ' and ' || (len(others) - 3)::varchar
                || ' more' else '' end
            || ' (Klaviyo would merge their profiles)'
    end || case when kind = {primary} then '; the row is rejected, not sent (the phone '
            || 'number is the campaign''s identifier)'
        else '; the customer is sent without it' end as reason
from matched
"""


__all__ = ["IDENTIFIERS", "WITHHELD", "IdentityStats", "build", "empty", "source_sql",
           "withheld_rows_sql", "value_sql"]
