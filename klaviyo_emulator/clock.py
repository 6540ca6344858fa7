"""Clocks: the emulator reads time through one callable so tests can move it by hand."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]  # seconds since the epoch


def system_clock() -> float:
    return time.time()


class FakeClock:
    """A clock that only moves when told to (``advance``); thread-safe."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
