"""Domain exceptions. Each carries what a user needs to act; the CLI maps them to exit codes."""

from __future__ import annotations

EXIT_OK = 0
EXIT_REJECTED = 1  # the run completed but some rows were rejected by Klaviyo
EXIT_FAILED = 2  # the run failed; state is left so that the next run resumes


class LoaderError(Exception):
    """Base of every error the loader raises on purpose.

    ``hint`` is one line telling the user what to do about it.
    """

    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(LoaderError):
    """Missing or invalid configuration (credentials, paths, options)."""


class WarehouseError(LoaderError):
    """The warehouse is missing a relation, a column, or cannot be opened."""


class KlaviyoError(LoaderError):
    """Klaviyo refused a request in a way retrying will not fix."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.status = status
        self.code = code


class AuthenticationError(KlaviyoError):
    """The API key or OAuth token is invalid (HTTP 401)."""


class PermissionDeniedError(KlaviyoError):
    """The key lacks a scope the operation needs (HTTP 403)."""


class ListLimitError(KlaviyoError):
    """The account's 1,000 lists-and-segments ceiling or the daily list-creation limit."""


class AmbiguousListError(KlaviyoError):
    """Two or more Klaviyo lists carry the name a campaign sends to."""


class RetriesExhaustedError(KlaviyoError):
    """A request kept failing (429/5xx/connection errors) past the retry bound."""


class UnreachableError(RetriesExhaustedError):
    """Nothing answers at KLAVIYO_BASE_URL (connection refused, unknown host, connect timeout)."""


class NotKlaviyoError(KlaviyoError):
    """Something answers at KLAVIYO_BASE_URL, but not with Klaviyo's JSON:API documents."""


class ImportJobLostError(KlaviyoError):
    """Klaviyo lost or cancelled an import job, twice: its rows were not imported."""


class LockedError(LoaderError):
    """Another ``loader push`` holds the warehouse lock."""
