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
