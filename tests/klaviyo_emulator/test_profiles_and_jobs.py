"""Lists, pagination, async bulk import jobs, import errors and profile merges."""

from __future__ import annotations

import pytest

from klaviyo_emulator import Emulator, FakeClock
from tests.klaviyo_emulator._api import Api


@pytest.fixture
def api(klaviyo_emulator: Emulator) -> Api:
    return Api(klaviyo_emulator)


def test_lists_filter_and_cursor_pagination(api: Api) -> None:
    ids = [api.create_list(f"list {i:02d}") for i in range(23)]
    seen: list[str] = []
    url: str | None = "/api/lists"
    pages = 0
    while url:
        r = api.get(url)
        assert r.status_code == 200
        doc = r.json()
        assert len(doc["data"]) <= 10
        seen += [d["id"] for d in doc["data"]]
        url = doc["links"].get("next")
        pages += 1
    assert seen == ids and pages == 3
    r = api.get("/api/lists", params={"filter": 'equals(name,"list 07")'})
    assert [d["id"] for d in r.json()["data"]] == [ids[7]]
    r = api.get("/api/lists", params={"filter": 'any(name,["list 01","list 02","nope"])'})
    assert [d["id"] for d in r.json()["data"]] == ids[1:3]
    r = api.get("/api/lists", params={"filter": f"equals(id,'{ids[4]}')"})
    assert r.json()["data"][0]["attributes"]["name"] == "list 04"


def test_get_update_delete_one_list(api: Api) -> None:
    lid = api.create_list("Old")
    r = api.get(f"/api/lists/{lid}", params={"additional-fields[list]": "profile_count"})
    assert r.json()["data"]["attributes"]["profile_count"] == 0
    r = api.patch(f"/api/lists/{lid}", {"data": {"type": "list", "id": lid,
                                                 "attributes": {"name": "New"}}})
    assert r.status_code == 200 and r.json()["data"]["attributes"]["name"] == "New"
    assert api.delete(f"/api/lists/{lid}").status_code == 204
    assert api.get(f"/api/lists/{lid}").status_code == 404


def test_bulk_job_completes_after_the_configured_delay() -> None:
    clock = FakeClock()
    with Emulator(clock=clock, job_delay=30) as emu:
        api = Api(emu)
        lid = api.create_list("Spring")
        r = api.bulk_import([{"email": "a@example.com"}], [lid])
        assert r.status_code == 202
        job_id = r.json()["data"]["id"]
        assert r.json()["data"]["attributes"]["status"] == "queued"
        job = api.get(f"/api/profile-bulk-import-jobs/{job_id}").json()["data"]
        assert job["attributes"]["status"] == "queued"
        assert emu.lists()["Spring"]["members"] == []
        clock.advance(30)
        emu.wait_for_jobs()
        job = api.get(f"/api/profile-bulk-import-jobs/{job_id}",
                      params={"include": "lists"}).json()
        assert job["data"]["attributes"]["status"] == "complete"
        assert job["data"]["attributes"]["completed_count"] == 1
        assert job["included"][0]["id"] == lid
        assert emu.lists()["Spring"]["emails"] == {"a@example.com"}


def test_invalid_identifiers_become_import_errors(api: Api) -> None:
    lid = api.create_list("L")
    job = api.import_and_wait([
        {"email": "good@example.com"},
        {"email": "not-an-email"},
        {"phone_number": "(415) 555-0100"},
        {"phone_number": "+14155550100"},
        {"first_name": "No identifier"},
    ], [lid])
    a = job["attributes"]
    assert (a["total_count"], a["completed_count"], a["failed_count"]) == (5, 2, 3)
    errors = api.get(f"/api/profile-bulk-import-jobs/{job['id']}/import-errors").json()["data"]
    pointers = [e["attributes"]["source"]["pointer"] for e in errors]
    assert pointers == [
        "/data/attributes/profiles/data/1/attributes/email",
        "/data/attributes/profiles/data/2/attributes/phone_number",
        "/data/attributes/profiles/data/4/attributes/email",
    ]
    assert errors[0]["attributes"]["original_payload"] == {"email": "not-an-email"}
    members = api.emu.lists()["L"]
    assert members["emails"] == {"good@example.com"}
    assert members["phone_numbers"] == {"+14155550100"}
    ids = api.get(f"/api/profile-bulk-import-jobs/{job['id']}/relationships/profiles").json()
    assert len(ids["data"]) == 2
    profiles = api.get(f"/api/profile-bulk-import-jobs/{job['id']}/profiles").json()["data"]
    assert {p["attributes"]["email"] for p in profiles} == {"good@example.com", None}
    lists = api.get(f"/api/profile-bulk-import-jobs/{job['id']}/relationships/lists").json()
    assert lists["data"] == [{"type": "list", "id": lid}]
    jobs = api.get("/api/profile-bulk-import-jobs",
                   params={"filter": "equals(status,'complete')"}).json()["data"]
    assert [j["id"] for j in jobs] == [job["id"]]


def test_profiles_merge_by_email_phone_and_external_id(api: Api) -> None:
    api.import_and_wait([{"email": "Ann@Example.com", "first_name": "Ann",
                          "location": {"city": "Oslo"}, "properties": {"tier": "gold"}}])
    api.import_and_wait([{"email": "ann@example.com", "external_id": "C1",
                          "first_name": None, "last_name": "Lee",
                          "properties": {"score": 3, "tier": None}}])
    emu = api.emu
    ann = emu.find_profile(email="ann@example.com")
    assert ann is not None and len(emu.profiles()) == 1
    # bulk import never clears with null; it adds what it is given
    assert (ann["first_name"], ann["last_name"], ann["external_id"]) == ("Ann", "Lee", "C1")
    assert ann["properties"] == {"tier": "gold", "score": 3}
    assert ann["location"] == {"city": "Oslo"}
    # a phone-only profile that later turns out to be Ann's merges into hers
    lid = api.create_list("SMS")
    api.import_and_wait([{"phone_number": "+4790000000", "first_name": "Phone"}], [lid])
    assert len(emu.profiles()) == 2
    api.import_and_wait([{"email": "ann@example.com", "phone_number": "+4790000000"}])
    assert len(emu.profiles()) == 1
    merged = emu.find_profile(phone_number="+4790000000")
    assert merged is not None and merged["id"] == ann["id"]
    assert emu.lists()["SMS"]["members"] == [ann["id"]]
    # an external id alone finds her
    api.import_and_wait([{"external_id": "C1", "title": "Dr"}])
    assert emu.find_profile(email="ann@example.com")["title"] == "Dr"
    # a new email with her phone is matched by the phone, as Klaviyo matches it: her profile
    # (and its list memberships) now carries that email, and no second profile is made
    other = api.create_list("Other")
    api.import_and_wait([{"email": "bob@example.com", "phone_number": "+4790000000",
                          "first_name": "Bob"}], [other])
    assert len(emu.profiles()) == 1
    bob = emu.find_profile(email="bob@example.com")
    assert bob is not None and bob["id"] == ann["id"] and bob["first_name"] == "Bob"
    assert emu.find_profile(email="ann@example.com") is None
    assert emu.lists()["SMS"]["emails"] == {"bob@example.com"}
    assert emu.lists()["Other"]["members"] == [ann["id"]]
    # and so does a new email with her external id
    api.import_and_wait([{"email": "cy@example.com", "external_id": "C1"}])
    assert emu.find_profile(external_id="C1")["email"] == "cy@example.com"
    assert len(emu.profiles()) == 1


def test_create_or_update_profile_and_patch_properties_unset(api: Api) -> None:
    r = api.upsert({"email": "c@example.com", "properties": {"a": 1, "b": 2, "c": 3}})
    assert r.status_code == 201
    pid = r.json()["data"]["id"]
    r = api.upsert({"email": "c@example.com", "first_name": "Cy"},
                   {"patch_properties": {"unset": ["a", "b"]}})
    assert r.status_code == 200 and r.json()["data"]["id"] == pid
    assert r.json()["data"]["attributes"]["properties"] == {"c": 3}
    # bulk import honours unset too
    r = api.post("/api/profile-bulk-import-jobs", {"data": {
        "type": "profile-bulk-import-job", "attributes": {"profiles": {"data": [
            {"type": "profile", "attributes": {"email": "c@example.com"},
             "meta": {"patch_properties": {"unset": "c"}}}]}}}})
    assert r.status_code == 202
    api.emu.wait_for_jobs()
    assert api.emu.find_profile(email="c@example.com")["properties"] == {}
    # the synchronous endpoint refuses what a job would record as an import error
    r = api.upsert({"email": "nope"})
    assert r.status_code == 400
    assert r.json()["errors"][0]["source"]["pointer"] == "/data/attributes/email"


def test_update_profile_and_duplicate_identifiers(api: Api) -> None:
    a = api.upsert({"email": "a@example.com"}).json()["data"]["id"]
    api.upsert({"email": "b@example.com"})
    r = api.patch(f"/api/profiles/{a}", {"data": {"type": "profile", "id": a, "attributes": {
        "first_name": "A", "location": {"zip": "0150"}}}})
    assert r.status_code == 200
    assert r.json()["data"]["attributes"]["location"] == {"zip": "0150"}
    r = api.patch(f"/api/profiles/{a}", {"data": {"type": "profile", "id": a, "attributes": {
        "email": "b@example.com"}}})
    assert r.status_code == 409
    assert r.json()["errors"][0]["code"] == "duplicate_profile"


def test_list_members_add_remove_get_and_filters(api: Api) -> None:
    lid = api.create_list("L")
    ids = [api.upsert({"email": f"m{i}@example.com"}).json()["data"]["id"] for i in range(130)]
    for start in range(0, 130, 100):
        r = api.post(f"/api/lists/{lid}/relationships/profiles",
                     {"data": [{"type": "profile", "id": i} for i in ids[start:start + 100]]})
        assert r.status_code == 204
    got: list[str] = []
    url: str | None = f"/api/lists/{lid}/relationships/profiles?page%5Bsize%5D=100"
    while url:
        doc = api.get(url).json()
        got += [d["id"] for d in doc["data"]]
        url = doc["links"].get("next")
    assert got == ids
    r = api.delete(f"/api/lists/{lid}/relationships/profiles",
                   {"data": [{"type": "profile", "id": i} for i in ids[:30]]})
    assert r.status_code == 204
    assert len(api.emu.lists()["L"]["members"]) == 100
    r = api.get(f"/api/lists/{lid}/profiles", params={"filter": 'equals(email,"m40@example.com")'})
    assert [p["id"] for p in r.json()["data"]] == [ids[40]]
    r = api.get(f"/api/lists/{lid}/profiles", params={"filter": 'equals(email,"m1@example.com")'})
    assert r.json()["data"] == []  # removed
    two = 'any(email,["m1@example.com","m2@example.com"])'
    r = api.get("/api/profiles", params={"filter": two})
    assert [p["id"] for p in r.json()["data"]] == ids[1:3]


def test_profile_filters_on_every_identifier_and_upsert_by_id(api: Api) -> None:
    r = api.upsert({"email": "x@example.com", "phone_number": "+4790000001", "external_id": "E1"})
    pid = r.json()["data"]["id"]
    for flt in ('equals(phone_number,"+4790000001")', 'equals(external_id,"E1")',
                f'equals(id,"{pid}")', 'any(external_id,["E0","E1"])'):
        r = api.get("/api/profiles", params={"filter": flt})
        assert [p["id"] for p in r.json()["data"]] == [pid], flt
    r = api.post("/api/profile-import", {"data": {"type": "profile", "id": pid,
                                                  "attributes": {"first_name": "Xi"}}})
    assert r.status_code == 200 and r.json()["data"]["attributes"]["first_name"] == "Xi"
    r = api.get("/api/profiles", params={"fields[profile]": "email", "page[size]": 1})
    assert r.json()["data"][0]["attributes"] == {"email": "x@example.com"}
    r = api.get("/api/lists", params={"filter": "greater-than(created,2000-01-01T00:00:00Z)"})
    assert r.status_code == 200
