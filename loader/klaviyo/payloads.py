"""Audience row → JSON:API profile object, built as SQL text so DuckDB renders the JSON.

Placement by column name (docs/campaigns.md#attributes): profile fields go to ``attributes``,
location fields to ``attributes.location``, anything else to ``attributes.properties``. A NULL
profile or location field is not sent; a NULL custom property is cleared with
``meta.patch_properties.unset``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

# Bump when the JSON a row renders to changes for the same values (a new placement rule, a new
# way to write a type): every fingerprint changes with it, so every profile is sent once again.
RENDER_VERSION = "2"

PROFILE_FIELDS = (
    "email", "phone_number", "external_id", "first_name", "last_name", "organization",
    "locale", "title", "image",
)
LOCATION_FIELDS = (
    "address1", "address2", "city", "country", "region", "zip", "latitude", "longitude",
    "timezone", "ip",
)
NUMERIC_OK = ("latitude", "longitude")  # may be a JSON number
IDENTIFIERS = ("email", "phone_number", "external_id")


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def sql_str(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _key(name: str) -> str:
    return sql_str(json.dumps(name) + ":")


def placement(column: str) -> str:
    if column in PROFILE_FIELDS:
        return "profile"
    if column in LOCATION_FIELDS:
        return "location"
    return "property"


# Klaviyo reads a JSON number as a double: integers are exact up to 2**53, and a decimal up to
# 15 significant digits. A property typed wider (a BIGINT loyalty number, a DECIMAL(38, 0) id)
# whose value is beyond that is sent as a JSON string of its exact digits instead, never
# rounded; every other value of it is still a number.
EXACT_INTEGER = 2**53
EXACT_DIGITS = 15
_WIDE_INTEGERS = ("BIGINT", "UBIGINT", "HUGEINT", "UHUGEINT", "INT8", "INT64", "INT128",
                  "LONG", "UINT64", "UINT128")
_DECIMAL = re.compile(r"(?:DECIMAL|NUMERIC)\((\d+),\s*(\d+)\)")


def exact_number_sql(value: str, column_type: str) -> str | None:
    """SQL: ``value`` (of ``column_type``) is exact as a JSON number (Klaviyo's double); None
    when every value of the type is (no check needed)."""
    t = column_type.strip().upper()
    if t in _WIDE_INTEGERS:
        return f"{value} between -{EXACT_INTEGER} and {EXACT_INTEGER}"
    m = _DECIMAL.fullmatch(t)
    if m and int(m.group(1)) > EXACT_DIGITS:
        scale = int(m.group(2))
        if scale >= EXACT_DIGITS:
            return f"{value} = 0"
        return f"abs({value}) < {10 ** (EXACT_DIGITS - scale)}"
    return None


_FLOATS = ("DOUBLE", "FLOAT", "REAL", "FLOAT4", "FLOAT8")


def finite_sql(value: str, column_type: str) -> str:
    """SQL: ``value`` with a float's NaN and infinities as NULL (JSON has no token for them:
    ``to_json`` would write a bare ``NaN``, which no JSON parser reads), in a list of floats
    too; any other type as it is."""
    t = column_type.strip().upper()
    if t in _FLOATS:
        return f"(case when isfinite({value}) then {value} end)"
    if t.endswith("[]") and t[:-2].strip() in _FLOATS:
        return f"list_transform({value}, lambda x: case when isfinite(x) then x end)"
    return value


def value_json(column: str, ref: str | None = None, column_type: str = "") -> str:
    """SQL for the JSON text of one scalar column's value (NULL stays NULL).

    ``ref``: the SQL holding the value (default: the column itself). ``column_type``: its
    DuckDB type; a property's value a double cannot hold exactly is a JSON string
    (``exact_number_sql``), a float's NaN or infinity is NULL (``finite_sql``)."""
    col = ref or ident(column)
    if placement(column) == "property" or column in NUMERIC_OK:
        col = finite_sql(col, column_type)
        exact = exact_number_sql(col, column_type) if placement(column) == "property" else None
        if exact is not None:
            return (f"case when {exact} then to_json({col}) "
                    f"else to_json(cast({col} as varchar)) end")
        return f"to_json({col})"
    return f"to_json(cast({col} as varchar))"


def aggregate_json(column: str, where: str | None = None, column_type: str = "") -> str:
    """SQL aggregate: the JSON text of a column over one customer's rows.

    A custom property with several distinct values (expansion rows from a multi-valued table)
    becomes a sorted JSON array; anything else takes one value (the smallest). ``where``: only
    the rows it holds for are aggregated (SQL, a ``filter`` clause). ``column_type``: as in
    ``value_json``; an array holding a value a double cannot hold exactly is an array of
    strings (all of them: a JSON array of one type).
    """
    col = ident(column)
    f = f" filter (where {where})" if where else ""
    if placement(column) == "property":
        exact = exact_number_sql(col, column_type)
        if exact is not None:
            one = value_json(column, f"min({col}){f}", column_type)
            return (
                f"case when count(distinct {col}){f} > 1 then case when bool_and({exact}){f} "
                f"then to_json(list_sort(list(distinct {col}){f})) "
                f"else to_json(list_sort(list(distinct cast({col} as varchar)){f})) end "
                f"else {one} end"
            )
        col = finite_sql(col, column_type)
        return (
            f"case when count(distinct {col}){f} > 1 "
            f"then to_json(list_sort(list(distinct {col}){f})) "
            f"else to_json(min({col}){f}) end"
        )
    if column in NUMERIC_OK:
        return f"to_json(min({finite_sql(col, column_type)}){f})"
    return f"to_json(cast(min({col}){f} as varchar))"


def _objects(columns: list[str], identifier: str, update_contacts: bool,
             ref: Callable[[str], str]) -> dict[str, list[str]]:
    """The profile's objects and, for each, its members' presence (SQL conditions): the
    attributes (profile fields, then the location and properties objects, present when one
    of their members is), the location, the properties, and the names to unset."""
    cols = columns if update_contacts else [identifier]
    profile = [c for c in cols if placement(c) == "profile"]
    location = [c for c in cols if placement(c) == "location"]
    props = [c for c in cols if placement(c) == "property"]
    out = {"location": [f"{ref(c)} is not null" for c in location],
           "properties": [f"{ref(c)} is not null" for c in props],
           "unset": [f"{ref(c)} is null" for c in props]}
    out["attributes"] = [f"{ref(c)} is not null" for c in profile] + [
        f"({_first(out[k])}) is not null" for k in ("location", "properties") if out[k]]
    return out


def _first(present: list[str]) -> str:
    """SQL: the position of the first of ``present`` (conditions) that holds, else NULL."""
    return f"case {' '.join(f'when {p} then {i}' for i, p in enumerate(present))} end"


FIRSTS = "_first_"  # profile_firsts_sql's column prefix


def profile_firsts_sql(columns: list[str], identifier: str, update_contacts: bool,
                       ref: Callable[[str], str] = ident) -> str:
    """SQL select items (``_first_<object>``): where each object of the profile starts (the
    position of its first present member), for ``profile_sql(…, firsts=True)`` one
    projection later: found once a row instead of once a member."""
    objects = _objects(columns, identifier, update_contacts, ref)
    return ", ".join(f"{_first(p)} as {FIRSTS}{k}" for k, p in objects.items() if len(p) > 1)


def profile_sql(columns: list[str], identifier: str, update_contacts: bool,
                ref: Callable[[str], str] = ident, firsts: bool = False) -> str:
    """SQL for the profile JSON text over a relation whose columns hold JSON texts.

    ``columns`` are the mapped Klaviyo columns (each a column of JSON text or NULL).
    With ``update_contacts`` off only the identifier is sent (membership only).
    ``ref(column)``: the SQL naming the column's JSON text (default: the column itself).

    The text is one ``concat`` of constant pieces and the values themselves (``concat`` skips
    a NULL), so no piece is a string made only to be copied into the next (a ``key || value``
    pair, a ``concat_ws`` of pairs, a nested object): a first push renders every profile of
    its audience. Each member of an object (a key and its value, a nested object, a name to
    unset) comes after a comma unless it is the first present member of its object: the
    position of that one is the object's ``case`` (``_first``), repeated in each member's
    SQL, or, with ``firsts``, read from the columns ``profile_firsts_sql`` adds one
    projection before (the SQL then grows with the columns, not with their square).
    """
    cols = columns if update_contacts else [identifier]
    props = [c for c in cols if placement(c) == "property"]
    objects = _objects(columns, identifier, update_contacts, ref)

    def members(key: str, items: list[tuple[str, list[str]]]) -> list[str]:
        present = objects[key]
        at = f"{FIRSTS}{key}" if firsts else _first(present)
        out: list[str] = []
        for i, (p, (text, pieces)) in enumerate(zip(present, items, strict=True)):
            if i == 0:
                out.append(f"case when {p} then {sql_str(text)} end")
            else:
                out.append(f"case when {p} then case when {at} = {i} "
                           f"then {sql_str(text)} else {sql_str(',' + text)} end end")
            out += pieces
        return out

    items = [(json.dumps(c) + ":", [ref(c)]) for c in cols if placement(c) == "profile"]
    for key, kind in (("location", "location"), ("properties", "property")):
        names = [c for c in cols if placement(c) == kind]
        if names:
            items.append((json.dumps(key) + ":{", [
                *members(key, [(json.dumps(c) + ":", [ref(c)]) for c in names]),
                f"case when {objects['attributes'][len(items)]} then '}}' end"]))
    args = [sql_str('{"type":"profile","attributes":{'), *members("attributes", items), "'}'"]
    if props:
        some = f"({_first(objects['unset'])}) is not null"
        head = sql_str(',"meta":{"patch_properties":{"unset":[')
        args += [f"case when {some} then {head} end",
                 *members("unset", [(json.dumps(c), []) for c in props]),
                 f"case when {some} then ']}}}}' end"]
    args.append("'}'")
    return f"concat({', '.join(args)})"


BODY_HEAD = '{"data":{"type":"profile-bulk-import-job","attributes":{"profiles":{"data":['


def _body_tail(list_id: str | None) -> str:
    rel = (
        f',"relationships":{{"lists":{{"data":[{{"type":"list","id":{json.dumps(list_id)}}}]}}}}'
        if list_id
        else ""
    )
    return "]}}" + rel + "}}"


def import_job_body(profiles: list[str], list_id: str | None) -> str:
    """The bulk import job body around already-rendered profile objects."""
    return BODY_HEAD + ",".join(profiles) + _body_tail(list_id)


def import_job_body_bytes(profiles: list[bytes], list_id: str | None) -> bytes:
    """``import_job_body(…).encode()`` from profiles already UTF-8 encoded (DuckDB hands
    them over as BLOBs): the same bytes, without decoding each profile into a Python string
    and encoding the body again (a third of a job body's CPU)."""
    head, tail = BODY_HEAD.encode(), _body_tail(list_id).encode()
    if not profiles:
        return head + tail
    # the head and tail join the first and last profile: the body is copied once, not twice
    parts = list(profiles)
    parts[0] = head + parts[0]
    parts[-1] = parts[-1] + tail
    return b",".join(parts)


IMPORT_BODY_OVERHEAD = len(import_job_body([], "X" * 64))
