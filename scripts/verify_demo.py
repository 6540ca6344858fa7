"""Check the demo's promise: every Klaviyo list in the emulator holds exactly the sendable,
non-control members of the audiences that target it, with their mapped profile attributes.

With --expect-no-new-imports, also check that no bulk import was made since the last check.
Exits non-zero, naming the list and the differences, when the promise is broken.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

import duckdb
import phonenumbers
import requests

PROFILE_FIELDS = ("first_name", "last_name")


def valid_phone(value: str | None) -> bool:
    """The numbering plans' verdict, straight from libphonenumber (not the loader's code)."""
    try:
        number = phonenumbers.parse(value or "")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number) and phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.E164) == value


def expected_lists(
    con: duckdb.DuckDBPyConnection,
) -> tuple[dict[str, dict[str, dict]], set[str]]:
    """{list_name: {identifier value: mapped row}} from every campaign's audience relation,
    and the identifiers that several customers share anywhere: Klaviyo keeps one profile per
    identifier, so their attributes are whichever customer was sent last (reported as
    duplicates in the delivery summary, not a fault of the sync)."""
    lists: dict[str, dict[str, dict]] = defaultdict(dict)
    owners: dict[str, set[str]] = defaultdict(set)
    campaigns = con.execute(
        "select campaign_id, audience_relation, identifier from main.klaviyo_campaigns"
    ).fetchall()
    for campaign_id, relation, identifier in campaigns:
        cursor = con.execute(
            f"select * from {relation} "
            f"where shrink_reason is null and not is_control and list_name is not null"
        )
        columns = [d[0] for d in cursor.description]
        for values in cursor.fetchall():
            row = dict(zip(columns, values, strict=True))
            ident = row[identifier]
            if identifier == "phone_number" and not valid_phone(ident):
                continue  # never sent: Klaviyo would refuse it (docs/sync.md)
            owners[ident].add(row["amperity_id"])
            lists[row["list_name"]].setdefault(ident, row)
        print(f"  {campaign_id}: read {relation}")
    shared = {ident for ident, ids in owners.items() if len(ids) > 1}
    return lists, shared


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--expect-no-new-imports", action="store_true")
    args = parser.parse_args()

    base_url = os.environ["KLAVIYO_BASE_URL"]
    stats_file = Path(".demo/stats.json")
    con = duckdb.connect(os.environ.get("DUCKDB_PATH", "warehouse.duckdb"), read_only=True)
    expected, shared = expected_lists(con)
    identifiers = {
        r[0] for r in con.execute("select identifier from main.klaviyo_campaigns").fetchall()
    }
    key = {"email": "emails", "phone_number": "phone_numbers", "external_id": "external_ids"}
    actual = {
        lst["name"]: lst for lst in requests.get(f"{base_url}/_emulator/lists", timeout=30).json()
    }
    profiles = requests.get(f"{base_url}/_emulator/profiles", timeout=60).json()
    by_email = {p["email"]: p for p in profiles if p.get("email")}

    problems: list[str] = []
    if not expected:
        problems.append("no audience has a sendable member: the demo has nothing to check")
    for name, members in sorted(expected.items()):
        if name not in actual:
            problems.append(f"list {name!r}: missing in Klaviyo")
            continue
        got: set[str] = set()
        for ident in identifiers:
            got |= set(actual[name][key[ident]])
        want = set(members)
        if got != want:
            problems.append(
                f"list {name!r}: {len(want - got)} members missing, {len(got - want)} unexpected "
                f"(e.g. missing {sorted(want - got)[:3]}, unexpected {sorted(got - want)[:3]})"
            )
        mismatched = [
            ident
            for ident, row in members.items()
            if ident in by_email
            and ident not in shared
            and any(
                row.get(f) is not None and by_email[ident].get(f) != row[f] for f in PROFILE_FIELDS
            )
        ]
        if mismatched:
            problems.append(
                f"list {name!r}: {len(mismatched)} profiles' attributes differ from "
                f"the audience (e.g. {mismatched[:3]})"
            )
        print(f"  {name}: {len(want)} expected, {len(got)} in Klaviyo")
    for name in sorted(set(actual) - set(expected)):
        problems.append(f"list {name!r}: in Klaviyo but no audience sends to it")

    stats = requests.get(f"{base_url}/_emulator/stats", timeout=30).json()
    imports = stats["requests"].get("bulk_import_profiles", 0)
    if args.expect_no_new_imports:
        before = json.loads(stats_file.read_text())["requests"].get("bulk_import_profiles", 0)
        if imports != before:
            problems.append(f"an unchanged audience made {imports - before} bulk import jobs")
        else:
            print("  no profiles sent on the second push")
    stats_file.write_text(json.dumps(stats))

    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    if not problems:
        print(f"OK: {len(expected)} lists hold exactly their audiences' non-control members")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
