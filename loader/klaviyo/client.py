"""The Klaviyo HTTP client: one session, auth, pinned revision, pacing, retries, clear errors.

Over 400 lines because every Klaviyo operation the loader calls is a method here, next to the
one retry and error-mapping path they share (pacing and limits are pacing.py and limits.py).

Every call names its Klaviyo operation id; pacing, request counts and error hints are per
operation. Nothing here prints or raises a secret.
"""

from __future__ import annotations

import json
import random
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.client import RemoteDisconnected
from typing import Any
from urllib.parse import quote

import requests
import urllib3

from loader.config import KlaviyoCredentials, Settings, redact
from loader.errors import (
    AmbiguousListError,
    AuthenticationError,
    KlaviyoError,
    ListLimitError,
    NotKlaviyoError,
    PermissionDeniedError,
    RetriesExhaustedError,
    UnreachableError,
)
from loader.klaviyo.limits import MAX_LISTS_AND_SEGMENTS
from loader.klaviyo.pacing import Pacer

JSON_API = "application/vnd.api+json"
RETRY_STATUSES = {500, 502, 503, 504}
# A 429 asking to wait longer than this is a daily limit, not a burst: give up with a clear error.
MAX_RETRY_AFTER_S = 600.0
# Sparse fieldset of profile look-ups: the identifiers Klaviyo keys a profile on.
IDENTITY_FIELDS = "email,phone_number,external_id"
# While nothing has ever answered at the base URL, a connection that cannot even be opened
# (refused, unknown host, connect timeout) is tried this many times, not max_attempts: it is a
# wrong KLAVIYO_BASE_URL or a server that is down, and the user should hear it at once.
FIRST_CONNECT_ATTEMPTS = 2
# Operations that change something in Klaviyo: the key's scopes are checked before the first.
WRITE_OPERATIONS = frozenset({"create_list", "bulk_import_profiles", "remove_profiles_from_list",
                              "add_profiles_to_list"})

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
    except (ValueError, AttributeError):
        return resp.text[:300], None
    if not errors:
        return resp.text[:300], None
    first = errors[0]
    detail = first.get("detail") or first.get("title") or ""
    return str(detail)[:500], first.get("code")


def filter_string(value: str) -> str:
    """``value`` as a string literal of Klaviyo's ``filter`` syntax.

    Double-quoted, with ``\\`` and ``"`` escaped by a backslash; a value holding ``"`` but no
    ``'`` is single-quoted instead, so it needs no escape at all. Unicode stays as it is (the
    query string is percent-encoded as UTF-8): never ``\\uXXXX``, which the syntax does not
    decode (``json.dumps`` would write ``"\\u00c9t\\u00e9"`` for ``"Été"``).
    """
    body = value.replace("\\", "\\\\")
    if '"' in value and "'" not in value:
        return f"'{body}'"
    return '"' + body.replace('"', '\\"') + '"'


def _crash(name: str) -> None:
    # imported here: loader.sync imports this module, so it cannot be imported at the top
    from loader.sync.crashpoints import crashpoint

    crashpoint(name)


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, what it wraps (urllib3's ``reason``, ``args``), and their causes."""
    seen: list[BaseException] = []
    todo: list[Any] = [exc]
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or any(e is s for s in seen):
            continue
        seen.append(e)
        todo += [getattr(e, "reason", None), e.__cause__, e.__context__,
                 *[a for a in e.args if isinstance(a, BaseException)]]
    return seen


def _not_sent(exc: BaseException) -> bool:
    """True when the request certainly never reached the server (the connection was never
    opened): retrying it cannot do the work twice."""
    return isinstance(exc, requests.exceptions.ConnectTimeout) or any(
        isinstance(e, urllib3.exceptions.NewConnectionError | ConnectionRefusedError
                   | socket.gaierror) for e in _chain(exc))


def _describe(exc: BaseException) -> str:
    """A few words for a network failure (never its text: that may quote the URL)."""
    chain = _chain(exc)
    for kinds, words in (
        ((urllib3.exceptions.NameResolutionError, socket.gaierror), "unknown host"),
        ((ConnectionRefusedError,), "connection refused"),
        ((requests.exceptions.ConnectTimeout, urllib3.exceptions.ConnectTimeoutError),
         "connect timeout"),
        ((requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError),
         "no answer within the read timeout"),
        ((ConnectionResetError, RemoteDisconnected, urllib3.exceptions.ProtocolError,
          requests.exceptions.ChunkedEncodingError), "connection reset before the answer"),
    ):
        if any(isinstance(e, kinds) for e in chain):
            return words
    return type(exc).__name__


def _unsendable(value: str | None) -> tuple[int, str] | None:
    """(position, what) of the first character an HTTP header cannot carry, if any."""
    for i, ch in enumerate(value or ""):
        if ch in "\u201c\u201d\u2018\u2019":
            return i + 1, "a curly quote"
        if ord(ch) > 0x7E:
            return i + 1, "a non-ASCII character"
        if ord(ch) <= 0x20:
            return i + 1, "whitespace or a control character"
    return None


class KlaviyoClient:
    """Klaviyo over one ``requests.Session``.

    ``clock``/``sleep``/``rng`` are injectable (tests never sleep for real).
    ``check_scopes`` (on for clients made ``from_settings``, i.e. every command's): before
    the first request that writes, learn (without writing) whether the key carries every
    scope a push needs, and fail naming only the missing ones.
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
        check_scopes: bool = False,
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
        # Requests sent whose answer never came (reset, read timeout) or was a 5xx: Klaviyo may
        # have done the work. By operation id; ``notes`` says what was done about each.
        self.unanswered: Counter[str] = Counter()
        self.notes: list[str] = []
        self.check_scopes = check_scopes
        self._scopes_checked = False
        self._answered = 0  # HTTP answers received (any status)
        self._access_token: str | None = None
        self._token_expires_at = 0.0

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> KlaviyoClient:
        kwargs.setdefault("check_scopes", True)
        return cls(
            settings.base_url, settings.require_credentials(), settings.revision, **kwargs
        )

    @property
    def display_url(self) -> str:
        return self._scrub(self.base_url)

    # -- auth ------------------------------------------------------------------------------

    def _check_credentials(self) -> None:
        c = self.credentials
        for variable, value in (("KLAVIYO_API_KEY", c.api_key),
                                ("KLAVIYO_OAUTH_CLIENT_ID", c.oauth_client_id),
                                ("KLAVIYO_OAUTH_CLIENT_SECRET", c.oauth_client_secret),
                                ("KLAVIYO_OAUTH_REFRESH_TOKEN", c.oauth_refresh_token)):
            bad = _unsendable(value)
            if bad:
                raise AuthenticationError(
                    f"{variable} holds {bad[1]} (character {bad[0]}), which cannot be sent to "
                    "Klaviyo: keys and tokens are plain ASCII.",
                    hint=f"Set {variable} again from Klaviyo (Settings → API keys), without "
                    "quotes, spaces or line breaks around it.",
                )

    def _authorization(self, force_refresh: bool = False) -> str:
        c = self.credentials
        self._check_credentials()
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
                self._scrub(f"OAuth token refresh at {url} failed: {_describe(exc)}."),
                hint="Check KLAVIYO_OAUTH_TOKEN_URL (default: KLAVIYO_BASE_URL/oauth/token) "
                "and the network.",
            ) from None
        if resp.status_code != 200:
            raise AuthenticationError(
                f"OAuth token refresh was refused (HTTP {resp.status_code}).",
                hint="Check KLAVIYO_OAUTH_CLIENT_ID/SECRET and re-authorise to get a new "
                "KLAVIYO_OAUTH_REFRESH_TOKEN.",
                status=resp.status_code,
            )
        try:
            body = resp.json()
            token = str(body["access_token"])
            expires_in = float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise NotKlaviyoError(
                f"The OAuth token endpoint {self._scrub(url)} answered HTTP 200 without an "
                "access token.",
                hint="Check KLAVIYO_OAUTH_TOKEN_URL (Klaviyo's is "
                "https://a.klaviyo.com/oauth/token).",
            ) from None
        self._access_token = token
        # refreshed a minute before Klaviyo says it expires, so no request carries a token
        # that expires on the way
        self._token_expires_at = self.clock() + expires_in - 60.0

    def require_push_scopes(self) -> None:
        """Fail, naming only what is missing, unless the key can do all a push does."""
        if self._scopes_checked:
            return
        self._scopes_checked = True
        from loader.klaviyo.scopes import MISSING, PROBES, missing_scopes_hint, probe

        missing = [v.scope for v in (probe(self, p) for p in PROBES) if v.verdict == MISSING]
        if missing:
            raise PermissionDeniedError(
                f"The Klaviyo {'OAuth app' if self.credentials.is_oauth else 'key'} lacks the "
                f"scope(s) {', '.join(missing)} that `loader push` needs; nothing was written "
                "to Klaviyo.",
                hint=missing_scopes_hint(missing, self.credentials.is_oauth),
                status=403,
            )

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
        on_unknown: Callable[[], Any] | None = None,
    ) -> Any:
        """Send one API call with pacing and retries; the parsed JSON body (None when empty).

        When a try may have been carried out without its answer reaching us (the connection
        reset after sending, no answer in time, a 5xx), ``on_unknown`` (if given) is called
        before the next try: what it returns, unless None, is the call's result (e.g. the list
        found by name that the lost answer created). Without it, the call is simply sent again:
        only idempotent calls may go without one.
        """
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        payload = data if data is not None else (
            json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        )
        if operation in WRITE_OPERATIONS and self.check_scopes:
            self.require_push_scopes()
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            self.pacer.acquire(operation)
            headers = {"Authorization": self._authorization()}
            self.requests[operation] += 1
            _crash("http.request")
            try:
                resp = self.session.request(
                    method, url, params=params, data=payload, headers=headers,
                    timeout=self.timeout,
                )
            except requests.exceptions.InvalidHeader:
                # requests' own message quotes the header value, i.e. the secret: not raised
                raise AuthenticationError(
                    f"The Klaviyo credential cannot be sent on {operation}: it holds "
                    "whitespace or a control character.",
                    hint="Check KLAVIYO_API_KEY (or the OAuth settings) for a stray space, "
                    "newline or carriage return.",
                ) from None
            except (requests.Timeout, requests.ConnectionError,
                    requests.exceptions.ChunkedEncodingError) as exc:
                what = _describe(exc)
                if _not_sent(exc):
                    if not self._answered and attempt >= min(self.max_attempts,
                                                             FIRST_CONNECT_ATTEMPTS):
                        raise UnreachableError(
                            f"Nothing answers at KLAVIYO_BASE_URL={self.display_url} ({what}).",
                            hint="Check KLAVIYO_BASE_URL (Klaviyo is https://a.klaviyo.com; "
                            "for a local try, the URL `loader emulator` prints) and the "
                            "network; nothing was sent.",
                        ) from None
                    self._backoff(operation, attempt, what)
                    continue
                self._backoff(operation, attempt, what)
                found = self._unknown_outcome(operation, what, on_unknown)
                if found is not None:
                    return found
                continue
            except requests.RequestException as exc:  # InvalidURL, InvalidSchema, ...
                raise UnreachableError(
                    f"KLAVIYO_BASE_URL={self.display_url} cannot be used ({type(exc).__name__}).",
                    hint="Give an http(s) URL with a host and a valid port, e.g. "
                    "https://a.klaviyo.com.",
                ) from None
            self._answered += 1
            status = resp.status_code
            if status < 300:
                doc = self._document(operation, resp)
                _crash("http.response")
                return doc
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
                found = self._unknown_outcome(operation, f"HTTP {status}", on_unknown)
                if found is not None:
                    return found
                continue
            if status == 401 and self.credentials.is_oauth and not refreshed:
                refreshed = True
                self._authorization(force_refresh=True)
                attempt -= 1
                continue
            raise self._error(operation, resp)

    def _unknown_outcome(self, operation: str, what: str,
                         on_unknown: Callable[[], Any] | None) -> Any:
        """A try whose outcome is unknown: look (``on_unknown``) before the next one."""
        self.unanswered[operation] += 1
        if on_unknown is not None:
            return on_unknown()
        if operation == "bulk_import_profiles":
            self.notes.append(
                f"An import job's answer was lost ({what}); the job was sent again. Klaviyo may "
                "have run it twice: the same profiles, imported twice, change nothing.")
        return None

    def _document(self, operation: str, resp: requests.Response) -> Any:
        """The JSON document of a 2xx answer (None when empty); anything else is not Klaviyo."""
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            doc = resp.json()
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise self._not_klaviyo(operation, resp)
        return doc

    def _not_klaviyo(self, operation: str, resp: requests.Response) -> NotKlaviyoError:
        ctype = (resp.headers.get("Content-Type") or "no content type").split(";")[0].strip()
        return NotKlaviyoError(
            f"The server at KLAVIYO_BASE_URL={self.display_url} is not Klaviyo's API: it answered "
            f"{operation} with HTTP {resp.status_code} and {ctype}, not a JSON:API document.",
            hint="Point KLAVIYO_BASE_URL at https://a.klaviyo.com (the default) or at the "
            "emulator's URL, without a path.",
            status=resp.status_code,
        )

    def _retry_after(self, resp: requests.Response) -> float:
        """Seconds to wait: ``Retry-After`` as seconds or as an HTTP date; else 1 s."""
        value = (resp.headers.get("Retry-After") or "").strip()
        if not value:
            return 1.0
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return 1.0
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())

    def _backoff(self, operation: str, attempt: int, what: str) -> None:
        if attempt >= self.max_attempts:
            raise RetriesExhaustedError(
                f"{operation}: failed {attempt} times (last: {what}) at "
                f"KLAVIYO_BASE_URL={self.display_url}.",
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
        try:
            resp.json()
        except ValueError:
            return self._not_klaviyo(operation, resp)
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
                hint=f"`loader check` names the missing scope; {operation} needs {scope} "
                "(Settings → API keys).",
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
        return redact(text, [*self.credentials.secrets(), self._access_token or ""])

    # -- operations ------------------------------------------------------------------------

    def get_account_id(self) -> str:
        body = self.request("get_accounts", "GET", "/api/accounts")
        data = body.get("data") if body else None
        if not isinstance(data, list) or not data or not isinstance(data[0], dict) \
                or "id" not in data[0]:
            raise NotKlaviyoError(
                f"The server at KLAVIYO_BASE_URL={self.display_url} returned no Klaviyo account "
                "for these credentials.",
                hint="Point KLAVIYO_BASE_URL at https://a.klaviyo.com (the default) or at the "
                "emulator's URL.",
            )
        return str(data[0]["id"])

    def find_lists(self, name: str) -> list[str]:
        """Ids of every list named exactly ``name``."""
        params: dict[str, Any] | None = {
            "filter": f"equals(name,{filter_string(name)})",
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

    def list_name(self, list_id: str) -> str | None:
        """The name of the list with this id; None when no such list exists."""
        try:
            body = self.request("get_list", "GET", f"/api/lists/{quote(list_id, safe='')}",
                                params={"fields[list]": "name"})
        except NotFoundError:
            return None
        return str(((body or {}).get("data") or {}).get("attributes", {}).get("name", ""))

    def resolve_list(self, name: str, create: bool = True, known_ids: tuple[str, ...] = ()
                     ) -> tuple[str | None, bool]:
        """(list id, created?) for the list called ``name``; created when missing.

        Never creates a second list of one name: ``known_ids`` (the ids state holds for this
        name) are checked by id before anything is created, and when the answer to the create
        call is lost the list is looked up by name before the call is sent again.
        """
        ids = self.find_lists(name)
        if len(ids) > 1:
            raise self._ambiguous(name, ids)
        if ids:
            return ids[0], False
        for list_id in known_ids:
            if self.list_name(list_id) == name:
                self.notes.append(f"The Klaviyo list {name!r} ({list_id}) was found by its id: "
                                  "Klaviyo's name filter did not return it.")
                return list_id, False
        if not create:
            return None, False

        def created_meanwhile() -> dict[str, Any] | None:
            found = self.find_lists(name)
            if len(found) > 1:
                raise self._ambiguous(name, found)
            if found:
                self.notes.append(f"The answer to creating the list {name!r} was lost; the "
                                  f"list was found by name ({found[0]}), not created again.")
                return {"data": {"id": found[0]}}
            return None

        body = self.request(
            "create_list", "POST", "/api/lists",
            body={"data": {"type": "list", "attributes": {"name": name}}},
            on_unknown=created_meanwhile,
        )
        _crash("list.created")
        return str(body["data"]["id"]), True

    @staticmethod
    def _ambiguous(name: str, ids: list[str]) -> AmbiguousListError:
        return AmbiguousListError(
            f"{len(ids)} Klaviyo lists are named {name!r} (ids {', '.join(ids)}).",
            hint="Rename or delete all but one in Klaviyo, or give the campaign's treatment "
            "a distinct list name.",
        )

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
                    # created_at: the response schema requires it even in a sparse fieldset
                    "fields[profile-bulk-import-job]":
                        "status,created_at,total_count,completed_count,failed_count"},
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

    def find_profiles(self, field: str, values: list[str]) -> list[dict[str, str | None]]:
        """Profiles holding any of up to 100 values of one identifier: each profile's id and
        its email, phone_number and external_id (one request a page)."""
        if not values:
            return []
        quoted = ",".join(filter_string(v) for v in values)
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
