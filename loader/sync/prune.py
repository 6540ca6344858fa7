"""Lists the project filled and no longer targets: show them, and empty or delete them on
request (``loader lists``, ``loader prune``). Never implicit: a renamed list keeps its
members until someone prunes it; a push only warns.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

import duckdb

from loader.config import Settings
from loader.errors import ConfigError, KlaviyoError
from loader.klaviyo.client import KlaviyoClient, NotFoundError
from loader.store import Store, qualified
from loader.store.lock import PushLock, connect
from loader.store.schema import table_exists
from loader.warehouse import read_registry

STATE_TABLES = ("list_members", "pending_rows", "rejected_members", "import_jobs")


@dataclass
class KnownList:
    list_id: str
    list_name: str
    members: int  # members state says the loader sent
    campaigns: list[str] = field(default_factory=list)  # campaigns sending to its name
    in_klaviyo: bool | None = None  # None: not checked
    profile_count: int | None = None  # Klaviyo's member count, when checked

    @property
    def orphaned(self) -> bool:
        return not self.campaigns

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "orphaned": self.orphaned}


@dataclass
class PruneAction:
    list_id: str
    list_name: str
    action: str  # 'empty' | 'delete'
    members: int  # Klaviyo members removed (or to remove) / held by the deleted list
    done: bool = False
    note: str | None = None


def known_lists(con: duckdb.DuckDBPyConnection, schema: str, account_id: str
                ) -> list[KnownList]:
    """Every list the state holds members of for this account, with the campaigns that send
    to it (none: orphaned)."""
    campaigns, _ = read_registry(con)
    if not table_exists(con, schema, "list_members"):
        return []
    rows = con.execute(
        f"select list_id, any_value(list_name), count(*) "
        f"from {qualified(schema, 'list_members')} where account_id = ? "
        f"group by list_id order by 2, 1", [account_id]).fetchall()
    return [KnownList(str(lid), str(name), int(n),
                      [c.campaign_id for c in campaigns if name in c.list_names])
            for lid, name, n in rows]


def check_in_klaviyo(client: KlaviyoClient, lists: list[KnownList]) -> None:
    for lst in lists:
        try:
            body = client.request("get_list", "GET", f"/api/lists/{quote(lst.list_id)}",
                                  params={"additional-fields[list]": "profile_count"})
        except NotFoundError:
            lst.in_klaviyo = False
            continue
        lst.in_klaviyo = True
        count = ((body or {}).get("data") or {}).get("attributes", {}).get("profile_count")
        lst.profile_count = int(count) if count is not None else None


def _member_ids(client: KlaviyoClient, list_id: str) -> list[str]:
    ids: list[str] = []
    url: str | None = f"/api/lists/{quote(list_id)}/relationships/profiles"
    params: dict[str, Any] | None = {"page[size]": 100}
    while url:
        body = client.request("get_profile_ids_for_list", "GET", url, params=params) or {}
        ids += [str(d["id"]) for d in body.get("data") or []]
        url = (body.get("links") or {}).get("next")
        params = None
    return ids


def prune(settings: Settings, names: list[str], action: str, apply: bool,
          client: KlaviyoClient | None = None) -> list[PruneAction]:
    """Empty (remove every member) or delete the named lists; a dry run unless ``apply``.

    Only lists the state knows for this account and that no campaign sends to: pruning a
    targeted list would be undone (or fought) by the next push.
    """
    if action not in ("empty", "delete"):
        raise ConfigError("Choose what to do with the lists: --empty or --delete.")
    if not names:
        raise ConfigError("Name the lists to prune (`loader lists` shows the orphaned ones).")
    client = client or KlaviyoClient.from_settings(settings)
    account_id = client.get_account_id()
    run_id = "prune-" + uuid.uuid4().hex[:8]
    lock = PushLock.for_database(settings.duckdb_path, run_id) if apply else None
    if lock is not None:
        lock.acquire()
    try:
        con = connect(settings.duckdb_path, read_only=not apply)
        try:
            known = known_lists(con, settings.state_schema, account_id)
            chosen: list[KnownList] = []
            for name in names:
                match = [k for k in known if name in (k.list_name, k.list_id)]
                if not match:
                    raise ConfigError(
                        f"No list {name!r} in the state of Klaviyo account {account_id}: "
                        "prune only handles lists a push filled.",
                        hint="`loader lists` shows them; remove other lists in Klaviyo.")
                for k in match:
                    if k.campaigns:
                        raise ConfigError(
                            f"The list {k.list_name!r} is still sent to by "
                            f"{', '.join(k.campaigns)}; a push would refill it.",
                            hint="Change or remove those campaigns (and `dbt build`) first.")
                    if k not in chosen:
                        chosen.append(k)
            return [_prune_one(con, settings.state_schema, account_id, client, k, action,
                               apply) for k in chosen]
        finally:
            con.close()
    finally:
        if lock is not None:
            lock.release()


def _prune_one(con: duckdb.DuckDBPyConnection, schema: str, account_id: str,
               client: KlaviyoClient, lst: KnownList, action: str, apply: bool) -> PruneAction:
    try:
        ids = _member_ids(client, lst.list_id)
    except NotFoundError:
        ids = None
    out = PruneAction(lst.list_id, lst.list_name, action, len(ids or []))
    if ids is None:
        out.note = "the list no longer exists in Klaviyo; only its state is forgotten"
    if not apply:
        return out
    try:
        if ids is not None and action == "delete":
            client.request("delete_list", "DELETE", f"/api/lists/{quote(lst.list_id)}")
        elif ids:
            for i in range(0, len(ids), 1000):
                client.remove_from_list(lst.list_id, ids[i:i + 1000])
    except NotFoundError:
        out.note = "the list no longer exists in Klaviyo; only its state is forgotten"
    except KlaviyoError:
        raise
    Store(con, schema).forget_lists(account_id, [lst.list_id], STATE_TABLES)
    out.done = True
    return out
