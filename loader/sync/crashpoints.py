"""Named crash points: where a push can be killed on purpose to prove it resumes.

``crashpoint(name)`` marks a state transition of a push (after a Klaviyo answer and before its
state write, between two transactions, inside one...). It does nothing unless the environment
asks for it:

* ``LOADER_CRASH_AT=<name>:<n>`` — the n-th call of ``crashpoint(<name>)`` in this process
  SIGKILLs the process (no cleanup, no ``finally``, no flush: the same as ``kill -9``);
* ``LOADER_CRASH_TRACE=<file>`` — every call appends its name as one line to the file, so a
  test learns which points a push passes through, and how often, before choosing where to kill.

The kill suite (``tests/reliability/``, docs/reliability.md) runs ``loader push`` as a
subprocess with each point in turn, then reruns it and checks that every list and every state
table converged. Whoever moves code in ``loader/sync`` moves its crash points with it.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

CRASH_AT = "LOADER_CRASH_AT"
CRASH_TRACE = "LOADER_CRASH_TRACE"

_calls: Counter[str] = Counter()


def parse(spec: str) -> tuple[str, int]:
    """``"<name>:<n>"`` → (name, n); n ≥ 1. A name may itself contain ':'."""
    name, sep, count = spec.strip().rpartition(":")
    if not sep or not name or not count.isdigit() or int(count) < 1:
        raise ValueError(f"{CRASH_AT} must be <name>:<n> with n >= 1, got {spec!r}")
    return name, int(count)


def crashpoint(name: str) -> None:
    """Mark a crash point; SIGKILL this process when ``LOADER_CRASH_AT`` names its n-th call."""
    spec = os.environ.get(CRASH_AT)
    trace = os.environ.get(CRASH_TRACE)
    if not spec and not trace:
        return
    _calls[name] += 1
    if trace:
        with open(trace, "a", encoding="utf-8") as fh:
            fh.write(name + "\n")
    if spec:
        target, n = parse(spec)
        if target == name and _calls[name] == n:
            os.kill(os.getpid(), signal.SIGKILL)


def reset() -> None:
    """Forget the call counts (a process that runs several pushes, e.g. a test)."""
    _calls.clear()
