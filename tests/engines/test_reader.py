"""The loader's reader on each engine: the target dbt used, rows streamed in bounded batches."""

from __future__ import annotations

from loader.engines import read_target
from tests.engines._build import EngineBuild
from tests.engines._compare import normalise, registry, table
from tests.fixtures.warehouse import REPO


def _audience(engine: EngineBuild) -> tuple[str, str]:
    """The largest demo audience: (campaign_id, relation)."""
    w = engine.warehouse
    sizes = [(w.query(f"select count(*) from {c['audience_relation']}")[0][0],
              c["campaign_id"], c["audience_relation"])
             for c in registry(w, engine.target.schema)]
    _, campaign_id, relation = max(sizes)
    return campaign_id, relation


def test_reads_the_target_dbt_built(engine: EngineBuild) -> None:
    target = read_target(profiles_dir_path=REPO, env=engine.env)  # DBT_TARGET, as dbt
    assert (target.name, target.type) == (engine.engine, engine.engine)
    assert target.settings == engine.target.settings


def test_stream_yields_every_row_in_batches_of_at_most_the_size(engine: EngineBuild) -> None:
    _, relation = _audience(engine)
    total = engine.warehouse.query(f"select count(*) from {relation}")[0][0]
    assert total > 500
    sizes = []
    streamed = []
    for batch in engine.warehouse.read_relation(relation, ["amperity_id", "treatment_id"],
                                                batch_rows=97):
        assert batch.columns == ("amperity_id", "treatment_id")
        sizes.append(len(batch))
        streamed.extend(batch.rows)
    assert sum(sizes) == total
    assert all(size == 97 for size in sizes[:-1]) and 0 < sizes[-1] <= 97
    _, whole = table(engine.warehouse, f"select amperity_id, treatment_id from {relation}")
    assert sorted(whole.elements(), key=repr) == sorted(
        (tuple(normalise(v) for v in row) for row in streamed), key=repr)


def test_query_takes_parameters_in_the_engines_style(engine: EngineBuild) -> None:
    campaign_id, relation = _audience(engine)
    w = engine.warehouse
    count = w.query(f"select count(*) from {relation} where campaign_id = {w.placeholder}",
                    [campaign_id])[0][0]
    assert count == w.query(f"select count(*) from {relation}")[0][0] > 0
    assert w.query(f"select count(*) from {relation} where campaign_id = {w.placeholder}",
                   ["no-such-campaign"]) == [(0,)]


def test_postgres_streams_through_a_server_side_cursor(postgres_build: EngineBuild) -> None:
    w = postgres_build.warehouse
    _, relation = _audience(postgres_build)
    stream = w.read_relation(relation, batch_rows=50)
    first = next(stream)
    assert len(first) == 50
    with w.dbapi.cursor() as cur:  # same session: its open cursors
        cur.execute("select name from pg_cursors where name like 'loader_stream_%'")
        open_cursors = cur.fetchall()
    assert len(open_cursors) == 1
    rest = sum(len(b) for b in stream)
    assert 50 + rest == w.query(f"select count(*) from {relation}")[0][0]
    with w.dbapi.cursor() as cur:
        cur.execute("select count(*) from pg_cursors")
        assert cur.fetchone() == (0,)
    w.dbapi.rollback()


def test_spark_streams_one_partition_at_a_time(spark_build: EngineBuild) -> None:
    w = spark_build.warehouse
    _, relation = _audience(spark_build)
    context = w.dbapi.session.sparkContext
    context.setJobGroup("reader-test", "stream one partition at a time")
    try:
        stream = w.stream(f"select /*+ REPARTITION(8) */ * from {relation}", batch_rows=10)
        next(stream)
        tracker = context.statusTracker()
        jobs_after_first_batch = len(tracker.getJobIdsForGroup("reader-test"))
        rows = 10 + sum(len(b) for b in stream)
        jobs_after_all = len(tracker.getJobIdsForGroup("reader-test"))
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)
    assert rows == w.query(f"select count(*) from {relation}")[0][0]
    # Collecting would run every partition at once; the iterator ran them one by one.
    assert jobs_after_all - jobs_after_first_batch >= 7, (jobs_after_first_batch, jobs_after_all)
