"""Deterministic demo data in Amperity's standard shapes (docs/architecture.md §1, docs/data.md).

Over 400 lines because it is one SQL generator per source table, each with its distributions
written out; they share the hashing helpers at the top.

Everything is generated inside DuckDB with SQL: ``range()`` supplies customer numbers and every
"random" choice is ``hash(seed, customer number, salt)`` scaled to [0, 1). Consequences:

- the same seed and N give the same rows (for the pinned DuckDB version, whose ``hash`` we use);
- customer i's rows depend only on (seed, i), never on N, so a bigger N is a superset;
- 10M customers take seconds to a minute or two, not hours (no Python loop over rows).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from loader.errors import ConfigError, WarehouseError

TABLES: tuple[str, ...] = (
    "merged_customers",
    "customer_360",
    "unified_transactions",
    "email_opt_status",
    "sms_opt_status",
    "customer_interests",
)

# The data's "now": the latest possible order. Fixed, so data never depends on the wall clock.
DATA_AS_OF = "2026-09-30 23:59:59"

MAX_CUSTOMERS = 100_000_000
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MEMORY_LIMIT = re.compile(r"^\d+(\.\d+)?\s*([KMGT]i?B|B)$", re.IGNORECASE)

# --- vocabularies ------------------------------------------------------------------------------

GIVEN_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Daniel", "Emily", "Matthew", "Olivia", "Anthony", "Emma", "Mark", "Ava",
    "Steven", "Sophia", "Andrew", "Isabella", "Kevin", "Mia", "Brian", "Charlotte", "George",
    "Amelia", "Oliver", "Harper", "Liam", "Evelyn", "Noah", "Abigail", "Ethan", "Grace", "Lucas",
    "Chloe", "Henry", "Lily",
)
SURNAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark",
    "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres",
    "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell",
    "Mitchell", "Carter", "O'Brien",
)
# (display, ASCII form used in the email address)
NON_ASCII_GIVEN = (
    ("José", "jose"), ("Zoë", "zoe"), ("Björn", "bjorn"), ("Søren", "soren"),
    ("François", "francois"), ("Chloé", "chloe"), ("Jürgen", "jurgen"), ("Begoña", "begona"),
    ("Øystein", "oystein"), ("Renée", "renee"), ("Łukasz", "lukasz"), ("伟", "wei"),
    ("芳", "fang"), ("Ana-María", "anamaria"), ("Günther", "gunther"), ("Inés", "ines"),
)
NON_ASCII_SURNAMES = (
    ("Müller", "muller"), ("Núñez", "nunez"), ("Ødegaard", "odegaard"), ("Çelik", "celik"),
    ("李", "li"), ("王", "wang"), ("张", "zhang"), ("Dvořák", "dvorak"), ("Şahin", "sahin"),
    ("Fernández", "fernandez"), ("Lefèvre", "lefevre"), ("Brontë", "bronte"),
    ("Peña", "pena"), ("Großmann", "grossmann"), ("Åström", "astrom"), ("佐藤", "sato"),
)
# Reserved example domains only: demo data must never reach a real inbox.
EMAIL_DOMAINS = (
    "gmail.example.com", "gmail.example.com", "gmail.example.com", "yahoo.example.com",
    "outlook.example.net", "hotmail.example.net", "icloud.example.org", "aol.example.com",
    "proton.example.org", "mail.example.co.uk", "web.example.de", "orange.example.fr",
)
ADDRESS2 = ("Apt 4B", "Suite 200", "Unit 3", "Apt 12", "Floor 2")
JUNK_PHONES = ("12345", "n/a", "N/A", "000-000-0000", "555-0134", "none", "+1", "tel")
INTERESTS = (
    "hiking", "camping", "fishing", "running", "cycling", "yoga", "cooking", "travel", "fashion",
    "technology", "gaming", "home_decor",
)
COMPANIES = (
    "Acme Corp", "Globex", "Initech", "Umbrella Ltd", "Stark Industries", "Wayne Enterprises",
    "Hooli", "Vandelay Industries", "Société Générale Démo", "Müller GmbH",
)
JOB_TITLES = (
    "Engineer", "Manager", "Director", "Analyst", "Designer", "Teacher", "Nurse", "Consultant",
    "Owner", "Student",
)
# (city, state/region, postal prefix) per country
CITIES = {
    "US": (
        ("San Francisco", "CA", "941"), ("Los Angeles", "CA", "900"), ("Seattle", "WA", "981"),
        ("Portland", "OR", "972"), ("Denver", "CO", "802"), ("Austin", "TX", "787"),
        ("Chicago", "IL", "606"), ("New York", "NY", "100"), ("Boston", "MA", "021"),
        ("Miami", "FL", "331"), ("Atlanta", "GA", "303"), ("Minneapolis", "MN", "554"),
    ),
    "CA": (
        ("Toronto", "ON", "M5V"), ("Vancouver", "BC", "V6B"), ("Montréal", "QC", "H2X"),
        ("Calgary", "AB", "T2P"),
    ),
    "GB": (
        ("London", "England", "SW1A"), ("Manchester", "England", "M1"),
        ("Edinburgh", "Scotland", "EH1"), ("Bristol", "England", "BS1"),
    ),
    "DE": (("Berlin", "BE", "10"), ("München", "BY", "80"), ("Hamburg", "HH", "20"),
           ("Köln", "NW", "50")),
    "FR": (("Paris", "IDF", "75"), ("Lyon", "ARA", "69"), ("Marseille", "PAC", "13"),
           ("Bordeaux", "NAQ", "33")),
}
# Same order as CITIES["US"] / CITIES["CA"]: a phone's area code matches the city.
US_AREA_CODES = ("415", "213", "206", "503", "303", "512", "312", "212", "617", "305", "404", "612")
CA_AREA_CODES = ("416", "604", "514", "403")
STREETS = {
    "US": ("Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Pine St", "Elm St", "Park Ave",
           "Lakeview Rd", "2nd St", "Sunset Blvd"),
    "CA": ("King St W", "Yonge St", "Robson St", "Rue Sainte-Catherine"),
    "GB": ("High Street", "Station Road", "Church Lane", "Victoria Road"),
    "DE": ("Hauptstraße", "Schillerstraße", "Bahnhofstraße", "Gartenweg"),
    "FR": ("rue de la Paix", "avenue Victor Hugo", "rue Pasteur", "boulevard Voltaire"),
}


@dataclass(frozen=True)
class DemoDataResult:
    """What was written: the DuckDB file, schema, and row counts per table."""

    duckdb_path: str
    schema: str
    customers: int
    seed: int
    row_counts: dict[str, int]


# --- SQL rendering -----------------------------------------------------------------------------


def _lit(value: str | None) -> str:
    if value is None:
        return "null"
    return "'" + value.replace("'", "''") + "'"


def _list(values: Sequence[str]) -> str:
    return "[" + ", ".join(_lit(v) for v in values) + "]"


def _pick(values: Sequence[str], salt: str, i: str = "i") -> str:
    """SQL choosing one of ``values`` uniformly for row ``i`` (salted)."""
    return f"{_list(values)}[1 + floor(_u({i}, '{salt}') * {len(values)})::bigint]"


def _by_country(
    mapping: dict[str, Sequence[str]], country_expr: str, index_expr: str
) -> str:
    """A CASE picking from a per-country list (index_expr yields a [0, 1) number)."""
    arms = " ".join(
        f"when {_lit(c)} then {_list(v)}[1 + floor({index_expr} * {len(v)})::bigint]"
        for c, v in mapping.items()
    )
    return f"(case {country_expr} {arms} end)"


def _macros(seed: int) -> list[str]:
    """Temp macros: per-customer pseudo-random numbers and names, as functions of the number."""
    given_all = list(GIVEN_NAMES) + [d for d, _ in NON_ASCII_GIVEN]
    given_ascii = [g.lower() for g in GIVEN_NAMES] + [a for _, a in NON_ASCII_GIVEN]
    sur_all = list(SURNAMES) + [d for d, _ in NON_ASCII_SURNAMES]
    sur_ascii = [re.sub("[^a-z]", "", s.lower()) for s in SURNAMES] + [
        a for _, a in NON_ASCII_SURNAMES
    ]
    ng, nna = len(GIVEN_NAMES), len(NON_ASCII_GIVEN)
    ns, nns = len(SURNAMES), len(NON_ASCII_SURNAMES)
    g, sn = f"{_list(given_ascii)}[_given_idx(i)]", f"{_list(sur_ascii)}[_surname_idx(i)]"
    return [
        # 64 pseudo-random bits, and a uniform [0, 1), from (seed, customer number, salt)
        # (DuckDB's multi-argument hash combines weakly: outputs for two salts correlate, so the
        # combination is hashed once more, which mixes it fully.)
        f"create or replace temp macro _h(i, salt) as "
        f"hash(hash({int(seed)}::bigint, i::bigint, salt))",
        "create or replace temp macro _u(i, salt) as _h(i, salt) / 18446744073709551616.0",
        # a standard normal (Box-Muller)
        "create or replace temp macro _z(i, salt) as "
        "sqrt(-2 * ln(1 - _u(i, salt || ':a'))) * cos(2 * pi() * _u(i, salt || ':b'))",
        # ~10 % of customers carry a non-ASCII given name, surname, or both
        "create or replace temp macro _name_mode(i) as case "
        "when _u(i, 'nonascii') >= 0.10 then 'ascii' "
        "when _u(i, 'nonascii_mode') < 0.4 then 'given' "
        "when _u(i, 'nonascii_mode') < 0.7 then 'surname' else 'both' end",
        f"create or replace temp macro _given_idx(i) as case "
        f"when _name_mode(i) in ('given', 'both') "
        f"then {ng + 1} + floor(_u(i, 'given') * {nna})::bigint "
        f"else 1 + floor(_u(i, 'given') * {ng})::bigint end",
        f"create or replace temp macro _surname_idx(i) as case "
        f"when _name_mode(i) in ('surname', 'both') "
        f"then {ns + 1} + floor(_u(i, 'surname') * {nns})::bigint "
        f"else 1 + floor(_u(i, 'surname') * {ns})::bigint end",
        f"create or replace temp macro _given(i) as "
        f"case when _u(i, 'given_null') < 0.005 then null "
        f"else {_list(given_all)}[_given_idx(i)] end",
        f"create or replace temp macro _surname(i) as "
        f"case when _u(i, 'surname_null') < 0.005 then null "
        f"else {_list(sur_all)}[_surname_idx(i)] end",
        # the well-formed address of customer i; the trailing digits are i, so it is unique
        f"create or replace temp macro _clean_email(i) as "
        f"(case floor(_u(i, 'email_form') * 4)::int "
        f"when 0 then {g} || '.' || {sn} "
        f"when 1 then {g} || {sn} "
        f"when 2 then left({g}, 1) || {sn} "
        f"else {g} || '_' || {sn} end)"
        f" || i::varchar || '@' || {_pick(EMAIL_DOMAINS, 'domain')}",
        # email kind: 4 % missing, 2 % invalid, the rest valid
        "create or replace temp macro _email_kind(i) as case "
        "when _u(i, 'email') < 0.035 then 'missing_null' "
        "when _u(i, 'email') < 0.04 then 'missing_blank' "
        "when _u(i, 'email') < 0.045 then 'invalid_no_at' "
        "when _u(i, 'email') < 0.05 then 'invalid_space' "
        "when _u(i, 'email') < 0.055 then 'invalid_double_dot' "
        "when _u(i, 'email') < 0.06 then 'invalid_no_tld' "
        "else 'valid' end",
        # ~0.5 % of customers reuse the (valid) address of customer i - 1: ~1 % share an email
        "create or replace temp macro _is_sharer(i) as "
        "i > 1 and _u(i, 'share') < 0.006 and _u(i - 1, 'share') >= 0.006 "
        "and _email_kind(i - 1) = 'valid'",
    ]


def _ids_sql(customers: int) -> str:
    """Customer numbers 1..N as a table: scans of a table run on every thread, range() on one."""
    return (
        "create or replace temp table _demo_ids as "
        f"select i from range(1, {int(customers)} + 1) as t(i)"
    )


def _people_sql() -> str:
    """One row per customer with every profile column plus generation helpers."""
    as_of = _lit(DATA_AS_OF)
    country = (
        "case when _u(i, 'country') < 0.85 then 'US' when _u(i, 'country') < 0.90 then 'GB' "
        "when _u(i, 'country') < 0.94 then 'CA' when _u(i, 'country') < 0.97 then 'DE' "
        "else 'FR' end"
    )
    city_idx = "_u(i, 'city')"
    cities = {c: [x[0] for x in v] for c, v in CITIES.items()}
    states = {c: [x[1] for x in v] for c, v in CITIES.items()}
    prefixes = {c: [x[2] for x in v] for c, v in CITIES.items()}
    def d(salt: str, width: int) -> str:
        """``width`` pseudo-random decimal digits."""
        return f"lpad(floor(_u(i, '{salt}') * {10**width})::bigint::varchar, {width}, '0')"

    return f"""
create or replace temp table _demo_people as
with numbered as (
    -- hh: the household whose behaviour the customer shares. A customer reusing customer
    -- i - 1's address (a household) also shops like them, so both tend to be in the same
    -- segments and campaigns (and, by their own sticky buckets, in different treatments).
    select
        i,
        {country} as country,
        case when _is_sharer(i) then i - 1 else i end as hh
    from _demo_ids
),
base as (
    select
        i,
        hh,
        country,
        _given(i) as given_name,
        _surname(i) as surname,
        _email_kind(i) as email_kind,
        _is_sharer(i) as is_sharer,
        case when _is_sharer(i) then _clean_email(i - 1) else _clean_email(i) end as clean_email,
        {_by_country(cities, 'country', city_idx)} as city,
        {_by_country(states, 'country', city_idx)} as state,
        {_by_country(prefixes, 'country', city_idx)} as postal_prefix,
        {_by_country(STREETS, 'country', "_u(i, 'street')")} as street,
        1 + floor(_u(i, 'house') * 250)::int as house_number,
        -- behaviour: order count (25 % never ordered, a loyal 5 % with 8-20 orders)
        case
            when _u(hh, 'orders') < 0.25 then 0
            when _u(hh, 'orders') < 0.95
                then least(20, 1 + floor(-ln(1 - _u(hh, 'orders_n')) * 2.5))::int
            else 8 + floor(_u(hh, 'orders_n') * 13)::int
        end as n_orders,
        least(3000, floor(-ln(1 - _u(hh, 'recency')) * 400))::int as recency_days,
        floor(_u(hh, 'span') * 1500)::int as span_days,
        exp(3.9 + 0.55 * _z(hh, 'aov')) as aov,
        case when _u(hh, 'channel') < 0.5 then 'online' when _u(hh, 'channel') < 0.85 then 'store'
            else 'app' end as preferred_channel,
        'S' || lpad((1 + floor(_u(i, 'store') * 60)::int)::varchar, 3, '0') as home_store_id
    from numbered
),
timed as (
    select
        *,
        cast({as_of} as timestamp)
            - to_days(recency_days)
            - to_seconds(floor(_u(i, 'latest_sec') * 86400)::bigint) as latest_at
    from base
),
timed2 as (
    select
        *,
        case when n_orders > 1 then latest_at - to_days(span_days) else latest_at end
            as first_at
    from timed
),
profiled as (
    select
        *,
        case
            when n_orders > 0
                then first_at - to_days(floor(_u(i, 'create_lead') * 60)::int)
                    - to_seconds(floor(_u(i, 'create_sec') * 86400)::bigint)
            else cast({as_of} as timestamp) - to_days(floor(_u(i, 'create_days') * 3650)::int)
                - to_seconds(floor(_u(i, 'create_sec') * 86400)::bigint)
        end as create_dt
    from timed2
)
select
    i,
    hh,
    lower(
        substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-'
        || substr(h, 17, 4) || '-' || substr(h, 21, 12)
    ) as amperity_id,
    given_name,
    surname,
    nullif(concat_ws(' ', given_name, surname), '') as full_name,
    case email_kind
        when 'missing_null' then null
        when 'missing_blank' then ''
        when 'invalid_no_at' then replace(clean_email, '@', '.')
        when 'invalid_space' then replace(clean_email, '@', ' @')
        when 'invalid_double_dot' then replace(clean_email, '@', '..x@')
        when 'invalid_no_tld' then regexp_replace(clean_email, '@([a-z]+)[.].*$', '@\\1')
        else case
            when _u(i, 'email_cosmetic') < 0.04 then upper(clean_email)
            when _u(i, 'email_cosmetic') < 0.08
                then upper(left(clean_email, 1)) || substr(clean_email, 2)
            when _u(i, 'email_cosmetic') < 0.10 then ' ' || clean_email
            when _u(i, 'email_cosmetic') < 0.12 then clean_email || ' '
            else clean_email
        end
    end as email,
    email_kind,
    is_sharer,
    phone_kind,
    case when phone_kind = 'parseable' then
        case country when 'US' then '+1' when 'CA' then '+1' when 'GB' then '+44'
            when 'DE' then '+49' else '+33' end
        || p1 || replace(p2, ' ', '') || replace(p3, ' ', '')
    end as phone_e164,
    case
        when phone_kind = 'missing' then null
        when phone_kind = 'junk'
            then {_list(JUNK_PHONES)}[1 + floor(_u(i, 'junk') * {len(JUNK_PHONES)})::bigint]
        when country in ('US', 'CA') then case floor(_u(i, 'phone_fmt') * 7)::int
            when 0 then '(' || p1 || ') ' || p2 || '-' || p3
            when 1 then p1 || '.' || p2 || '.' || p3
            when 2 then '+1 ' || p1 || ' ' || p2 || ' ' || p3
            when 3 then p1 || p2 || p3
            when 4 then p1 || '-' || p2 || '-' || p3
            when 5 then '1-' || p1 || '-' || p2 || '-' || p3
            else '+1' || p1 || p2 || p3 end
        when country = 'GB' then case floor(_u(i, 'phone_fmt') * 3)::int
            when 0 then '+44 ' || p1 || ' ' || p2 || ' ' || p3
            when 1 then '0' || p1 || ' ' || p2 || ' ' || p3
            else '+44' || p1 || p2 || p3 end
        when country = 'DE' then case floor(_u(i, 'phone_fmt') * 3)::int
            when 0 then '+49 ' || p1 || ' ' || p2 || p3
            when 1 then '0' || p1 || ' ' || p2 || p3
            else '+49' || p1 || p2 || p3 end
        else case floor(_u(i, 'phone_fmt') * 3)::int
            when 0 then '+33 ' || p1 || ' ' || p2 || ' ' || p3
            when 1 then '0' || p1 || ' ' || p2 || ' ' || p3
            else '+33' || p1 || replace(p2, ' ', '') || replace(p3, ' ', '') end
    end as phone,
    case when _u(i, 'address_null') < 0.03 then null
        when country in ('DE') then street || ' ' || house_number::varchar
        else house_number::varchar || ' ' || street end as address,
    case when _u(i, 'address2') < 0.15 then {_pick(ADDRESS2, 'address2_kind')} end as address2,
    city,
    case when country = 'GB' and _u(i, 'gb_state') < 0.5 then null else state end as state,
    case country
        when 'US' then postal_prefix || {d('zip', 2)}
        when 'CA' then postal_prefix || ' ' || {d('zip', 1)}
            || chr(65 + floor(_u(i, 'zipl') * 26)::int) || {d('zip2', 1)}
        when 'GB' then postal_prefix || ' ' || {d('zip', 1)}
            || chr(65 + floor(_u(i, 'zipl') * 26)::int) || chr(65 + floor(_u(i, 'zipl2') * 26)::int)
        else postal_prefix || {d('zip', 3)}
    end as postal,
    case when _u(i, 'country_null') < 0.01 then null else country end as country,
    case when _u(i, 'birthdate_null') < 0.05 then null
        else cast(date '1945-01-01' + to_days(floor(_u(i, 'birthdate') * 22600)::int) as date)
    end as birthdate,
    case when _u(i, 'gender') < 0.49 then 'F' when _u(i, 'gender') < 0.95 then 'M'
        when _u(i, 'gender') < 0.97 then 'U' end as gender,
    case when _u(i, 'company') < 0.15
        then {_list(COMPANIES)}[1 + floor(_u(i, 'company_name') * {len(COMPANIES)})::bigint]
    end as company,
    case when _u(i, 'title') < 0.15
        then {_list(JOB_TITLES)}[1 + floor(_u(i, 'title_name') * {len(JOB_TITLES)})::bigint]
    end as title,
    case when _u(i, 'loyalty') < 0.55 then 'LY' || lpad(i::varchar, 10, '0') end as loyalty_id,
    create_dt,
    create_dt + to_seconds(
        floor(_u(i, 'update') * epoch(cast({as_of} as timestamp) - create_dt))::bigint
    ) as update_dt,
    n_orders,
    recency_days,
    latest_at,
    first_at,
    aov,
    preferred_channel,
    home_store_id
from (
    select
        *,
        lpad(hex(_h(i, 'id_hi')), 16, '0')
            || lpad(hex(_h(i, 'id_lo')), 16, '0') as h,
        case when _u(i, 'phone') < 0.08 then 'missing' when _u(i, 'phone') < 0.10 then 'junk'
            else 'parseable' end as phone_kind,
        case country
            when 'US' then {_pick(US_AREA_CODES, 'city')}
            when 'CA' then {_pick(CA_AREA_CODES, 'city')}
            when 'GB' then case when _u(i, 'mobile') < 0.5 then '20' else '7700' end
            when 'DE' then case when _u(i, 'mobile') < 0.5 then '30' else '151' end
            else case when _u(i, 'mobile') < 0.5 then '1' else '6' end
        end as p1,
        case country
            when 'US' then (200 + floor(_u(i, 'exch') * 800)::int)::varchar
            when 'CA' then (200 + floor(_u(i, 'exch') * 800)::int)::varchar
            when 'GB' then case when _u(i, 'mobile') < 0.5 then '7' || {d('exch', 3)}
                else '9' || {d('exch', 2)} end
            when 'DE' then {d('exch', 3)}
            else {d('exch', 2)} || ' ' || {d('exch2', 2)}
        end as p2,
        case country
            when 'DE' then {d('line', 4)}
            when 'FR' then {d('line', 2)} || ' ' || {d('line2', 2)}
            when 'GB'
                then case when _u(i, 'mobile') < 0.5 then {d('line', 4)} else {d('line', 3)} end
            else {d('line', 4)}
        end as p3
    from profiled
) as with_phone_parts
"""


PROFILE_COLUMNS = (
    "amperity_id", "given_name", "surname", "full_name", "email", "phone", "address", "address2",
    "city", "state", "postal", "country", "birthdate", "gender", "company", "title", "loyalty_id",
    "create_dt", "update_dt",
)


def _profile_select() -> str:
    casts = {"birthdate": "date", "create_dt": "timestamp", "update_dt": "timestamp"}
    return ",\n    ".join(
        f"cast(p.{c} as {casts.get(c, 'varchar')}) as {c}" for c in PROFILE_COLUMNS
    )


def _table_sql(schema: str) -> list[str]:
    s = schema
    as_of = _lit(DATA_AS_OF)
    return [
        f"create schema if not exists {s}",
        f"""
create or replace table {s}.merged_customers as
select
    {_profile_select()}
from _demo_people as p
""",
        # Orders: order 0 is the latest, order 1 the first, the rest in between.
        f"""
create or replace table {s}.unified_transactions as
with orders as (
    select
        p.i, p.amperity_id, p.n_orders, p.latest_at, p.first_at, p.aov,
        p.preferred_channel, p.home_store_id,
        unnest(range(p.n_orders)) as k
    from _demo_people as p
    where p.n_orders > 0
),
keyed as (
    select *, i * 100 + k as ik from orders
),
shaped as (
    select
        *,
        case
            when k = 0 then latest_at
            when k = 1 then first_at
            else first_at + to_seconds(
                floor(_u(ik, 'order_at') * epoch(latest_at - first_at))::bigint
            )
        end as order_at,
        case when _u(ik, 'order_channel') < 0.75 then preferred_channel
            else ['online', 'store', 'app'][1 + floor(_u(ik, 'order_channel2') * 3)::bigint]
        end as order_channel
    from keyed
)
select
    cast('O' || lpad(i::varchar, 9, '0') || '-' || lpad(k::varchar, 2, '0') as varchar)
        as order_id,
    cast(amperity_id as varchar) as amperity_id,
    cast(order_at as timestamp) as order_datetime,
    cast(case order_channel when 'store' then home_store_id when 'online' then 'WEB'
        else 'APP' end as varchar) as store_id,
    cast(order_channel as varchar) as channel,
    cast(greatest(1.00, round(aov * exp(0.35 * _z(ik, 'order_revenue')), 2)) as decimal(18, 2))
        as order_revenue,
    cast(least(10, 1 + floor(-ln(1 - _u(ik, 'qty')) * 1.2)) as integer) as order_quantity
from shaped
""",
        f"""
create or replace table {s}.customer_360 as
with order_totals as (
    select
        amperity_id,
        sum(order_revenue) as lifetime_revenue,
        count(*) as lifetime_order_count,
        min(order_datetime) as first_order_datetime,
        max(order_datetime) as latest_order_datetime
    from {s}.unified_transactions
    group by amperity_id
),
scored as (
    select
        p.*,
        coalesce(o.lifetime_revenue, 0) as lifetime_revenue,
        coalesce(o.lifetime_order_count, 0) as lifetime_order_count,
        o.first_order_datetime,
        o.latest_order_datetime,
        greatest(0.0, least(1.0, round(
            case when p.n_orders = 0 then 0.7 + 0.25 * _u(p.i, 'churn')
                else 1 - exp(-p.recency_days / 365.0) * (0.85 + 0.15 * _u(p.i, 'churn'))
            end, 4))) as churn_propensity
    from _demo_people as p
    left join order_totals as o on p.amperity_id = o.amperity_id
)
select
    {_profile_select()},
    cast(p.lifetime_revenue as decimal(18, 2)) as lifetime_revenue,
    cast(p.lifetime_order_count as integer) as lifetime_order_count,
    cast(p.first_order_datetime as timestamp) as first_order_datetime,
    cast(p.latest_order_datetime as timestamp) as latest_order_datetime,
    cast(round(p.lifetime_revenue * 0.3 + (1 - p.churn_propensity) * p.aov * 6, 2)
        as decimal(18, 2)) as predicted_clv,
    cast(p.churn_propensity as double) as churn_propensity,
    cast(p.preferred_channel as varchar) as preferred_channel,
    cast(case when _u(p.i, 'store_null') < 0.1 then null else p.home_store_id end as varchar)
        as preferred_store_id
from scored as p
""",
        # Keyed on the normalised (trimmed, lower-cased) address; a shared address has one row,
        # owned by the first customer (the sharer's row is the same address).
        f"""
create or replace table {s}.email_opt_status as
select
    cast(lower(trim(p.email)) as varchar) as email,
    cast(p.amperity_id as varchar) as amperity_id,
    cast(_u(p.i, 'email_opt') < 0.85 as boolean) as is_email_opted_in,
    cast(p.create_dt + to_seconds(
        floor(_u(p.i, 'email_opt_at') * epoch(cast({as_of} as timestamp) - p.create_dt))::bigint
    ) as timestamp) as updated_at
from _demo_people as p
where p.email is not null and trim(p.email) <> '' and not p.is_sharer
    and _u(p.i, 'email_opt_row') < 0.92
""",
        # Keyed on the E.164 number; customers sharing a number: the first one owns the row.
        f"""
create or replace table {s}.sms_opt_status as
with candidates as (
    select p.i, p.phone_e164, p.amperity_id, p.create_dt
    from _demo_people as p
    where p.phone_e164 is not null and _u(p.i, 'sms_opt_row') < 0.7
),
owners as (
    select phone_e164, min(i) as i from candidates group by phone_e164
)
select
    cast(c.phone_e164 as varchar) as phone,
    cast(c.amperity_id as varchar) as amperity_id,
    cast(_u(c.i, 'sms_opt') < 0.6 as boolean) as is_sms_opted_in,
    cast(c.create_dt + to_seconds(
        floor(_u(c.i, 'sms_opt_at') * epoch(cast({as_of} as timestamp) - c.create_dt))::bigint
    ) as timestamp) as updated_at
from candidates as c
inner join owners as o on c.i = o.i
""",
        # 0-4 distinct interests: a start and a step coprime with 12 walk the list without repeats.
        f"""
create or replace table {s}.customer_interests as
with counts as (
    select
        p.i, p.amperity_id, p.create_dt,
        case when _u(p.hh, 'interests') < 0.30 then 0 when _u(p.hh, 'interests') < 0.60 then 1
            when _u(p.hh, 'interests') < 0.80 then 2 when _u(p.hh, 'interests') < 0.92 then 3
            else 4 end as n_interests,
        floor(_u(p.hh, 'interest_start') * {len(INTERESTS)})::int as start_at,
        [1, 5, 7, 11][1 + floor(_u(p.hh, 'interest_step') * 4)::bigint] as step
    from _demo_people as p
),
slots as (
    select *, unnest(range(n_interests)) as j from counts where n_interests > 0
)
select
    cast(amperity_id as varchar) as amperity_id,
    cast({_list(INTERESTS)}[1 + ((start_at + j * step) % {len(INTERESTS)})] as varchar) as interest,
    cast(create_dt + to_seconds(
        floor(_u(i * 10 + j, 'interest_at') * epoch(cast({as_of} as timestamp) - create_dt))::bigint
    ) as timestamp) as updated_at
from slots
""",
    ]


# --- public API --------------------------------------------------------------------------------


def validate(customers: int, seed: int, schema: str) -> None:
    """Check the options up front; raise ConfigError naming the bad one."""
    if not 1 <= customers <= MAX_CUSTOMERS:
        raise ConfigError(
            f"--customers must be between 1 and {MAX_CUSTOMERS:,}; received {customers}."
        )
    if not 0 <= seed < 2**63:
        raise ConfigError(f"--seed must be a non-negative integer below 2**63; received {seed}.")
    if not _IDENTIFIER.match(schema):
        raise ConfigError(
            f"--schema must be a plain identifier (letters, digits, underscore); "
            f"received {schema!r}."
        )


def generate_into(
    con: duckdb.DuckDBPyConnection, customers: int, seed: int = 42, schema: str = "amperity"
) -> dict[str, int]:
    """Write the six §1 tables into ``schema`` on an open connection; return row counts."""
    validate(customers, seed, schema)
    for statement in _macros(seed):
        con.execute(statement)
    con.execute("set preserve_insertion_order = false")
    try:
        con.execute(_ids_sql(customers))
        con.execute(_people_sql())
        for statement in _table_sql(schema):
            con.execute(statement)
    finally:
        con.execute("drop table if exists _demo_people")
        con.execute("drop table if exists _demo_ids")
    counts: dict[str, int] = {}
    for table in TABLES:
        row = con.execute(f"select count(*) from {schema}.{table}").fetchone()
        counts[table] = int(row[0]) if row else 0
    return counts


def generate(
    duckdb_path: str | Path,
    customers: int,
    seed: int = 42,
    schema: str = "amperity",
    *,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> DemoDataResult:
    """Generate demo data into the DuckDB file at ``duckdb_path`` (created if missing).

    Existing tables of the same names in ``schema`` are replaced.
    """
    validate(customers, seed, schema)
    path = Path(duckdb_path)
    if path.parent and not path.parent.exists():
        raise ConfigError(
            f"The directory of the DuckDB file does not exist: {path.parent}",
            hint="Create it, or point DUCKDB_PATH / --duckdb-path elsewhere.",
        )
    if memory_limit is not None and not _MEMORY_LIMIT.match(memory_limit):
        raise ConfigError(
            f"--memory-limit must be a size such as 512MB or 6GB; received {memory_limit!r}."
        )
    config: dict[str, str | bool | int] = {}
    if threads:
        config["threads"] = threads
    if memory_limit:
        config["memory_limit"] = memory_limit
    try:
        con = duckdb.connect(str(path), config=config)
    except duckdb.Error as exc:
        raise WarehouseError(
            f"Cannot open the DuckDB file {path}: {exc}",
            hint="Is another process (dbt, loader) holding it open?",
        ) from exc
    try:
        con.execute("set enable_progress_bar = false")
        counts = generate_into(con, customers, seed, schema)
        con.execute("checkpoint")
    except duckdb.Error as exc:
        raise WarehouseError(
            f"Generating {customers:,} customers into {path} (schema {schema}) failed: {exc}",
            hint="Out of memory or disk? Try --memory-limit, or a smaller --customers.",
        ) from exc
    finally:
        con.close()
    return DemoDataResult(
        duckdb_path=str(path), schema=schema, customers=customers, seed=seed, row_counts=counts
    )
