"""NULL means NULL in Klaviyo: profile and location fields that went from a value to NULL.

A bulk import never clears a field (Klaviyo documents that only non-null values are written),
so a field the warehouse set to NULL would keep its old value in Klaviyo forever. Klaviyo's way
to clear one is Update Profile (``PATCH /api/profiles/{id}``) with the field set to null.

State knows what each member was sent: ``list_members.sent_fields`` is a mask over
``loader.warehouse.CLEARABLE_FIELDS`` of the fields sent with a value. A confirmed import adds
the fields it carried to the mask (it never removes one: the value is still in Klaviyo); a
profile is patched when its mask holds a field that the campaign maps and the desired profile
no longer carries, and only then is the field dropped from the mask. So a kill between the
PATCH and its state write repeats the (idempotent) PATCH, and an unchanged push sends none.
Custom properties are not concerned: the import clears them (``patch_properties.unset``).

Cost: one ``PATCH`` a profile (Klaviyo: 75/s burst, 750/min steady), plus one
``GET /api/profiles`` per 100 profiles whose id state does not know yet. The profiles to patch
are read from the plan's one pass (``loader.sync.plan.DIFF``), not from another join of the
whole list with state. The same after-send step gives members whose fingerprint an older
loader wrote, found unchanged by the plan, this version's fingerprint (``upgrade``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import duckdb

from loader.errors import KlaviyoError
from loader.klaviyo.payloads import IDENTIFIERS, LOCATION_FIELDS, sql_str
from loader.store import Store, qualified
from loader.sync.apply import Applier, insert_rows
from loader.sync.crashpoints import crashpoint
from loader.sync.digest import Change
from loader.sync.plan import DIFF, IDENTIFIER_BITS
from loader.warehouse import CLEARABLE_FIELDS, FINGERPRINT_PREFIX, field_bit

LOOKUP_PAGE = 100
STATE_BATCH = 100  # PATCHes between two state writes


def clears_sql(schema: str, account_id: str, list_id: str, mask: int, held: int = 0) -> str:
    """The desired profiles of the list with fields to clear: identifier, profile_id,
    clear (mask of the fields to set to null), fields (the desired mask, plus the fields of
    ``held`` state says were sent: held back by the guard, still to clear later).

    Read after the list's imports are confirmed, from state as they left it, for the rows
    the plan found may need it (``DIFF``: every desired row not unchanged, and the unchanged
    ones whose sent fields hold one the desired row lacks), so not over the whole list.

    An identifier field (email, phone_number, external_id) is cleared only when the plan
    found it to clear (``DIFF.clear``: not withheld, and no other list of the account sends
    one for the profile, ``Planner._keep_identifiers``); one left stays in the recorded mask
    (``fields``), as it stays in Klaviyo."""
    kept = f"({int(mask) & IDENTIFIER_BITS} & ~coalesce(d.clear, 0))"
    return f"""
select identifier, profile_id, clear, fields from (
    select d.identifier, m.profile_id,
        m.sent_fields & ~d.desired_fields & {int(mask)} & ~{kept} as clear,
        d.desired_fields | (m.sent_fields & ({kept} | {int(held)})) as fields
    from {DIFF} as d
    inner join {qualified(schema, "list_members")} as m on m.account_id = {sql_str(account_id)}
        and m.list_id = {sql_str(list_id)} and m.identifier = d.identifier
    where d.kind <> 'remove' and d.desired_fields is not null and m.sent_fields is not null
        and m.sent_fields & ~d.desired_fields & {int(mask)} <> 0
        -- an add was no member: its mask is what it was sent with (fields), nothing more
        and (d.kind <> 'add' or d.fields & ~d.desired_fields & {int(mask)} <> 0)
)
where clear <> 0
"""


def count(con: duckdb.DuckDBPyConnection, schema: str, account_id: str, list_id: str | None,
          mask: int, has_columns: bool) -> tuple[int, int]:
    """(profiles to patch, of which without a known profile id) — for plans and dry runs:
    what state says before the push (``DIFF.clear``, computed by the plan's one pass, over
    the fields of ``mask``)."""
    if list_id is None or not mask or not has_columns:
        return 0, 0
    row = con.execute(f"select count(*), count(*) filter (where profile_id is null) from "
                      f"{DIFF} where clear & {int(mask)} <> 0").fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


@dataclass(frozen=True)
class ClearGuard:
    """A field a push would clear on at least ``minimum`` members and ``share`` of the list's
    members state says had it is held back, not cleared (an upstream column renamed or
    dropped turns a whole list's values into NULL), unless ``allowed`` names it (or "all")."""
    share: float = 0.5
    minimum: int = 10
    allowed: frozenset[str] = frozenset()


@dataclass(frozen=True)
class HeldClear:
    field: str
    clears: int  # members whose value the push would clear
    had: int  # members of the list state says were sent a value of the field


def held_clears(con: duckdb.DuckDBPyConnection, schema: str, account_id: str,
                list_id: str | None, mask: int, has_columns: bool, guard: ClearGuard
                ) -> list[HeldClear]:
    """The fields of ``mask`` the guard holds back for this list (read from ``DIFF.clear``,
    as ``count``, and the list's members in state)."""
    if list_id is None or not mask or not has_columns or "all" in guard.allowed:
        return []
    bits = [(1 << i, name) for i, name in enumerate(CLEARABLE_FIELDS)
            if mask & (1 << i) and name not in guard.allowed]
    if not bits:
        return []
    clears = con.execute("select " + ", ".join(
        f"count(*) filter (where clear & {bit} <> 0)" for bit, _ in bits)
        + f" from {DIFF} where clear <> 0").fetchone()
    if not clears or max(int(n) for n in clears) < max(guard.minimum, 1):
        return []
    had = con.execute("select " + ", ".join(
        f"count(*) filter (where sent_fields & {bit} <> 0)" for bit, _ in bits)
        + f" from {qualified(schema, 'list_members')} where account_id = ? and list_id = ?",
        [account_id, list_id]).fetchone()
    held: list[HeldClear] = []
    for (_, name), n, h in zip(bits, clears, had or [0] * len(bits), strict=True):
        n, h = int(n), int(h)
        if n >= max(guard.minimum, 1) and n >= guard.share * max(h, n):
            held.append(HeldClear(name, n, max(h, n)))
    return held


def held_mask(held: list[HeldClear]) -> int:
    return sum(1 << CLEARABLE_FIELDS.index(h.field) for h in held)


def upgrade(store: Store, account_id: str, list_id: str, applier: Applier | None = None
            ) -> int:
    """Members the plan found unchanged whose state row still says something else, written
    in one step (nothing is sent: Klaviyo's profile, keyed by the identifier, already holds
    this content):

    * ``DIFF.upgrade``: a fingerprint an older loader wrote (the md5 of the profile's JSON)
      whose profile rendered now has that md5 gets the fingerprint of this version, so the
      next push does not render it again;
    * ``DIFF.recluster``: the customer sent under the identifier is now another
      ``amperity_id`` (identity resolution re-clustered the person, or another customer now
      holds a shared identifier) with the same content: state names the new customer, whom
      the recording then proves delivered (``Store.record_recipients`` joins on it).

    The same content under another name: whenever it is written (or not, after a kill: the
    next plan finds the same rows again), nothing is sent or missed. Returns how many
    members changed customer."""
    con = store.con
    row = con.execute(f"select count(*) filter (where upgrade or recluster), "
                      f"count(*) filter (where recluster) from {DIFF}").fetchone()
    if not row or not row[0]:
        return 0
    follow = applier.changing() if applier else contextlib.nullcontext(Change(None, ""))
    keys = f"select identifier from {DIFF} where upgrade or recluster"
    with store.step("list_members"), follow as change:
        rows = applier.members_where(list_id, keys) if applier else ""
        change.rows(-1, rows)
        con.execute(f"""
            update {store.t('list_members')} as m set fingerprint = d.fingerprint,
                amperity_id = d.amperity_id
            from {DIFF} as d
            where (d.upgrade or d.recluster) and m.account_id = ? and m.list_id = ?
                and m.identifier = d.identifier
                and (not starts_with(m.fingerprint, ?)
                    or m.amperity_id is distinct from d.amperity_id)""",
                    [account_id, list_id, FINGERPRINT_PREFIX])
        change.rows(1, rows)
    crashpoint("members.upgraded")
    return int(row[1])


def body(profile_id: str, clear: int) -> dict[str, Any]:
    """The Update Profile document setting the fields of ``clear`` to null."""
    attributes: dict[str, Any] = {}
    location: dict[str, None] = {}
    for i, name in enumerate(CLEARABLE_FIELDS):
        if clear & (1 << i):
            if name in LOCATION_FIELDS:
                location[name] = None
            else:
                attributes[name] = None
    if location:
        attributes["location"] = location
    return {"data": {"type": "profile", "id": profile_id, "attributes": attributes}}


def clear_fields(applier: Applier, list_id: str, identifier_field: str, mask: int,
                 held: int = 0) -> int:
    """PATCH every profile of the list whose field (of ``mask``) went from a value to NULL;
    the number of profiles patched. The fields of ``held`` (held back by ``ClearGuard``) are
    neither cleared nor dropped from the members' masks: a later push clears them. First,
    members found unchanged under an older fingerprint or another customer get this
    version's fingerprint and the customer sent now (``upgrade``)."""
    con, store = applier.con, applier.store
    upgrade(store, applier.account_id, list_id, applier)
    rows = con.execute(clears_sql(applier.schema, applier.account_id, list_id, mask, held)
                       ).fetchall()
    if not rows:
        return 0
    ids = {r[0]: r[1] for r in rows}
    unknown = sorted(i for i, pid in ids.items() if pid is None)
    for start in range(0, len(unknown), LOOKUP_PAGE):
        chunk = unknown[start:start + LOOKUP_PAGE]
        wanted = {(v.lower() if identifier_field == "email" else v): v for v in chunk}
        for p in applier.client.find_profiles(identifier_field, chunk):
            value = p.get(identifier_field) or ""
            key = value.lower() if identifier_field == "email" else value
            if key in wanted:
                ids[wanted[key]] = p["id"]
    done: list[tuple[str, str | None, int]] = []
    patched = 0
    for identifier, _, clear, fields in rows:
        pid = ids.get(identifier)
        if pid is not None:
            try:
                applier.client.request("update_profile", "PATCH", f"/api/profiles/{pid}",
                                       body=body(pid, int(clear)))
                crashpoint("clear.patched")  # cleared in Klaviyo; state still has the mask
                patched += 1
            except KlaviyoError as exc:
                if getattr(exc, "status", None) != 404:
                    _record(applier, list_id, done)
                    raise
                pid = None  # the profile is gone: nothing left to clear
        done.append((identifier, pid, int(fields)))
        if len(done) >= STATE_BATCH:
            _record(applier, list_id, done)
            done = []
    _record(applier, list_id, done)
    return patched


def _record(applier: Applier, list_id: str, done: list[tuple[str, str | None, int]]) -> None:
    """The patched members' masks become the desired ones (their ids cached), in one
    transaction."""
    if not done:
        return
    store, account_id = applier.store, applier.account_id
    con, t = store.con, store.t
    con.execute("create or replace temp table _klaviyo_cleared (identifier varchar, "
                "profile_id varchar, fields bigint)")
    insert_rows(con, "_klaviyo_cleared", done, 3)
    with store.step("list_members"), applier.changing() as change:
        rows = applier.members_where(list_id, "select identifier from _klaviyo_cleared")
        change.rows(-1, rows)
        # a cleared identifier is no longer held: its sent value goes with it
        sent = "".join(f", sent_{k} = case when c.fields & {field_bit(k)} <> 0 "
                       f"then m.sent_{k} end" for k in IDENTIFIERS)
        con.execute(f"""
            update {t('list_members')} as m set sent_fields = c.fields{sent},
                profile_id = coalesce(m.profile_id, c.profile_id)
            from _klaviyo_cleared as c
            where m.account_id = ? and m.list_id = ? and m.identifier = c.identifier""",
                    [account_id, list_id])
        change.rows(1, rows)
    crashpoint("clear.recorded")
    done.clear()
