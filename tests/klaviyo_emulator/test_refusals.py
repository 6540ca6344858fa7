"""Requests that break Klaviyo's contract are refused as Klaviyo documents (JSON:API errors)."""

from __future__ import annotations

import json

import pytest

from klaviyo_emulator import Emulator, FakeClock
from tests.klaviyo_emulator._api import Api, error

pytestmark = pytest.mark.emulator_contract_exempt  # these requests are broken on purpose

LIST = {"data": {"type": "list", "attributes": {"name": "Spring"}}}


@pytest.fixture
def api(klaviyo_emulator: Emulator) -> Api:
    return Api(klaviyo_emulator)


def test_wrong_content_type_is_415(api: Api) -> None:
    r = api.post("/api/lists", raw=json.dumps(LIST).encode(),
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 415
    assert error(r)["code"] == "unsupported_media_type"
    assert api.emu.lists() == {}


def test_missing_revision_is_400(api: Api) -> None:
    r = api.get("/api/lists", headers={"revision": None})
    assert r.status_code == 400
    assert error(r)["source"] == {"parameter": "revision"}


def test_unknown_attribute_is_refused_with_its_pointer(api: Api) -> None:
    body = {"data": {"type": "list", "attributes": {"name": "X", "colour": "red"}}}
    r = api.post("/api/lists", body)
    assert r.status_code == 400
    e = error(r)
    assert e["code"] == "invalid"
    assert e["source"]["pointer"] == "/data/attributes/colour"
    assert "colour" in e["detail"]


def test_missing_required_member_and_wrong_type(api: Api) -> None:
    r = api.post("/api/lists", {"data": {"type": "list", "attributes": {}}})
    assert r.status_code == 400
    assert error(r)["source"]["pointer"] == "/data/attributes/name"
    r = api.post("/api/lists", {"data": {"type": "list", "attributes": {"name": 5}}})
    assert r.status_code == 400
    assert error(r)["source"]["pointer"] == "/data/attributes/name"


def test_wrong_resource_type_is_409(api: Api) -> None:
    r = api.post("/api/lists", {"data": {"type": "lists", "attributes": {"name": "X"}}})
    assert r.status_code == 409
    assert error(r)["source"]["pointer"] == "/data/type"


def test_bulk_profile_schema_violation_points_at_the_profile(api: Api) -> None:
    profiles = [{"email": "a@example.com"}, {"email": "b@example.com", "favourite": "x"}]
    r = api.bulk_import(profiles)
    assert r.status_code == 400
    assert error(r)["source"]["pointer"] == "/data/attributes/profiles/data/1/attributes/favourite"
    r = api.bulk_import([{"email": "a@example.com", "location": {"city": 7}}])
    assert r.status_code == 400
    assert error(r)["source"]["pointer"] == \
        "/data/attributes/profiles/data/0/attributes/location/city"
    assert api.emu.stats()["jobs"] == {}


def test_malformed_json_is_400(api: Api) -> None:
    r = api.post("/api/lists", raw=b"{not json", headers={"Content-Type": api.headers["Accept"]})
    assert r.status_code == 400
    assert error(r)["code"] == "parse_error"


@pytest.mark.parametrize(("path", "top"), [
    ("/api/lists", 10),
    ("/api/profiles", 100),
    ("/api/profile-bulk-import-jobs", 100),
])
def test_page_size_over_the_maximum_is_400(api: Api, path: str, top: int) -> None:
    assert api.get(path, params={"page[size]": top}).status_code == 200
    r = api.get(path, params={"page[size]": top + 1})
    assert r.status_code == 400
    assert error(r)["source"] == {"parameter": "page[size]"}


def test_list_relationship_batches_over_1000_ids_are_400(api: Api) -> None:
    lid = api.create_list("L")
    ids = [{"type": "profile", "id": f"01X{i:023d}"} for i in range(1001)]
    r = api.post(f"/api/lists/{lid}/relationships/profiles", {"data": ids})
    assert r.status_code == 400
    assert error(r)["source"]["pointer"] == "/data"
    r = api.delete(f"/api/lists/{lid}/relationships/profiles", {"data": ids})
    assert r.status_code == 400


def test_bulk_job_over_10000_profiles_is_400(api: Api) -> None:
    r = api.bulk_import([{"email": f"p{i}@example.com"} for i in range(10_001)])
    assert r.status_code == 400
    assert error(r)["source"]["pointer"] == "/data/attributes/profiles/data"


def test_bulk_job_over_5_mb_is_413(api: Api) -> None:
    pad = "x" * 60_000
    r = api.bulk_import([{"email": f"p{i}@example.com", "properties": {"pad": pad}}
                         for i in range(90)])
    assert r.status_code == 413
    assert error(r)["code"] == "payload_too_large"


def test_profile_over_100_kb_is_413_pointing_at_it(api: Api) -> None:
    r = api.bulk_import([{"email": "a@example.com"},
                         {"email": "b@example.com", "properties": {"pad": "x" * 110_000}}])
    assert r.status_code == 413
    assert error(r)["source"]["pointer"] == "/data/attributes/profiles/data/1"


def test_wrong_and_missing_keys_are_401(klaviyo_emulator: Emulator) -> None:
    r = Api(klaviyo_emulator, key="sk_not_a_private_key").get("/api/lists")
    assert r.status_code == 401
    assert error(r)["code"] == "authentication_failed"
    api = Api(klaviyo_emulator)
    r = api.get("/api/lists", headers={"Authorization": None})
    assert r.status_code == 401
    assert error(r)["code"] == "not_authenticated"


def test_only_the_configured_key_when_one_is_given() -> None:
    with Emulator(api_key="pk_the_one") as emu:
        assert Api(emu, key="pk_the_one").get("/api/lists").status_code == 200
        assert Api(emu, key="pk_another").get("/api/lists").status_code == 401


def test_a_key_without_the_scope_is_403(klaviyo_emulator: Emulator) -> None:
    key = klaviyo_emulator.create_key(["lists:read"])
    api = Api(klaviyo_emulator, key=key)
    assert api.get("/api/lists").status_code == 200
    r = api.post("/api/lists", LIST)
    assert r.status_code == 403
    e = error(r)
    assert e["code"] == "permission_denied"
    assert "lists:write" in e["detail"]
    writer = Api(klaviyo_emulator, key=klaviyo_emulator.create_key(["lists:write"]))
    assert writer.get("/api/lists").status_code == 200  # write implies read
    assert writer.get("/api/profiles").status_code == 403


def test_oauth_refresh_bearer_expiry_and_scopes() -> None:
    clock = FakeClock()
    with Emulator(clock=clock, token_ttl=600) as emu:
        creds = emu.create_oauth_client(["lists:read"])
        import requests

        tok = requests.post(creds["token_url"], auth=(creds["client_id"], creds["client_secret"]),
                            data={"grant_type": "refresh_token",
                                  "refresh_token": creds["refresh_token"]}, timeout=5)
        assert tok.status_code == 200
        body = tok.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 600
        api = Api(emu, bearer=body["access_token"])
        assert api.get("/api/lists").status_code == 200
        assert api.post("/api/lists", LIST).status_code == 403
        clock.advance(601)
        r = api.get("/api/lists")
        assert r.status_code == 401
        bad = requests.post(creds["token_url"], auth=(creds["client_id"], creds["client_secret"]),
                            data={"grant_type": "refresh_token", "refresh_token": "rt_nope"},
                            timeout=5)
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
        wrong = requests.post(creds["token_url"], auth=(creds["client_id"], "wrong"),
                              data={"grant_type": "refresh_token",
                                    "refresh_token": creds["refresh_token"]}, timeout=5)
        assert wrong.status_code == 401


def test_unknown_query_parameter_and_bad_filter_are_400(api: Api) -> None:
    r = api.get("/api/lists", params={"page[number]": 2})
    assert r.status_code == 400 and error(r)["source"] == {"parameter": "page[number]"}
    r = api.get("/api/lists", params={"filter": 'equals(colour,"red")'})
    assert r.status_code == 400 and error(r)["source"] == {"parameter": "filter"}
    r = api.get("/api/lists", params={"filter": 'equals(name,"x"'})
    assert r.status_code == 400


def test_unknown_resources_and_methods(api: Api) -> None:
    r = api.get("/api/lists/NOPE")
    assert r.status_code == 404 and error(r)["code"] == "not_found"
    assert api.get("/api/campaigns").status_code == 404
    r = api.call("PUT", "/api/lists")
    assert r.status_code == 405


def test_path_and_body_ids_must_agree(api: Api) -> None:
    lid = api.create_list("A")
    r = api.patch(f"/api/lists/{lid}", {"data": {"type": "list", "id": "other",
                                                 "attributes": {"name": "B"}}})
    assert r.status_code == 409


def test_the_lists_and_segments_ceiling(klaviyo_emulator: Emulator) -> None:
    klaviyo_emulator.configure(max_lists=1000, segments=998)
    api = Api(klaviyo_emulator)
    api.create_list("one")
    api.create_list("two")
    r = api.post("/api/lists", LIST)
    assert r.status_code == 400
    assert error(r)["code"] == "list_limit_reached"


def test_the_daily_list_creation_limit() -> None:
    clock = FakeClock()
    with Emulator(clock=clock) as emu:
        api = Api(emu)
        for i in range(150):
            api.create_list(f"L{i}")
        r = api.post("/api/lists", LIST)
        assert r.status_code == 429
        assert error(r)["code"] == "throttled"
        assert 0 < int(r.headers["Retry-After"]) <= 86400
        clock.advance(int(r.headers["Retry-After"]))
        assert api.post("/api/lists", LIST).status_code == 201
