"""The emulated account: lists, profiles and bulk-import jobs, in memory, behind one lock.

Over 400 lines because the lock's invariants (identifier indexes, merges, list membership,
job progress) are kept in one class that only this file touches.

Profiles are keyed by email (trimmed, lower-cased), phone number (E.164) and external id, and
merged the way Klaviyo merges them (docs/emulator.md, "Profiles and merges").
"""

from __future__ import annotations

import itertools
import random
import re
import string
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from klaviyo_emulator.clock import Clock
from klaviyo_emulator.errors import ApiError, invalid
from klaviyo_emulator.filters import Condition

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
E164_RE = re.compile(r"^\+[1-9][0-9]{7,14}$")
_EMAIL_OK = EMAIL_RE.match
_E164_OK = E164_RE.match
IDENTIFIERS = ("email", "phone_number", "external_id")
TEXT_FIELDS = ("first_name", "last_name", "organization", "locale", "title", "image")
LOCATION_FIELDS = ("address1", "address2", "city", "country", "latitude", "longitude",
                   "region", "zip", "timezone", "ip")
MAX_LISTS_AND_SEGMENTS = 1000
DAILY_LIST_CREATIONS = 150
JOB_TTL_SECONDS = 7 * 24 * 3600


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


class ImportFailure(Exception):
    """One profile of a bulk job that cannot be imported (becomes an import error)."""

    def __init__(self, detail: str, attribute: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.attribute = attribute


@dataclass
class ListRec:
    id: str
    name: str
    created: float
    updated: float
    opt_in_process: str = "single_opt_in"
    members: dict[str, float] = field(default_factory=dict)  # profile id -> joined at
    # profile id -> its position in ``members`` (a rising number), so that a filtered look-up
    # can put a few indexed matches in member order without walking the whole list
    order: dict[str, int] = field(default_factory=dict)
    _next: int = 0

    def join(self, pid: str, at: float) -> None:
        if pid not in self.members:
            self.members[pid] = at
            self._next += 1
            self.order[pid] = self._next

    def leave(self, pid: str) -> float | None:
        self.order.pop(pid, None)
        return self.members.pop(pid, None)


@dataclass
class Job:
    id: str
    created_at: float
    due_at: float
    list_ids: list[str]
    payload: list[dict[str, Any]]
    status: str = "queued"
    started_at: float | None = None
    completed_at: float | None = None
    total_count: int = 0
    completed_count: int = 0
    failed_count: int = 0
    profile_ids: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


class Store:
    def __init__(self, clock: Clock, account_id: str, seed: int | None = None) -> None:
        """``seed`` fixes the ids the store draws (lists, profiles, jobs); without it every
        store draws its own, as Klaviyo never hands a new list the id of one it had before."""
        self.clock = clock
        self.account_id = account_id
        self.lock = threading.RLock()
        self._rng = random.Random(seed)  # None: seeded from os.urandom, unique per start
        self._salt = self._rng.getrandbits(52) << 44
        self._seq = itertools.count(1)
        self.daily_list_limit = DAILY_LIST_CREATIONS
        self.max_lists = MAX_LISTS_AND_SEGMENTS
        self.segments = 0  # segments count against the ceiling too
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.lists: dict[str, ListRec] = {}
            self.profiles: dict[str, dict[str, Any]] = {}
            self.by_email: dict[str, str] = {}
            self.by_phone: dict[str, str] = {}
            self.by_external: dict[str, str] = {}
            self.jobs: dict[str, Job] = {}
            self.list_creations: deque[float] = deque()

    # ---- ids ---------------------------------------------------------------------------
    def _id(self, n: int, alphabet: str) -> str:
        return "".join(self._rng.choice(alphabet) for _ in range(n))

    def new_list_id(self) -> str:
        while True:
            lid = self._id(6, string.ascii_letters + string.digits)
            if lid not in self.lists:
                return lid

    def new_ulid(self) -> str:
        """26 characters of Crockford base32, unique within this store (a salted counter)."""
        return f"01{self._salt | next(self._seq):024X}"

    # ---- lists -------------------------------------------------------------------------
    def create_list(self, name: str, opt_in_process: str | None) -> ListRec:
        with self.lock:
            now = self.clock()
            if len(self.lists) + self.segments >= self.max_lists:
                raise ApiError(
                    400, "list_limit_reached",
                    f"This account already has {self.max_lists} lists and segments, the most "
                    "Klaviyo allows; delete one before creating another.",
                    pointer="/data",
                )
            while self.list_creations and self.list_creations[0] <= now - 86400:
                self.list_creations.popleft()
            if len(self.list_creations) >= self.daily_list_limit:
                wait = max(1, int(self.list_creations[0] + 86400 - now + 0.999))
                raise ApiError(
                    429, "throttled",
                    f"Request was throttled: at most {self.daily_list_limit} lists may be created "
                    f"a day. Expected available in {wait} seconds.",
                    headers={"Retry-After": str(wait)},
                )
            self.list_creations.append(now)
            rec = ListRec(self.new_list_id(), name, now, now, opt_in_process or "single_opt_in")
            self.lists[rec.id] = rec
            return rec

    def get_list(self, list_id: str) -> ListRec:
        rec = self.lists.get(list_id)
        if rec is None:
            raise ApiError(404, "not_found", f"A list with id {list_id} does not exist.")
        return rec

    def update_list(self, list_id: str, attrs: dict[str, Any]) -> ListRec:
        with self.lock:
            rec = self.get_list(list_id)
            if attrs.get("name") is not None:
                rec.name = attrs["name"]
            if attrs.get("opt_in_process") is not None:
                rec.opt_in_process = attrs["opt_in_process"]
            rec.updated = self.clock()
            return rec

    def delete_list(self, list_id: str) -> None:
        with self.lock:
            self.get_list(list_id)
            del self.lists[list_id]

    def add_members(self, list_id: str, profile_ids: list[str]) -> None:
        with self.lock:
            rec = self.get_list(list_id)
            for i, pid in enumerate(profile_ids):
                if pid not in self.profiles:
                    raise invalid(f"A profile with id {pid} does not exist.",
                                  pointer=f"/data/{i}/id")
            now = self.clock()
            for pid in profile_ids:
                rec.join(pid, now)

    def remove_members(self, list_id: str, profile_ids: list[str]) -> None:
        with self.lock:
            rec = self.get_list(list_id)
            for pid in profile_ids:
                rec.leave(pid)

    # ---- profiles ----------------------------------------------------------------------
    def get_profile(self, profile_id: str) -> dict[str, Any]:
        p = self.profiles.get(profile_id)
        if p is None:
            raise ApiError(404, "not_found", f"A profile with id {profile_id} does not exist.")
        return p

    def lookup(self, email: str | None, phone: str | None, external_id: str | None
               ) -> str | None:
        if email and email.strip().lower() in self.by_email:
            return self.by_email[email.strip().lower()]
        if phone and phone in self.by_phone:
            return self.by_phone[phone]
        if external_id and external_id in self.by_external:
            return self.by_external[external_id]
        return None

    def candidates(self, conds: list[Condition]) -> list[str] | None:
        """Profile ids that may satisfy ``conds`` (all of them must hold), from the identifier
        indexes: the ids matching the first ``equals``/``any`` condition on ``id``, ``email``,
        ``phone_number`` or ``external_id`` whose values are all strings, in store order (the
        order of ``self.profiles``: ids rise with creation). None when no condition can use an
        index (the caller scans). The caller still checks every condition on each candidate.
        Email values must already be lower-cased, as the scan compares them."""
        indexes = {"email": self.by_email, "phone_number": self.by_phone,
                   "external_id": self.by_external}
        for c in conds:
            if c.op not in ("equals", "any") or (c.field != "id" and c.field not in indexes):
                continue
            values = c.value if isinstance(c.value, list) else [c.value]
            if not all(isinstance(v, str) for v in values):
                continue  # e.g. equals(email,null): only a scan answers that
            if c.field == "id":
                found = {v for v in values if v in self.profiles}
            else:
                index = indexes[c.field]
                found = {index[v] for v in values if v in index}
            return sorted(pid for pid in found if pid in self.profiles)
        return None

    def upsert(self, attrs: dict[str, Any], meta: dict[str, Any] | None, *, clear_nulls: bool,
               profile_id: str | None = None) -> tuple[dict[str, Any], bool]:
        """Create or update one profile; ``clear_nulls`` False is the bulk-import rule."""
        email, phone, ext = _identifiers(attrs)
        with self.lock:
            if profile_id is not None:
                target: dict[str, Any] | None = self.get_profile(profile_id)
            else:
                if not (email or phone or ext):
                    raise ImportFailure(
                        "A profile needs at least one identifier: email, phone_number or "
                        "external_id.", "email")
                target = self._resolve(email, phone, ext)
            created = target is None
            now = self.clock()
            if target is None:
                target = {"id": self.new_ulid(), "email": None, "phone_number": None,
                          "external_id": None, **{k: None for k in TEXT_FIELDS},
                          "location": {}, "properties": {}, "created": now, "updated": now}
                self.profiles[target["id"]] = target
            self._set_identifiers(target, email, phone, ext, attrs, clear_nulls)
            for key in TEXT_FIELDS:
                if key in attrs and (attrs[key] is not None or clear_nulls):
                    target[key] = attrs[key]
            loc = attrs.get("location")
            if isinstance(loc, dict):
                _merge(target["location"], loc, clear_nulls)
            elif loc is None and "location" in attrs and clear_nulls:
                target["location"] = {}
            props = attrs.get("properties")
            if isinstance(props, dict):
                _merge(target["properties"], props, clear_nulls)
            _patch_properties(target["properties"], (meta or {}).get("patch_properties"))
            target["updated"] = now
            return target, created

    def _resolve(self, email: str | None, phone: str | None, ext: str | None
                 ) -> dict[str, Any] | None:
        """The profile an incoming one updates, as Klaviyo matches it: by email, else by phone
        number, else by external id. A profile found by phone or external id is updated even
        when it holds another email: the incoming email replaces it (Klaviyo updates an
        identifier "as long as another profile identifier is provided")."""
        if email and email in self.by_email:
            return self.profiles[self.by_email[email]]
        if phone and phone in self.by_phone:
            return self.profiles[self.by_phone[phone]]
        if ext and ext in self.by_external:
            return self.profiles[self.by_external[ext]]
        return None

    def _set_identifiers(self, target: dict[str, Any], email: str | None, phone: str | None,
                         ext: str | None, attrs: dict[str, Any], clear_nulls: bool) -> None:
        for key, value, index in (("email", email, self.by_email),
                                  ("phone_number", phone, self.by_phone),
                                  ("external_id", ext, self.by_external)):
            if value is None:
                if clear_nulls and key in attrs and target[key] is not None:
                    index.pop(target[key], None)
                    target[key] = None
                continue
            owner = index.get(value)
            if owner is not None and owner != target["id"]:
                other = self.profiles[owner]
                if self._mergeable(other, target):
                    self._merge(other, target)
                else:
                    continue  # the identifier stays with the profile that holds it
            if target[key] is not None and target[key] != value:
                index.pop(target[key], None)
            target[key] = value
            index[value] = target["id"]

    @staticmethod
    def _mergeable(other: dict[str, Any], target: dict[str, Any]) -> bool:
        for key in IDENTIFIERS:
            if other[key] is not None and target[key] is not None and other[key] != target[key]:
                return False
        return True

    def _merge(self, other: dict[str, Any], target: dict[str, Any]) -> None:
        """Fold ``other`` into ``target`` (Klaviyo merges profiles that turn out to be one)."""
        for key, index in (("email", self.by_email), ("phone_number", self.by_phone),
                           ("external_id", self.by_external)):
            if other[key] is not None:
                index[other[key]] = target["id"]
                if target[key] is None:
                    target[key] = other[key]
        for key in TEXT_FIELDS:
            if target[key] is None:
                target[key] = other[key]
        target["location"] = {**other["location"], **target["location"]}
        target["properties"] = {**other["properties"], **target["properties"]}
        target["created"] = min(target["created"], other["created"])
        for rec in self.lists.values():
            joined = rec.leave(other["id"])
            if joined is not None:
                rec.join(target["id"], joined)
        del self.profiles[other["id"]]

    def update_profile(self, profile_id: str, attrs: dict[str, Any],
                       meta: dict[str, Any] | None) -> dict[str, Any]:
        with self.lock:
            self.get_profile(profile_id)
            email, phone, ext = _identifiers(attrs)
            for key, value, index in (("email", email, self.by_email),
                                      ("phone_number", phone, self.by_phone),
                                      ("external_id", ext, self.by_external)):
                owner = index.get(value) if value else None
                if owner is not None and owner != profile_id:
                    raise ApiError(
                        409, "duplicate_profile",
                        f"A profile already exists with this {key}.",
                        pointer=f"/data/attributes/{key}",
                        meta={"duplicate_profile_id": owner},
                    )
            profile, _ = self.upsert(attrs, meta, clear_nulls=True, profile_id=profile_id)
            return profile

    # ---- jobs --------------------------------------------------------------------------
    def create_job(self, profiles: list[dict[str, Any]], list_ids: list[str],
                   delay: float) -> Job:
        with self.lock:
            for i, lid in enumerate(list_ids):
                if lid not in self.lists:
                    raise invalid(f"A list with id {lid} does not exist.",
                                  pointer=f"/data/relationships/lists/data/{i}/id")
            now = self.clock()
            job = Job(self.new_ulid(), now, now + delay, list(list_ids), profiles,
                      total_count=len(profiles))
            self.jobs[job.id] = job
            return job

    def get_job(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise ApiError(404, "not_found",
                           f"A profile bulk import job with id {job_id} does not exist.")
        return job

    def _import_one(self, attrs: dict[str, Any], meta: dict[str, Any] | None, now: float
                    ) -> str:
        """One profile of a bulk job; a new profile takes a fast path (the common case), its
        ``meta`` absent or only unsetting properties (a sync's fields gone null).

        The fast path keeps the request's own ``location`` and ``properties`` objects when they
        hold no null (nothing else refers to them once the job is imported)."""
        g = attrs.get
        email = g("email")
        if email is not None:  # validated: a string or null
            email = email.strip().lower() or None
        phone = g("phone_number") or None
        ext = g("external_id") or None
        if email is not None and not _EMAIL_OK(email):
            raise ImportFailure(f"Invalid email address: '{email}'.", "email")
        if phone is not None and not _E164_OK(phone):
            raise ImportFailure(
                f"Invalid phone number format: '{phone}' (a valid format is E.164, e.g. "
                "+13239169023).", "phone_number")
        unset = _only_unset(meta) if meta else ()
        if unset is None or (email is None and phone is None and ext is None) \
                or email in self.by_email or phone in self.by_phone or ext in self.by_external:
            return self.upsert(attrs, meta, clear_nulls=False)[0]["id"]
        loc = g("location")
        if not loc:
            loc = {}
        elif None in loc.values():
            loc = {k: v for k, v in loc.items() if v is not None}
        props = g("properties")
        if not props:
            props = {}
        elif unset or None in props.values():  # as upsert: values merged, then names unset
            props = {k: v for k, v in props.items() if v is not None and k not in unset}
        pid = f"01{self._salt | next(self._seq):024X}"  # new_ulid(), inlined
        self.profiles[pid] = {
            "id": pid, "email": email, "phone_number": phone, "external_id": ext,
            "first_name": g("first_name"), "last_name": g("last_name"),
            "organization": g("organization"), "locale": g("locale"), "title": g("title"),
            "image": g("image"), "location": loc, "properties": props,
            "created": now, "updated": now,
        }
        if email is not None:
            self.by_email[email] = pid
        if phone is not None:
            self.by_phone[phone] = pid
        if ext is not None:
            self.by_external[ext] = pid
        return pid

    def process_job(self, job: Job, chunk: int = 1000,
                    pause: Callable[[], None] | None = None) -> None:
        """Import a job's profiles, a chunk per lock hold, then mark it complete.

        ``pause`` is called before each chunk (the server lets requests in flight go first)."""
        with self.lock:
            job.status = "processing"
            job.started_at = self.clock()
        payload = job.payload
        import_one = self._import_one
        for start in range(0, len(payload), chunk):
            if pause is not None:
                pause()
            with self.lock:
                lists = [self.lists[lid] for lid in job.list_ids if lid in self.lists]
                now = self.clock()
                imported: list[str] = []
                for i in range(start, min(start + chunk, len(payload))):
                    item = payload[i]
                    attrs = item.get("attributes") or {}
                    try:
                        pid = import_one(attrs, item.get("meta"), now)
                    except ImportFailure as exc:
                        job.failed_count += 1
                        job.errors.append(_import_error(i, exc, attrs))
                        continue
                    imported.append(pid)
                    for rec in lists:  # now: a later profile of this job may merge it away
                        rec.join(pid, now)
                job.profile_ids += imported
                job.completed_count += len(imported)
        with self.lock:
            job.status = "complete"
            job.completed_at = self.clock()
            job.payload = []


def _only_unset(meta: dict[str, Any]) -> tuple[str, ...] | None:
    """The property names a profile's ``meta`` unsets when that is all it does (validated:
    ``patch_properties.unset`` a name or a list of names); None when it does more."""
    patch = meta.get("patch_properties")
    if len(meta) != 1 or patch is None:
        return None
    if type(patch) is not dict or len(patch) > 1 or (patch and "unset" not in patch):
        return None
    unset = patch.get("unset")
    return (unset,) if isinstance(unset, str) else tuple(unset or ())


def _identifiers(attrs: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    email = attrs.get("email")
    if isinstance(email, str):
        email = email.strip().lower() or None
    phone = attrs.get("phone_number") or None
    ext = attrs.get("external_id") or None
    return email, phone, ext


def _check_identifiers(email: str | None, phone: str | None) -> None:
    if email is not None and not EMAIL_RE.match(email):
        raise ImportFailure(f"Invalid email address: '{email}'.", "email")
    if phone is not None and not E164_RE.match(phone):
        raise ImportFailure(
            f"Invalid phone number format: '{phone}' (a valid format is E.164, e.g. "
            "+13239169023).", "phone_number")


def check_identifiers_sync(attrs: dict[str, Any]) -> None:
    """The synchronous profile endpoints refuse what a bulk job records as an import error."""
    email, phone, _ = _identifiers(attrs)
    try:
        _check_identifiers(email, phone)
    except ImportFailure as exc:
        raise invalid(exc.detail, pointer=f"/data/attributes/{exc.attribute}") from None


def _import_error(index: int, exc: ImportFailure, attrs: dict[str, Any]) -> dict[str, Any]:
    pointer = f"/data/attributes/profiles/data/{index}/attributes"
    if exc.attribute:
        pointer += f"/{exc.attribute}"
    return {"code": "invalid", "title": "Invalid input.", "detail": exc.detail,
            "source": {"pointer": pointer}, "original_payload": attrs}


def _merge(into: dict[str, Any], values: dict[str, Any], clear_nulls: bool) -> None:
    """Set each non-null value; a null one removes the key when ``clear_nulls``, else is
    ignored (Klaviyo's merge of location and properties)."""
    for key, value in values.items():
        if value is not None:
            into[key] = value
        elif clear_nulls:
            into.pop(key, None)


def _patch_properties(props: dict[str, Any], patch: dict[str, Any] | None) -> None:
    if not patch:
        return
    unset = patch.get("unset")
    for key in [unset] if isinstance(unset, str) else (unset or []):
        props.pop(key, None)
    for key, value in (patch.get("append") or {}).items():
        current = props.get(key)
        items = current if isinstance(current, list) else ([] if current is None else [current])
        for v in value if isinstance(value, list) else [value]:
            if v not in items:
                items.append(v)
        props[key] = items
    for key, value in (patch.get("unappend") or {}).items():
        current = props.get(key)
        if isinstance(current, list):
            drop = value if isinstance(value, list) else [value]
            props[key] = [v for v in current if v not in drop]
