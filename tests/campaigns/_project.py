"""A throw-away copy of the dbt project for campaign tests, and a way to run dbt in it.

The copy gets the real macros and cross-campaign models, plus synthetic inputs written by the
tests (people, segments, campaigns), so a test controls exactly who is in an audience.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

REPO = Path(__file__).resolve().parents[2]
DBT = Path(sys.executable).with_name("dbt")

# Synthetic people: ids c<i> for i in [population_start, population_end); every 50th has no
# email, every 50th+1 an invalid one, every 97th shares one email; score = i % 100.
PEOPLE_SQL = """\
{{ config(materialized='table') }}
select
    'c' || cast(i as varchar) as amperity_id,
    case
        when i % 50 = 0 then null
        when i % 50 = 1 then 'not-an-email@'
        when i % 97 = 0 then 'Shared@Example.com'
        else ' Person' || cast(i as varchar) || '@Example.com '
    end as email,
    case
        when i % 7 = 0 then 'n/a'
        when i % 3 = 0 then '(415) 555-' || lpad(cast(i % 10000 as varchar), 4, '0')
    end as phone,
    case when i % 11 <> 0 then 'ext-' || cast(i as varchar) end as external_ref,
    'US' as country,
    'Name' || cast(i as varchar) as given_name,
    i % 100 as score
from range({{ var('population_start', 0) }}, {{ var('population_end', 1000) }}) as t(i)
"""

INTERESTS_SQL = """\
{{ config(materialized='table') }}
select amperity_id, 'interest_' || cast(n as varchar) as interest
from {{ ref('test_people') }}
cross join range(0, 3) as r(n)
where n < cast(substr(amperity_id, 2) as integer) % 3
"""

EVERYONE_SQL = "select amperity_id from {{ ref('test_people') }}\n"

DEFAULT_VARS: dict[str, Any] = {
    "klaviyo_attribute_source": "test_people",
    "klaviyo_condition_source": "test_people",
    "klaviyo_default_attributes": {
        "email": "email",
        "phone_number": "phone",
        "first_name": "given_name",
    },
}


@dataclass
class DbtResult:
    returncode: int
    output: str
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    def message(self, model: str) -> str:
        """dbt's message for one model of the run ('' when it was not run)."""
        return str(self.results.get(model, {}).get("message") or "")

    def status(self, model: str) -> str:
        return str(self.results.get(model, {}).get("status") or "")


class CampaignProject:
    """A copy of the project in `root`, building into `root/warehouse.duckdb`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.duckdb_path = root / "warehouse.duckdb"
        shutil.copy(REPO / "dbt_project.yml", root / "dbt_project.yml")
        shutil.copy(REPO / "profiles.yml", root / "profiles.yml")
        shutil.copytree(REPO / "macros", root / "macros")
        generic_tests = Path("tests", "dbt", "generic")
        shutil.copytree(REPO / generic_tests, root / generic_tests)
        # Reference data the campaign SQL reads (phone numbering plans); loaded before the
        # first `dbt run` (see `dbt`), or by any `dbt build` that selects it.
        shutil.copytree(REPO / "seeds", root / "seeds")
        self.seeded = False
        # Only the cross-campaign models: the test writes its own inputs and campaigns.
        shutil.copytree(REPO / "models" / "klaviyo", root / "models" / "klaviyo")
        self.write_model("test_inputs/test_people", PEOPLE_SQL)
        self.write_model("test_inputs/test_interests", INTERESTS_SQL)
        self.write_model("test_inputs/test_everyone", EVERYONE_SQL)

    def write_model(self, name: str, sql: str) -> None:
        path = self.root / "models" / f"{name}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql)

    def write_campaign(self, model: str, body: str) -> None:
        self.write_model(f"campaigns/{model}", "{{ klaviyo_campaign(\n" + body + "\n) }}\n")

    def dbt(self, *args: str, campaigns: list[str], keep_results: bool = False,
            **variables: Any) -> DbtResult:
        """Run one dbt command; `campaigns` is var klaviyo_campaigns.

        The seeds are loaded once, before the first `dbt run` (`dbt build` loads what it
        selects itself). ``keep_results``: leave `target/run_results.json` where dbt wrote it
        (read by `loader push`) instead of removing it once read."""
        if args and args[0] == "run" and not self.seeded:
            seed = self.dbt("seed", campaigns=campaigns, **variables)
            if seed.returncode != 0:
                return seed
            self.seeded = True
        all_vars = {**DEFAULT_VARS, "klaviyo_campaigns": campaigns, **variables}
        target = self.root / "target"
        env = {**os.environ, "DUCKDB_PATH": str(self.duckdb_path), "DBT_TARGET": "duckdb"}
        command = [
            str(DBT),
            *args,
            "--project-dir",
            str(self.root),
            "--profiles-dir",
            str(self.root),
            "--target-path",
            str(target),
            "--log-path",
            str(self.root / "logs"),
            "--vars",
            json.dumps(all_vars),
        ]
        run = subprocess.run(
            command, cwd=self.root, env=env, capture_output=True, text=True, timeout=300
        )
        results: dict[str, dict[str, Any]] = {}
        run_results = target / "run_results.json"
        if run_results.exists():
            for result in json.loads(run_results.read_text())["results"]:
                results[result["unique_id"].split(".")[-1]] = result
            if not keep_results:
                run_results.unlink()
        return DbtResult(run.returncode, run.stdout + run.stderr, results)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.duckdb_path), read_only=True) as connection:
            return connection.sql(sql).fetchall()
