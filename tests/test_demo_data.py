"""`loader demo-data`: deterministic, N-independent, §1 shapes, edge cases at their rates."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from loader import demo_data
from loader.cli import app

SCHEMA_TYPES: dict[str, dict[str, str]] = {
    "merged_customers": {
        "amperity_id": "VARCHAR", "given_name": "VARCHAR", "surname": "VARCHAR",
        "full_name": "VARCHAR", "email": "VARCHAR", "phone": "VARCHAR", "address": "VARCHAR",
        "address2": "VARCHAR", "city": "VARCHAR", "state": "VARCHAR", "postal": "VARCHAR",
        "country": "VARCHAR", "birthdate": "DATE", "gender": "VARCHAR", "company": "VARCHAR",
        "title": "VARCHAR", "loyalty_id": "VARCHAR", "create_dt": "TIMESTAMP",
        "update_dt": "TIMESTAMP",
    },
    "unified_transactions": {
        "order_id": "VARCHAR", "amperity_id": "VARCHAR", "order_datetime": "TIMESTAMP",
        "store_id": "VARCHAR", "channel": "VARCHAR", "order_revenue": "DECIMAL(18,2)",
        "order_quantity": "INTEGER",
    },
    "email_opt_status": {
        "email": "VARCHAR", "amperity_id": "VARCHAR", "is_email_opted_in": "BOOLEAN",
        "updated_at": "TIMESTAMP",
    },
    "sms_opt_status": {
        "phone": "VARCHAR", "amperity_id": "VARCHAR", "is_sms_opted_in": "BOOLEAN",
        "updated_at": "TIMESTAMP",
    },
    "customer_interests": {
        "amperity_id": "VARCHAR", "interest": "VARCHAR", "updated_at": "TIMESTAMP",
    },
}
SCHEMA_TYPES["customer_360"] = {
    **SCHEMA_TYPES["merged_customers"],
    "lifetime_revenue": "DECIMAL(18,2)", "lifetime_order_count": "INTEGER",
    "first_order_datetime": "TIMESTAMP", "latest_order_datetime": "TIMESTAMP",
    "predicted_clv": "DECIMAL(18,2)", "churn_propensity": "DOUBLE",
    "preferred_channel": "VARCHAR", "preferred_store_id": "VARCHAR",
}
KEYS = {
    "merged_customers": ["amperity_id"],
    "customer_360": ["amperity_id"],
    "unified_transactions": ["order_id"],
    "email_opt_status": ["email"],
    "sms_opt_status": ["phone"],
    "customer_interests": ["amperity_id", "interest"],
}
# A deliberately simple well-formedness check, independent of the generator's own kinds.
VALID_EMAIL = re.compile(r"^[^@\s]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")


def _rows(path: Path, table: str, schema: str = "amperity") -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return sorted(
            con.execute(f"select * from {schema}.{table}").fetchall(),
            key=lambda row: tuple("" if v is None else str(v) for v in row),
        )
    finally:
        con.close()


def _digest(path: Path, schema: str = "amperity") -> dict[str, str]:
    return {
        t: hashlib.sha256(repr(_rows(path, t, schema)).encode()).hexdigest()
        for t in demo_data.TABLES
    }


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    """20,000 customers, seed 42: big enough for rates, small enough to take a second or two."""
    path = tmp_path_factory.mktemp("demo_sample") / "sample.duckdb"
    demo_data.generate(path, 20_000, 42)
    con = duckdb.connect(str(path), read_only=True)
    yield con
    con.close()


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


# --- determinism -------------------------------------------------------------------------------


def test_same_seed_and_size_give_identical_tables(tmp_path: Path) -> None:
    demo_data.generate(tmp_path / "a.duckdb", 500, 7)
    demo_data.generate(tmp_path / "b.duckdb", 500, 7)
    assert _digest(tmp_path / "a.duckdb") == _digest(tmp_path / "b.duckdb")


def test_a_different_seed_gives_different_data(tmp_path: Path) -> None:
    demo_data.generate(tmp_path / "a.duckdb", 500, 7)
    demo_data.generate(tmp_path / "b.duckdb", 500, 8)
    a, b = _digest(tmp_path / "a.duckdb"), _digest(tmp_path / "b.duckdb")
    assert all(a[t] != b[t] for t in demo_data.TABLES)


def test_rerun_replaces_tables_instead_of_appending(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    demo_data.generate(path, 300, 7)
    first = _digest(path)
    result = demo_data.generate(path, 300, 7)
    assert _digest(path) == first
    assert result.row_counts["merged_customers"] == 300


def test_a_bigger_n_is_a_superset_and_customer_i_does_not_depend_on_n(tmp_path: Path) -> None:
    small, big = tmp_path / "small.duckdb", tmp_path / "big.duckdb"
    demo_data.generate(small, 100, 42)
    demo_data.generate(big, 200, 42)
    for table in demo_data.TABLES:
        small_rows, big_rows = set(_rows(small, table)), set(_rows(big, table))
        assert small_rows <= big_rows, table
    small_ids = {r[0] for r in _rows(small, "merged_customers")}
    for table in ("merged_customers", "customer_360", "unified_transactions",
                  "customer_interests"):
        id_col = 0 if table != "unified_transactions" else 1
        restricted = {r for r in _rows(big, table) if r[id_col] in small_ids}
        assert restricted == set(_rows(small, table)), table


# --- shapes and keys ---------------------------------------------------------------------------


def test_tables_have_the_architecture_columns_and_types(sample: duckdb.DuckDBPyConnection) -> None:
    for table, expected in SCHEMA_TYPES.items():
        actual = {
            name: dtype
            for name, dtype in sample.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'amperity' and table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
        }
        assert actual == expected, table
        assert list(actual) == list(expected), f"{table}: column order"


def test_keys_are_unique_and_not_null(sample: duckdb.DuckDBPyConnection) -> None:
    for table, key in KEYS.items():
        cols = ", ".join(key)
        nulls = " or ".join(f"{c} is null" for c in key)
        assert _one(sample, f"select count(*) from amperity.{table} where {nulls}") == 0, table
        dupes = _one(
            sample,
            f"select count(*) from (select {cols} from amperity.{table} "
            f"group by {cols} having count(*) > 1)",
        )
        assert dupes == 0, table


def test_every_customer_is_in_both_customer_tables(sample: duckdb.DuckDBPyConnection) -> None:
    assert _one(sample, "select count(*) from amperity.merged_customers") == 20_000
    assert _one(
        sample,
        "select count(*) from amperity.merged_customers m "
        "full join amperity.customer_360 c using (amperity_id) "
        "where m.amperity_id is null or c.amperity_id is null",
    ) == 0
    profile = ", ".join(SCHEMA_TYPES["merged_customers"])
    assert _one(
        sample,
        f"select count(*) from (select {profile} from amperity.customer_360 "
        f"except select {profile} from amperity.merged_customers)",
    ) == 0


def test_lifetime_figures_agree_with_transactions(sample: duckdb.DuckDBPyConnection) -> None:
    mismatches = _one(
        sample,
        """
        with t as (
            select amperity_id, sum(order_revenue) as revenue, count(*) as orders,
                min(order_datetime) as first_at, max(order_datetime) as latest_at
            from amperity.unified_transactions group by amperity_id
        )
        select count(*) from amperity.customer_360 c left join t using (amperity_id)
        where c.lifetime_revenue <> coalesce(t.revenue, 0)
            or c.lifetime_order_count <> coalesce(t.orders, 0)
            or c.first_order_datetime is distinct from t.first_at
            or c.latest_order_datetime is distinct from t.latest_at
        """,
    )
    assert mismatches == 0
    assert _one(
        sample,
        "select count(*) from amperity.unified_transactions t "
        "anti join amperity.merged_customers using (amperity_id)",
    ) == 0


# --- distributions and edge cases --------------------------------------------------------------


def _emails(con: duckdb.DuckDBPyConnection) -> list[str | None]:
    return [r[0] for r in con.execute("select email from amperity.merged_customers").fetchall()]


def test_missing_and_invalid_emails_at_their_rates(sample: duckdb.DuckDBPyConnection) -> None:
    emails = _emails(sample)
    n = len(emails)
    missing = [e for e in emails if e is None or e.strip() == ""]
    present = [e.strip() for e in emails if e is not None and e.strip() != ""]
    invalid = [e for e in present if not VALID_EMAIL.match(e) or ".." in e]
    assert 0.03 < len(missing) / n < 0.05
    assert any(e is None for e in missing) and any(e == "" for e in missing)
    assert 0.014 < len(invalid) / n < 0.026
    kinds = {
        "no @": any("@" not in e for e in invalid),
        "inner space": any(" " in e for e in invalid),
        "double dot": any(".." in e for e in invalid),
        "no TLD": any(re.search(r"@[^.\s]+$", e) for e in invalid),
    }
    assert all(kinds.values()), kinds


def test_valid_emails_come_in_mixed_case_and_with_stray_spaces(
    sample: duckdb.DuckDBPyConnection,
) -> None:
    present = [e for e in _emails(sample) if e and e.strip()]
    assert sum(e != e.strip() for e in present) / len(present) > 0.01
    assert sum(e.strip() != e.strip().lower() for e in present) / len(present) > 0.03
    valid = [e.strip().lower() for e in present if VALID_EMAIL.match(e.strip())]
    domains = {e.split("@")[-1] for e in valid}
    assert all("example" in d for d in domains), "demo emails must use reserved domains"


def test_about_one_percent_of_customers_share_an_email(sample: duckdb.DuckDBPyConnection) -> None:
    sharing = _one(
        sample,
        """
        select coalesce(sum(n), 0) from (
            select lower(trim(email)) as e, count(*) as n from amperity.merged_customers
            where email is not null and trim(email) <> '' group by 1 having count(*) > 1
        )
        """,
    )
    assert 0.006 < sharing / 20_000 < 0.014
    # shared by two customers, not by crowds
    assert _one(
        sample,
        "select max(n) from (select count(*) as n from amperity.merged_customers "
        "where email is not null and trim(email) <> '' group by lower(trim(email)))",
    ) == 2


def test_about_ten_percent_of_names_are_non_ascii(sample: duckdb.DuckDBPyConnection) -> None:
    names = sample.execute("select full_name from amperity.merged_customers").fetchall()
    non_ascii = [n for (n,) in names if n and not n.isascii()]
    assert 0.08 < len(non_ascii) / len(names) < 0.12
    joined = "".join(non_ascii)
    for char in ("é", "ñ", "ü", "Ø", "李"):
        assert char in joined, char


def test_phones_come_in_assorted_formats(sample: duckdb.DuckDBPyConnection) -> None:
    rows = sample.execute("select phone, country from amperity.merged_customers").fetchall()
    phones = [(p, c) for p, c in rows if p is not None]
    patterns = {
        "(415) 555-0134": r"^\(\d{3}\) \d{3}-\d{4}$",
        "415.555.0134": r"^\d{3}\.\d{3}\.\d{4}$",
        "+1 415 555 0134": r"^\+1 \d{3} \d{3} \d{4}$",
        "4155550134": r"^\d{10}$",
        "+44 20 7946 0958": r"^\+44 20 \d{4} \d{4}$",
        "020 7946 0958": r"^020 \d{4} \d{4}$",
    }
    for example, pattern in patterns.items():
        assert any(re.match(pattern, p) for p, _ in phones), example
    assert any(re.match(r"^0\d", p) and c == "GB" for p, c in phones)
    junk = [p for p, _ in phones if len(re.sub(r"\D", "", p)) < 8]
    assert 0.01 < len(junk) / len(rows) < 0.03
    assert {"12345", "n/a"} <= {p for p, _ in phones}
    missing = sum(p is None for p, _ in rows)
    assert 0.05 < missing / len(rows) < 0.11


def test_countries_are_mostly_us(sample: duckdb.DuckDBPyConnection) -> None:
    shares = dict(
        sample.execute(
            "select country, count(*) / 20000.0 from amperity.merged_customers group by 1"
        ).fetchall()
    )
    assert 0.8 < shares["US"] < 0.9
    for country in ("GB", "CA", "DE", "FR"):
        assert 0.01 < shares[country] < 0.08, country


def test_interests_are_zero_to_four_distinct_values(sample: duckdb.DuckDBPyConnection) -> None:
    per_customer = dict(
        sample.execute(
            """
            select n, count(*) from (
                select c.amperity_id, count(i.interest) as n
                from amperity.merged_customers c
                left join amperity.customer_interests i using (amperity_id)
                group by 1
            ) group by n
            """
        ).fetchall()
    )
    assert set(per_customer) == {0, 1, 2, 3, 4}
    values = {
        r[0]
        for r in sample.execute("select distinct interest from amperity.customer_interests")
        .fetchall()
    }
    assert values == set(demo_data.INTERESTS)


def test_orders_per_customer_and_revenue_are_skewed(sample: duckdb.DuckDBPyConnection) -> None:
    lo, hi, zero = sample.execute(
        "select min(lifetime_order_count), max(lifetime_order_count), "
        "avg((lifetime_order_count = 0)::int) from amperity.customer_360"
    ).fetchone()
    assert (lo, hi) == (0, 20)
    assert 0.2 < zero < 0.3
    p50, p90, p99 = sample.execute(
        "select quantile_cont(lifetime_revenue, [0.5, 0.9, 0.99]) from amperity.customer_360"
    ).fetchone()[0]
    assert p90 > 3 * p50 and p99 > 2 * p90  # a long right tail: segments have a top tier
    assert _one(sample, "select max(order_datetime) from amperity.unified_transactions") <= (
        _one(sample, f"select timestamp '{demo_data.DATA_AS_OF}'")
    )


def test_opt_status_covers_most_contacts(sample: duckdb.DuckDBPyConnection) -> None:
    emails_with_status = _one(
        sample,
        "select avg((o.email is not null)::int) from amperity.merged_customers c "
        "left join amperity.email_opt_status o on lower(trim(c.email)) = o.email "
        "where c.email is not null and trim(c.email) <> ''",
    )
    assert emails_with_status > 0.85
    assert _one(
        sample, "select count(*) from amperity.email_opt_status where email <> lower(trim(email))"
    ) == 0
    opted_in = _one(sample, "select avg(is_email_opted_in::int) from amperity.email_opt_status")
    assert 0.75 < opted_in < 0.95
    assert _one(
        sample,
        "select count(*) from amperity.sms_opt_status "
        "where not regexp_matches(phone, '^\\+[1-9][0-9]{7,14}$')",
    ) == 0
    assert _one(sample, "select count(*) from amperity.sms_opt_status") > 10_000


# --- the command -------------------------------------------------------------------------------


def test_cli_writes_the_tables_and_reports_counts(tmp_path: Path) -> None:
    path = tmp_path / "cli.duckdb"
    result = CliRunner().invoke(
        app, ["demo-data", "--customers", "50", "--seed", "3", "--duckdb-path", str(path)]
    )
    assert result.exit_code == 0, result.output
    assert "amperity.merged_customers" in result.output
    assert len(_rows(path, "merged_customers")) == 50


def test_cli_uses_duckdb_path_from_the_environment_and_a_custom_schema(tmp_path: Path) -> None:
    path = tmp_path / "env.duckdb"
    result = CliRunner().invoke(
        app, ["demo-data", "-n", "20", "--schema", "crm"], env={"DUCKDB_PATH": str(path)}
    )
    assert result.exit_code == 0, result.output
    assert len(_rows(path, "customer_360", schema="crm")) == 20


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--customers", "0"], "--customers must be between 1"),
        (["--customers", "10", "--schema", "bad-schema; drop"], "--schema must be a plain"),
        (["--customers", "10", "--seed", "-1"], "--seed must be a non-negative integer"),
        (["--customers", "10", "--memory-limit", "lots"], "--memory-limit must be a size"),
    ],
)
def test_cli_rejects_bad_options_with_a_clear_message(
    tmp_path: Path, args: list[str], message: str
) -> None:
    path = tmp_path / "bad.duckdb"
    result = CliRunner().invoke(app, ["demo-data", *args, "--duckdb-path", str(path)])
    assert result.exit_code == 2
    assert message in result.output
    assert not path.exists()
