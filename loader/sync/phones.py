"""Phone numbers Klaviyo will accept: libphonenumber's numbering plans, evaluated in DuckDB.

A number is valid when ``phonenumbers.parse(value)`` succeeds, ``phonenumbers.is_valid_number``
accepts it and its E.164 form is ``value`` itself (so Klaviyo stores exactly what we sent and
look-ups by phone find it). Calling the library per row costs ~50 µs a number (50 s for a
million), so the rule is evaluated in the engine instead:

* the tables below are derived from ``phonenumbers``' own metadata when a push starts: for each
  country calling code its regions in the library's order, each region's leading digits, the
  general description (pattern and possible lengths) and, per national number length, the
  union of the patterns of the number types valid at that length;
* DuckDB evaluates them with RE2 full matches (one ``case`` over the (code, length) pairs present
  in the data, most frequent first), reproducing ``is_valid_number``'s choice of region for a
  code shared by several regions (NANP's 25, +44's four, …);
* a number whose national part starts with what the code's national prefix-for-parsing matches
  (e.g. ``+44 0…``; every Argentine number, whose rule matches the empty string) may be
  rewritten by ``parse``: those few are decided by the library itself, in Python.

``tests/sync/test_phones.py`` proves the engine's verdicts equal the library's on a large
sample (every region's example numbers, their neighbours, random digits for every code).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb

VERDICTS = "_klaviyo_phone_verdicts"  # value, valid, region (the code's main region)
_INPUT = "_klaviyo_phone_input"
_SPLIT = "_klaviyo_phone_split"
MIN_NSN, MAX_NSN = 2, 17  # phonenumbers' bounds on a national significant number
TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
         "voicemail", "fixed_line", "mobile")


@dataclass(frozen=True)
class Region:
    code: str  # region code ("US", "001" for non-geographic entities)
    leading_digits: str | None
    general: str | None  # the general description's national number pattern
    lengths: tuple[int, ...]  # its possible lengths (empty: any)
    by_length: dict[int, str]  # national number length -> union of the valid types' patterns

    def valid_sql(self, nsn: str, length: int) -> str:
        """SQL: ``nsn`` (of this length) is a valid number of this region."""
        if not self.general or (self.lengths and length not in self.lengths):
            return "false"
        types = self.by_length.get(length)
        if types is None:
            return "false"
        return (f"(regexp_full_match({nsn}, {_lit(self.general)}) "
                f"and regexp_full_match({nsn}, {_lit(types)}))")


@dataclass(frozen=True)
class CallingCode:
    code: str
    regions: tuple[Region, ...]
    national_prefix: str | None  # national_prefix_for_parsing of the main region

    def lengths(self) -> set[int]:
        out: set[int] = set()
        for r in self.regions:
            out |= set(r.lengths or range(MIN_NSN, MAX_NSN + 1))
        return out

    def verdict_sql(self, nsn: str, length: int) -> str:
        """SQL: true/false, or null when ``parse`` may strip a national prefix (Python decides).

        ``is_valid_number`` picks the first region (in the library's order) whose leading
        digits start the number or, for a region without leading digits, that validates it;
        the number is valid when that region validates it."""
        branches = []
        for r in self.regions:
            valid = r.valid_sql(nsn, length)
            if r.leading_digits:
                lead = _lit("^(?:" + r.leading_digits + ")")
                branches.append(f"when regexp_matches({nsn}, {lead}) then {valid}")
            elif valid != "false":
                branches.append(f"when {valid} then true")
        body = f"case {' '.join(branches)} else false end" if branches else "false"
        if self.national_prefix:
            prefix = _lit("^(?:" + self.national_prefix + ")")
            return f"case when regexp_matches({nsn}, {prefix}) then null else {body} end"
        return body


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _union(patterns: Iterable[str]) -> str | None:
    parts = sorted(set(patterns))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else "|".join(f"(?:{p})" for p in parts)


@functools.cache
def numbering_plans() -> dict[str, CallingCode]:
    """Every country calling code of phonenumbers' metadata, as the tables above."""
    from phonenumbers import PhoneMetadata
    from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

    plans: dict[str, CallingCode] = {}
    for cc, region_codes in COUNTRY_CODE_TO_REGION_CODE.items():
        regions = []
        national_prefix = None
        for i, rc in enumerate(region_codes):
            m = PhoneMetadata.metadata_for_region_or_calling_code(cc, rc)
            if m is None:
                continue
            if i == 0:
                national_prefix = m.national_prefix_for_parsing or None
            general = m.general_desc
            lengths = tuple(n for n in (general.possible_length or ()) if n > 0)
            per_type = []
            for name in TYPES:
                if name == "mobile" and m.same_mobile_and_fixed_line_pattern:
                    continue  # the library does not test it separately
                d = getattr(m, name)
                if d is None or not d.national_number_pattern:
                    continue
                per_type.append((tuple(d.possible_length or ()), d.national_number_pattern))
            by_length: dict[int, str] = {}
            for n in lengths or range(MIN_NSN, MAX_NSN + 1):
                union = _union(p for lens, p in per_type if not lens or n in lens)
                if union is not None:
                    by_length[n] = union
            regions.append(Region(rc, m.leading_digits or None, general.national_number_pattern,
                                  lengths, by_length))
        plans[str(cc)] = CallingCode(str(cc), tuple(regions), national_prefix)
    return plans


def reference_verdict(value: str) -> bool:
    """The library's own verdict (the definition the engine reproduces): parses, is valid,
    and its E.164 form is ``value``."""
    import phonenumbers

    try:
        number = phonenumbers.parse(value)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(number)) and phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.E164) == value


def main_region(code: str | None) -> str | None:
    plan = numbering_plans().get(code or "")
    return plan.regions[0].code if plan and plan.regions else None


def classify(con: duckdb.DuckDBPyConnection, values_sql: str) -> dict[str, int]:
    """(Re)create ``VERDICTS`` (value, valid, region) for the distinct non-null values of
    ``values_sql`` (a query with one column, ``value``). Returns counts: numbers, by_library
    (decided in Python), invalid."""
    plans = numbering_plans()
    con.execute(f"create or replace temp table {_INPUT} as "
                f"select distinct value from ({values_sql}) where value is not null")
    by_width: dict[int, list[str]] = {1: [], 2: [], 3: []}
    for code in plans:
        by_width[len(code)].append(code)
    cc = "case " + " ".join(
        f"when substr(value, 2, {w}) in ({', '.join(_lit(c) for c in codes)}) "
        f"then substr(value, 2, {w})" for w, codes in by_width.items() if codes) + " end"
    con.execute(f"""
        create or replace temp table {_SPLIT} as
        with shaped as (
            select value, regexp_full_match(value, '\\+[0-9]+') as ok from {_INPUT}
        ),
        coded as (
            select value, case when ok then {cc} end as cc from shaped
        )
        select value, cc, substr(value, 2 + length(cc)) as nsn,
            length(value) - 1 - length(cc) as len
        from coded order by cc""")
    # one branch a calling code present (most frequent first), then one a length: a row
    # passes a few comparisons, not one a (code, length) pair
    keys = con.execute(f"select cc, len, sum(count(*)) over (partition by cc) as n from {_SPLIT} "
                       f"where cc is not null group by cc, len order by n desc, cc, len"
                       ).fetchall()
    by_code: dict[str, list[str]] = {}
    for code, length, _ in keys:
        plan = plans[code]
        if MIN_NSN <= length <= MAX_NSN and length in plan.lengths():
            by_code.setdefault(code, []).append(
                f"when {int(length)} then {plan.verdict_sql('nsn', int(length))}")
    branches = [f"when {_lit(code)} then case len {' '.join(lens)} else false end"
                for code, lens in by_code.items()]
    verdict = f"case cc {' '.join(branches)} else false end" if branches else "false"
    regions = ", ".join(f"({_lit(c)}, {_lit(p.regions[0].code)})"
                        for c, p in plans.items() if p.regions)
    con.execute(f"""
        create or replace temp table {VERDICTS} as
        with judged as (
            select value, cc, case when cc is null then false else {verdict} end as valid
            from {_SPLIT}
        ),
        regions(cc, region) as (values {regions})
        select j.value, j.valid, r.region
        from judged as j left join regions as r on r.cc = j.cc""")
    unsure = [r[0] for r in con.execute(
        f"select value from {VERDICTS} where valid is null").fetchall()]
    if unsure:
        con.execute("create or replace temp table _klaviyo_phone_library "
                    "(value varchar, valid boolean)")
        rows = [(v, reference_verdict(v)) for v in unsure]
        con.execute("insert into _klaviyo_phone_library select unnest(?), unnest(?)",
                    [[v for v, _ in rows], [ok for _, ok in rows]])
        con.execute(f"update {VERDICTS} as v set valid = l.valid from _klaviyo_phone_library "
                    f"as l where v.value = l.value")
    counts = con.execute(f"select count(*), count(*) filter (where not valid) "
                         f"from {VERDICTS}").fetchone()
    con.execute(f"drop table if exists {_INPUT}")
    con.execute(f"drop table if exists {_SPLIT}")
    return {"numbers": int(counts[0]) if counts else 0, "by_library": len(unsure),
            "invalid": int(counts[1]) if counts else 0}
