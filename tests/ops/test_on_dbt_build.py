"""status, export and history on the real `dbt build` of the demo project (read-only)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from loader.cli import app
from scripts.verify_demo import valid_phone

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


def test_export_equals_the_profiles_push_would_send(built_warehouse, tmp_path: Path) -> None:  # noqa: ANN001
    """The audience's sendable rows of the list, one per identifier (the smallest amperity_id),
    with a phone number left empty where a push withholds it: invalid for its numbering plan,
    or held by several customers of the registry's audiences (computed here independently)."""
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
    assert identifier != "phone_number" and "phone_number" in columns
    holders: dict[str, set[str]] = {}
    for rel, mapped in built_warehouse.query(
            "select audience_relation, attribute_columns from klaviyo_campaigns"):
        if "phone_number" in mapped.split(","):
            for amperity_id, phone in built_warehouse.query(
                    f"select amperity_id, phone_number from {rel} where not is_control "
                    f"and shrink_reason is null and list_name is not null "
                    f"and phone_number is not null"):
                holders.setdefault(phone, set()).add(amperity_id)
    select = ", ".join(f'"{by_header[h]}"' for h in headers)
    rows = built_warehouse.query(
        f"select amperity_id, {select} from {relation} where list_name = ? and not is_control "
        f"and shrink_reason is null order by amperity_id", [list_name]
    )
    phone = headers.index(CSV_HEADERS["phone_number"])
    expected: dict[str, tuple[str, ...]] = {}
    for _amperity_id, *values in rows:  # in amperity_id order
        if values[0] in expected:
            continue  # a smaller amperity_id holds this identifier: not sent
        cells = ["" if v is None else str(v) for v in values]
        if cells[phone] and (not valid_phone(cells[phone]) or len(holders[cells[phone]]) > 1):
            cells[phone] = ""
        expected[values[0]] = tuple(cells)
    assert exported == sorted(expected.values())
    assert len(exported) > 0
    withheld = sum(1 for _, *values in rows if values[phone] and not expected[values[0]][phone])
    assert withheld > 0  # the demo data has numbers a push withholds


def test_history_relation_and_segments_exist_before_any_push(built_warehouse) -> None:  # noqa: ANN001
    for relation in ("klaviyo_loader.campaign_recipients", "seg_history_spring_sale_control",
                     "seg_history_recent_recipients"):
        assert built_warehouse.query(f"select count(*) from {relation}") == [(0,)]
