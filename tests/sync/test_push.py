"""`loader push` end to end over HTTP against the emulator (our code is not mocked)."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
import requests

from loader.cli._console import summary_notes
from loader.errors import EXIT_FAILED, EXIT_OK, EXIT_REJECTED, AmbiguousListError, LockedError
from loader.state import PushLock
from tests.sync.helpers import CampaignSpec, Member, expected_lists, query, write_warehouse


def assert_lists_exact(emulator: Any, spec: CampaignSpec) -> None:
    lists = emulator.lists()
    by_email = {p["email"]: p for p in emulator.profiles()}
    for name, want in expected_lists(spec).items():
        assert name in lists, f"list {name} missing"
        assert lists[name]["emails"] == set(want), f"list {name} membership differs"
        for email, attrs in want.items():
            p = by_email[email]
            assert p.get("first_name") == attrs["first_name"], email
            assert p["location"].get("city") == attrs["city"], email
            assert p["properties"].get("loyalty_tier") == attrs["loyalty_tier"], email


def imported(emulator: Any) -> int:
    return int(emulator.stats()["profiles_imported"])


def test_push_mirrors_audience_then_sends_nothing_when_unchanged(
        klaviyo_emulator, spec, warehouse, run_push) -> None:
    first = run_push()
    assert first.error is None and first.exit_code == EXIT_OK
    assert_lists_exact(klaviyo_emulator, spec)
    sendable = sum(len(v) for v in expected_lists(spec).values())
    assert sum(r.added for r in first.lists) == sendable
    assert imported(klaviyo_emulator) == sendable

    before = klaviyo_emulator.stats()["requests"]
    second = run_push()
    after = klaviyo_emulator.stats()["requests"]
    assert second.exit_code == EXIT_OK
    assert after.get("bulk_import_profiles", 0) == before.get("bulk_import_profiles", 0)
    assert after.get("remove_profiles_from_list", 0) == 0
    assert sum(r.unchanged for r in second.lists) == sendable
    assert imported(klaviyo_emulator) == sendable


def test_only_changes_are_sent(klaviyo_emulator, spec, warehouse, run_push) -> None:
    run_push()
    base = imported(klaviyo_emulator)
    sendable = [m for m in spec.members if m.treatment != "control" and not m.shrink_reason]
    for m in sendable[:3]:
        m.city = "Changed City"
    cleared = next(m for m in sendable[3:] if m.loyalty_tier is not None)
    cleared.loyalty_tier = None
    gone = [m for m in sendable[10:] if m is not cleared][:5]
    for m in gone:
        spec.members.remove(m)
    for i in range(4):
        spec.members.append(Member(f"amp-new-{i}", f"new{i}@example.com", "Neu", "Oslo", "gold"))
    write_warehouse(warehouse, [spec])

    result = run_push()
    assert result.exit_code == EXIT_OK
    assert imported(klaviyo_emulator) - base == 3 + 1 + 4
    assert sum(r.added for r in result.lists) == 4
    assert sum(r.updated for r in result.lists) == 4
    assert sum(r.removed for r in result.lists) == 5
    assert klaviyo_emulator.stats()["requests"]["remove_profiles_from_list"] <= 2
    assert_lists_exact(klaviyo_emulator, spec)
    # a NULL custom property is cleared in Klaviyo, not left stale
    assert "loyalty_tier" not in klaviyo_emulator.find_profile(email=cleared.email)["properties"]


def test_dry_run_predicts_the_following_push_and_writes_nothing(
        klaviyo_emulator, spec, warehouse, run_push) -> None:
    run_push()
    for m in spec.members[:30]:
        m.first_name = "Dry"
    del spec.members[30:40]
    spec.members.append(Member("amp-x", "x@example.com", "X", None, None))
    write_warehouse(warehouse, [spec])
    members_before = query(warehouse, "select count(*) from klaviyo_loader.list_members")
    writes_before = {k: v for k, v in klaviyo_emulator.stats()["requests"].items()}

    plan = run_push(dry_run=True)
    stats = klaviyo_emulator.stats()["requests"]
    for op in ("bulk_import_profiles", "remove_profiles_from_list", "create_list"):
        assert stats.get(op, 0) == writes_before.get(op, 0), op
    assert query(warehouse, "select count(*) from klaviyo_loader.list_members") == members_before

    real = run_push()
    for p, r in zip(plan.lists, real.lists, strict=True):
        assert p.list_name == r.list_name
        assert (p.plan.adds, p.plan.changes, p.plan.removals) == (r.added, r.updated, r.removed)
    assert plan.requests.get("bulk_import_profiles", 0) == real.requests.get(
        "bulk_import_profiles", 0)
    assert plan.requests.get("remove_profiles_from_list", 0) == real.requests.get(
        "remove_profiles_from_list", 0)
    # the estimate: each operation's calls at Klaviyo's published burst rate (per second;
    # written here from the API reference, not from loader/klaviyo/limits.py)
    burst = {"get_accounts": 1, "get_lists": 75, "get_profiles": 75, "create_list": 10,
             "bulk_import_profiles": 10, "get_bulk_import_profiles_job": 10,
             "get_bulk_import_profiles_jobs": 10, "remove_profiles_from_list": 10,
             "get_profiles_for_list": 75, "get_errors_for_bulk_import_profiles_job": 10}
    assert plan.estimated_seconds == round(sum(
        (n - 1) / burst[op] for op, n in plan.requests.items() if n), 1)


def test_dry_run_before_any_push_plans_everything(klaviyo_emulator, spec, run_push) -> None:
    plan = run_push(dry_run=True)
    assert sum(r.plan.adds for r in plan.lists) == sum(
        len(v) for v in expected_lists(spec).values())
    assert all(r.plan.requests.get("create_list") == 1 for r in plan.lists)
    assert klaviyo_emulator.lists() == {}


def test_sample_then_full_push(klaviyo_emulator, spec, warehouse, run_push) -> None:
    sample = run_push(sample=5)
    assert sample.exit_code == EXIT_OK
    lists = klaviyo_emulator.lists()
    assert {name: len(v["emails"]) for name, v in lists.items()} == {
        spec.list_a: 5, spec.list_b: 5}
    again = run_push(sample=5)  # deterministic: the same sample, nothing re-sent
    assert sum(r.added + r.updated for r in again.lists) == 0

    full = run_push()
    assert_lists_exact(klaviyo_emulator, spec)
    sendable = sum(len(v) for v in expected_lists(spec).values())
    assert imported(klaviyo_emulator) == sendable  # the sample's members were sent once
    assert sum(r.unchanged for r in full.lists) == 10

    rows = query(warehouse, """select is_sample, is_control, count(*),
        count(distinct amperity_id) from klaviyo_loader.campaign_recipients group by all
        order by all""")
    by = {(s, c): n for s, c, n, _ in rows}
    assert by[(True, False)] == 10
    assert by[(False, False)] == sendable - 10
    controls = sum(1 for m in spec.members if m.treatment == "control" and not m.shrink_reason)
    assert by[(False, True)] == controls


def test_recipients_once_per_delivery_and_columns(klaviyo_emulator, spec, warehouse,
                                                  run_push) -> None:
    run_push()
    again = run_push()  # a delivered one-time campaign named again, nothing to send
    assert again.resynced == ["spring_sale"] and again.deliveries == {}
    assert again.exit_code == EXIT_OK
    recipients = query(warehouse, "select count(*) from klaviyo_loader.campaign_recipients")
    spec.members.append(Member("amp-late", "late@example.com", "Late", None, None))
    write_warehouse(warehouse, [spec])
    later = run_push()  # named again with a new member: that is a delivery
    assert later.resynced == [] and list(later.deliveries) == ["spring_sale"]
    assert later.delivery_totals["spring_sale"]["added"] == 1
    assert query(warehouse, "select count(*) from klaviyo_loader.campaign_recipients") == [
        (2 * recipients[0][0] + 1,)]
    con = duckdb.connect(warehouse, read_only=True)
    cols = [r[0] for r in con.execute("describe klaviyo_loader.campaign_recipients").fetchall()]
    dup = con.execute("""select count(*) from (select delivery_id, amperity_id, sub_audience_id,
        treatment_id from klaviyo_loader.campaign_recipients group by all
        having count(*) > 1)""").fetchone()[0]
    deliveries = con.execute("select status, is_sample from klaviyo_loader.deliveries"
                             ).fetchall()
    con.close()
    assert cols == ["amperity_id", "campaign_id", "campaign_name", "campaign_type",
                    "sub_audience_id", "sub_audience_name", "treatment_id", "treatment_name",
                    "is_control", "destination_id", "destination_name", "list_id", "segment_id",
                    "segment_name", "delivery_datetime", "launch_datetime", "dataset_version",
                    "account_id", "delivery_id", "is_sample"]
    assert dup == 0
    assert deliveries == [("completed", False), ("completed", False)]


def test_second_account_gets_the_full_audience(klaviyo_emulator, spec, run_push) -> None:
    from klaviyo_emulator import Emulator

    run_push()
    other = Emulator()
    other.start()
    try:
        result = run_push(emulator=other)
        assert result.account_id == other.account_id != klaviyo_emulator.account_id
        assert_lists_exact(other, spec)
    finally:
        other.stop()


def test_list_deleted_by_hand_is_recreated_and_refilled(klaviyo_emulator, spec,
                                                        run_push) -> None:
    run_push()
    list_id = klaviyo_emulator.lists()[spec.list_a]["id"]
    resp = requests.delete(f"{klaviyo_emulator.base_url}/api/lists/{list_id}", timeout=10,
                           headers={"Authorization": f"Klaviyo-API-Key {klaviyo_emulator.api_key}",
                                    "revision": "2026-07-15"})
    assert resp.status_code == 204
    result = run_push()
    assert result.exit_code == EXIT_OK
    assert [r.created for r in result.lists] == [True, False]
    assert_lists_exact(klaviyo_emulator, spec)


def test_two_lists_with_one_name_fail_clearly(klaviyo_emulator, spec, run_push) -> None:
    klaviyo_emulator.create_list(spec.list_a)
    klaviyo_emulator.create_list(spec.list_a)
    result = run_push()
    assert result.exit_code == EXIT_FAILED
    assert "2 Klaviyo lists are named 'Spring Sale A'" in result.error
    with pytest.raises(AmbiguousListError):
        from loader.config import Settings
        from loader.klaviyo.client import KlaviyoClient
        KlaviyoClient.from_settings(Settings.from_env({
            "KLAVIYO_BASE_URL": klaviyo_emulator.base_url,
            "KLAVIYO_API_KEY": klaviyo_emulator.api_key})).resolve_list(spec.list_a)


def test_lock_refuses_a_second_push(klaviyo_emulator, warehouse, run_push) -> None:
    with PushLock.for_database(warehouse, "holder-run-1"), \
            pytest.raises(LockedError, match="holder-run-1"):
        run_push(lock_wait_s=0.3)
    assert run_push().exit_code == EXIT_OK


@pytest.mark.emulator_contract_exempt
def test_rejected_rows_exit_1_and_others_delivered(klaviyo_emulator, spec, warehouse,
                                                   run_push) -> None:
    spec.members.append(Member("amp-bad", "not-an-email", "Bad", None, None))
    spec.members.append(Member("amp-big", "big@example.com", "Big", None, "x" * 120_000))
    write_warehouse(warehouse, [spec])
    result = run_push()
    assert result.exit_code == EXIT_REJECTED
    reasons = dict(query(warehouse, "select amperity_id, reason from "
                                    "klaviyo_loader.rejected_rows"))
    assert set(reasons) == {"amp-bad", "amp-big"}
    assert reasons["amp-big"].startswith("profile_too_large")
    spec.members = [m for m in spec.members if m.amperity_id not in ("amp-bad", "amp-big")]
    lists = klaviyo_emulator.lists()
    want = expected_lists(spec)
    assert lists[spec.list_a]["emails"] == set(want[spec.list_a])
    # an unchanged bad row is not re-sent on every run
    again = run_push()
    assert again.exit_code == EXIT_OK
    assert sum(r.added + r.updated + r.rejected for r in again.lists) == 0
    # ... and the summary says so: the list's rows add up (sendable = unchanged + refused)
    assert sum(r.still_refused for r in again.lists) == 2
    assert any(line.startswith("2 row(s) Klaviyo refused before") for line in
               summary_notes(again)), summary_notes(again)


def test_shared_identifier_is_sent_once_and_reported(klaviyo_emulator, spec, warehouse,
                                                     run_push) -> None:
    spec.members.append(Member("amp-zz-1", "shared@example.com", "First", "Rome", None))
    spec.members.append(Member("amp-zz-2", "shared@example.com", "Second", "Milan", None))
    write_warehouse(warehouse, [spec])
    result = run_push()
    assert result.exit_code == EXIT_OK
    list_a = next(r for r in result.lists if r.list_name == spec.list_a)
    assert list_a.duplicates == 1  # the customer not sent
    p = klaviyo_emulator.find_profile(email="shared@example.com")
    assert p["first_name"] == "First"  # the smallest amperity_id is the one sent
    rows = query(warehouse, "select amperity_id from klaviyo_loader.campaign_recipients "
                            "where amperity_id like 'amp-zz-%'")
    assert rows == [("amp-zz-1",)]
    reasons = query(warehouse, "select amperity_id, reason from klaviyo_loader.rejected_rows")
    assert [a for a, _ in reasons] == ["amp-zz-2"]
    assert reasons[0][1].startswith("duplicate_email:") and "amp-zz-1" in reasons[0][1]


def test_oauth_push_and_missing_scope(klaviyo_emulator, spec, warehouse) -> None:
    from loader.config import Settings
    from loader.sync import PushOptions, push

    oauth = klaviyo_emulator.create_oauth_client()
    env = {"KLAVIYO_BASE_URL": klaviyo_emulator.base_url, "DUCKDB_PATH": warehouse,
           "KLAVIYO_OAUTH_CLIENT_ID": oauth["client_id"],
           "KLAVIYO_OAUTH_CLIENT_SECRET": oauth["client_secret"],
           "KLAVIYO_OAUTH_REFRESH_TOKEN": oauth["refresh_token"],
           "KLAVIYO_OAUTH_TOKEN_URL": oauth["token_url"]}
    result = push(Settings.from_env(env), PushOptions(campaigns=["spring_sale"]))
    assert result.exit_code == EXIT_OK, result.error
    assert_lists_exact(klaviyo_emulator, spec)

    key = klaviyo_emulator.create_key(["accounts:read", "lists:read", "profiles:read"])
    spec.members.append(Member("amp-scope", "scope@example.com", None, None, None))
    write_warehouse(warehouse, [spec])
    result = push(Settings.from_env({"KLAVIYO_BASE_URL": klaviyo_emulator.base_url,
                                     "KLAVIYO_API_KEY": key, "DUCKDB_PATH": warehouse}),
                  PushOptions(campaigns=["spring_sale"]))
    assert result.exit_code == EXIT_FAILED
    assert "lists:write" in (result.hint or "") and key not in (result.error or "")


def test_list_limits_are_clear_errors(klaviyo_emulator, spec, run_push) -> None:
    klaviyo_emulator.configure(max_lists=1)
    result = run_push()
    assert result.exit_code == EXIT_FAILED
    assert "lists and segments" in (result.hint or "")
    klaviyo_emulator.configure(max_lists=1000, daily_list_limit=1)
    result = run_push()
    assert result.exit_code == EXIT_FAILED
    assert "daily list-creation limit" in (result.error or "")
