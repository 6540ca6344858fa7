"""The contract check itself catches what breaks Klaviyo's OpenAPI (skipped without it)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.contract import Contract, openapi_dir

pytestmark = pytest.mark.contract

FOLDER = openapi_dir()


@pytest.fixture(scope="module")
def contract() -> Contract:
    if FOLDER is None:
        pytest.skip("../shared/klaviyo-openapi is absent (set KLAVIYO_OPENAPI_DIR)")
    return Contract(FOLDER)


def _rec(method: str, path: str, body: Any = None, query: list[tuple[str, str]] = (),
         **headers: str) -> dict[str, Any]:
    h = {"authorization": "Klaviyo-API-Key ***", "revision": "2026-07-15",
         "content-type": "application/vnd.api+json", **headers}
    return {"method": method, "path": path, "query": list(query), "headers": h, "body": body}


def test_a_conforming_request_passes(contract: Contract) -> None:
    body = {"data": {"type": "profile-bulk-import-job", "attributes": {"profiles": {"data": [
        {"type": "profile", "attributes": {"email": "a@example.com", "first_name": None,
                                           "location": {"latitude": 59.9}}}]}},
        "relationships": {"lists": {"data": [{"type": "list", "id": "AbC123"}]}}}}
    assert contract.check(_rec("POST", "/api/profile-bulk-import-jobs", body)) == []
    assert contract.check(_rec("GET", "/api/lists/", None, [("filter", 'equals(name,"x")'),
                                                              ("page[size]", "10")])) == []


def test_violations_are_named(contract: Contract) -> None:
    assert contract.check(_rec("GET", "/api/campaigns")) == [
        "no operation in the OpenAPI for GET /api/campaigns"]
    out = contract.check(_rec("GET", "/api/lists", None, [("page[size]", "50")]))
    assert out == ["get_lists: query 'page[size]': 50 > maximum 10"]
    rec = _rec("GET", "/api/lists")
    del rec["headers"]["revision"]
    assert contract.check(rec) == ["get_lists: missing required header 'revision'"]
    out = contract.check(_rec("POST", "/api/lists", {"data": {"type": "lists",
                                                              "attributes": {"name": 3}}}))
    assert any("/data/type" in p for p in out) and any("/data/attributes/name" in p for p in out)
    out = contract.check(_rec("POST", "/api/lists", {"data": {"type": "list",
                                                              "attributes": {"name": "x"}}},
                              **{"content-type": "application/json"}))
    assert out == ["create_list: content type 'application/json' is not one of "
                   "['application/vnd.api+json']"]


def test_every_emulator_answer_matches_the_documented_response(contract: Contract) -> None:
    """Drive every operation (successes and refusals) and hold each answer to the OpenAPI."""
    from loader.emulator import Emulator, request_listeners
    from tests.emulator._api import Api

    seen: list[dict[str, Any]] = []
    request_listeners.append(seen.append)
    try:
        with Emulator(record=False) as emu:
            api = Api(emu)
            api.get("/api/accounts")
            lid = api.create_list("A")
            api.get("/api/lists", params={"filter": 'equals(name,"A")'})
            api.get(f"/api/lists/{lid}", params={"additional-fields[list]": "profile_count"})
            api.patch(f"/api/lists/{lid}", {"data": {"type": "list", "id": lid,
                                                     "attributes": {"name": "B"}}})
            pid = api.upsert({"email": "a@example.com", "location": {"latitude": 1.5},
                              "properties": {"k": [1, 2]}}).json()["data"]["id"]
            api.upsert({"email": "a@example.com", "first_name": "A"})
            api.patch(f"/api/profiles/{pid}", {"data": {"type": "profile", "id": pid,
                                                        "attributes": {"last_name": "Z"}}})
            api.get("/api/profiles", params={"filter": 'equals(email,"a@example.com")'})
            api.post(f"/api/lists/{lid}/relationships/profiles",
                     {"data": [{"type": "profile", "id": pid}]})
            api.get(f"/api/lists/{lid}/relationships/profiles")
            api.get(f"/api/lists/{lid}/profiles")
            job = api.import_and_wait([{"email": "b@example.com"}, {"email": "bad"}], [lid])
            base = f"/api/profile-bulk-import-jobs/{job['id']}"
            for suffix in ("", "/import-errors", "/profiles", "/relationships/profiles",
                           "/relationships/lists"):
                api.get(base + suffix)
            api.get(base, params={"include": "lists"})
            api.get("/api/profile-bulk-import-jobs")
            api.delete(f"/api/lists/{lid}/relationships/profiles",
                       {"data": [{"type": "profile", "id": pid}]})
            api.get("/api/lists", params={"page[size]": "11"})  # 400
            api.get("/api/lists/nope")  # 404
            Api(emu, key="bad").get("/api/lists")  # 401
            api.delete(f"/api/lists/{lid}")  # 204
    finally:
        request_listeners.remove(seen.append)
    assert {r["op_id"] for r in seen} >= {
        "get_accounts", "create_list", "get_lists", "get_list", "update_list", "delete_list",
        "create_or_update_profile", "update_profile", "get_profiles", "add_profiles_to_list",
        "remove_profiles_from_list", "get_profile_ids_for_list", "get_profiles_for_list",
        "bulk_import_profiles", "get_bulk_import_profiles_job", "get_bulk_import_profiles_jobs",
        "get_errors_for_bulk_import_profiles_job", "get_profiles_for_bulk_import_profiles_job",
        "get_profile_ids_for_bulk_import_profiles_job",
        "get_list_ids_for_bulk_import_profiles_job"}
    problems = [p for r in seen for p in contract.check_response(r)]
    assert not problems, "\n".join(problems)
