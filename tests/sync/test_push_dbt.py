"""`loader push` of the real dbt-built demo campaigns (fixture `built_warehouse`)."""

from __future__ import annotations

import shutil
from datetime import datetime

import duckdb

from loader.config import Settings
from loader.klaviyo.payloads import ident, placement
from loader.sync import PushOptions, push
from loader.warehouse import attribute_columns, read_campaigns

# Klaviyo's profile attributes (its Profile resource), written here independently of
# loader/klaviyo/payloads.py: the fields a profile holds at the top level
PROFILE_FIELDS = ("email", "phone_number", "external_id", "first_name", "last_name",
                  "organization", "locale", "title", "image")


def test_push_demo_campaigns_mirrors_every_audience(built_warehouse, klaviyo_emulator,
                                                    tmp_path) -> None:
    path = str(tmp_path / "copy.duckdb")
    shutil.copy(built_warehouse.duckdb_path, path)  # the session's warehouse stays untouched
    settings = Settings.from_env({"KLAVIYO_BASE_URL": klaviyo_emulator.base_url,
                                  "KLAVIYO_API_KEY": klaviyo_emulator.api_key,
                                  "DUCKDB_PATH": path})
    first = push(settings, PushOptions(at=datetime(2027, 1, 1, 9, 0)))
    assert first.error is None, first.error
    assert first.campaigns, "no campaign was due"
    con = duckdb.connect(path, read_only=True)
    # the summary's customers/rows/shrink (from klaviyo_delivery_summary) are the audience's
    relations = {c.campaign_id: c.audience_relation for c in read_campaigns(con)}
    for r in first.lists:
        customers, rows, shrink = con.execute(
            f"select count(distinct amperity_id), count(*) filter (where shrink_reason is null), "
            f"count(distinct amperity_id) filter (where shrink_reason is not null) "
            f"from {relations[r.campaign_id]} where list_name = ? and not is_control",
            [r.list_name]).fetchone()
        assert (r.customers, r.rows, r.shrink) == (customers, rows, shrink), r.list_name
    lists = klaviyo_emulator.lists()
    profiles = {p["id"]: p for p in klaviyo_emulator.profiles()}
    checked = expected_checks = 0
    campaigns = [c for c in read_campaigns(con) if c.campaign_id in first.campaigns]
    # one Klaviyo profile per identifier: where two customers share one (within or across
    # lists) the profile holds one of them, so attributes are compared on the others only
    shared = {r[0] for r in con.execute(" union all ".join(
        f"select {ident(c.identifier)} as i, amperity_id from {c.audience_relation} "
        f"where not is_control and shrink_reason is null" for c in campaigns)
        .join(["select i from (", ") group by i having count(distinct amperity_id) > 1"])
    ).fetchall()}
    # identifiers withheld from a customer (shared with another, or an invalid phone number)
    withheld = {(a, r.split(":")[0].removeprefix("withheld_")) for a, r in con.execute(
        "select amperity_id, reason from klaviyo_loader.rejected_rows "
        "where starts_with(reason, 'withheld_')").fetchall()}
    assert any(k == "phone_number" for _, k in withheld)  # the demo has invalid numbers
    # every customer a campaign's SQL left out for an invalid identifier (the demo's broken
    # emails) is a rejected row with its reason, control members included
    refused = set(con.execute(" union all ".join(
        f"select distinct campaign_id, amperity_id, shrink_reason from {c.audience_relation} "
        f"where starts_with(shrink_reason, 'invalid_')" for c in read_campaigns(con)
        if c.campaign_id in first.campaigns)).fetchall())
    assert any(r == "invalid_email" for *_, r in refused)
    assert set(con.execute(
        "select campaign_id, amperity_id, split_part(reason, ':', 1) "
        "from klaviyo_loader.rejected_rows where starts_with(reason, 'invalid_') "
        "and reason like '%the campaign''s normalization%'").fetchall()) == refused
    for c in campaigns:
        cols = attribute_columns(con, c)
        key = {"email": "emails", "phone_number": "phone_numbers",
               "external_id": "external_ids"}[c.identifier]
        for name in c.list_names:
            want = con.execute(f"""
                select {ident(c.identifier)}, arg_min(columns(*), amperity_id)
                from {c.audience_relation} where list_name = ? and not is_control
                and shrink_reason is null and {ident(c.identifier)} is not null group by 1""",
                [name]).fetchall()
            assert lists[name][key] == {w[0] for w in want}, f"{c.campaign_id} → {name}"
            by_ident = {p[c.identifier]: p for pid, p in profiles.items()
                        if pid in set(lists[name]["members"])}
            names = [d[0] for d in con.execute(
                f"select * from {c.audience_relation} limit 0").description]
            rows = [w for w in want if w[0] not in shared][:200]
            expected_checks += len(rows)
            for row in rows:
                values = dict(zip(names, row[1:], strict=True))
                p = by_ident[row[0]]
                for col in cols:
                    if placement(col) != "profile" or col not in PROFILE_FIELDS or \
                            values[col] is None:
                        continue
                    if (values["amperity_id"], col) in withheld:
                        assert p.get(col) is None, (c.campaign_id, col)
                    else:
                        assert p.get(col) == str(values[col]), (c.campaign_id, col)
                checked += 1
    con.close()
    assert checked == expected_checks >= 200

    before = klaviyo_emulator.stats()["requests"].get("bulk_import_profiles", 0)
    second = push(settings, PushOptions(campaigns=first.campaigns,
                                        at=datetime(2027, 1, 1, 9, 0)))
    assert second.error is None
    assert klaviyo_emulator.stats()["requests"].get("bulk_import_profiles", 0) == before
