"""Skip what did not change: one digest of everything a list's plan reads (docs/sync.md).

A push plans a list by rebuilding its desired rows, rendering them and diffing them against
state: work proportional to the audience, paid even when nothing changed. The digest of a
list is an md5 of two parts. Its **inputs**, everything but state:

* every row of every audience relation of the registry (DuckDB's `hash()` of every column,
  aggregated per list and per relation as an exact 128-bit sum and a 64-bit xor, with the
  row count) and each relation's column names and types: the list's own rows, and every
  identifier the account-wide identity pass reads (``loader.sync.identity``);
* the registry rows (the mapping: identifier, attribute columns, list names, update_contacts…;
  not ``built_at`` / ``dbt_invocation_id``, which change with every ``dbt build``);
* the loader's own source, DuckDB's and phonenumbers' versions, and the push options that
  change a plan;

and the **state** part: the account's state the plan and the identity pass read (every
``list_members`` and ``rejected_members`` row of the account, the same way, every column but
``account_id``, which the rows are filtered by, and ``list_members``' ``first_sent_at`` /
``last_sent_at``, history no plan reads).

A delivery that completes cleanly (every row confirmed, nothing rejected, no removal pending)
stores in ``list_digests`` the digest of its lists computed after its sends, their inputs
alone, and the state part it was computed over. The next push decides a skip in two stages:
first the inputs (no state read: a list whose audience, mapping, code or options changed is
planned, and when no list of the push can be skipped on its inputs, state is not read at
all); only when they match, and state holds no pending work for the list (``pending_rows``, a
submitted import job), the whole digest, over the state part read fresh from the tables at
the start of the push (after recovery). When both match the list is not planned at all (no
desired rows, no render, and no identity pass when no list needs one). Before a list's
intent is written its stored digest is deleted, so a kill mid-send never leaves a digest
that vouches for state the sends have since changed.

**A skip is always decided on state read fresh, never on a stored state part.** A push that
reads no state at its start (no list could be skipped on its inputs) starts from the state
part the last push stored, when that push is the account's latest run, the part was hashed
by this loader version over the same columns, and this push's recovery wrote nothing;
otherwise it reads the tables. A step that writes ``list_members`` (a confirmation, a
removal, a clear) hashes the rows it touches before and after its write
(``Digests.changing``), and the part is updated from those (the sums and xors of row hashes
are additive): the end of a push that sent costs what it changed, not a hash of every member.
A table some other step wrote (``Store.steps``) is read again. So the digests a push stores
may rest on a stored part that was wrong or stale (state edited by hand, a write outside a
push, a slip in that bookkeeping): that can only make them disagree with the next push's
fresh read of state, and the list is then planned again, never skipped wrongly.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from loader.store import Store, quote
from loader.warehouse import Campaign

# Bump when what a digest covers changes meaning (old digests then never match).
DIGEST_VERSION = "3"
# registry columns that change with every `dbt build` without changing what is sent
_VOLATILE = {"built_at", "dbt_invocation_id"}
# the state tables a plan reads, and their columns no plan reads (``account_id`` filters)
_STATE = ("list_members", "rejected_members")
_STATE_UNREAD = {"account_id", "first_sent_at", "last_sent_at"}
_LOADER = Path(__file__).resolve().parents[1]


@dataclass
class Stored:
    digest: str
    inputs: str | None  # the digest of every input but state (None: an older loader's)
    desired: int
    duplicates: int
    withheld: int


def row_hash(columns: list[str]) -> str:
    """SQL: DuckDB's 64-bit hash of a row, every column named (``hash(t)`` of a table alias
    would hash only a column that happens to be called ``t``)."""
    return f"hash({', '.join(quote(c) for c in columns)})"


def _code_version() -> str:
    """md5 of the loader's own source: a new loader version plans every list once."""
    h = hashlib.md5()
    for path in sorted(_LOADER.rglob("*.py")):
        h.update(str(path.relative_to(_LOADER)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _versions() -> dict[str, str]:
    try:
        import phonenumbers

        phones = str(getattr(phonenumbers, "__version__", "?"))
    except ImportError:  # pragma: no cover - a dependency
        phones = "none"
    return {"digest": DIGEST_VERSION, "code": _code_version(), "duckdb": duckdb.__version__,
            "phonenumbers": phones}


class Change:
    """What one step changes in a state table, as the digests sum it: rows removed and
    added, each a row hash (``Digests.changing``). Inactive (``digests`` None: no digests,
    or the table's part is to be read again anyway), every method does nothing."""

    def __init__(self, digests: Digests | None, table: str) -> None:
        self.digests = digests
        self.table = table
        self.count = 0
        self.total = 0
        self.xor = 0

    @property
    def active(self) -> bool:
        return self.digests is not None

    def rows(self, sign: int, relation: str, params: list[Any] | None = None) -> None:
        """Count ``relation``'s rows (SQL: a select with the table's columns, by name and
        type) as removed (``sign`` -1) or added (+1)."""
        if self.digests is None:
            return
        count, total, xor = self.digests.aggregate(self.table, relation, params or [])
        self.count += sign * count
        self.total += sign * int(total)
        self.xor ^= xor

    def columns(self) -> list[tuple[str, str]]:
        """(name, type) of the table's columns the digests hash (none when inactive)."""
        return self.digests.columns(self.table) if self.digests is not None else []

    def unknown(self) -> None:
        """The step cannot tell its change: the table is read again."""
        self.digests = None


class Digests:
    """The digests of one push's lists, over one connection and store."""

    def __init__(self, con: duckdb.DuckDBPyConnection, store: Store, account_id: str,
                 registry: list[Campaign], options: dict[str, Any], run_id: str = "") -> None:
        self.con = con
        self.store = store
        self.account_id = account_id
        self.registry = registry
        self.options = options
        self.run_id = run_id
        self._audiences: dict[str, Any] | None = None
        self._per_list: dict[tuple[str, str], list[Any]] = {}
        self._inputs: str | None = None  # md5 of the inputs every list shares
        self._state: Any = None
        self.begin_state: Any = None
        # the state part the push began from was read from the tables (``begin``): only
        # then may a list be skipped
        self.begin_read = False
        # per state table: [steps ended when its part was last known, its part]
        self._known: dict[str, list[Any]] = {}
        self._columns: dict[str, list[tuple[str, str]]] = {}  # per state table: hashed
        self._versions: dict[str, str] | None = None

    # -- the inputs -------------------------------------------------------------------------

    def _audience_parts(self) -> dict[str, Any]:
        """Per audience relation: columns, totals; per (relation, list): its own aggregate."""
        if self._audiences is not None:
            return self._audiences
        out: dict[str, Any] = {}
        for rel in sorted({c.audience_relation for c in self.registry}):
            try:
                cols = self.con.execute(f"select column_name, column_type from "
                                        f"(describe {rel})").fetchall()
                h = row_hash([str(c[0]) for c in cols])
                rows = self.con.execute(
                    f"select list_name, count(*), sum({h}::hugeint)::varchar, "
                    f"bit_xor({h}) from {rel} group by list_name").fetchall()
            except duckdb.Error as exc:  # the campaign's own push reports it
                out[rel] = f"unreadable: {str(exc).splitlines()[0]}"
                continue
            groups = sorted([str(r[0]), int(r[1]), str(r[2]), int(r[3])] for r in rows)
            for g in groups:
                self._per_list[(rel, g[0])] = g
            out[rel] = {"columns": [list(map(str, c)) for c in cols], "lists": groups}
        self._audiences = out
        return out

    def begin(self, skippable: list[tuple[Campaign, str, list[str]]]) -> None:
        """The state part the push starts from (after recovery): read from the tables when a
        list of ``skippable`` (campaign, list name, columns) could be skipped on its inputs
        (stage one of the check), or when no stored part can stand for it; otherwise the
        part the last push stored, unread (a skip is never decided on it: ``fresh_state``)."""
        stored = None if self._inputs_match(skippable) else self._stored_state()
        if stored is not None:
            for table, part in zip(_STATE, stored, strict=True):
                self._known[table] = [self.store.steps.get(table, 0), part]
        self.begin_read = stored is None
        self._state = self.begin_state = self.state_now()

    def fresh_state(self) -> Any:
        """The state part the push began from, when it was read from the tables (else None:
        a skip needs a fresh read and a push whose lists' inputs all changed made none)."""
        return self.begin_state if self.begin_read else None

    def _inputs_match(self, skippable: list[tuple[Campaign, str, list[str]]]) -> bool:
        """Stage one for every list the push might skip: is any list's stored inputs digest
        the same as now (its campaign and list name)? No state is read."""
        if not skippable or not self.store.exists("list_digests"):
            return False
        rows = self.con.execute(
            f"select campaign_id, list_name, inputs from {self.store.t('list_digests')} "
            f"where account_id = ? and inputs is not null", [self.account_id]).fetchall()
        if not rows:
            return False
        have = {(str(r[0]), str(r[1]), str(r[2])) for r in rows}
        return any((c.campaign_id, name, self.inputs(c, name, columns)) in have
                   for c, name, columns in skippable)

    def _stored_state(self) -> list[Any] | None:
        """The state part the account's last push stored with its digests, if it can stand for
        state now without a read: that push is the account's latest run before this one,
        this push's recovery wrote no state table, and the part was hashed by this loader
        version over the same columns. It may still be wrong (state edited by hand): only a
        stored digest rests on it, which the next push's fresh read then disagrees with."""
        if (any(self.store.steps.get(t, 0) for t in _STATE)
                or not all(self.store.exists(t) for t in (*_STATE, "list_digests", "sync_runs"))):
            return None
        row = self.con.execute(
            f"select state, run_id from {self.store.t('list_digests')} where account_id = ? "
            f"and state is not null order by recorded_at desc limit 1",
            [self.account_id]).fetchone()
        last = self.con.execute(
            f"select run_id from {self.store.t('sync_runs')} where account_id = ? "
            f"and run_id <> ? order by started_at desc limit 1",
            [self.account_id, self.run_id]).fetchone()
        if row is None or last is None or str(last[0]) != str(row[1]):
            return None
        try:
            doc = json.loads(str(row[0]))
            if doc.get("format") != self._state_format():
                return None
            tables = [[int(p[0]), str(int(p[1])), int(p[2])] for p in doc["tables"]]
        except (AttributeError, KeyError, IndexError, TypeError, ValueError):
            return None  # not a part this loader wrote: read the tables instead
        return tables if len(tables) == len(_STATE) else None

    def _state_format(self) -> dict[str, Any]:
        """What a stored state part was hashed with: the versions and the hashed columns."""
        return {"versions": self._versions_now(),
                "columns": {t: [list(c) for c in self.columns(t)] for t in _STATE}}

    def stored_state_text(self) -> str:
        """The state part now, as ``list_digests.state`` stores it (``_stored_state``)."""
        return json.dumps({"format": self._state_format(), "tables": self._state_part()},
                          sort_keys=True, default=str)

    def _state_part(self) -> Any:
        if self._state is None:
            self._state = self.state_now()
        return self._state

    def state_now(self) -> list[Any]:
        """The account's state rows the plan and the identity pass read, aggregated per table:
        read from the table only when a step that may have written it ended since its part
        was last known and did not account for its change (``changing``)."""
        out: list[Any] = []
        for table in _STATE:
            steps = self.store.steps.get(table, 0)
            known = self._known.get(table)
            if known is None or known[0] != steps:
                known = self._known[table] = [steps, self._read_table(table)]
            out.append(list(known[1]) if known[1] is not None else None)
        return out

    def columns(self, table: str) -> list[tuple[str, str]]:
        """(name, type) of ``table``'s columns the digests hash, in the table's order."""
        if table not in self._columns:
            cols = self.con.execute(f"select column_name, column_type from (describe "
                                    f"{self.store.t(table)})").fetchall()
            self._columns[table] = [(str(c[0]), str(c[1])) for c in cols
                                    if str(c[0]) not in _STATE_UNREAD]
        return self._columns[table]

    def aggregate(self, table: str, relation: str, params: list[Any]) -> list[Any]:
        """[count, exact sum as text, xor] of the row hashes of ``relation`` (SQL: a select
        holding ``table``'s hashed columns, by name, of the same types)."""
        h = row_hash([c for c, _ in self.columns(table)])
        row = self.con.execute(
            f"select count(*), coalesce(sum({h}::hugeint), 0)::varchar, "
            f"coalesce(bit_xor({h}), 0) from ({relation})", params).fetchone()
        return [int(row[0]), str(row[1]), int(row[2])] if row else [0, "0", 0]

    def _read_table(self, table: str) -> list[Any] | None:
        if not self.store.exists(table):
            return None
        return self.aggregate(table, f"select * from {self.store.t(table)} "
                                     f"where account_id = ?", [self.account_id])

    @contextlib.contextmanager
    def changing(self, table: str = "list_members") -> Iterator[Change]:
        """Around the writes of one step to ``table`` (entered inside the step): the step
        tells the ``Change`` it is given the rows it removes and adds (their row hashes are
        summed and xor-ed: those aggregates are additive), and the table's part is updated
        from them, so the end of a push does not hash every member again.

        Only a step entered with the part current (no other step since it was known), left
        without an error, with no other step of the table in between, and that did not call
        ``Change.unknown`` is accounted; any other leaves the part to be read again. A change
        a step writes but does not tell would make the stored digest disagree with the next
        push's read of state: the list is then planned again, never skipped wrongly."""
        known = self._known.get(table)
        steps = self.store.steps.get(table, 0)
        current = known is not None and known[1] is not None and known[0] == steps - 1
        change = Change(self, table) if current else Change(None, table)
        yield change
        if (not change.active or known is None
                or self.store.steps.get(table, 0) != steps):
            return
        count, total, xor = known[1]
        known[1] = [count + change.count, str(int(total) + change.total), xor ^ change.xor]
        known[0] = steps

    def _versions_now(self) -> dict[str, str]:
        if self._versions is None:
            self._versions = _versions()
        return self._versions

    def world(self) -> str:
        """md5 of every input every list shares but state: audiences, registry, code."""
        if self._inputs is None:
            registry = sorted(
                json.dumps({k: v for k, v in c.row.items() if k not in _VOLATILE},
                           sort_keys=True, default=str) for c in self.registry)
            doc = {"versions": self._versions_now(), "options": self.options,
                   "registry": registry, "audiences": self._audience_parts()}
            self._inputs = hashlib.md5(
                json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()
        return self._inputs

    def inputs(self, campaign: Campaign, list_name: str, columns: list[str]) -> str:
        """The digest of one list's inputs but state (its rows are in ``world`` through their
        relation): stage one of a skip."""
        parts = [self.world(), campaign.campaign_id, list_name, columns,
                 self._per_list.get((campaign.audience_relation, list_name))]
        return hashlib.md5(json.dumps(parts, default=str).encode()).hexdigest()

    def of(self, campaign: Campaign, list_name: str, columns: list[str], state: Any) -> str:
        """The whole digest of one list: its inputs and the state part ``state``."""
        parts = [self.inputs(campaign, list_name, columns), state]
        return hashlib.md5(json.dumps(parts, default=str).encode()).hexdigest()

    def refresh_state(self) -> bool:
        """Re-read the state part (after sends); True when it changed."""
        before = self._state_part()
        self._state = self.state_now()
        return self._state != before

    # -- state ------------------------------------------------------------------------------

    def stored(self, list_id: str) -> Stored | None:
        if not self.store.exists("list_digests"):
            return None
        row = self.con.execute(
            f"select digest, inputs, desired, duplicates, withheld from "
            f"{self.store.t('list_digests')} where account_id = ? and list_id = ?",
            [self.account_id, list_id]).fetchone()
        if row is None:
            return None
        return Stored(str(row[0]), None if row[1] is None else str(row[1]), int(row[2]),
                      int(row[3]), int(row[4]))

    def pending(self, list_id: str) -> bool:
        """State holds work for the list: intent rows, or an import job not yet confirmed."""
        row = self.con.execute(
            f"select (select count(*) from {self.store.t('pending_rows')} where account_id = ? "
            f"and list_id = ?) + (select count(*) from {self.store.t('import_jobs')} "
            f"where account_id = ? and list_id = ? and status = 'submitted')",
            [self.account_id, list_id, self.account_id, list_id]).fetchone()
        return bool(row and row[0])

    def forget(self, list_id: str) -> None:
        """Before a list's intent is written: its digest vouches for nothing any more."""
        if self.store.exists("list_digests"):
            with self.store.step("list_digests"):
                self.con.execute(f"delete from {self.store.t('list_digests')} "
                                 f"where account_id = ? and list_id = ?",
                                 [self.account_id, list_id])

    def record(self, rows: list[tuple[Campaign, str, str, list[str], int, int, int]],
               run_id: str, at: Any) -> None:
        """Store (campaign, list name, list id, columns, desired, duplicates, withheld) rows'
        digests, over the state part now (``refresh_state``), with their inputs and that
        part (the next push's start when it reads no state), in one step."""
        if not rows:
            return
        t = self.store.t("list_digests")
        state, text = self._state_part(), self.stored_state_text()
        with self.store.step("list_digests"):
            for c, name, list_id, columns, desired, duplicates, withheld in rows:
                self.con.execute(f"delete from {t} where account_id = ? and list_id = ?",
                                 [self.account_id, list_id])
                self.con.execute(
                    f"insert into {t} (account_id, list_id, list_name, campaign_id, digest, "
                    f"desired, duplicates, withheld, run_id, recorded_at, inputs, state) "
                    f"values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [self.account_id, list_id, name, c.campaign_id,
                     self.of(c, name, columns, state), desired, duplicates, withheld, run_id,
                     at, self.inputs(c, name, columns), text])


def same_withheld(con: duckdb.DuckDBPyConnection, a: str, b: str) -> bool:
    """Two ``WITHHELD`` tables hold the same (kind, value, why, holders)."""
    cols = "kind, value, why, holders"
    row = con.execute(f"select (select count(*) from (select {cols} from {a} except all "
                      f"select {cols} from {b})) + (select count(*) from (select {cols} "
                      f"from {b} except all select {cols} from {a}))").fetchone()
    return bool(row) and not row[0]


__all__ = ["DIGEST_VERSION", "Change", "Digests", "Stored", "same_withheld"]
