"""An independent Python computation of the documented E.164 rule (docs/campaigns.md, "Phone
number"), written from the documentation, not from the macro: tests compare dbt's output with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    """A country's national numbering: calling code, trunk prefix, national significant number
    (NSN) length range and lowest allowed first digit."""

    calling_code: str
    trunk_prefix: str
    nsn_lengths: range
    nsn_first: str


def _plan(code: str, trunk: str, low: int, high: int, first: str = "1") -> Plan:
    return Plan(code, trunk, range(low, high + 1), first)


NANP = _plan("1", "1", 10, 10, "2")
# Country spellings (ISO-2, ISO-3, English names; upper-case) -> numbering plan.
PLANS: dict[tuple[str, ...], Plan] = {
    ("US", "USA", "UNITED STATES", "UNITED STATES OF AMERICA", "U.S.", "U.S.A."): NANP,
    ("CA", "CAN", "CANADA"): NANP,
    (
        "GB",
        "GBR",
        "UNITED KINGDOM",
        "UK",
        "GREAT BRITAIN",
        "BRITAIN",
        "ENGLAND",
        "SCOTLAND",
        "WALES",
        "NORTHERN IRELAND",
    ): _plan("44", "0", 9, 10),
    ("DE", "DEU", "GERMANY"): _plan("49", "0", 8, 11),
    ("FR", "FRA", "FRANCE"): _plan("33", "0", 9, 9),
    ("IE", "IRL", "IRELAND", "REPUBLIC OF IRELAND"): _plan("353", "0", 7, 9),
    ("ES", "ESP", "SPAIN"): _plan("34", "", 9, 9, "6"),
    ("IT", "ITA", "ITALY"): _plan("39", "", 6, 11, "0"),
    ("NL", "NLD", "NETHERLANDS", "THE NETHERLANDS", "HOLLAND"): _plan("31", "0", 9, 9),
    ("BE", "BEL", "BELGIUM"): _plan("32", "0", 8, 9),
    ("AU", "AUS", "AUSTRALIA"): _plan("61", "0", 9, 9),
    ("NZ", "NZL", "NEW ZEALAND"): _plan("64", "0", 8, 10),
    ("MX", "MEX", "MEXICO"): _plan("52", "", 10, 10, "2"),
    ("BR", "BRA", "BRAZIL"): _plan("55", "0", 10, 11),
    ("JP", "JPN", "JAPAN"): _plan("81", "0", 9, 10),
    ("IN", "IND", "INDIA"): _plan("91", "0", 10, 10),
    ("CN", "CHN", "CHINA"): _plan("86", "0", 10, 11),
    ("SE", "SWE", "SWEDEN"): _plan("46", "0", 7, 9),
    ("NO", "NOR", "NORWAY"): _plan("47", "", 8, 8, "2"),
    ("DK", "DNK", "DENMARK"): _plan("45", "", 8, 8, "2"),
    ("CH", "CHE", "SWITZERLAND"): _plan("41", "0", 9, 9),
    ("AT", "AUT", "AUSTRIA"): _plan("43", "0", 8, 13),
    ("PL", "POL", "POLAND"): _plan("48", "", 9, 9),
    ("PT", "PRT", "PORTUGAL"): _plan("351", "", 9, 9, "2"),
    # one of the countries the seed has from the phone library's metadata (loader.phone_plans)
    ("TR", "TUR", "TURKEY", "TÜRKIYE", "TURKIYE"): _plan("90", "0", 10, 10),
}
PLAN_BY_SPELLING = {name: plan for names, plan in PLANS.items() for name in names}


# An extension starts at the first of these (case-insensitive) and is dropped.
EXTENSION = re.compile(r"(ext|x|#|;|,).*$", re.IGNORECASE | re.DOTALL)


def e164(raw: str | None, country: str | None) -> str | None:
    """E.164 for a captured phone and the customer's country, or None when not unambiguous."""
    text = EXTENSION.sub("", raw or "").strip()
    if not text:
        return None
    digits = re.sub(r"[^0-9]", "", text)
    # "+44 (0)20 ...": the (0) is the trunk prefix shown for national callers, not dialled
    # from abroad -- except after Italy's and San Marino's codes, whose numbers keep their 0
    if (text.startswith(("+", "00")) and "(0)" in text
            and not digits.removeprefix("00").startswith(("39", "378"))):
        digits = re.sub(r"[^0-9]", "", text.replace("(0)", ""))
    if text.startswith("+"):
        return "+" + digits if 8 <= len(digits) <= 15 and digits[0] != "0" else None
    if text.startswith("00"):
        rest = digits[2:]
        return "+" + rest if 8 <= len(rest) <= 15 and rest[0] != "0" else None
    plan = PLAN_BY_SPELLING.get((country or "").strip().upper())
    if plan is None:
        return None
    nsn = digits
    if plan.trunk_prefix and nsn.startswith(plan.trunk_prefix):
        nsn = nsn[len(plan.trunk_prefix) :]
    if len(nsn) in plan.nsn_lengths and plan.nsn_first <= nsn[0] <= "9":
        return "+" + plan.calling_code + nsn
    return None
