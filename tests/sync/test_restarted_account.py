"""A Klaviyo account whose lists are gone (an emulator restarted, mid-push or after): the push
recreates every list and fills it, even when a new list gets an id state already knows."""

from __future__ import annotations

import dataclasses

import pytest

from klaviyo_emulator import Emulator
from loader.errors import EXIT_OK
from tests.sync.helpers import CampaignSpec, expected_lists, write_warehouse
from tests.sync.test_push import assert_lists_exact


def _account(seed: int | None) -> Emulator:
    return Emulator(account_id="DemoAcct", id_seed=seed)


def test_each_emulator_start_draws_its_own_list_ids() -> None:
    ids = []
    for _ in range(2):
        with _account(None) as emu:
            ids.append(emu.store.create_list("Spring Sale A", None).id)
    assert ids[0] != ids[1]
    with _account(5) as one, _account(5) as two:  # an explicit seed stays deterministic
        assert one.store.create_list("x", None).id == two.store.create_list("x", None).id


@pytest.mark.parametrize("first", [None, 6], ids=["full-push-before", "6-members-before"])
def test_list_recreated_with_a_known_id_is_filled(spec: CampaignSpec, warehouse: str,
                                                  run_push, first: int | None) -> None:  # noqa: ANN001
    """The restarted account hands out the same list ids as before (as a restarted emulator
    with a fixed seed does): state for a list the push has just created is never trusted."""
    if first is not None:  # the restart came mid-push: state holds a few members only
        write_warehouse(warehouse, [dataclasses.replace(spec, members=spec.members[:first])])
    with _account(0) as before:
        assert run_push(emulator=before).exit_code == EXIT_OK
        old_ids = {n: v["id"] for n, v in before.lists().items()}
    write_warehouse(warehouse, [spec])
    with _account(0) as after:
        result = run_push(emulator=after)
        assert result.exit_code == EXIT_OK
        assert {n: v["id"] for n, v in after.lists().items()} == old_ids
        assert all(r.created for r in result.lists)
        assert_lists_exact(after, spec)
        sendable = sum(len(v) for v in expected_lists(spec).values())
        assert sum(r.added for r in result.lists) == sendable
        assert sum(r.unchanged for r in result.lists) == 0
