"""The P&L metrics against numbers computed by hand on small fixtures (bundled prices).

Prices used (USD per 1M tokens): claude-haiku-4-5 (small) input 1, output 5, cache read 0.10;
claude-sonnet-4-5 (mid) input 3, output 15. "mystery-1" has no price.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from llmcost import metrics, pricing, query
from llmcost.errors import LlmcostError

HAIKU, SONNET = "claude-haiku-4-5", "claude-sonnet-4-5"

# Fixture A. cost per request:
#   r1 haiku 1000 in            = 1000*1/1e6            = 0.001   (2026-09-30T23:59:59Z: a September request)
#   r2 haiku 2000 in            = 0.002   r3 sonnet 1000 in + 1000 out = 0.003 + 0.015 = 0.018
#   r4 sonnet 1000 in = 0.003   r5 sonnet 3000 in = 0.009   r6 mystery-1 = unpriced   r7 haiku 1000 in = 0.001
# total priced cost = 0.034
A = [
    {"request_id": "r1", "timestamp": "2026-10-01T01:59:59+02:00", "model": HAIKU, "input_tokens": 1000,
     "output_tokens": 0, "user_id": "u1", "customer_id": "c1", "feature": "chat", "task_id": "t1", "step": 1,
     "latency_ms": 100},
    {"request_id": "r2", "timestamp": "2026-10-01T00:00:00Z", "model": HAIKU, "input_tokens": 2000,
     "output_tokens": 0, "user_id": "u1", "customer_id": "c1", "feature": "chat", "task_id": "t1", "step": 2,
     "latency_ms": 200},
    {"request_id": "r3", "timestamp": "2026-10-05T10:00:00Z", "model": SONNET, "input_tokens": 1000,
     "output_tokens": 1000, "user_id": "u2", "customer_id": "c1", "feature": "search"},
    {"request_id": "r4", "timestamp": "2026-10-06T10:00:00Z", "model": SONNET, "input_tokens": 1000,
     "output_tokens": 0, "user_id": "u3", "customer_id": "c2", "feature": "chat", "task_id": "t2", "step": 1,
     "latency_ms": 300},
    {"request_id": "r5", "timestamp": "2026-10-06T10:01:00Z", "model": SONNET, "input_tokens": 3000,
     "output_tokens": 0, "user_id": "u3", "customer_id": "c2", "feature": "chat", "task_id": "t2", "step": 2,
     "status": "error", "latency_ms": 400},
    {"request_id": "r6", "timestamp": "2026-10-07T10:00:00Z", "model": "mystery-1", "input_tokens": 1000,
     "output_tokens": 0, "user_id": "u3", "customer_id": "c2", "feature": "search"},
    {"request_id": "r7", "timestamp": "2026-10-08T10:00:00Z", "model": HAIKU, "input_tokens": 1000,
     "output_tokens": 0, "user_id": "u4", "feature": "chat", "latency_ms": 500},
]  # fmt: skip
# c3 pays but made no request; u4 (customer falls back to the user id) pays nothing.
REVENUE_A = "customer_id,month,revenue_usd,plan\nc1,2026-09,10,pro\nc1,2026-10,20,pro\nc2,2026-10,5,free\nc3,2026-10,7,pro\n"
WINDOW_A = query.Window(datetime(2026, 9, 1), datetime(2026, 11, 1))


def load(
    con: Any, tmp_path: Path, records: list[dict[str, Any]], revenue: str | None = None
) -> None:
    from llmcost.ingest import ingest_paths

    log = tmp_path / "in" / "log.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    paths = [str(log)]
    if revenue is not None:
        (tmp_path / "in" / "revenue.csv").write_text(revenue)
        paths.append(str(tmp_path / "in" / "revenue.csv"))
    ingest_paths(con, paths)


@pytest.fixture(scope="module")
def prices() -> pricing.PriceTable:
    return pricing.load()


@pytest.fixture
def con_a(con: Any, tmp_path: Path) -> Any:
    load(con, tmp_path, A, REVENUE_A)
    return con


def run(con: Any, prices: pricing.PriceTable, **kw: Any) -> dict[str, Any]:
    kw.setdefault("window", WINDOW_A)
    kw.setdefault("by", [])
    return metrics.report(con, prices, generated_at=datetime(2026, 11, 22, 10), **kw).to_json()


def approx(x: float) -> Any:
    return pytest.approx(x, abs=1e-9)


def test_totals_coverage_and_unpriced_left_out_of_sums(con_a: Any, prices: Any) -> None:
    d = run(con_a, prices)
    assert d["schema"] == "llmcost.report/1"
    assert d["coverage"] == {
        **d["coverage"],
        "requests": 7,
        "priced": 6,
        "unpriced": 1,
        "unpriced_models": ["mystery-1"],
    }
    t = d["totals"]
    # tasks: t1, t2 and the three requests without task_id (r3, r6, r7) -> 5; customers c1, c2, u4
    assert (t["requests"], t["tasks"], t["users"], t["customers"]) == (7, 5, 4, 3)
    assert float(t["cost_usd"]) == approx(0.034)
    # revenue 10 + 20 + 5 + 7 = 42 (c3 pays without requests); margin 42 - 0.034
    assert t["revenue_usd"] == approx(42)
    assert t["margin_usd"] == approx(41.966)
    assert t["margin_pct"] == approx(41.966 / 42 * 100)


def test_distribution_percentiles_linear_interpolation(con_a: Any, prices: Any) -> None:
    d = run(con_a, prices)["distribution"]
    # user-months: (u1,Sep) .001 (u1,Oct) .002 (u2,Oct) .018 (u3,Oct) .012 (u4,Oct) .001; sorted .001 .001 .002 .012 .018
    # p50 = .002; p90 at 0.9*4 = 3.6 -> .012 + .6*(.018-.012) = .0156; p99 at 3.96 -> .012 + .96*.006 = .01776
    cu = d["cost_per_user_month_usd"]
    assert (cu["p50"], cu["p90"], cu["p99"]) == (approx(0.002), approx(0.0156), approx(0.01776))
    # task costs: t1 .003, r3 .018, t2 .012, r7 .001 (r6 unpriced: left out); sorted .001 .003 .012 .018
    # p50 = (.003+.012)/2 = .0075; p90 at 2.7 -> .012 + .7*.006 = .0162; p99 at 2.97 -> .012 + .97*.006 = .01782
    ct = d["cost_per_task_usd"]
    assert (ct["p50"], ct["p90"], ct["p99"]) == (approx(0.0075), approx(0.0162), approx(0.01782))
    # user totals u1 .003, u2 .018, u3 .012, u4 .001 (sum .034); top 1% and 10% = 1 user (ceil) = .018/.034
    assert d["top_share"]["top_1pct"] == approx(0.018 / 0.034)
    assert d["top_share"]["top_10pct"] == approx(0.018 / 0.034)
    # Gini, ascending x: (-3*.001 - 1*.003 + 1*.012 + 3*.018) / (4 * .034) = .060 / .136
    assert d["gini"] == approx(0.060 / 0.136)


def test_by_feature_rows_request_stats_and_allocation_by_requests(con_a: Any, prices: Any) -> None:
    d = run(con_a, prices, by=["feature"])
    rows = {r["feature"]: r for r in d["rows"]}
    chat, search = rows["chat"], rows["search"]
    # chat: r1 .001 r2 .002 r4 .003 r5 .009 r7 .001 = .016 over 5 priced requests
    assert chat["requests"] == 5 and float(chat["cost_usd"]) == approx(0.016)
    assert chat["cost_per_request_usd"] == approx(0.0032)
    # sorted .001 .001 .002 .003 .009: p50 .002; p90 at 3.6 -> .003 + .6*.006 = .0066; p99 at 3.96 -> .00876
    assert (chat["p50_request_usd"], chat["p90_request_usd"], chat["p99_request_usd"]) == (
        approx(0.002), approx(0.0066), approx(0.00876))  # fmt: skip
    # latency 100..500: p50 300, p90 at 3.6 -> 400 + .6*100 = 460; output/input tokens 0 / 8000
    assert (chat["latency_p50_ms"], chat["latency_p90_ms"]) == (approx(300), approx(460))
    assert chat["output_input_ratio"] == 0
    # search: r3 .018 and unpriced r6 -> cost .018, cost per priced request .018; out/in = 1000 / 2000
    assert (
        search["requests"] == 2
        and search["unpriced"] == 1
        and float(search["cost_usd"]) == approx(0.018)
    )
    assert search["cost_per_request_usd"] == approx(0.018) and search[
        "output_input_ratio"
    ] == approx(0.5)
    assert chat["share_pct"] == approx(0.016 / 0.034 * 100)
    # by requests: c1-Sep 10 -> chat (r1); c1-Oct 20 over r2 (chat), r3 (search) -> 10 + 10;
    # c2-Oct 5 over r4, r5 (chat), r6 (search) -> 10/3 + 5/3; c3's 7 has no request to go to
    assert chat["revenue_usd"] == approx(10 + 10 + 10 / 3)
    assert search["revenue_usd"] == approx(10 + 5 / 3)
    # c3's 7 reaches the totals (42) but no feature: 42 - 70/3 - 35/3 = 7
    assert d["allocation"]["unallocated_usd"] == approx(7)
    assert chat["margin_usd"] == approx(10 + 10 + 10 / 3 - 0.016)
    assert chat["margin_pct"] == approx((70 / 3 - 0.016) / (70 / 3) * 100)
    assert d["allocation"]["rule"] == "requests"


@pytest.mark.parametrize(
    ("rule", "chat", "search"),
    [
        # cost: c1-Sep 10 -> chat; c1-Oct 20 * (.002/.020) = 2 chat, 18 search; c2-Oct cost all chat (.012) -> 5
        ("cost", 10 + 2 + 5, 18),
        # equal: c1-Sep one feature -> 10; c1-Oct two features 10 + 10; c2-Oct 2.5 + 2.5
        ("equal", 10 + 10 + 2.5, 10 + 2.5),
    ],
)
def test_allocation_rules(con_a: Any, prices: Any, rule: str, chat: float, search: float) -> None:
    d = run(con_a, prices, by=["feature"], allocate=rule)
    rows = {r["feature"]: r for r in d["rows"]}
    assert rows["chat"]["revenue_usd"] == approx(chat)
    assert rows["search"]["revenue_usd"] == approx(search)
    assert d["allocation"]["rule"] == rule


def test_month_boundaries_are_utc(con_a: Any, prices: Any) -> None:
    d = run(con_a, prices, by=["month"])
    rows = {r["month"]: r for r in d["rows"]}
    # r1 (01:59:59+02:00 on Oct 1 = Sep 30 23:59:59 UTC) is September; r2 at Oct 1 00:00:00Z is October
    assert rows["2026-09"]["requests"] == 1 and float(rows["2026-09"]["cost_usd"]) == approx(0.001)
    assert rows["2026-10"]["requests"] == 6 and float(rows["2026-10"]["cost_usd"]) == approx(0.033)
    s = run(con_a, prices)
    months = {m["month"]: m for m in s["months"]}
    # September: u1 alone, revenue 10 (c1); October: u1..u4, revenue 20 + 5 + 7
    assert months["2026-09"]["active_users"] == 1 and months["2026-09"]["revenue_usd"] == approx(10)
    assert months["2026-10"]["active_users"] == 4 and months["2026-10"]["revenue_usd"] == approx(32)
    assert months["2026-10"]["margin_usd"] == approx(32 - 0.033)
    # October user costs .002 .018 .012 .001: p50 = (.002 + .012) / 2
    assert months["2026-10"]["p50_user_usd"] == approx(0.007)
    assert months["2026-10"]["cost_per_active_user_usd"] == approx(0.033 / 4)


def test_customers_margin_under_water_and_no_revenue(con_a: Any, prices: Any) -> None:
    s = run(con_a, prices)
    cust = {c["customer"]: c for c in s["customers"]}
    # c1: .001 + .002 + .018 = .021 against 30; c2: .012 against 5
    assert float(cust["c1"]["cost_usd"]) == approx(0.021) and cust["c1"]["revenue_usd"] == approx(
        30
    )
    assert cust["c1"]["margin_usd"] == approx(30 - 0.021) and cust["c1"]["plan"] == "pro"
    assert cust["c2"]["margin_pct"] == approx((5 - 0.012) / 5 * 100)
    # c3 pays without using: 100 % margin; u4 (no customer_id, no revenue): revenue 0, margin -.001, under water
    assert cust["c3"]["requests"] == 0 and cust["c3"]["margin_pct"] == approx(100)
    assert cust["u4"]["revenue_usd"] == 0 and cust["u4"]["margin_usd"] == approx(-0.001)
    assert cust["u4"]["margin_pct"] is None
    assert [c for c in cust if cust[c]["under_water"]] == ["u4"]
    by_c = {r["customer"]: r for r in run(con_a, prices, by=["customer"])["rows"]}
    assert by_c["c3"]["revenue_usd"] == approx(7) and by_c["c1"]["revenue_usd"] == approx(30)


def test_tasks_success_and_context_growth(con_a: Any, prices: Any) -> None:
    tasks = {t["feature"]: t for t in run(con_a, prices)["tasks"]}
    total = tasks["(all)"]
    # successful: t1 (last r2 ok), r3, r6, r7 -> 4 of 5 (t2 ends with r5 error)
    assert (total["tasks"], total["successful"]) == (5, 4)
    # cost per successful task: all task cost .034 / 4 successful tasks
    assert total["cost_per_successful_task_usd"] == approx(0.034 / 4)
    # t1 1000 -> 2000 (x2, +1000/step); t2 1000 -> 3000 (x3, +2000/step)
    assert total["context_growth_ratio"] == approx(2.5)
    assert total["context_growth_tokens_per_step"] == approx(1500)
    # chat tasks: t1 (.003), t2 (.012), r7 (.001): 3 tasks, 2 successful
    assert (tasks["chat"]["tasks"], tasks["chat"]["successful"]) == (3, 2)
    assert tasks["chat"]["cost_per_task_usd"] == approx(0.016 / 3)


def test_p90_users_and_concentration(con_a: Any, prices: Any) -> None:
    s = run(con_a, prices)
    # user totals sorted .001 .003 .012 .018: P90 at 2.7 -> .012 + .7 * .006 = .0162 -> only u2 (.018)
    assert s["p90_users"]["threshold_usd"] == approx(0.0162)
    [u2] = s["p90_users"]["users"]
    # u2's one request r3 gets 10 of c1-Oct's 20 (requests rule)
    assert (u2["user"], u2["customer"]) == ("u2", "c1")
    assert float(u2["cost_usd"]) == approx(0.018) and u2["revenue_usd"] == approx(10)
    assert u2["margin_usd"] == approx(10 - 0.018)
    # top 20 % of 4 users = ceil(0.8) = 1 user
    assert s["concentration"]["top_20pct"] == approx(0.018 / 0.034)
    assert s["concentration"]["users"] == 4


def test_summary_this_period_vs_previous_with_targets(
    con: Any, tmp_path: Path, prices: Any
) -> None:
    recs = [
        # previous week (2026-10-01 .. 10-08): haiku 1000 in = .001
        {"request_id": "p1", "timestamp": "2026-10-02T10:00:00Z", "model": HAIKU, "input_tokens": 1000, "output_tokens": 0, "user_id": "u1", "customer_id": "c1"},
        # this week: q1 haiku 600 uncached + 400 cache read = (600*1 + 400*0.1)/1e6 = .00064
        {"request_id": "q1", "timestamp": "2026-10-09T10:00:00Z", "model": HAIKU, "input_tokens": 1000, "cache_read_tokens": 400, "output_tokens": 0, "user_id": "u1", "customer_id": "c1"},
        # q2 a semantic-cache hit: cost 0; q3 sonnet 1000 in = .003
        {"request_id": "q2", "timestamp": "2026-10-10T10:00:00Z", "model": HAIKU, "input_tokens": 1000, "output_tokens": 0, "cache_hit": True, "user_id": "u2", "customer_id": "c1"},
        {"request_id": "q3", "timestamp": "2026-10-11T10:00:00Z", "model": SONNET, "input_tokens": 1000, "output_tokens": 0, "user_id": "u1", "customer_id": "c1"},
    ]  # fmt: skip
    load(con, tmp_path, recs, "customer_id,month,revenue_usd\nc1,2026-10,31\n")
    win = query.Window(datetime(2026, 10, 8), datetime(2026, 10, 15))
    targets = {"max_cost_per_active_user_usd": 0.001, "min_semantic_cache_hit_rate_pct": 10}
    d = run(con, prices, window=win, targets=targets)
    assert d["previous_window"] == {"since": datetime(2026, 10, 1), "until": datetime(2026, 10, 8)}
    m = {r["name"]: r for r in d["summary"]["metrics"]}
    assert float(m["total_cost_usd"]["value"]) == approx(0.00364)
    assert float(m["total_cost_usd"]["previous"]) == approx(0.001)
    assert m["total_cost_usd"]["change"] == approx(0.00264)
    # 7 of October's 31 days: revenue 31 * 7/31 = 7 in each week
    assert m["revenue_usd"]["value"] == approx(7) and m["revenue_usd"]["previous"] == approx(7)
    assert m["gross_margin_pct"]["value"] == approx((7 - 0.00364) / 7 * 100)
    assert m["cost_pct_of_revenue"]["value"] == approx(0.00364 / 7 * 100)
    # 2 active users: .00364 / 2 = .00182 > .001 -> miss
    assert m["cost_per_active_user_usd"]["value"] == approx(0.00182)
    assert (
        m["cost_per_active_user_usd"]["status"] == "miss"
        and m["cost_per_active_user_usd"]["ok"] is False
    )
    # semantic hits 1 of 3 requests; prompt cache: 400 read of 2000 input on provider calls (q1, q3)
    assert m["semantic_cache_hit_rate_pct"]["value"] == approx(100 / 3)
    assert m["semantic_cache_hit_rate_pct"]["status"] == "ok"
    assert m["prompt_cache_hit_rate_pct"]["value"] == approx(20)
    # small: q1, q2 (haiku); mid: q3 (sonnet)
    assert m["small_model_share_pct"]["value"] == approx(200 / 3) and m["mid_model_share_pct"][
        "value"
    ] == approx(100 / 3)
    # one customer -> the top 20 % is c1: .00364 / 7
    assert m["top20_customers_cost_pct_of_revenue"]["value"] == approx(0.00364 / 7 * 100)
    assert m["requests"]["status"] == "" and d["summary"]["misses"] == ["cost_per_active_user_usd"]


def test_where_filters_are_bound_and_whitelisted(con_a: Any, prices: Any) -> None:
    d = run(con_a, prices, where=query.parse_where(["feature=chat"]))
    assert d["totals"]["requests"] == 5 and float(d["totals"]["cost_usd"]) == approx(0.016)
    # revenue follows the selected requests (requests rule): 10 + 10 + 10/3
    assert d["totals"]["revenue_usd"] == approx(70 / 3)
    # != keeps rows without the field: u4's row has customer u4, so: r4 r5 r6 r7
    d = run(con_a, prices, where=query.parse_where(["customer!=c1"]))
    assert d["totals"]["requests"] == 4 and float(d["totals"]["cost_usd"]) == approx(0.013)
    # the same field twice with = is "any of"; different fields must all hold
    d = run(con_a, prices, where=query.parse_where(["user=u1", "user=u2", "status=ok"]))
    assert d["totals"]["requests"] == 3
    assert run(con_a, prices, where=query.parse_where(["task_id=t1"]))["totals"]["requests"] == 2
    # an empty value means "missing": every request has a feature
    assert run(con_a, prices, where=query.parse_where(["feature="]))["totals"]["requests"] == 0
    assert run(con_a, prices, where=query.parse_where(["feature!="]))["totals"]["requests"] == 7
    # hostile text is a value, never SQL
    d = run(con_a, prices, where=query.parse_where(["feature=x' OR 1=1 --"]))
    assert d["totals"]["requests"] == 0
    assert con_a.execute("SELECT count(*) FROM requests").fetchone()[0] == 7
    for bad in ["feature); DROP TABLE requests; --=1", "ts=1", "nonsense"]:
        with pytest.raises(LlmcostError):
            query.parse_where([bad])
    with pytest.raises(LlmcostError):
        query.parse_where(["batch=maybe"])


def test_no_revenue_loaded_means_no_margins(con: Any, tmp_path: Path, prices: Any) -> None:
    load(con, tmp_path, A)
    d = run(con, prices, by=["feature"])
    assert d["totals"]["revenue_usd"] is None and d["totals"]["margin_pct"] is None
    assert "revenue_usd" not in d["rows"][0]


def test_drift_logged_vs_computed(con: Any, tmp_path: Path, prices: Any) -> None:
    recs = [dict(A[0], cost_usd=0.0015), dict(A[2], cost_usd=0.018), dict(A[5], cost_usd=0.5)]
    load(con, tmp_path, recs)
    cov = run(con, prices)["coverage"]["logged_cost"]
    # priced requests with a logged cost: r1 (logged .0015 vs .001) and r3 (.018 vs .018); r6 is unpriced
    assert cov["requests"] == 2
    assert cov["logged_usd"] == approx(0.0195) and float(cov["computed_usd"]) == approx(0.019)
    assert cov["drift_usd"] == approx(-0.0005)


def test_previous_window_rules() -> None:
    # whole months: the same number of calendar months before; otherwise the same length before
    w = query.Window(datetime(2026, 3, 1), datetime(2026, 4, 1)).previous()
    assert (w.since, w.until) == (datetime(2026, 2, 1), datetime(2026, 3, 1))
    w = query.Window(datetime(2026, 10, 8), datetime(2026, 10, 15)).previous()
    assert (w.since, w.until) == (datetime(2026, 10, 1), datetime(2026, 10, 8))


def test_parse_when_relative_uses_pinned_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMCOST_NOW", "2026-11-22T10:00:00Z")
    assert query.parse_when("30d") == datetime(2026, 10, 23, 10)
    assert query.parse_when("2026-08-01T12:00:00+02:00") == datetime(2026, 8, 1, 10)
    with pytest.raises(LlmcostError):
        query.parse_when("yesterday")


def test_targets_are_validated() -> None:
    with pytest.raises(LlmcostError, match="unknown key"):
        metrics.parse_targets({"max_fun": 1})
    with pytest.raises(LlmcostError, match="must be a number"):
        metrics.parse_targets({"max_total_cost_usd": "ten"})


def test_by_request_gives_one_row_per_request(con_a: Any, prices: Any) -> None:
    rows = {r["request"]: r for r in run(con_a, prices, by=["request"])["rows"]}
    assert (
        len(rows) == 7
        and float(rows["r3"]["cost_usd"]) == approx(0.018)
        and rows["r6"]["cost_usd"] is None
    )


def test_cli_errors_are_one_line(run_cli: Any) -> None:
    for args in (
        ["--by", "colour"],
        ["--where", "x;y"],
        ["--since", "soon"],
        ["--allocate", "fair"],
    ):
        code, out, err = run_cli("report", *args)
        assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err, (
            args,
            err,
        )


def test_allocated_revenue_does_not_depend_on_the_order_of_the_rows(
    run_cli: Any, tmp_path: Path
) -> None:
    """One customer-month of $999,999,999,999.999999 beside 399 of $0.10-0.19: added as DOUBLEs in
    one order or the other, a plain sum moves in the 4th decimal (…057.9014 against …057.9); the
    compensated sum gives the same, correctly rounded, revenue whatever order the rows come in."""
    reqs = [
        {"request_id": f"r{i}", "timestamp": "2026-09-02T10:00:00Z", "model": "claude-haiku-4-5",
         "input_tokens": 10, "output_tokens": 1, "customer_id": "big" if i == 0 else f"c{i}",
         "feature": "chat", "user_id": f"u{i}"}
        for i in range(400)
    ]  # fmt: skip
    rev = ["big,2026-09,999999999999.999999"] + [f"c{i},2026-09,0.1{i % 10}" for i in range(1, 400)]
    # the exact sum of the revenue lines (every request is in the window, one feature)
    exact = Decimal("999999999999.999999") + sum(Decimal(f"0.1{i % 10}") for i in range(1, 400))
    got = []
    for name, order in (("a", 1), ("b", -1)):
        log = tmp_path / f"{name}.jsonl"
        log.write_text("".join(json.dumps(r) + "\n" for r in reqs[::order]))
        csv = tmp_path / f"{name}.csv"
        csv.write_text("customer_id,month,revenue_usd\n" + "\n".join(rev[::order]) + "\n")
        db = ["--db", str(tmp_path / f"{name}.duckdb")]
        assert run_cli(*db, "ingest", "-q", str(log), str(csv))[0] == 0
        code, out, err = run_cli(
            *db, "report", "--by", "feature", "--since", "2026-09-01", "--until", "2026-10-01",
            "-f", "json",
        )  # fmt: skip
        assert code == 0, err
        got.append(json.loads(out)["rows"][0]["revenue_usd"])
    assert got[0] == got[1] == float(exact)
