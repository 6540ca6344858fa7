"""One function per Klaviyo operation: (context) → (status, JSON:API document or None).

Over 400 lines because it holds every emulated endpoint (20 operations, each a few lines of
Klaviyo's rules) beside the paging and sparse-fieldset helpers they share; split by resource
when a new resource arrives."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from klaviyo_emulator.errors import ApiError, invalid
from klaviyo_emulator.filters import Condition, matches, parse_filter
from klaviyo_emulator.jobs import JobQueue
from klaviyo_emulator.ops import Operation
from klaviyo_emulator.store import (
    IDENTIFIERS,
    TEXT_FIELDS,
    ImportFailure,
    Job,
    ListRec,
    Store,
    check_identifiers_sync,
    iso,
)
from klaviyo_emulator.validation import MAX_PROFILE_BYTES

MAX_JOB_PROFILES = 10_000
MAX_RELATIONSHIP_IDS = 1000


@dataclass
class Ctx:
    """One request, as a handler sees it: the account's store and job queue, the operation,
    path parameters, query, parsed body."""

    store: Store
    jobs: JobQueue
    op: Operation
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    base: str  # http://127.0.0.1:port
    path: str
    body_size: int = 0
    # bulk import: the profiles that may be over 100 KB (from validation); None: all may be
    suspects: list[int] | None = None


Result = tuple[int, dict[str, Any] | None]


# ---- query helpers ---------------------------------------------------------------------------
def _conditions(ctx: Ctx) -> list[Condition]:
    text = ctx.query.get("filter")
    return parse_filter(text, ctx.op.filters) if text else []


def _page_size(ctx: Ctx) -> int:
    raw = ctx.query.get("page[size]")
    top = ctx.op.page_max or 100
    if raw is None:
        return ctx.op.page_default or top
    try:
        size = int(raw)
    except ValueError:
        size = -1
    if not 1 <= size <= top:
        raise invalid(f"Page size must be an integer between 1 and {top}.",
                      parameter="page[size]")
    return size


def _cursor(ctx: Ctx) -> int:
    raw = ctx.query.get("page[cursor]")
    if not raw:
        return 0
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        kind, _, offset = text.partition(":")
        if kind != "o":
            raise ValueError(kind)
        return max(0, int(offset))
    except (ValueError, UnicodeDecodeError):
        raise invalid("Invalid page cursor.", parameter="page[cursor]") from None


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _url(ctx: Ctx, **override: str | None) -> str:
    q = {**ctx.query, **override}
    q = {k: v for k, v in q.items() if v is not None}
    return ctx.base + ctx.path + ("?" + urlencode(q) if q else "")


def _paginate(ctx: Ctx, items: list[Any]) -> tuple[list[Any], dict[str, Any]]:
    size = _page_size(ctx)
    offset = _cursor(ctx)
    page = items[offset:offset + size]
    links: dict[str, Any] = {"self": _url(ctx)}  # next/prev only when there is such a page
    if offset + size < len(items):
        links["next"] = _url(ctx, **{"page[cursor]": _encode_cursor(offset + size)})
    if offset > 0:
        links["prev"] = _url(ctx, **{"page[cursor]": _encode_cursor(max(0, offset - size))})
    return page, links


def _fields(ctx: Ctx, type_: str) -> set[str] | None:
    raw = ctx.query.get(f"fields[{type_}]")
    return {f.strip() for f in raw.split(",") if f.strip()} if raw else None


def _trim(attrs: dict[str, Any], fields: set[str] | None) -> dict[str, Any]:
    if fields is None:
        return attrs
    return {k: v for k, v in attrs.items() if k in fields or k.split(".")[0] in fields}


def _sort(ctx: Ctx, items: list[Any], key_of: Callable[[Any, str], Any]) -> list[Any]:
    sort = ctx.query.get("sort")
    if not sort:
        return items
    field = sort.lstrip("-")
    return sorted(items, key=lambda x: (key_of(x, field) is None, key_of(x, field) or ""),
                  reverse=sort.startswith("-"))


def _check_enum_query(ctx: Ctx, name: str, allowed: Iterable[str]) -> None:
    raw = ctx.query.get(name)
    if raw is None:
        return
    allowed = set(allowed)
    for value in raw.split(","):
        if value not in allowed:
            raise invalid(f"'{value}' is not a valid value for '{name}'.", parameter=name)


# ---- resources -------------------------------------------------------------------------------
def list_resource(ctx: Ctx, rec: ListRec, count: bool = False) -> dict[str, Any]:
    link = f"{ctx.base}/api/lists/{rec.id}/"
    attrs = {"name": rec.name, "created": iso(rec.created), "updated": iso(rec.updated),
             "opt_in_process": rec.opt_in_process}
    attrs = _trim(attrs, _fields(ctx, "list"))
    if count:
        attrs["profile_count"] = len(rec.members)
    return {
        "type": "list", "id": rec.id, "attributes": attrs,
        "relationships": {
            "profiles": {"links": {"self": link + "relationships/profiles/",
                                   "related": link + "profiles/"}},
            "tags": {"links": {"self": link + "relationships/tags/", "related": link + "tags/"}},
            "flow-triggers": {"links": {"self": link + "relationships/flow-triggers/",
                                        "related": link + "flow-triggers/"}},
        },
        "links": {"self": link},
    }


def profile_resource(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    link = f"{ctx.base}/api/profiles/{p['id']}/"
    attrs: dict[str, Any] = {k: p[k] for k in IDENTIFIERS}
    attrs.update({k: p[k] for k in TEXT_FIELDS})
    attrs.update({
        "created": iso(p["created"]), "updated": iso(p["updated"]), "last_event_date": None,
        "location": dict(p["location"]), "properties": dict(p["properties"]),
    })
    return {
        "type": "profile", "id": p["id"], "attributes": _trim(attrs, _fields(ctx, "profile")),
        "relationships": {
            "lists": {"links": {"self": link + "relationships/lists/",
                                "related": link + "lists/"}},
            "segments": {"links": {"self": link + "relationships/segments/",
                                   "related": link + "segments/"}},
        },
        "links": {"self": link},
    }


def job_resource(ctx: Ctx, job: Job) -> dict[str, Any]:
    link = f"{ctx.base}/api/profile-bulk-import-jobs/{job.id}/"
    attrs = {
        "status": job.status, "created_at": iso(job.created_at),
        "total_count": job.total_count, "completed_count": job.completed_count,
        "failed_count": job.failed_count,
        "completed_at": iso(job.completed_at) if job.completed_at else None,
        "expires_at": iso(job.created_at + 7 * 24 * 3600),
        "started_at": iso(job.started_at) if job.started_at else None,
    }
    return {
        "type": "profile-bulk-import-job", "id": job.id,
        "attributes": _trim(attrs, _fields(ctx, "profile-bulk-import-job")),
        "relationships": {
            "lists": {"data": [{"type": "list", "id": lid} for lid in job.list_ids],
                      "links": {"self": link + "relationships/lists/", "related": link + "lists/"}},
            "profiles": {"links": {"self": link + "relationships/profiles/",
                                   "related": link + "profiles/"}},
            "import-errors": {"links": {"related": link + "import-errors/"}},
        },
        "links": {"self": link},
    }


def _doc(data: Any, links: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"data": data}
    if links is not None:
        doc["links"] = links
    doc.update(extra)
    return doc


def _check_id_matches(ctx: Ctx, key: str = "id") -> None:
    body_id = ctx.body["data"].get("id")
    if body_id != ctx.params[key]:
        raise ApiError(409, "conflict",
                       f"The id in the body ({body_id}) does not match the id in the path "
                       f"({ctx.params[key]}).", pointer="/data/id")


# ---- operations ------------------------------------------------------------------------------
def get_accounts(ctx: Ctx) -> Result:
    acct = ctx.store.account_id
    attrs = {
        "test_account": False,
        "contact_information": {
            "default_sender_name": "Emulated account", "default_sender_email": "dev@example.com",
            "website_url": "https://example.com", "organization_name": "Klaviyo emulator",
            "street_address": {"address1": "", "address2": "", "city": "", "region": "",
                               "country": "", "zip": ""},
        },
        "industry": None, "timezone": "UTC", "preferred_currency": "USD",
        "public_api_key": acct, "locale": "en-US",
    }
    res = {"type": "account", "id": acct, "attributes": _trim(attrs, _fields(ctx, "account")),
           "links": {"self": f"{ctx.base}/api/accounts/{acct}/"}}
    return 200, _doc([res], {"self": _url(ctx)})


_LIST_SORT = ("created", "id", "name", "updated")


def get_lists(ctx: Ctx) -> Result:
    _check_enum_query(ctx, "include", ("flow-triggers", "tags"))
    _check_enum_query(ctx, "sort", (*_LIST_SORT, *("-" + s for s in _LIST_SORT)))
    conds = _conditions(ctx)
    with ctx.store.lock:
        recs = list(ctx.store.lists.values())
    values = {"name": lambda r: r.name, "id": lambda r: r.id,
              "created": lambda r: iso(r.created), "updated": lambda r: iso(r.updated)}
    recs = [r for r in recs if all(matches(values[c.field](r), c) for c in conds)]
    recs = _sort(ctx, recs, lambda r, f: values[f](r))
    page, links = _paginate(ctx, recs)
    extra = {"included": []} if ctx.query.get("include") else {}
    return 200, _doc([list_resource(ctx, r) for r in page], links, **extra)


def create_list(ctx: Ctx) -> Result:
    attrs = ctx.body["data"]["attributes"]
    if not attrs["name"].strip():
        raise invalid("A list name may not be blank.", pointer="/data/attributes/name")
    rec = ctx.store.create_list(attrs["name"], attrs.get("opt_in_process"))
    return 201, _doc(list_resource(ctx, rec), {"self": f"{ctx.base}/api/lists/{rec.id}/"})


def get_list(ctx: Ctx) -> Result:
    _check_enum_query(ctx, "include", ("flow-triggers", "tags"))
    _check_enum_query(ctx, "additional-fields[list]", ("profile_count",))
    rec = ctx.store.get_list(ctx.params["id"])
    count = "profile_count" in (ctx.query.get("additional-fields[list]") or "")
    extra = {"included": []} if ctx.query.get("include") else {}
    return 200, _doc(list_resource(ctx, rec, count), {"self": _url(ctx)}, **extra)


def update_list(ctx: Ctx) -> Result:
    _check_id_matches(ctx)
    attrs = ctx.body["data"]["attributes"]
    if attrs.get("name") is not None and not attrs["name"].strip():
        raise invalid("A list name may not be blank.", pointer="/data/attributes/name")
    rec = ctx.store.update_list(ctx.params["id"], attrs)
    return 200, _doc(list_resource(ctx, rec), {"self": _url(ctx)})


def delete_list(ctx: Ctx) -> Result:
    ctx.store.delete_list(ctx.params["id"])
    return 204, None


def _relationship_ids(ctx: Ctx) -> list[str]:
    data = ctx.body["data"]
    if len(data) > MAX_RELATIONSHIP_IDS:
        raise invalid(f"At most {MAX_RELATIONSHIP_IDS} profiles may be given in one request; "
                      f"got {len(data)}.", pointer="/data")
    return [item["id"] for item in data]


def add_profiles_to_list(ctx: Ctx) -> Result:
    ctx.store.add_members(ctx.params["id"], _relationship_ids(ctx))
    return 204, None


def remove_profiles_from_list(ctx: Ctx) -> Result:
    ctx.store.remove_members(ctx.params["id"], _relationship_ids(ctx))
    return 204, None


def _members(ctx: Ctx) -> list[tuple[dict[str, Any], float]]:
    _check_enum_query(ctx, "sort", ("joined_group_at", "-joined_group_at"))
    conds = _conditions(ctx)

    def value(row: tuple[dict[str, Any], float], fld: str) -> Any:
        if fld == "joined_group_at":
            return iso(row[1])
        return row[0].get(fld)

    def norm(c: Condition) -> Condition:
        if c.field != "email":
            return c
        v = c.value
        v = [x.lower() for x in v] if isinstance(v, list) else str(v).lower()
        return Condition(c.op, c.field, v)

    conds = [norm(c) for c in conds]
    store = ctx.store
    with store.lock:
        rec = store.get_list(ctx.params["id"])
        found = store.candidates(conds)
        if found is None:  # no indexed condition: every member, in member order
            rows = [(store.profiles[pid], joined) for pid, joined in rec.members.items()
                    if pid in store.profiles]
        else:  # the indexed matches that are members, in member order
            order = rec.order
            rows = [(store.profiles[pid], rec.members[pid])
                    for pid in sorted((p for p in found if p in rec.members), key=order.get)]
    rows = [r for r in rows if all(matches(value(r, c.field), c) for c in conds)]
    if ctx.query.get("sort") == "-joined_group_at":
        rows.reverse()
    return rows


def get_profile_ids_for_list(ctx: Ctx) -> Result:
    page, links = _paginate(ctx, _members(ctx))
    return 200, _doc([{"type": "profile", "id": p["id"]} for p, _ in page], links)


def get_profiles_for_list(ctx: Ctx) -> Result:
    _check_enum_query(ctx, "additional-fields[profile]", ("subscriptions", "predictive_analytics"))
    page, links = _paginate(ctx, _members(ctx))
    data = []
    for p, joined in page:
        res = profile_resource(ctx, p)
        res["attributes"]["joined_group_at"] = iso(joined)
        data.append(res)
    return 200, _doc(data, links)


def bulk_import_profiles(ctx: Ctx) -> Result:
    data = ctx.body["data"]
    profiles = data["attributes"]["profiles"]["data"]
    if not profiles:
        raise invalid("A bulk import job needs at least one profile.",
                      pointer="/data/attributes/profiles/data")
    if len(profiles) > MAX_JOB_PROFILES:
        raise invalid(f"A bulk import job accepts at most {MAX_JOB_PROFILES} profiles; got "
                      f"{len(profiles)}.", pointer="/data/attributes/profiles/data")
    if ctx.body_size > MAX_PROFILE_BYTES:  # only then can one profile exceed 100 KB
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        for i in range(len(profiles)) if ctx.suspects is None else ctx.suspects:
            p = profiles[i]
            size = len(dumps(p).encode())
            if size > MAX_PROFILE_BYTES:
                raise ApiError(413, "payload_too_large",
                               f"Profile {i} is {size} bytes; a profile may be at most "
                               f"{MAX_PROFILE_BYTES} bytes.",
                               pointer=f"/data/attributes/profiles/data/{i}")
    lists = ((data.get("relationships") or {}).get("lists") or {}).get("data") or []
    job = ctx.jobs.submit(profiles, [x["id"] for x in lists])
    return 202, _doc(job_resource(ctx, job), {"self": f"{ctx.base}/api/profile-bulk-import-jobs/"
                                                      f"{job.id}/"})


def get_bulk_import_profiles_jobs(ctx: Ctx) -> Result:
    _check_enum_query(ctx, "sort", ("created_at", "-created_at"))
    conds = _conditions(ctx)
    with ctx.store.lock:
        jobs = [j for j in ctx.store.jobs.values()
                if all(matches(j.status, c) for c in conds)]
    if ctx.query.get("sort") == "-created_at":
        jobs.reverse()
    page, links = _paginate(ctx, jobs)
    return 200, _doc([job_resource(ctx, j) for j in page], links)


def get_bulk_import_profiles_job(ctx: Ctx) -> Result:
    _check_enum_query(ctx, "include", ("lists",))
    job = ctx.store.get_job(ctx.params["job_id"])
    extra: dict[str, Any] = {}
    if ctx.query.get("include"):
        extra["included"] = [list_resource(ctx, ctx.store.lists[lid])
                             for lid in job.list_ids if lid in ctx.store.lists]
    return 200, _doc(job_resource(ctx, job), {"self": _url(ctx)}, **extra)


def get_errors_for_bulk_import_profiles_job(ctx: Ctx) -> Result:
    job = ctx.store.get_job(ctx.params["id"])
    with ctx.store.lock:
        errors = list(enumerate(job.errors))
    page, links = _paginate(ctx, errors)
    fields = _fields(ctx, "import-error")
    return 200, _doc([{"type": "import-error", "id": f"{job.id}-{i}",
                       "attributes": _trim(e, fields)} for i, e in page], links)


def _job_profiles(ctx: Ctx) -> list[dict[str, Any]]:
    job = ctx.store.get_job(ctx.params["id"])
    with ctx.store.lock:
        return [ctx.store.profiles[pid] for pid in job.profile_ids if pid in ctx.store.profiles]


def get_profiles_for_bulk_import_profiles_job(ctx: Ctx) -> Result:
    page, links = _paginate(ctx, _job_profiles(ctx))
    return 200, _doc([profile_resource(ctx, p) for p in page], links)


def get_profile_ids_for_bulk_import_profiles_job(ctx: Ctx) -> Result:
    page, links = _paginate(ctx, _job_profiles(ctx))
    return 200, _doc([{"type": "profile", "id": p["id"]} for p in page], links)


def get_list_ids_for_bulk_import_profiles_job(ctx: Ctx) -> Result:
    job = ctx.store.get_job(ctx.params["id"])
    return 200, _doc([{"type": "list", "id": lid} for lid in job.list_ids],
                     {"self": _url(ctx)})


_PROFILE_SORT = ("created", "email", "id", "updated")


def get_profiles(ctx: Ctx) -> Result:
    _check_enum_query(ctx, "additional-fields[profile]", ("subscriptions", "predictive_analytics"))
    _check_enum_query(ctx, "include", ("conversations", "push-tokens"))
    conds = _conditions(ctx)
    conds = [Condition(c.op, c.field, [v.lower() for v in c.value] if isinstance(c.value, list)
                       else str(c.value).lower()) if c.field == "email" else c for c in conds]
    sort = ctx.query.get("sort")
    if sort and sort.lstrip("-") not in _PROFILE_SORT:
        raise invalid(f"'{sort}' is not a supported sort for this endpoint.", parameter="sort")

    def value(p: dict[str, Any], fld: str) -> Any:
        if fld in ("created", "updated"):
            return iso(p[fld])
        return p.get(fld)

    store = ctx.store
    with store.lock:
        found = store.candidates(conds)  # identifier filters: from the indexes, not a scan
        pool = store.profiles.values() if found is None else [store.profiles[i] for i in found]
        profiles = [p for p in pool if all(matches(value(p, c.field), c) for c in conds)]
    profiles = _sort(ctx, profiles, value)
    page, links = _paginate(ctx, profiles)
    extra = {"included": []} if ctx.query.get("include") else {}
    return 200, _doc([profile_resource(ctx, p) for p in page], links, **extra)


def create_or_update_profile(ctx: Ctx) -> Result:
    data = ctx.body["data"]
    attrs = data["attributes"]
    check_identifiers_sync(attrs)
    try:
        profile, created = ctx.store.upsert(attrs, data.get("meta"), clear_nulls=True,
                                            profile_id=data.get("id"))
    except ImportFailure as exc:
        raise invalid(exc.detail, pointer="/data/attributes") from None
    return (201 if created else 200), _doc(profile_resource(ctx, profile))


def update_profile(ctx: Ctx) -> Result:
    _check_id_matches(ctx)
    data = ctx.body["data"]
    check_identifiers_sync(data["attributes"])
    profile = ctx.store.update_profile(ctx.params["id"], data["attributes"], data.get("meta"))
    return 200, _doc(profile_resource(ctx, profile))


HANDLERS: dict[str, Callable[[Ctx], Result]] = {
    name: fn for name, fn in globals().items()
    if callable(fn) and name in {
        "get_accounts", "get_lists", "create_list", "get_list", "update_list", "delete_list",
        "add_profiles_to_list", "remove_profiles_from_list", "get_profile_ids_for_list",
        "get_profiles_for_list", "bulk_import_profiles", "get_bulk_import_profiles_jobs",
        "get_bulk_import_profiles_job", "get_errors_for_bulk_import_profiles_job",
        "get_profiles_for_bulk_import_profiles_job",
        "get_profile_ids_for_bulk_import_profiles_job",
        "get_list_ids_for_bulk_import_profiles_job", "get_profiles",
        "create_or_update_profile", "update_profile",
    }
}
