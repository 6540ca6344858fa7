"""`loader` command line: thin Typer commands over the library modules.

Each command lives in its own module and registers itself on ``app``.
"""

from loader.cli import (  # noqa: F401  (registration)
    check,
    demo_data,
    demo_orders,
    emulator,
    export,
    lists,
    push,
    report,
    status,
)
from loader.cli._app import app

__all__ = ["app"]
