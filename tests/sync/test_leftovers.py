"""Pending rows a killed run left (sends Klaviyo may hold unrecorded) make their keys
uncertain for the rerun's plan (loader/sync/plan.py, ``Planner._members``): a desired key is
re-sent although ``list_members`` says it is unchanged, a key no longer desired is removed
although state never confirmed it, and a list with leftovers is never skipped by its digest.
End to end over HTTP against the emulator; tests/reliability/test_uncertain.py kills real
pushes for the same cases.
"""

from __future__ import annotations

from loader.errors import EXIT_OK
from tests.sync.helpers import query
from tests.sync.test_push import assert_lists_exact, imported
from tests.sync.test_skip import execute

LEFTOVER = """insert into klaviyo_loader.pending_rows (account_id, list_id, seq, op, identifier,
    amperity_id, fingerprint, nbytes, profile_id, is_new, sent_email, fields)
    select account_id, list_id, {seq}, 'upsert', {identifier}, amperity_id, 'killed-run', 10,
        null, {is_new}, {identifier}, 0
    from klaviyo_loader.list_members where list_name = 'Spring Sale A'
    order by identifier limit 1"""


def test_leftover_keys_are_resent_or_removed_and_the_list_is_planned(
        klaviyo_emulator, spec, warehouse, run_push) -> None:  # noqa: ANN001
    assert run_push().exit_code == EXIT_OK
    assert [r.skipped for r in run_push().lists] == [True, True]
    before = imported(klaviyo_emulator)
    # a killed run's intent: an unchanged member (its job may have carried other values) and
    # a newcomer who has left the audience since (its job may have added it)
    execute(warehouse, LEFTOVER.format(seq=1, identifier="identifier", is_new="false"))
    execute(warehouse, LEFTOVER.format(seq=2, identifier="'gone@example.com'", is_new="true"))
    plan = run_push(dry_run=True)
    a = next(r for r in plan.lists if r.list_name == "Spring Sale A")
    assert (a.skipped, a.updated, a.added, a.removed) == (False, 1, 0, 1)
    assert a.plan is not None and a.plan.uncertain == 2
    result = run_push()
    assert result.exit_code == EXIT_OK, result.error
    a = next(r for r in result.lists if r.list_name == "Spring Sale A")
    assert (a.skipped, a.updated, a.added, a.removed) == (False, 1, 0, 1)
    # list B has no leftovers: planned only because list A's sends open a delivery
    assert sum(r.added + r.updated + r.removed for r in result.lists) == 2
    assert imported(klaviyo_emulator) == before + 1  # the uncertain member only
    assert_lists_exact(klaviyo_emulator, spec)
    assert query(warehouse, "select count(*) from klaviyo_loader.pending_rows") == [(0,)]
    assert query(warehouse, "select count(*) from klaviyo_loader.list_members "
                            "where identifier = 'gone@example.com'") == [(0,)]
    # the leftovers are settled: the next push skips both lists again
    assert [r.skipped for r in run_push().lists] == [True, True]
