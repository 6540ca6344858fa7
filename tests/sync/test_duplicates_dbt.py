"""Shared identifiers through the real `dbt build` and `loader push` (contracts C1 and C2).

A copy of the dbt project gains two campaigns over everyone: one keyed on phone_number (also
sending email) and one keyed on email (also sending phone_number). The demo data is edited so
that two customers share an email and two others share a phone. Each campaign then sends one
customer per campaign identifier (the other is a duplicate, recorded once) and withholds the
shared other identifier from both customers (recorded, counted); Klaviyo (the emulator, which
matches profiles on every identifier as Klaviyo does) ends up with one profile per customer.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import duckdb
import phonenumbers

from loader import demo_data
from loader.sync import PushOptions, push
from tests.fixtures.warehouse import DBT, REPO, warehouse_env
from tests.sync.conftest import settings_for

SEGMENT = """select amperity_id from {{ ref('stg_amperity__customer_360') }}
"""

CAMPAIGN = """{{{{ klaviyo_campaign(
    name='{name}',
    campaign_id='{cid}',
    include=['seg_everyone'],
    identifier='{identifier}',
    sub_audiences=[{{'name': 'All', 'treatments': [
        {{'name': 'Send', 'percent': 100, 'list_name': '{list_name}'}}]}}],
    timing={{'type': 'one_time', 'send_at': 'asap'}},
) }}}}
"""

LISTS = {"dup_sms": ("phone_number", "Dup SMS"), "dup_email": ("email", "Dup email")}


def project(root: Path) -> Path:
    dst = root / "project"
    for name in ("dbt_project.yml", "profiles.yml"):
        dst.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, dst / name)
    for name in ("models", "macros", "seeds"):
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, dst / name)
    # the generic data tests the models use; not the project's singular tests
    shutil.copytree(REPO / "tests" / "dbt" / "generic", dst / "tests" / "dbt" / "generic")
    for other in (dst / "models" / "campaigns").iterdir():  # only this test's campaigns
        other.unlink()
    (dst / "models" / "segments" / "seg_everyone.sql").write_text(SEGMENT)
    for cid, (identifier, list_name) in LISTS.items():
        (dst / "models" / "campaigns" / f"{cid}.sql").write_text(CAMPAIGN.format(
            name=cid.replace("_", " "), cid=cid, identifier=identifier, list_name=list_name))
    return dst


def share_identifiers(path: Path) -> None:
    """Customer 2 takes customer 1's email; customer 4 takes customer 3's phone."""
    con = duckdb.connect(str(path))
    ids = [r[0] for r in con.execute("""
        select amperity_id from amperity.merged_customers
        where email like '%@%.%' and phone like '+1%' and length(phone) = 12
        order by amperity_id limit 4""").fetchall()]
    con.execute("""update amperity.merged_customers set email = (select email from
        amperity.merged_customers where amperity_id = ?) where amperity_id = ?""",
                [ids[0], ids[1]])
    con.execute("""update amperity.merged_customers set phone = (select phone from
        amperity.merged_customers where amperity_id = ?) where amperity_id = ?""",
                [ids[2], ids[3]])
    con.close()


def valid_phone(value: str | None) -> bool:
    if not value:
        return False
    try:
        number = phonenumbers.parse(value)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number) and phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.E164) == value


def test_shared_identifiers_are_resolved_and_withheld(tmp_path, klaviyo_emulator) -> None:
    proj = project(tmp_path)
    path = tmp_path / "dup.duckdb"
    demo_data.generate(path, 400, 7, "amperity")
    share_identifiers(path)
    run = subprocess.run(
        [str(DBT), "build", "--profiles-dir", str(proj), "--project-dir", str(proj),
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
         "--select", "+klaviyo_delivery_summary", "+klaviyo_campaigns",
         "--vars", json.dumps({"klaviyo_campaigns": list(LISTS)})],
        cwd=proj, env=warehouse_env(path), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr

    result = push(settings_for(klaviyo_emulator, str(path)),
                  PushOptions(campaigns=list(LISTS)))
    assert result.error is None, result.error
    con = duckdb.connect(str(path), read_only=True)
    # the rows that could be sent, and those the campaign SQL resolved as duplicates (C1)
    rows = {cid: con.execute(f"""select amperity_id, email, phone_number from {cid}
        where (shrink_reason is null or starts_with(shrink_reason, 'duplicate_'))
        and not is_control""").fetchall() for cid in LISTS}
    rejected = con.execute("""select campaign_id, amperity_id, reason
        from klaviyo_loader.rejected_rows""").fetchall()
    con.close()
    lists = klaviyo_emulator.lists()
    profiles = {p["id"]: p for p in klaviyo_emulator.profiles()}
    by_list = {r.list_name: r for r in result.lists}
    owner: dict[str, dict[str, str]] = {}  # list -> profile id -> the customer sent
    for cid, (identifier, list_name) in LISTS.items():
        other = "email" if identifier == "phone_number" else "phone_number"
        key = 1 if identifier == "email" else 2
        members = [r for r in rows[cid] if identifier != "phone_number" or valid_phone(r[2])]
        holders: dict[str, set[str]] = {}
        for r in members:
            holders.setdefault(r[key], set()).add(r[0])
        sent = {min(ids) for ids in holders.values()}
        losers = {a for ids in holders.values() for a in ids if a != min(ids)}
        assert losers, f"{cid}: the edit made no duplicate"
        # one profile per customer sent, holding its campaign identifier
        member_ids = lists[list_name]["members"]
        assert len(member_ids) == len(sent) == by_list[list_name].added
        assert {profiles[p][identifier] for p in member_ids} == set(holders)
        # the losers are recorded (once) and counted
        dups = {a for c, a, reason in rejected
                if c == cid and reason.startswith(f"duplicate_{identifier}:")}
        assert dups == losers
        assert by_list[list_name].duplicates == len(losers)
        # the other identifier shared by two sent customers is withheld from both
        values: dict[str, set[str]] = {}
        for r in members:
            if r[0] in sent and r[3 - key]:
                values.setdefault(r[3 - key], set()).add(r[0])
        shared = {v for v, ids in values.items() if len(ids) > 1}
        assert shared, f"{cid}: the edit made no shared {other}"
        withheld = [(a, reason) for c, a, reason in rejected
                    if c == cid and reason.startswith(f"withheld_{other}:")]
        assert {a for a, _ in withheld} >= {a for v in shared for a in values[v]}
        assert by_list[list_name].withheld == sum(
            1 for c, _, reason in rejected if c == cid and reason.startswith("withheld_"))
        owner[list_name] = {p: min(holders[profiles[p][identifier]]) for p in member_ids}
    # a profile in both lists is one customer's (no two customers merged into one profile)
    sms, email = owner["Dup SMS"], owner["Dup email"]
    both = set(sms) & set(email)
    assert both and all(sms[p] == email[p] for p in both)
