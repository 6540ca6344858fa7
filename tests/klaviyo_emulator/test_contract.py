"""The contract check itself catches what breaks Klaviyo's OpenAPI (skipped without it)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.klaviyo_emulator.contract import Contract, openapi_dir

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
    from klaviyo_emulator import Emulator, request_listeners
    from tests.klaviyo_emulator._api import Api

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


def _resolve(node: Any, doc: dict[str, Any]) -> Any:
    if isinstance(node, dict) and "$ref" in node:
        return _resolve(doc["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]], doc)
    return node


def _compare(ours: dict[str, Any], spec: dict[str, Any], doc: dict[str, Any], at: str
             ) -> list[str]:
    """Differences between one of our body schemas and the OpenAPI's, member by member."""
    spec = _resolve(spec, doc)
    out: list[str] = []
    if "oneOf" in spec:
        kinds = {_resolve(s, doc).get("type") for s in spec["oneOf"]}
        want = {"scalar": {"string", "number"}, "string_or_list": {"string", "array"}}
        if want.get(ours["type"]) != kinds:
            out.append(f"{at}: oneOf {sorted(kinds)} vs ours {ours['type']}")
        return out
    if spec.get("type") != ours["type"]:
        out.append(f"{at}: type {spec.get('type')} vs ours {ours['type']}")
        return out
    if bool(spec.get("nullable")) != bool(ours.get("nullable")):
        out.append(f"{at}: nullable {spec.get('nullable')} vs ours {ours.get('nullable')}")
    if spec.get("enum") != ours.get("enum"):
        out.append(f"{at}: enum {spec.get('enum')} vs ours {ours.get('enum')}")
    if spec.get("type") == "object":
        props = spec.get("properties")
        if props is None:
            if not ours.get("open"):
                out.append(f"{at}: the OpenAPI leaves this object open; ours is closed")
            return out
        if set(props) != set(ours.get("props", {})):
            out.append(f"{at}: members {sorted(props)} vs ours {sorted(ours.get('props', {}))}")
        if sorted(spec.get("required", [])) != sorted(ours.get("required", [])):
            out.append(f"{at}: required {spec.get('required')} vs ours {ours.get('required')}")
        for key in set(props) & set(ours.get("props", {})):
            out += _compare(ours["props"][key], props[key], doc, f"{at}/{key}")
    elif spec.get("type") == "array":
        out += _compare(ours["items"], spec["items"], doc, f"{at}/*")
    return out


def test_our_body_checks_mirror_the_openapi(contract: Contract) -> None:
    """The emulator's own request schemas (no ../shared at run time) equal Klaviyo's."""
    import json

    from klaviyo_emulator.validation import BODIES

    assert FOLDER is not None
    problems: list[str] = []
    for op_id, ours in BODIES.items():
        doc = json.loads((FOLDER / f"{op_id}.json").read_text())
        op = next(o for m in doc["paths"].values() for o in m.values()
                  if isinstance(o, dict) and o.get("operationId") == op_id)
        spec = op["requestBody"]["content"]["application/vnd.api+json"]["schema"]
        problems += _compare(ours, spec, doc, op_id)
    assert not problems, "\n".join(problems)


def _rate(text: str | None) -> int | None:
    return int(text.split("/")[0]) if text else None


def test_our_operation_table_mirrors_the_openapi(contract: Contract) -> None:
    """Paths, methods, scopes, rate limits, page sizes, filters and query parameters."""
    import re

    from klaviyo_emulator.ops import OPERATIONS

    problems: list[str] = []
    for ours in OPERATIONS:
        spec = next((o for o in contract.ops if o.op_id == ours.op_id), None)
        if spec is None:
            problems.append(f"{ours.op_id}: not in the OpenAPI")
            continue
        op = spec.operation
        if (spec.method, spec.template) != (ours.method, ours.template):
            problems.append(f"{ours.op_id}: {spec.method} {spec.template} vs ours "
                            f"{ours.method} {ours.template}")
        if tuple(op.get("x-klaviyo-scopes", [])) != ours.scopes:
            problems.append(f"{ours.op_id}: scopes {op.get('x-klaviyo-scopes')} vs {ours.scopes}")
        limit = op.get("x-klaviyo-ratelimit", {})
        if (_rate(limit.get("burst")), _rate(limit.get("steady")), _rate(limit.get("daily"))) \
                != (ours.burst, ours.steady, ours.daily):
            problems.append(f"{ours.op_id}: rate limit {limit} vs ours "
                            f"{ours.burst}/{ours.steady}/{ours.daily}")
        query = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}
        ours_q = set(ours.query) | ({"filter"} if ours.filters else set()) | (
            {"page[size]", "page[cursor]"} if ours.page_max else set())
        if set(query) != ours_q:
            problems.append(f"{ours.op_id}: query {sorted(query)} vs ours {sorted(ours_q)}")
        size = query.get("page[size]", {}).get("schema", {})
        if (size.get("maximum"), size.get("default")) != (ours.page_max, ours.page_default):
            problems.append(f"{ours.op_id}: page[size] max/default {size.get('maximum')}/"
                            f"{size.get('default')} vs ours {ours.page_max}/{ours.page_default}")
        desc = query.get("filter", {}).get("description", "")
        allowed = {m.group(1): tuple(sorted(re.findall(r"`([a-z-]+)`", m.group(2))))
                   for m in re.finditer(r"<br>`([\w.]+)`: ([^<]*)", desc)}
        allowed = {k: v for k, v in allowed.items() if not k.startswith("subscriptions.")}
        mine = {k: tuple(sorted(v)) for k, v in ours.filters.items()}
        if allowed != mine:
            problems.append(f"{ours.op_id}: filters {allowed} vs ours {mine}")
    assert not problems, "\n".join(problems)
