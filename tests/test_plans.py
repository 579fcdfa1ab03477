"""Quotas and plans as levers: `whatif --cap-user-cost`, `whatif --plan-price`, and the break-even per
user-month in `report --by plan`. Prices: conftest's lc-test, $1 per 1M input tokens, so a request of
1,000,000 input tokens costs $1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


def one(rid: str, user: str, customer: str, ts: str, plan: str | None = None) -> dict[str, Any]:
    rec = {"request_id": rid, "timestamp": ts, "model": "lc-test", "user_id": user, "customer_id": customer,
           "input_tokens": 1_000_000, "output_tokens": 0}  # fmt: skip
    return {**rec, "plan": plan} if plan else rec


@pytest.fixture
def cli(jsonl: Any, run_cli: Any, test_prices: Path, tmp_path: Path) -> Any:
    def go(records: list[dict[str, Any]], revenue: str, *args: str) -> dict[str, Any]:
        (tmp_path / "revenue.csv").write_text(revenue)
        code, _, err = run_cli(
            "--pricing",
            str(test_prices),
            "ingest",
            "-q",
            str(jsonl(records)),
            str(tmp_path / "revenue.csv"),
        )
        assert code == 0, err
        code, out, err = run_cli("--pricing", str(test_prices), *args, "--format", "json")
        assert code == 0, err
        return json.loads(out)  # type: ignore[no-any-return]

    return go


# u1 (customer c1): four $1 requests in October, one in November; u2 (c2): one in October. Baseline $6.
CAPPED = [one(f"a{i}", "u1", "c1", f"2026-10-0{i + 1}T10:00:00Z") for i in range(4)] + [
    one("b0", "u1", "c1", "2026-11-02T10:00:00Z"),
    one("c0", "u2", "c2", "2026-10-03T10:00:00Z"),
]
REVENUE = "customer_id,month,revenue_usd\nc1,2026-10,100\nc1,2026-11,100\nc2,2026-10,50\n"


@pytest.mark.parametrize("cap", ["2.5", "2"])
def test_cap_user_cost(cli: Any, cap: str) -> None:
    # u1's October running cost 1, 2, 3, 4: the third request takes it over 2.5 (or over 2: exactly 2 is
    # still served), so the third and fourth are not served: saves $2. November starts again at 0.
    doc = cli(CAPPED, REVENUE, "whatif", "--cap-user-cost", cap)
    t = doc["totals"]
    assert t["baseline_cost_usd"] == pytest.approx(6) and t["scenario_cost_usd"] == pytest.approx(4)
    assert t["dropped_requests"] == 2
    assert doc["cap"] == {"cap_usd": float(cap), "requests_not_served": 2, "users_affected": 1, "user_months_capped": 1,
                          "customers_affected": 1, "revenue_at_risk_usd": 100.0}  # fmt: skip
    # revenue 250; margin (250 - 6) / 250 = 97.6% -> (250 - 4) / 250 = 98.4%
    assert t["margin_before_pct"] == pytest.approx(97.6) and t["margin_after_pct"] == pytest.approx(
        98.4
    )
    assert any(f"capped at ${float(cap):g} per calendar month" in a for a in doc["assumptions"])


def test_cap_with_max_steps_counts_only_served_requests(cli: Any) -> None:
    # one task of four $1 steps; --max-steps 2 drops steps 3-4 first, so the cap of $1.5 stops step 2 only
    recs = [
        {**one(f"s{i}", "u1", "c1", f"2026-10-0{i + 1}T10:00:00Z"), "task_id": "t", "step": i + 1}
        for i in range(4)
    ]
    doc = cli(recs, REVENUE, "whatif", "--max-steps", "2", "--cap-user-cost", "1.5")
    assert (
        doc["totals"]["scenario_cost_usd"] == pytest.approx(1)
        and doc["cap"]["requests_not_served"] == 1
    )


def test_plan_price(cli: Any) -> None:
    # c1 on pro pays 10, c2 on free 0, c3 is on pro by its requests and has no revenue row. One $1 request each.
    # --plan-price pro=49: c1 49, c3 49, c2 0: revenue 10 -> 98; margin (10 - 3) / 10 = 70% -> (98 - 3) / 98
    recs = [one("p1", "u1", "c1", "2026-10-01T10:00:00Z", "pro"), one("p2", "u2", "c2", "2026-10-01T11:00:00Z", "free"),
            one("p3", "u3", "c3", "2026-10-01T12:00:00Z", "pro")]  # fmt: skip
    revenue = "customer_id,month,revenue_usd,plan\nc1,2026-10,10,pro\nc2,2026-10,0,free\n"
    doc = cli(recs, revenue, "whatif", "--plan-price", "pro=49", "--by", "customer")
    t = doc["totals"]
    assert t["revenue_usd"] == pytest.approx(10) and t["revenue_after_usd"] == pytest.approx(98)
    assert t["savings_usd"] == 0
    assert t["margin_before_pct"] == pytest.approx(70) and t["margin_after_pct"] == pytest.approx(
        95 / 98 * 100
    )
    rows = {r["customer"]: r for r in doc["rows"]}
    assert (
        rows["c3"]["revenue_after_usd"] == pytest.approx(49)
        and rows["c2"]["revenue_after_usd"] == 0
    )
    assert rows["c3"]["margin_after_pct"] == pytest.approx(48 / 49 * 100)
    plans = {p["plan"]: p for p in doc["plans"]}
    # pro: c1 and c3, revenue 10 -> 98, cost 2: margin 80% -> 96 / 98
    assert plans["pro"]["customers"] == 2 and plans["pro"]["repriced"] is True
    assert plans["pro"]["revenue_after_usd"] == pytest.approx(98) and plans["pro"][
        "baseline_cost_usd"
    ] == pytest.approx(2)
    assert plans["pro"]["margin_before_pct"] == pytest.approx(80) and plans["pro"][
        "margin_after_pct"
    ] == pytest.approx(96 / 98 * 100)
    assert plans["free"]["margin_after_pct"] is None  # no revenue: unknown, not -100 %


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["--plan-price", "pro"], "cannot read --plan-price 'pro'"), (["--plan-price", "pro=abc"], "cannot read --plan-price"),
     (["--plan-price", "pro=-5"], "the price must be a USD amount"), (["--cap-user-cost", "-1"], "--cap-user-cost must be")],
)  # fmt: skip
def test_bad_lever_values(cli: Any, run_cli: Any, args: list[str], needle: str) -> None:
    cli(CAPPED, REVENUE, "report")
    code, out, err = run_cli("whatif", *args)
    assert code == 2 and out == "" and needle in err and err.count("\n") == 1


def test_breakeven_by_plan(cli: Any, tmp_path: Path) -> None:
    # pro: c1 with u1 (two $1 requests) and u2 (one) in October, revenue 10: 2 user-months, revenue 5 and cost 1.5
    # per user-month, 1,500,000 tokens per user-month. At a 60% target margin a user-month may cost 5 x 0.4 = 2,
    # i.e. 2 / (3 / 3,000,000) = 2,000,000 tokens.
    recs = [one("x1", "u1", "c1", "2026-10-01T10:00:00Z", "pro"), one("x2", "u1", "c1", "2026-10-02T10:00:00Z", "pro"),
            one("x3", "u2", "c1", "2026-10-03T10:00:00Z", "pro")]  # fmt: skip
    (tmp_path / "llmcost.toml").write_text("[targets]\nmin_gross_margin_pct = 60\n")
    doc = cli(recs, "customer_id,month,revenue_usd\nc1,2026-10,10\n", "report", "--by", "plan")
    row = doc["rows"][0]
    assert row["plan"] == "pro" and row["user_months"] == 2 and row["target_margin_pct"] == 60
    assert row["revenue_per_user_month_usd"] == pytest.approx(5) and row[
        "cost_per_user_month_usd"
    ] == pytest.approx(1.5)
    assert row["tokens_per_user_month"] == pytest.approx(1_500_000)
    assert row["breakeven_cost_per_user_month_usd"] == pytest.approx(2)
    assert row["breakeven_tokens_per_user_month"] == pytest.approx(2_000_000)


def test_breakeven_without_a_target_is_at_zero_margin(
    cli: Any, run_cli: Any, test_prices: Path
) -> None:
    recs = [one("y1", "u1", "c1", "2026-10-01T10:00:00Z", "pro")]
    row = cli(recs, "customer_id,month,revenue_usd\nc1,2026-10,10\n", "report", "--by", "plan")[
        "rows"
    ][0]
    # one user-month, revenue 10, $1 for 1,000,000 tokens: break-even at $10, 10,000,000 tokens
    assert row["breakeven_cost_per_user_month_usd"] == pytest.approx(10)
    assert row["breakeven_tokens_per_user_month"] == pytest.approx(10_000_000)
    code, out, _ = run_cli("--pricing", str(test_prices), "report", "--by", "plan")
    text = " ".join(out.split())  # a table's note wraps at the terminal's width
    assert (
        code == 0
        and "break-even per active user-month" in text
        and "no min_gross_margin_pct in the targets section" in text
    )
