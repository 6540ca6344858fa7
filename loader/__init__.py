"""Deliver dbt-built marketing audiences to Klaviyo."""

__version__ = "0.1.0"
