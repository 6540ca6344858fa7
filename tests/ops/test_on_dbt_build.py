"""status, export and history on the real `dbt build` of the demo project (read-only)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from loader.cli import app

# Klaviyo's CSV profile import headers (docs/scheduling.md, "Export to CSV"): identifiers by
# their exact names, profile and location fields in PascalCase, anything else as it is.
CSV_HEADERS = {"email": "Email", "phone_number": "PhoneNumber", "external_id": "ExternalID",
               "first_name": "FirstName", "last_name": "LastName", "organization": "Organization",
               "title": "Title", "locale": "Locale", "image": "Image", "address1": "Address1",
               "address2": "Address2", "city": "City", "region": "Region", "zip": "Zip",
               "country": "Country", "latitude": "Latitude", "longitude": "Longitude",
               "timezone": "Timezone", "ip": "IP"}


def cli(warehouse, *args: str) -> tuple[int, str, str]:  # noqa: ANN001
    result = CliRunner().invoke(app, list(args), env={"DUCKDB_PATH": str(warehouse.duckdb_path)})
    return result.exit_code, result.stdout, result.stderr


def test_status_lists_every_built_campaign(built_warehouse) -> None:  # noqa: ANN001
    code, out, err = cli(built_warehouse, "status", "--json", "--at", "2026-06-01T07:00:00Z")
    assert code == 0, out + err
    campaigns = {c["campaign_id"]: c for c in json.loads(out)["campaigns"]}
    registry = {r[0] for r in built_warehouse.query("select campaign_id from klaviyo_campaigns")}
    assert set(campaigns) == registry and registry
    for c in campaigns.values():
        assert c["last_delivery"] is None and c["problem"] is None
        assert c["schedule"]


def test_export_equals_the_audience_sendable_rows(built_warehouse, tmp_path: Path) -> None:  # noqa: ANN001
    campaign_id, relation, identifier, attributes, lists = built_warehouse.query(
        "select campaign_id, audience_relation, identifier, attribute_columns, list_names "
        "from klaviyo_campaigns order by campaign_id limit 1"
    )[0]
    list_name = lists.split(",")[0]
    out = tmp_path / "export.csv"
    code, stdout, stderr = cli(built_warehouse, "export", campaign_id, "--format", "klaviyo-csv",
                               "--list", list_name, "--output", str(out))
    assert code == 0, stdout + stderr
    with out.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        headers = next(reader)
        exported = sorted(tuple(r) for r in reader)

    columns = attributes.split(",")
    assert headers[0] == CSV_HEADERS[identifier]
    by_header = {CSV_HEADERS.get(c, c): c for c in columns}
    assert sorted(headers) == sorted(by_header)
    select = ", ".join(f'"{by_header[h]}"' for h in headers)
    expected = built_warehouse.query(
        f"select {select} from {relation} where list_name = ? and not is_control "
        f"and shrink_reason is null", [list_name]
    )
    assert exported == sorted(
        tuple("" if v is None else str(v) for v in row) for row in expected
    )
    assert len(exported) > 0


def test_history_relation_and_segments_exist_before_any_push(built_warehouse) -> None:  # noqa: ANN001
    for relation in ("klaviyo_loader.campaign_recipients", "seg_history_spring_sale_control",
                     "seg_history_recent_recipients"):
        assert built_warehouse.query(f"select count(*) from {relation}") == [(0,)]
