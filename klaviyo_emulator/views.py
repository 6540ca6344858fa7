"""What tests and ``/_emulator/`` see of the account: lists with their members' identifiers and
profiles as plain dicts (copies, read under the store's lock)."""

from __future__ import annotations

from typing import Any

from klaviyo_emulator.store import ListRec, Store, iso


def profile_view(p: dict[str, Any], lists: list[str]) -> dict[str, Any]:
    view = {k: v for k, v in p.items()
            if k not in ("created", "updated", "location", "properties")}
    view.update({"location": dict(p["location"]), "properties": dict(p["properties"]),
                 "created": iso(p["created"]), "updated": iso(p["updated"]), "lists": lists})
    return view


def list_view(store: Store, rec: ListRec) -> dict[str, Any]:
    profiles = store.profiles
    members = [pid for pid in rec.members if pid in profiles]
    return {
        "id": rec.id, "name": rec.name, "members": members,
        "emails": {profiles[p]["email"] for p in members if profiles[p]["email"]},
        "phone_numbers": {profiles[p]["phone_number"] for p in members
                          if profiles[p]["phone_number"]},
        "external_ids": {profiles[p]["external_id"] for p in members
                         if profiles[p]["external_id"]},
    }


def lists_by_name(store: Store) -> dict[str, dict[str, Any]]:
    """{name: list view}; of lists sharing a name, the first created."""
    out: dict[str, dict[str, Any]] = {}
    with store.lock:
        for rec in store.lists.values():
            out.setdefault(rec.name, list_view(store, rec))
    return out


def lists_by_id(store: Store) -> dict[str, dict[str, Any]]:
    with store.lock:
        return {rec.id: list_view(store, rec) for rec in store.lists.values()}


def profiles(store: Store) -> list[dict[str, Any]]:
    with store.lock:
        memberships: dict[str, list[str]] = {}
        for rec in store.lists.values():
            for pid in rec.members:
                memberships.setdefault(pid, []).append(rec.id)
        return [profile_view(p, memberships.get(p["id"], [])) for p in store.profiles.values()]


def find_profile(store: Store, email: str | None, phone_number: str | None,
                 external_id: str | None) -> dict[str, Any] | None:
    with store.lock:
        pid = store.lookup(email, phone_number, external_id)
        p = store.profiles.get(pid) if pid is not None else None
        if p is None:
            return None
        return profile_view(p, [rec.id for rec in store.lists.values() if pid in rec.members])
