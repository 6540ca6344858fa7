"""Stand-in for dbt's `adapter` context variable when SQLFluff renders the project.

`adapter.dispatch(name, namespace)` cannot reach the project's Jinja macros from here, so it
returns a renderer producing SQL of the same shape as the macro's default implementation, for
the macros models call directly (others render as a function call). Only needs to parse.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _string_literal(value: Any = None) -> str:
    return "null" if value is None else "'" + str(value).replace("'", "''") + "'"


def _stage_columns(relation: Any, columns: list[dict[str, Any]], label: str = "") -> str:
    return "\n        " + ",\n        ".join(
        f"cast({c.get('from') or c['name']} as {c['type']}) as {c['name']}" for c in columns
    )


_RENDERERS: dict[str, Callable[..., str]] = {
    "klaviyo_string_literal": _string_literal,
    "klaviyo_stage_columns": _stage_columns,
}


def dispatch(macro_name: str, macro_namespace: str | None = None) -> Callable[..., str]:
    def render(*args: Any, **kwargs: Any) -> str:
        return f"{macro_name}({', '.join(str(a) for a in args)})"

    return _RENDERERS.get(macro_name, render)


def quote(identifier: str) -> str:
    return f'"{identifier}"'
