"""A dbt-duckdb plugin: `dbt build` waits while `loader push` is using the warehouse.

DuckDB lets one process at a time open a file for writing, and a push keeps the warehouse open
while it waits on Klaviyo. Without this plugin, a `dbt build` started during a push fails with
DuckDB's lock error. With it (profiles.yml, the duckdb output)::

    plugins:
      - module: loader.dbt_plugin
        config:
          wait_seconds: 3600

dbt-duckdb calls ``update_connection_config`` right before it opens the file: the plugin takes
the push lock (``<file>.push.lock``) shared, printing one line when a push holds it and waiting
for the push to finish (at most ``wait_seconds``, then one clear error naming the push and since
when). Once dbt's connection is open (``configure_connection``) the lock is let go: DuckDB's own
lock then keeps a push out, and the push waits for dbt in turn.
"""

from __future__ import annotations

import sys
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from dbt_common.exceptions import DbtRuntimeError

from loader.errors import LockedError
from loader.state import SharedWarehouseLock, describe_holder

DEFAULT_WAIT_SECONDS = 3600.0
_told: set[str] = set()  # one "waiting" line a push, however many connections dbt opens


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.wait_s = float(plugin_config.get("wait_seconds", DEFAULT_WAIT_SECONDS))
        self._lock: SharedWarehouseLock | None = None

    def update_connection_config(self, creds: Any, config: dict[str, Any]) -> None:
        path = str(getattr(creds, "path", "") or "")
        if not path or path == ":memory:" or ":" in path.split("/")[0]:
            return  # in-memory, MotherDuck, or another scheme: no local file to share

        def tell(info: dict[str, str]) -> None:
            if info.get("run_id") not in _told:
                _told.add(info.get("run_id", ""))
                print(f"Waiting for `loader push` ({describe_holder(info)}) to finish with "
                      f"{path} (up to {self.wait_s:.0f} s)…", file=sys.stderr, flush=True)

        self.release()
        try:
            self._lock = SharedWarehouseLock(path, self.wait_s, on_wait=tell).acquire()
        except LockedError as exc:
            raise DbtRuntimeError(f"{exc.message} {exc.hint or ''}".strip()) from None

    def configure_connection(self, conn: Any) -> None:
        self.release()

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
