"""Whole-process timings of `llmcost explain` and `llmcost whatif --suggest` on a generated data set.

    python benchmarks/decisions_bench.py                    # 1M requests, median of 3
    python benchmarks/decisions_bench.py --rows 200000      # quicker
    python benchmarks/decisions_bench.py --rows 10000000    # the issue's shape (minutes to build)

The data is `llmcost synth DIR -n ROWS --seed 42` ingested once into benchmarks/data/decisions_ROWS/
(git-ignored, kept). Each command runs as a fresh process (`llmcost --db DB ... --format json`), once
to warm the file cache, then --repeat times: wall time from the parent, peak RSS of the child from
os.wait4, the median reported, and the median CPU time of the child (user + system, all threads: on
a shared machine the wall time also counts the waits for a core). Results: printed, and written to
benchmarks/results/decisions.json (1M) or decisions_ROWS.json (any other size).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import llmcost_cmd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
TARGET_S = 3.0  # at 10M requests, whole process

COMMANDS: dict[str, list[str]] = {
    "explain": ["explain"],
    "explain --by customer": ["explain", "--by", "customer"],
    "explain --by model": ["explain", "--by", "model"],
    "whatif --suggest": ["whatif", "--suggest"],
}


def build(rows: int) -> Path:
    folder = HERE / "data" / f"decisions_{rows}"
    db = folder / "llmcost.duckdb"
    if db.exists():
        return db
    folder.mkdir(parents=True, exist_ok=True)
    cmd = llmcost_cmd()
    subprocess.run(
        [*cmd, "synth", str(folder / "synth"), "-n", str(rows), "--seed", "42"], check=True
    )
    synth = folder / "synth"
    subprocess.run([*cmd, "--db", str(db), "ingest", "-q", str(synth / "logs"), str(synth / "revenue.csv")],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    return db


def timed(args: list[str]) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds (user + system, all threads) of one fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(args)} failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, usage.ru_maxrss // 1024, usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    db = build(a.rows)
    results: list[dict[str, Any]] = []
    for name, extra in COMMANDS.items():
        args = [*llmcost_cmd(), "--db", str(db), *extra, "--format", "json"]
        timed(args)
        runs = [timed(args) for _ in range(a.repeat)]
        wall = statistics.median(r[0] for r in runs)
        rss = max(r[1] for r in runs)
        cpu = statistics.median(r[2] for r in runs)
        results.append({"command": name, "rows": a.rows, "wall_s": round(wall, 3), "peak_rss_mb": rss,
                        "cpu_s": round(cpu, 3), "runs_s": [round(r[0], 3) for r in runs]})  # fmt: skip
        print(f"{name:<24} {a.rows:>11,} rows  {wall:6.2f} s  {rss:>6,} MB  cpu {cpu:5.2f} s")
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} cores; target at 10M: <= {TARGET_S} s")
    RESULTS.mkdir(exist_ok=True)
    doc = {"load_average": round(load, 2), "cores": os.cpu_count(), "results": results}
    name = "decisions.json" if a.rows == 1_000_000 else f"decisions_{a.rows}.json"
    (RESULTS / name).write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
