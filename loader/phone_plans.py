"""The phone numbering plan seeds (``seeds/klaviyo_phone_plans.csv`` and
``seeds/klaviyo_phone_country_aliases.csv``), written from ``phonenumbers``' metadata for every
region it knows.

The campaign SQL (macro ``klaviyo_normalize_phone``) turns a national number into E.164 with
the customer's country: drop the trunk prefix, check the national significant number's (NSN)
length and first digit, prefix the calling code. A country missing from the seeds made every
national number of its customers null, silently (a Turkish customer's ``0532 123 45 67``).
So every region the library knows has a row:

* the rows written by hand before (``CURATED``: their lengths were chosen so that, in Germany
  and Austria, a local number written without its area code is not taken for a complete one)
  are kept as they are;
* every other region: its calling code and trunk prefix (``national_prefix``); NSN lengths
  from the lengths of its fixed-line and mobile numbers (a customer's phone is one of those),
  the general description's when it has neither, capped so that calling code and NSN fit in
  E.164's 15 digits; ``nsn_first`` one above the trunk prefix's first digit (so a national
  number starting with the trunk prefix is never ambiguous), 0 when there is none. These rows
  are deliberately permissive: the loader checks every number against the full numbering plan
  before sending (``loader.sync.phones``) and withholds or refuses an invalid one with a reason
  in ``rejected_rows``, where a missing row left no trace at all.

Aliases: the curated spellings, then each generated region's ISO alpha-2 code and English name
(upper-case), then ``EXTRA_ALIASES`` (ISO alpha-3 codes of larger markets, other common
names), each unless another country already has that spelling.

    .venv/bin/python -m loader.phone_plans          # rewrite the two CSVs
    .venv/bin/python -m loader.phone_plans --check  # exit 1 when they differ

``tests/campaigns/test_phone_plans.py`` checks the CSVs are what this writes, and that each
region's example numbers, written nationally, become their E.164 form in the real dbt build.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

import phonenumbers
from phonenumbers.geocoder import _region_display_name

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
PLANS = SEEDS / "klaviyo_phone_plans.csv"
ALIASES = SEEDS / "klaviyo_phone_country_aliases.csv"
PLAN_COLUMNS = ("country_code", "country_name", "calling_code", "trunk_prefix", "nsn_min",
                "nsn_max", "nsn_first")

# country_code, country_name, calling_code, trunk_prefix, nsn_min, nsn_max, nsn_first
CURATED: tuple[tuple[str, str, str, str, int, int, str], ...] = (
    ("US", "United States", "1", "1", 10, 10, "2"),
    ("CA", "Canada", "1", "1", 10, 10, "2"),
    ("GB", "United Kingdom", "44", "0", 9, 10, "1"),
    ("DE", "Germany", "49", "0", 8, 11, "1"),
    ("FR", "France", "33", "0", 9, 9, "1"),
    ("IE", "Ireland", "353", "0", 7, 9, "1"),
    ("ES", "Spain", "34", "", 9, 9, "6"),
    ("IT", "Italy", "39", "", 6, 11, "0"),
    ("NL", "Netherlands", "31", "0", 9, 9, "1"),
    ("BE", "Belgium", "32", "0", 8, 9, "1"),
    ("AU", "Australia", "61", "0", 9, 9, "1"),
    ("NZ", "New Zealand", "64", "0", 8, 10, "1"),
    ("MX", "Mexico", "52", "", 10, 10, "2"),
    ("BR", "Brazil", "55", "0", 10, 11, "1"),
    ("JP", "Japan", "81", "0", 9, 10, "1"),
    ("IN", "India", "91", "0", 10, 10, "1"),
    ("CN", "China", "86", "0", 10, 11, "1"),
    ("SE", "Sweden", "46", "0", 7, 9, "1"),
    ("NO", "Norway", "47", "", 8, 8, "2"),
    ("DK", "Denmark", "45", "", 8, 8, "2"),
    ("CH", "Switzerland", "41", "0", 9, 9, "1"),
    ("AT", "Austria", "43", "0", 8, 13, "1"),
    ("PL", "Poland", "48", "", 9, 9, "1"),
    ("PT", "Portugal", "351", "", 9, 9, "2"),
)

# spelling -> country: the curated rows' ISO codes and English names, as written by hand
CURATED_ALIASES: tuple[tuple[str, str], ...] = (
    ("US", "US"), ("USA", "US"), ("UNITED STATES", "US"), ("UNITED STATES OF AMERICA", "US"),
    ("U.S.", "US"), ("U.S.A.", "US"), ("CA", "CA"), ("CAN", "CA"), ("CANADA", "CA"),
    ("GB", "GB"), ("GBR", "GB"), ("UNITED KINGDOM", "GB"), ("UK", "GB"),
    ("GREAT BRITAIN", "GB"), ("BRITAIN", "GB"), ("ENGLAND", "GB"), ("SCOTLAND", "GB"),
    ("WALES", "GB"), ("NORTHERN IRELAND", "GB"), ("DE", "DE"), ("DEU", "DE"),
    ("GERMANY", "DE"), ("FR", "FR"), ("FRA", "FR"), ("FRANCE", "FR"), ("IE", "IE"),
    ("IRL", "IE"), ("IRELAND", "IE"), ("REPUBLIC OF IRELAND", "IE"), ("ES", "ES"),
    ("ESP", "ES"), ("SPAIN", "ES"), ("IT", "IT"), ("ITA", "IT"), ("ITALY", "IT"), ("NL", "NL"),
    ("NLD", "NL"), ("NETHERLANDS", "NL"), ("THE NETHERLANDS", "NL"), ("HOLLAND", "NL"),
    ("BE", "BE"), ("BEL", "BE"), ("BELGIUM", "BE"), ("AU", "AU"), ("AUS", "AU"),
    ("AUSTRALIA", "AU"), ("NZ", "NZ"), ("NZL", "NZ"), ("NEW ZEALAND", "NZ"), ("MX", "MX"),
    ("MEX", "MX"), ("MEXICO", "MX"), ("BR", "BR"), ("BRA", "BR"), ("BRAZIL", "BR"),
    ("JP", "JP"), ("JPN", "JP"), ("JAPAN", "JP"), ("IN", "IN"), ("IND", "IN"), ("INDIA", "IN"),
    ("CN", "CN"), ("CHN", "CN"), ("CHINA", "CN"), ("SE", "SE"), ("SWE", "SE"),
    ("SWEDEN", "SE"), ("NO", "NO"), ("NOR", "NO"), ("NORWAY", "NO"), ("DK", "DK"),
    ("DNK", "DK"), ("DENMARK", "DK"), ("CH", "CH"), ("CHE", "CH"), ("SWITZERLAND", "CH"),
    ("AT", "AT"), ("AUT", "AT"), ("AUSTRIA", "AT"), ("PL", "PL"), ("POL", "PL"),
    ("POLAND", "PL"), ("PT", "PT"), ("PRT", "PT"), ("PORTUGAL", "PT"),
)


# other common spellings of generated regions: ISO alpha-3 codes of larger markets (the
# library has none) and names customers write besides the library's English one
EXTRA_ALIASES: tuple[tuple[str, str], ...] = (
    ("TUR", "TR"), ("TÜRKIYE", "TR"), ("TURKIYE", "TR"), ("RUS", "RU"),
    ("RUSSIAN FEDERATION", "RU"), ("KOR", "KR"), ("KOREA", "KR"), ("REPUBLIC OF KOREA", "KR"),
    ("SAU", "SA"), ("KSA", "SA"), ("ARE", "AE"), ("UAE", "AE"), ("IDN", "ID"), ("HUN", "HU"),
    ("ARG", "AR"), ("EGY", "EG"), ("NGA", "NG"), ("PHL", "PH"), ("ZAF", "ZA"), ("CZE", "CZ"),
    ("CZECH REPUBLIC", "CZ"), ("GRC", "GR"), ("ROU", "RO"), ("FIN", "FI"), ("ISR", "IL"),
    ("SGP", "SG"), ("HKG", "HK"), ("TWN", "TW"), ("THA", "TH"), ("VNM", "VN"), ("MYS", "MY"),
    ("CHL", "CL"), ("COL", "CO"), ("PER", "PE"), ("UKR", "UA"), ("PAK", "PK"), ("BGD", "BD"),
)


def _lengths(desc: phonenumbers.PhoneNumberDesc | None) -> set[int]:
    """A description's national possible lengths ([-1]: no such numbers)."""
    if desc is None or not desc.possible_length:
        return set()
    return {n for n in desc.possible_length if n > 0}


def generated_plan(region: str) -> tuple[str, str, str, str, int, int, str] | None:
    """The plan row of a region the curated rows lack (None: nothing a national number could
    be read with: no lengths)."""
    md = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if md is None:
        return None
    code = str(md.country_code)
    lengths = _lengths(md.fixed_line) | _lengths(md.mobile) or _lengths(md.general_desc)
    lengths = {n for n in lengths if len(code) + n <= 15}
    if not lengths:
        return None
    trunk = md.national_prefix or ""
    if trunk and not trunk.isdigit():
        trunk = ""
    if trunk and trunk[0] == "9":  # no digit above it: a national number would be ambiguous
        return None
    first = str(int(trunk[0]) + 1) if trunk else "0"
    return (region, _region_display_name(region, "en") or region, code, trunk, min(lengths),
            max(lengths), first)


def plans() -> list[tuple[str, str, str, str, int, int, str]]:
    """Every plan row: the curated ones, then each other region's, by region code."""
    curated = {row[0] for row in CURATED}
    rows = list(CURATED)
    for region in sorted(phonenumbers.SUPPORTED_REGIONS - curated):
        row = generated_plan(region)
        if row is not None:
            rows.append(row)
    return rows


def aliases(plan_rows: list[tuple[str, str, str, str, int, int, str]]) -> list[tuple[str, str]]:
    """Every spelling: the curated ones, then each generated region's ISO code and English
    name, upper-case, when no other country has it."""
    out = list(CURATED_ALIASES)
    seen = {a for a, _ in out}
    curated = {row[0] for row in CURATED}
    for row in plan_rows:
        if row[0] in curated:
            continue
        for spelling in (row[0], row[1].strip().upper()):
            if spelling and spelling not in seen:
                out.append((spelling, row[0]))
                seen.add(spelling)
    planned = {row[0] for row in plan_rows}
    for spelling, code in EXTRA_ALIASES:
        if spelling not in seen and code in planned:
            out.append((spelling, code))
            seen.add(spelling)
    return out


def render() -> tuple[str, str]:
    """The two CSVs' text."""
    rows = plans()
    p = io.StringIO()
    w = csv.writer(p, lineterminator="\n")
    w.writerow(PLAN_COLUMNS)
    w.writerows(rows)
    a = io.StringIO()
    w = csv.writer(a, lineterminator="\n")
    w.writerow(("country_alias", "country_code"))
    w.writerows(aliases(rows))
    return p.getvalue(), a.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when the CSVs differ")
    args = ap.parse_args(argv)
    plans_csv, aliases_csv = render()
    if args.check:
        stale = [p.name for p, text in ((PLANS, plans_csv), (ALIASES, aliases_csv))
                 if p.read_text(encoding="utf-8") != text]
        if stale:
            print(f"out of date: {', '.join(stale)} (run python -m loader.phone_plans)")
            return 1
        return 0
    PLANS.write_text(plans_csv, encoding="utf-8")
    ALIASES.write_text(aliases_csv, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
