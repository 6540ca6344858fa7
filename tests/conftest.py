"""Shared pytest fixtures, one plugin module per area."""

pytest_plugins = [
    "tests.fixtures.emulator",  # klaviyo_emulator: the emulator on 127.0.0.1, in-process
    "tests.fixtures.warehouse",  # built_warehouse: demo data + dbt build into a temp DuckDB file
]
