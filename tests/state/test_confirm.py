"""Confirming import jobs into ``list_members``: a changed member's row is replaced (one row a
key, its first send kept), a new member gets one row, an unchanged one is left alone."""

from __future__ import annotations

from pathlib import Path

from loader.sync import PushOptions, push
from tests.sync.conftest import settings_for
from tests.sync.helpers import CampaignSpec, Member, make_members, query, write_warehouse

MEMBERS = ("select identifier, fingerprint, first_sent_at, last_sent_at, count(*) over "
           "(partition by list_id, identifier) from klaviyo_loader.list_members")


def test_a_second_push_replaces_changed_members_and_keeps_their_first_send(
        klaviyo_emulator, tmp_path: Path) -> None:
    spec = CampaignSpec(members=make_members(40, seed=7))
    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, [spec])
    settings = settings_for(klaviyo_emulator, path)
    first = push(settings, PushOptions(campaigns=["spring_sale"]))
    assert first.error is None, first.error
    before = {r[0]: r for r in query(path, MEMBERS)}

    sent = [m for m in spec.members if m.treatment == "a" and not m.shrink_reason]
    changed = {m.email for m in sent[:5]}
    for m in sent[:5]:
        m.city = "Changed"
    spec.members.append(Member("amp-new", "new@example.com", "Nina"))
    write_warehouse(path, [spec])
    second = push(settings, PushOptions(campaigns=["spring_sale"]))
    assert second.error is None, second.error
    assert sum(r.updated for r in second.lists) == 5
    assert sum(r.added for r in second.lists) == 1

    after = {r[0]: r for r in query(path, MEMBERS)}
    assert all(r[4] == 1 for r in after.values())  # one row a key, however it was confirmed
    assert set(after) == set(before) | {"new@example.com"}
    for email in changed:  # replaced: a new fingerprint, the first send kept
        assert after[email][1] != before[email][1]
        assert after[email][2] == before[email][2]
        assert after[email][3] > before[email][3]
    for email in set(before) - changed:  # unchanged members are not touched
        assert after[email] == before[email]
