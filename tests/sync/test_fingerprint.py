"""Change detection: a profile's fingerprint (a 64-bit hash, then the exact content its payload is
rendered from) is equal to another only when their payloads are, whatever the hash does, and
fingerprints of older versions cause one re-send, never a miss (docs/sync.md)."""

from __future__ import annotations

import itertools

import duckdb
import pytest

from loader.errors import EXIT_OK
from loader.klaviyo.payloads import JSON_PREFIX, fingerprint_sql, profile_sql, value_json
from tests.sync.helpers import write_warehouse

# (first_name, city, loyalty_tier, lifetime_revenue) typed as each row declares
ROWS = [
    ("'Ann'", "'Oslo'", "'gold'", "1.37::decimal(18,2)"),
    ("'Ann'", "'Oslo'", "'gold'", "'1.37'"),  # the same text, a string not a number
    ("'Ann'", "'Oslo'", "null", "1.37::decimal(18,2)"),  # a property unset
    ("'Ann'", "'Oslo'", "''", "1.37::decimal(18,2)"),  # an empty string, not null
    ("'Ann' || chr(31) || 'Oslo'", "null", "'gold'", "1.37::decimal(18,2)"),  # separators
    ("'Ann'", "chr(31) || 'Oslo'", "'gold'", "1.37::decimal(18,2)"),
    ("'Ann' || chr(30)", "'Oslo'", "'gold'", "1.37::decimal(18,2)"),
    ("null", "'Ann'", "'Oslo'", "null"),  # values shifted one column along
    ("'Ann'", "'Oslo'", "null", "null"),
    ("'Ann'", "null", "null", "null"),
    ("'Änn \"q\"'", "'Oslo'", "'gold'", "1.37::decimal(18,2)"),
]
MAPPINGS = [
    ["email", "first_name", "city", "loyalty_tier", "lifetime_revenue"],
    ["email", "first_name", "city", "loyalty_tier", "tier_two"],  # a property renamed
    ["email", "first_name", "region", "loyalty_tier", "lifetime_revenue"],  # a location field
    ["email", "last_name", "city", "loyalty_tier", "lifetime_revenue"],  # a profile field
]


def rendered(con: duckdb.DuckDBPyConnection, constant_hash: bool) -> list[tuple[str, str]]:
    """(fingerprint, payload) of every row under every mapping, as the push renders them."""
    out = []
    for m, cols in enumerate(MAPPINGS):
        for i, (first, city, tier, revenue) in enumerate(ROWS):
            values = dict(zip(cols[1:], (first, city, tier, revenue), strict=True))
            typed = ", ".join(["'a@example.com' as email"]
                              + [f"{v} as {c}" for c, v in values.items()])
            json_cols = ", ".join(f"{value_json(c)} as {JSON_PREFIX}{c}" for c in cols)
            fp = fingerprint_sql(cols, "email", True)
            if constant_hash:  # every hash collides: only the content can tell rows apart
                fp = fp.replace("hash(", "0 * hash(")
            payload = profile_sql(cols, "email", True, prefix=JSON_PREFIX)
            row = con.execute(f"select {fp}, {payload} from (select {json_cols} from "
                              f"(select {typed}))").fetchone()
            assert row is not None, (m, i)
            out.append((row[0], row[1]))
    return out


@pytest.mark.parametrize("constant_hash", [False, True])
def test_fingerprints_are_equal_only_when_payloads_are(constant_hash: bool) -> None:
    con = duckdb.connect()
    rows = rendered(con, constant_hash)
    assert len({p for _, p in rows}) > 30  # the cases render distinct payloads
    for (fa, pa), (fb, pb) in itertools.combinations(rows, 2):
        if pa != pb:  # a different payload always has a different fingerprint: never a miss
            assert fa != fb, (pa, pb)
    # (equal payloads may differ in fingerprint, e.g. a NULL location field under two
    # mappings: at worst a re-send)
    assert rendered(con, constant_hash) == rows  # the same rows, the same fingerprints
    if not constant_hash:  # the hash alone already separates them (so it can fail fast)
        assert len({f.split(":")[1] for f, _ in rows}) == len({f for f, _ in rows})


def test_older_fingerprints_cause_one_resend_never_a_miss(
        klaviyo_emulator, spec, warehouse, run_push) -> None:
    first = run_push()
    assert first.exit_code == EXIT_OK
    sendable = sum(r.added for r in first.lists)
    # state as an older version wrote it: md5 of the payload
    with duckdb.connect(warehouse) as con:
        con.execute("update klaviyo_loader.list_members set fingerprint = md5(identifier)")
    # meanwhile a member changed: it must reach Klaviyo
    member = next(m for m in spec.members if m.treatment != "control" and not m.shrink_reason)
    member.city = "Changed City"
    write_warehouse(warehouse, [spec])
    imported = klaviyo_emulator.stats()["profiles_imported"]
    second = run_push()
    assert second.exit_code == EXIT_OK
    assert sum(r.updated for r in second.lists) == sendable  # every member re-sent, once
    assert klaviyo_emulator.stats()["profiles_imported"] - imported == sendable
    assert klaviyo_emulator.find_profile(email=member.email)["location"]["city"] == "Changed City"
    third = run_push()
    assert sum(r.updated + r.added for r in third.lists) == 0
    assert sum(r.unchanged for r in third.lists) == sendable
