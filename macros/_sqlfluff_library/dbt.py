"""Stand-ins for dbt's cross-database macros (`dbt.<name>(...)`) when SQLFluff renders the
project with its jinja templater (see .sqlfluff). They only need to produce SQL that parses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_TYPES = {
    "type_string": "varchar",
    "type_timestamp": "timestamp",
    "type_int": "integer",
    "type_bigint": "bigint",
    "type_boolean": "boolean",
    "type_float": "double",
    "type_numeric": "numeric",
}


def _flatten(args: tuple[Any, ...]) -> list[str]:
    flat: list[str] = []
    for arg in args:
        if isinstance(arg, list | tuple):
            flat.extend(str(item) for item in arg)
        else:
            flat.append(str(arg))
    return flat


def __getattr__(name: str) -> Callable[..., str]:
    if name in _TYPES:
        return lambda *args, **kwargs: _TYPES[name]
    if name == "current_timestamp":
        return lambda *args, **kwargs: "current_timestamp"
    if name == "dateadd":
        return lambda datepart, interval, from_date_or_timestamp: (
            f"({from_date_or_timestamp} + interval '{interval} {datepart}')"
        )
    if name == "generate_series":
        return lambda upper_bound: "select 1 as generated_number"
    if name == "datediff":
        return lambda first, second, datepart: f"date_diff('{datepart}', {first}, {second})"

    def render(*args: Any, **kwargs: Any) -> str:
        return f"{name}({', '.join(_flatten(args) + [str(v) for v in kwargs.values()])})"

    return render
