"""Klaviyo API access: published limits, the HTTP client, JSON:API payload shapes."""
