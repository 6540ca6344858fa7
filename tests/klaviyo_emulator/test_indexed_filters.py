"""Identifier filters are answered from indexes: exactly the matches a full scan would give, in
the same order and pages, also after merges, identifier changes and removals."""

from __future__ import annotations

from typing import Any

import pytest

from klaviyo_emulator import Emulator
from tests.klaviyo_emulator._api import Api

N = 1200


@pytest.fixture
def api(klaviyo_emulator: Emulator) -> Api:
    return Api(klaviyo_emulator)


def _walk(api: Api, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every resource over every page (following ``links.next``)."""
    out: list[dict[str, Any]] = []
    r = api.get(path, params=params)
    while True:
        assert r.status_code == 200, r.text
        doc = r.json()
        out += doc["data"]
        if "next" not in doc["links"]:
            return out
        r = api.get(doc["links"]["next"])


def _ids(api: Api, path: str, flt: str, size: int = 2) -> list[str]:
    return [d["id"] for d in _walk(api, path, {"filter": flt, "page[size]": size})]


def _seed(api: Api) -> tuple[str, list[dict[str, Any]]]:
    """N profiles with varied identifiers, imported into one list in reverse order."""
    people = []
    for i in range(N):
        p: dict[str, Any] = {}
        if i % 4 != 1:
            p["email"] = f"p{i}@example.com"
        if i % 3 == 0:
            p["phone_number"] = f"+4790{i:06d}"
        if i % 4 == 1 or i % 5 == 0:
            p["external_id"] = f"X{i}"
        people.append(p)
    lid = api.create_list("Many")
    job = api.import_and_wait(people, [])
    assert job["attributes"]["completed_count"] == N
    stored = api.emu.profiles()
    # join the list in reverse store order: member order differs from store (id) order
    ids = [p["id"] for p in reversed(stored)]
    for start in range(0, N, 1000):
        r = api.post(f"/api/lists/{lid}/relationships/profiles",
                     {"data": [{"type": "profile", "id": i} for i in ids[start:start + 1000]]})
        assert r.status_code == 204
    return lid, stored


def _expected(stored: list[dict[str, Any]], field: str, values: list[str]) -> list[str]:
    return [p["id"] for p in stored if p[field] in values]


def test_identifier_filters_match_a_scan_in_order_and_pages(api: Api) -> None:
    lid, stored = _seed(api)
    cases = [
        ("email", 'equals(email,"P8@Example.com")', ["p8@example.com"]),
        ("email", 'any(email,["p900@example.com","nobody@example.com","p4@example.com",'
                  '"p12@example.com","p5@example.com"])',
         ["p900@example.com", "p4@example.com", "p12@example.com"]),  # p5 has no email
        ("phone_number", 'any(phone_number,["+4790000999","+4790000003","+4790000004"])',
         ["+4790000999", "+4790000003"]),
        ("external_id", 'any(external_id,["X1","X5","X6","X1197"])', ["X1", "X5", "X1197"]),
        ("id", f'any(id,["{stored[700]["id"]}","{stored[3]["id"]}","nope"])',
         [stored[700]["id"], stored[3]["id"]]),
    ]
    for field, flt, values in cases:
        want = _expected(stored, field, values)
        assert want and _ids(api, "/api/profiles", flt) == want, flt
    # in a list: the same matches, in member order (the reverse of store order here)
    for field, flt, values in cases[:3]:
        want = list(reversed(_expected(stored, field, values)))
        assert _ids(api, f"/api/lists/{lid}/profiles", flt) == want, flt
        assert _ids(api, f"/api/lists/{lid}/relationships/profiles", flt) == want, flt
    # a combined filter: the indexed condition narrows, the other still applies
    flt = 'and(any(email,["p0@example.com","p4@example.com"]),equals(phone_number,"+4790000000"))'
    assert _ids(api, "/api/profiles", flt) == [stored[0]["id"]]
    # a member that left the list is not found through the list, still through /api/profiles
    gone = stored[12]["id"]
    r = api.delete(f"/api/lists/{lid}/relationships/profiles",
                   {"data": [{"type": "profile", "id": gone}]})
    assert r.status_code == 204
    assert _ids(api, f"/api/lists/{lid}/profiles", 'equals(email,"p12@example.com")') == []
    assert _ids(api, "/api/profiles", 'equals(email,"p12@example.com")') == [gone]


def test_filters_follow_merges_and_identifier_changes(api: Api) -> None:
    lid = api.create_list("L")
    phone_only = api.upsert({"phone_number": "+4791111111", "external_id": "A"}
                            ).json()["data"]["id"]
    email_only = api.upsert({"email": "ann@example.com"}).json()["data"]["id"]
    other = api.upsert({"email": "bo@example.com", "external_id": "B"}).json()["data"]["id"]
    r = api.post(f"/api/lists/{lid}/relationships/profiles",
                 {"data": [{"type": "profile", "id": phone_only}]})
    assert r.status_code == 204
    # one payload names both: Klaviyo merges them into one profile
    job = api.import_and_wait([{"email": "ann@example.com", "phone_number": "+4791111111"}])
    assert job["attributes"]["completed_count"] == 1
    [kept] = [p for p in api.emu.profiles() if p["email"] == "ann@example.com"]
    merged_away = ({phone_only, email_only} - {kept["id"]}).pop()
    assert kept["phone_number"] == "+4791111111" and kept["lists"] == [lid]
    assert api.emu.find_profile(external_id="A") == kept  # the inspection look-up agrees
    assert _ids(api, "/api/profiles", 'equals(phone_number,"+4791111111")') == [kept["id"]]
    assert _ids(api, "/api/profiles", 'equals(email,"ann@example.com")') == [kept["id"]]
    assert _ids(api, "/api/profiles", 'equals(external_id,"A")') == [kept["id"]]  # not sent
    assert _ids(api, "/api/profiles", f'equals(id,"{merged_away}")') == []
    # the list membership moved with the merge, and the list's filter finds it
    assert _ids(api, f"/api/lists/{lid}/profiles", 'equals(email,"ann@example.com")') == \
        [kept["id"]]
    # change an identifier: the old value finds nothing, the new one finds the profile
    r = api.patch(f"/api/profiles/{other}", {"data": {"type": "profile", "id": other,
                                                      "attributes": {"email": "bo2@example.com",
                                                                     "external_id": None}}})
    assert r.status_code == 200, r.text
    assert _ids(api, "/api/profiles", 'equals(email,"bo@example.com")') == []
    assert _ids(api, "/api/profiles", 'any(email,["bo2@example.com"])') == [other]
    assert _ids(api, "/api/profiles", 'equals(external_id,"B")') == []
    # every stored identifier is found by its filter, and only its own profile
    for p in api.emu.profiles():
        for field in ("email", "phone_number", "external_id", "id"):
            if p[field]:
                assert _ids(api, "/api/profiles", f'equals({field},"{p[field]}")') == [p["id"]]


def test_a_merge_inside_one_job_leaves_the_survivor_in_the_list(api: Api) -> None:
    lid = api.create_list("J")
    job = api.import_and_wait([{"phone_number": "+4792222222"}, {"email": "cy@example.com"},
                               {"email": "cy@example.com", "phone_number": "+4792222222"}],
                              [lid])
    assert job["attributes"]["completed_count"] == 3
    [kept] = api.emu.profiles()
    assert api.emu.lists()["J"]["members"] == [kept["id"]]
    r = api.get(f"/api/lists/{lid}", params={"additional-fields[list]": "profile_count"})
    assert r.json()["data"]["attributes"]["profile_count"] == 1  # no trace of the merged one
    for flt in ('equals(email,"cy@example.com")', 'equals(phone_number,"+4792222222")'):
        assert _ids(api, f"/api/lists/{lid}/profiles", flt) == [kept["id"]], flt
