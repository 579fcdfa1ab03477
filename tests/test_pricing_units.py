"""The fast exact cost path (pricing.cost_units_sql and friends) gives the very numbers of the DECIMAL one.

Reports sum and rank costs from integer units of 0.5e-15 USD instead of one 128-bit DECIMAL per
request; these tests hold the two paths to the same values: the DECIMAL sums digit for digit, the
DOUBLEs bit for bit (what CAST(cost_usd AS DOUBLE) gives).
"""

from __future__ import annotations

import random
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from llmcost import pricing

PRICES = """provider = "acme"

[[models]]
id = "m"
tier = "mid"

[[models.prices]]
effective_from = 2025-01-01
input = 3.00
output = 15.00
cache_read = 0.30
cache_write = 3.75
cache_write_1h = 6.00
batch_discount = 0.5
long_context_threshold = 200000
long_input = 6.00
long_output = 22.50

[[models]]
id = "odd"
tier = "small"

[[models.prices]]
effective_from = 2025-01-01
input = 1.00
output = 2.00
batch_discount = 0.3
"""

WHEN = datetime(2025, 6, 1, 12)


def add(con: Any, rid: str, model: str, *, inp: int = 0, out: int = 0, cr: int = 0, cw: int = 0,
        cw1h: int = 0, batch: bool = False, hit: bool = False) -> None:  # fmt: skip
    con.execute(
        """INSERT INTO requests (source_kind, request_id, rid_hash, file_id, line_no, ts, model, status,
               input_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens,
               reasoning_tokens, cache_hit, batch, estimated)
           VALUES ('requests', ?, hash(?), 1, 1, ?, ?, 'ok', ?, ?, ?, ?, ?, 0, ?, ?, false)""",
        [rid, rid, WHEN, model, inp, cr, cw, cw1h, out, hit, batch],
    )


def install(con: Any, tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "acme.toml").write_text(PRICES)
    pricing.install(con, pricing.load(bundled=tmp_path / "p"))
    pricing.register_units(con)
    con.execute(
        f"""CREATE TEMP VIEW split AS
            SELECT r.request_id, {pricing.cost_usd_sql()} AS cost_usd, {pricing.cost_units_sql()} AS u,
                   CASE WHEN {pricing.cost_units_sql()} IS NULL THEN {pricing.cost_usd_sql()} END AS cost_x
            FROM requests r LEFT JOIN lc_prices_u p ON p.model = r.model AND r.ts >= p.valid_from AND r.ts < p.valid_to"""
    )


def test_hand_computed_rows_take_the_fast_path_or_fall_back(con: Any, tmp_path: Path) -> None:
    add(con, "plain", "m", inp=1000, out=500)  # 1000*3 + 500*15 = 10500 -> 0.0105
    add(con, "batch", "m", inp=1000, out=500, batch=True)  # 0.0105 * 0.5 = 0.00525
    add(con, "hit", "m", inp=1000, out=500, hit=True)  # semantic cache hit: 0
    add(
        con, "long", "m", inp=300_000, out=1000
    )  # long rates: 300000*6 + 1000*22.5 = 1822500 -> 1.8225
    add(
        con, "cached", "m", inp=10_000, cr=8000, out=100
    )  # 2000*3 + 8000*0.30 + 100*15 = 9900 -> 0.0099
    add(con, "huge", "m", inp=2_000_000)  # 2e6*6 = 12e6 -> 12, over $4.5: falls back to DECIMAL
    add(
        con, "odd", "odd", inp=1000, batch=True
    )  # 1000*1 * 0.7 = 700 -> 0.0007; factor 0.7 falls back
    add(con, "nope", "unknown-model", inp=1000)  # unpriced: NULL
    install(con, tmp_path)
    got = {
        r[0]: r[1:]
        for r in con.execute("SELECT request_id, u, cost_x, cost_usd FROM split").fetchall()
    }
    # units of 0.5e-15 USD: 0.0105 USD = 21e12 units
    assert got["plain"][:2] == (21_000_000_000_000, None)
    assert got["batch"][:2] == (10_500_000_000_000, None)
    assert got["hit"][:2] == (0, None)
    assert got["long"][:2] == (3_645_000_000_000_000, None)
    assert got["cached"][:2] == (19_800_000_000_000, None)
    assert got["huge"][0] is None and got["huge"][1] == Decimal("12")
    assert got["odd"][0] is None and got["odd"][1] == Decimal("0.0007")
    assert got["nope"] == (None, None, None)

    sums = con.execute(
        f"""SELECT {pricing.sum_cost_sql("u", "cost_x")}, sum(cost_usd), {pricing.sum_double_sql("u", "cost_x")},
                   CAST(sum(cost_usd) AS DOUBLE) FROM split"""
    ).fetchone()
    # 0.0105 + 0.00525 + 0 + 1.8225 + 0.0099 + 12 + 0.0007 = 13.84885
    assert sums[0] == sums[1] == Decimal("13.84885")
    assert str(sums[0]) == str(sums[1])  # same DECIMAL(38,24) scale, so the same digits everywhere
    assert sums[2] == sums[3] == float(Decimal("13.84885"))
    # the fast rows alone: 0.0105 + 0.00525 + 1.8225 + 0.0099 = 1.84815, summed from units only
    fast = con.execute(
        f"""SELECT {pricing.sum_cost_sql("u", "cost_x")}, {pricing.sum_double_sql("u", "cost_x")}
            FROM split WHERE u IS NOT NULL"""
    ).fetchone()
    assert fast == (Decimal("1.84815"), float(Decimal("1.84815")))
    none = con.execute(
        f"SELECT {pricing.sum_cost_sql('u', 'cost_x')}, {pricing.sum_double_sql('u', 'cost_x')} FROM split "
        "WHERE request_id = 'nope'"
    ).fetchone()
    assert none == (None, None)  # a group with no priced request costs NULL, not 0


def test_random_rows_agree_bit_for_bit(con: Any, tmp_path: Path) -> None:
    """Random token counts (rates of the price file above): every row's DOUBLE and every group's
    sum equal the DECIMAL path's, and the report's exact DECIMAL sum is the same value and scale."""
    rng = random.Random(7)
    for i in range(3000):
        inp = rng.choice([rng.randint(0, 5000), rng.randint(0, 400_000), rng.randint(0, 3_000_000)])
        cr = rng.randint(0, inp // 2)
        cw = rng.randint(0, (inp - cr) // 3)
        add(con, f"r{i}", rng.choice(["m", "m", "m", "odd", "x"]), inp=inp, out=rng.randint(0, 40_000), cr=cr,
            cw=cw, batch=rng.random() < 0.3, hit=rng.random() < 0.05)  # fmt: skip
    install(con, tmp_path)
    bad = con.execute(
        f"""SELECT count(*) FROM split
            WHERE {pricing.cost_double_sql("u", "cost_x")} IS DISTINCT FROM CAST(cost_usd AS DOUBLE)"""
    ).fetchone()[0]
    assert bad == 0
    groups = con.execute(
        f"""SELECT {pricing.sum_cost_sql("u", "cost_x")} = sum(cost_usd),
                   {pricing.sum_double_sql("u", "cost_x")} IS NOT DISTINCT FROM CAST(sum(cost_usd) AS DOUBLE),
                   count(u) > 0, count(cost_x) > 0
            FROM split GROUP BY hash(request_id) % 97"""
    ).fetchall()
    assert all(g[0] and g[1] for g in groups)
    assert any(g[2] and g[3] for g in groups)  # groups mixing both paths were exercised


@pytest.mark.parametrize("factor", ["0.5", "0", "0.25"])
def test_batch_factor_unit_eligibility(con: Any, factor: str) -> None:
    """Only factors k/2 keep the units integral; 0.25 (a quarter unit) falls back to DECIMAL."""
    con.execute(f"CREATE TEMP TABLE lc_prices ({pricing.PRICE_COLUMNS})")
    con.execute(
        "INSERT INTO lc_prices (model, model_id, r_input, r_output, r_cache_read, r_cache_write, r_cache_write_1h,"
        f" batch_factor) VALUES ('a', 'a', 1, 1, 1, 1, 1, {factor})"
    )
    pricing.register_units(con)
    u_batch = con.execute("SELECT u_batch FROM lc_prices_u").fetchone()[0]
    assert u_batch == {"0.5": 1.0, "0": 0.0, "0.25": None}[factor]
