"""A Klaviyo-compatible server for tests, demos and benchmarks (docs/emulator.md).

``Emulator`` runs in-process on 127.0.0.1 (a thread); ``loader emulator`` serves it until Ctrl-C.
"""

from klaviyo_emulator.clock import FakeClock
from klaviyo_emulator.server import Emulator, request_listeners

__all__ = ["Emulator", "FakeClock", "request_listeners"]
