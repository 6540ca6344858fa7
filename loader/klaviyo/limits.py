"""Klaviyo's published limits per operation (revision 2026-07-15), written out by hand.

Source: the ``x-klaviyo-ratelimit`` of each operation in Klaviyo's OpenAPI and its documented
page and batch maxima. ``tests/klaviyo/test_limits.py`` checks this table against the OpenAPI
files when they are present (``$KLAVIYO_OPENAPI_DIR``; docs/emulator.md, "The contract check").
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    burst_per_s: int
    steady_per_min: int
    daily: int | None = None
    page_max: int | None = None  # page[size] maximum of a GET collection
    batch_max: int | None = None  # items per request body


SMALL = Limit(10, 150)
LARGE = Limit(75, 750)

LIMITS: dict[str, Limit] = {
    "get_accounts": Limit(1, 15),
    "get_lists": Limit(75, 750, page_max=10),
    "get_list": LARGE,
    "create_list": Limit(10, 150, daily=150),
    "update_list": SMALL,
    "delete_list": SMALL,
    "add_profiles_to_list": Limit(10, 150, batch_max=1000),
    "remove_profiles_from_list": Limit(10, 150, batch_max=1000),
    "get_profiles_for_list": Limit(75, 750, page_max=100),
    "get_profile_ids_for_list": Limit(75, 750, page_max=100),
    "bulk_import_profiles": Limit(10, 150, batch_max=10_000),
    "get_bulk_import_profiles_job": SMALL,
    "get_bulk_import_profiles_jobs": Limit(10, 150, page_max=100),
    "get_errors_for_bulk_import_profiles_job": Limit(10, 150, page_max=100),
    "get_profiles_for_bulk_import_profiles_job": Limit(10, 150, page_max=100),
    "get_profile_ids_for_bulk_import_profiles_job": Limit(10, 150, page_max=100),
    "get_list_ids_for_bulk_import_profiles_job": SMALL,
    "get_profiles": Limit(75, 750, page_max=100),
    "create_or_update_profile": LARGE,
    "update_profile": LARGE,
}

# Bulk profile import body limits.
IMPORT_MAX_PROFILES = 10_000
IMPORT_MAX_BYTES = 5 * 1024 * 1024
IMPORT_MAX_PROFILE_BYTES = 100 * 1024
# An account holds at most this many lists and segments together.
MAX_LISTS_AND_SEGMENTS = 1000


def limit(operation: str) -> Limit:
    return LIMITS.get(operation, SMALL)


def estimate_seconds(operation: str, requests: int) -> float:
    """Shortest time ``requests`` calls of one operation take within its burst/steady limits.

    The first ``steady`` calls of a minute go at the burst rate; every further call waits for
    the steady window to slide.
    """
    if requests <= 0:
        return 0.0
    lim = limit(operation)
    full_minutes = (requests - 1) // lim.steady_per_min
    rest = (requests - 1) % lim.steady_per_min
    return 60.0 * full_minutes + rest / lim.burst_per_s if full_minutes else rest / lim.burst_per_s


def pages(count: int, page: int) -> int:
    return math.ceil(count / page) if count > 0 else 0
