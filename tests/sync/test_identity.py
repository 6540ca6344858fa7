"""Identifiers shared across lists, and phone numbers Klaviyo would refuse (contracts C1, C2).

End to end over HTTP against the emulator, which matches an incoming profile by email, then
phone number, then external id, as Klaviyo does: a new email with a known phone updates the
profile that holds the phone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests

from loader.cli._console import summary_notes
from loader.errors import EXIT_OK, EXIT_REJECTED
from loader.status import load_status
from loader.sync import PushOptions, PushResult, push
from tests.sync.conftest import settings_for
from tests.sync.helpers import FIXED, REGISTRY_COLUMNS, query

PHONE = "+442079460123"  # a valid London number


@dataclass
class Row:
    amperity_id: str
    email: str | None
    phone_number: str | None
    external_id: str | None = None
    list_name: str | None = None  # None: control
    shrink_reason: str | None = None
    first_name: str | None = None


def write(path: str, campaigns: dict[str, tuple[str, list[str], list[Row]]]) -> None:
    """campaign id -> (identifier, list names, rows); every campaign maps email,
    phone_number, external_id and first_name."""
    con = duckdb.connect(path)
    con.execute(f"create or replace table main.klaviyo_campaigns ({REGISTRY_COLUMNS})")
    for cid, (identifier, lists, rows) in campaigns.items():
        con.execute(
            "insert into main.klaviyo_campaigns values (?, ?, 'one_time', ?, ?, true, 'asap', "
            "null, null, null, null, ?, ?, 'klaviyo', 'Klaviyo', now(), 'inv-1')",
            [cid, cid, f'"main"."aud_{cid}"', identifier,
             "email,phone_number,external_id,first_name", ",".join(lists)])
        con.execute(f"create or replace table main.aud_{cid} ({FIXED}, email varchar, "
                    f"phone_number varchar, external_id varchar, first_name varchar)")
        if rows:
            con.executemany(
                f"insert into main.aud_{cid} values ({', '.join('?' * 16)})",
                [(cid, cid, "all", "All", "t" if r.list_name else "control",
                  "T" if r.list_name else "Control", r.list_name is None, r.list_name, "seg",
                  "Seg", r.amperity_id, r.shrink_reason, r.email, r.phone_number,
                  r.external_id, r.first_name) for r in rows])
    con.close()


def run(emulator: Any, path: str, *campaigns: str, **options: Any) -> PushResult:
    return push(settings_for(emulator, path), PushOptions(campaigns=list(campaigns), **options))


def emails(emulator: Any, name: str) -> set[str]:
    return set(emulator.lists()[name]["emails"])


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "identity.duckdb")


def test_the_emulator_merges_a_shared_phone_as_klaviyo_does(klaviyo_emulator) -> None:
    """Why the loader must withhold: A and B imported with one phone into two lists leave
    list A holding B's email (the demo's own check sees it)."""
    base, key = klaviyo_emulator.base_url, klaviyo_emulator.api_key
    headers = {"Authorization": f"Klaviyo-API-Key {key}", "revision": "2026-07-15",
               "Content-Type": "application/vnd.api+json", "Accept": "application/vnd.api+json"}
    ids = {}
    for name in ("List A", "List B"):
        r = requests.post(f"{base}/api/lists", headers=headers, timeout=10, json={
            "data": {"type": "list", "attributes": {"name": name}}})
        ids[name] = r.json()["data"]["id"]
    for name, email in (("List A", "a@example.com"), ("List B", "b@example.com")):
        r = requests.post(f"{base}/api/profile-bulk-import-jobs", headers=headers, timeout=10,
                          json={"data": {"type": "profile-bulk-import-job", "attributes": {
                              "profiles": {"data": [{"type": "profile", "attributes": {
                                  "email": email, "phone_number": PHONE}}]}},
                              "relationships": {"lists": {"data": [
                                  {"type": "list", "id": ids[name]}]}}}})
        assert r.status_code == 202
        klaviyo_emulator.wait_for_jobs()
    assert emails(klaviyo_emulator, "List A") == {"b@example.com"}  # A's list lost A
    assert len(klaviyo_emulator.profiles()) == 1


def test_a_phone_shared_across_lists_is_withheld_and_lists_are_exact(klaviyo_emulator, path
                                                                     ) -> None:
    """The issue's reproduction: customer A in one list, B with the same phone in another."""
    write(path, {
        "spring": ("email", ["Spring"], [
            Row("a-1", "a@example.com", PHONE, list_name="Spring", first_name="Ann"),
            Row("a-3", "c@example.com", "+442079460999", list_name="Spring")]),
        "autumn": ("email", ["Autumn"], [
            Row("a-2", "b@example.com", PHONE, list_name="Autumn", first_name="Bob")]),
    })
    result = run(klaviyo_emulator, path, "spring", "autumn")
    assert result.exit_code == EXIT_OK, result.error
    assert emails(klaviyo_emulator, "Spring") == {"a@example.com", "c@example.com"}
    assert emails(klaviyo_emulator, "Autumn") == {"b@example.com"}
    a = klaviyo_emulator.find_profile(email="a@example.com")
    b = klaviyo_emulator.find_profile(email="b@example.com")
    assert a["id"] != b["id"] and a["phone_number"] is None and b["phone_number"] is None
    assert (a["first_name"], b["first_name"]) == ("Ann", "Bob")
    # c's own phone is not shared: sent
    assert klaviyo_emulator.find_profile(email="c@example.com")["phone_number"] == "+442079460999"
    by_list = {r.list_name: r for r in result.lists}
    assert (by_list["Spring"].withheld, by_list["Autumn"].withheld) == (1, 1)
    rows = query(path, "select campaign_id, amperity_id, reason, delivery_id "
                       "from klaviyo_loader.rejected_rows order by 1")
    assert [(c, a) for c, a, _, _ in rows] == [("autumn", "a-2"), ("spring", "a-1")]
    assert rows[0][2].startswith(f"withheld_phone_number: {PHONE} is also held by a-1")
    assert rows[0][3] == result.deliveries["autumn"]
    assert query(path, "select campaign_id, withheld from klaviyo_loader.deliveries "
                       "order by 1") == [("autumn", 1), ("spring", 1)]
    # pushed again: nothing sent, and the lists stay exact
    again = run(klaviyo_emulator, path, "spring", "autumn")
    assert sum(r.added + r.updated + r.removed for r in again.lists) == 0
    assert emails(klaviyo_emulator, "Spring") == {"a@example.com", "c@example.com"}
    assert emails(klaviyo_emulator, "Autumn") == {"b@example.com"}


def test_a_phone_the_state_sent_for_another_customer_is_withheld(klaviyo_emulator, path
                                                                 ) -> None:
    """A was sent with the phone; A's phone changes and B (another campaign, pushed alone)
    now has A's old phone: only the state knows it is A's profile's."""
    a = Row("a-1", "a@example.com", PHONE, list_name="Spring")
    b = Row("a-2", "b@example.com", None, list_name="Autumn")
    write(path, {"spring": ("email", ["Spring"], [a]), "autumn": ("email", ["Autumn"], [b])})
    assert run(klaviyo_emulator, path, "spring", "autumn").exit_code == EXIT_OK
    a.phone_number, b.phone_number = "+442079460555", PHONE
    write(path, {"spring": ("email", ["Spring"], [a]), "autumn": ("email", ["Autumn"], [b])})
    result = run(klaviyo_emulator, path, "autumn")
    assert result.exit_code == EXIT_OK, result.error
    assert result.lists[0].withheld == 1
    assert emails(klaviyo_emulator, "Spring") == {"a@example.com"}
    assert emails(klaviyo_emulator, "Autumn") == {"b@example.com"}
    assert klaviyo_emulator.find_profile(email="b@example.com")["phone_number"] is None
    # once A's new phone is sent, the old one is B's alone: B gets it
    assert run(klaviyo_emulator, path, "spring").exit_code == EXIT_OK
    assert run(klaviyo_emulator, path, "autumn").exit_code == EXIT_OK
    assert klaviyo_emulator.find_profile(email="b@example.com")["phone_number"] == PHONE
    assert klaviyo_emulator.find_profile(email="a@example.com")["phone_number"] == (
        "+442079460555")


def test_invalid_phone_numbers_are_withheld(klaviyo_emulator, path) -> None:
    """+1 212 … is a real plan; +44 20 … needs 10 digits; +1 199 … has no such area code."""
    write(path, {
        "mail": ("email", ["Mail"], [
            Row("m-1", "a@example.com", "+12125550143", list_name="Mail"),
            Row("m-2", "b@example.com", "+44207946012", list_name="Mail"),
            Row("m-3", "c@example.com", "+11995550143", list_name="Mail")]),
        "sms": ("phone_number", ["SMS"], [
            Row("s-1", None, "+12125550144", list_name="SMS"),
            Row("s-2", None, "+44207946013", list_name="SMS")]),
    })
    result = run(klaviyo_emulator, path, "mail", "sms")
    # s-2 is not sent at all: a rejected row (exit 1), not an identifier withheld
    assert result.error is None and result.exit_code == EXIT_REJECTED, result.error
    assert emails(klaviyo_emulator, "Mail") == {"a@example.com", "b@example.com",
                                                "c@example.com"}
    phones = {p["email"]: p["phone_number"] for p in klaviyo_emulator.profiles()}
    assert phones["a@example.com"] == "+12125550143"
    assert phones["b@example.com"] is None and phones["c@example.com"] is None
    assert set(klaviyo_emulator.lists()["SMS"]["phone_numbers"]) == {"+12125550144"}
    reasons = dict(query(path, "select amperity_id, reason from klaviyo_loader.rejected_rows"))
    assert set(reasons) == {"m-2", "m-3", "s-2"}
    assert reasons["m-2"].startswith("withheld_phone_number: invalid number +44207946012 "
                                     "(not a valid number in the numbering plan of GB)")
    assert reasons["m-2"].endswith("the customer is sent without it")
    assert reasons["s-2"] == (
        "invalid_phone_number: invalid number +44207946013 (not a valid number in the "
        "numbering plan of GB); the row is rejected, not sent (the phone number is the "
        "campaign's identifier)")
    by_list = {r.list_name: r for r in result.lists}
    assert (by_list["Mail"].withheld, by_list["SMS"].withheld) == (2, 0)
    assert (by_list["Mail"].rejected, by_list["SMS"].rejected) == (0, 1)
    notes = summary_notes(result)
    assert any(n.startswith("2 identifier(s) withheld") and "sent without them" in n
               for n in notes), notes
    assert any(n.startswith("1 row(s) rejected") for n in notes), notes
    totals = {cid: (t["rejected"], t["withheld"]) for cid, t in result.delivery_totals.items()}
    assert totals == {"mail": (0, 2), "sms": (1, 0)}
    statuses = {s.campaign_id: s for s in load_status(path, "klaviyo_loader",
                                                      datetime.now(UTC), None, False)[0]}
    assert (statuses["sms"].rejected_rows, statuses["mail"].rejected_rows) == (1, 0)
    assert {r[0] for r in query(path, "select amperity_id from "
                                      "klaviyo_loader.campaign_recipients")} == {
        "m-1", "m-2", "m-3", "s-1"}


def test_sql_duplicates_are_recorded_once_per_delivery(klaviyo_emulator, path) -> None:
    """Contract C1: rows the campaign's SQL marked duplicate_<identifier> are recorded in
    rejected_rows once per delivery, naming the customer sent, and counted."""
    rows = [
        Row("c-1", "home@example.com", None, list_name="Offer A"),
        Row("c-2", "home@example.com", None, list_name="Offer B",
            shrink_reason="duplicate_email"),
        Row("c-3", "home@example.com", None, list_name=None, shrink_reason="duplicate_email"),
        Row("c-4", "solo@example.com", None, list_name="Offer B"),
    ]
    write(path, {"house": ("email", ["Offer A", "Offer B"], rows)})
    result = run(klaviyo_emulator, path, "house")
    assert result.exit_code == EXIT_OK, result.error
    by_list = {r.list_name: r for r in result.lists}
    assert (by_list["Offer A"].duplicates, by_list["Offer B"].duplicates) == (0, 1)
    assert emails(klaviyo_emulator, "Offer A") == {"home@example.com"}
    assert emails(klaviyo_emulator, "Offer B") == {"solo@example.com"}
    recorded = query(path, "select list_name, amperity_id, reason, delivery_id "
                           "from klaviyo_loader.rejected_rows order by 2")
    assert [(n, a) for n, a, _, _ in recorded] == [("Offer B", "c-2"), (None, "c-3")]
    assert all(r.startswith("duplicate_email: shares its email with c-1") for _, _, r, _ in
               recorded)
    assert {d for *_, d in recorded} == {result.deliveries["house"]}
    assert query(path, "select duplicates from klaviyo_loader.deliveries") == [(2,)]
    assert {r[0] for r in query(path, "select amperity_id from "
                                      "klaviyo_loader.campaign_recipients")} == {"c-1", "c-4"}


def test_a_duplicates_reason_and_the_summary_say_who_keeps_it_and_where_the_rows_are(
        klaviyo_emulator, path) -> None:
    """A duplicate whose keeper is in a control group is not said to lose to "the one sent";
    the summary's pointer to the rows finds them, also on a push that makes no delivery."""
    write(path, {"mail": ("email", ["Mail"], [
        Row("k-1", "a@example.com", None),  # control: keeps a@
        Row("k-2", "a@example.com", None, list_name="Mail", shrink_reason="duplicate_email"),
        Row("k-3", "c@example.com", None, list_name="Mail"),  # sent: keeps c@
        Row("k-4", "c@example.com", None, list_name="Mail", shrink_reason="duplicate_email")])})
    first = run(klaviyo_emulator, path, "mail")
    assert first.error is None, first.error
    assert emails(klaviyo_emulator, "Mail") == {"c@example.com"}
    reasons = dict(query(path, "select amperity_id, reason from klaviyo_loader.rejected_rows"))
    assert reasons["k-2"] == (
        "duplicate_email: shares its email with k-1 (the customer with the smallest "
        "amperity_id holding it, who keeps it in a control group, not sent); not sent")
    assert reasons["k-4"] == (
        "duplicate_email: shares its email with k-3 (the customer with the smallest "
        "amperity_id holding it, who is the one sent); not sent")
    second = run(klaviyo_emulator, path, "mail")  # nothing new: no delivery, no rows written
    assert second.error is None and second.resynced == ["mail"], second.error
    for result in (first, second):
        note = next(n for n in summary_notes(result) if "not sent: they share" in n)
        places = re.findall(r"klaviyo_loader\.rejected_rows where "
                            r"(run_id = '[^']*'|campaign_id in \([^)]*\))", note)
        assert places, note
        for where in places:
            assert query(path, f"select count(*) from klaviyo_loader.rejected_rows "
                               f"where {where} and amperity_id in ('k-2', 'k-4')") == [(2,)], note


def test_rows_the_campaign_found_an_invalid_identifier_in_are_recorded(klaviyo_emulator,
                                                                      path) -> None:
    """A row the campaign's SQL left out for an invalid identifier (shrink_reason
    ``invalid_email``, ``invalid_phone_number``: the normalization nulled it) is a rejected
    row with a reason naming the problem, once per delivery, control members included; it
    does not change the exit code or the delivery's counts. A missing identifier is not a
    refusal: nothing is recorded for it."""
    write(path, {
        "mail": ("email", ["Mail"], [
            Row("v-1", "a@example.com", None, list_name="Mail"),
            Row("v-2", None, None, list_name="Mail", shrink_reason="invalid_email"),
            Row("v-3", None, None, list_name=None, shrink_reason="invalid_email"),
            Row("v-4", None, None, list_name="Mail", shrink_reason="missing_email")]),
        "sms": ("phone_number", ["SMS"], [
            Row("s-1", None, "+12125550144", list_name="SMS"),
            Row("s-2", None, None, list_name="SMS", shrink_reason="invalid_phone_number")]),
    })
    first = run(klaviyo_emulator, path, "mail", "sms")
    assert first.error is None and first.exit_code == EXIT_OK, first.error
    assert emails(klaviyo_emulator, "Mail") == {"a@example.com"}
    recorded = query(path, "select list_name, identifier, amperity_id, reason, delivery_id "
                           "from klaviyo_loader.rejected_rows order by amperity_id")
    assert [(n, i, a) for n, i, a, *_ in recorded] == [
        ("SMS", None, "s-2"), ("Mail", None, "v-2"), (None, None, "v-3")]
    reasons = {a: r for _, _, a, r, _ in recorded}
    assert reasons["v-2"] == reasons["v-3"] == (
        "invalid_email: the customer's email is not a valid address (the campaign's "
        "normalization, docs/campaigns.md \"Email\", made it null); the row is rejected, "
        "not sent (the email is the campaign's identifier)")
    assert reasons["s-2"] == (
        "invalid_phone_number: the customer's phone number could not be read as an E.164 "
        "number (the campaign's normalization, docs/campaigns.md \"Phone number\", made it "
        "null); the row is rejected, not sent (the phone number is the campaign's "
        "identifier)")
    assert {d for *_, d in recorded} == set(first.deliveries.values())
    assert query(path, "select campaign_id, rejected, duplicates, withheld "
                       "from klaviyo_loader.deliveries order by 1") == [
        ("mail", 0, 0, 0), ("sms", 0, 0, 0)]
    assert sum(r.duplicates for r in first.lists) == 0
    assert sum(first.control_duplicates.values()) == 0
    again = run(klaviyo_emulator, path, "mail", "sms")  # no new delivery: nothing recorded
    assert again.error is None and sorted(again.resynced) == ["mail", "sms"], again.error
    assert query(path, "select count(*) from klaviyo_loader.rejected_rows") == [(3,)]
