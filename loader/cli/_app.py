"""The Typer application and the one place domain errors become exit codes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from loader.errors import LoaderError

app = typer.Typer(
    name="loader",
    help="Deliver dbt-built audiences to Klaviyo lists, and run a local Klaviyo emulator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable[..., Any])


def scrub(text: str) -> str:
    """Remove every configured secret from text meant for a person."""
    from loader.config import secrets_in_env

    for secret in secrets_in_env():
        text = text.replace(secret, "***")
    return text


def guarded(fn: F) -> F:
    """Run a command body; a LoaderError prints one line (plus a hint) and exits with its code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LoaderError as exc:
            print(f"error: {scrub(str(exc))}", file=sys.stderr)
            if exc.hint:
                print(f"hint: {scrub(exc.hint)}", file=sys.stderr)
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]
