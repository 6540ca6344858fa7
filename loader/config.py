"""Configuration from the environment. Secrets stay in this object and are never printed."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from loader.errors import ConfigError

DEFAULT_BASE_URL = "https://a.klaviyo.com"
KLAVIYO_REVISION = "2026-07-15"  # the pinned API revision (matches the OpenAPI we test against)
DEFAULT_DUCKDB_PATH = "warehouse.duckdb"
STATE_SCHEMA = "klaviyo_loader"  # loader-owned relations live here, next to the audiences


def _redact(value: str | None) -> str:
    if not value:
        return "<unset>"
    return value[:3] + "…" + "*" * 4


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
        return f"KlaviyoCredentials(api_key={_redact(self.api_key)}, oauth={self.is_oauth})"

    def secrets(self) -> list[str]:
        """Every secret value, so output can be scrubbed of them."""
        return [
            s
            for s in (self.api_key, self.oauth_client_secret, self.oauth_refresh_token)
            if s
        ]


SECRET_VARIABLES = (
    "KLAVIYO_API_KEY",
    "KLAVIYO_OAUTH_CLIENT_SECRET",
    "KLAVIYO_OAUTH_REFRESH_TOKEN",
)


def secrets_in_env(env: dict[str, str] | None = None) -> list[str]:
    """Every secret value configured in the environment, so output can be scrubbed of them."""
    env = dict(os.environ if env is None else env)
    return [env[name] for name in SECRET_VARIABLES if env.get(name)]


@dataclass(frozen=True)
class Settings:
    base_url: str
    revision: str
    duckdb_path: str
    state_schema: str
    credentials: KlaviyoCredentials

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        base_url = (env.get("KLAVIYO_BASE_URL") or DEFAULT_BASE_URL).strip().rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"KLAVIYO_BASE_URL must be an http(s) URL, got {base_url!r}.",
                hint=f"Unset it for Klaviyo ({DEFAULT_BASE_URL}) or give the emulator's URL.",
            )
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
