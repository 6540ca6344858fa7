"""Client-side pacing to the published burst (per second) and steady (per minute) limits."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from loader.klaviyo.limits import limit


class Pacer:
    """Sliding one-second and one-minute windows per operation.

    ``clock`` and ``sleep`` are injectable so tests drive time without sleeping.
    ``scale`` multiplies every limit (1.0 = Klaviyo's published limits).
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        scale: float = 1.0,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self.scale = scale
        self._sent: dict[str, deque[float]] = {}
        self.waited_s = 0.0

    def _limits(self, operation: str) -> tuple[int, int]:
        lim = limit(operation)
        return (
            max(1, int(lim.burst_per_s * self.scale)),
            max(1, int(lim.steady_per_min * self.scale)),
        )

    def delay(self, operation: str) -> float:
        """Seconds to wait before ``operation`` may be sent (0 when it may go now)."""
        burst, steady = self._limits(operation)
        sent = self._sent.setdefault(operation, deque())
        now = self.clock()
        while sent and sent[0] <= now - 60.0:
            sent.popleft()
        wait = 0.0
        if len(sent) >= steady:
            wait = max(wait, sent[-steady] + 60.0 - now)
        if len(sent) >= burst:
            wait = max(wait, sent[-burst] + 1.0 - now)
        return max(0.0, wait)

    def acquire(self, operation: str) -> None:
        while True:
            wait = self.delay(operation)
            if wait <= 0:
                break
            self.waited_s += wait
            self.sleep(wait)
        self._sent.setdefault(operation, deque()).append(self.clock())
