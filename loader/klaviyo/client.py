"""The Klaviyo HTTP client: one session, auth, pinned revision, pacing, retries, clear errors.

Every call names its Klaviyo operation id; pacing, request counts and error hints are per
operation. Nothing here prints or raises a secret.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import requests

from loader.config import KlaviyoCredentials, Settings
from loader.errors import (
    AmbiguousListError,
    AuthenticationError,
    KlaviyoError,
    ListLimitError,
    PermissionDeniedError,
    RetriesExhaustedError,
)
from loader.klaviyo.limits import MAX_LISTS_AND_SEGMENTS
from loader.klaviyo.pacing import Pacer

JSON_API = "application/vnd.api+json"
RETRY_STATUSES = {500, 502, 503, 504}
# A 429 asking to wait longer than this is a daily limit, not a burst: give up with a clear error.
MAX_RETRY_AFTER_S = 600.0
# Sparse fieldset of profile look-ups: the identifiers Klaviyo keys a profile on.
IDENTITY_FIELDS = "email,phone_number,external_id"

SCOPES: dict[str, str] = {
    "get_accounts": "accounts:read",
    "get_lists": "lists:read",
    "create_list": "lists:write",
    "remove_profiles_from_list": "lists:write, profiles:write",
    "add_profiles_to_list": "lists:write, profiles:write",
    "bulk_import_profiles": "lists:write, profiles:write",
    "get_bulk_import_profiles_job": "lists:read, profiles:read",
    "get_bulk_import_profiles_jobs": "lists:read, profiles:read",
    "get_errors_for_bulk_import_profiles_job": "profiles:read",
    "get_profiles": "profiles:read",
    "get_profiles_for_list": "lists:read, profiles:read",
}


class NotFoundError(KlaviyoError):
    """The resource (a list, a job) does not exist (HTTP 404)."""


class BadRequestError(KlaviyoError):
    """Klaviyo rejected the request body (HTTP 400/409/413/422)."""


def _error_detail(resp: requests.Response) -> tuple[str, str | None]:
    try:
        errors = resp.json().get("errors") or []
    except ValueError:
        return resp.text[:300], None
    if not errors:
        return resp.text[:300], None
    first = errors[0]
    detail = first.get("detail") or first.get("title") or ""
    return str(detail)[:500], first.get("code")


class KlaviyoClient:
    """Klaviyo over one ``requests.Session``.

    ``clock``/``sleep``/``rng`` are injectable (tests never sleep for real).
    """

    def __init__(
        self,
        base_url: str,
        credentials: KlaviyoCredentials,
        revision: str,
        *,
        timeout: tuple[float, float] = (10.0, 120.0),
        max_attempts: int = 8,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        rate_scale: float = 1.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.revision = revision
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.pacer = Pacer(clock=clock, sleep=sleep, scale=rate_scale)
        self.session = session or requests.Session()
        self.session.headers.update(
            {"revision": revision, "Accept": JSON_API, "Content-Type": JSON_API}
        )
        self.requests: Counter[str] = Counter()  # HTTP requests sent, by operation id
        self.throttled = 0
        self.retried = 0
        self._access_token: str | None = None
        self._token_expires_at = 0.0

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> KlaviyoClient:
        return cls(
            settings.base_url, settings.require_credentials(), settings.revision, **kwargs
        )

    # -- auth ------------------------------------------------------------------------------

    def _authorization(self, force_refresh: bool = False) -> str:
        c = self.credentials
        if c.api_key:
            return f"Klaviyo-API-Key {c.api_key}"
        if force_refresh or self._access_token is None or self.clock() >= self._token_expires_at:
            self._refresh_token()
        return f"Bearer {self._access_token}"

    def _refresh_token(self) -> None:
        c = self.credentials
        url = c.oauth_token_url or f"{self.base_url}/oauth/token"
        try:
            resp = self.session.post(
                url,
                data={"grant_type": "refresh_token", "refresh_token": c.oauth_refresh_token},
                auth=(c.oauth_client_id or "", c.oauth_client_secret or ""),
                headers={"Content-Type": "application/x-www-form-urlencoded",
                         "Accept": "application/json"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise KlaviyoError(
                f"OAuth token refresh failed: {type(exc).__name__}",
                hint="Check KLAVIYO_OAUTH_TOKEN_URL and the network.",
            ) from None
        if resp.status_code != 200:
            raise AuthenticationError(
                f"OAuth token refresh was refused (HTTP {resp.status_code}).",
                hint="Check KLAVIYO_OAUTH_CLIENT_ID/SECRET and re-authorise to get a new "
                "KLAVIYO_OAUTH_REFRESH_TOKEN.",
                status=resp.status_code,
            )
        body = resp.json()
        self._access_token = body["access_token"]
        self._token_expires_at = self.clock() + float(body.get("expires_in", 3600)) - 60.0

    # -- the one request path ----------------------------------------------------------------

    def request(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        data: bytes | None = None,
    ) -> Any:
        """Send one API call with pacing and retries; the parsed JSON body (None when empty)."""
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        payload = data if data is not None else (
            json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        )
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            self.pacer.acquire(operation)
            headers = {"Authorization": self._authorization()}
            self.requests[operation] += 1
            try:
                resp = self.session.request(
                    method, url, params=params, data=payload, headers=headers,
                    timeout=self.timeout,
                )
            except (requests.Timeout, requests.ConnectionError) as exc:
                self._backoff(operation, attempt, f"{type(exc).__name__}")
                continue
            except requests.exceptions.InvalidHeader:
                # requests' own message quotes the header value, i.e. the secret: not raised
                raise AuthenticationError(
                    f"The Klaviyo credential cannot be sent on {operation}: it holds "
                    "whitespace or a control character.",
                    hint="Check KLAVIYO_API_KEY (or the OAuth settings) for a stray space, "
                    "newline or carriage return.",
                ) from None
            status = resp.status_code
            if status < 300:
                if status == 204 or not resp.content:
                    return None
                return resp.json()
            if status == 429:
                self.throttled += 1
                wait = self._retry_after(resp)
                if wait > MAX_RETRY_AFTER_S:
                    raise self._daily_limit(operation, wait)
                if attempt >= self.max_attempts:
                    raise RetriesExhaustedError(
                        f"{operation}: still throttled (HTTP 429) after {attempt} attempts.",
                        hint="Another integration may be using this account's rate limits; "
                        "rerun later (state is kept, the push resumes).",
                        status=429,
                    )
                self.retried += 1
                self.sleep(wait)
                continue
            if status in RETRY_STATUSES:
                self._backoff(operation, attempt, f"HTTP {status}")
                continue
            if status == 401 and self.credentials.is_oauth and not refreshed:
                refreshed = True
                self._authorization(force_refresh=True)
                attempt -= 1
                continue
            raise self._error(operation, resp)

    def _retry_after(self, resp: requests.Response) -> float:
        value = resp.headers.get("Retry-After")
        try:
            return max(0.0, float(value)) if value is not None else 1.0
        except ValueError:
            return 1.0

    def _backoff(self, operation: str, attempt: int, what: str) -> None:
        if attempt >= self.max_attempts:
            raise RetriesExhaustedError(
                f"{operation}: failed {attempt} times (last: {what}).",
                hint="Klaviyo or the network is failing; rerun later (state is kept, the push "
                "resumes where it stopped).",
            )
        self.retried += 1
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempt - 1))
        self.sleep(ceiling * (0.5 + self.rng.random() / 2))  # "equal jitter"

    def _daily_limit(self, operation: str, wait: float) -> KlaviyoError:
        if operation == "create_list":
            return ListLimitError(
                "Klaviyo's daily list-creation limit (150 lists a day) is reached.",
                hint="Reuse existing lists (campaigns resolve lists by name) or push again "
                f"tomorrow; Klaviyo asks to wait {int(wait)} s.",
                status=429,
            )
        return RetriesExhaustedError(
            f"{operation}: Klaviyo asks to wait {int(wait)} s (a daily limit).",
            hint="Push again later; state is kept and the push resumes.",
            status=429,
        )

    def _error(self, operation: str, resp: requests.Response) -> KlaviyoError:
        status = resp.status_code
        detail, code = _error_detail(resp)
        detail = self._scrub(detail)
        if status == 401:
            return AuthenticationError(
                f"Klaviyo refused the credentials (HTTP 401) on {operation}.",
                hint="Check KLAVIYO_API_KEY (a private key, pk_…) or the OAuth settings.",
                status=status, code=code,
            )
        if status == 403:
            scope = SCOPES.get(operation, "the scope this operation needs")
            return PermissionDeniedError(
                f"The Klaviyo key lacks a scope for {operation} (HTTP 403): {detail}",
                hint=f"Give the private key the scope(s): {scope} (Settings → API keys).",
                status=status, code=code,
            )
        if status == 404:
            return NotFoundError(f"{operation}: not found (HTTP 404): {detail}",
                                 status=status, code=code)
        low = detail.lower()
        if operation == "create_list" and (
                "limit" in (code or "") or "lists and segments" in low
                or "1000" in low.replace(",", "") or "limit" in low):
            return ListLimitError(
                f"Klaviyo refused to create a list: {detail}",
                hint=f"The account holds at most {MAX_LISTS_AND_SEGMENTS:,} lists and segments "
                "together; delete unused ones in Klaviyo.",
                status=status, code=code,
            )
        return BadRequestError(f"{operation}: HTTP {status}: {detail}", status=status, code=code)

    def _scrub(self, text: str) -> str:
        for secret in self.credentials.secrets() + ([self._access_token] if self._access_token
                                                    else []):
            text = text.replace(secret, "***")
        return text

    # -- operations ------------------------------------------------------------------------

    def get_account_id(self) -> str:
        body = self.request("get_accounts", "GET", "/api/accounts")
        data = body.get("data") or []
        if not data:
            raise KlaviyoError("Klaviyo returned no account for these credentials.")
        return str(data[0]["id"])

    def find_lists(self, name: str) -> list[str]:
        """Ids of every list named exactly ``name``."""
        params: dict[str, Any] | None = {
            "filter": f"equals(name,{json.dumps(name)})",
            "fields[list]": "name",
            "page[size]": 10,
        }
        url = "/api/lists"
        ids: list[str] = []
        while url:
            body = self.request("get_lists", "GET", url, params=params)
            ids += [d["id"] for d in body.get("data", [])
                    if (d.get("attributes") or {}).get("name", name) == name]
            url = (body.get("links") or {}).get("next")
            params = None
        return ids

    def resolve_list(self, name: str, create: bool = True) -> tuple[str | None, bool]:
        """(list id, created?) for the list called ``name``; created when missing."""
        ids = self.find_lists(name)
        if len(ids) > 1:
            raise AmbiguousListError(
                f"{len(ids)} Klaviyo lists are named {name!r} (ids {', '.join(ids)}).",
                hint="Rename or delete all but one in Klaviyo, or give the campaign's treatment "
                "a distinct list name.",
            )
        if ids:
            return ids[0], False
        if not create:
            return None, False
        body = self.request(
            "create_list", "POST", "/api/lists",
            body={"data": {"type": "list", "attributes": {"name": name}}},
        )
        return str(body["data"]["id"]), True

    def list_exists(self, list_id: str) -> bool:
        try:
            self.request("get_list", "GET", f"/api/lists/{quote(list_id)}")
        except NotFoundError:
            return False
        return True

    def submit_import(self, body: bytes) -> dict[str, Any]:
        """POST one bulk profile import job; returns the job resource."""
        resp = self.request("bulk_import_profiles", "POST", "/api/profile-bulk-import-jobs",
                            data=body)
        return resp["data"]

    def get_job(self, job_id: str) -> dict[str, Any]:
        body = self.request("get_bulk_import_profiles_job", "GET",
                            f"/api/profile-bulk-import-jobs/{quote(job_id)}")
        return body["data"]

    def recent_jobs(self, page_size: int = 100) -> list[dict[str, Any]]:
        """The newest import jobs of the account, one request."""
        body = self.request(
            "get_bulk_import_profiles_jobs", "GET", "/api/profile-bulk-import-jobs",
            params={"sort": "-created_at", "page[size]": page_size,
                    "fields[profile-bulk-import-job]":
                        "status,total_count,completed_count,failed_count"},
        )
        return list(body.get("data") or [])

    def import_errors(self, job_id: str) -> Iterator[dict[str, Any]]:
        url: str | None = f"/api/profile-bulk-import-jobs/{quote(job_id)}/import-errors"
        params: dict[str, Any] | None = {"page[size]": 100}
        while url:
            body = self.request("get_errors_for_bulk_import_profiles_job", "GET", url,
                                params=params)
            yield from body.get("data") or []
            url = (body.get("links") or {}).get("next")
            params = None

    def profile_ids(self, field: str, values: list[str]) -> dict[str, str]:
        """Klaviyo profile ids for up to 100 identifier values (one request a page)."""
        out: dict[str, str] = {}
        if not values:
            return out
        quoted = ",".join(json.dumps(v) for v in values)
        url: str | None = "/api/profiles"
        params: dict[str, Any] | None = {
            "filter": f"any({field},[{quoted}])",
            "fields[profile]": field,
            "page[size]": 100,
        }
        while url:
            body = self.request("get_profiles", "GET", url, params=params)
            for d in body.get("data") or []:
                value = (d.get("attributes") or {}).get(field)
                if value is not None:
                    out[str(value)] = str(d["id"])
            url = (body.get("links") or {}).get("next")
            params = None
        return out

    def find_profiles(self, field: str, values: list[str]) -> list[dict[str, str | None]]:
        """Profiles holding any of up to 100 values of one identifier: each profile's id and
        its email, phone_number and external_id (one request a page)."""
        if not values:
            return []
        quoted = ",".join(json.dumps(v) for v in values)
        return list(self._profile_pages(
            "get_profiles", "/api/profiles",
            {"filter": f"any({field},[{quoted}])", "fields[profile]": IDENTITY_FIELDS,
             "page[size]": 100}))

    def list_profiles(self, list_id: str) -> Iterator[dict[str, str | None]]:
        """Every member of a list: id, email, phone_number, external_id (100 a request)."""
        return self._profile_pages(
            "get_profiles_for_list", f"/api/lists/{quote(list_id)}/profiles",
            {"fields[profile]": IDENTITY_FIELDS, "page[size]": 100})

    def _profile_pages(self, operation: str, url: str, params: dict[str, Any]
                       ) -> Iterator[dict[str, str | None]]:
        next_url: str | None = url
        page_params: dict[str, Any] | None = params
        while next_url:
            body = self.request(operation, "GET", next_url, params=page_params)
            for d in body.get("data") or []:
                attrs = d.get("attributes") or {}
                yield {"id": str(d["id"]), **{k: (None if attrs.get(k) is None
                                                  else str(attrs[k]))
                                              for k in ("email", "phone_number", "external_id")}}
            next_url = (body.get("links") or {}).get("next")
            page_params = None

    def remove_from_list(self, list_id: str, profile_ids: list[str]) -> None:
        self.request(
            "remove_profiles_from_list", "DELETE",
            f"/api/lists/{quote(list_id)}/relationships/profiles",
            body={"data": [{"type": "profile", "id": p} for p in profile_ids]},
        )
