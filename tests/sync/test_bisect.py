"""A job body Klaviyo refuses as a whole is halved until the bad profile is isolated: that row
is rejected with Klaviyo's reason and every other row is still sent."""

from __future__ import annotations

import json
from pathlib import Path

from loader.config import KlaviyoCredentials
from loader.klaviyo.client import KlaviyoClient
from loader.state import connect, ensure_schema
from loader.store import Store
from loader.sync.apply import Applier
from loader.sync.plan import Planner
from loader.warehouse import attribute_columns, read_campaigns
from tests.klaviyo.test_client import FakeTime, server  # noqa: F401  (fixture)
from tests.sync.helpers import CampaignSpec, Member, write_warehouse


def test_refused_body_is_halved_to_the_bad_profile(server, tmp_path: Path) -> None:  # noqa: F811
    url, script = server
    members = [Member(f"amp-{i}", f"u{i}@example.com", "A", None, None) for i in range(4)]
    path = str(tmp_path / "w.duckdb")
    write_warehouse(path, [CampaignSpec(members=members)])

    def refuse_if_bad(body: bytes) -> bool:
        profiles = json.loads(body)["data"]["attributes"]["profiles"]["data"]
        return any(p["attributes"]["email"] == "u2@example.com" for p in profiles)

    con = connect(path)
    ensure_schema(con, "klaviyo_loader")
    campaign = read_campaigns(con)[0]
    planner = Planner(con, "klaviyo_loader", "acc")
    planner.build_desired(campaign, "Spring Sale A", attribute_columns(con, campaign), None)
    planner.plan(campaign, "Spring Sale A", "L1", True, None)
    t = FakeTime()
    client = KlaviyoClient(url, KlaviyoCredentials(api_key="pk_x"), "2026-07-15",
                           clock=t.clock, sleep=t.sleep)
    applier = Applier(Store(con, "klaviyo_loader"), "acc", client, "run-1")
    applier.write_intent(None, "L1", "Spring Sale A", "spring_sale")

    # answers in order: [u0..u3] refused, [u0,u1] ok, [u2,u3] refused, [u2] refused, [u3] ok
    bad = {"errors": [{"id": "e", "code": "invalid", "title": "Invalid input.",
                       "detail": "email u2@example.com is not allowed"}]}
    for status in (400, 202, 400, 400, 202):
        script.add(status, bad if status == 400 else {
            "data": {"type": "profile-bulk-import-job", "id": f"job{len(script.responses)}",
                     "attributes": {"status": "queued"}}})
    jobs, stats = applier.submit_all("L1", "Spring Sale A", "spring_sale")
    bodies = [s["body"] for s in script.seen if s["method"] == "POST"]
    assert [refuse_if_bad(b) for b in bodies] == [True, False, True, True, False]
    assert len(jobs) == 2 and stats.submitted == 3 and stats.rejected == 1
    rows = con.execute("select amperity_id, reason from klaviyo_loader.rejected_rows").fetchall()
    assert rows == [("amp-2", "refused by Klaviyo: bulk_import_profiles: HTTP 400: email "
                              "u2@example.com is not allowed")]
    con.close()
