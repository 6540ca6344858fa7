"""An identifier is never cleared from a profile that another list of the account still
sends it for, nor when it was withheld (shared with another customer, not removed):
docs/sync.md, "NULL means NULL"."""

from __future__ import annotations

from pathlib import Path

import pytest

from loader.errors import EXIT_OK
from tests.sync.helpers import query
from tests.sync.test_identity import Row, emails, run, write

PHONE = "+16465550105"
EMAIL = "sharer2@example.com"


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "shared.duckdb")


def campaigns(summit: list[Row], trail: list[Row]) -> dict:
    return {"summit_push": ("email", ["Summit Push"], summit),
            "trail_sms": ("phone_number", ["Trail SMS"], trail)}


def phone_of(emulator, email: str) -> str | None:  # noqa: ANN001
    return emulator.find_profile(email=email)["phone_number"]


def test_a_withheld_phone_another_list_is_keyed_on_is_not_cleared(klaviyo_emulator, path
                                                                  ) -> None:
    """The user trial: c39 is in both campaigns; c43 joins summit_push with c39's phone."""
    c39 = Row("c39", EMAIL, PHONE, list_name="Summit Push", first_name="Sam")
    summit, trail = [c39], [Row("c39", EMAIL, PHONE, list_name="Trail SMS")]
    write(path, campaigns(summit, trail))
    assert run(klaviyo_emulator, path, "summit_push", "trail_sms").exit_code == EXIT_OK
    assert phone_of(klaviyo_emulator, EMAIL) == PHONE

    summit.append(Row("c43", "other43@example.com", PHONE, list_name="Summit Push"))
    write(path, campaigns(summit, trail))
    result = run(klaviyo_emulator, path, "summit_push", "trail_sms")
    assert result.exit_code == EXIT_OK, result.error
    assert sum(r.withheld for r in result.lists) >= 1  # the shared phone is still withheld
    assert sum(r.cleared for r in result.lists) == 0
    assert phone_of(klaviyo_emulator, EMAIL) == PHONE  # the SMS list's profile keeps it
    assert phone_of(klaviyo_emulator, "other43@example.com") is None
    assert EMAIL in emails(klaviyo_emulator, "Trail SMS")
    assert emails(klaviyo_emulator, "Summit Push") == {EMAIL, "other43@example.com"}
    # state still says the phone is in Klaviyo (bit 1 of sent_fields): consistent
    masks = query(path, "select l.list_name, m.sent_fields & 2 from klaviyo_loader.list_members "
                        "as m join (select distinct list_id, list_name from "
                        "klaviyo_loader.list_members) as l using (list_id) "
                        f"where m.identifier = '{EMAIL}'")
    assert masks == [("Summit Push", 2)]
    assert query(path, "select sent_phone_number from klaviyo_loader.list_members "
                       f"where identifier = '{EMAIL}'") == [(PHONE,)]  # what Klaviyo holds
    # pushed again: nothing planned, nothing cleared, the phone still there
    plan = run(klaviyo_emulator, path, "summit_push", "trail_sms", dry_run=True)
    assert sum(r.plan.clears for r in plan.lists) == 0
    again = run(klaviyo_emulator, path, "summit_push", "trail_sms")
    assert sum(r.cleared + r.added + r.updated + r.removed for r in again.lists) == 0
    assert phone_of(klaviyo_emulator, EMAIL) == PHONE


@pytest.mark.parametrize("trail_email", [EMAIL, None])
def test_a_phone_removed_in_one_campaign_is_kept_while_another_list_sends_it(
        klaviyo_emulator, path, trail_email) -> None:
    """Not withheld: summit_push's warehouse lost c39's phone, trail_sms is still keyed on
    it (with or without the email: Klaviyo finds the profile by the phone): the profile
    keeps it. Once trail_sms drops c39, the next summit push clears it."""
    c39 = Row("c39", EMAIL, PHONE, list_name="Summit Push", first_name="Sam")
    summit, trail = [c39], [Row("c39", trail_email, PHONE, list_name="Trail SMS")]
    write(path, campaigns(summit, trail))
    assert run(klaviyo_emulator, path, "summit_push", "trail_sms").exit_code == EXIT_OK

    c39.phone_number = None
    for name in ("Sue", "Sal"):  # a second push (another change: planned again) keeps it too
        c39.first_name = name
        write(path, campaigns(summit, trail))
        result = run(klaviyo_emulator, path, "summit_push")
        assert result.exit_code == EXIT_OK, result.error
        assert sum(r.cleared for r in result.lists) == 0
        assert phone_of(klaviyo_emulator, EMAIL) == PHONE

    trail.clear()
    write(path, campaigns(summit, trail))
    assert run(klaviyo_emulator, path, "trail_sms").exit_code == EXIT_OK
    result = run(klaviyo_emulator, path, "summit_push")
    assert sum(r.cleared for r in result.lists) == 1
    assert phone_of(klaviyo_emulator, EMAIL) is None
    assert query(path, "select sent_phone_number, sent_fields & 2 from "
                       "klaviyo_loader.list_members") == [(None, 0)]


def test_an_old_phone_replaced_by_a_withheld_one_is_cleared(klaviyo_emulator, path) -> None:
    """Withheld is not removed, but only the value withheld is kept: c39's phone changes to
    one c43 also holds (withheld), and no other list sends the old one: it is cleared."""
    c39 = Row("c39", EMAIL, "+16465550199", list_name="Summit Push")
    summit = [c39, Row("c43", "other43@example.com", None, list_name="Summit Push")]
    write(path, campaigns(summit, []))
    assert run(klaviyo_emulator, path, "summit_push").exit_code == EXIT_OK
    c39.phone_number = summit[1].phone_number = PHONE
    write(path, campaigns(summit, []))
    result = run(klaviyo_emulator, path, "summit_push")
    assert result.exit_code == EXIT_OK, result.error
    assert (result.lists[0].withheld, result.lists[0].cleared) == (2, 1)
    assert phone_of(klaviyo_emulator, EMAIL) is None
    assert phone_of(klaviyo_emulator, "other43@example.com") is None
