"""Fault injection: a seeded draw per API request decides whether it fails, and how."""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass

KINDS = ("500", "502", "503", "reset", "slow", "storm")  # the default set
# Opt-in: "lost" processes the request, then resets the connection instead of answering (the
# client cannot tell whether it took effect: retries must be idempotent).
OPTIONAL_KINDS = ("lost",)


@dataclass(frozen=True)
class Fault:
    kind: str  # one of KINDS


class FaultInjector:
    """``rate`` is the chance a request is hit; the sequence of draws depends only on ``seed``
    (and on which requests are drawn for).

    A ``storm`` answers the next ``storm_length`` requests (this one included) with 429.
    ``ops``: only requests of these operation ids are hit (empty: every operation); the others
    draw nothing. ``drawn`` counts the faults dealt, by kind.
    """

    def __init__(self, rate: float = 0.0, seed: int = 0, kinds: tuple[str, ...] = KINDS,
                 slow_seconds: float = 0.5, storm_length: int = 5,
                 ops: tuple[str, ...] = ()) -> None:
        self._lock = threading.Lock()
        self.drawn: Counter[str] = Counter()
        self.configure(rate, seed, kinds, slow_seconds, storm_length, ops)

    def configure(self, rate: float, seed: int, kinds: tuple[str, ...] = KINDS,
                  slow_seconds: float = 0.5, storm_length: int = 5,
                  ops: tuple[str, ...] = ()) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("the fault rate must be between 0 and 1")
        unknown = set(kinds) - set(KINDS) - set(OPTIONAL_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {', '.join(sorted(unknown))}")
        with self._lock:
            self.rate = rate
            self.seed = seed
            self.kinds = tuple(kinds)
            self.slow_seconds = slow_seconds
            self.storm_length = storm_length
            self.ops = tuple(ops)
            self._rng = random.Random(seed)
            self._storm_left = 0

    def draw(self, op: str | None = None) -> Fault | None:
        with self._lock:
            if self.ops and op not in self.ops:
                return None
            if self._storm_left > 0:
                self._storm_left -= 1
                self.drawn["storm"] += 1
                return Fault("storm")
            if self.rate <= 0 or not self.kinds:
                return None
            if self._rng.random() >= self.rate:
                return None
            kind = self._rng.choice(self.kinds)
            if kind == "storm":
                self._storm_left = self.storm_length - 1
            self.drawn[kind] += 1
            return Fault(kind)
