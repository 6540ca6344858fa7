"""Klaviyo's per-operation rate limits (burst a second, steady a minute, daily): token buckets."""

from __future__ import annotations

import math
import threading

from klaviyo_emulator.clock import Clock
from klaviyo_emulator.ops import Operation


class Bucket:
    """``capacity`` tokens refilled at ``rate`` a second."""

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.stamp = now

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait_for_one(self) -> float:
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class RateLimiter:
    """Per-operation buckets; ``scale`` multiplies capacities and refill rates (None: off)."""

    def __init__(self, clock: Clock, scale: float | None = None) -> None:
        self.clock = clock
        self.scale = scale
        self._buckets: dict[str, list[Bucket]] = {}
        self._lock = threading.Lock()

    def configure(self, scale: float | None) -> None:
        with self._lock:
            self.scale = scale
            self._buckets.clear()

    def _make(self, op: Operation, now: float, scale: float) -> list[Bucket]:
        buckets = [
            Bucket(max(1.0, op.burst * scale), op.burst * scale, now),
            Bucket(max(1.0, op.steady * scale), op.steady * scale / 60.0, now),
        ]
        if op.daily:
            buckets.append(Bucket(max(1.0, op.daily * scale), op.daily * scale / 86400.0, now))
        return buckets

    def acquire(self, op: Operation) -> int | None:
        """Take a token from every bucket; if one is empty return Retry-After seconds instead."""
        if self.scale is None:
            return None
        with self._lock:
            now = self.clock()
            buckets = self._buckets.get(op.op_id)
            if buckets is None:
                buckets = self._buckets[op.op_id] = self._make(op, now, self.scale)
            for b in buckets:
                b.refill(now)
            wait = max(b.wait_for_one() for b in buckets)
            if wait > 0:
                return max(1, math.ceil(wait))
            for b in buckets:
                b.tokens -= 1
            return None


def parse_rate_limits(value: str | float | bool | None) -> float | None:
    """``on`` → 1, ``off`` → None, a number → that scale."""
    if value is None or value is False:
        return None
    if value is True:
        return 1.0
    if isinstance(value, int | float):
        if value <= 0:
            raise ValueError("the rate-limit scale must be positive")
        return float(value)
    text = str(value).strip().lower()
    if text in ("off", "none", "0", "no", "false"):
        return None
    if text in ("on", "yes", "true"):
        return 1.0
    try:
        scale = float(text)
    except ValueError:
        scale = 0.0
    if scale <= 0:
        raise ValueError(f"--rate-limits must be on, off or a positive scale, not {value!r}")
    return scale
