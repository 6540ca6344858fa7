"""Import jobs cut from a plan whose seqs have no gap (a first push) by arithmetic: the same
cuts as the greedy cut over every row (loader.sync.plan.job_bounds, batch_bounds)."""

from __future__ import annotations

import duckdb
import pytest

from loader.sync.plan import DIFF, batch_bounds, job_bounds


@pytest.mark.parametrize(("first", "rows", "gap"), [
    (1, 25_000, None), (1, 30_000, None), (5, 9_999, None), (1, 1, None),
    (1, 25_000, 12_345),  # one seq missing: cut by the rows, not by arithmetic
])
def test_contiguous_seqs_are_cut_as_the_greedy_cut_does(first: int, rows: int,
                                                        gap: int | None) -> None:
    con = duckdb.connect()
    con.execute(f"create temp table {DIFF} as select case when i = {gap or -1} then null "
                f"else i end as seq, 120 + i % 9 as nbytes "
                f"from range({first}, {first + rows}) as t(i)")
    # rows not to send (seq null) are not in any job
    con.execute(f"insert into {DIFF} values (null, 5)")
    sent = con.execute(f"select seq, nbytes from {DIFF} where seq is not null order by seq"
                       ).fetchall()
    want = [(sent[a][0], sent[b][0]) for a, b in batch_bounds([n for _, n in sent])]
    assert job_bounds(con) == want
    assert sum(1 for a, b in want for s, _ in sent if a <= s <= b) == len(sent)
