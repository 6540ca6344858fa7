"""Credentials the emulator accepts: private API keys with scopes, and OAuth (client
credentials, refresh tokens, expiring access tokens), as Klaviyo checks them.

The HTTP side (``server``) reads the headers and the token form and calls this module.
"""

from __future__ import annotations

import secrets
from typing import Any

from klaviyo_emulator.clock import Clock
from klaviyo_emulator.errors import ApiError
from klaviyo_emulator.ops import ALL_SCOPES

Scopes = frozenset[str]


class Credentials:
    """``strict_key``: when set, only this key (and keys from ``create_key``) is accepted;
    otherwise any ``pk_…`` key is, with every scope. ``token_ttl``: seconds an access token
    lives."""

    def __init__(self, clock: Clock, *, strict_key: str | None = None,
                 token_ttl: float = 3600.0) -> None:
        self.clock = clock
        self.strict_key = strict_key
        self.token_ttl = token_ttl
        self._keys: dict[str, Scopes] = {}
        self._oauth_clients: dict[str, tuple[str, Scopes]] = {}  # id -> (secret, scopes)
        self._refresh_tokens: dict[str, tuple[str, Scopes]] = {}  # token -> (client, scopes)
        self._access_tokens: dict[str, tuple[float, Scopes]] = {}  # token -> (expires, scopes)

    def create_key(self, scopes: list[str] | tuple[str, ...] | None = None) -> str:
        """A new private key with exactly these scopes (default: every scope)."""
        key = "pk_" + secrets.token_hex(16)
        self._keys[key] = frozenset(ALL_SCOPES if scopes is None else scopes)
        return key

    def create_oauth_client(self, token_url: str,
                            scopes: list[str] | tuple[str, ...] | None = None) -> dict[str, str]:
        """OAuth client credentials and a refresh token for ``POST /oauth/token``."""
        client_id = "emu-client-" + secrets.token_hex(4)
        secret = secrets.token_hex(16)
        granted = frozenset(ALL_SCOPES if scopes is None else scopes)
        self._oauth_clients[client_id] = (secret, granted)
        refresh = "rt_" + secrets.token_hex(16)
        self._refresh_tokens[refresh] = (client_id, granted)
        return {"client_id": client_id, "client_secret": secret, "refresh_token": refresh,
                "token_url": token_url}

    def _key_scopes(self, key: str) -> Scopes | None:
        if key in self._keys:
            return self._keys[key]
        if self.strict_key is not None:
            return ALL_SCOPES if secrets.compare_digest(key, self.strict_key) else None
        return ALL_SCOPES if key.startswith("pk_") and len(key) > 3 else None

    def authenticate(self, header: str | None) -> Scopes:
        """The scopes an ``Authorization`` header grants; ApiError 401 when it grants none."""
        if not header:
            raise ApiError(401, "not_authenticated",
                           "Authentication credentials were not provided.")
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        if scheme == "Klaviyo-API-Key":
            scopes = self._key_scopes(value)
            if scopes is None:
                raise ApiError(401, "authentication_failed", "Incorrect authentication "
                               "credentials: the private API key is not valid.")
            return scopes
        if scheme == "Bearer":
            entry = self._access_tokens.get(value)
            if entry is None:
                raise ApiError(401, "authentication_failed",
                               "Incorrect authentication credentials: unknown access token.")
            expires, scopes = entry
            if self.clock() >= expires:
                raise ApiError(401, "authentication_failed",
                               "Incorrect authentication credentials: the access token expired.")
            return scopes
        raise ApiError(401, "not_authenticated",
                       "Authentication credentials were not provided in a supported scheme "
                       "(Klaviyo-API-Key or Bearer).")

    def grant(self, client_id: str | None, client_secret: str | None,
              form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Answer a token request: (HTTP status, OAuth JSON document)."""

        def fail(status: int, error: str, description: str) -> tuple[int, dict[str, Any]]:
            return status, {"error": error, "error_description": description}

        if form.get("grant_type") != "refresh_token":
            return fail(400, "unsupported_grant_type",
                        "Only grant_type=refresh_token is supported.")
        refresh = form.get("refresh_token") or ""
        if self._oauth_clients:
            client = self._oauth_clients.get(client_id or "")
            if client is None or not secrets.compare_digest(client[0], client_secret or ""):
                return fail(401, "invalid_client", "Unknown client or wrong client secret.")
            entry = self._refresh_tokens.get(refresh)
            if entry is None or entry[0] != client_id:
                return fail(400, "invalid_grant", "The refresh token is invalid or was revoked.")
            scopes = entry[1]
        else:  # no clients registered: any client and refresh token are accepted
            if not (client_id and refresh):
                return fail(400, "invalid_request",
                            "client credentials and refresh_token are required.")
            scopes = ALL_SCOPES
        token = "at_" + secrets.token_hex(16)
        self._access_tokens[token] = (self.clock() + self.token_ttl, scopes)
        return 200, {"access_token": token, "token_type": "Bearer",
                     "expires_in": int(self.token_ttl), "refresh_token": refresh,
                     "scope": " ".join(sorted(scopes))}
