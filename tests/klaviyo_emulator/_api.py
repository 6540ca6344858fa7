"""A tiny Klaviyo client for the emulator's own tests (the loader's client is tested elsewhere)."""

from __future__ import annotations

import json
from typing import Any

import requests

from klaviyo_emulator import Emulator

JSONAPI = "application/vnd.api+json"


class Api:
    def __init__(self, emu: Emulator, key: str | None = None, bearer: str | None = None) -> None:
        self.emu = emu
        self.s = requests.Session()
        auth = f"Bearer {bearer}" if bearer else f"Klaviyo-API-Key {key or emu.api_key}"
        self.headers = {"Authorization": auth, "revision": "2026-07-15", "Accept": JSONAPI}

    def call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None, raw: bytes | None = None
             ) -> requests.Response:
        h = dict(self.headers)
        data = raw
        if body is not None:
            h["Content-Type"] = JSONAPI
            data = json.dumps(body).encode()
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        url = path if path.startswith("http") else self.emu.base_url + path
        return self.s.request(method, url, params=params, data=data, headers=h, timeout=10)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.call("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.call("PATCH", path, body, **kw)

    def delete(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.call("DELETE", path, body, **kw)

    # -- shortcuts --------------------------------------------------------------------------
    def create_list(self, name: str) -> str:
        r = self.post("/api/lists", {"data": {"type": "list", "attributes": {"name": name}}})
        assert r.status_code == 201, r.text
        return r.json()["data"]["id"]

    def bulk_import(self, profiles: list[dict[str, Any]], list_ids: list[str] = ()
                    ) -> requests.Response:
        data: dict[str, Any] = {
            "type": "profile-bulk-import-job",
            "attributes": {"profiles": {"data": [
                {"type": "profile", "attributes": p} for p in profiles]}},
        }
        if list_ids:
            data["relationships"] = {"lists": {"data": [{"type": "list", "id": i}
                                                        for i in list_ids]}}
        return self.post("/api/profile-bulk-import-jobs", {"data": data})

    def import_and_wait(self, profiles: list[dict[str, Any]], list_ids: list[str] = ()
                        ) -> dict[str, Any]:
        r = self.bulk_import(profiles, list_ids)
        assert r.status_code == 202, r.text
        self.emu.wait_for_jobs()
        job = self.get(f"/api/profile-bulk-import-jobs/{r.json()['data']['id']}")
        return job.json()["data"]

    def upsert(self, attrs: dict[str, Any], meta: dict[str, Any] | None = None
               ) -> requests.Response:
        data: dict[str, Any] = {"type": "profile", "attributes": attrs}
        if meta:
            data["meta"] = meta
        return self.post("/api/profile-import", {"data": data})


def error(r: requests.Response) -> dict[str, Any]:
    """The single error object of a Klaviyo error document (and check the document's shape)."""
    assert r.headers["Content-Type"] == JSONAPI
    errors = r.json()["errors"]
    assert len(errors) == 1
    e = errors[0]
    assert {"id", "status", "code", "title", "detail", "source"} <= e.keys()
    assert e["status"] == r.status_code
    return e
