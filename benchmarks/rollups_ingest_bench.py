"""The rollups at ingest: what building them at a first ingest costs, what bringing them up to date
at a later ingest costs, and what the first report after each ingest takes.

    python benchmarks/rollups_ingest_bench.py --data DIR          # DIR: earlier.jsonl, new.jsonl, revenue.csv
    python benchmarks/rollups_ingest_bench.py --lean 1000000 --data DIR

DIR holds the log split in two as benchmarks/highcard_bench.py writes it (the first 90 % of the
requests in earlier.jsonl, the last 10 % in new.jsonl, one revenue line per customer-month); with
--lean N the lean log of `benchmarks/run.py --shape lean` (N lines) is written there and split the
same way (no revenue). Databases are written in DIR.

  1. First ingest, in-process: `ingest_paths` of earlier.jsonl (and revenue.csv) into a new store,
     then `metrics.refresh_rollups(build=True)`: the ingest without and with the rollups.
  2. The first report after it (whole process, `-f json`) on a copy without rollups (it builds what
     it reads) and on a copy with them, and a second report on the latter.
  3. Later ingest, in-process: `ingest_paths` of new.jsonl into the store with rollups, then the
     refresh (the new rows added); on a copy, the same refresh with every rollup out of date (what
     it costs to build them all again from the requests).
  4. The first and the second report after that ingest (whole process).
Results: printed, and written to benchmarks/results/rollups_ingest_<name of DIR><--tag>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from common import llmcost_cmd
from highcard_bench import CASES, run_rss

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def lean(folder: Path, lines: int) -> None:
    """The lean log of run.py (benchmarks/data/lean_N.jsonl, made once), split 90/10 into
    earlier.jsonl and new.jsonl by time."""
    import polars as pl
    import run

    path = run.lean_file(lines)
    log = pl.read_ndjson(path).sort("timestamp")
    cut = int(log.height * 0.9)
    log.head(cut).write_ndjson(folder / "earlier.jsonl")
    log.tail(log.height - cut).write_ndjson(folder / "new.jsonl")


def timed(fn: Any, *args: Any, **kw: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - t, out


def reports(db: Path, work: Path, repeat: bool) -> dict[str, Any]:
    """Per case: the first report on a copy of DB (and, with REPEAT, the second), whole process."""
    out: dict[str, Any] = {}
    for name, flags in CASES:
        shutil.copyfile(db, work)
        cmd = [*llmcost_cmd(), "--db", str(work), "report", *flags, "-f", "json"]
        first, rss, _ = run_rss(cmd)
        row: dict[str, Any] = {"first_s": first, "peak_rss_mib": rss / 2**20}
        if repeat:
            row["second_s"] = run_rss(cmd)[0]
        out[name] = row
    work.unlink(missing_ok=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument(
        "--lean", type=int, default=0, help="write the lean log of N lines to DATA first"
    )
    ap.add_argument(
        "--now",
        default="2026-12-04T00:00:00Z",
        help="LLMCOST_NOW (the clock picks the summary's default window: the last full month)",
    )
    ap.add_argument("--tag", default="", help="added to the results file's name")
    ap.add_argument("--no-reports", action="store_true", help="the ingests and refreshes only")
    args = ap.parse_args()
    folder: Path = args.data
    folder.mkdir(parents=True, exist_ok=True)
    if args.lean and not (folder / "new.jsonl").exists():
        lean(folder, args.lean)
    os.environ["LLMCOST_NOW"] = args.now
    from llmcost import metrics, pricing
    from llmcost.ingest import ingest_paths
    from llmcost.store import connect

    prices = pricing.load()
    first = [str(folder / "earlier.jsonl")]
    if (folder / "revenue.csv").exists():
        first.append(str(folder / "revenue.csv"))
    plain, built, later, work = (
        folder / f"{n}.duckdb" for n in ("plain", "built", "later", "work")
    )
    res: dict[str, Any] = {"data": folder.name, "now": args.now, "load_before": os.getloadavg()}

    plain.unlink(missing_ok=True)
    con = connect(plain)
    con.execute("SET enable_progress_bar = false")
    res["first_ingest_s"], _ = timed(ingest_paths, con, first)
    con.close()
    shutil.copyfile(plain, built)
    con = connect(built)
    res["first_build_s"], names = timed(metrics.refresh_rollups, con, prices, build=True)
    res["first_build_rollups"] = len(names)
    con.close()
    print(
        f"first ingest {res['first_ingest_s']:.2f} s, building the rollups {res['first_build_s']:.2f} s"
        f" ({len(names)} rollups)",
        flush=True,
    )
    if not args.no_reports:
        res["after_first_without"] = reports(plain, work, repeat=False)
        res["after_first_with"] = reports(built, work, repeat=True)

    shutil.copyfile(built, later)
    con = connect(later)
    con.execute("SET enable_progress_bar = false")
    res["later_ingest_s"], _ = timed(ingest_paths, con, [str(folder / "new.jsonl")])
    res["later_refresh_s"], names = timed(metrics.refresh_rollups, con, prices)
    res["later_refresh_rollups"] = len(names)
    res["later_new_rows"] = int(con.execute("SELECT sum(n_requests) FROM lc_fine").fetchone()[0])
    con.close()
    shutil.copyfile(later, work)
    con = connect(work)
    con.execute("UPDATE report_rollups SET data_version = 'stale'")
    res["later_rebuild_s"], _ = timed(metrics.refresh_rollups, con, prices)
    con.close()
    print(
        f"later ingest {res['later_ingest_s']:.2f} s, refresh {res['later_refresh_s']:.2f} s"
        f" ({res['later_new_rows']:,} new rows; every rollup rebuilt instead: {res['later_rebuild_s']:.2f} s)",
        flush=True,
    )
    if not args.no_reports:
        res["after_later"] = reports(later, work, repeat=True)
    res["load_after"] = os.getloadavg()
    for part in ("after_first_without", "after_first_with", "after_later"):
        for name, row in res.get(part, {}).items():
            second = f"  second {row['second_s']:5.2f} s" if "second_s" in row else ""
            print(f"{part:>20} {name:>22}: first {row['first_s']:5.2f} s{second}")
    print(f"load average before / after: {res['load_before']} / {res['load_after']}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"rollups_ingest_{folder.name}{args.tag}.json").write_text(
        json.dumps(res, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
