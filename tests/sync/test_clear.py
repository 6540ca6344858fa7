"""NULL means NULL in Klaviyo: a profile or location field set to NULL in the warehouse is
cleared with Update Profile, for those profiles only; an unchanged push sends no update."""

from __future__ import annotations

from loader.errors import EXIT_OK
from tests.sync.helpers import CampaignSpec, query, write_warehouse


def updates(emulator) -> int:  # noqa: ANN001
    """Update Profile requests that patched a profile: each push that writes first probes
    the key's scopes with one PATCH of a list and one of a profile that do not exist
    (loader/klaviyo/scopes.py), so those are taken off."""
    requests = emulator.stats()["requests"]
    return int(requests.get("update_profile", 0)) - int(requests.get("update_list", 0))


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


def test_a_mass_clear_is_held_back_until_allowed(klaviyo_emulator, spec: CampaignSpec,
                                                 warehouse, run_push) -> None:
    """A column renamed upstream turns a field NULL for everyone: the push does not clear
    it (a warning names campaign, list, field and counts), other clears still go, and state
    keeps the field to clear, so a push with --allow-clears clears it then."""
    assert run_push().exit_code == EXIT_OK
    sendable = [m for m in spec.members if m.treatment != "control" and not m.shrink_reason]
    had = {m.email: m.first_name for m in sendable if m.first_name is not None}
    for m in spec.members:
        m.first_name = None  # the source column was renamed: every first name is NULL
    located = [m for m in sendable if m.city is not None and m.email in had][:2]
    for m in located:
        m.city = None  # a few real clears, below the guard
    write_warehouse(warehouse, [spec])
    by_list = {name: sum(1 for m in sendable if m.email in had
                         and m.treatment == ("a" if name == spec.list_a else "b"))
               for name in (spec.list_a, spec.list_b)}
    assert min(by_list.values()) >= 10

    plan = run_push(dry_run=True)
    assert sum(r.plan.clears for r in plan.lists) == 2  # the city clears only
    held = [w for w in plan.warnings if "'first_name'" in w]
    assert len(held) == 2, plan.warnings

    result = run_push()
    assert result.exit_code == EXIT_OK, result.error
    assert sum(r.cleared for r in result.lists) == 2
    assert updates(klaviyo_emulator) == 2
    for name, n in by_list.items():
        assert any(w.startswith(f"campaign 'spring_sale', list '{name}': the push was to "
                                f"clear 'first_name' on {n} of the {n} member(s)")
                   and "--allow-clears first_name" in w for w in result.warnings), (
            result.warnings)
    for email, first_name in had.items():
        assert klaviyo_emulator.find_profile(email=email)["first_name"] == first_name
    assert "city" not in klaviyo_emulator.find_profile(email=located[0].email)["location"]

    # not allowed: held back again, nothing sent
    again = run_push()
    assert sum(r.cleared for r in again.lists) == 0
    assert len([w for w in again.warnings if "'first_name'" in w]) == 2
    assert updates(klaviyo_emulator) == 2

    # allowed: every member that had one is cleared, the two patched before included
    allowed = run_push(allow_clears=["first_name"])
    assert allowed.exit_code == EXIT_OK, allowed.error
    assert not [w for w in allowed.warnings if "'first_name'" in w]
    assert sum(r.cleared for r in allowed.lists) == len(had)
    for email in had:
        assert klaviyo_emulator.find_profile(email=email)["first_name"] is None, email
    assert updates(klaviyo_emulator) == 2 + len(had)
    last = run_push()
    assert sum(r.cleared for r in last.lists) == 0 and not last.warnings
    assert updates(klaviyo_emulator) == 2 + len(had)
