"""Confirming import jobs (loader.sync.apply.Applier.confirm): adds need nothing from
``list_members`` (they were not members when planned), changes are joined with it; either
way ``list_members`` holds what was sent, and a row refused before that is now accepted is
no longer held in ``rejected_members``."""

from __future__ import annotations

from loader.config import STATE_SCHEMA as SCHEMA
from loader.errors import EXIT_OK, EXIT_REJECTED
from loader.warehouse import field_bit
from tests.sync.helpers import Member, query, write_warehouse


def members_state(path: str) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in query(path, f"""
        select identifier, amperity_id, fingerprint, sent_fields, profile_id is null,
            first_sent_at = last_sent_at
        from {SCHEMA}.list_members""")}


def test_adds_and_changes_are_confirmed_with_what_was_sent(
        klaviyo_emulator, spec, warehouse, run_push) -> None:  # noqa: ANN001
    big = Member("amp-big-1", "big@example.com", "Big", "Oslo", "x" * 110_000)
    spec.members.append(big)  # over Klaviyo's 100 KB a profile: refused, held
    write_warehouse(warehouse, [spec])
    first = run_push()
    assert first.exit_code == EXIT_REJECTED
    state = members_state(warehouse)
    sendable = {m.email for m in spec.members
                if m.treatment != "control" and not m.shrink_reason and m is not big}
    assert set(state) == sendable  # one row each: an add is never a member twice
    assert query(warehouse, f"select identifier from {SCHEMA}.rejected_members") == [
        ("big@example.com",)]
    # the masks are the fields sent with a value; first and last sent at the same instant
    for m in spec.members:
        if m.email in state:
            mask = (field_bit("first_name") if m.first_name is not None else 0) | (
                field_bit("city") if m.city is not None else 0)
            assert state[m.email][2] == mask, m
            assert state[m.email][3:] == (True, True)

    big.loyalty_tier = "gold"  # now small enough: accepted, no longer held
    changed = next(m for m in spec.members if m.email in state and m.city is not None)
    changed.city = None  # a change: joined with its member row (its city cleared after)
    write_warehouse(warehouse, [spec])
    second = run_push()
    assert second.exit_code == EXIT_OK, second.error
    assert (sum(r.added for r in second.lists), sum(r.updated for r in second.lists)) == (1, 1)
    after = members_state(warehouse)
    assert set(after) == sendable | {"big@example.com"}
    assert after[changed.email][0] == state[changed.email][0]
    assert after[changed.email][1] != state[changed.email][1]
    assert after[changed.email][2] == (
        field_bit("first_name") if changed.first_name is not None else 0)
    assert after[changed.email][4] is False  # first sent by the first push
    assert query(warehouse, f"select count(*) from {SCHEMA}.rejected_members") == [(0,)]
