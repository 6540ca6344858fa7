"""Stand-in for dbt's `graph` context variable when SQLFluff renders the project."""

nodes: dict[str, object] = {}
sources: dict[str, object] = {}
