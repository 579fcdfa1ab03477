"""One ingest's rollup refresh, timed in-process: STORE (a store whose rollups cover the requests
before NEW) is copied to WORK, NEW is ingested into the copy, then `metrics.refresh_rollups`.

    python benchmarks/rollups_refresh_pair.py STORE NEW WORK [--now ISO]

Run it alternately with the tree of another commit on PYTHONPATH (and a STORE that tree's refresh
built) to compare two versions of the refresh on the same machine and load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("new")
    ap.add_argument("work")
    ap.add_argument("--now", default="2026-12-04T00:00:00Z", help="LLMCOST_NOW")
    args = ap.parse_args()
    os.environ["LLMCOST_NOW"] = args.now
    import llmcost
    from llmcost import metrics, pricing
    from llmcost.ingest import ingest_paths
    from llmcost.store import connect

    shutil.copyfile(args.store, args.work)
    con = connect(args.work)
    con.execute("SET enable_progress_bar = false")
    ingest_paths(con, [args.new])
    t = time.perf_counter()
    written = metrics.refresh_rollups(con, pricing.load())
    seconds = time.perf_counter() - t
    con.close()
    print(
        f"{llmcost.__file__}: refresh {seconds:.2f} s, {len(written)} rollups written,"
        f" load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
