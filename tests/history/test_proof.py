"""A full delivery proves membership only for the rows its push did not find unchanged
(``Store.record_recipients``, ``suspects``), and records exactly what the proof join over every
row records (the reference of ``test_spans``: the audience and ``list_members`` as they are at
the delivery). Each case below is a row the plan did not find unchanged, or that is on several
rows, or not sent: a row Klaviyo refuses, then held; an oversize row; an email changed to one
Klaviyo refuses (the old one removed, the new one never a member); a secondary phone number
withheld as invalid, or shared by two customers (sent without it: still members); a campaign
keyed on the phone number whose row is not sent for an invalid number; and, on every delivery,
an email shared by two customers and a customer with two identifiers (``SEVERAL``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import requests

from tests.history.test_spans import LIST_A, LIST_B, Campaign, Row, S, base, query


def phones(rows: list[Row]) -> list[Row]:
    """Every row with a valid New York number of its own."""
    return [replace(r, phone_number=f"+1212555{100 + i:04d}") for i, r in enumerate(rows)]


def test_refused_oversize_and_withheld_rows_are_recorded_as_the_proof_join(
        klaviyo_emulator, tmp_path: Path) -> None:
    path = str(tmp_path / "w.duckdb")
    c = Campaign(klaviyo_emulator, path, phones=True)
    rows = phones(base())
    at = {r.amperity_id: i for i, r in enumerate(rows) if "second" not in (r.email or "")}

    def edit(amperity_id: str, **changes: object) -> None:
        rows[at[amperity_id]] = replace(rows[at[amperity_id]], **changes)  # type: ignore[arg-type]

    c.push(rows)  # 1: every row an add (the whole delivery proved by the join)
    e1 = rows[at["c07"]].email
    rows += [Row("c50", "not-an-email", phone_number="+12125550950"),  # Klaviyo refuses it
             Row("c51", "c51@example.com", city="x" * 120_000,  # over 100 KB: not sent
                 phone_number="+12125550951")]
    at.update(c50=len(rows) - 2, c51=len(rows) - 1)
    edit("c07", email="c07-not-an-email")  # e1 -> e2: e1 removed, e2 refused
    edit("c09", phone_number="+44207946012")  # an invalid secondary: withheld, still sent
    edit("c11", phone_number=rows[at["c12"]].phone_number)  # shared: withheld from both
    edit("c08", city="Oslo")  # a change
    c.push(rows)  # 2
    members = {r[0] for r in query(path, f"select amperity_id from {S}.list_members")}
    assert {"c09", "c11", "c12", "c08"} <= members
    assert not {"c07", "c50", "c51"} & members
    refused = query(path, f"select count(*) from {S}.rejected_members")
    assert refused[0][0] >= 2
    c.push(rows)  # 3: the refused rows are held, the oversize one again not sent
    edit("c07", email=e1)  # 4: back to e1 (an add), c50 leaves, c51 fits now
    rows[at["c51"]] = replace(rows[at["c51"]], city="Lyon")
    rows.pop(at["c50"])
    c.push(rows)
    members = {r[0] for r in query(path, f"select amperity_id from {S}.list_members")}
    assert {"c07", "c51"} <= members
    assert query(path, f"select count(*) from {S}.recipient_spans where amperity_id = 'c07' "
                       f"and last_number is null") == [(1,)]


def test_a_row_not_sent_for_an_invalid_phone_number_is_no_recipient(
        klaviyo_emulator, tmp_path: Path) -> None:
    """A campaign keyed on the phone number: a customer whose number becomes invalid is not
    sent (its old number removed), so it is no recipient; valid again, it is one."""
    path = str(tmp_path / "w.duckdb")
    c = Campaign(klaviyo_emulator, path, identifier="phone_number", phones=True)
    rows = phones(base())
    at = {r.amperity_id: i for i, r in enumerate(rows) if "second" not in (r.email or "")}
    c.push(rows)  # 1
    valid = rows[at["c13"]].phone_number
    rows[at["c13"]] = replace(rows[at["c13"]], phone_number="+44207946013")
    rows[at["c15"]] = replace(rows[at["c15"]], phone_number="+12125550999")  # another number
    c.push(rows)  # 2
    members = {r[0] for r in query(path, f"select amperity_id from {S}.list_members")}
    assert "c13" not in members and "c15" in members
    assert query(path, f"select count(*) from {S}.recipient_spans where amperity_id = 'c13' "
                       f"and last_number = 1") == [(1,)]
    rows[at["c13"]] = replace(rows[at["c13"]], phone_number=valid)
    c.push(rows)  # 3: valid again: a recipient again
    assert query(path, f"select count(*) from {S}.recipient_spans where amperity_id = 'c13' "
                       f"and last_number is null") == [(1,)]


def test_a_list_skipped_by_its_digest_is_recorded_when_another_list_sends(
        klaviyo_emulator, tmp_path: Path) -> None:
    """Pushed again on the day of its delivery, a campaign makes a delivery only because its
    second list was deleted in Klaviyo by hand (refilled): the first list, unchanged since a
    clean push, is skipped (not planned) and its members recorded all the same, as the proof
    join records them (its email shared by two customers included: one is no member)."""
    path = str(tmp_path / "w.duckdb")
    c = Campaign(klaviyo_emulator, path)
    rows = base()
    for i in (21, 22, 23):
        rows[i] = replace(rows[i], treatment_id="b", treatment_name="Offer B", list_name=LIST_B)
    c.push(rows, lists=(LIST_A, LIST_B))  # 1
    c.push(rows, lists=(LIST_A, LIST_B))  # 2: a day later, nothing changed
    list_b = klaviyo_emulator.lists()[LIST_B]["id"]
    resp = requests.delete(f"{klaviyo_emulator.base_url}/api/lists/{list_b}", timeout=10,
                           headers={"Authorization": f"Klaviyo-API-Key {klaviyo_emulator.api_key}",
                                    "revision": "2026-07-15"})
    assert resp.status_code == 204
    c.push(rows, lists=(LIST_A, LIST_B), same_day=True, edit="select 1")  # 3: the same day
    by_list = {r.list_name: r for r in c.result.lists}
    assert by_list[LIST_A].skipped and by_list[LIST_B].created
    assert len(set(c.deliveries)) == 3


def test_a_first_push_with_rows_not_members_is_recorded_as_the_proof_join(
        klaviyo_emulator, tmp_path: Path) -> None:
    """A list state holds no member of when it is planned (its first push, or after it was
    deleted in Klaviyo by hand and recreated) is proved by a count: as many members after the
    push as desired rows. A row Klaviyo refuses and an oversize row make the counts differ,
    and the delivery is then proved row by row: neither is a recipient, every other row is."""
    path = str(tmp_path / "w.duckdb")
    c = Campaign(klaviyo_emulator, path, phones=True)
    rows = phones(base())
    rows += [Row("c50", "not-an-email", phone_number="+12125550950"),  # Klaviyo refuses it
             Row("c51", "c51@example.com", city="x" * 120_000,  # over 100 KB: not sent
                 phone_number="+12125550951")]
    c.push(rows)  # 1: a first push, two rows not members
    members = {r[0] for r in query(path, f"select amperity_id from {S}.list_members")}
    assert "c04" in members and not {"c50", "c51"} & members
    clean = rows[:-2]
    c.push(clean)  # 2: both gone
    list_a = klaviyo_emulator.lists()[LIST_A]["id"]
    resp = requests.delete(f"{klaviyo_emulator.base_url}/api/lists/{list_a}", timeout=10,
                           headers={"Authorization": f"Klaviyo-API-Key {klaviyo_emulator.api_key}",
                                    "revision": "2026-07-15"})
    assert resp.status_code == 204
    c.push(clean)  # 3: the list recreated and refilled, every row a member (the count proves it)
    assert c.result.lists[0].created
    c.push(rows)  # 4: the two rows back, not members again
    c.push(clean + [Row("c52", "c52-not-an-email")])  # 5: a refused row in a list not empty
