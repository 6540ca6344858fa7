"""The email rule, built by real dbt into DuckDB: international addresses (RFC 6531 local parts,
IDN domains) and every RFC 5322 atext character are kept, whitespace around an address
(newlines, no-break spaces) is trimmed, and clearly broken addresses are shrunk as
invalid_email. Each case is checked against its literal expectation and against the
independent Python rule in tests/campaigns/_email.py, with the default rule and with the
one-line ASCII option (var klaviyo_email_ascii_only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.campaigns._email import is_missing, normal_email
from tests.campaigns._project import CampaignProject

# (raw email, expected with the default rule, expected with klaviyo_email_ascii_only)
CASES: list[tuple[str | None, str | None, str | None]] = [
    # international local parts and domains
    ("josé.kowalski@example.com", "josé.kowalski@example.com", None),
    ("łukasz.dubois@example.com", "łukasz.dubois@example.com", None),
    ("JOSÉ.Kowalski@Example.COM", "josé.kowalski@example.com", None),
    ("søren.ødegaard@example.dk", "søren.ødegaard@example.dk", None),
    ("müller@münchen.de", "müller@münchen.de", None),
    ("пользователь@пример.рф", "пользователь@пример.рф", None),
    ("用户@例子.广告", "用户@例子.广告", None),
    ("ascii@пример.рф", "ascii@пример.рф", None),
    # RFC 5322 atext, punycode
    ("o'brien@example.com", "o'brien@example.com", "o'brien@example.com"),
    ("O'Brien@Example.com", "o'brien@example.com", "o'brien@example.com"),
    ("a!#$%&*+/=?^_`{|}~-z@example.com", "a!#$%&*+/=?^_`{|}~-z@example.com",
     "a!#$%&*+/=?^_`{|}~-z@example.com"),
    ("user+tag@sub.example.co.uk", "user+tag@sub.example.co.uk", "user+tag@sub.example.co.uk"),
    ("user@xn--80ak6aa92e.xn--p1ai", "user@xn--80ak6aa92e.xn--p1ai",
     "user@xn--80ak6aa92e.xn--p1ai"),
    ("user@my-shop.example", "user@my-shop.example", "user@my-shop.example"),
    # whitespace around the address is trimmed, not a reason to reject
    (" anna@example.com\n", "anna@example.com", "anna@example.com"),
    ("\tanna@example.com\r\n", "anna@example.com", "anna@example.com"),
    ("\u00a0anna@example.com\u00a0", "anna@example.com", "anna@example.com"),
    # the local part: at most 64 octets (UTF-8 bytes), not characters
    ("a" * 64 + "@example.com", "a" * 64 + "@example.com", "a" * 64 + "@example.com"),
    ("a" * 65 + "@example.com", None, None),
    ("é" * 32 + "@example.com", "é" * 32 + "@example.com", None),
    ("é" * 33 + "@example.com", None, None),
    # clearly broken
    ("no-at-sign.example.com", None, None),
    ("user@localhost", None, None),
    ("john doe@example.com", None, None),
    ("john@exa mple.com", None, None),
    ("user\u3000name@example.com", None, None),
    ("user\u200bname@example.com", None, None),
    ("user\u00a0name@example.com", None, None),
    ("a@b@example.com", None, None),
    (".leading@example.com", None, None),
    ("trailing.@example.com", None, None),
    ("double..dot@example.com", None, None),
    ("user@-example.com", None, None),
    ("user@example-.com", None, None),
    ("user@example..com", None, None),
    ("user@example.com.", None, None),
    ("user@example.c", None, None),
    ("user@example.123", None, None),
    ("user@[127.0.0.1]", None, None),
    ('"quoted"@example.com', None, None),
    ("bo@", None, None),
    # missing
    ("   ", None, None),
    ("\n", None, None),
    (None, None, None),
]


def _literal(value: str | None) -> str:
    return "cast(null as varchar)" if value is None else "'" + value.replace("'", "''") + "'"


CASES_SQL = (
    "{{ config(materialized='table') }}\n"
    "select * from (values\n"
    + ",\n".join(f"    ('e{i}', {_literal(raw)})" for i, (raw, _, _) in enumerate(CASES))
    + "\n) as cases(amperity_id, email)\n"
)

Rows = dict[str, tuple[str | None, str | None]]


def _build(root: Path, ascii_only: bool) -> Rows:
    project = CampaignProject(root)
    project.write_model("test_inputs/test_email_cases", CASES_SQL)
    project.write_model(
        "test_inputs/test_email_everyone", "select amperity_id from {{ ref('test_email_cases') }}\n"
    )
    project.write_campaign(
        "by_email",
        "    name='By email',\n    campaign_id='by_email',\n    include=['test_email_everyone'],\n"
        "    treatments=[{'name': 'Send', 'percent': 100, 'list_name': 'By email'}]",
    )
    # The default rule is the project's own (dbt_project.yml); the ASCII rule its one-line var.
    option = {"klaviyo_email_ascii_only": True} if ascii_only else {}
    run = project.dbt(
        "run",
        "--select",
        "+by_email",
        campaigns=["by_email"],
        klaviyo_attribute_source="test_email_cases",
        klaviyo_condition_source="test_email_cases",
        klaviyo_default_attributes={"email": "email"},
        **option,
    )
    assert run.returncode == 0, run.output
    rows = project.query("select amperity_id, email, shrink_reason from by_email")
    return {str(a): (e, r) for a, e, r in rows}


@pytest.fixture(scope="module")
def email_rows(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Rows]:
    return {
        ascii_only: _build(Path(tmp_path_factory.mktemp(f"email_{ascii_only}")), ascii_only)
        for ascii_only in (False, True)
    }


def test_the_python_rule_agrees_with_the_expected_cases() -> None:
    for raw, expected, expected_ascii in CASES:
        assert normal_email(raw) == expected, raw
        assert normal_email(raw, ascii_only=True) == expected_ascii, raw


@pytest.mark.parametrize("ascii_only", [False, True], ids=["default", "ascii_only"])
@pytest.mark.parametrize(
    ("index", "raw", "expected", "expected_ascii"), [(i, *case) for i, case in enumerate(CASES)]
)
def test_dbt_normalises_like_the_documented_rule(
    email_rows: dict[bool, Rows],
    ascii_only: bool,
    index: int,
    raw: str | None,
    expected: str | None,
    expected_ascii: str | None,
) -> None:
    email, shrink_reason = email_rows[ascii_only][f"e{index}"]
    want = expected_ascii if ascii_only else expected
    assert email == want == normal_email(raw, ascii_only), raw
    # Cases normalising to the same address are one person: the smallest id (string order)
    # is sent, the others are duplicate_email.
    holders = [
        f"e{i}" for i, case in enumerate(CASES) if want is not None
        and normal_email(case[0], ascii_only) == want
    ]
    if want is not None and min(holders) != f"e{index}":
        assert shrink_reason == "duplicate_email", raw
    elif want is not None:
        assert shrink_reason is None, raw
    elif is_missing(raw):
        assert shrink_reason == "missing_email", raw
    else:
        assert shrink_reason == "invalid_email", raw
