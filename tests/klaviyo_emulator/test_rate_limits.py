"""Per-operation rate limits: 429 with Retry-After, and a client honouring it completes."""

from __future__ import annotations

from klaviyo_emulator import Emulator, FakeClock
from tests.klaviyo_emulator._api import Api, error


def test_burst_beyond_the_limit_gets_429_with_retry_after() -> None:
    clock = FakeClock()
    with Emulator(clock=clock, rate_limits="on") as emu:
        api = Api(emu)
        assert api.get("/api/accounts").status_code == 200  # get_accounts: burst 1/s
        r = api.get("/api/accounts")
        assert r.status_code == 429
        assert error(r)["code"] == "throttled"
        assert int(r.headers["Retry-After"]) >= 1
        assert api.get("/api/lists").status_code == 200  # limits are per operation
        assert emu.stats()["throttled"] == 1


def test_a_client_honouring_retry_after_completes() -> None:
    clock = FakeClock()
    with Emulator(clock=clock, rate_limits="on") as emu:
        api = Api(emu)
        lid = api.create_list("L")
        done, throttled, waited = 0, 0, 0.0
        while done < 40:  # add_profiles_to_list: burst 10/s, steady 150/m
            r = api.upsert({"email": f"p{done}@example.com"})
            assert r.status_code in (200, 201), r.text
            body = {"data": [{"type": "profile", "id": r.json()["data"]["id"]}]}
            r = api.post(f"/api/lists/{lid}/relationships/profiles", body)
            while r.status_code == 429:
                throttled += 1
                wait = int(r.headers["Retry-After"])
                waited += wait
                clock.advance(wait)  # the client sleeps for Retry-After
                r = api.post(f"/api/lists/{lid}/relationships/profiles", body)
            assert r.status_code == 204, r.text
            done += 1
        assert throttled >= 2
        assert len(emu.lists()["L"]["members"]) == 40
        assert waited >= 3  # 40 calls at 10/s need at least 3 s beyond the first burst


def test_scale_multiplies_the_allowed_rate() -> None:
    clock = FakeClock()
    with Emulator(clock=clock, rate_limits=20) as emu:
        api = Api(emu)
        codes = [api.get("/api/accounts").status_code for _ in range(25)]
        assert codes[:20] == [200] * 20
        assert 429 in codes[20:]


def test_rate_limits_off_never_throttle_and_configure_switches_them() -> None:
    clock = FakeClock()
    with Emulator(clock=clock) as emu:
        api = Api(emu)
        assert all(api.get("/api/accounts").status_code == 200 for _ in range(5))
        emu.configure(rate_limits="on")
        assert [api.get("/api/accounts").status_code for _ in range(2)] == [200, 429]
