"""Report timings on a high-cardinality shape: many users and customers, few features and models.

    python benchmarks/highcard_bench.py                       # 1M requests, 50,000 users
    python benchmarks/highcard_bench.py --rows 10000000 --users 500000

The log is generated here (seed 1): `--rows` requests over 80 days from 2026-08-01, `--users`
users in `--customers` customers (each user belongs to one customer), 6 features, 4 models, one
revenue line per customer-month; one request in three belongs to a multi-step task. It is written
as canonical JSONL plus a revenue CSV and loaded as a CI run sees it: the first 90% of the requests
and the revenue are ingested, one report is run (its store now holds rollups), then the last 10%
is ingested (timed: that ingest rebuilds the rollups, metrics.refresh_rollups). The database as
that ingest leaves it is kept under benchmarks/data/.

Per case (the summary `report`, `--by feature`, `--by user`, `--by customer,month`), each as
`-f json` and as the terminal table, whole processes:
  * cold: the first report on a copy of the database taken right after the ingest;
  * warm: the median of --repeat more processes on that copy.
The hand-written DuckDB query over the `priced` view, in one process of the same run: per-user
requests, cost, request-cost P50/P90/P99 ("hand"), and without the percentiles ("hand, no pct");
per-feature likewise. Peak RSS of every process (its VmHWM). Results: printed, and written to
benchmarks/results/highcard_<rows>_<users>.json (with --case: ..._some.json).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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
FEATURES = ["chat", "search", "summarize", "classify", "agent", "autocomplete"]
MODELS = [
    ("openai", "gpt-4o-mini-2024-07-18"),
    ("openai", "gpt-4o-2024-08-06"),
    ("anthropic", "claude-3-5-haiku-20241022"),
    ("anthropic", "claude-sonnet-4-20250514"),
]
PLANS = ["free", "pro", "team", "enterprise"]
START_MS = 1785542400000  # 2026-08-01T00:00:00Z
DAYS = 80

CASES: list[tuple[str, list[str]]] = [
    ("summary", []),
    ("--by feature", ["--by", "feature"]),
    ("--by user", ["--by", "user"]),
    ("--by customer,month", ["--by", "customer,month"]),
]

HAND = """
import json, sys, time
from llmcost import pricing
from llmcost.store import connect
con = connect(sys.argv[1])
con.execute("SET enable_progress_bar = false")
pricing.install(con, pricing.load())
out = {}
for name, sql in json.loads(sys.argv[2]).items():
    con.execute(sql).fetchall()  # warm
    t = time.perf_counter()
    con.execute(sql).fetchall()
    out[name] = time.perf_counter() - t
print(json.dumps(out))
"""
HAND_QUERIES = {
    "per user, with p50/p90/p99": """SELECT user_id, count(*), sum(cost_usd),
        quantile_cont(CAST(cost_usd AS DOUBLE), [0.5, 0.9, 0.99]) FROM priced GROUP BY user_id""",
    "per user, no percentiles": "SELECT user_id, count(*), sum(cost_usd) FROM priced GROUP BY user_id",
    "per feature, with p50/p90/p99": """SELECT feature, count(*), sum(cost_usd),
        quantile_cont(CAST(cost_usd AS DOUBLE), [0.5, 0.9, 0.99]) FROM priced GROUP BY feature""",
    "per customer-month, with p50/p90/p99": """SELECT customer_id, date_trunc('month', ts), count(*),
        sum(cost_usd), quantile_cont(CAST(cost_usd AS DOUBLE), [0.5, 0.9, 0.99]) FROM priced GROUP BY ALL""",
}


def generate(folder: Path, rows: int, users: int, customers: int, seed: int) -> None:
    """The log (canonical JSONL) and revenue.csv, built as polars columns from hashed counters."""
    import polars as pl

    folder.mkdir(parents=True, exist_ok=True)
    i = pl.int_range(rows, dtype=pl.UInt64)

    def u(k: int) -> pl.Expr:  # uniform in [0, 1), one independent stream per k
        return (i.hash(seed * 1000 + k) % (1 << 53)).cast(pl.Float64) / float(1 << 53)

    def pick(k: int, values: list[str]) -> pl.Expr:
        idx = (u(k) * len(values)).floor().cast(pl.Int64)
        return pl.lit(pl.Series(values)).gather(idx)

    user = (u(1) ** 2.5 * users).floor().cast(pl.Int64)  # a few heavy users, a long tail
    frame = pl.select(
        ("req_" + i.cast(pl.String).str.pad_start(9, "0")).alias("request_id"),
        (START_MS + (u(2) * DAYS * 86_400_000).floor().cast(pl.Int64)).alias("ts"),
        pick(3, [p for p, _ in MODELS]).alias("provider_k"),
        (u(3) * len(MODELS)).floor().cast(pl.Int64).alias("m"),
        pick(4, FEATURES).alias("feature"),
        ("cus_" + (user % customers).cast(pl.String).str.pad_start(5, "0")).alias("customer_id"),
        ("usr_" + user.cast(pl.String).str.pad_start(7, "0")).alias("user_id"),
        pl.lit(pl.Series(PLANS)).gather(user % customers % len(PLANS)).alias("plan"),
        pl.when(u(5) < 1 / 3)
        .then("task_" + (u(6) * max(1, rows // 12)).floor().cast(pl.Int64).cast(pl.String))
        .alias("task_id"),
        (u(7) * 8).floor().cast(pl.Int64).alias("step_k"),
        (u(8) * 6 + 4).exp().floor().cast(pl.Int64).alias("input_tokens"),
        (u(9) * 5 + 2).exp().floor().cast(pl.Int64).alias("output_tokens"),
        u(10).alias("c_u"),
        u(11).alias("c_f"),
        pl.when(u(12) < 0.97).then(pl.lit("ok")).otherwise(pl.lit("error")).alias("status"),
        (80 + u(13) * 9000).floor().cast(pl.Int64).alias("latency_ms"),
    ).with_columns(
        pl.lit(pl.Series([p for p, _ in MODELS])).gather(pl.col("m")).alias("provider"),
        pl.lit(pl.Series([m for _, m in MODELS])).gather(pl.col("m")).alias("model"),
        pl.when(pl.col("task_id").is_not_null()).then(pl.col("step_k")).alias("step"),
        pl.when(pl.col("c_u") < 0.4)
        .then((pl.col("input_tokens") * pl.col("c_f")).floor().cast(pl.Int64))
        .otherwise(0)
        .alias("cache_read_tokens"),
    )
    frame = frame.sort("ts").select(
        "request_id", "ts", "provider", "model", "feature", "customer_id", "user_id", "plan",
        "task_id", "step", "input_tokens", "output_tokens", "cache_read_tokens", "status", "latency_ms",
    )  # fmt: skip
    frame.write_ndjson(folder / "requests.jsonl")
    months = ["2026-08", "2026-09", "2026-10"]
    c = pl.int_range(customers * len(months), dtype=pl.UInt64)
    pl.select(
        ("cus_" + (c // len(months)).cast(pl.String).str.pad_start(5, "0")).alias("customer_id"),
        pl.lit(pl.Series(months)).gather(c % len(months)).alias("month"),
        ((c.hash(seed) % 400).cast(pl.Float64) / 100).alias("revenue_usd"),
        pl.lit(pl.Series(PLANS)).gather((c // len(months)) % len(PLANS)).alias("plan"),
    ).write_csv(folder / "revenue.csv")


def run_rss(cmd: list[str]) -> tuple[float, int, str]:
    """Wall time, peak RSS (bytes) and stdout of one process. The peak is the child's VmHWM, read
    while it runs: os.wait4's ru_maxrss also counts the pages the child had from this process."""
    import threading

    peak = [0]
    t = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=devnull)

        def watch() -> None:
            status = Path(f"/proc/{proc.pid}/status")
            while proc.poll() is None:
                try:
                    for line in status.read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            peak[0] = max(peak[0], int(line.split()[1]) * 1024)
                except OSError:
                    break
                time.sleep(0.01)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        assert proc.stdout is not None
        out = proc.stdout.read()
        status = proc.wait()
        watcher.join()
    wall = time.perf_counter() - t
    if status:
        raise SystemExit(f"{' '.join(cmd)} failed ({status})")
    return wall, peak[0], out.decode()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--users", type=int, default=50_000)
    ap.add_argument("--customers", type=int, default=3_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--build-only", action="store_true", help="build the database, time nothing")
    ap.add_argument(
        "--case", action="append", help="only this case (repeatable): summary, feature, user…"
    )
    ap.add_argument("--no-refresh", action="store_true", help="do not time the rollup refresh")
    args = ap.parse_args()
    cases = [c for c in CASES if not args.case or any(k in c[0] for k in args.case)]
    tag = f"highcard_{args.rows}_{args.users}"
    folder = args.data / tag
    db = folder / "after_ingest.duckdb"
    cmd = llmcost_cmd()
    ingest_s = None
    if not db.exists():
        if not (folder / "requests.jsonl").exists():
            t = time.perf_counter()
            generate(folder, args.rows, args.users, args.customers, args.seed)
            print(f"generated {args.rows:,} requests in {time.perf_counter() - t:.1f} s")
        # as in CI: a store that earlier runs reported on, and a new day of logs
        if not ((folder / "earlier.jsonl").exists() and (folder / "new.jsonl").exists()):
            import polars as pl

            log = pl.read_ndjson(folder / "requests.jsonl")
            cut = int(log.height * 0.9)
            log.head(cut).write_ndjson(folder / "earlier.jsonl")
            log.tail(log.height - cut).write_ndjson(folder / "new.jsonl")
            del log
        tmp = folder / "ingest.duckdb"
        tmp.unlink(missing_ok=True)
        first = [str(folder / "earlier.jsonl"), str(folder / "revenue.csv")]
        run_rss([*cmd, "--db", str(tmp), "ingest", "-q", *first])
        run_rss([*cmd, "--db", str(tmp), "report", "--by", "feature", "-f", "json"])
        ingest_s, ingest_rss, _ = run_rss(
            [*cmd, "--db", str(tmp), "ingest", "-q", str(folder / "new.jsonl")]
        )
        tmp.rename(db)
        print(
            f"ingest of the last 10% (with the rollup refresh): {ingest_s:.2f} s,"
            f" peak RSS {ingest_rss / 2**20:.0f} MiB"
        )
    if args.build_only:
        return
    refresh = (
        "import sys, time\nfrom llmcost import metrics, pricing\nfrom llmcost.store import connect\n"
        "con = connect(sys.argv[1])\n"
        "con.execute(\"UPDATE report_rollups SET data_version = 'stale'\")  # every one out of date\n"
        "t = time.perf_counter(); metrics.refresh_rollups(con, pricing.load())\n"
        "print(time.perf_counter() - t)"
    )
    refresh_s = None
    if not args.no_refresh:
        shutil.copyfile(db, folder / "work.duckdb")
        _, _, out = run_rss([sys.executable, "-c", refresh, str(folder / "work.duckdb")])
        refresh_s = float(out)
        print(f"rollup refresh alone (the part of the ingest that builds them): {refresh_s:.2f} s")
    results: dict[str, Any] = {
        "rows": args.rows, "users": args.users, "customers": args.customers,
        "load": os.getloadavg(), "ingest_s": ingest_s, "refresh_s": refresh_s, "cases": {},
    }  # fmt: skip
    work = folder / "work.duckdb"
    for name, flags in cases:
        for fmt in ("json", "table"):
            shutil.copyfile(db, work)  # the database as the ingest left it
            report = [*cmd, "--db", str(work), "report", *flags, "-f", fmt]
            cold, cold_rss, _ = run_rss(report)
            warm = [run_rss(report) for _ in range(args.repeat)]
            row = {
                "cold_s": cold, "warm_s": statistics.median(w[0] for w in warm),
                "peak_rss_mib": max([cold_rss, *(w[1] for w in warm)]) / 2**20,
            }  # fmt: skip
            results["cases"][f"{name} -f {fmt}"] = row
            print(
                f"{name:>22} -f {fmt:<5}  cold {row['cold_s']:6.2f} s  warm {row['warm_s']:6.2f} s"
                f"  peak RSS {row['peak_rss_mib']:6.0f} MiB"
            )
    _, hand_rss, hand_out = run_rss(
        [sys.executable, "-c", HAND, str(work), json.dumps(HAND_QUERIES)]
    )
    results["hand"] = json.loads(hand_out)
    results["hand_peak_rss_mib"] = hand_rss / 2**20
    for name, secs in results["hand"].items():
        print(f"hand-written DuckDB, in-process: {name:<38} {secs:6.3f} s")
    results["load_after"] = os.getloadavg()
    print(f"load average before / after: {results['load']} / {results['load_after']}")
    RESULTS.mkdir(exist_ok=True)
    some = "" if len(cases) == len(CASES) else "_some"  # a --case run keeps the full results
    (RESULTS / f"{tag}{some}.json").write_text(json.dumps(results, indent=2) + "\n")
    work.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
