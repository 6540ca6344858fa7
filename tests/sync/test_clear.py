"""NULL means NULL in Klaviyo: a profile or location field set to NULL in the warehouse is
cleared with Update Profile, for those profiles only; an unchanged push sends no update."""

from __future__ import annotations

from loader.errors import EXIT_OK
from tests.sync.helpers import CampaignSpec, query, write_warehouse


def updates(emulator) -> int:  # noqa: ANN001
    return int(emulator.stats()["requests"].get("update_profile", 0))


def test_fields_set_to_null_are_cleared_once(klaviyo_emulator, spec: CampaignSpec, warehouse,
                                             run_push) -> None:
    assert run_push().exit_code == EXIT_OK
    sendable = [m for m in spec.members if m.treatment != "control" and not m.shrink_reason]
    named = [m for m in sendable if m.first_name is not None and m.city is not None][:3]
    for m in named:
        m.first_name = None  # a profile field
    located = next(m for m in sendable if m.city is not None and m not in named)
    located.city = None  # a location field
    never = next(m for m in sendable if m.first_name is None and m not in named)
    never.loyalty_tier = "changed"  # sent again, with no first name, as before: no PATCH
    write_warehouse(warehouse, [spec])

    plan = run_push(dry_run=True)
    assert sum(r.plan.clears for r in plan.lists) == 4
    assert plan.requests["update_profile"] == 4
    result = run_push()
    assert result.exit_code == EXIT_OK, result.error
    assert sum(r.cleared for r in result.lists) == 4
    assert updates(klaviyo_emulator) == 4
    for m in named:
        p = klaviyo_emulator.find_profile(email=m.email)
        assert p["first_name"] is None and p["location"].get("city") == m.city, m.email
    p = klaviyo_emulator.find_profile(email=located.email)
    assert "city" not in p["location"] and p["first_name"] == located.first_name
    assert klaviyo_emulator.find_profile(email=never.email)["properties"]["loyalty_tier"] == (
        "changed")
    # the state's masks now match: an unchanged push sends no update request
    again = run_push()
    assert sum(r.cleared for r in again.lists) == 0
    assert updates(klaviyo_emulator) == 4
    # a value again, then NULL again: cleared again
    named[0].first_name = "Back"
    write_warehouse(warehouse, [spec])
    run_push()
    assert klaviyo_emulator.find_profile(email=named[0].email)["first_name"] == "Back"
    named[0].first_name = None
    write_warehouse(warehouse, [spec])
    run_push()
    assert klaviyo_emulator.find_profile(email=named[0].email)["first_name"] is None
    assert updates(klaviyo_emulator) == 5


def test_membership_only_and_unmapped_fields_are_not_cleared(klaviyo_emulator, spec, warehouse,
                                                             run_push) -> None:
    run_push()
    spec.update_contacts = False  # membership only from now on: attributes are left alone
    write_warehouse(warehouse, [spec])
    run_push()
    assert updates(klaviyo_emulator) == 0
    some = next(m for m in spec.members if m.first_name and m.treatment != "control"
                and not m.shrink_reason)
    assert klaviyo_emulator.find_profile(email=some.email)["first_name"] == some.first_name
    masks = query(warehouse, "select count(*) from klaviyo_loader.list_members "
                             "where sent_fields is null")
    assert masks == [(0,)]  # the fields sent before are still known
