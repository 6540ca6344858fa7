"""The Typer application and the one place domain errors become exit codes."""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from loader.config import redact
from loader.errors import EXIT_FAILED, LoaderError

app = typer.Typer(
    name="loader",
    help="Deliver dbt-built audiences to Klaviyo lists, and run a local Klaviyo emulator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable[..., Any])


def guarded(fn: F) -> F:
    """Run a command body; a LoaderError prints one line (plus a hint) and exits with its code;
    any other exception prints its traceback with secrets scrubbed and exits 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LoaderError as exc:
            print(f"error: {redact(str(exc))}", file=sys.stderr)
            if exc.hint:
                print(f"hint: {redact(exc.hint)}", file=sys.stderr)
            raise typer.Exit(exc.exit_code) from None
        except Exception as exc:
            if type(exc).__module__.split(".")[0] in ("typer", "click"):
                raise  # typer.Exit, typer.Abort and usage errors keep their meaning
            # A bug of ours: show where, but never a secret an exception message may quote.
            print(redact(traceback.format_exc()), file=sys.stderr, end="")
            print(
                f"error: unexpected {type(exc).__name__}: {redact(str(exc))}",
                file=sys.stderr,
            )
            print("hint: state is left so that the next run resumes; please report this.",
                  file=sys.stderr)
            raise typer.Exit(EXIT_FAILED) from None

    return wrapper  # type: ignore[return-value]
