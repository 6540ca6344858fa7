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
        return error_document(
            self.status, self.code, self.detail, self.pointer, self.parameter, self.meta
        )


def error_object(
    status: int,
    code: str,
    detail: str,
    pointer: str | None = None,
    parameter: str | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    source: dict[str, str] = {}
    if pointer is not None:
        source["pointer"] = pointer
    if parameter is not None:
        source["parameter"] = parameter
    obj: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "status": status,
        "code": code,
        "title": TITLES.get(code, "Error."),
        "detail": detail,
        "source": source,
    }
    if meta:
        obj["meta"] = meta
    return obj


def error_document(
    status: int,
    code: str,
    detail: str,
    pointer: str | None = None,
    parameter: str | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {"errors": [error_object(status, code, detail, pointer, parameter, meta)]}


def invalid(detail: str, *, pointer: str | None = None, parameter: str | None = None) -> ApiError:
    return ApiError(400, "invalid", detail, pointer=pointer, parameter=parameter)
