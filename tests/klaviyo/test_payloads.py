"""Profiles rendered in DuckDB: placement, NULL handling, multi-valued properties, batching."""

from __future__ import annotations

import itertools
import json

import duckdb

from loader.klaviyo.payloads import (
    aggregate_json,
    import_job_body,
    placement,
    profile_firsts_sql,
    profile_sql,
)
from loader.sync.plan import batch_bounds

# Klaviyo's bulk import limits (Bulk Import Profiles: at most 10,000 profiles and 5 MB a
# request), written here independently of loader/klaviyo/limits.py
MAX_PROFILES = 10_000
MAX_BYTES = 5 * 1024 * 1024

COLS = ["email", "first_name", "city", "latitude", "loyalty_tier", "interest"]


def render(rows: list[tuple], update_contacts: bool = True) -> list[dict]:
    con = duckdb.connect()
    con.execute("create table a (email varchar, first_name varchar, city varchar, "
                "latitude double, loyalty_tier varchar, interest varchar)")
    con.executemany("insert into a values (?, ?, ?, ?, ?, ?)", rows)
    aggs = ", ".join(f'{aggregate_json(c)} as "{c}"' for c in COLS)
    sql = (f"select {profile_sql(COLS, 'email', update_contacts)} from "
           f"(select {aggs} from a group by email) order by 1")
    return [json.loads(r[0]) for r in con.execute(sql).fetchall()]


def test_placement_nulls_and_unset() -> None:
    (p,) = render([("a@x.com", "Zoë", None, 48.85, None, "golf")])
    assert p["type"] == "profile"
    assert p["attributes"]["email"] == "a@x.com"
    assert p["attributes"]["first_name"] == "Zoë"
    assert p["attributes"]["location"] == {"latitude": 48.85}  # NULL city not sent
    assert p["attributes"]["properties"] == {"interest": "golf"}
    assert p["meta"]["patch_properties"]["unset"] == ["loyalty_tier"]


def test_multi_valued_property_becomes_a_sorted_list() -> None:
    (p,) = render([("a@x.com", "A", "Oslo", None, "gold", "tennis"),
                   ("a@x.com", "A", "Oslo", None, "gold", "golf")])
    assert p["attributes"]["properties"] == {"loyalty_tier": "gold",
                                             "interest": ["golf", "tennis"]}


def test_membership_only_sends_the_identifier() -> None:
    (p,) = render([("a@x.com", "A", "Oslo", 1.0, "gold", "golf")], update_contacts=False)
    assert p == {"type": "profile", "attributes": {"email": "a@x.com"}}


def _profile(n: int, i: int) -> str:
    """A rendered profile of exactly ``n`` bytes."""
    head = f'{{"type":"profile","attributes":{{"email":"u{i}@x.io","properties":{{"p":"'
    return head + "x" * (n - len(head) - 4) + '"}}}'


def test_batches_respect_count_and_size_limits() -> None:
    assert [b for b in batch_bounds([100] * 25_000)] == [
        (0, 9_999), (10_000, 19_999), (20_000, 24_999)]
    sizes = [90_000 + (i * 7919) % 9_000 for i in range(200)]  # 90-99 KB profiles
    profiles = [_profile(n, i) for i, n in enumerate(sizes)]
    bounds = list(batch_bounds(sizes))
    assert bounds[0][0] == 0 and bounds[-1][1] == 199
    assert all(b + 1 == a for (_, b), (a, _) in zip(bounds, bounds[1:], strict=False))
    for a, b in bounds:
        body = import_job_body(profiles[a:b + 1], "AbC123").encode()
        assert len(body) <= MAX_BYTES and b - a + 1 <= MAX_PROFILES
        if b + 1 < len(profiles):  # cut as late as it may: one more profile would not fit
            longer = import_job_body(profiles[a:b + 2], "AbC123").encode()
            assert len(longer) > MAX_BYTES - 64  # (the cut reserves room for a 64-char id)


def test_job_bounds_over_the_diff_table_match_the_greedy_cut() -> None:
    """Both paths of job_bounds (rows only, or bytes too) cut as batch_bounds does."""
    import duckdb

    from loader.sync.plan import DIFF, job_bounds

    con = duckdb.connect()
    for size in (100, 2_000):  # 10,000 x 2,001 bytes > 5 MB: the byte limit binds
        con.execute(f"create or replace temp table {DIFF} as select "
                    f"case when i % 7 = 3 then null else i * 2 end as seq, "
                    f"{size} + i % 5 as nbytes from range(25000) as t(i)")
        rows = con.execute(f"select seq, nbytes from {DIFF} where seq is not null "
                           f"order by seq").fetchall()
        want = [(rows[a][0], rows[b][0]) for a, b in batch_bounds([n for _, n in rows])]
        assert job_bounds(con) == want
        assert len(want) == (3 if size == 100 else 9)


def _reference(columns: list[str], values: dict[str, str | None]) -> str:
    """The profile's JSON text as docs/sync.md describes it, built in Python: non-null profile
    fields in ``attributes``, location fields in ``attributes.location``, the rest in
    ``attributes.properties`` (each object left out when it would be empty), NULL custom
    properties in ``meta.patch_properties.unset``; no whitespace, keys in column order."""
    def obj(names: list[str]) -> list[str]:
        return [f"{json.dumps(c)}:{values[c]}" for c in names if values[c] is not None]

    placed = {k: [c for c in columns if placement(c) == k]
              for k in ("profile", "location", "property")}
    attributes = obj(placed["profile"])
    for key, kind in (("location", "location"), ("properties", "property")):
        if obj(placed[kind]):
            attributes.append(f'"{key}":{{{",".join(obj(placed[kind]))}}}')
    out = '{"type":"profile","attributes":{' + ",".join(attributes) + "}"
    unset = [json.dumps(c) for c in placed["property"] if values[c] is None]
    if unset:
        out += ',"meta":{"patch_properties":{"unset":[' + ",".join(unset) + "]}}"
    return out + "}"


def test_every_pattern_of_nulls_renders_the_documented_bytes() -> None:
    """profile_sql places each comma by the first value present in its object: every
    combination of NULLs (the identifier's too) in every placement, first or not, renders
    byte for byte the text built in Python, whether the objects' first members are found
    inline or read from ``profile_firsts_sql``'s columns."""
    con = duckdb.connect()
    for columns in (["first_name", "email", "city", "zip", "tier", "it's \"odd\""],
                    ["email", "latitude", "p1", "last_name"], ["zip", "p1", "email"]):
        refs = {c: f"c{i}" for i, c in enumerate(columns)}
        inline = profile_sql(columns, "email", True, refs.__getitem__)
        firsts = profile_firsts_sql(columns, "email", True, refs.__getitem__)
        read = profile_sql(columns, "email", True, refs.__getitem__, firsts=True)
        cases = list(itertools.product((None, '"v"', "1.50", '["a","b"]'), repeat=len(columns)))
        con.execute("create or replace table t as select * from (values "
                    + ", ".join("(" + ", ".join("null" if v is None else f"'{v}'" for v in vals)
                                + ")" for vals in cases) + ") as v("
                    + ", ".join(refs.values()) + ")")
        rendered = con.execute(f"select {', '.join(refs.values())}, {inline}, {read} "
                               f"from (select *, {firsts} from t)").fetchall()
        assert len(rendered) == len(cases)
        for row in rendered:
            values = dict(zip(columns, row[:-2], strict=True))
            assert row[-2] == row[-1] == _reference(columns, values), values
    only = profile_sql(["email", "city", "p1"], "email", False, lambda c: f"'\"{c}\"'")
    assert con.execute(f"select {only}").fetchone() == (
        '{"type":"profile","attributes":{"email":"email"}}',)
