"""The push's duplicate count agrees with dbt's `klaviyo_delivery_summary` (real dbt build).

A copy of the dbt project gains two campaigns over everyone: one keyed on phone_number (also
sending email) and one keyed on email (also sending phone_number). The demo data is edited so
that two customers share an email and two others share a phone; `dbt build` and `loader push`
then must count the same customers as duplicates, and send each shared identifier once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import duckdb

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
    (dst / "tests" / "dbt").mkdir(parents=True)
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


def test_push_counts_duplicates_as_the_delivery_summary(tmp_path, klaviyo_emulator) -> None:
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

    con = duckdb.connect(str(path), read_only=True)
    summary = dict(con.execute("""select list_name, sum(duplicate_identifier_customers)
        from klaviyo_delivery_summary where not is_control group by 1""").fetchall())
    resolved = dict(con.execute("""select list_name, sum(shrink_duplicate_identifier)
        from klaviyo_delivery_summary where not is_control group by 1""").fetchall())
    con.close()
    # Each campaign's own identifier is resolved in dbt (one customer per value, the other
    # shrunk as duplicate_<identifier>); the other pair shares an identifier that is also sent.
    assert resolved["Dup SMS"] >= 1 and resolved["Dup email"] >= 1
    assert summary["Dup SMS"] >= 2 and summary["Dup email"] >= 2

    result = push(settings_for(klaviyo_emulator, str(path)),
                  PushOptions(campaigns=list(LISTS)))
    assert result.error is None, result.error
    assert {r.list_name: r.duplicates for r in result.lists} == summary
    lists = klaviyo_emulator.lists()
    for r in result.lists:
        # one profile a sent customer: nothing merged silently in Klaviyo
        assert len(lists[r.list_name]["members"]) == r.added
    con = duckdb.connect(str(path), read_only=True)
    rejected = con.execute("""select list_name, count(*) from klaviyo_loader.rejected_rows
        where reason like 'duplicate_identifier%' group by 1""").fetchall()
    con.close()
    assert {n for n, _ in rejected} == set(summary)
