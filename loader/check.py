"""`loader check`: are the credentials valid, and do they carry every scope the loader needs?

One cheap request per scope, none of which writes anything:

* ``accounts:read``: ``GET /api/accounts`` (also yields the account id state is keyed by);
* ``lists:read``: ``GET /api/lists?page[size]=1``;
* ``profiles:read``: ``GET /api/profiles?page[size]=1``;
* ``lists:write``: ``PATCH /api/lists/<an id no list can have>`` (granted unless 401/403);
* ``profiles:write``: ``PATCH /api/profiles/<an id no profile can have>`` (likewise).

Klaviyo authorises a request (401 bad credentials, 403 missing scope) before it looks up the
resource, so the write probes learn the scope without changing a list or a profile.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from loader.errors import (
    AuthenticationError,
    KlaviyoError,
    PermissionDeniedError,
    RetriesExhaustedError,
)
from loader.klaviyo.client import KlaviyoClient

# ids that cannot exist: Klaviyo list ids are 6 alphanumerics, profile ids 26-char ULIDs
_NO_LIST = "loader-check-no-such-list"
_NO_PROFILE = "loader-check-no-such-profile"

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
    Probe("lists:write", "update_list", "PATCH", f"/api/lists/{_NO_LIST}",
          body={"data": {"type": "list", "id": _NO_LIST, "attributes": {"name": "loader check"}}},
          why="create lists, add and remove members"),
    Probe("profiles:read", "get_profiles", "GET", "/api/profiles",
          params={"page[size]": 1, "fields[profile]": "email"},
          why="look up profile ids for removals; read import errors"),
    Probe("profiles:write", "update_profile", "PATCH", f"/api/profiles/{_NO_PROFILE}",
          body={"data": {"type": "profile", "id": _NO_PROFILE, "attributes": {}}},
          why="bulk-import profiles with their attributes"),
)


@dataclass(frozen=True)
class ScopeVerdict:
    scope: str
    verdict: str  # granted | missing | unknown
    detail: str
    why: str


@dataclass
class CheckReport:
    base_url: str
    credentials: str  # "private key" | "OAuth" — never the secret itself
    authenticated: bool = False
    account_id: str | None = None
    scopes: list[ScopeVerdict] = field(default_factory=list)
    problem: str | None = None  # what stopped the check early (bad key, unreachable)
    hint: str | None = None

    @property
    def ok(self) -> bool:
        return (
            self.authenticated
            and self.problem is None
            and all(s.verdict == GRANTED for s in self.scopes)
        )

    @property
    def missing_scopes(self) -> list[str]:
        return [s.scope for s in self.scopes if s.verdict != GRANTED]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


def run_check(client: KlaviyoClient) -> CheckReport:
    """Probe the credentials and each scope; never raises for a Klaviyo refusal."""
    report = CheckReport(
        base_url=client.base_url,
        credentials="OAuth" if client.credentials.is_oauth else "private key",
    )
    try:
        report.account_id = client.get_account_id()
        report.authenticated = True
        report.scopes.append(ScopeVerdict("accounts:read", GRANTED, "GET /api/accounts: 200",
                                          "read the account id state is keyed by"))
    except AuthenticationError as exc:
        report.problem = f"Klaviyo refused the credentials (HTTP {exc.status or 401})."
        report.hint = exc.hint
        return report
    except PermissionDeniedError:
        report.authenticated = True
        report.scopes.append(ScopeVerdict("accounts:read", MISSING, "GET /api/accounts: 403",
                                          "read the account id state is keyed by"))
    except RetriesExhaustedError as exc:
        report.problem = f"Klaviyo at {client.base_url} could not be reached: {exc.message}"
        report.hint = "Check KLAVIYO_BASE_URL and the network."
        return report
    for probe in PROBES:
        report.scopes.append(_probe(client, probe))
    missing = report.missing_scopes
    if missing:
        report.hint = (
            f"Give the private key the scope(s) {', '.join(missing)} "
            "(Klaviyo: Settings → API keys → edit the key), or re-authorise the OAuth app."
        )
    return report


def _probe(client: KlaviyoClient, probe: Probe) -> ScopeVerdict:
    label = f"{probe.method} {probe.path.split('/loader-check')[0]}"
    try:
        client.request(probe.operation, probe.method, probe.path, params=probe.params,
                       body=probe.body)
        return ScopeVerdict(probe.scope, GRANTED, f"{label}: 2xx", probe.why)
    except PermissionDeniedError:
        return ScopeVerdict(probe.scope, MISSING, f"{label}: 403 permission denied", probe.why)
    except AuthenticationError as exc:
        return ScopeVerdict(probe.scope, MISSING, f"{label}: {exc.status or 401}", probe.why)
    except RetriesExhaustedError as exc:
        return ScopeVerdict(probe.scope, UNKNOWN, f"{label}: {exc.message}", probe.why)
    except KlaviyoError as exc:  # 404/400: authorised, then the (absent) resource was refused
        return ScopeVerdict(probe.scope, GRANTED, f"{label}: {exc.status} (authorised)", probe.why)
