"""The one way state relations are named in SQL: ``"schema"."table"``, quotes doubled."""

from __future__ import annotations


def quote(name: str) -> str:
    """An identifier quoted for DuckDB, PostgreSQL (and Spark's ANSI mode)."""
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, name: str) -> str:
    """``"schema"."name"``: how every state table is spelled in the loader's SQL."""
    return f"{quote(schema)}.{quote(name)}"
