"""What-if timings and peak memory on the report benchmark's databases (1M and 10M requests).

    python benchmarks/whatif_bench.py                          # 1M and 10M requests
    python benchmarks/whatif_bench.py --rows 1000000           # 1M only (quick)
    python benchmarks/whatif_bench.py --compare-src OLD/src    # also run an older package, check the JSON is the same

The databases are report_bench.py's (built there once and kept under benchmarks/data/); each is copied
to a temporary directory first, so a run never touches the kept files. Measured per scenario, warm (one
run first, then the median of --repeat): `llmcost --db DB whatif ... --format json` as a process, wall
time from the parent and peak RSS of the child from os.wait4; and `whatif.run(...)` in a warm process.
With --compare-src, the same commands run with that directory first on PYTHONPATH (e.g. a copy of an
earlier `src/`), once each, and their JSON must equal this package's, `generated_at` aside.
Results: printed, and written to benchmarks/results/whatif.json.
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
DATA = HERE / "data"  # report_bench.py's databases
RESULTS = HERE / "results"
TARGET_S = 2.0  # issue 5: a three-lever scenario on 10M requests, warm

SCENARIOS: dict[str, list[str]] = {
    # the scenario: three levers on one feature
    "route+batch+cap": [
        "--route-to",
        "haiku",
        "--feature",
        "support-chat",
        "--batch",
        "--max-output-tokens",
        "500",
    ],
    "share by feature": ["--route-to", "haiku", "--share", "0.3", "--by", "feature"],
    "semantic cache": [
        "--cache-hit-rate",
        "0.2",
        "--cache-lookup-cost",
        "0.0001",
        "--compress-input",
        "0.3",
    ],
    # the two levers that need the order of the rows
    "prompt cache": ["--prompt-cache", "2000", "--by", "model"],
    "max steps": ["--max-steps", "3", "--by", "feature"],
}

LIBRARY_SCRIPT = """
import json, statistics, sys, time
from llmcost import query
from llmcost import metrics, pricing, whatif
from llmcost.store import connect
db, repeat, args = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
con = connect(db)
prices = pricing.load()
out = {}
for name, a in args.items():
    s = whatif.from_options(None, {}, features=a.get("feature", []), model=None, where=[], levers=a["levers"])
    by = query.parse_by(a.get("by"))
    whatif.run(con, prices, s, by=by)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        whatif.run(con, prices, s, by=by)
        times.append(time.perf_counter() - t)
    out[name] = statistics.median(times)
print(json.dumps(out))
"""


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Wall seconds and peak RSS (MB) of one process, from os.wait4; stdout through a file."""
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "NO_COLOR": "1", **(env or {})})  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        err = proc.stderr.read() if proc.stderr else ""
        if status != 0:
            raise SystemExit(f"failed ({status}): {' '.join(cmd)}\n{err[-2000:]}")
        out.seek(0)
        return seconds, int(usage.ru_maxrss // 1024), out.read()


def without_time(doc: str) -> str:
    data = json.loads(doc)
    data.pop("generated_at", None)
    return json.dumps(data, sort_keys=True)


def library_args() -> dict[str, Any]:
    """The scenarios as whatif.from_options arguments, for the in-process timing."""
    out: dict[str, Any] = {}
    for name, args in SCENARIOS.items():
        levers: dict[str, Any] = {}
        spec: dict[str, Any] = {"levers": levers}
        it = iter(args)
        for flag in it:
            key = flag[2:].replace("-", "_")
            if key == "batch":
                levers["batch"] = True
                continue
            value = next(it)
            if key == "feature":
                spec.setdefault("feature", []).append(value)
            elif key == "by":
                spec["by"] = value
            else:
                levers[key] = (
                    value if key == "route_to" else (float(value) if "." in value else int(value))
                )
        out[name] = spec
    return out


def measure(db: Path, repeat: int, compare_src: Path | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, args in SCENARIOS.items():
        cmd = [*llmcost_cmd(), "--db", str(db), "whatif", *args, "--format", "json"]
        timed(cmd)  # warm the file cache
        runs = [timed(cmd) for _ in range(repeat)]
        row: dict[str, Any] = {
            "args": args,
            "process_s": statistics.median(r[0] for r in runs),
            "peak_rss_mb": max(r[1] for r in runs),
        }
        if compare_src is not None:
            seconds, rss, old = timed(cmd, {"PYTHONPATH": str(compare_src)})
            row.update(compare_process_s=seconds, compare_peak_rss_mb=rss,
                       same_json=without_time(old) == without_time(runs[-1][2]))  # fmt: skip
        out[name] = row
        print(f"  {name:<18} process {row['process_s']:6.2f} s  peak {row['peak_rss_mb']:6,} MB"
              + (f"   | compare {row['compare_process_s']:6.2f} s  peak {row['compare_peak_rss_mb']:6,} MB"
                 f"  same JSON: {row['same_json']}" if compare_src else ""), file=sys.stderr)  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", LIBRARY_SCRIPT, str(db), str(repeat), json.dumps(library_args())],
                          capture_output=True, text=True, check=True)  # fmt: skip
    for name, seconds in json.loads(proc.stdout).items():
        out[name]["library_s"] = seconds
        print(f"  {name:<18} library {seconds:6.2f} s", file=sys.stderr)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, action="append", help="database size (repeatable) [1M and 10M]"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--compare-src", type=Path, help="a directory holding an older llmcost package"
    )
    ns = parser.parse_args()

    # a run replaces the sizes it measured and keeps the others' last figures
    path = RESULTS / "whatif.json"
    results: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"rows": {}}
    results["target_s"] = TARGET_S
    for rows in ns.rows or [1_000_000, 10_000_000]:
        kept = DATA / f"report_{rows}.duckdb"
        if not kept.exists():
            raise SystemExit(
                f"no {kept.name}: build it with `python benchmarks/report_bench.py --rows {rows}`"
            )
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / kept.name
            shutil.copyfile(kept, db)
            print(f"{rows:,} requests", file=sys.stderr)
            results["rows"][str(rows)] = {
                "repeat": ns.repeat,
                "scenarios": measure(db, ns.repeat, ns.compare_src),
            }
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
