"""Bulk import jobs: queued when their POST is answered (202), imported later on a thread of
their own, one at a time and in order, as Klaviyo answers at once and imports afterwards.

Layering: ``handlers`` submits jobs here and ``server`` runs the thread; this module knows
neither (it imports only the store and the clock).
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from typing import Any

from klaviyo_emulator.clock import Clock
from klaviyo_emulator.store import Job, Store


class JobQueue:
    """The queue of bulk import jobs and the worker that imports them.

    ``delay``: seconds before a submitted job starts. ``busy``: True while API requests are
    being answered (the worker lets them go first between chunks). ``gc_freeze``: freeze the
    garbage collector's view of the store after each job, and of a job's parsed profiles as
    soon as it is queued (for a process of its own)."""

    def __init__(self, store: Store, clock: Clock, *, delay: float = 0.0,
                 busy: Callable[[], bool] = lambda: False, gc_freeze: bool = False) -> None:
        self.store = store
        self.clock = clock
        self.delay = delay
        self.gc_freeze = gc_freeze
        self._busy = busy
        self._cv = threading.Condition()
        self._queue: list[Job] = []
        self._current: Job | None = None  # the job being imported right now
        self._stop = threading.Event()

    def submit(self, profiles: list[dict[str, Any]], list_ids: list[str]) -> Job:
        job = self.store.create_job(profiles, list_ids, self.delay)
        if self.gc_freeze:
            # a queued job's profiles (10,000 parsed objects and their members) live until it
            # is imported: left to the collector, each of its full passes while a burst of
            # POSTs is parsed would walk every queued job again (a 10,000-profile body took
            # 4x longer to parse with a few jobs queued)
            gc.freeze()
        with self._cv:
            self._queue.append(job)
            self._cv.notify_all()
        return job

    # ---- the worker thread --------------------------------------------------------------
    def start(self, name: str) -> threading.Thread:
        """Start the worker thread (a daemon); ``stop()`` ends it."""
        self._stop.clear()
        thread = threading.Thread(target=self._run, name=name, daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cv:
                job = None
                if self._queue and self._queue[0].due_at <= self.clock():
                    job = self._current = self._queue[0]
                elif self._queue:
                    self._cv.wait(0.02)  # the clock may be a fake one: poll
                    continue
                else:
                    self._cv.wait(0.5)
                    continue
            self.store.process_job(job, pause=self._yield_to_requests)
            if self.gc_freeze:
                gc.freeze()  # stored profiles are long-lived: full collections skip them
            with self._cv:
                if job in self._queue:
                    self._queue.remove(job)
                self._current = None
                self._cv.notify_all()

    def stop(self) -> None:
        self._stop.set()
        with self._cv:
            self._cv.notify_all()

    def _yield_to_requests(self) -> None:
        """Between chunks of an import, let the requests in flight finish first; wait at most
        0.25 s a chunk."""
        deadline = time.monotonic() + 0.25
        while self._busy() and time.monotonic() < deadline and not self._stop.is_set():
            time.sleep(0.001)

    # ---- control (tests, reset) ----------------------------------------------------------
    def wait(self, timeout: float = 30.0) -> None:
        """Block until every submitted job is complete (real time; advance a fake clock first)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._queue:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self._queue)} bulk import jobs still pending")
                self._cv.wait(min(left, 0.05))

    def drop(self, which: Callable[[Job], bool] = lambda job: True) -> None:
        """Forget the queued jobs ``which`` selects (default: all) that have not started; the
        one being imported is let finish."""
        with self._cv:
            self._queue = [j for j in self._queue if j is self._current or not which(j)]
            self._cv.notify_all()

    def release(self) -> None:
        """Make every queued job due now (and later ones start at once)."""
        with self._cv:
            self.delay = 0.0
            for job in self._queue:
                job.due_at = self.clock()
            self._cv.notify_all()
