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
    built by the run before).
Results: printed, and written to benchmarks/results/lake.json.
"""

from __future__ import annotations

import argparse
import json
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


def measure(db: Path, repeat: int, work: Path) -> dict[str, Any]:
    export_s, plain_s, again_s, lake_report_s, db_report_s = [], [], [], [], []
    lake = work / "lake"
    for _ in range(repeat):
        shutil.rmtree(lake, ignore_errors=True)
        export_s.append(run([*llmcost_cmd(), "--db", str(db), "export", "--lake", str(lake)])[0])
        again_s.append(run([*llmcost_cmd(), "--db", str(db), "export", "--lake", str(lake)])[0])
        plain = work / "plain"
        shutil.rmtree(plain, ignore_errors=True)
        plain_s.append(run([sys.executable, "-c", PLAIN_COPY, str(db), str(plain)])[0])
        report = ["report", "--by", "feature", "--format", "json"]
        run([*llmcost_cmd(), "--db", str(db), *report])  # its rollups, once
        lake_report_s.append(run([*llmcost_cmd(), "--lake", str(lake), *report])[0])
        db_report_s.append(run([*llmcost_cmd(), "--db", str(db), *report])[0])
    size = sum(p.stat().st_size for p in lake.rglob("*.parquet"))
    export, plain_copy = statistics.median(export_s), statistics.median(plain_s)
    return {
        "export_s": export,
        "plain_copy_s": plain_copy,
        "export_ratio": export / plain_copy,
        "re_export_unchanged_s": statistics.median(again_s),
        "report_by_feature_lake_s": statistics.median(lake_report_s),
        "report_by_feature_db_s": statistics.median(db_report_s),
        "lake_parquet_bytes": size,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, action="append", help="requests (multiples of 1M) [1M]")
    ap.add_argument("--repeat", type=int, default=3, help="pairs per measurement [3]")
    args = ap.parse_args()
    results = {}
    for rows in args.rows or [1_000_000]:
        db = database(rows)
        with tempfile.TemporaryDirectory(dir=db.parent) as tmp:
            results[str(rows)] = measure(db, args.repeat, Path(tmp))
        print(json.dumps({rows: results[str(rows)]}, indent=1))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "lake.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
