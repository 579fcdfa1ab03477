"""`whatif --suggest` re-prices its candidates over one pre-aggregation of the requests: each row must be
the numbers its own `llmcost whatif` command gives, digit for digit (the DECIMAL totals, not a rounding
of them), over data where every lever finds a candidate and the price rows move under it: a price
version that starts mid-window, a long-context rate, batch rows, semantic-cache hits, two hosts.

Prices (USD per 1M tokens), this file's own vendor "acme", batch x0.5 unless a test says otherwise:
acme-frontier (frontier) in 15 / out 75, above 5,000 input tokens in 30 / out 100;  acme-mid (mid) in 3 /
out 15 until 2026-03-15, in 4 / out 16 from then;  acme-small (small) in 1 / out 5;  acme-tiny (small) in
0.25 / out 1.25.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest


def version(since: str, tin: float, tout: float, batch: str, long: str = "") -> str:
    return f"""[[models.prices]]
effective_from = {since}
input = {tin}
output = {tout}
cache_read = {tin / 10}
cache_write = {tin * 1.25}
cache_write_1h = {tin * 2}
batch_discount = {batch}
{long}
"""


def prices(small_batch: str) -> str:
    head = '[[models]]\nid = "{}"\nprovider = "acme"\ntier = "{}"\n'
    long = "long_context_threshold = 5000\nlong_input = 30\nlong_output = 100"
    return (
        head.format("acme-frontier", "frontier") + version("2026-01-01", 15, 75, "0.5", long)
        + head.format("acme-mid", "mid") + version("2026-01-01", 3, 15, "0.5")
        + version("2026-03-15", 4, 16, "0.5")
        + head.format("acme-small", "small") + version("2026-01-01", 1, 5, small_batch)
        + head.format("acme-tiny", "small") + version("2026-01-01", 0.25, 1.25, "0.5")
    )  # fmt: skip


def records() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(
        feature: str, model: str, tin: int, tout: int, i: int, ts: str = "", **extra: Any
    ) -> None:
        day, hour = 1 + i % 28, (i * 7) % 24
        when = ts or f"2026-03-{day:02d}T{hour:02d}:{i % 60:02d}:00Z"
        out.append({"request_id": f"{feature}-{model}-{i}", "timestamp": when,
                    "model": model, "feature": feature, "customer_id": "c1", "user_id": f"u{i % 3}",
                    "input_tokens": tin, "output_tokens": tout, **extra})  # fmt: skip

    for i in range(
        60
    ):  # routing: short answers on mid and frontier, two hosts, over the price change
        add("chat", "acme-mid", 800 + i, 60 + i % 7, i, provider="acme" if i % 2 else "gateway")
        add("chat", "acme-frontier", 900 + 150 * (i % 50), 80, i, batch=i % 4 == 0)
    for i in range(40):  # a long output tail on a mid model: 5% of requests write 20,000 tokens
        add("essay", "acme-mid", 1200, 20_000 if i % 20 == 0 else 300 + i, i, batch=i % 3 == 0)
    for t in range(12):  # agent tasks: eleven of 2 steps, one of 30
        for s in range(30 if t == 0 else 2):
            add("agent", "acme-small", 1500 + s, 200, t * 31 + s, task_id=f"t{t}", step=s + 1)
    for i in range(
        30
    ):  # large uncached prefixes a minute apart (the cache stays warm), one in six a hit
        add(
            "docs",
            "acme-frontier",
            6000 + 37 * i,
            400,
            i,
            ts=f"2026-03-10T10:{i:02d}:00Z",
            cache_hit=i % 6 == 0,
        )
    for i in range(30):  # repeated prompts (an exact-match cache), some on batch
        add("faq", "acme-small", 500, 50, i, prompt_hash=f"h{i % 9}", batch=i % 2 == 0)
    for i in range(20):  # no latency need: batchable
        add("nightly", "acme-tiny", 2000, 300, i, latency_ms=90_000)
    return out


@pytest.fixture(params=["0.5", "0.876543211"], ids=["exact", "semantic-per-request"])
def data(request: Any, jsonl: Any, run_cli: Any, tmp_path: Path) -> tuple[Path, Path]:
    # batch x0.123456789 on acme-small (discount 0.876543211): x (1 - R) cannot be summed per group, so the
    # semantic-cache candidate is re-priced by its own run
    path = tmp_path / "acme.toml"
    path.write_text(prices(request.param))
    code, _, err = run_cli("--pricing", str(path), "ingest", "-q", str(jsonl(records())))
    assert code == 0, err
    return path, tmp_path / "db" / "llmcost.duckdb"


def test_every_row_is_its_own_whatif_to_the_last_digit(data: tuple[Path, Path]) -> None:
    from llmcost import pricing
    from llmcost import whatif as wi
    from llmcost.metrics import Window

    price_path, db = data
    table = pricing.load([price_path])
    con = duckdb.connect(str(db), read_only=True)
    result = wi.suggest(con, table)
    levers = {r["lever"] for r in result.rows}
    assert levers == {"route", "batch", "cap", "max_steps", "prompt_cache", "cache"}, levers
    for row in result.rows:
        sc = row["scenario"]
        s = wi.Scenario(row["name"], wi.Scope(**sc["scope"]), wi.Levers(**sc["levers"]))
        t = wi.run(con, table, s, window=Window()).doc["totals"]
        mine = (
            row["scope_requests"],
            row["baseline_cost_usd"],
            row["scenario_cost_usd"],
            row["savings_usd"],
        )
        want = (t["scope_requests"], t["scope_baseline_cost_usd"], t["scope_scenario_cost_usd"],
                t["scope_savings_usd"])  # fmt: skip
        assert mine == want, row["name"]
        assert isinstance(row["savings_usd"], Decimal) and row["savings_usd"] > 0
    # the window's baseline, which total_savings_pct divides by, is the report's total
    base = wi.run(con, table, wi.Scenario(levers=wi.Levers(batch=True)), window=Window()).doc
    first = result.rows[0]
    assert (
        first["total_savings_pct"]
        == first["savings_usd"] / base["totals"]["baseline_cost_usd"] * 100
    )


def test_hand_computed_cap_over_a_price_change(data: tuple[Path, Path], run_cli: Any) -> None:
    # essay: requests 0 and 20 write 20,000 tokens, on 2026-03-01 (output 15 USD/M) and 2026-03-21 (16 USD/M,
    # the version from 03-15); 0 is batch (x0.5), 20 is not. The cap N is the floor of the P95 of the 40
    # outputs, 339 + 0.05 x (20,000 - 339) -> 1,322; the savings are (20,000 - N) x (15 x 0.5 + 16) / 1e6
    price_path, _ = data
    code, out, err = run_cli(
        "--pricing", str(price_path), "whatif", "--suggest", "--format", "json"
    )
    assert code == 0, err
    row = {r["name"]: r for r in json.loads(out)["rows"]}["cap essay at P95"]
    n = row["scenario"]["levers"]["max_output_tokens"]
    outs = sorted(20_000 if i % 20 == 0 else 300 + i for i in range(40))
    h = 39 * 0.95
    assert n == int(outs[int(h)] + (h - int(h)) * (outs[int(h) + 1] - outs[int(h)])) == 1322
    assert row["savings_usd"] == pytest.approx((20_000 - n) * (15 * 0.5 + 16) / 1e6, abs=1e-12)
