"""The 100 KB-a-profile check measures exactly only profiles whose quick bound could pass it:
the bound must never be below the real size, and the limit stays exact to the byte."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from klaviyo_emulator import Emulator
from klaviyo_emulator.validation import MAX_PROFILE_BYTES, _fast_profile_bound
from tests.klaviyo_emulator._api import Api


def _size(p: dict[str, Any]) -> int:
    return len(json.dumps(p, ensure_ascii=False, separators=(",", ":")).encode())


def _text(rng: random.Random, n: int) -> str:
    alphabet = 'aZ09 "\\/\n\t\x00\x1få€\u2028😀'  # escapes, 2-, 3- and 4-byte characters
    return "".join(rng.choice(alphabet) for _ in range(n))


def test_the_quick_bound_is_never_below_the_real_size() -> None:
    rng = random.Random(7)
    checked = 0
    for _ in range(3000):
        attrs: dict[str, Any] = {}
        for key in ("email", "phone_number", "external_id", "first_name", "last_name",
                    "organization", "locale", "title", "image", "_kx"):
            if rng.random() < 0.5:
                attrs[key] = None if rng.random() < 0.2 else _text(rng, rng.randint(0, 40))
        if rng.random() < 0.7:
            attrs["location"] = {
                "city": _text(rng, rng.randint(0, 20)), "zip": None,
                "latitude": rng.choice([-1.2345678901234567e-308, 59.9, -(10 ** 60), 0, None,
                                        "59.9"]),
                "longitude": rng.choice([float("1e308"), -180, "x" * 30, None]),
            }
        if rng.random() < 0.8:
            attrs["properties"] = {
                _text(rng, rng.randint(0, 12)): rng.choice([
                    _text(rng, rng.randint(0, 60)), -(2 ** rng.randint(0, 300)), True, None,
                    -1.7976931348623157e308, 5e-324, [1, "a"], {"n": {"m": 1}}])
                for _ in range(rng.randint(0, 6))}
        p: dict[str, Any] = {"type": "profile", "attributes": attrs}
        if rng.random() < 0.2:
            p["id"] = None
        bound = _fast_profile_bound(p)
        if bound is not None:
            assert bound >= _size(p), p
            checked += 1
    assert checked > 1000  # most went the quick way


@pytest.mark.parametrize("over", [0, 1])
def test_the_100_kb_limit_is_exact_to_the_byte(klaviyo_emulator: Emulator, over: int) -> None:
    def item(pad: str) -> dict[str, Any]:
        return {"type": "profile",
                "attributes": {"email": "b@example.com", "properties": {"pad": pad}}}

    room = MAX_PROFILE_BYTES - _size(item(""))
    pad = "é" * (room // 2) + "x" * (room % 2)  # "é" is 2 bytes of UTF-8; the bound counts 6
    assert _size(item(pad)) == MAX_PROFILE_BYTES  # exactly at the limit
    r = Api(klaviyo_emulator).bulk_import([{"email": "a@example.com"},
                                           item(pad + "x" * over)["attributes"]])
    if over:
        assert r.status_code == 413, r.text
        assert r.json()["errors"][0]["source"]["pointer"] == "/data/attributes/profiles/data/1"
    else:
        assert r.status_code == 202, r.text
