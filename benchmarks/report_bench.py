"""Report timings against hand-written DuckDB queries over the same priced requests.

    python benchmarks/report_bench.py                      # 1M and 10M requests
    python benchmarks/report_bench.py --rows 1000000       # 1M only (quick)

The base database is the 1M-line generated log (benchmarks/data/, shared with run.py) loaded once with
`llmcost ingest`. Larger databases are that base copied inside DuckDB with new request and task ids
(`<id>~k`): the same users, customers, features and months, k times the requests and tasks — the shape
`llmcost synth --requests N` gives, without the ingest time. Databases are kept under benchmarks/data/.

Measured for `llmcost report --by feature|user --format json` and the summary (`report --format json`):
  * cold: the first process after the report's persisted rollups are dropped (it builds them);
  * warm: the median of --repeat more processes on the unchanged database (what a user waits for,
    Python start-up and imports included), and of the library call in one process;
  * `llmcost report --format html -o FILE` (the summary with its charts), as a process;
  * the hand-written queries over the `priced` view, in one warm process: the minimal
    `SELECT feature, count(*), sum(cost_usd) FROM priced GROUP BY feature`, and the same-aggregate
    query that computes what a report row holds (requests, cost, request-cost percentiles, tokens,
    latency percentiles, distinct users, tasks, cache hits).
Results: printed, and written to benchmarks/results/report.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import llmcost_cmd

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results"
BASE_LINES = 1_000_000
TARGET_S = 1.0
TARGET_RATIO = 2.0

LIBRARY_SCRIPT = """
import json, statistics, sys, time
from llmcost import query
from llmcost import metrics, pricing
from llmcost.store import connect
db, by, repeat = sys.argv[1], [b for b in sys.argv[2].split(",") if b], int(sys.argv[3])
con = connect(db)
con.execute("SET enable_progress_bar = false")
prices = pricing.load()
metrics.report(con, prices, by=by, window=query.Window())
times = []
for _ in range(repeat):
    t = time.perf_counter()
    metrics.report(con, prices, by=by, window=query.Window())
    times.append(time.perf_counter() - t)
print(json.dumps(statistics.median(times)))
"""

# What one report row holds (metrics._group_sql), written by hand over the `priced` view.
SAME_AGGREGATE = """
SELECT {dim}, count(*) AS requests, count(price_model) AS priced, sum(cost_usd) AS cost,
       quantile_cont(CAST(cost_usd AS DOUBLE), [0.5, 0.9, 0.99]) AS q,
       sum(output_tokens), sum(input_tokens), quantile_cont(latency_ms, [0.5, 0.9]) AS lat,
       count(DISTINCT user_id) AS users,
       count(DISTINCT task_id) + count(*) FILTER (WHERE task_id IS NULL) AS tasks,
       count(*) FILTER (WHERE cache_hit) AS hits
FROM priced GROUP BY {dim}
"""
HAND_SCRIPT = """
import json, statistics, sys, time
from llmcost import pricing
from llmcost.store import connect
db, repeat, queries = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
con = connect(db)
con.execute("SET enable_progress_bar = false")
pricing.install(con, pricing.load())
out = {}
for name, sql in queries.items():
    con.execute(sql).fetchall()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        con.execute(sql).fetchall()
        times.append(time.perf_counter() - t)
    out[name] = statistics.median(times)
print(json.dumps(out))
"""


def run(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return seconds, proc.stdout


def base_log() -> Path:
    path = DATA / f"requests_{BASE_LINES}.jsonl"
    if not path.exists():
        sys.path.insert(0, str(HERE))
        from run import data_file  # the ingest benchmark's generator: one copy of the data on disk

        path = data_file(BASE_LINES)
    return path


def database(rows: int) -> Path:
    """A database of ROWS requests (a multiple of 1M), built once and kept."""
    if rows % BASE_LINES:
        raise SystemExit(f"--rows must be multiples of {BASE_LINES:,}")
    path = DATA / f"report_{rows}.duckdb"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    base = DATA / f"report_{BASE_LINES}.duckdb"
    if not base.exists():
        print(f"ingesting {BASE_LINES:,} lines -> {base.relative_to(HERE.parent)}", file=sys.stderr)
        part = base.with_suffix(".part")
        part.unlink(missing_ok=True)
        run([*llmcost_cmd(), "--db", str(part), "ingest", str(base_log()), "--quiet"])
        part.rename(base)
    if rows == BASE_LINES:
        return base
    import duckdb

    print(f"copying to {rows:,} requests -> {path.relative_to(HERE.parent)}", file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=DATA) as tmp:
        work = Path(tmp) / "db.duckdb"
        shutil.copyfile(base, work)
        con = duckdb.connect(str(work))
        con.execute("SET enable_progress_bar = false")
        con.execute("CREATE TEMP TABLE base AS SELECT * FROM requests")
        con.execute(
            f"""INSERT INTO requests
                SELECT b.* REPLACE (b.request_id || '~' || k AS request_id,
                                    hash(b.source_kind, b.request_id || '~' || k) AS rid_hash,
                                    b.task_id || '~' || k AS task_id)
                FROM base b, range(1, {rows // BASE_LINES}) t(k)"""
        )
        con.execute("CHECKPOINT")
        con.close()
        work.rename(path)
    return path


def drop_rollups(db: Path) -> None:
    """Forget the report's persisted rollups, so the next report builds them (a cold report)."""
    import duckdb

    con = duckdb.connect(str(db))
    if con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'report_rollups'"
    ).fetchone()[0]:
        con.execute("DELETE FROM report_rollups")
    con.close()


def measure(db: Path, repeat: int) -> dict[str, Any]:
    cases = {"by_feature": ["--by", "feature"], "by_user": ["--by", "user"], "summary": []}
    out: dict[str, Any] = {}
    for name, args in cases.items():
        cmd = [*llmcost_cmd(), "--db", str(db), "report", *args, "--format", "json"]
        drop_rollups(db)
        cold = run(cmd)[0]  # builds the rollups this report reads
        process = statistics.median(run(cmd)[0] for _ in range(repeat))
        by = args[1] if args else ""
        library = json.loads(
            run([sys.executable, "-c", LIBRARY_SCRIPT, str(db), by, str(repeat)])[1].splitlines()[
                -1
            ]
        )
        out[name] = {"cold_process_s": cold, "process_s": process, "library_s": library}
    # issue 6: the HTML summary report (charts included), as a process, to a file
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            *llmcost_cmd(),
            "--db",
            str(db),
            "report",
            "--format",
            "html",
            "-o",
            str(Path(tmp) / "r.html"),
        ]
        run(cmd)
        out["html"] = {"process_s": statistics.median(run(cmd)[0] for _ in range(repeat))}
    queries = {
        "minimal_by_feature": "SELECT feature, count(*), sum(cost_usd) FROM priced GROUP BY feature",
        "same_aggregate_by_feature": SAME_AGGREGATE.format(dim="feature"),
        "minimal_by_user": "SELECT user_id, count(*), sum(cost_usd) FROM priced GROUP BY user_id",
        "same_aggregate_by_user": SAME_AGGREGATE.format(dim="user_id"),
    }
    hand = json.loads(
        run([sys.executable, "-c", HAND_SCRIPT, str(db), str(repeat), json.dumps(queries)])[
            1
        ].splitlines()[-1]
    )
    out["hand"] = hand
    for name, dim in (("by_feature", "feature"), ("by_user", "user")):
        rep = out[name]
        rep["ratio_process_vs_minimal"] = rep["process_s"] / hand[f"minimal_by_{dim}"]
        rep["ratio_library_vs_minimal"] = rep["library_s"] / hand[f"minimal_by_{dim}"]
        rep["ratio_process_vs_same_aggregate"] = rep["process_s"] / hand[f"same_aggregate_by_{dim}"]
        rep["ratio_library_vs_same_aggregate"] = rep["library_s"] / hand[f"same_aggregate_by_{dim}"]
    return out


def main() -> None:
    global DATA
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--rows", type=int, nargs="+", default=[1_000_000, 10_000_000], help="database sizes"
    )
    ap.add_argument(
        "--repeat", type=int, default=3, help="timed runs per measurement (median taken)"
    )
    ap.add_argument(
        "--data",
        type=Path,
        default=DATA,
        help="where the databases are (a copy keeps the originals untouched)",
    )
    args = ap.parse_args()
    DATA = args.data
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
    }
    for rows in args.rows:
        results[str(rows)] = measure(database(rows), args.repeat)
    print(f"{'rows':>11}  {'case':<11} {'cold':>8} {'process':>8} {'library':>8} {'minimal':>8} {'same-agg':>8}"
          f" {'proc/same':>9} {'lib/same':>8}")  # fmt: skip
    for rows in args.rows:
        res = results[str(rows)]
        print(f"{rows:>11,}  {'html':<11} {'':>8} {res['html']['process_s']:8.3f}")
        for name in ("by_feature", "by_user", "summary"):
            r = res[name]
            dim = {"by_feature": "feature", "by_user": "user"}.get(name)
            hand_min = f"{res['hand'][f'minimal_by_{dim}']:8.3f}" if dim else " " * 8
            hand_same = f"{res['hand'][f'same_aggregate_by_{dim}']:8.3f}" if dim else " " * 8
            ratios = (
                f"{r['ratio_process_vs_same_aggregate']:8.2f}x {r['ratio_library_vs_same_aggregate']:7.2f}x"
                if dim
                else ""
            )
            print(
                f"{rows:>11,}  {name:<11} {r['cold_process_s']:8.3f} {r['process_s']:8.3f} {r['library_s']:8.3f}"
                f" {hand_min} {hand_same} {ratios}"
            )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "report.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
