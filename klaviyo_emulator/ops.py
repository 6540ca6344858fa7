"""The operations the emulator serves: method, path, scopes, rate limits, page sizes, filters.

Written from Klaviyo's published contract (revision 2026-07-15); the emulator reads no OpenAPI
file at run time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

REVISION = "2026-07-15"


@dataclass(frozen=True)
class Operation:
    op_id: str
    method: str
    template: str  # e.g. /api/lists/{id}
    scopes: tuple[str, ...]
    burst: int  # per second
    steady: int  # per minute
    daily: int | None = None
    page_max: int | None = None  # page[size] maximum, when paginated
    page_default: int | None = None
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)  # field -> operators
    query: tuple[str, ...] = ()  # other accepted query parameters (besides filter/page)
    has_body: bool = False

    @property
    def pattern(self) -> re.Pattern[str]:
        return _compile(self.template)


def _compile(template: str) -> re.Pattern[str]:
    rx = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile("^" + rx + "/?$")


_LIST_FILTERS = {
    "name": ("any", "equals"),
    "id": ("any", "equals"),
    "created": ("greater-than",),
    "updated": ("greater-than",),
}
_MEMBER_FILTERS = {
    "email": ("any", "equals"),
    "phone_number": ("any", "equals"),
    "push_token": ("any", "equals"),
    "_kx": ("equals",),
    "joined_group_at": ("greater-or-equal", "greater-than", "less-or-equal", "less-than"),
}
_PROFILE_FILTERS = {
    "id": ("any", "equals"),
    "email": ("any", "equals"),
    "phone_number": ("any", "equals"),
    "external_id": ("any", "equals"),
    "_kx": ("equals",),
    "created": ("greater-than", "less-than"),
    "updated": ("greater-than", "less-than"),
}
_LIST_Q = ("fields[list]", "fields[flow]", "fields[tag]", "include")
_PROFILE_Q = ("fields[profile]", "additional-fields[profile]")
_JOB = "/api/profile-bulk-import-jobs"

OPERATIONS: tuple[Operation, ...] = (
    Operation("get_accounts", "GET", "/api/accounts", ("accounts:read",), 1, 15,
              query=("fields[account]",)),
    Operation("get_lists", "GET", "/api/lists", ("lists:read",), 75, 750, page_max=10,
              page_default=10, filters=_LIST_FILTERS, query=(*_LIST_Q, "sort")),
    Operation("create_list", "POST", "/api/lists", ("lists:write",), 10, 150, daily=150,
              query=("fields[list]",), has_body=True),
    Operation("get_list", "GET", "/api/lists/{id}", ("lists:read",), 75, 750,
              query=(*_LIST_Q, "additional-fields[list]")),
    Operation("update_list", "PATCH", "/api/lists/{id}", ("lists:write",), 10, 150,
              query=("fields[list]",), has_body=True),
    Operation("delete_list", "DELETE", "/api/lists/{id}", ("lists:write",), 10, 150),
    Operation("add_profiles_to_list", "POST", "/api/lists/{id}/relationships/profiles",
              ("lists:write", "profiles:write"), 10, 150, has_body=True),
    Operation("remove_profiles_from_list", "DELETE", "/api/lists/{id}/relationships/profiles",
              ("lists:write", "profiles:write"), 10, 150, has_body=True),
    Operation("get_profile_ids_for_list", "GET", "/api/lists/{id}/relationships/profiles",
              ("lists:read", "profiles:read"), 75, 750, page_max=100, page_default=20,
              filters=_MEMBER_FILTERS, query=("sort",)),
    Operation("get_profiles_for_list", "GET", "/api/lists/{id}/profiles",
              ("lists:read", "profiles:read"), 75, 750, page_max=100, page_default=20,
              filters=_MEMBER_FILTERS, query=(*_PROFILE_Q, "sort")),
    Operation("bulk_import_profiles", "POST", _JOB, ("lists:write", "profiles:write"), 10, 150,
              query=("fields[profile-bulk-import-job]",), has_body=True),
    Operation("get_bulk_import_profiles_jobs", "GET", _JOB, ("lists:read", "profiles:read"),
              10, 150, page_max=100, page_default=20, filters={"status": ("any", "equals")},
              query=("fields[profile-bulk-import-job]", "sort")),
    Operation("get_bulk_import_profiles_job", "GET", _JOB + "/{job_id}",
              ("lists:read", "profiles:read"), 10, 150,
              query=("fields[profile-bulk-import-job]", "fields[list]", "include")),
    Operation("get_errors_for_bulk_import_profiles_job", "GET", _JOB + "/{id}/import-errors",
              ("profiles:read",), 10, 150, page_max=100, page_default=20,
              query=("fields[import-error]",)),
    Operation("get_profiles_for_bulk_import_profiles_job", "GET", _JOB + "/{id}/profiles",
              ("profiles:read",), 10, 150, page_max=100, page_default=20, query=_PROFILE_Q),
    Operation("get_profile_ids_for_bulk_import_profiles_job", "GET",
              _JOB + "/{id}/relationships/profiles", ("profiles:read",), 10, 150,
              page_max=100, page_default=20),
    Operation("get_list_ids_for_bulk_import_profiles_job", "GET",
              _JOB + "/{id}/relationships/lists", ("lists:read",), 10, 150),
    Operation("get_profiles", "GET", "/api/profiles", ("profiles:read",), 75, 750,
              page_max=100, page_default=20, filters=_PROFILE_FILTERS,
              query=(*_PROFILE_Q, "sort", "include", "fields[push-token]",
                     "fields[conversation]")),
    Operation("create_or_update_profile", "POST", "/api/profile-import", ("profiles:write",),
              75, 750, query=_PROFILE_Q, has_body=True),
    Operation("update_profile", "PATCH", "/api/profiles/{id}", ("profiles:write",), 75, 750,
              query=_PROFILE_Q, has_body=True),
)

BY_ID = {op.op_id: op for op in OPERATIONS}
ALL_SCOPES = frozenset(s for op in OPERATIONS for s in op.scopes) | {
    "accounts:write", "profiles:read", "lists:read"}
_PATTERNS = [(op, _compile(op.template)) for op in OPERATIONS]


def route(method: str, path: str) -> tuple[Operation | None, dict[str, str], bool]:
    """The operation for (method, path), its path parameters, and whether the path exists at all."""
    path_known = False
    for op, rx in _PATTERNS:
        m = rx.match(path)
        if m:
            path_known = True
            if op.method == method:
                return op, m.groupdict(), True
    return None, {}, path_known


def has_scopes(granted: frozenset[str], needed: tuple[str, ...]) -> list[str]:
    """Scopes of ``needed`` missing from ``granted`` (``x:write`` implies ``x:read``)."""
    missing = []
    for scope in needed:
        if scope in granted:
            continue
        resource, _, level = scope.partition(":")
        if level == "read" and f"{resource}:write" in granted:
            continue
        missing.append(scope)
    return missing
