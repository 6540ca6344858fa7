"""Audience row → JSON:API profile object, built as SQL text so DuckDB renders the JSON.

Placement by column name (docs/campaigns.md#attributes): profile fields go to ``attributes``,
location fields to ``attributes.location``, anything else to ``attributes.properties``. A NULL
profile or location field is not sent; a NULL custom property is cleared with
``meta.patch_properties.unset``.
"""

from __future__ import annotations

import json
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


def value_json(column: str, ref: str | None = None) -> str:
    """SQL for the JSON text of one scalar column's value (NULL stays NULL).

    ``ref``: the SQL holding the value (default: the column itself)."""
    col = ref or ident(column)
    if placement(column) == "property" or column in NUMERIC_OK:
        return f"to_json({col})"
    return f"to_json(cast({col} as varchar))"


def aggregate_json(column: str, where: str | None = None) -> str:
    """SQL aggregate: the JSON text of a column over one customer's rows.

    A custom property with several distinct values (expansion rows from a multi-valued table)
    becomes a sorted JSON array; anything else takes one value (the smallest). ``where``: only
    the rows it holds for are aggregated (SQL, a ``filter`` clause).
    """
    col = ident(column)
    f = f" filter (where {where})" if where else ""
    if placement(column) == "property":
        return (
            f"case when count(distinct {col}){f} > 1 "
            f"then to_json(list_sort(list(distinct {col}){f})) "
            f"else to_json(min({col}){f}) end"
        )
    if column in NUMERIC_OK:
        return f"to_json(min({col}){f})"
    return f"to_json(cast(min({col}){f} as varchar))"


def profile_sql(columns: list[str], identifier: str, update_contacts: bool,
                ref: Callable[[str], str] = ident) -> str:
    """SQL for the profile JSON text over a relation whose columns hold JSON texts.

    ``columns`` are the mapped Klaviyo columns (each a column of JSON text or NULL).
    With ``update_contacts`` off only the identifier is sent (membership only).
    ``ref(column)``: the SQL naming the column's JSON text (default: the column itself).

    The text is one ``concat`` of constant pieces and the values themselves (``concat`` skips
    a NULL): each key comes with its comma when something precedes it, decided by the
    presence of the values before it, so no piece is a string made for the occasion (a
    ``key || value`` pair, a ``concat_ws`` of pairs, a nested object) only to be copied into
    the next: a first push renders every profile of its audience.
    """
    cols = columns if update_contacts else [identifier]
    profile = [c for c in cols if placement(c) == "profile"]
    location = [c for c in cols if placement(c) == "location"]
    props = [c for c in cols if placement(c) == "property"]

    def some(refs: list[str], test: str = "is not null") -> str:
        return " or ".join(f"{r} {test}" for r in refs)

    def piece(when: str, text: str, before: str) -> str:
        """``text`` when ``when`` holds, after a comma when ``before`` (SQL or '') holds too."""
        if not before:
            return f"case when {when} then {sql_str(text)} end"
        return (f"case when {when} then case when {before} then {sql_str(',' + text)} "
                f"else {sql_str(text)} end end")

    def members(names: list[str], before: list[str]) -> list[str]:
        """``"key":value`` of each non-null column, comma-separated, after ``before``'s."""
        out: list[str] = []
        refs = list(before)
        for c in names:
            r = ref(c)
            out += [piece(f"{r} is not null", json.dumps(c) + ":", some(refs)), r]
            refs.append(r)
        return out

    args = [sql_str('{"type":"profile","attributes":{'), *members(profile, [])]
    top = [ref(c) for c in profile]  # the attributes' values so far
    for key, names in (("location", location), ("properties", props)):
        if not names:
            continue
        refs = [ref(c) for c in names]
        args += [piece(some(refs), json.dumps(key) + ":{", some(top)), *members(names, []),
                 f"case when {some(refs)} then '}}' end"]
        top += refs
    args.append("'}'")
    if props:  # NULL custom properties: cleared by the import
        refs = [ref(c) for c in props]
        args.append(piece(some(refs, "is null"),
                          ',"meta":{"patch_properties":{"unset":[', ""))
        args += [piece(f"{r} is null", json.dumps(c), some(refs[:i], "is null"))
                 for i, (c, r) in enumerate(zip(props, refs, strict=True))]
        args.append(f"case when {some(refs, 'is null')} then ']}}}}' end")
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
