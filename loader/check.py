"""`loader check`: are the credentials valid, and do they carry every scope the loader needs?

``GET /api/accounts`` (``accounts:read``; also yields the account id state is keyed by), then
one cheap request per scope, none of which writes anything (``loader.klaviyo.scopes``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from loader.errors import (
    AuthenticationError,
    KlaviyoError,
    NotKlaviyoError,
    PermissionDeniedError,
    RetriesExhaustedError,
    UnreachableError,
)
from loader.klaviyo.client import KlaviyoClient
from loader.klaviyo.scopes import (
    GRANTED,
    MISSING,
    PROBES,
    UNKNOWN,
    ScopeVerdict,
    missing_scopes_hint,
    probe,
)

__all__ = ["GRANTED", "MISSING", "UNKNOWN", "CheckReport", "ScopeVerdict", "run_check"]


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
        return [s.scope for s in self.scopes if s.verdict == MISSING]

    @property
    def unknown_scopes(self) -> list[str]:
        return [s.scope for s in self.scopes if s.verdict == UNKNOWN]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


def run_check(client: KlaviyoClient) -> CheckReport:
    """Probe the credentials and each scope; never raises for a Klaviyo refusal."""
    report = CheckReport(
        base_url=client.display_url,
        credentials="OAuth" if client.credentials.is_oauth else "private key",
    )
    try:
        report.account_id = client.get_account_id()
        report.authenticated = True
        report.scopes.append(ScopeVerdict("accounts:read", GRANTED, "GET /api/accounts: 200",
                                          "read the account id state is keyed by"))
    except AuthenticationError as exc:
        report.problem = ("Klaviyo refused the credentials (HTTP 401)." if exc.status == 401
                          else exc.message)
        report.hint = exc.hint
        return report
    except PermissionDeniedError:
        report.authenticated = True
        report.scopes.append(ScopeVerdict("accounts:read", MISSING, "GET /api/accounts: 403",
                                          "read the account id state is keyed by"))
    except (UnreachableError, NotKlaviyoError) as exc:  # their messages say it all
        report.problem = exc.message
        report.hint = exc.hint
        return report
    except RetriesExhaustedError as exc:
        report.problem = f"Klaviyo at {client.display_url} could not be reached: {exc.message}"
        report.hint = exc.hint or "Check KLAVIYO_BASE_URL and the network."
        return report
    except KlaviyoError as exc:
        report.problem = f"Klaviyo answered the first request with an error: {exc.message}"
        report.hint = exc.hint
        return report
    for p in PROBES:
        report.scopes.append(probe(client, p))
    missing = report.missing_scopes
    if missing:
        report.hint = missing_scopes_hint(missing, client.credentials.is_oauth)
    return report
