"""Lake timings: `llmcost export --lake` against a plain DuckDB COPY of the same priced requests, and
`report --by feature` over the lake against the same report over the database.

    python benchmarks/lake_bench.py                    # 1M requests
    python benchmarks/lake_bench.py --rows 10000000    # 10M (the database is built once and kept)

The databases are report_bench's (benchmarks/data/). Measured, each as a process (Python start-up
and imports included), alternating the two sides of a pair, the median of --repeat pairs:
  * export: `llmcost export --lake DIR` into an empty folder, against a process that prices the
    requests the same way and writes them with one `COPY (...) TO DIR (FORMAT PARQUET,
    PARTITION_BY (month))` (no fingerprints, no manifest, no other table);
  * re-export: the same export again over the unchanged database (nothing is written);
  * report: `llmcost --lake DIR report --by feature --format json` against `--db` (warm: its rollups
    built by the run before);
  * Spark: the same report on `--engine spark --spark-master local[2]` over the same lake (a fresh
    session per process, its start included, driver memory 3 GB), --spark-repeat times (Spark is slow: 1 by default),
    and whether its rows agree with DuckDB's over the lake (money to 1e-9 USD).
Each size is measured in the same run; `growth` is each time at the largest size over the smallest.
Results: printed, and written to benchmarks/results/lake.json (with the machine's load average).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import llmcost_cmd
from report_bench import database, run

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

PLAIN_COPY = """
import sys
from llmcost import lake, pricing
from llmcost.store import connect
con = connect(sys.argv[1])
pricing.register(con, pricing.load())
con.execute(
    f"COPY (SELECT *, strftime(ts, '%Y-%m') AS month FROM ({lake._priced_requests_sql()})) "
    f"TO '{sys.argv[2]}' (FORMAT PARQUET, PARTITION_BY (month))"
)
"""


SPARK_MEMORY = "spark.driver.memory=3g"  # local mode: the driver is the executor


def _agree(a: Any, b: Any) -> bool:
    """Two report documents equal, floats to 1e-9 absolute or 1e-12 relative."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_agree(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_agree(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def measure(db: Path, repeat: int, spark_repeat: int, work: Path) -> dict[str, Any]:
    export_s, plain_s, again_s, lake_report_s, db_report_s = [], [], [], [], []
    lake = work / "lake"
    report = ["report", "--by", "feature", "--format", "json"]
    for _ in range(repeat):
        shutil.rmtree(lake, ignore_errors=True)
        export_s.append(run([*llmcost_cmd(), "--db", str(db), "export", "--lake", str(lake)])[0])
        again_s.append(run([*llmcost_cmd(), "--db", str(db), "export", "--lake", str(lake)])[0])
        plain = work / "plain"
        shutil.rmtree(plain, ignore_errors=True)
        plain_s.append(run([sys.executable, "-c", PLAIN_COPY, str(db), str(plain)])[0])
        run([*llmcost_cmd(), "--db", str(db), *report])  # its rollups, once
        lake_report_s.append(run([*llmcost_cmd(), "--lake", str(lake), *report])[0])
        db_report_s.append(run([*llmcost_cmd(), "--db", str(db), *report])[0])
    size = sum(p.stat().st_size for p in lake.rglob("*.parquet"))
    export, plain_copy = statistics.median(export_s), statistics.median(plain_s)
    out: dict[str, Any] = {
        "export_s": export,
        "plain_copy_s": plain_copy,
        "export_ratio": export / plain_copy,
        "re_export_unchanged_s": statistics.median(again_s),
        "report_by_feature_lake_s": statistics.median(lake_report_s),
        "report_by_feature_db_s": statistics.median(db_report_s),
        "lake_parquet_bytes": size,
    }
    if spark_repeat:
        spark = ["--engine", "spark", "--spark-master", "local[2]", "--spark-conf", SPARK_MEMORY]
        duck = json.loads(run([*llmcost_cmd(), "--lake", str(lake), *report])[1])
        spark_s, agree = [], True
        for _ in range(spark_repeat):
            seconds, text = run([*llmcost_cmd(), "--lake", str(lake), *spark, *report])
            spark_s.append(seconds)
            agree = agree and _agree(json.loads(text)["rows"], duck["rows"])
        out["report_by_feature_lake_spark_local2_s"] = statistics.median(spark_s)
        out["spark_rows_agree_with_duckdb"] = agree
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, action="append", help="requests (multiples of 1M) [1M]")
    ap.add_argument("--repeat", type=int, default=3, help="pairs per measurement [3]")
    ap.add_argument(
        "--spark-repeat", type=int, default=1, help="Spark reports per size, 0: none [1]"
    )
    args = ap.parse_args()
    results: dict[str, Any] = {"load_average_before": list(os.getloadavg())}
    sizes = sorted(args.rows or [1_000_000])
    for rows in sizes:
        db = database(rows)
        with tempfile.TemporaryDirectory(dir=db.parent) as tmp:
            results[str(rows)] = measure(db, args.repeat, args.spark_repeat, Path(tmp))
        print(json.dumps({rows: results[str(rows)]}, indent=1), flush=True)
        RESULTS.mkdir(exist_ok=True)  # each size as soon as it is measured
        (RESULTS / "lake.json").write_text(json.dumps(results, indent=1) + "\n")
    if len(sizes) > 1:
        small, large = results[str(sizes[0])], results[str(sizes[-1])]
        results["growth"] = {
            k: large[k] / small[k]
            for k in large
            if k.endswith("_s") or k == "lake_parquet_bytes"
            if small.get(k)
        }
    results["load_average_after"] = list(os.getloadavg())
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "lake.json").write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps({k: results[k] for k in results if not k[0].isdigit()}, indent=1))


if __name__ == "__main__":
    main()
