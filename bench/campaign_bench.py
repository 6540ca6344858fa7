"""Campaign build benchmark: dbt's campaign model vs one hand-written DuckDB query.

Over 400 lines because the hand-written reference query (the same audience without dbt) is
kept here in full, next to the harness that compares the two row for row.

The realistic campaign (3 includes, 2 excludes, 3 sub-audiences, 3 treatments + a control
each, 8 attributes) is built by dbt over `loader demo-data --customers N`; the same audience
is then computed by one hand-written CREATE TABLE AS query. Both run in a fresh process on
the same DuckDB file (same threads), and must produce the same rows. Prints, per size: dbt's
model execution time (run_results), the hand-written query's time, their ratio, each
process's peak memory (max RSS) and the hand-written query's CPU time.

    .venv/bin/python bench/campaign_bench.py                 # 1M and 10M customers
    .venv/bin/python bench/campaign_bench.py --customers 100000

On PostgreSQL or Spark (`--target`, the profiles.yml output; started and configured as in
docs/scale.md, e.g. `eval "$(scripts/engines/postgres.sh env)"`), the demo tables are copied
from the generated DuckDB file into the engine (timed apart), dbt builds the same campaign there,
and the hand-written DuckDB baseline is not run; the audience's row count must equal DuckDB's
when a DuckDB run of the same size left one:

    .venv/bin/python bench/campaign_bench.py --target postgres --customers 1000000

`--compare-with DIR` compares the campaign SQL of this checkout with another checkout of the
project (e.g. `git worktree add ../before main`) on the same data instead: each checkout
compiles the campaign, then the two compiled queries run alternately in fresh processes;
prints wall and CPU time (user + system, all of DuckDB's threads: what a shared machine's
load does not inflate) of each, and each checkout's dbt compile time for the model.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
BIN = Path(sys.executable).parent

CAMPAIGN = """\
{{ klaviyo_campaign(
    name='Bench campaign',
    campaign_id='bench_campaign',
    include=['seg_high_value_customers', 'seg_recent_buyers', 'seg_outdoor_enthusiasts'],
    exclude=['seg_email_unsubscribed', 'seg_lapsed_customers'],
    sub_audiences=[
        {'name': 'VIP', 'condition': 'lifetime_revenue >= 1000', 'treatments': [
            {'name': 'A', 'percent': 30, 'list_name': 'Bench VIP A'},
            {'name': 'B', 'percent': 30, 'list_name': 'Bench VIP B'},
            {'name': 'C', 'percent': 30, 'list_name': 'Bench VIP C'},
            {'name': 'Holdout', 'percent': 10, 'control': true}]},
        {'name': 'App', 'condition': "preferred_channel = 'app'", 'treatments': [
            {'name': 'A', 'percent': 30, 'list_name': 'Bench app A'},
            {'name': 'B', 'percent': 30, 'list_name': 'Bench app B'},
            {'name': 'C', 'percent': 30, 'list_name': 'Bench app C'},
            {'name': 'Holdout', 'percent': 10, 'control': true}]},
        {'name': 'Rest', 'treatments': [
            {'name': 'A', 'percent': 30, 'list_name': 'Bench rest A'},
            {'name': 'B', 'percent': 30, 'list_name': 'Bench rest B'},
            {'name': 'C', 'percent': 30, 'list_name': 'Bench rest C'},
            {'name': 'Holdout', 'percent': 10, 'control': true}]},
    ],
    attributes={'drop': ['organization', 'title', 'address1', 'address2', 'zip']},
) }}
"""

# National phone numbering plans (docs/campaigns.md, "Phone number"): spellings -> calling
# code, trunk prefix, national significant number length range, lowest first digit. The
# hand-written query joins to them inline; dbt joins the seeds klaviyo_phone_plans and
# klaviyo_phone_country_aliases.
PHONE_PLANS = [
    ("US|USA|UNITED STATES|UNITED STATES OF AMERICA|U.S.|U.S.A.", "1", "1", 10, 10, "2"),
    ("CA|CAN|CANADA", "1", "1", 10, 10, "2"),
    (
        "GB|GBR|UNITED KINGDOM|UK|GREAT BRITAIN|BRITAIN|ENGLAND|SCOTLAND|WALES|NORTHERN IRELAND",
        "44",
        "0",
        9,
        10,
        "1",
    ),
    ("DE|DEU|GERMANY", "49", "0", 8, 11, "1"),
    ("FR|FRA|FRANCE", "33", "0", 9, 9, "1"),
    ("IE|IRL|IRELAND|REPUBLIC OF IRELAND", "353", "0", 7, 9, "1"),
    ("ES|ESP|SPAIN", "34", "", 9, 9, "6"),
    ("IT|ITA|ITALY", "39", "", 6, 11, "0"),
    ("NL|NLD|NETHERLANDS|THE NETHERLANDS|HOLLAND", "31", "0", 9, 9, "1"),
    ("BE|BEL|BELGIUM", "32", "0", 8, 9, "1"),
    ("AU|AUS|AUSTRALIA", "61", "0", 9, 9, "1"),
    ("NZ|NZL|NEW ZEALAND", "64", "0", 8, 10, "1"),
    ("MX|MEX|MEXICO", "52", "", 10, 10, "2"),
    ("BR|BRA|BRAZIL", "55", "0", 10, 11, "1"),
    ("JP|JPN|JAPAN", "81", "0", 9, 10, "1"),
    ("IN|IND|INDIA", "91", "0", 10, 10, "1"),
    ("CN|CHN|CHINA", "86", "0", 10, 11, "1"),
    ("SE|SWE|SWEDEN", "46", "0", 7, 9, "1"),
    ("NO|NOR|NORWAY", "47", "", 8, 8, "2"),
    ("DK|DNK|DENMARK", "45", "", 8, 8, "2"),
    ("CH|CHE|SWITZERLAND", "41", "0", 9, 9, "1"),
    ("AT|AUT|AUSTRIA", "43", "0", 8, 13, "1"),
    ("PL|POL|POLAND", "48", "", 9, 9, "1"),
    ("PT|PRT|PORTUGAL", "351", "", 9, 9, "2"),
]
PHONE_PLAN_VALUES = ",\n        ".join(
    f"('{spelling}', '{code}', '{trunk}', {low}, {high}, '{first}')"
    for names, code, trunk, low, high, first in PHONE_PLANS
    for spelling in names.split("|")
)

# The same audience, written by hand as one query (DuckDB dialect).
HAND_WRITTEN = r"""
create or replace table hand_audience as
with phone_plans(spelling, calling_code, trunk, nsn_min, nsn_max, nsn_first) as (
    values
        PHONE_PLAN_VALUES
),
included as (
    select amperity_id, 1 as segment_order from seg_high_value_customers
    union all select amperity_id, 2 from seg_recent_buyers
    union all select amperity_id, 3 from seg_outdoor_enthusiasts
),
eligible as (
    select amperity_id, min(segment_order) as segment_order
    from included
    where amperity_id not in (
        select amperity_id from seg_email_unsubscribed
        union all select amperity_id from seg_lapsed_customers
    )
    group by amperity_id
),
assigned as (
    select
        e.amperity_id,
        e.segment_order,
        case
            when c.lifetime_revenue >= 1000 then 'vip'
            when c.preferred_channel = 'app' then 'app'
            else 'rest'
        end as sub_audience_id
    from eligible as e
    left join stg_amperity__customer_360 as c on e.amperity_id = c.amperity_id
),
bucketed as (
    select
        *,
        ('0x' || substr(md5('bench_campaign:' || sub_audience_id || ':' || amperity_id), 1, 8))
            ::bigint % 10000 as bucket
    from assigned
),
joined as (
    select
        b.*,
        m.email as raw_email,
        lower(trim(m.email, WHITESPACE)) as clean_email,
        ext.phone_text,
        -- a "(0)" inside an international number is left out (not after Italy's or San
        -- Marino's codes): the documented rule, as a person would write it
        regexp_replace(case
            when ext.phone_text like '%(0)%' and regexp_matches(trim(ext.phone_text), '^(\+|00)')
                and not regexp_matches(regexp_replace(ext.phone_text, '[^0-9]', '', 'g'),
                                       '^(00)?(39|378)')
            then replace(ext.phone_text, '(0)', '') else ext.phone_text end,
            '[^0-9]', '', 'g') as digits,
        p.calling_code, p.trunk, p.nsn_min, p.nsn_max, p.nsn_first,
        m.given_name, m.surname, m.city, m.state, m.country, m.loyalty_id
    from bucketed as b
    left join stg_amperity__merged_customers as m on b.amperity_id = m.amperity_id
    left join phone_plans as p on upper(trim(m.country)) = p.spelling
    cross join lateral (
        select regexp_replace(lower(m.phone), '(?s)(ext|x|#|;|,).*$', '') as phone_text
    ) as ext
),
mapped as (
    select
        *,
        case
            when regexp_matches(clean_email, EMAIL_PATTERN)
                and strlen(split_part(clean_email, '@', 1)) <= 64
            then clean_email
        end as email,
        case
            when nullif(trim(phone_text), '') is null then null
            when trim(phone_text) like '+%' then
                case when length(digits) between 8 and 15 and digits[1] <> '0'
                    then '+' || digits end
            when trim(phone_text) like '00%' then
                case when length(digits) between 10 and 17 and digits[3] <> '0'
                    then '+' || digits[3:] end
            when calling_code is not null then
                case
                    when trunk <> '' and starts_with(digits, trunk) then
                        case when length(digits) - length(trunk) between nsn_min and nsn_max
                            and digits[length(trunk) + 1] between nsn_first and '9'
                            then '+' || calling_code || digits[length(trunk) + 1:] end
                    when length(digits) between nsn_min and nsn_max
                        and digits[1] between nsn_first and '9'
                        then '+' || calling_code || digits
                end
        end as phone_number
    from joined
),
reasons as (
    select
        *,
        case
            when nullif(trim(raw_email, WHITESPACE), '') is null then 'missing_email'
            when email is null then 'invalid_email'
        end as base_reason
    from mapped
),
resolved as (
    select
        *,
        min(amperity_id) filter (where base_reason is null) over (partition by email) as winner
    from reasons
)
select
    'bench_campaign' as campaign_id,
    'Bench campaign' as campaign_name,
    sub_audience_id,
    case sub_audience_id when 'vip' then 'VIP' when 'app' then 'App' else 'Rest' end
        as sub_audience_name,
    case when bucket < 3000 then 'a' when bucket < 6000 then 'b' when bucket < 9000 then 'c'
        else 'holdout' end as treatment_id,
    case when bucket < 3000 then 'A' when bucket < 6000 then 'B' when bucket < 9000 then 'C'
        else 'Holdout' end as treatment_name,
    bucket >= 9000 as is_control,
    case when bucket < 9000 then 'Bench ' || case sub_audience_id when 'vip' then 'VIP'
        else sub_audience_id end || ' '
        || case when bucket < 3000 then 'A' when bucket < 6000 then 'B' else 'C' end
    end as list_name,
    case segment_order when 1 then 'seg_high_value_customers' when 2 then 'seg_recent_buyers'
        else 'seg_outdoor_enthusiasts' end as segment_id,
    amperity_id,
    coalesce(base_reason, case when amperity_id <> winner then 'duplicate_email' end)
        as shrink_reason,
    email, phone_number, given_name as first_name, surname as last_name, city,
    state as region, country, loyalty_id
from resolved
"""

# The email rule (docs/campaigns.md, "Email") in RE2: RFC 5322 atext or a non-ASCII character
# other than spaces and invisible format characters; IDN domains; a 2+ letter or punycode TLD.
_U = (
    r"[^\x{0000}-\x{00A0}\x{1680}\x{2000}-\x{200F}\x{2028}-\x{202F}\x{205F}-\x{206F}"
    r"\x{3000}\x{FEFF}]"
)
_ATEXT = r"(?:[a-z0-9!#$%&''*+/=?^_`{|}~-]|" + _U + ")"
_ALNUM = "(?:[a-z0-9]|" + _U + ")"
_LABEL = _ALNUM + "(?:(?:[a-z0-9-]|" + _U + ")*" + _ALNUM + ")?"
EMAIL_PATTERN = (
    f"'^{_ATEXT}+(?:[.]{_ATEXT}+)*@(?:{_LABEL}[.])+(?:(?:[a-z]|{_U}){{2,}}|xn--[a-z0-9-]+)$'"
)
WHITESPACE = "' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(160)"

HAND_WRITTEN = (
    HAND_WRITTEN.replace("PHONE_PLAN_VALUES", PHONE_PLAN_VALUES)
    .replace("EMAIL_PATTERN", EMAIL_PATTERN)
    .replace("WHITESPACE", WHITESPACE)
)

MEASURE_DBT = """
import datetime, gc, json, resource, sys, time
from dbt.cli.main import dbtRunner
args = json.loads(sys.argv[1])
pauses, began = [], []  # Python's garbage collections in dbt's process: (start, end, generation)
def collected(phase, info):
    if phase == "start":
        began[:] = [time.time()]
    elif began:
        pauses.append((began[0], time.time(), info["generation"]))
gc.callbacks.append(collected)
started = time.perf_counter()
result = dbtRunner().invoke(args)
wall = time.perf_counter() - started
gc.callbacks.remove(collected)
if not result.success:
    raise SystemExit(f"dbt failed: {result.exception or result.result}")
node = next(r for r in result.result.results if r.node.name == 'bench_campaign')
def epoch(moment):  # dbt's timings are UTC, naive or aware
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()
timing, gc_in = {}, {}
for t in node.timing:
    start, end = epoch(t.started_at), epoch(t.completed_at)
    timing[t.name] = end - start
    gc_in[t.name] = sum(min(b, end) - max(a, start) for a, b, _ in pauses if b > start and a < end)
print(json.dumps({"seconds": node.execution_time, "wall": wall,
                  "compile": timing.get("compile", 0.0), "execute": timing.get("execute", 0.0),
                  "compile_gc": gc_in.get("compile", 0.0),
                  "gc": sum(b - a for a, b, _ in pauses),
                  "gen2": sum(1 for _, _, g in pauses if g == 2),
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

MEASURE_HAND = """
import json, resource, sys, time
import duckdb
path, sql = sys.argv[1], sys.argv[2]
with duckdb.connect(path) as connection:
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    connection.execute(sql)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

# Every dbt command of the benchmark: any node counts (used for the untimed preparation).
MEASURE_ANY = MEASURE_DBT.replace("bench_campaign'", "bench_campaign' or True")


def project_copy(root: Path, source: Path = REPO) -> Path:
    """A copy of the project at ``source`` (this checkout by default) with the bench campaign."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(source / name, root / name)
    for folder in ("macros", "models", "seeds", "tests/dbt/generic"):
        if (source / folder).is_dir():
            shutil.copytree(source / folder, root / folder)
    (root / "models" / "campaigns" / "bench_campaign.sql").write_text(CAMPAIGN)
    return root


def dbt_args(project: Path, *command: str) -> list[str]:
    campaigns = ["spring_sale", "winback_weekly", "bench_campaign"]
    return [
        *command,
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target-path",
        str(project / "target"),
        "--log-path",
        str(project / "logs"),
        "--vars",
        json.dumps({"klaviyo_campaigns": campaigns}),
    ]


# Variables an engine target reads (profiles.yml), passed through to the measured processes.
ENGINE_VARIABLES = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSCHEMA",
                    "SPARK_SCHEMA", "SPARK_STATE_DIR", "SPARK_DRIVER_MEMORY", "SPARK_MASTER",
                    "SPARK_SHUFFLE_PARTITIONS", "JAVA_HOME")


def run_json(code: str, *args: str, env_path: Path, target: str = "duckdb") -> dict[str, float]:
    env = {"DUCKDB_PATH": str(env_path), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "HOME": str(Path.home()), "DBT_TARGET": target}
    env.update({k: os.environ[k] for k in ENGINE_VARIABLES if k in os.environ})
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise SystemExit(done.stdout[-3000:] + done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


# Run in a process of their own: a Spark session's Derby metastore admits one process at a time,
# so the dbt processes can open it only after this one has exited.
COPY_TO_ENGINE = """
import json, sys, time
from loader import demo_data
from loader.engines import connect, read_target
from loader.engines.copy import copy_from_duckdb
started = time.perf_counter()
with connect(read_target(profiles_dir_path=sys.argv[2])) as warehouse:
    copy_from_duckdb(sys.argv[1], "amperity", demo_data.TABLES, warehouse)
print(json.dumps({"seconds": time.perf_counter() - started}))
"""

COUNT_ROWS = """
import json, sys
from loader.engines import connect, read_target
with connect(read_target(profiles_dir_path=sys.argv[1])) as warehouse:
    relation = warehouse.relation(warehouse.target.schema, "bench_campaign")
    print(json.dumps({"rows": warehouse.query(f"select count(*) from {relation}")[0][0]}))
"""


def demo_data(customers: int) -> Path:
    """bench/out/campaign_<N>.duckdb, generated once and reused."""
    OUT.mkdir(parents=True, exist_ok=True)
    duckdb_path = OUT / f"campaign_{customers}.duckdb"
    if not duckdb_path.exists():
        started = time.perf_counter()
        subprocess.run(
            [
                str(BIN / "loader"),
                "demo-data",
                "--customers",
                str(customers),
                "--duckdb-path",
                str(duckdb_path),
            ],
            check=True,
            capture_output=True,
        )
        print(f"  generated {customers:,} customers in {time.perf_counter() - started:.1f}s")
    return duckdb_path


def prepare(project: Path, duckdb_path: Path, target: str = "duckdb") -> None:
    """Inputs first (seeds, staging views, segment tables), untimed."""
    if (project / "seeds").is_dir():
        run_json(MEASURE_ANY, json.dumps(dbt_args(project, "seed")), env_path=duckdb_path,
                 target=target)
    inputs = dbt_args(project, "run", "--select", "+bench_campaign", "--exclude", "bench_campaign")
    run_json(MEASURE_ANY, json.dumps(inputs), env_path=duckdb_path, target=target)


def bench(customers: int, repeats: int, target: str = "duckdb") -> dict[str, float]:
    duckdb_path = demo_data(customers)
    if target != "duckdb":
        return bench_engine(customers, repeats, target, duckdb_path)
    project = project_copy(OUT / f"campaign_project_{customers}")
    prepare(project, duckdb_path)
    dbt_runs, hand_runs = [], []
    for _ in range(repeats):
        build = dbt_args(project, "run", "--select", "bench_campaign")
        dbt_runs.append(run_json(MEASURE_DBT, json.dumps(build), env_path=duckdb_path))
        hand_runs.append(
            run_json(MEASURE_HAND, str(duckdb_path), HAND_WRITTEN, env_path=duckdb_path)
        )
    check_same_rows(duckdb_path)
    dbt_best = min(r["seconds"] for r in dbt_runs)
    hand_best = min(r["seconds"] for r in hand_runs)
    return {
        "customers": customers,
        "rows": audience_rows(duckdb_path),
        "dbt_seconds": dbt_best,
        "dbt_wall_seconds": min(r["wall"] for r in dbt_runs),
        "dbt_compile_seconds": min(r["compile"] for r in dbt_runs),
        "hand_seconds": hand_best,
        "hand_cpu_seconds": min(r["cpu_seconds"] for r in hand_runs),
        "ratio": dbt_best / hand_best,
        "dbt_max_rss_mb": max(r["max_rss_mb"] for r in dbt_runs),
        "hand_max_rss_mb": max(r["max_rss_mb"] for r in hand_runs),
    }


def bench_engine(customers: int, repeats: int, target: str, duckdb_path: Path
                 ) -> dict[str, float]:
    """The dbt model on PostgreSQL or Spark: copy the data, prepare the inputs, time the model."""
    copy_seconds = run_json(COPY_TO_ENGINE, str(duckdb_path), str(REPO), env_path=duckdb_path,
                            target=target)["seconds"]
    print(f"  copied the demo tables into {target} in {copy_seconds:.1f}s")
    project = project_copy(OUT / f"campaign_project_{target}_{customers}")
    prepare(project, duckdb_path, target)
    build = dbt_args(project, "run", "--select", "bench_campaign")
    runs = [run_json(MEASURE_DBT, json.dumps(build), env_path=duckdb_path, target=target)
            for _ in range(repeats)]
    rows = int(run_json(COUNT_ROWS, str(REPO), env_path=duckdb_path, target=target)["rows"])
    try:
        expected = audience_rows(duckdb_path)
    except Exception:  # no DuckDB run of this size yet: nothing to compare with
        expected = rows
    if rows != expected:
        raise SystemExit(f"{target} built {rows:,} audience rows; DuckDB built {expected:,}")
    return {
        "customers": customers,
        "rows": rows,
        "copy_seconds": copy_seconds,
        "dbt_seconds": min(r["seconds"] for r in runs),
        "dbt_wall_seconds": min(r["wall"] for r in runs),
        "dbt_compile_seconds": min(r["compile"] for r in runs),
        "dbt_max_rss_mb": max(r["max_rss_mb"] for r in runs),
    }


def compiled_campaign_sql(project: Path, duckdb_path: Path) -> tuple[str, dict[str, float]]:
    """The bench campaign's compiled SQL in ``project``, and dbt's compile time for it (the
    best of 3 `dbt run --select bench_campaign`: compile includes the campaign's checks) with
    the part of it Python's garbage collector took in that run (``compile_gc``: dbt's process
    collects its whole heap, mostly the parsed manifest, whenever enough objects have piled
    up; the same collections happen in a run either way, but which node's compile one falls
    into moves with anything that allocates)."""
    command = json.dumps(dbt_args(project, "run", "--select", "bench_campaign"))
    runs = [run_json(MEASURE_DBT, command, env_path=duckdb_path) for _ in range(3)]
    best = min(runs, key=lambda r: r["compile"])
    compiled = next((project / "target" / "compiled").rglob("bench_campaign.sql"))
    return compiled.read_text(), {"compile": best["compile"], "compile_gc": best["compile_gc"],
                                  "gen2": best["gen2"]}


def compare_results(customers: int, repeats: int, other: Path) -> dict[str, dict[str, float]]:
    """This checkout's campaign SQL, ``other``'s and the hand-written query, run alternately
    in fresh processes on the same data: best and median wall and CPU, peak MB, and each
    checkout's dbt compile time for the model."""
    duckdb_path = demo_data(customers)
    sql = {}
    compiles: dict[str, dict[str, float]] = {}
    for name, source in (("other", other), ("this", REPO)):
        project = project_copy(OUT / f"campaign_project_{name}_{customers}", source)
        prepare(project, duckdb_path)
        sql[name], compiles[name] = compiled_campaign_sql(project, duckdb_path)
    runs: dict[str, list[dict[str, float]]] = {"other": [], "this": [], "hand": []}
    for _ in range(repeats):
        for name in ("other", "this"):
            statement = f"create or replace table bench_compare_{name} as {sql[name]}"
            runs[name].append(run_json(MEASURE_HAND, str(duckdb_path), statement,
                                       env_path=duckdb_path))
        runs["hand"].append(run_json(MEASURE_HAND, str(duckdb_path), HAND_WRITTEN,
                                     env_path=duckdb_path))
    out: dict[str, dict[str, float]] = {}
    for name, rs in runs.items():
        walls = sorted(r["seconds"] for r in rs)
        cpus = sorted(r["cpu_seconds"] for r in rs)
        out[name] = {"wall": walls[0], "wall_median": walls[len(walls) // 2], "cpu": cpus[0],
                     "cpu_median": cpus[len(cpus) // 2],
                     "max_rss_mb": max(r["max_rss_mb"] for r in rs),
                     "compile": compiles.get(name, {}).get("compile", 0.0),
                     "compile_gc": compiles.get(name, {}).get("compile_gc", 0.0)}
    return out


def compare(customers: int, repeats: int, other: Path) -> None:
    """This checkout's campaign SQL against ``other``'s, alternately, on the same data."""
    res = compare_results(customers, repeats, other)
    print(f"{'checkout':>9} {'wall s best':>11} {'wall s median':>13} {'CPU s best':>10} "
          f"{'CPU s median':>12} {'peak MB':>8} {'compile s':>9} {'of it gc':>8}  "
          f"({customers:,} customers, {repeats} alternating runs)")
    for name, label in (("other", str(other)), ("this", str(REPO)), ("hand", "hand-written")):
        r = res[name]
        print(f"{name:>9} {r['wall']:>11.2f} {r['wall_median']:>13.2f} {r['cpu']:>10.2f} "
              f"{r['cpu_median']:>12.2f} {r['max_rss_mb']:>8.0f} {r['compile']:>9.2f} "
              f"{r['compile_gc']:>8.2f}  {label}", flush=True)


def audience_rows(duckdb_path: Path) -> int:
    import duckdb

    with duckdb.connect(str(duckdb_path), read_only=True) as connection:
        return int(connection.sql("select count(*) from bench_campaign").fetchall()[0][0])


def check_same_rows(duckdb_path: Path) -> None:
    """The hand-written query is only a fair baseline if it computes the same audience."""
    import duckdb

    columns = (
        "campaign_id, sub_audience_id, treatment_id, is_control, list_name, segment_id, "
        "amperity_id, shrink_reason, email, phone_number, first_name, last_name, city, region, "
        "country, loyalty_id"
    )
    with duckdb.connect(str(duckdb_path), read_only=True) as connection:
        differ = connection.sql(
            f"select count(*) from ((select {columns} from bench_campaign except all "
            f"select {columns} from hand_audience) union all (select {columns} from "
            f"hand_audience except all select {columns} from bench_campaign))"
        ).fetchall()[0][0]
    if differ:
        raise SystemExit(f"hand-written query and dbt model differ on {differ} rows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3, help="best of N runs each")
    parser.add_argument(
        "--compare-with", type=Path, metavar="DIR",
        help="another checkout of the project: compare its campaign SQL with this one's",
    )
    parser.add_argument("--target", default="duckdb", choices=["duckdb", "postgres", "spark"],
                        help="profiles.yml output to build on (default duckdb)")
    options = parser.parse_args()
    if options.target != "duckdb":
        main_engine(options)
        return
    if options.compare_with:
        for customers in options.customers:
            compare(customers, options.repeats, options.compare_with.resolve())
        return
    print(
        "campaign build: dbt model vs hand-written DuckDB query (best of "
        f"{options.repeats}; same DuckDB file, fresh process each).\n"
        "dbt s = the model's execution time (compile with its checks + create table + swap), "
        "of which compile s; dbt wall s = the whole `dbt run --select` command"
    )
    print(
        f"{'customers':>11} {'rows':>10} {'dbt s':>8} {'hand s':>8} {'ratio':>6} "
        f"{'dbt MB':>8} {'hand MB':>8} {'compile s':>9} {'dbt wall s':>10} {'hand CPU s':>10}"
    )
    for customers in options.customers:
        r = bench(customers, options.repeats)
        print(
            f"{r['customers']:>11,} {r['rows']:>10,} {r['dbt_seconds']:>8.2f} "
            f"{r['hand_seconds']:>8.2f} {r['ratio']:>6.2f} {r['dbt_max_rss_mb']:>8.0f} "
            f"{r['hand_max_rss_mb']:>8.0f} {r['dbt_compile_seconds']:>9.2f} "
            f"{r['dbt_wall_seconds']:>10.1f} {r['hand_cpu_seconds']:>10.2f}",
            flush=True,
        )


def main_engine(options: argparse.Namespace) -> None:
    if options.target == "spark":
        os.environ.setdefault("SPARK_STATE_DIR", str(OUT / "spark"))
    print(
        f"campaign build on {options.target}: the dbt model (best of {options.repeats}; fresh "
        "process each).\n"
        "dbt s = the model's execution time; dbt wall s = the whole `dbt run --select` command "
        "(on Spark: with the JVM's start); copy s = the demo tables from DuckDB into the engine"
    )
    print(f"{'customers':>11} {'rows':>10} {'dbt s':>8} {'compile s':>9} {'dbt wall s':>10} "
          f"{'dbt MB':>8} {'copy s':>8}")
    for customers in options.customers:
        r = bench(customers, options.repeats, options.target)
        print(
            f"{r['customers']:>11,} {r['rows']:>10,} {r['dbt_seconds']:>8.2f} "
            f"{r['dbt_compile_seconds']:>9.2f} {r['dbt_wall_seconds']:>10.1f} "
            f"{r['dbt_max_rss_mb']:>8.0f} {r['copy_seconds']:>8.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
