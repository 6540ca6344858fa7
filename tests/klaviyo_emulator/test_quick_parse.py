"""A bulk import body parsed by orjson (``klaviyo_emulator.server._quick_bulk_body``) gives
exactly what ``json.loads`` and the checks give, or goes the general way: the same values
(types and member order too), the same suspects, the same answers. A sync's ordinary body
takes the quick way (else the speed-up is silently gone)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from klaviyo_emulator import Emulator
from klaviyo_emulator.errors import ApiError
from klaviyo_emulator.server import _quick_bulk_body
from klaviyo_emulator.validation import validate_body

from ._api import Api


def _body(profiles: list[dict[str, Any]]) -> dict[str, Any]:
    return {"data": {"type": "profile-bulk-import-job", "attributes": {"profiles": {"data": [
        {"type": "profile", "attributes": p,
         "meta": {"patch_properties": {"unset": ["tier"]}}} for p in profiles]}},
        "relationships": {"lists": {"data": [{"type": "list", "id": "L1"}]}}}}


def _sync_like(rng: random.Random, n: int) -> list[dict[str, Any]]:
    return [{"email": f"c{i}@example.com", "first_name": rng.choice(["Åsa", "Chloé", "😀x"]),
             "location": {"city": "Oslo", "zip": f"{i:05d}", "latitude": rng.uniform(-90, 90)},
             "properties": {"revenue": round(rng.uniform(0, 1e6), rng.randint(0, 6)),
                            "n": rng.randint(-10**17, 10**17), "ok": True, "none": None,
                            "t\u2028": "\"\\\x7f"}}
            for i in range(n)]


def _same(raw: bytes) -> tuple[Any, list[int]] | None:
    """``_quick_bulk_body(raw)``, checked against the general way when it is used."""
    quick = _quick_bulk_body(raw)
    if quick is not None:
        expected = json.loads(raw)
        body, suspects = quick
        assert repr(body) == repr(expected)  # values, types (int vs float) and member order
        assert suspects == validate_body("bulk_import_profiles", expected) == []
    return quick


def test_a_sync_s_body_takes_the_quick_way_with_json_s_values() -> None:
    raw = json.dumps(_body(_sync_like(random.Random(5), 300)), ensure_ascii=False).encode()
    assert _same(raw) is not None
    floats = [repr(1.0 / 3), "1e-7", "-0.0", "2.2250738585072014e-308", "1.7976931348623157e308",
              "123456789.12345678", "5e-324", "0.30000000000000004"]
    rng = random.Random(7)
    floats += [repr(rng.uniform(-1e12, 1e12) * 10 ** rng.randint(-300, 290)) for _ in range(400)]
    floats = [f for f in floats if "e+" not in f and max(map(len, f.split("."))) < 19]
    text = ",".join(f'"f{i}":{f}' for i, f in enumerate(floats))
    raw = (b'{"data":{"type":"profile-bulk-import-job","attributes":{"profiles":{"data":['
           b'{"type":"profile","attributes":{"email":"a@example.com","properties":{'
           + text.encode() + b'}}}]}}}}')
    assert _same(raw) is not None


@pytest.mark.parametrize("value", [
    "123456789012345678901234567890",  # beyond 64 bits: orjson would make it a float
    "-9223372036854775809",
    "18446744073709551616",
    "1e400", "NaN", "-Infinity",  # json takes these, orjson does not
    '"\\ud800"',  # a lone surrogate
    "[" * 40 + "1" + "]" * 40,  # nested: a suspect
    "[" * 990 + "1" + "]" * 990,  # json's RecursionError, not orjson's
    '{"a":{"b":[1,{"c":null}]}}',
])
def test_what_orjson_reads_otherwise_goes_the_general_way(value: str) -> None:
    raw = ('{"data":{"type":"profile-bulk-import-job","attributes":{"profiles":{"data":['
           '{"type":"profile","attributes":{"email":"a@example.com","properties":{"x":'
           + value + '}}}]}}}}').encode()
    assert _same(raw) is None


@pytest.mark.parametrize("raw", [
    b"\xef\xbb\xbf" + json.dumps(_body([{"email": "a@example.com"}])).encode(),  # BOM
    json.dumps(_body([{"email": "a@example.com"}])).encode("utf-16"),
    b'{"data":' * 60 + b"1" + b"}" * 60,  # a deep envelope
    b'{"data": {"type": "profile-bulk-import-job", "id": 1}}',  # refused by the checks
    b"{,}",
])
def test_odd_envelopes_go_the_general_way(raw: bytes) -> None:
    assert _same(raw) is None


@pytest.mark.parametrize("where", [(), ("data",), ("data", "attributes"),
                                   ("data", "attributes", "profiles"), ("data", "relationships"),
                                   ("data", "relationships", "lists"),
                                   ("data", "relationships", "lists", "data", 0)])
@pytest.mark.parametrize("name", ["x", "meta", "links"])
def test_the_envelope_around_the_profiles_has_a_fixed_shape(where: tuple[Any, ...],
                                                             name: str) -> None:
    """The quick way relies on it: no member of any depth can hide around the profiles (the
    checks refuse it), so orjson's deeper nesting never reaches an answer."""
    body: Any = _body([{"email": "a@example.com"}])
    spot = body
    for key in where:
        spot = spot[key]
    spot[name] = json.loads("[" * 50 + "1" + "]" * 50)
    raw = json.dumps(body).encode()
    assert _quick_bulk_body(raw) is None
    with pytest.raises(ApiError):
        validate_body("bulk_import_profiles", json.loads(raw))


def test_a_big_integer_is_stored_as_the_integer_it_is(klaviyo_emulator: Emulator) -> None:
    api = Api(klaviyo_emulator)
    list_id = api.create_list("big")
    big = 123456789012345678901234567890
    r = api.bulk_import([{"email": "big@example.com", "properties": {"n": big, "f": 0.1}},
                         {"email": "small@example.com", "properties": {"n": 7}}], [list_id])
    assert r.status_code == 202, r.text
    klaviyo_emulator.wait_for_jobs()
    p = klaviyo_emulator.find_profile(email="big@example.com")
    assert p is not None and p["properties"] == {"n": big, "f": 0.1}
    assert type(p["properties"]["n"]) is int


def test_mutated_bodies_are_json_s_or_go_the_general_way() -> None:
    """Bytes changed at random in a small body: whenever the quick way answers, it is json's."""
    rng = random.Random(11)
    base = json.dumps(_body(_sync_like(rng, 3)), ensure_ascii=False).encode()
    alphabet = b'0123456789.eE+-"\\{}[],: \t\nxtrufalsn\xc3\xa9\xff\x00u'
    quick = 0
    for _ in range(3000):
        raw = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(raw))
            op = rng.random()
            if op < 0.4:
                raw[i] = rng.choice(alphabet)
            elif op < 0.7:
                del raw[i]
            else:
                raw[i:i] = bytes([rng.choice(alphabet)]) * rng.randint(1, 20)
        quick += _same(bytes(raw)) is not None
    assert quick > 100  # many mutations stay valid (a digit, a letter in a string...)
