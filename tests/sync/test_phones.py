"""The engine's phone verdicts equal libphonenumber's (``loader.sync.phones``).

The sample: the example numbers of every region and number type (valid) and each region's
invalid example, their neighbours (each digit changed, one digit more or less, a national
prefix inserted), random digits after every calling code, and malformed values. The reference
is ``phonenumbers`` itself: parse, ``is_valid_number``, and the E.164 form equal to the value.
"""

from __future__ import annotations

import random

import duckdb
import phonenumbers
from phonenumbers import PhoneNumberType as T
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE, SUPPORTED_REGIONS

from loader.sync import phones

TYPES = (T.FIXED_LINE, T.MOBILE, T.TOLL_FREE, T.PREMIUM_RATE, T.SHARED_COST, T.VOIP,
         T.PERSONAL_NUMBER, T.PAGER, T.UAN, T.VOICEMAIL)
E164 = phonenumbers.PhoneNumberFormat.E164


def reference(value: str) -> bool:
    try:
        number = phonenumbers.parse(value)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number) and phonenumbers.format_number(
        number, E164) == value


def sample(seed: int = 1, random_per_code: int = 40) -> list[str]:
    rng = random.Random(seed)
    examples = []
    for region in sorted(SUPPORTED_REGIONS):
        for kind in TYPES:
            n = phonenumbers.example_number_for_type(region, kind)
            if n:
                examples.append(phonenumbers.format_number(n, E164))
        n = phonenumbers.invalid_example_number(region)
        if n:
            examples.append(phonenumbers.format_number(n, E164))
    for cc in COUNTRY_CODE_TO_REGION_CODE:
        n = phonenumbers.example_number_for_non_geo_entity(cc)
        if n:
            examples.append(phonenumbers.format_number(n, E164))
    codes = [str(c) for c in COUNTRY_CODE_TO_REGION_CODE]
    out = set(examples)
    for e in examples:
        digits = e[1:]
        for i in range(1, len(digits)):
            for x in rng.sample("0123456789", 2):
                out.add("+" + digits[:i] + x + digits[i + 1:])
        out |= {e + str(rng.randint(0, 9)), e[:-1]}
        cc = next(c for c in codes if digits.startswith(c))
        out |= {f"+{cc}0{digits[len(cc):]}", f"+{cc}1{digits[len(cc):]}"}
    for cc in codes:
        for _ in range(random_per_code):
            out.add("+" + cc + "".join(rng.choice("0123456789")
                                       for _ in range(rng.randint(1, 15))))
    out |= {"+", "+0", "+01234567", "12125550143", "+1 212 555 0143", "+1212555014a",
            "+12125550143 ", ""}
    return sorted(out)


def test_engine_verdicts_equal_the_library_on_every_region() -> None:
    values = sample()
    con = duckdb.connect()
    con.execute("create table v (value varchar)")
    con.execute("insert into v select unnest(?)", [values])
    counts = phones.classify(con, "select value from v")
    got = dict(con.execute(f"select value, valid from {phones.VERDICTS}").fetchall())
    want = {v: reference(v) for v in values}
    wrong = sorted(v for v in values if got[v] is not want[v])
    assert not wrong, f"{len(wrong)} verdicts differ, e.g. {wrong[:10]}"
    valid = sum(want.values())
    assert counts["numbers"] == len(values) and counts["invalid"] == len(values) - valid
    assert 10_000 < valid < len(values) - 10_000  # both kinds well represented
    assert 0 < counts["by_library"] < len(values) // 10  # the library decides only a few
    # valid numbers of many plans, including regions that share a calling code
    assert {r[0] for r in con.execute(f"select region from {phones.VERDICTS} where valid")
            .fetchall()} >= {"US", "GB", "FR", "DE", "IN", "BR", "AR", "001"}
    for region in ("CA", "JM", "JE", "IM", "KZ", "AX"):
        example = phonenumbers.example_number_for_type(region, T.FIXED_LINE)
        assert got[phonenumbers.format_number(example, E164)] is True, region
