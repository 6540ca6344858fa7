"""Stand-in for dbt's `target` context variable when SQLFluff renders the project."""

name = "duckdb"
type = "duckdb"
database = "warehouse"
schema = "main"
threads = 2
