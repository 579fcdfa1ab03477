"""Timings of the Python API's `Store.requests()` LazyFrame.

    python benchmarks/api_bench.py                  # 1M requests
    python benchmarks/api_bench.py --rows 200000    # quicker

The database is sample_logs/ (20,000 requests) ingested once, then copied inside DuckDB with new
request ids (`<id>~k`) up to --rows: the same users, features, models and months. Kept under
benchmarks/data/. Measured in one warm process, the median of --repeat runs:
  * create: `store.requests()` (prices registered, the schema read; no rows yet);
  * sum: `lf.select(pl.col("cost_usd").sum(), pl.len()).collect()` (DuckDB reads two columns);
  * filter: one feature's requests, three columns, collected;
  * collect: every column of every request into a polars DataFrame;
  * plain: the same priced rows by hand, `con.sql(...).to_arrow_table()` then `pl.from_arrow`.
Results: printed, and written to benchmarks/results/api.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import llmcost_cmd

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results"
SAMPLE = HERE.parent / "sample_logs" / "logs"


def build(rows: int) -> Path:
    db = DATA / f"api_{rows}.duckdb"
    if db.exists():
        return db
    DATA.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [*llmcost_cmd(), "--db", str(db), "ingest", "-q", str(SAMPLE)],
        check=True,
        capture_output=True,
    )
    import duckdb

    con = duckdb.connect(str(db))
    base = con.execute("SELECT count(*) FROM requests").fetchone()[0]
    copies = max(rows // base - 1, 0)
    if copies:
        con.execute(
            """INSERT INTO requests SELECT requests.* REPLACE (request_id || '~' || k AS request_id,
                                                      hash(source_kind, request_id || '~' || k) AS rid_hash)
               FROM requests, range(1, ?) t(k)""",
            [copies + 1],
        )
    con.close()
    return db


def median(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    db = build(args.rows)

    import polars as pl

    import llmcost
    from llmcost import pricing

    store = llmcost.open(db)
    n = store.con.execute("SELECT count(*) FROM requests").fetchone()[0]
    store.requests()  # warm: the first call loads the price table

    def plain() -> Any:
        pricing.register(store.con, store.prices, "lc_bench_prices")
        sql = f"SELECT * FROM ({pricing.priced_view_sql(prices='lc_bench_prices')})"
        return pl.from_arrow(store.con.sql(sql).to_arrow_table())

    lf = store.requests()
    results = {
        "requests": n,
        "create_s": median(store.requests, args.repeat),
        "sum_s": median(
            lambda: lf.select(pl.col("cost_usd").sum(), pl.len()).collect(), args.repeat
        ),
        "filter_s": median(
            lambda: (
                lf.filter(pl.col("feature") == "support-chat")
                .select("request_id", "ts", "cost_usd")
                .collect()
            ),
            args.repeat,
        ),
        "collect_s": median(lf.collect, args.repeat),
        "plain_arrow_s": median(plain, args.repeat),
    }
    store.close()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "api.json").write_text(json.dumps(results, indent=2) + "\n")
    for key, value in results.items():
        print(f"{key:<16} {value:,.3f}" if isinstance(value, float) else f"{key:<16} {value:,}")


if __name__ == "__main__":
    sys.exit(main())
