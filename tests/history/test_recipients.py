"""What a delivery records in ``campaign_recipients``: one row per customer and list, whatever
the number of identifiers (audience rows) the customer has in it (docs/sync.md)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from loader.sync import PushOptions, push
from tests.sync.conftest import settings_for
from tests.sync.helpers import CampaignSpec, Member, make_members, write_warehouse


def recipients(path: str) -> list[tuple[str, bool, str | None, str, str]]:
    con = duckdb.connect(path, read_only=True)
    try:
        return con.execute(
            "select amperity_id, is_control, list_id is not null, segment_id, segment_name "
            "from klaviyo_loader.campaign_recipients order by all").fetchall()
    finally:
        con.close()


def test_a_customer_with_two_identifiers_is_one_recipient(klaviyo_emulator, tmp_path: Path
                                                         ) -> None:
    members = make_members(30, seed=5)
    # a second email for one sent customer and one control customer: two audience rows each
    sent = next(m for m in members if m.treatment == "a" and not m.shrink_reason)
    control = next(m for m in members if m.treatment == "control" and not m.shrink_reason)
    members += [Member(sent.amperity_id, "second.sent@example.com", "Ann"),
                Member(control.amperity_id, "second.control@example.com",
                       treatment="control")]
    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, [CampaignSpec(members=members)])
    con = duckdb.connect(path)  # the second rows came from another (smaller) segment
    con.execute("update main.aud_spring_sale set segment_id = 'seg_a', segment_name = 'Z' "
                "where email in ('second.sent@example.com', 'second.control@example.com')")
    con.close()

    result = push(settings_for(klaviyo_emulator, path), PushOptions(campaigns=["spring_sale"]))
    assert result.error is None, result.error

    emails = set(klaviyo_emulator.lists()["Spring Sale A"]["emails"])
    assert {sent.email, "second.sent@example.com"} <= emails  # both identifiers sent
    rows = recipients(path)
    customers = {m.amperity_id for m in members if not m.shrink_reason}
    assert sorted(r[0] for r in rows) == sorted(customers)  # each customer once
    by_id = {r[0]: r for r in rows}
    # one row for the customer, its values aggregated over its rows (min segment)
    assert by_id[sent.amperity_id] == (sent.amperity_id, False, True, "seg_a", "VIP customers")
    assert by_id[control.amperity_id] == (control.amperity_id, True, False, "seg_a",
                                          "VIP customers")
    others = [r for a, r in by_id.items() if a not in (sent.amperity_id, control.amperity_id)]
    assert others and all(r[3:] == ("seg_vip", "VIP customers") for r in others)
