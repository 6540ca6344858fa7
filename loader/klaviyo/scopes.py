"""Which scopes a key carries, learned without writing anything (``loader check``, and before a
push's first write).

One cheap request per scope:

* ``lists:read``: ``GET /api/lists?page[size]=1``;
* ``lists:write``: ``PATCH /api/lists/<an id no list can have>`` (granted unless 401/403);
* ``profiles:read``: ``GET /api/profiles?page[size]=1``;
* ``profiles:write``: ``PATCH /api/profiles/<an id no profile can have>`` (likewise).

Klaviyo authorises a request (401 bad credentials, 403 missing scope) before it looks up the
resource, so the write probes learn the scope without changing a list or a profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loader.errors import (
    AuthenticationError,
    KlaviyoError,
    PermissionDeniedError,
    RetriesExhaustedError,
)

if TYPE_CHECKING:
    from loader.klaviyo.client import KlaviyoClient

# ids that cannot exist: Klaviyo list ids are 6 alphanumerics, profile ids 26-char ULIDs
NO_LIST = "loader-check-no-such-list"
NO_PROFILE = "loader-check-no-such-profile"

GRANTED = "granted"
MISSING = "missing"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Probe:
    scope: str
    operation: str
    method: str
    path: str
    params: dict[str, Any] | None = None
    body: dict[str, Any] | None = None
    why: str = ""


PROBES: tuple[Probe, ...] = (
    Probe("lists:read", "get_lists", "GET", "/api/lists",
          params={"page[size]": 1, "fields[list]": "name"},
          why="find a campaign's list by name"),
    Probe("lists:write", "update_list", "PATCH", f"/api/lists/{NO_LIST}",
          body={"data": {"type": "list", "id": NO_LIST, "attributes": {"name": "loader check"}}},
          why="create lists, add and remove members"),
    Probe("profiles:read", "get_profiles", "GET", "/api/profiles",
          params={"page[size]": 1, "fields[profile]": "email"},
          why="look up profile ids for removals; read import errors"),
    Probe("profiles:write", "update_profile", "PATCH", f"/api/profiles/{NO_PROFILE}",
          body={"data": {"type": "profile", "id": NO_PROFILE, "attributes": {}}},
          why="bulk-import profiles with their attributes"),
)

# Every scope `loader push` needs besides accounts:read (which the first request proves).
PUSH_SCOPES = tuple(p.scope for p in PROBES)


@dataclass(frozen=True)
class ScopeVerdict:
    scope: str
    verdict: str  # granted | missing | unknown
    detail: str
    why: str


def probe(client: KlaviyoClient, p: Probe) -> ScopeVerdict:
    """One probe; a refusal is a verdict, not an exception (except credentials refused)."""
    label = f"{p.method} {p.path.split('/loader-check')[0]}"
    try:
        client.request(p.operation, p.method, p.path, params=p.params, body=p.body)
        return ScopeVerdict(p.scope, GRANTED, f"{label}: 2xx", p.why)
    except PermissionDeniedError:
        return ScopeVerdict(p.scope, MISSING, f"{label}: 403 permission denied", p.why)
    except AuthenticationError as exc:
        return ScopeVerdict(p.scope, MISSING, f"{label}: {exc.status or 401}", p.why)
    except RetriesExhaustedError as exc:
        return ScopeVerdict(p.scope, UNKNOWN, f"{label}: {exc.message}", p.why)
    except KlaviyoError as exc:
        if exc.status in (400, 404, 409):  # authorised, then the (absent) resource was refused
            return ScopeVerdict(p.scope, GRANTED, f"{label}: {exc.status} (authorised)", p.why)
        return ScopeVerdict(p.scope, UNKNOWN, f"{label}: {exc.message}", p.why)


def missing_scopes_hint(missing: list[str], oauth: bool) -> str:
    scopes = ", ".join(missing)
    if oauth:
        return f"Re-authorise the OAuth app with the scope(s) {scopes}."
    return f"Give the private key the scope(s) {scopes} (Klaviyo: Settings → API keys → edit " \
        "the key), or use a key that has them."
