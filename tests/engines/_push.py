"""What the push tests of every engine share: the emulator's lists as Klaviyo holds them, the
write requests it received, and the reference push from the DuckDB build (conftest)."""

from __future__ import annotations

import json

from klaviyo_emulator import Emulator

AT = "2027-01-01T09:00:00Z"
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
