"""Profiles keyed on several identifiers: no removal lost, no silent merge (docs/sync.md,
"Other identifiers, withheld").

End to end over HTTP against the emulator: a phone_number-keyed campaign that also sends
`email`, and an email-keyed campaign that also sends `phone_number`, over the same customers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from loader.config import Settings
from loader.errors import EXIT_FAILED, EXIT_OK
from loader.klaviyo.client import KlaviyoClient
from loader.sync import PushOptions, PushResult, push
from tests.sync.conftest import settings_for
from tests.sync.helpers import FIXED, REGISTRY_COLUMNS, query


@dataclass
class Customer:
    amperity_id: str
    email: str | None
    phone_number: str | None
    first_name: str = "Ann"


def customers() -> dict[str, Customer]:
    return {c.amperity_id: c for c in [
        Customer("m-1", "ann@example.com", "+12065550101", "Ann"),
        Customer("m-2", "bob@example.com", "+12065550202", "Bob"),
        Customer("m-3", "cat@example.com", "+12065550303", "Cat"),
        Customer("m-4", "dan@example.com", "+12065550404", "Dan"),
        Customer("m-5", "eve@example.com", "+12065550505", "Eve"),
    ]}


CAMPAIGNS = {  # campaign id → (identifier, list name)
    "sms_promo": ("phone_number", "SMS Promo"),
    "newsletter": ("email", "Newsletter"),
}


def write(path: str, audiences: dict[str, list[Customer]]) -> None:
    con = duckdb.connect(path)
    con.execute(f"create or replace table main.klaviyo_campaigns ({REGISTRY_COLUMNS})")
    for cid, members in audiences.items():
        identifier, list_name = CAMPAIGNS[cid]
        con.execute(
            "insert into main.klaviyo_campaigns values (?, ?, 'one_time', ?, ?, true, 'asap', "
            "null, null, null, null, ?, ?, 'klaviyo', 'Klaviyo', now(), 'inv-1')",
            [cid, cid, f'"main"."aud_{cid}"', identifier,
             f"{identifier},{'email' if identifier != 'email' else 'phone_number'},first_name",
             list_name])
        con.execute(f"create or replace table main.aud_{cid} ({FIXED}, phone_number varchar, "
                    f"email varchar, first_name varchar)")
        con.executemany(
            f"insert into main.aud_{cid} values ({', '.join('?' * 15)})",
            [(cid, cid, "all", "All", "a", "a", False, list_name, "seg", "Seg", c.amperity_id,
              None, c.phone_number, c.email, c.first_name) for c in members])
    con.close()


def run(emulator: Any, path: str, *campaigns: str) -> PushResult:
    return push(settings_for(emulator, path), PushOptions(campaigns=list(campaigns)))


def list_phones(emulator: Any, name: str) -> set[str]:
    return set(emulator.lists()[name]["phone_numbers"])


def list_emails(emulator: Any, name: str) -> set[str]:
    return set(emulator.lists()[name]["emails"])


def rename_cat_elsewhere(emulator: Any) -> None:
    """Another integration changes both identifiers of m-3's profile in Klaviyo."""
    cat = emulator.find_profile(email="cat@example.com")
    client = KlaviyoClient.from_settings(Settings.from_env({
        "KLAVIYO_BASE_URL": emulator.base_url, "KLAVIYO_API_KEY": emulator.api_key}))
    client.request("update_profile", "PATCH", f"/api/profiles/{cat['id']}", body={"data": {
        "type": "profile", "id": cat["id"],
        "attributes": {"email": "cat.new@example.com", "phone_number": "+12065558888"}}})


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "ids.duckdb")


def test_removal_after_identifier_changed_elsewhere_is_not_lost(klaviyo_emulator, path
                                                                 ) -> None:
    """The reviewer's reproduction: m-3 leaves the phone campaign after its phone changed."""
    c = customers()
    write(path, {"sms_promo": [c["m-1"], c["m-2"], c["m-3"], c["m-4"]],
                 "newsletter": list(c.values())})
    assert run(klaviyo_emulator, path, "sms_promo", "newsletter").exit_code == EXIT_OK
    assert "cat@example.com" in list_emails(klaviyo_emulator, "SMS Promo")

    c["m-3"].phone_number = "+12065559999"
    write(path, {"sms_promo": [c["m-1"], c["m-2"], c["m-4"]],
                 "newsletter": list(c.values())})
    assert run(klaviyo_emulator, path, "newsletter").exit_code == EXIT_OK  # moves the phone
    result = run(klaviyo_emulator, path, "sms_promo")
    assert result.exit_code == EXIT_OK, result.error
    assert result.lists[0].removed == 1
    assert list_emails(klaviyo_emulator, "SMS Promo") == {
        "ann@example.com", "bob@example.com", "dan@example.com"}
    assert list_phones(klaviyo_emulator, "SMS Promo") == {
        "+12065550101", "+12065550202", "+12065550404"}
    # the newsletter still holds m-3's profile
    assert "cat@example.com" in list_emails(klaviyo_emulator, "Newsletter")


def test_identifier_change_of_a_member_who_stays_keeps_it_in_the_list(klaviyo_emulator, path
                                                                      ) -> None:
    """m-3's phone changes but m-3 stays: the old phone's removal must not remove m-3."""
    c = customers()
    write(path, {"sms_promo": [c["m-1"], c["m-2"], c["m-3"]]})
    run(klaviyo_emulator, path, "sms_promo")
    c["m-3"].phone_number = "+12065559999"
    write(path, {"sms_promo": [c["m-1"], c["m-2"], c["m-3"]]})
    result = run(klaviyo_emulator, path, "sms_promo")
    assert result.exit_code == EXIT_OK, result.error
    assert list_phones(klaviyo_emulator, "SMS Promo") == {
        "+12065550101", "+12065550202", "+12065559999"}
    # and a push with no change afterwards sends and removes nothing
    again = run(klaviyo_emulator, path, "sms_promo")
    assert (again.lists[0].added, again.lists[0].updated, again.lists[0].removed) == (0, 0, 0)


def test_a_stayer_whose_email_is_now_in_capitals_is_kept(klaviyo_emulator, path) -> None:
    """m-3's email (the newsletter's identifier, its only identifier) is now written in
    capitals: the old key leaves, the new key is the same Klaviyo profile, so the removal
    finds it desired (emails compared case-insensitively) and deletes nothing."""
    c = customers()
    c["m-3"].phone_number = None
    write(path, {"newsletter": list(c.values())})
    assert run(klaviyo_emulator, path, "newsletter").exit_code == EXIT_OK
    c["m-3"].email = "Cat@Example.COM"
    write(path, {"newsletter": list(c.values())})
    result = run(klaviyo_emulator, path, "newsletter")
    assert result.exit_code == EXIT_OK, result.error
    assert {e.lower() for e in list_emails(klaviyo_emulator, "Newsletter")} == {
        "ann@example.com", "bob@example.com", "cat@example.com", "dan@example.com",
        "eve@example.com"}


def test_removal_found_by_scanning_the_list_when_no_identifier_matches(klaviyo_emulator, path
                                                                       ) -> None:
    """Every identifier of m-3's profile changed in Klaviyo: the list itself is read."""
    c = customers()
    write(path, {"sms_promo": [c["m-1"], c["m-2"], c["m-3"]]})
    run(klaviyo_emulator, path, "sms_promo")
    rename_cat_elsewhere(klaviyo_emulator)  # another integration renames both identifiers
    write(path, {"sms_promo": [c["m-1"], c["m-2"]]})
    result = run(klaviyo_emulator, path, "sms_promo")
    assert result.exit_code == EXIT_OK, result.error
    assert result.lists[0].removed == 1
    assert list_phones(klaviyo_emulator, "SMS Promo") == {"+12065550101", "+12065550202"}
    assert klaviyo_emulator.stats()["requests"].get("get_profiles_for_list", 0) >= 1


def test_unresolvable_removal_stays_pending_and_fails_clearly(klaviyo_emulator, path) -> None:
    c = customers()
    write(path, {"sms_promo": [c["m-1"], c["m-2"], c["m-3"]]})
    run(klaviyo_emulator, path, "sms_promo")
    rename_cat_elsewhere(klaviyo_emulator)  # another integration renames both identifiers
    write(path, {"sms_promo": [c["m-1"], c["m-2"]]})
    result = push(settings_for(klaviyo_emulator, path),
                  PushOptions(campaigns=["sms_promo"], list_scan_max=1))  # no scan allowed
    assert result.exit_code == EXIT_FAILED
    assert "could not be matched" in (result.error or "")
    assert result.lists[0].removed == 0
    assert "+12065550303" in {r[0] for r in query(
        path, "select identifier from klaviyo_loader.list_members")}
    # the next push (scan allowed) finishes it
    result = run(klaviyo_emulator, path, "sms_promo")
    assert result.exit_code == EXIT_OK, result.error
    assert list_phones(klaviyo_emulator, "SMS Promo") == {"+12065550101", "+12065550202"}


def test_shared_identifiers_are_not_silently_merged(klaviyo_emulator, path) -> None:
    """m-2 shares m-1's email, m-5 shares m-4's phone. Keyed on that identifier, the smaller
    amperity_id is sent and the other recorded as a duplicate; as another identifier, it is
    withheld from both customers, who are still sent by their campaign identifier."""
    c = customers()
    c["m-2"].email = "ann@example.com"  # shares m-1's email, has its own phone
    c["m-5"].phone_number = "+12065550404"  # shares m-4's phone, has its own email
    write(path, {"sms_promo": list(c.values()), "newsletter": list(c.values())})
    result = run(klaviyo_emulator, path, "sms_promo", "newsletter")
    assert result.exit_code == EXIT_OK, result.error
    by_list = {r.list_name: r for r in result.lists}
    sms, news = by_list["SMS Promo"], by_list["Newsletter"]
    # sms: m-5 duplicates m-4's phone (not sent); ann@ is withheld from m-1 and m-2
    assert (sms.added, sms.duplicates, sms.withheld) == (4, 1, 2)
    # newsletter: m-2 duplicates m-1's email; m-4's phone is withheld from m-4 and m-5
    assert (news.added, news.duplicates, news.withheld) == (4, 1, 2)
    assert list_phones(klaviyo_emulator, "SMS Promo") == {
        "+12065550101", "+12065550202", "+12065550303", "+12065550404"}
    assert list_emails(klaviyo_emulator, "Newsletter") == {
        "ann@example.com", "cat@example.com", "dan@example.com", "eve@example.com"}
    # one profile per customer: m-2's (by its phone) is not m-1's (by ann@)
    m2 = klaviyo_emulator.find_profile(phone_number="+12065550202")
    assert m2["email"] is None
    assert klaviyo_emulator.find_profile(email="ann@example.com")["phone_number"] == (
        "+12065550101")
    reasons = query(path, "select list_name, amperity_id, reason from klaviyo_loader.rejected_rows "
                         "order by all")
    assert [(n, a, r.split(":")[0]) for n, a, r in reasons] == [
        ("Newsletter", "m-2", "duplicate_email"),
        ("Newsletter", "m-4", "withheld_phone_number"),
        ("Newsletter", "m-5", "withheld_phone_number"),
        ("SMS Promo", "m-1", "withheld_email"),
        ("SMS Promo", "m-2", "withheld_email"),
        ("SMS Promo", "m-5", "duplicate_phone_number")]
    sms_reasons = {a: r for n, a, r in reasons if n == "SMS Promo"}
    assert "m-4" in sms_reasons["m-5"] and "m-2" in sms_reasons["m-1"]
    recipients = {r[0] for r in query(path, "select amperity_id from "
                                           "klaviyo_loader.campaign_recipients")}
    assert recipients == {"m-1", "m-2", "m-3", "m-4", "m-5"}
    # a second push re-sends nothing
    again = run(klaviyo_emulator, path, "sms_promo", "newsletter")
    assert sum(r.added + r.updated + r.removed for r in again.lists) == 0


def test_a_change_records_the_identifiers_its_profile_is_sent_with(klaviyo_emulator, path
                                                                   ) -> None:
    """A list state knows is planned from narrow desired rows (no values kept; the diff
    reads the rendered keys' values and the sent identifiers back by identifier): a change
    records the identifiers the profile is now sent with, from the audience, not state's."""
    c = customers()
    write(path, {"newsletter": list(c.values())})
    assert run(klaviyo_emulator, path, "newsletter").exit_code == EXIT_OK
    c["m-3"].first_name = "Catherine"  # a change, its phone as before
    c["m-4"].first_name = "Daniel"
    c["m-4"].phone_number = "+12065559999"  # a change that sends another phone
    write(path, {"newsletter": list(c.values())})
    result = run(klaviyo_emulator, path, "newsletter")
    assert result.exit_code == EXIT_OK, result.error
    assert (result.lists[0].updated, result.lists[0].unchanged) == (2, 3)
    assert query(path, "select identifier, sent_phone_number from klaviyo_loader.list_members "
                       "order by 1") == [
        ("ann@example.com", "+12065550101"), ("bob@example.com", "+12065550202"),
        ("cat@example.com", "+12065550303"), ("dan@example.com", "+12065559999"),
        ("eve@example.com", "+12065550505")]
    assert klaviyo_emulator.find_profile(email="cat@example.com")["first_name"] == "Catherine"
    assert klaviyo_emulator.find_profile(email="dan@example.com")["phone_number"] == (
        "+12065559999")


def test_state_from_before_identifiers_were_kept_still_loses_no_removal(klaviyo_emulator, path
                                                                       ) -> None:
    """State without the sent_* columns (an older loader): migrated, and the list is read."""
    c = customers()
    write(path, {"sms_promo": [c["m-1"], c["m-2"], c["m-3"], c["m-4"]],
                 "newsletter": list(c.values())})
    run(klaviyo_emulator, path, "sms_promo", "newsletter")
    con = duckdb.connect(path)
    for table in ("list_members", "pending_rows"):
        for col in ("sent_email", "sent_phone_number", "sent_external_id"):
            con.execute(f"alter table klaviyo_loader.{table} drop column {col}")
    con.close()
    c["m-3"].phone_number = "+12065559999"
    write(path, {"sms_promo": [c["m-1"], c["m-2"], c["m-4"]],
                 "newsletter": list(c.values())})
    plan = push(settings_for(klaviyo_emulator, path),
                PushOptions(campaigns=["sms_promo"], dry_run=True))
    assert plan.error is None and plan.lists[0].plan.removals == 1
    assert run(klaviyo_emulator, path, "newsletter").exit_code == EXIT_OK
    result = run(klaviyo_emulator, path, "sms_promo")
    assert result.exit_code == EXIT_OK, result.error
    assert list_emails(klaviyo_emulator, "SMS Promo") == {
        "ann@example.com", "bob@example.com", "dan@example.com"}
