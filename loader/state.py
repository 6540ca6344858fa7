"""Kept for imports written before ``loader.store``: the state tables and the push lock.

New code imports from ``loader.store`` (operations), ``loader.store.schema`` (tables) and
``loader.store.lock`` (the DuckDB file lock).
"""

from loader.store.lock import (
    DEFAULT_MEMORY_LIMIT,
    PushLock,
    SharedWarehouseLock,
    check_not_directory,
    connect,
    describe_holder,
    lock_path,
    push_holding,
)
from loader.store.schema import (
    ADDED_COLUMNS,
    CAMPAIGN_RECIPIENTS_COLUMNS,
    TABLES,
    ensure_schema,
    table_exists,
)

__all__ = [
    "ADDED_COLUMNS",
    "CAMPAIGN_RECIPIENTS_COLUMNS",
    "DEFAULT_MEMORY_LIMIT",
    "TABLES",
    "PushLock",
    "SharedWarehouseLock",
    "check_not_directory",
    "connect",
    "describe_holder",
    "ensure_schema",
    "lock_path",
    "push_holding",
    "table_exists",
]
