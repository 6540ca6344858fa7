"""Klaviyo's error documents: a JSON:API ``errors`` array (status, code, title, detail, source)."""

from __future__ import annotations

import uuid
from typing import Any

TITLES = {
    "invalid": "Invalid input.",
    "not_authenticated": "Authentication credentials were not provided.",
    "authentication_failed": "Incorrect authentication credentials.",
    "permission_denied": "You do not have permission to perform this action.",
    "not_found": "Not found.",
    "method_not_allowed": "Method not allowed.",
    "not_acceptable": "Could not satisfy the request Accept header.",
    "unsupported_media_type": "Unsupported media type.",
    "throttled": "Request was throttled.",
    "payload_too_large": "Request payload too large.",
    "list_limit_reached": "List limit reached.",
    "duplicate_profile": "Conflict.",
    "parse_error": "Malformed request.",
    "error": "A server error occurred.",
    "bad_gateway": "Bad gateway.",
    "service_unavailable": "Service unavailable.",
}


class ApiError(Exception):
    """One refusal, rendered as Klaviyo renders it."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        pointer: str | None = None,
        parameter: str | None = None,
        headers: dict[str, str] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.pointer = pointer
        self.parameter = parameter
        self.headers = headers or {}
        self.meta = meta

    def document(self) -> dict[str, Any]:
        """The JSON:API error document: ``{"errors": [one error object]}``."""
        source: dict[str, str] = {}
        if self.pointer is not None:
            source["pointer"] = self.pointer
        if self.parameter is not None:
            source["parameter"] = self.parameter
        obj: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "status": self.status,
            "code": self.code,
            "title": TITLES.get(self.code, "Error."),
            "detail": self.detail,
            "source": source,
        }
        if self.meta:
            obj["meta"] = self.meta
        return {"errors": [obj]}


def error_document(status: int, code: str, detail: str) -> dict[str, Any]:
    """The document of an error that is not raised (faults, refusals before routing)."""
    return ApiError(status, code, detail).document()


def invalid(detail: str, *, pointer: str | None = None, parameter: str | None = None) -> ApiError:
    return ApiError(400, "invalid", detail, pointer=pointer, parameter=parameter)
