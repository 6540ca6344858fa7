"""The fixture serves Klaviyo's API over real HTTP."""

from __future__ import annotations

import requests

from klaviyo_emulator import Emulator


def test_fixture_serves_accounts(klaviyo_emulator: Emulator) -> None:
    r = requests.get(
        klaviyo_emulator.base_url + "/api/accounts",
        headers={"Authorization": f"Klaviyo-API-Key {klaviyo_emulator.api_key}",
                 "revision": "2026-07-15"},
        timeout=5,
    )
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/vnd.api+json"
    assert r.json()["data"][0]["type"] == "account"
