"""Reproducible timings of llmcost against the same work done by plain DuckDB.

    python benchmarks/run.py                 # 1M lines: ingest vs read_json, re-ingest, --help, report
    python benchmarks/run.py --lines 200000  # a quicker run
    python benchmarks/run.py --big 10000000  # also the peak-memory run on 10M lines (takes minutes)
    python benchmarks/run.py --shape lean    # a lean canonical log (12 flat fields a line)

Data is generated once under benchmarks/data/ (git-ignored) with the project's own generator; each
measurement runs in a fresh subprocess (wall time, and peak RSS from wait4). Results are printed
as a table and written to benchmarks/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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

# Targets from the issue: ingest within 1.5x of plain read_json; < 1 GB peak RSS on 10M lines;
# re-ingest of a loaded file < 0.5 s; `llmcost --help` < 0.25 s.
TARGET_RATIO = 1.5
TARGET_RSS_MB = 1024
TARGET_REINGEST_S = 0.5
TARGET_HELP_S = 0.25

# The columns the generator writes, typed as a careful user would type them for read_json.
PLAIN_COLUMNS = {
    "request_id": "VARCHAR", "ts": "JSON", "timestamp": "VARCHAR", "provider": "VARCHAR", "model": "VARCHAR",
    "feature": "VARCHAR", "customer_id": "VARCHAR", "workspace_id": "VARCHAR", "user_id": "VARCHAR",
    "plan": "VARCHAR", "task_id": "VARCHAR", "conversation_id": "VARCHAR", "step": "INTEGER",
    "input_tokens": "BIGINT", "output_tokens": "BIGINT", "prompt_tokens": "BIGINT", "completion_tokens": "BIGINT",
    "cached_tokens": "BIGINT", "cache_read_tokens": "BIGINT", "cache_write_tokens": "BIGINT",
    "cache_write_1h_tokens": "BIGINT", "reasoning_tokens": "BIGINT", "usage": "JSON", "cache_hit": "BOOLEAN",
    "batch": "BOOLEAN", "status": "VARCHAR", "latency_ms": "DOUBLE", "cost_usd": "DOUBLE", "region": "VARCHAR",
    "app_version": "VARCHAR",
}  # fmt: skip


# The lean shape: 12 flat canonical fields a line (~265 bytes), as a service that logs only what
# it needs writes them.
LEAN_COLUMNS = {
    "request_id": "VARCHAR", "timestamp": "VARCHAR", "provider": "VARCHAR", "model": "VARCHAR",
    "feature": "VARCHAR", "customer_id": "VARCHAR", "user_id": "VARCHAR", "task_id": "VARCHAR",
    "input_tokens": "BIGINT", "output_tokens": "BIGINT", "cache_read_tokens": "BIGINT", "status": "VARCHAR",
}  # fmt: skip
SHAPES = {"wide": PLAIN_COLUMNS, "lean": LEAN_COLUMNS}


def run(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run CMD to completion: wall seconds, peak RSS of that process in MB, exit code, output."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env)
        out = proc.stdout.read() if proc.stdout else b""
        # wait4 (not wait) gives this child's own rusage: its peak RSS
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-2000:]
            raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{tail}")
    return {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime
        + usage.ru_stime,  # all its threads: what a busy machine gives
        "rss_mb": usage.ru_maxrss / 1024,
        "stdout": out.decode(errors="replace"),
    }


def data_file(lines: int) -> Path:
    """A single JSONL file of LINES generated request-log lines (made once, then reused)."""
    path = DATA / f"requests_{lines}.jsonl"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    print(f"generating {lines:,} lines -> {path.relative_to(HERE.parent)}", file=sys.stderr)
    from llmcost.synth import generate

    with tempfile.TemporaryDirectory(dir=DATA) as tmp:
        summary = generate(Path(tmp), requests=lines, seed=42)
        part = path.with_suffix(".part")
        with part.open("wb") as out:
            for f in sorted(summary.files):
                if f.suffix == ".jsonl":
                    with f.open("rb") as src:
                        shutil.copyfileobj(src, out, 16 * 1024 * 1024)
        part.rename(path)
    return path


def lean_file(lines: int) -> Path:
    """A JSONL file of LINES lean canonical lines (made once, then reused; seed 42)."""
    import random

    path = DATA / f"lean_{lines}.jsonl"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    print(f"generating {lines:,} lean lines -> {path.relative_to(HERE.parent)}", file=sys.stderr)
    rng = random.Random(42)
    models = [("openai", "gpt-4o-mini"), ("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-5"),
              ("anthropic", "claude-haiku-4-5"), ("google", "gemini-2.5-flash")]  # fmt: skip
    features = ["support-chat", "search", "summarize", "classify", "agent"]
    part = path.with_suffix(".part")
    with part.open("w") as out:
        for i in range(lines):
            provider, model = models[rng.randrange(len(models))]
            inp = rng.randint(200, 30_000)
            rec = {
                "request_id": f"req_{i:09d}_{rng.getrandbits(40):010x}",
                "timestamp": f"2026-{8 + i % 3:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:"
                f"{(i * 7) % 60:02d}.{i % 1000:03d}Z",
                "provider": provider,
                "model": model,
                "feature": features[i % len(features)],
                "customer_id": f"cust_{rng.randrange(5000):05d}",
                "user_id": f"user_{rng.randrange(200_000):07d}",
                "task_id": f"task_{i // 4:09d}",
                "input_tokens": inp,
                "output_tokens": rng.randint(5, 2000),
                "cache_read_tokens": rng.randrange(inp) if rng.random() < 0.4 else 0,
                "status": "ok" if rng.random() < 0.98 else "error",
            }
            out.write(json.dumps(rec, separators=(",", ":")) + "\n")
    part.rename(path)
    return path


def count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as fh:
        while block := fh.read(64 * 1024 * 1024):
            n += block.count(b"\n")
    return n


PLAIN_SCRIPT = """
import sys, time, duckdb
path, db, cols = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect(db)
con.execute("SET enable_progress_bar = false")
t = time.perf_counter()
con.execute(f"CREATE TABLE plain AS SELECT * FROM read_json('{path}', format='newline_delimited', columns={cols})")
print(time.perf_counter() - t, con.execute("SELECT count(*) FROM plain").fetchone()[0])
"""


def plain_read_json(
    path: Path, workdir: Path, columns: dict[str, str] = PLAIN_COLUMNS
) -> dict[str, Any]:
    cols = "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"
    db = workdir / "plain.duckdb"
    res = run([sys.executable, "-c", PLAIN_SCRIPT, str(path), str(db), cols])
    seconds, rows = res["stdout"].split()[-2:]
    db.unlink(missing_ok=True)
    return {
        "seconds": res["seconds"],
        "query_seconds": float(seconds),
        "rows": int(rows),
        "rss_mb": res["rss_mb"],
    }


def ingest(path: Path, db: Path) -> dict[str, Any]:
    res = run([*llmcost_cmd(), "--db", str(db), "ingest", str(path), "--quiet", "--format", "json"])
    totals = json.loads(res["stdout"])["totals"]
    return {"seconds": res["seconds"], "rss_mb": res["rss_mb"], "totals": totals}


def help_time(repeat: int) -> dict[str, Any]:
    times = [run([*llmcost_cmd(), "--help"])["seconds"] for _ in range(repeat)]
    return {"median_seconds": statistics.median(times), "runs": times}


REPORT_SCRIPT = """
import sys, time
from llmcost import pricing
from llmcost.store import connect
con = connect(sys.argv[1])
con.execute("SET enable_progress_bar = false")
pricing.register(con, pricing.load())
sql = '''
    SELECT r.feature, count(*) AS requests, sum(CASE WHEN r.cache_hit THEN 0 ELSE ''' + pricing.cost_sql() + ''' END) AS cost
    FROM requests r
    LEFT JOIN lc_prices p ON p.model = r.model AND r.ts >= p.valid_from AND r.ts < p.valid_to
    GROUP BY ALL ORDER BY cost DESC
'''
con.execute(sql).fetchall()  # warm
t = time.perf_counter()
con.execute(sql).fetchall()
print(time.perf_counter() - t)
"""


def report_times(db: Path) -> dict[str, Any]:
    """`report --by feature` (second run: warm OS cache) vs the hand-written priced GROUP BY."""
    cmd = [*llmcost_cmd(), "--db", str(db), "report", "--by", "feature", "--format", "json"]
    run(cmd)
    warm = run(cmd)["seconds"]
    plain = float(run([sys.executable, "-c", REPORT_SCRIPT, str(db)])["stdout"].split()[-1])
    return {"report_by_feature_seconds": warm, "plain_query_seconds": plain}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--lines", type=int, default=1_000_000, help="lines for the speed runs (default 1M)"
    )
    ap.add_argument(
        "--big",
        type=int,
        default=0,
        help="also measure peak RSS ingesting this many lines (e.g. 10M)",
    )
    ap.add_argument(
        "--help-runs", type=int, default=7, help="runs of `llmcost --help` (median taken)"
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=5,
        help="measure plain read_json and the ingest this many times, alternately; the ratio "
        "reported is the median of the pairs' (on a shared machine one pair is noisy)",
    )
    ap.add_argument("--no-report", action="store_true", help="skip the report timings")
    ap.add_argument(
        "--shape",
        choices=sorted(SHAPES),
        default="wide",
        help="the log: the generator's wide mix (default) or lean flat lines (12 fields)",
    )
    ap.add_argument(
        "--claude-code",
        type=float,
        default=0,
        metavar="MB",
        help="instead: Claude Code logs, llmcost ingest + report vs ccusage on a generated tree of MB",
    )
    ap.add_argument(
        "--claude-shape",
        metavar="FILESxLINES",
        help="instead: Claude Code logs on a generated tree of FILES sessions of about LINES "
        "lines each (e.g. 400x1500); pairs as --repeat",
    )
    ap.add_argument(
        "--ccusage", default="ccusage", help="the ccusage executable (default: on PATH)"
    )
    args = ap.parse_args()
    if args.claude_code or args.claude_shape:
        claude_code(args.claude_code, args.ccusage, args.repeat, args.claude_shape)
        return

    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "system": platform.platform(),
        },
    }
    path = data_file(args.lines) if args.shape == "wide" else lean_file(args.lines)
    results["shape"] = args.shape
    results["lines"] = count_lines(path)
    results["bytes"] = path.stat().st_size
    with tempfile.TemporaryDirectory(prefix="llmcost-bench-") as tmp:
        work = Path(tmp)
        db = work / "bench.duckdb"
        pairs = []
        for _ in range(max(args.repeat, 1)):
            db.unlink(missing_ok=True)
            pairs.append((plain_read_json(path, work, SHAPES[args.shape]), ingest(path, db)))
        pairs.sort(key=lambda pair: pair[1]["seconds"] / pair[0]["seconds"])
        plain, first = pairs[(len(pairs) - 1) // 2]  # the median pair (the lower one of two)
        # the re-ingest finds the file loaded and reads nothing: a short run, so its median of
        # five (one run is at the mercy of whatever else the machine does)
        agains = [ingest(path, db) for _ in range(5)]
        again = {
            **sorted(agains, key=lambda r: r["seconds"])[2],
            "runs": [r["seconds"] for r in agains],
        }
        results["plain_read_json"] = plain
        results["ingest"] = first
        results["ingest_ratio"] = first["seconds"] / plain["seconds"]
        results["ingest_ratios"] = [i["seconds"] / p["seconds"] for p, i in pairs]
        results["reingest"] = again
        if not args.no_report:
            results["report"] = report_times(db)
        if args.big:
            big = data_file(args.big) if args.shape == "wide" else lean_file(args.big)
            db.unlink(missing_ok=True)
            results["big"] = {"lines": count_lines(big), **ingest(big, work / "big.duckdb")}
    results["help"] = help_time(args.help_runs)

    rows = [
        ("plain DuckDB read_json (CTAS)", f"{plain['seconds']:.2f} s", "", ""),
        ("llmcost ingest", f"{first['seconds']:.2f} s", f"{first['rss_mb']:.0f} MB", ""),
        ("ingest / read_json" + (f" (median of {len(pairs)})" if len(pairs) > 1 else ""),
         f"{results['ingest_ratio']:.2f}x", "", _verdict(results["ingest_ratio"] <= TARGET_RATIO)),
        ("re-ingest (loaded; median of 5)", f"{again['seconds']:.2f} s", "",
         _verdict(again["seconds"] < TARGET_REINGEST_S)),
        ("llmcost --help (median)", f"{results['help']['median_seconds']:.3f} s", "",
         _verdict(results["help"]["median_seconds"] < TARGET_HELP_S)),
    ]  # fmt: skip
    if "report" in results:
        rep = results["report"]
        rows.append(
            (
                "report --by feature (warm, process)",
                f"{rep['report_by_feature_seconds']:.2f} s",
                "",
                "",
            )
        )
        rows.append(("hand-written priced GROUP BY", f"{rep['plain_query_seconds']:.2f} s", "", ""))
    if "big" in results:
        big_res = results["big"]
        rows.append((f"ingest {big_res['lines']:,} lines", f"{big_res['seconds']:.1f} s", f"{big_res['rss_mb']:.0f} MB",
                     _verdict(big_res["rss_mb"] < TARGET_RSS_MB)))  # fmt: skip
    print(f"{results['lines']:,} lines, {results['bytes'] / 1e6:.0f} MB; totals {first['totals']}")
    if len(pairs) > 1:
        print(
            "  ingest / read_json, each pair: "
            + ", ".join(f"{r:.2f}" for r in results["ingest_ratios"])
        )
    for name, value, rss, verdict in rows:
        print(f"  {name:<38} {value:>10} {rss:>9}  {verdict}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "latest.json" if args.shape == "wide" else f"{args.shape}.json"
    (RESULTS / name).write_text(json.dumps(results, indent=2) + "\n")


def _compile_sources() -> bool:
    """Compile llmcost's modules to bytecode first, as installing the package does, so that a
    run does not compile them again (with PYTHONDONTWRITEBYTECODE set, an editable checkout
    otherwise compiles ~40 modules in every process: ~0.05 s). Whether it was done."""
    import compileall

    import llmcost

    return bool(compileall.compile_dir(Path(llmcost.__file__).parent, quiet=2))


def claude_code(mb: float, ccusage: str, repeat: int = 1, shape: str | None = None) -> None:
    """Ingest + report of a generated Claude Code tree against `ccusage claude daily` on the
    same tree, REPEAT alternated pairs (the median pair's ratio); then a re-ingest of the loaded
    tree. SHAPE "FILESxLINES" (e.g. 400x1500) instead of a tree of MB."""
    if shape:
        files, lines = (int(x) for x in shape.split("x"))
        tree = DATA / f"claude_code_{files}x{lines}"
        make = ["--files", str(files), "--lines", str(lines)]
    else:
        tree = DATA / f"claude_code_{mb:g}mb"
        make = ["--mb", str(mb)]
    if not (tree / "expected.json").exists():
        shutil.rmtree(tree, ignore_errors=True)
        subprocess.run(
            [sys.executable, str(HERE / "claude_code_tree.py"), str(tree), *make], check=True
        )
    expected = json.loads((tree / "expected.json").read_text())
    exe = shutil.which(ccusage) or ccusage
    compiled = _compile_sources()
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "tree": tree.name,
        "tree_files": expected["files"],
        "tree_bytes": expected["bytes"],
        "load_before": os.getloadavg()[0],
        "bytecode_compiled": compiled,
    }
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(tree)}
    ccusage_cmd = [
        exe,
        "claude",
        "daily",
        "--offline",
        "--mode",
        "calculate",
        "--json",
        "-z",
        "UTC",
    ]
    pairs = []
    with tempfile.TemporaryDirectory(prefix="llmcost-bench-") as tmp:
        db = Path(tmp) / "cc.duckdb"
        base = [*llmcost_cmd(), "--db", str(db)]
        for _ in range(max(repeat, 1)):
            for p in Path(tmp).glob("cc.duckdb*"):
                p.unlink()
            ing = run([*base, "ingest", str(tree / "projects"), "--quiet", "--format", "json"])
            rep = run([*base, "report", "--by", "day", "--format", "json"])
            ccu = run(ccusage_cmd, env)
            pairs.append((ing, rep, ccu))
        agains = [
            run([*base, "ingest", str(tree / "projects"), "--quiet", "--format", "json"])["seconds"]
            for _ in range(5)
        ]
    ratios = [(i["seconds"] + r["seconds"]) / c["seconds"] for i, r, c in pairs]
    order = sorted(range(len(pairs)), key=lambda k: ratios[k])
    ing, rep, ccu = pairs[order[(len(order) - 1) // 2]]  # the median pair (the lower of two)
    ours_cost = json.loads(rep["stdout"])["totals"]["cost_usd"]
    theirs_cost = json.loads(ccu["stdout"])["totals"]["totalCost"]
    results |= {
        "ingest_seconds": ing["seconds"],
        "ingest_rss_mb": ing["rss_mb"],
        "report_seconds": rep["seconds"],
        "ccusage_seconds": ccu["seconds"],
        "ratio": ratios[order[(len(order) - 1) // 2]],
        "ratios": ratios,
        "pairs": [[i["seconds"], r["seconds"], c["seconds"]] for i, r, c in pairs],
        "pairs_cpu_seconds": [
            [i["cpu_seconds"], r["cpu_seconds"], c["cpu_seconds"]] for i, r, c in pairs
        ],
        "reingest_seconds": sorted(agains)[2],
        "reingest_runs": agains,
        "load_after": os.getloadavg()[0],
        "totals": json.loads(ing["stdout"])["totals"],
        "cost_usd": ours_cost,
        "ccusage_cost_usd": theirs_cost,
        "expected_cost_usd": expected["cost_usd"],
    }
    print(f"Claude Code tree {tree.name}; totals {results['totals']}")
    print(f"  {'llmcost ingest':<38} {ing['seconds']:>8.2f} s {ing['rss_mb']:>6.0f} MB")
    print(f"  {'llmcost report --by day':<38} {rep['seconds']:>8.2f} s")
    print(f"  {'ccusage claude daily':<38} {ccu['seconds']:>8.2f} s")
    print(
        f"  {'(ingest + report) / ccusage':<38} {results['ratio']:>8.2f}x  {_verdict(results['ratio'] < 1)}"
        + (f"  (median of {len(pairs)}: {', '.join(f'{r:.2f}' for r in ratios)})" if len(pairs) > 1 else "")
    )  # fmt: skip
    cpu = results["pairs_cpu_seconds"][order[(len(order) - 1) // 2]]
    print(f"  {'CPU s: ingest + report, ccusage':<38} {cpu[0] + cpu[1]:>8.2f}   {cpu[2]:.2f}")
    print(f"  {'re-ingest (loaded; median of 5)':<38} {results['reingest_seconds']:>8.2f} s")
    print(f"  cost: llmcost {ours_cost}, ccusage {theirs_cost}, generator {expected['cost_usd']}")
    print(f"  load average {results['load_before']:.1f} before, {results['load_after']:.1f} after")
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "claude_code.json" if not shape else f"claude_code_{shape}.json"
    (RESULTS / name).write_text(json.dumps(results, indent=2) + "\n")


def _verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


if __name__ == "__main__":
    main()
