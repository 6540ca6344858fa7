"""The push lock on a DuckDB warehouse (a file lock beside it) and opening that file."""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import duckdb

from loader.errors import LockedError, WarehouseError

# DuckDB spills to disk beyond this, so the push's memory stays flat as audiences grow.
DEFAULT_MEMORY_LIMIT = "256MB"


def _holder(fh: IO[str]) -> dict[str, str]:
    """What a push wrote in the lock file: run id, pid, start time (empty when unreadable)."""
    try:
        fh.seek(0)
        text = fh.read().strip()
        info = json.loads(text) if text else {}
    except (OSError, ValueError):
        return {}
    return {k: str(v) for k, v in info.items()} if isinstance(info, dict) else {}


def describe_holder(info: dict[str, str]) -> str:
    return (f"run {info.get('run_id', '?')}, pid {info.get('pid', '?')}, since "
            f"{info.get('started_at', '?')}")


def lock_path(duckdb_path: str) -> Path:
    """The push lock beside the DuckDB file (``<file>.push.lock``)."""
    return Path(f"{duckdb_path}.push.lock")


def check_not_directory(path: str) -> None:
    if os.path.isdir(path):
        raise WarehouseError(
            f"The warehouse path {path} is a directory, not a DuckDB file.",
            hint=f"Point DUCKDB_PATH (or --duckdb-path) at the file, e.g. "
            f"{os.path.join(path, 'warehouse.duckdb')}.",
        )


class _FileLock:
    """An flock held on an open file until :meth:`release` (or the process ends)."""

    _fh: IO[str] | None = None

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


@dataclass
class PushLock(_FileLock):
    """An exclusive advisory lock beside the DuckDB file, naming the run that holds it.

    ``dbt build`` (the ``loader.dbt_plugin`` in profiles.yml) takes the same lock shared while
    it opens the warehouse, so a push and a build wait for each other instead of colliding.
    The OS drops the lock when its process ends, however it ends (``kill -9`` included).
    """

    path: Path
    run_id: str
    wait_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _fh: IO[str] | None = None

    @classmethod
    def for_database(cls, duckdb_path: str, run_id: str, wait_s: float = 30.0) -> PushLock:
        check_not_directory(duckdb_path)
        return cls(lock_path(duckdb_path), run_id, wait_s)

    def acquire(self) -> PushLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")  # noqa: SIM115 - held for the push's lifetime
        deadline = self.clock() + self.wait_s
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if self.clock() >= deadline:
                    info = _holder(fh)
                    shared = _held_shared(self.path)
                    fh.close()
                    if shared:
                        raise LockedError(
                            f"`dbt build` (or another dbt command) is opening this warehouse "
                            f"({self.path.name[:-len('.push.lock')]}); waited "
                            f"{self.wait_s:.0f} s.",
                            hint="Push when dbt has finished (`dbt build && loader push`).",
                        ) from None
                    raise LockedError(
                        f"Another `loader push` holds the lock on this warehouse "
                        f"({describe_holder(info)}); waited {self.wait_s:.0f} s.",
                        hint="Wait for it to finish; a killed push releases the lock by itself.",
                    ) from None
                self.sleep(0.2)
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"run_id": self.run_id, "pid": os.getpid(),
                             "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))
        fh.flush()
        self._fh = fh
        return self


    def __enter__(self) -> PushLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _held_shared(path: Path) -> bool:
    """True when the lock is held, but only shared (a dbt command, not a push)."""
    try:
        with open(path) as probe:
            fcntl.flock(probe.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(probe.fileno(), fcntl.LOCK_UN)
            return True
    except (BlockingIOError, OSError):
        return False


def push_holding(duckdb_path: str) -> dict[str, str] | None:
    """The push holding the warehouse's lock right now (run, pid, since), or None."""
    path = lock_path(duckdb_path)
    try:
        fh = open(path)  # noqa: SIM115 - closed below
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            info = _holder(fh)
            return None if info.get("pid") == str(os.getpid()) else info
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return None
    finally:
        fh.close()


class SharedWarehouseLock(_FileLock):
    """The push lock taken shared, waiting while a push holds it (for ``dbt``; see
    ``loader.dbt_plugin``). ``on_wait`` is told once, with the holder, when it has to wait."""

    def __init__(self, duckdb_path: str, wait_s: float,
                 on_wait: Callable[[dict[str, str]], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.duckdb_path = duckdb_path
        self.wait_s = wait_s
        self.on_wait = on_wait
        self.clock = clock
        self.sleep = sleep
        self._fh: IO[str] | None = None

    def acquire(self) -> SharedWarehouseLock:
        path = lock_path(self.duckdb_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a+")  # noqa: SIM115 - held until release()
        deadline = self.clock() + self.wait_s
        told = False
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                info = _holder(fh)
                if self.clock() >= deadline:
                    fh.close()
                    raise LockedError(
                        f"A `loader push` is using the warehouse {self.duckdb_path} "
                        f"({describe_holder(info)}); waited {self.wait_s:.0f} s.",
                        hint="Run dbt again when the push has finished.",
                    ) from None
                if not told and self.on_wait is not None:
                    self.on_wait(info)
                    told = True
                self.sleep(0.5)
        self._fh = fh
        return self



def connect(path: str, read_only: bool = False, wait_s: float = 30.0,
            sleep: Callable[[float], None] = time.sleep) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, waiting a bounded time while another process holds it."""
    check_not_directory(path)
    if read_only and not os.path.exists(path):
        raise WarehouseError(
            f"The warehouse file {path} does not exist.",
            hint="Run `dbt build` first, or point DUCKDB_PATH (or --duckdb-path) at its file.",
        )
    waited = 0.0
    config = {"memory_limit": os.environ.get("LOADER_DUCKDB_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT),
              "preserve_insertion_order": False}
    while True:
        try:
            return duckdb.connect(path, read_only=read_only, config=config)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise WarehouseError(f"Cannot open the warehouse {path}: {exc}",
                                     hint="Check DUCKDB_PATH points at a DuckDB file.") from None
            if waited >= wait_s:
                push = push_holding(path)
                who = (f"a `loader push` ({describe_holder(push)})" if push
                       else "another process (dbt, a push, a notebook)")
                raise WarehouseError(
                    f"The warehouse {path} is in use by {who}; waited {waited:.0f} s.",
                    hint="Retry when it is done.",
                ) from None
            sleep(0.5)
            waited += 0.5
