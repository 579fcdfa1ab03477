"""What-if prices groups of requests, not each request: the cases where a group could differ from the sum of
its requests, against hand-computed exact Decimals (prices in USD per 1M tokens, from pricing/ and overlays)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

SONNET = "claude-sonnet-4-5"  # 3 in / 15 out; above 200k input: 6 / 22.50; batch x0.5


def add(
    con: Any, rid: str, ts: str, model: str, n_in: int, n_out: int, *, batch: bool = False
) -> None:
    con.execute(
        "INSERT INTO requests (source_kind, request_id, rid_hash, file_id, line_no, ts, model, status, input_tokens, "
        "cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, cache_hit, "
        "batch, estimated) VALUES ('requests', ?, 0, 1, 0, ?, ?, 'ok', ?, 0, 0, 0, ?, 0, false, ?, false)",
        [rid, datetime.fromisoformat(ts), model, n_in, n_out, batch],
    )


def totals(con: Any, prices: Any, **levers: Any) -> tuple[Decimal, Decimal]:
    from llmcost import whatif

    t = whatif.run(con, prices, whatif.Scenario(levers=whatif.Levers(**levers))).doc["totals"]
    return t["baseline_cost_usd"], t["scenario_cost_usd"]


def test_long_context_rate_follows_the_scenario_input(con: Any) -> None:
    from llmcost import pricing

    add(con, "L", "2025-11-01T00:00:00", SONNET, 300_000, 1_000)
    add(con, "S", "2025-11-01T00:00:00", SONNET, 1_000, 100)
    base, scen = totals(con, pricing.load(), compress_input=0.5)
    # baseline: L above 200k, 300000*6 + 1000*22.50 = 1.8225; S 1000*3 + 100*15 = 0.0045
    assert base == Decimal("1.827")
    # compressed: L 150000 input, under the threshold: 150000*3 + 1000*15 = 0.465; S 500*3 + 100*15 = 0.003
    assert scen == Decimal("0.468")


def test_price_version_starting_at_midnight(con: Any) -> None:
    from llmcost import pricing

    overlay = Path(__file__).resolve().parents[1] / "examples" / "negotiated-prices.toml"
    add(con, "before", "2026-09-30T23:59:59.999", SONNET, 1_000, 100)
    add(con, "after", "2026-10-01T00:00:00", SONNET, 1_000, 100)
    base, scen = totals(con, pricing.load([overlay]), batch=True)
    # list price until 2026-10-01: 1000*3 + 100*15 = 0.0045; from then 1000*2.40 + 100*12 = 0.0036
    assert base == Decimal("0.0081")
    # batched, x0.5: 0.00225 + 0.0018
    assert scen == Decimal("0.00405")


def test_semantic_cache_rounds_each_request(con: Any, tmp_path: Path) -> None:
    from llmcost import pricing

    (tmp_path / "tiny.toml").write_text(
        '[[models]]\nid = "tiny"\nprovider = "acme"\ntier = "small"\n\n'
        "[[models.prices]]\neffective_from = 2025-01-01\ninput = 0.000000001\noutput = 0\nbatch_discount = 0.5\n"
    )
    prices = pricing.load([tmp_path / "tiny.toml"])
    add(con, "a", "2025-11-01T00:00:00", "tiny", 1, 0, batch=True)
    add(con, "b", "2025-11-01T00:00:01", "tiny", 1, 0, batch=True)
    # each request: 1 token x 1e-9 / 1M x 0.5 = 5e-16 USD
    base, scen = totals(con, prices, cache_hit_rate=0.123456789)
    assert base == Decimal("1E-15")
    # x (1 - 0.123456789) = 4.382716055e-16, rounded to 1e-24 per request (as the DECIMAL(38,24) cost
    # column held it): 4.38271606e-16; two requests 8.76543212e-16, not 2 x 4.382716055e-16
    assert scen == Decimal("8.76543212E-16")
    # with 1 - R = 0.8 nothing rounds: 2 x 5e-16 x 0.8 = 8e-16
    assert totals(con, prices, cache_hit_rate=0.2)[1] == Decimal("8E-16")
