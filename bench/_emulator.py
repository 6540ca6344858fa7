"""Start `loader emulator` in its own process for a benchmark (the in-process fixture would
share the GIL with the loader being measured)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def start_emulator(*options: str, stop_after: int, code: Path = REPO
                   ) -> tuple[subprocess.Popen[str], str]:
    """Run `loader emulator --port 0 --job-delay 0 …options` of checkout ``code`` (default
    this one); return the process and its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "loader", "emulator", "--port", "0", "--job-delay", "0",
         "--stop-after", str(stop_after), *options],
        stdout=subprocess.PIPE, text=True, cwd=code)
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("Klaviyo emulator on "):
        proc.terminate()
        raise SystemExit(f"emulator did not start: {line!r}")
    return proc, line.split()[3]
