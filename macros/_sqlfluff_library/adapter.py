"""Stand-in for dbt's `adapter` context variable when SQLFluff renders the project:
`adapter.dispatch(name, namespace)` resolves to the project's `duckdb__<name>` macro, else
`default__<name>` (SQLFluff lints with the duckdb dialect)."""

from __future__ import annotations

from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context


@pass_context
def dispatch(context: Context, macro_name: str, macro_namespace: str | None = None) -> Any:
    for prefix in ("duckdb__", "default__"):
        macro = context.get(prefix + macro_name)
        if macro is not None:
            return macro
    raise KeyError(f"adapter.dispatch: no duckdb__ or default__ macro for {macro_name!r}")
