"""The emulator's quick paths for a burst of bulk import jobs stay exactly as strict and do
exactly what the general paths do (docs/benchmarks.md, "The burst at published limits"):

* a profile whose ``meta`` only unsets properties (what a sync sends for a field gone null)
  is checked the quick way, which accepts only what the full schema check accepts, with a
  size bound never below its real size;
* such a profile, new to the account, is imported the quick way into the same profile the
  general upsert makes;
* in a process of its own (``gc_freeze``) a queued job's parsed profiles are frozen for the
  garbage collector as soon as the job is queued.
"""

from __future__ import annotations

import gc
import itertools
import json
from typing import Any

import pytest

from klaviyo_emulator import FakeClock
from klaviyo_emulator.errors import ApiError
from klaviyo_emulator.jobs import JobQueue
from klaviyo_emulator.store import ListRec, Store
from klaviyo_emulator.validation import (
    _PROFILE_ITEM,
    _fast_meta_bound,
    _fast_profile_bound,
    validate,
)


def _size(p: Any) -> int:
    return len(json.dumps(p, ensure_ascii=False, separators=(",", ":")).encode())


def _valid(schema: dict[str, Any], value: Any) -> bool:
    try:
        validate(schema, value)
    except ApiError:
        return False
    return True


# meta values: valid ones of every shape the schema allows, and near misses
_UNSETS: list[Any] = [None, "", "tier", "é\"\\\u2028😀", [], ["tier"], ["a", "b", "é😀"],
                      [None], ["a", 1], [["a"]], 1, True, {"a": 1}]
_PATCHES: list[Any] = [None, {}, *[{"unset": u} for u in _UNSETS],
                       {"append": {"tags": "x"}}, {"unappend": None}, {"append": "x"},
                       {"unset": "a", "append": {"t": 1}}, {"unset": "a", "other": 1},
                       {"Unset": "a"}, [], "x"]
_METAS: list[Any] = [None, {}, [], "x", *[{"patch_properties": p} for p in _PATCHES],
                     {"patch_identifiers": {"append": {}}},
                     {"patch_properties": {"unset": "a"}, "patch_identifiers": {}},
                     {"patch_properties": {"unset": "a"}, "other": 1}]


@pytest.mark.parametrize("meta", _METAS, ids=lambda m: json.dumps(m, ensure_ascii=True)[:60])
def test_the_quick_check_of_a_profile_with_meta_accepts_only_what_the_schema_does(
        meta: Any) -> None:
    profile = {"type": "profile", "meta": meta,
               "attributes": {"email": "a@example.com", "properties": {"tier": "gold"}}}
    bound = _fast_profile_bound(profile)
    if bound is not None:  # the quick way said valid: the full check agrees, and the bound holds
        assert _valid(_PROFILE_ITEM, profile), meta
        assert bound >= _size(profile), meta


def test_a_sync_s_unset_goes_the_quick_way() -> None:
    """What the loader sends for fields gone null is checked without the full walk."""
    for unset in ("tier", ["tier"], ["tier", "city_note"]):
        meta = {"patch_properties": {"unset": unset}}
        assert _fast_meta_bound(meta) is not None
        assert _fast_profile_bound({"type": "profile", "meta": meta,
                                    "attributes": {"email": "a@example.com"}}) is not None


def test_the_quick_bound_with_meta_is_never_below_the_real_size() -> None:
    names = ["", "a", "\x00\x1f" * 30, "é" * 7, "😀" * 5, '"\\' * 9, "\u2028x"]
    checked = 0
    for unset in itertools.chain([None], names, (list(c) for n in range(4)
                                                  for c in itertools.combinations(names, n))):
        profile = {"type": "profile", "meta": {"patch_properties": {"unset": unset}},
                   "attributes": {"email": None}}
        bound = _fast_profile_bound(profile)
        assert bound is not None
        assert bound >= _size(profile), unset
        checked += 1
    assert checked > 60


def _store() -> Store:
    store = Store(FakeClock(), "acc", seed=3)
    store.lists["L1"] = ListRec("L1", "list", 0.0, 0.0)
    return store


_CASES: list[tuple[dict[str, Any], Any]] = [
    ({"email": "a@example.com", "properties": {"tier": "gold", "n": 1}},
     {"patch_properties": {"unset": ["tier"]}}),
    ({"email": "a@example.com", "properties": {"tier": None, "n": 1, "x": "y"}},
     {"patch_properties": {"unset": "x"}}),
    ({"email": "a@example.com", "first_name": "Åsa", "properties": {"n": 1},
      "location": {"city": "Oslo", "zip": None}},
     {"patch_properties": {"unset": ["gone", "n"]}}),
    ({"phone_number": "+4790000000", "properties": None}, {"patch_properties": {"unset": "t"}}),
    ({"external_id": "x-1"}, {"patch_properties": {}}),
    ({"email": "a@example.com", "properties": {"n": 1}}, {"patch_properties": {"unset": None}}),
    ({"email": "a@example.com", "properties": {"n": 1}}, {}),
]


@pytest.mark.parametrize(("attrs", "meta"), _CASES)
def test_a_new_profile_that_only_unsets_is_imported_as_upsert_imports_it(
        attrs: dict[str, Any], meta: Any) -> None:
    def strip(p: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in p.items() if k not in ("id", "created", "updated")}

    quick, general = _store(), _store()
    pid = quick._import_one(json.loads(json.dumps(attrs)), json.loads(json.dumps(meta)), 0.0)
    expected, created = general.upsert(json.loads(json.dumps(attrs)),
                                       json.loads(json.dumps(meta)), clear_nulls=False)
    assert created
    got = quick.profiles[pid]
    assert strip(got) == strip(expected)
    assert list(got["properties"]) == list(expected["properties"])  # same order too
    assert (quick.by_email, quick.by_phone, quick.by_external) == (
        {k: pid for k in general.by_email}, {k: pid for k in general.by_phone},
        {k: pid for k in general.by_external})


def test_a_queued_job_s_profiles_are_frozen_in_a_process_of_its_own() -> None:
    profiles = [{"type": "profile", "attributes": {"email": f"p{i}@example.com"}}
                for i in range(500)]
    try:
        before = gc.get_freeze_count()
        JobQueue(_store(), FakeClock(), gc_freeze=True).submit(profiles, ["L1"])
        assert gc.get_freeze_count() >= before + len(profiles)
    finally:
        gc.unfreeze()
    before = gc.get_freeze_count()
    JobQueue(_store(), FakeClock()).submit(profiles, ["L1"])  # in a test process: never
    assert gc.get_freeze_count() == before
