"""What the push tests of every engine share: the emulator's lists as Klaviyo holds them, the
write requests it received, and the reference push from the DuckDB build (conftest)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import duckdb

from klaviyo_emulator import Emulator

AT = "2027-01-01T09:00:00Z"
RECIPIENTS = ("select campaign_id, amperity_id, sub_audience_id, treatment_id, is_control "
              "from klaviyo_loader.campaign_recipients")
WRITES = ("bulk_import_profiles", "remove_profiles_from_list", "update_profile", "create_list",
          "delete_list")


def view(emu: Emulator) -> dict[str, list[str]]:
    """Each list's members as Klaviyo holds them (identifiers, attributes, properties)."""
    profiles = {p["id"]: p for p in emu.profiles()}
    out: dict[str, list[str]] = {}
    for name, rec in emu.lists().items():
        out[name] = sorted(json.dumps({k: v for k, v in profiles[pid].items()
                                       if k not in ("id", "lists", "created", "updated")},
                                      sort_keys=True, default=str)
                           for pid in rec["members"])
    return out


def writes(emu: Emulator) -> dict[str, int]:
    return {op: n for op, n in emu.stats()["requests"].items() if op in WRITES and n}


def duckdb_rows(path: str, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(path, read_only=True)
    try:
        return [tuple(r) for r in con.execute(sql).fetchall()]
    finally:
        con.close()


def assert_state_agrees(rows: Callable[[str], list[tuple[Any, ...]]],
                        reference: dict[str, list[str]], reference_duckdb: str
                        ) -> list[tuple[Any, ...]]:
    """State in the engine (``rows`` runs SQL there) agrees with the reference lists: members
    per list, every delivery completed, nothing pending, and the recipients the DuckDB
    reference push recorded, row for row (returned, sorted)."""
    members = dict(rows("select list_name, count(*) from klaviyo_loader.list_members "
                        "group by list_name"))
    assert members == {n: len(m) for n, m in reference.items() if m}
    assert rows("select count(*) from klaviyo_loader.deliveries "
                "where status <> 'completed'") == [(0,)]
    assert rows("select count(*) from klaviyo_loader.pending_rows") == [(0,)]
    recipients = sorted((tuple(r) for r in rows(RECIPIENTS)), key=repr)
    expected = sorted(duckdb_rows(reference_duckdb, RECIPIENTS), key=repr)
    assert recipients and recipients == expected
    return expected
