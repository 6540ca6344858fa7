"""Configuration from the environment. Secrets stay in this object and are never printed."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

from loader.errors import ConfigError

DEFAULT_BASE_URL = "https://a.klaviyo.com"
KLAVIYO_REVISION = "2026-07-15"  # the pinned API revision (matches the OpenAPI we test against)
DEFAULT_DUCKDB_PATH = "warehouse.duckdb"
STATE_SCHEMA = "klaviyo_loader"  # loader-owned relations live here, next to the audiences


# scheme://user:password@ — the user info of a URL anywhere in a text (not an e-mail address:
# one has no "://" before it, and one in a URL's path or query has a "/" before it)
_URL_USER_INFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")


def redact(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` fit for a person, a log or the state: every secret replaced by ``***``, and the
    user name and password of any URL in it (``https://user:pass@host``) by ``***@``.

    ``secrets``: the values to remove; by default every secret configured in the environment
    (``secrets_in_env``: the secret variables, their percent-encoded forms, user info in
    KLAVIYO_BASE_URL). Longer secrets are replaced first, so no part of one is left behind.
    """
    values = secrets_in_env() if secrets is None else list(secrets)
    for secret in sorted({s for s in values if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return _URL_USER_INFO.sub(r"\1***@", text)


@dataclass(frozen=True)
class KlaviyoCredentials:
    """A private API key, or OAuth client credentials with a refresh token."""

    api_key: str | None = field(default=None, repr=False)
    oauth_client_id: str | None = field(default=None, repr=False)
    oauth_client_secret: str | None = field(default=None, repr=False)
    oauth_refresh_token: str | None = field(default=None, repr=False)
    oauth_token_url: str | None = None

    @property
    def is_oauth(self) -> bool:
        return self.api_key is None and self.oauth_refresh_token is not None

    def __repr__(self) -> str:
        shown = redact(self.api_key, self.secrets()) if self.api_key else "<unset>"
        return f"KlaviyoCredentials(api_key={shown}, oauth={self.is_oauth})"

    def secrets(self) -> list[str]:
        """Every secret value (and its percent-encoded form), longest first, so output can be
        scrubbed of them."""
        values = [s for s in (self.api_key, self.oauth_client_secret, self.oauth_refresh_token)
                  if s]
        values += [quote(v, safe="") for v in values]
        return sorted(set(values), key=len, reverse=True)


SECRET_VARIABLES = (
    "KLAVIYO_API_KEY",
    "KLAVIYO_OAUTH_CLIENT_SECRET",
    "KLAVIYO_OAUTH_REFRESH_TOKEN",
)


def secrets_in_env(env: dict[str, str] | None = None) -> list[str]:
    """Every secret value configured in the environment, so output can be scrubbed of them:
    the secret variables, any user info in KLAVIYO_BASE_URL (refused, but never printed), and
    the percent-encoded form of each (as it would appear in a URL)."""
    env = dict(os.environ if env is None else env)
    values = [env[name].strip() for name in SECRET_VARIABLES if env.get(name, "").strip()]
    values += [env[name] for name in SECRET_VARIABLES if env.get(name)]
    try:
        netloc = urlsplit((env.get("KLAVIYO_BASE_URL") or "").strip()).netloc
    except ValueError:
        netloc = ""
    if "@" in netloc:
        # the user info whole, and the parts of it that are secrets: the password, and the
        # user name when it is the only part or looks like a key (a user name such as "user"
        # is masked within the user info only, not wherever the word appears)
        userinfo = netloc.rpartition("@")[0]
        user, colon, password = userinfo.partition(":")
        parts = [password] if colon else [user]
        if colon and user.lower().startswith("pk_"):
            parts.append(user)
        values += [userinfo, *parts, *[unquote(p) for p in parts]]
    values += [quote(v, safe="") for v in list(values)]
    # longest first, so a secret is replaced whole before any part of it
    return sorted({v for v in values if v}, key=len, reverse=True)


def check_base_url(value: str) -> str:
    """KLAVIYO_BASE_URL, checked: an http(s) URL with a host, a valid port and no user info.

    A user name or password in the URL is refused without being repeated: Klaviyo takes its
    key in KLAVIYO_API_KEY, and a key put in the URL would be printed wherever the URL is.
    """
    url = value.strip().rstrip("/")
    hint = f"Unset it for Klaviyo ({DEFAULT_BASE_URL}) or give the emulator's URL."
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ConfigError("KLAVIYO_BASE_URL is not a valid URL.", hint=hint) from None
    if "@" in parts.netloc:
        raise ConfigError(
            f"KLAVIYO_BASE_URL must not hold a user name or password "
            f"({parts.scheme or 'http'}://***@{parts.netloc.rpartition('@')[2]}).",
            hint="Remove the part before '@'; put the private key in KLAVIYO_API_KEY.",
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = url if len(url) <= 80 else url[:77] + "..."
        raise ConfigError(f"KLAVIYO_BASE_URL must be an http(s) URL with a host, got {shown!r}.",
                          hint=hint)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ConfigError(f"KLAVIYO_BASE_URL has an invalid port: {url!r} (ports are 1-65535).",
                          hint=hint) from None
    if parts.query or parts.fragment:
        raise ConfigError(f"KLAVIYO_BASE_URL must not have a query or fragment: {url!r}.",
                          hint=hint)
    return url


@dataclass(frozen=True)
class Settings:
    base_url: str
    revision: str
    duckdb_path: str
    state_schema: str
    credentials: KlaviyoCredentials
    # where `dbt build` writes run_results.json (DBT_TARGET_PATH, relative to DBT_PROJECT_DIR,
    # as dbt reads them; default target/ of the current directory): loader.dbt_results
    dbt_target_path: str = "target"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        base_url = check_base_url(env.get("KLAVIYO_BASE_URL") or DEFAULT_BASE_URL)
        creds = KlaviyoCredentials(
            api_key=env.get("KLAVIYO_API_KEY") or None,
            oauth_client_id=env.get("KLAVIYO_OAUTH_CLIENT_ID") or None,
            oauth_client_secret=env.get("KLAVIYO_OAUTH_CLIENT_SECRET") or None,
            oauth_refresh_token=env.get("KLAVIYO_OAUTH_REFRESH_TOKEN") or None,
            oauth_token_url=env.get("KLAVIYO_OAUTH_TOKEN_URL") or f"{base_url}/oauth/token",
        )
        return cls(
            base_url=base_url,
            revision=env.get("KLAVIYO_REVISION", KLAVIYO_REVISION),
            duckdb_path=env.get("DUCKDB_PATH", DEFAULT_DUCKDB_PATH),
            state_schema=env.get("LOADER_STATE_SCHEMA", STATE_SCHEMA),
            credentials=creds,
            dbt_target_path=os.path.join(env.get("DBT_PROJECT_DIR") or "",
                                         env.get("DBT_TARGET_PATH") or "target"),
        )

    def require_credentials(self) -> KlaviyoCredentials:
        c = self.credentials
        if c.api_key or c.oauth_refresh_token:
            return c
        raise ConfigError(
            "No Klaviyo credentials: set KLAVIYO_API_KEY (a private key, pk_…) or "
            "KLAVIYO_OAUTH_CLIENT_ID, KLAVIYO_OAUTH_CLIENT_SECRET and KLAVIYO_OAUTH_REFRESH_TOKEN.",
            hint="For a local try, run `loader emulator` and use "
            "KLAVIYO_BASE_URL=http://127.0.0.1:8765 KLAVIYO_API_KEY=pk_demo.",
        )
