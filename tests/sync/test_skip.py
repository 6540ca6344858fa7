"""A list whose inputs did not change is not planned again (loader/sync/digest.py), and
every input the skip covers, changed alone, still gets its list planned and sent.

End to end over HTTP against the emulator, as the other sync tests.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
import requests

from loader.errors import EXIT_OK
from tests.reliability.harness import run_loader
from tests.sync.helpers import Member, expected_lists, query, write_warehouse
from tests.sync.test_identity import PHONE, Row, write
from tests.sync.test_identity import run as run_identity
from tests.sync.test_push import assert_lists_exact, imported


def skipped(result: Any) -> list[bool]:
    return [r.skipped for r in result.lists]


def sent(result: Any) -> int:
    return sum(r.added + r.updated + r.removed for r in result.lists)


def execute(path: str, sql: str) -> None:
    con = duckdb.connect(path)
    try:
        con.execute(sql)
    finally:
        con.close()


def test_an_unchanged_push_plans_nothing_and_reports_as_a_full_plan(
        klaviyo_emulator, spec, warehouse, run_push) -> None:
    first = run_push()
    assert first.exit_code == EXIT_OK, first.error
    planned = run_push()  # the first push's digest was stored over the state it left
    assert skipped(planned) == [True, True]
    dry = run_push(dry_run=True)  # a dry run always plans: the counts to compare with
    assert skipped(dry) == [False, False]
    for r, d in zip(planned.lists, dry.lists, strict=True):
        assert (r.unchanged, r.duplicates, r.withheld) == (
            d.plan.unchanged, d.plan.duplicates, d.plan.withheld)
    assert sum(r.unchanged for r in planned.lists) == sum(
        len(v) for v in expected_lists(spec).values())
    assert planned.requests.get("bulk_import_profiles", 0) == 0
    # `dbt build` again with the same rows (a new built_at and invocation id): still skipped
    write_warehouse(warehouse, [spec])
    assert skipped(run_push()) == [True, True]
    assert_lists_exact(klaviyo_emulator, spec)


def test_one_members_attribute_changed_is_sent(klaviyo_emulator, spec, warehouse,
                                                run_push) -> None:
    run_push()
    assert skipped(run_push()) == [True, True]
    m = next(m for m in spec.members if m.treatment == "a" and not m.shrink_reason)
    m.city = "Reykjavik"
    write_warehouse(warehouse, [spec])
    before = imported(klaviyo_emulator)
    result = run_push()
    assert result.exit_code == EXIT_OK, result.error
    assert skipped(result) == [False, False]
    assert sum(r.updated for r in result.lists) == 1
    assert imported(klaviyo_emulator) - before == 1
    assert klaviyo_emulator.find_profile(email=m.email)["location"]["city"] == "Reykjavik"
    assert skipped(run_push()) == [True, True]  # and, sent, it is stable again


def test_the_mapping_changed_replans(klaviyo_emulator, spec, warehouse, run_push) -> None:
    run_push()
    assert skipped(run_push()) == [True, True]
    execute(warehouse, "update main.klaviyo_campaigns set attribute_columns = "
                       "'email,first_name,loyalty_tier'")
    result = run_push()
    assert result.exit_code == EXIT_OK, result.error
    assert skipped(result) == [False, False]
    assert sum(r.updated for r in result.lists) > 0  # every profile's content changed


def test_a_member_removed_by_hand_from_state_is_sent_again(klaviyo_emulator, spec, warehouse,
                                                            run_push) -> None:
    run_push()
    assert skipped(run_push()) == [True, True]
    gone = query(warehouse, "select identifier from klaviyo_loader.list_members "
                            "order by identifier limit 1")[0][0]
    execute(warehouse, f"delete from klaviyo_loader.list_members where identifier = '{gone}'")
    result = run_push()
    assert result.exit_code == EXIT_OK, result.error
    assert False in skipped(result)
    assert sum(r.added for r in result.lists) == 1
    assert query(warehouse, f"select count(*) from klaviyo_loader.list_members "
                            f"where identifier = '{gone}'") == [(1,)]


def test_a_list_with_pending_work_is_planned(klaviyo_emulator, spec, warehouse,
                                             run_push) -> None:
    run_push()
    assert skipped(run_push()) == [True, True]
    # intent a killed run left (a row to send again), its digest still standing
    execute(warehouse, """insert into klaviyo_loader.pending_rows (account_id, list_id, seq,
        op, identifier, amperity_id, fingerprint, nbytes, profile_id, is_new)
        select account_id, list_id, 1, 'upsert', identifier, amperity_id, 'stale', 10,
            profile_id, false
        from klaviyo_loader.list_members order by identifier limit 1""")
    result = run_push()
    assert result.exit_code == EXIT_OK, result.error
    assert sorted(skipped(result)) == [False, True]  # the other list is still skipped
    assert query(warehouse, "select count(*) from klaviyo_loader.pending_rows "
                            "where fingerprint = 'stale'") == [(0,)]


def test_state_from_before_digests_is_planned_once_and_resends_nothing(
        klaviyo_emulator, spec, warehouse, run_push) -> None:
    run_push()
    execute(warehouse, "drop table klaviyo_loader.list_digests")  # an older loader's state
    before = imported(klaviyo_emulator)
    result = run_push()
    assert skipped(result) == [False, False]
    assert sent(result) == 0 and imported(klaviyo_emulator) == before
    assert skipped(run_push()) == [True, True]


def test_a_sample_push_neither_skips_nor_vouches(klaviyo_emulator, spec, warehouse,
                                                run_push) -> None:
    run_push()
    assert skipped(run_push(sample=5)) == [False, False]
    assert skipped(run_push()) == [True, True]


def test_a_phone_another_campaign_now_shares_is_withheld(klaviyo_emulator, tmp_path) -> None:
    """Spring's own rows do not change; Autumn's customer takes Spring's phone: Spring's
    list must be planned again (the identity pass reads every campaign) and withhold it."""
    path = str(tmp_path / "phones.duckdb")
    a = Row("a-1", "a@example.com", PHONE, list_name="Spring")
    b = Row("a-2", "b@example.com", "+442079460999", list_name="Autumn")
    write(path, {"spring": ("email", ["Spring"], [a]), "autumn": ("email", ["Autumn"], [b])})
    assert run_identity(klaviyo_emulator, path, "spring", "autumn").exit_code == EXIT_OK
    assert skipped(run_identity(klaviyo_emulator, path, "spring")) == [True]
    b.phone_number = PHONE
    write(path, {"spring": ("email", ["Spring"], [a]), "autumn": ("email", ["Autumn"], [b])})
    result = run_identity(klaviyo_emulator, path, "spring")
    assert result.exit_code == EXIT_OK, result.error
    assert skipped(result) == [False]
    assert result.lists[0].withheld == 1 and result.lists[0].updated == 1
    # withheld, not removed: A's profile keeps the phone it was sent, and state says so
    assert klaviyo_emulator.find_profile(email="a@example.com")["phone_number"] == PHONE
    assert query(path, "select sent_phone_number from klaviyo_loader.list_members "
                       "where amperity_id = 'a-1'") == [(PHONE,)]


def test_a_push_killed_mid_send_is_finished_by_the_rerun(klaviyo_emulator, spec, warehouse,
                                                         run_push) -> None:
    run_push()
    for m in spec.members[:40]:
        m.first_name = "Zed"
    write_warehouse(warehouse, [spec])
    killed = run_loader(klaviyo_emulator, warehouse, ["spring_sale"],
                        crash_at="job.accepted:1")
    assert killed.killed, killed.stderr
    assert query(warehouse, "select count(*) from klaviyo_loader.list_digests") == [(1,)]
    rerun = run_push()
    assert rerun.exit_code == EXIT_OK, rerun.error
    assert skipped(rerun) == [False, False]
    assert_lists_exact(klaviyo_emulator, spec)
    assert skipped(run_push()) == [True, True]


@pytest.mark.parametrize("stale", [False, True], ids=["stored-part", "stale-stored-part"])
def test_a_verdict_the_pushs_own_sends_changed_is_not_vouched_for(klaviyo_emulator,
                                                                  tmp_path, stale) -> None:
    """A's phone moves to B in one push of both campaigns: at its start the state still says
    A's profile holds the phone, so it is withheld from B; A's new phone is sent in the same
    push. Nothing in the audiences changes after that, yet the next push must send B's phone:
    the digests are stored only if the identity verdicts on the new state are the same.

    The audiences changed, so that push reads no state at its start: it starts from the part
    the last push stored, and the identity pass (which reads the tables) must still be seen
    to run on the state the push began with and its verdicts compared on the state it left,
    also when that stored part is stale (B's member removed from state by hand)."""
    path = str(tmp_path / "moved.duckdb")
    a = Row("a-1", "a@example.com", PHONE, list_name="Spring")
    b = Row("a-2", "b@example.com", None, list_name="Autumn")
    write(path, {"spring": ("email", ["Spring"], [a]), "autumn": ("email", ["Autumn"], [b])})
    assert run_identity(klaviyo_emulator, path, "spring", "autumn").exit_code == EXIT_OK
    assert skipped(run_identity(klaviyo_emulator, path, "spring", "autumn")) == [True, True]
    if stale:
        execute(path, "delete from klaviyo_loader.list_members where amperity_id = 'a-2'")
    a.phone_number, b.phone_number = "+442079460555", PHONE
    write(path, {"spring": ("email", ["Spring"], [a]), "autumn": ("email", ["Autumn"], [b])})
    moved = run_identity(klaviyo_emulator, path, "spring", "autumn")
    assert moved.exit_code == EXIT_OK, moved.error
    assert {r.list_name: r.withheld for r in moved.lists} == {"Spring": 0, "Autumn": 1}
    assert query(path, "select count(*) from klaviyo_loader.list_digests") == [(0,)]
    after = run_identity(klaviyo_emulator, path, "spring", "autumn")
    assert skipped(after) == [False, False]
    assert klaviyo_emulator.find_profile(email="b@example.com")["phone_number"] == PHONE
    assert skipped(run_identity(klaviyo_emulator, path, "spring", "autumn")) == [True, True]


def test_a_change_is_seen_whatever_the_audiences_columns_are_called(
        klaviyo_emulator, spec, warehouse, run_push) -> None:
    """A column named like the digest's table alias once hid every other column."""
    def add_t() -> None:
        execute(warehouse, "alter table main.aud_spring_sale add column t varchar default 'x'")

    add_t()
    run_push()
    assert skipped(run_push()) == [True, True]
    m = next(m for m in spec.members if m.treatment == "a" and not m.shrink_reason)
    m.city = "Tromsø"
    write_warehouse(warehouse, [spec])
    add_t()
    result = run_push()
    assert skipped(result) == [False, False]
    assert sum(r.updated for r in result.lists) == 1


def test_a_skipped_list_is_recorded_when_another_list_makes_a_delivery(
        klaviyo_emulator, spec, warehouse, run_push) -> None:
    twin = next(m for m in spec.members if m.treatment == "a" and not m.shrink_reason)
    spec.members.append(Member("amp-zzz", twin.email, "Twin"))  # a duplicate in list A
    write_warehouse(warehouse, [spec])
    run_push()
    assert skipped(run_push()) == [True, True]
    list_b = klaviyo_emulator.lists()[spec.list_b]["id"]
    resp = requests.delete(f"{klaviyo_emulator.base_url}/api/lists/{list_b}", timeout=10,
                           headers={"Authorization": f"Klaviyo-API-Key {klaviyo_emulator.api_key}",
                                    "revision": "2026-07-15"})
    assert resp.status_code == 204
    result = run_push()
    assert result.exit_code == EXIT_OK, result.error
    assert skipped(result) == [True, False] and result.lists[1].created
    assert_lists_exact(klaviyo_emulator, spec)
    delivery = result.deliveries["spring_sale"]  # the refill is sent: a delivery records both
    want = {n: len(v) for n, v in expected_lists(spec).items()}
    got = dict(query(warehouse, f"select m.list_name, count(distinct r.amperity_id) from "
                                f"klaviyo_loader.campaign_recipients as r join (select distinct "
                                f"list_id, list_name from klaviyo_loader.list_members) as m "
                                f"using (list_id) where r.delivery_id = '{delivery}' "
                                f"and not r.is_control group by 1"))
    assert got == want
    assert result.delivery_totals["spring_sale"]["unchanged"] == want[spec.list_a]
    # the skipped list's duplicate is recorded by this delivery too
    assert query(warehouse, f"select list_name, amperity_id from klaviyo_loader.rejected_rows "
                            f"where delivery_id = '{delivery}'") == [(spec.list_a, "amp-zzz")]


STATE_EDITS = {  # a column a plan reads, edited by hand on one member: SQL set clause
    "list_name": "list_name = list_name || ' (old)'",
    "profile_id": "profile_id = 'edited-by-hand'",
    "fingerprint": "fingerprint = 'edited-by-hand'",
    "amperity_id": "amperity_id = 'edited-by-hand'",
    "sent_email": "sent_email = 'edited.by.hand@example.com'",
    "sent_fields": "sent_fields = xor(coalesce(sent_fields, 0), 1024)",
    "list_id": "list_id = 'edited-by-hand'",
}


@pytest.mark.parametrize("column", sorted(STATE_EDITS))
def test_any_state_column_a_plan_reads_edited_by_hand_replans(
        klaviyo_emulator, spec, warehouse, run_push, column) -> None:
    """The state part of the digest covers every list_members column a plan or the identity
    pass reads: one member's value edited alone gets the lists planned again (a digest that
    ignored the column would skip them)."""
    run_push()
    assert skipped(run_push()) == [True, True]
    one = query(warehouse, "select identifier from klaviyo_loader.list_members "
                           "order by identifier limit 1")[0][0]
    execute(warehouse, f"update klaviyo_loader.list_members set {STATE_EDITS[column]} "
                       f"where identifier = '{one}'")
    result = run_push()
    assert result.exit_code == EXIT_OK, result.error
    assert False in skipped(result)


def test_history_timestamps_edited_by_hand_still_skip(klaviyo_emulator, spec, warehouse,
                                                      run_push) -> None:
    """``first_sent_at`` / ``last_sent_at`` are history no plan reads: not in the digest."""
    run_push()
    execute(warehouse, "update klaviyo_loader.list_members set first_sent_at = "
                       "first_sent_at - interval 1 day, last_sent_at = last_sent_at "
                       "- interval 1 day")
    assert skipped(run_push()) == [True, True]


def test_state_a_push_changed_is_followed_not_read_again(klaviyo_emulator, spec, warehouse,
                                                          run_push) -> None:
    """The end of a push knows the state it left from the rows its steps wrote (adds,
    changes, a field cleared, removals: ``Digests.changing``), not by hashing every member
    again: the digests it stores must be those of that state, so the next push, with
    nothing changed, skips both lists; and the state part it followed equals a fresh read."""
    run_push()
    live = [m for m in spec.members if m.treatment in ("a", "b") and not m.shrink_reason]
    with_city = [m for m in live if m.city]
    live[0].city = "Reykjavik"  # a change
    with_city[-1].city = None  # a field cleared
    spec.members.remove(live[1])  # a removal
    spec.members.append(Member("new-1", "new-1@example.com", "New", "Oslo", "gold", "b"))
    write_warehouse(warehouse, [spec])
    result = run_push()
    assert result.exit_code == EXIT_OK, result.error
    assert skipped(result) == [False, False]
    assert (sum(r.added for r in result.lists), sum(r.removed for r in result.lists),
            sum(r.cleared for r in result.lists)) == (1, 1, 1)
    # what the push stored vouches for the state it left: nothing to do, nothing planned
    again = run_push()
    assert skipped(again) == [True, True], "the push's followed state disagreed with a read"
    assert sent(again) == 0
    assert_lists_exact(klaviyo_emulator, spec)


def _first_member(warehouse: str) -> str:
    return query(warehouse, "select identifier from klaviyo_loader.list_members "
                            "order by identifier limit 1")[0][0]


def _another(spec: Any, but: str) -> Member:
    return next(m for m in spec.members
                if m.treatment == "a" and not m.shrink_reason and m.email != but)


def test_a_push_whose_audience_changed_reads_no_state(klaviyo_emulator, spec, warehouse,
                                                      run_push) -> None:
    """Stage one of the skip (every input but state) fails for every list once the audience
    changed: the push reads no state at its start and follows the part the last push stored.
    Seen from outside: a member removed from state by hand before that push is sent again by
    it, but the digests it stores rest on the part it did not read (which still held the
    member), so the next push, unchanged, reads state fresh, disagrees and plans (sending
    nothing); the one after skips. A push that read state at its start would skip there."""
    run_push()
    assert skipped(run_push()) == [True, True]  # the account's latest run stored its part
    gone = _first_member(warehouse)
    execute(warehouse, f"delete from klaviyo_loader.list_members where identifier = '{gone}'")
    _another(spec, gone).city = "Reykjavik"
    write_warehouse(warehouse, [spec])
    changed = run_push()
    assert changed.exit_code == EXIT_OK, changed.error
    assert skipped(changed) == [False, False]
    assert (sum(r.added for r in changed.lists), sum(r.updated for r in changed.lists)) == (1, 1)
    replanned = run_push()
    assert skipped(replanned) == [False, False], "the changed push read state at its start"
    assert sent(replanned) == 0
    assert skipped(run_push()) == [True, True]
    assert_lists_exact(klaviyo_emulator, spec)


def test_state_edited_after_a_push_that_read_none_is_read_fresh(klaviyo_emulator, spec,
                                                                warehouse, run_push) -> None:
    """A skip is decided on state read from the tables, never on the part a push stored: the
    push whose audience changed read no state and stored digests over the part it followed;
    a member then removed from state by hand is sent again by the next push, whose inputs
    did not change."""
    run_push()
    m = _another(spec, "")
    m.city = "Reykjavik"
    write_warehouse(warehouse, [spec])
    changed = run_push()
    assert skipped(changed) == [False, False]
    assert sum(r.updated for r in changed.lists) == 1
    gone = _first_member(warehouse)
    execute(warehouse, f"delete from klaviyo_loader.list_members where identifier = '{gone}'")
    result = run_push()
    assert result.exit_code == EXIT_OK, result.error
    assert False in skipped(result), "skipped on the stored state part"
    assert sum(r.added for r in result.lists) == 1
    assert query(warehouse, f"select count(*) from klaviyo_loader.list_members "
                            f"where identifier = '{gone}'") == [(1,)]
    assert skipped(run_push()) == [True, True]


def test_a_push_after_one_that_stored_no_digest_reads_state(klaviyo_emulator, spec, warehouse,
                                                            run_push) -> None:
    """The stored part stands for state only when the push that stored it is the account's
    latest run: after a sample push (which stores no digest but changes state) the next
    push reads state at its start even though its audience changed, so the digests it
    stores hold and the push after it skips."""
    run_push()
    assert skipped(run_push()) == [True, True]
    gone = _first_member(warehouse)
    execute(warehouse, f"delete from klaviyo_loader.list_members where identifier = '{gone}'")
    assert run_push(sample=3).exit_code == EXIT_OK  # a later run than the part's
    _another(spec, gone).city = "Reykjavik"
    write_warehouse(warehouse, [spec])
    changed = run_push()
    assert changed.exit_code == EXIT_OK, changed.error
    assert skipped(changed) == [False, False]
    assert skipped(run_push()) == [True, True]
    assert_lists_exact(klaviyo_emulator, spec)


def test_a_stored_state_part_edited_by_hand_is_not_trusted(klaviyo_emulator, spec, warehouse,
                                                           run_push) -> None:
    """A stored state part that is not one this loader wrote is ignored (the tables are read
    instead): the push still runs, and the digests it stores hold for the next push."""
    run_push()
    assert skipped(run_push()) == [True, True]
    # the part's format kept (this loader's), its figures replaced by something else
    execute(warehouse, "update klaviyo_loader.list_digests set state = "
                       "json_merge_patch(state, '{\"tables\": [[1, \"x\", 2], 3]}')")
    _another(spec, "").city = "Reykjavik"
    write_warehouse(warehouse, [spec])
    changed = run_push()
    assert changed.exit_code == EXIT_OK, changed.error
    assert sum(r.updated for r in changed.lists) == 1
    assert skipped(run_push()) == [True, True]


def _delete_klaviyo_list(emulator: Any, name: str) -> None:
    list_id = emulator.lists()[name]["id"]
    resp = requests.delete(f"{emulator.base_url}/api/lists/{list_id}", timeout=10,
                           headers={"Authorization": f"Klaviyo-API-Key {emulator.api_key}",
                                    "revision": "2026-07-15"})
    assert resp.status_code == 204


def test_verdicts_on_state_the_push_changed_before_its_first_plan_vouch_for_nothing(
        klaviyo_emulator, tmp_path) -> None:
    """A skipped list was checked against the state the push began with; the identity pass
    must have run on that state too. Here it cannot: Autumn's list was deleted in Klaviyo, so
    its old members leave state before its plan, and with them the profile that held the
    phone Spring's customer was refused. Spring is skipped (on the state the push began
    with), the pass then finds the phone free: the push must store no digest, so that the
    next push plans Spring and sends the phone (a digest stored over the new state would
    skip Spring for ever with the phone withheld)."""
    path = str(tmp_path / "recreated.duckdb")
    a = Row("a-1", "a@example.com", "+442079460555", list_name="Spring")
    b = Row("a-2", "b@example.com", PHONE, list_name="Autumn")

    def build() -> None:
        write(path, {"spring": ("email", ["Spring"], [a]), "autumn": ("email", ["Autumn"], [b])})

    build()
    assert run_identity(klaviyo_emulator, path, "spring", "autumn").exit_code == EXIT_OK
    a.phone_number, b.phone_number = PHONE, None  # Autumn is not pushed: b keeps it in state
    build()
    spring = run_identity(klaviyo_emulator, path, "spring")
    assert spring.exit_code == EXIT_OK, spring.error
    assert spring.lists[0].withheld == 1  # b's profile holds the phone
    _delete_klaviyo_list(klaviyo_emulator, "Autumn")
    both = run_identity(klaviyo_emulator, path, "autumn", "spring")
    assert both.exit_code == EXIT_OK, both.error
    assert {r.list_name: r.skipped for r in both.lists} == {"Autumn": False, "Spring": True}
    assert query(path, f"select count(*) from klaviyo_loader.list_digests "
                       f"where run_id = '{both.run_id}'") == [(0,)]
    after = run_identity(klaviyo_emulator, path, "spring")
    assert skipped(after) == [False]
    assert after.lists[0].withheld == 0
    assert after.lists[0].updated == 1  # the phone is sent (whether Klaviyo keeps it while
    # b's profile holds it is Klaviyo's matter: forgetting the deleted list forgot that)
