"""The report's numbers equal the metric definitions' (src/llmcost/sql/, docs/metrics.md).

llmcost.metrics computes the report through DuckDB-only speed-ups (partial sums in integer cost
units, rollups kept in the store); llmcost.definitions runs the portable .sql definitions over the
priced requests. On random stores (three price versions of one model, a model priced only from
mid-September, a model never priced, multi-step tasks with and without step numbers, semantic-cache
hits, batch and long-context requests, logged costs, revenue with a customer that has no request)
every number of the report's JSON — with --by and the summary, reading the requests, building the
rollups and reading them back — equals the definitions': counts and DECIMAL costs exactly (a row's
DOUBLE cost_usd is the correctly rounded value of the definition's DECIMAL, compared as floats);
every other DOUBLE field (means, ratios, shares, percentiles, revenue, margins) to 1e-9, relative
or absolute (math.isclose), which SPEC §8 allows (the report rounds revenue and margins to 1e-9;
its margin and cost percentages of revenue are taken from the rounded revenue, so they are held
to that rounding's relative error as well: OF_REVENUE).

Where Spark runs (see tests/test_lake_spark.py), the same .sql files run on Spark, untranslated,
over the store exported to a lake, and give the same numbers: the portability proof.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

# the Spark session of the run, and its skip (or, with LLMCOST_REQUIRE_SPARK=1, failure) without Spark
from tests.test_lake_spark import spark_session  # noqa: F401

from llmcost import definitions, metrics, pricing
from llmcost.query import SYNONYMS, Window

# Three versions of lc-alpha (the last with long-context rates above 20,000 input tokens), lc-beta
# from 2026-09-15 only (its earlier requests are unpriced), lc-mystery never priced.
PRICES = """
[[models]]
id = "lc-alpha"
provider = "test"
tier = "small"
[[models.prices]]
effective_from = 2026-01-01
input = 0.40
output = 1.60
cache_read = 0.10
batch_discount = 0.5
[[models.prices]]
effective_from = 2026-09-20
input = 0.30
output = 1.20
cache_read = 0.075
batch_discount = 0.5
[[models.prices]]
effective_from = 2026-10-20
input = 0.25
output = 1.00
cache_read = 0.05
long_context_threshold = 20000
long_input = 0.50
long_output = 1.50

[[models]]
id = "lc-beta"
provider = "test"
tier = "mid"
[[models.prices]]
effective_from = 2026-09-15
input = 3.00
output = 15.00
cache_read = 0.30
cache_write = 3.75
"""
MODELS = ("lc-alpha", "lc-alpha", "lc-alpha", "lc-beta", "lc-beta", "lc-mystery")
FEATURES = ("chat", "search", "agent", None)
START = datetime(2026, 8, 5)
SPAN = int((datetime(2026, 11, 25) - START).total_seconds())


def _request(rng: random.Random, rid: str, ts: datetime, user: str | None, cust: str) -> dict[str, Any]:  # fmt: skip
    n_in = rng.choice((rng.randint(50, 4000), rng.randint(4000, 30000)))
    rec: dict[str, Any] = {
        "request_id": rid, "timestamp": ts.isoformat() + "Z", "provider": "test",
        "model": rng.choice(MODELS), "customer_id": cust, "plan": "pro" if cust < "c4" else "free",
        "input_tokens": n_in, "output_tokens": rng.randint(0, 2500),
        "cache_read_tokens": rng.choice((0, 0, rng.randint(0, n_in // 2))),
        "status": rng.choice(("ok",) * 8 + ("error", "retry")),
        "cache_hit": rng.random() < 0.08, "batch": rng.random() < 0.1,
    }  # fmt: skip
    if user is not None:
        rec["user_id"] = user
    feature = rng.choice(FEATURES)
    if feature is not None:
        rec["feature"] = feature
    if rng.random() < 0.9:
        rec["latency_ms"] = rng.randint(40, 9000)
    if rng.random() < 0.3:
        rec["cost_usd"] = rng.randint(0, 90000) / 1e7  # as a logger computed it
    return rec


def _store_records(seed: int) -> tuple[list[dict[str, Any]], str]:
    """Random requests (untasked ones and multi-step tasks, distinct timestamps) and revenue."""
    rng = random.Random(seed)
    users = {f"u{i:02d}": f"c{1 + i % 6}" for i in range(25)}
    seconds = iter(rng.sample(range(SPAN), 900))
    out = []
    for i in range(300):
        user = rng.choice([*users, None])
        out.append(
            _request(
                rng,
                f"r{i}",
                START + timedelta(seconds=next(seconds)),
                user,
                users.get(user or "", "c6"),
            )
        )
    for t in range(90):
        user = rng.choice(list(users))
        start = START + timedelta(seconds=next(seconds))
        numbered = rng.random() < 0.7  # the others are ordered by time alone
        feature = rng.choice(FEATURES)  # one feature per task (test_a_task_s_feature: why)
        for step in range(rng.randint(1, 6)):
            ts = start + timedelta(seconds=41 * step + rng.randint(0, 30))
            rec = _request(rng, f"t{t}s{step}", ts, user, users[user])
            rec.pop("feature", None)
            rec.update({"task_id": f"task{t}", **({"feature": feature} if feature else {})})
            if numbered:
                rec["step"] = step + 1
            out.append(rec)
    lines = ["customer_id,month,revenue_usd,plan"]
    for c in sorted(set(users.values())):
        for m in ("2026-08", "2026-09", "2026-10", "2026-11"):
            if (c, m) != ("c2", "2026-09"):  # requests without revenue
                lines.append(f"{c},{m},{rng.randint(5, 400)}.{rng.randint(0, 99):02d},pro")
    lines.append("c9,2026-10,77.25,pro")  # revenue without any request
    return out, "\n".join(lines) + "\n"


@pytest.fixture(scope="module", params=[7, 2027])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, pricing.PriceTable]]:  # fmt: skip
    from llmcost.ingest import ingest_paths
    from llmcost.store import connect

    base = tmp_path_factory.mktemp(f"definitions-{request.param}")
    records, revenue = _store_records(request.param)
    (base / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (base / "revenue.csv").write_text(revenue)
    (base / "prices.toml").write_text(PRICES)
    con = connect(base / "db.duckdb")
    ingest_paths(con, [str(base / "log.jsonl"), str(base / "revenue.csv")])
    prices = pricing.load([base / "prices.toml"])
    yield con, prices
    con.close()


# ---------------------------------------------------------------- comparing


def same(fast: Any, ref: Any, where: str, rel: float = 1e-9) -> None:
    """FAST (the report's JSON value) equals REF (the definition's): exactly for integers and
    DECIMAL costs, to 1e-9 (or REL) for DOUBLEs."""
    if ref is None or fast is None:
        assert fast is None and ref is None, f"{where}: report {fast!r}, definition {ref!r}"
    elif isinstance(ref, bool) or isinstance(fast, bool):
        assert fast == ref, f"{where}: report {fast!r}, definition {ref!r}"
    elif isinstance(ref, Decimal):
        exact = isinstance(fast, (Decimal, int)) or (
            isinstance(ref, Decimal) and ref == ref.to_integral_value() and float(fast).is_integer()
        )
        assert (Decimal(fast) == ref) if exact else (float(fast) == float(ref)), (
            f"{where}: report {fast!r}, definition {ref!r}"
        )
    elif isinstance(ref, int):
        assert fast == ref, f"{where}: report {fast!r}, definition {ref!r}"
    else:
        assert math.isclose(float(fast), float(ref), rel_tol=rel, abs_tol=1e-9), (
            f"{where}: report {fast!r}, definition {ref!r}"
        )


# The report writes revenue rounded to 1e-9 USD and takes its margin and cost percentages of revenue
# from that rounded figure: they carry its relative error, up to 5e-10 / revenue.
OF_REVENUE = ("margin_pct", "cost_pct_of_revenue")


def same_fields(fast: dict[str, Any], ref: dict[str, Any], fields: list[str], where: str) -> None:
    revenue = ref.get("revenue_usd")
    for f in fields:
        rel = 1e-9 + (5e-10 / abs(revenue) if f in OF_REVENUE and revenue else 0.0)
        same(fast.get(f), ref.get(f), f"{where}.{f}", rel)


def month_text(value: Any) -> Any:
    return value.strftime("%Y-%m") if isinstance(value, (date, datetime)) else value


ROW_FIELDS = [
    "requests", "cost_usd", "cost_per_request_usd", "p50_request_usd", "p90_request_usd",
    "p99_request_usd", "share_pct", "output_input_ratio", "latency_p50_ms", "latency_p90_ms",
    "users", "tasks", "cache_hit_pct", "unpriced",
]  # fmt: skip
MARGIN_FIELDS = ["revenue_usd", "margin_usd", "margin_pct", "cost_pct_of_revenue"]
TASK_FIELDS = [
    "tasks", "successful", "success_pct", "cost_usd", "cost_per_task_usd",
    "cost_per_successful_task_usd", "p50_task_usd", "p90_task_usd", "p99_task_usd", "mean_steps",
    "context_growth_ratio", "context_growth_tokens_per_step",
]  # fmt: skip


def fast_reports(
    con: Any, prices: pricing.PriceTable, monkeypatch: pytest.MonkeyPatch, **kw: Any
) -> dict[str, dict[str, Any]]:
    """The report three ways: reading the requests (no rollups), building the rollups, reading them
    (a window that is neither every request nor whole months reads the requests all three times)."""
    out = {}
    with monkeypatch.context() as m:
        m.setattr(metrics, "_rollups_for", lambda *a, **k: None)
        out["requests"] = metrics.report(con, prices, **kw).to_json()
    con.execute("DELETE FROM report_rollups")
    out["rollups built"] = metrics.report(con, prices, **kw).to_json()
    out["rollups read"] = metrics.report(con, prices, **kw).to_json()
    return out


def rollups_kept(con: Any) -> set[str]:
    return {r[0] for r in con.execute("SELECT name FROM report_rollups").fetchall()}


def definition(con: Any, name: str) -> list[dict[str, Any]]:
    return definitions.records(con, name)


def check_totals(doc: dict[str, Any], con: Any, where: str) -> None:
    (t,) = definition(con, "period_totals")
    totals = doc["totals"]
    for f in ("requests", "tasks", "customers", "cost_usd"):
        same(totals[f], t[f], f"{where} totals.{f}")
    same(totals["users"], t["active_users"], f"{where} totals.users")
    same(doc["coverage"]["priced"], t["priced"], f"{where} coverage.priced")
    same(doc["coverage"]["unpriced"], t["unpriced"], f"{where} coverage.unpriced")
    if totals.get("revenue_usd") is not None:
        same_fields(totals, t, ["revenue_usd", "margin_usd", "margin_pct"], f"{where} totals")
    logged = doc["coverage"]["logged_cost"]
    same(logged["requests"], t["logged_requests"], f"{where} logged_cost.requests")
    fields = ["logged_usd", "computed_usd", "drift_usd", "drift_pct"]
    same_fields(logged, t, fields, f"{where} logged_cost")
    (d,) = definition(con, "user_distribution")
    dist = doc["distribution"]
    for p in ("p50", "p90", "p99"):
        same(
            dist["cost_per_user_month_usd"][p],
            d[f"cost_per_user_month_{p}_usd"],
            f"{where} distribution.user_month.{p}",
        )
    for k in (1, 10):  # distribution.top_share carries 1 and 10 (TOP_SHARES: all four)
        same(dist["top_share"][f"top_{k}pct"], d[f"top_{k}_pct_share"], f"{where} top_share.{k}")
    same(dist["gini"], d["gini"], f"{where} distribution.gini")
    total_task = next(r for r in definition(con, "task_metrics") if r["is_total"])
    for p in ("p50", "p90", "p99"):
        same(
            dist["cost_per_task_usd"][p],
            total_task[f"{p}_task_usd"],
            f"{where} distribution.task.{p}",
        )


BY_CASES = [
    ["feature"], ["user"], ["customer"], ["model"], ["tier"], ["plan"], ["month"], ["task"],
    ["feature", "month"], ["customer_id", "model"],
]  # fmt: skip
WINDOWS = {
    "all": Window(),
    "part": Window(datetime(2026, 9, 10), datetime(2026, 11, 5, 12)),
    "months": Window(datetime(2026, 9, 1), datetime(2026, 11, 1)),
}


@pytest.mark.parametrize("window", list(WINDOWS))
@pytest.mark.parametrize("by", BY_CASES, ids=",".join)
def test_group_rows_equal_the_definitions(
    store: Any, by: list[str], window: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    con, prices = store
    docs = fast_reports(con, prices, monkeypatch, by=by, window=WINDOWS[window])
    if window != "part" and all(SYNONYMS.get(b, b) in metrics.ROLLUP_DIMS for b in by):
        # the third report read them: every request's partial sums, or a whole-month window's groups
        kept = rollups_kept(con)
        assert "fine" in kept if window == "all" else any("@" in k for k in kept), kept
    definitions.install(con, prices, WINDOWS[window], by)
    keys = definitions.group_columns(by)
    ref = {tuple(month_text(r[k]) for k in keys): r for r in definition(con, "report_rows")}
    customers = {r["customer_id"]: r for r in definition(con, "customers")}
    whole_customer = by in (["customer"], ["customer_id"])
    for how, doc in docs.items():
        where = f"{how} --by {','.join(by)} {window}"
        check_totals(doc, con, where)
        fast = {tuple(r[b] for b in by): r for r in doc["rows"]}
        with_requests = {k: r for k, r in fast.items() if r["requests"]}
        assert set(with_requests) == set(ref), where
        has_revenue = doc["totals"].get("revenue_usd") is not None
        for key, row in with_requests.items():
            same_fields(row, ref[key], ROW_FIELDS, f"{where} {key}")
            if not has_revenue:
                assert "revenue_usd" not in row
            elif whole_customer:
                # --by customer: each customer's whole revenue in the window, the months without a
                # request included (customers.sql), not only what its requests are allocated
                same_fields(row, customers[key[0]], MARGIN_FIELDS, f"{where} {key}")
            else:
                same_fields(row, ref[key], MARGIN_FIELDS, f"{where} {key}")
        # the rows without a request: customers with revenue in the window and none of its requests
        extra = {k[0] for k, r in fast.items() if not r["requests"]}
        if whole_customer and has_revenue:
            assert extra == {c for c, r in customers.items() if not r["requests"]}, where
            for c in extra:
                same_fields(fast[(c,)], customers[c], MARGIN_FIELDS, f"{where} {c}")
        else:
            assert not extra, where


SUMMARY_WINDOWS = {
    "october": Window(datetime(2026, 10, 1), datetime(2026, 11, 1)),
    "part": Window(datetime(2026, 9, 10), datetime(2026, 10, 25)),
}
SUMMARY_VALUES = {
    "total_cost_usd": "cost_usd", "requests": "requests", "active_users": "active_users",
    "cost_per_active_user_usd": "cost_per_active_user_usd", "revenue_usd": "revenue_usd",
    "cost_pct_of_revenue": "cost_pct_of_revenue", "gross_margin_usd": "margin_usd",
    "gross_margin_pct": "margin_pct", "semantic_cache_hit_rate_pct": "semantic_cache_hit_rate_pct",
    "prompt_cache_hit_rate_pct": "prompt_cache_hit_rate_pct",
    "small_model_share_pct": "small_model_share_pct", "mid_model_share_pct": "mid_model_share_pct",
}  # fmt: skip


def summary_values(con: Any) -> dict[str, Any]:
    """The summary's metrics from the definitions over the installed window."""
    (t,) = definition(con, "period_totals")
    values = {name: t[col] for name, col in SUMMARY_VALUES.items()}
    total_task = next(r for r in definition(con, "task_metrics") if r["is_total"])
    values["cost_per_successful_task_usd"] = total_task["cost_per_successful_task_usd"]
    (top,) = definition(con, "top20_customers")
    values["top20_customers_cost_pct_of_revenue"] = (
        top["cost_pct_of_revenue"] if t["revenue_usd"] is not None else None
    )
    return values


@pytest.mark.parametrize("window", list(SUMMARY_WINDOWS))
def test_the_summary_equals_the_definitions(
    store: Any, window: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    con, prices = store
    win = SUMMARY_WINDOWS[window]
    docs = fast_reports(con, prices, monkeypatch, by=[], window=win)
    if window == "october":
        assert "tasks:prev@2026-09/2026-10/2026-11" in rollups_kept(con)
    previous = win.previous()
    definitions.install(con, prices, previous)
    before = summary_values(con)
    definitions.install(con, prices, win)
    now = summary_values(con)
    tasks = {r["feature"]: r for r in definition(con, "task_metrics")}
    features = {r["group_1"]: r for r in definitions_rows(con, prices, win, ["feature"])}
    months = {month_text(r["month"]): r for r in definition(con, "months")}
    (dist,) = definition(con, "user_distribution")
    p90 = {r["user_id"]: r for r in definition(con, "p90_users")}
    customers = {r["customer_id"]: r for r in definition(con, "customers")}
    models = {r["model"]: r for r in definition(con, "models")}
    for how, doc in docs.items():
        where = f"{how} summary {window}"
        assert {m["model"] for m in doc["models"]} == set(models), where
        for m in doc["models"]:
            ref = models[m["model"]]
            assert (m["tier"], m["priced"]) == (ref["tier"], "yes" if ref["priced"] else "no")
            same_fields(m, ref, [
                "requests", "requests_pct", "cost_usd", "share_pct", "logged_usd", "computed_usd",
                "drift_pct",
            ], f"{where} models {m['model']}")  # fmt: skip
        check_totals(doc, con, where)
        for m in doc["summary"]["metrics"]:
            same(m["value"], now[m["name"]], f"{where} {m['name']}")
            same(m["previous"], before[m["name"]], f"{where} {m['name']} (previous)")
        assert {r["feature"] for r in doc["tasks"]} == set(tasks), where
        for r in doc["tasks"]:
            same_fields(r, tasks[r["feature"]], TASK_FIELDS, f"{where} tasks {r['feature']}")
        assert {r["feature"] for r in doc["features"]} == set(features), where
        for r in doc["features"]:
            key = f"{where} features {r['feature']}"
            same_fields(r, features[r["feature"]], ROW_FIELDS + MARGIN_FIELDS, key)
        assert {r["month"] for r in doc["months"]} == set(months), where
        for r in doc["months"]:
            same_fields(r, months[r["month"]], [
                "requests", "cost_usd", "active_users", "cost_per_active_user_usd", "p50_user_usd",
                "p90_user_usd", "p99_user_usd", "revenue_usd", "margin_usd", "margin_pct",
            ], f"{where} months {r['month']}")  # fmt: skip
        conc = doc["concentration"]
        same(conc["users"], dist["users"], f"{where} concentration.users")
        for k in (1, 5, 10, 20):
            same(conc[f"top_{k}pct"], dist[f"top_{k}_pct_share"], f"{where} top_{k}pct")
        same(conc["gini"], dist["gini"], f"{where} gini")
        same(doc["p90_users"]["threshold_usd"], dist["p90_user_usd"], f"{where} p90 threshold")
        assert {u["user"] for u in doc["p90_users"]["users"]} == set(p90), where
        for u in doc["p90_users"]["users"]:
            ref = p90[u["user"]]
            assert u["customer"] == ref["customer_id"], where
            same_fields(
                u, ref, ["requests", "cost_usd", *MARGIN_FIELDS], f"{where} p90 {u['user']}"
            )
        assert {c["customer"] for c in doc["customers"]} == set(customers), where
        for c in doc["customers"]:
            ref = customers[c["customer"]]
            same_fields(c, ref, ["requests", "users", "cost_usd", *MARGIN_FIELDS, "under_water"],
                        f"{where} customers {c['customer']}")  # fmt: skip


def definitions_rows(
    con: Any, prices: pricing.PriceTable, win: Window, by: list[str]
) -> list[dict[str, Any]]:
    """report_rows for BY over WIN (installs the definitions for them)."""
    definitions.install(con, prices, win, by)
    rows = definition(con, "report_rows")
    definitions.install(con, prices, win)
    return rows


def test_the_definitions_by_hand(con: Any, tmp_path: Path) -> None:
    """A store small enough to compute by hand. lc-alpha in October (its second version) $0.30 in,
    $1.20 out per 1M tokens:
    a  1000 in + 500 out = 0.0003 + 0.0006 = 0.0009   chat   u1 c1  task t (step 1)
    b  3000 in           = 0.0009                     chat   u1 c1  task t (step 2), status error
    c  2000 in, batch    = 0.0006 x 0.5 = 0.0003      search u2 c2
    d  lc-mystery        = unpriced                   search u2 c2
    c1 has $10 in October, c2 $3."""
    from llmcost.ingest import ingest_paths

    def r(rid: str, minute: int, model: str, n_in: int, n_out: int, user: str, feature: str, **kw: Any) -> dict[str, Any]:  # fmt: skip
        return {"request_id": rid, "timestamp": f"2026-10-02T10:{minute:02d}:00Z", "provider": "test",
                "model": model, "input_tokens": n_in, "output_tokens": n_out, "user_id": user,
                "customer_id": "c" + user[1:], "feature": feature, **kw}  # fmt: skip

    log = [
        r("a", 1, "lc-alpha", 1000, 500, "u1", "chat", task_id="t", step=1, latency_ms=100),
        r("b", 2, "lc-alpha", 3000, 0, "u1", "chat", task_id="t", step=2, status="error", latency_ms=300),
        r("c", 3, "lc-alpha", 2000, 0, "u2", "search", batch=True),
        r("d", 4, "lc-mystery", 500, 0, "u2", "search"),
    ]  # fmt: skip
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(x) + "\n" for x in log))
    (tmp_path / "rev.csv").write_text(
        "customer_id,month,revenue_usd\nc1,2026-10,10\nc2,2026-10,3\n"
    )
    (tmp_path / "prices.toml").write_text(PRICES)
    ingest_paths(con, [str(tmp_path / "log.jsonl"), str(tmp_path / "rev.csv")])
    prices = pricing.load([tmp_path / "prices.toml"])
    definitions.install(con, prices, Window(), ["feature"])
    rows = {r["group_1"]: r for r in definition(con, "report_rows")}
    chat, search = rows["chat"], rows["search"]
    assert chat["cost_usd"] == Decimal("0.0018") and search["cost_usd"] == Decimal("0.0003")
    assert chat["requests"] == 2 and chat["tasks"] == 1 and search["tasks"] == 2
    assert search["unpriced"] == 1 and search["cost_per_request_usd"] == pytest.approx(0.0003)
    assert chat["share_pct"] == pytest.approx(0.0018 / 0.0021 * 100)
    assert chat["latency_p50_ms"] == pytest.approx(200)  # 100 and 300
    # revenue by requests: c1's $10 all to chat; c2's $3 over c and d, both search
    assert chat["revenue_usd"] == pytest.approx(10) and search["revenue_usd"] == pytest.approx(3)
    assert chat["margin_usd"] == pytest.approx(10 - 0.0018)
    (t,) = definition(con, "period_totals")
    assert (t["requests"], t["priced"], t["unpriced"], t["tasks"]) == (4, 3, 1, 3)
    assert t["cost_usd"] == Decimal("0.0021") and t["revenue_usd"] == pytest.approx(13)
    task = {r["feature"]: r for r in definition(con, "task_metrics")}
    # t: 2 steps, last one failed; c and d succeed alone: 2 of 3 tasks successful
    assert task["(all)"]["tasks"] == 3 and task["(all)"]["successful"] == 2
    assert task["chat"]["successful"] == 0 and task["chat"]["context_growth_ratio"] == 3.0
    assert task["chat"]["context_growth_tokens_per_step"] == 2000.0
    assert task["(all)"]["cost_per_successful_task_usd"] == pytest.approx(0.0021 / 2)
    (d,) = definition(con, "user_distribution")
    # u1 0.0018, u2 0.0003: the top 1 % is u1 alone; sorted ascending, i = 1, 2 and n = 2:
    # gini = ((2 - 2 - 1) 0.0003 + (4 - 2 - 1) 0.0018) / (2 x 0.0021) = 0.0015 / 0.0042
    assert d["users"] == 2 and d["top_1_pct_share"] == pytest.approx(0.0018 / 0.0021)
    assert d["gini"] == pytest.approx(0.0015 / 0.0042)


def _two_step_task(con: Any, tmp_path: Path) -> pricing.PriceTable:
    """Task t: step 1 logs no feature, step 2 logs feature chat (lc-alpha, $0.30 in per 1M in
    October: 1000 in = 0.0003 each)."""
    from llmcost.ingest import ingest_paths

    log = [
        {"request_id": f"s{i}", "timestamp": f"2026-10-02T10:0{i}:00Z", "provider": "test",
         "model": "lc-alpha", "input_tokens": 1000, "output_tokens": 0, "user_id": "u1",
         "task_id": "t", "step": i, **({"feature": "chat"} if i == 2 else {})}
        for i in (1, 2)
    ]  # fmt: skip
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(x) + "\n" for x in log))
    (tmp_path / "prices.toml").write_text(PRICES)
    ingest_paths(con, [str(tmp_path / "log.jsonl")])
    return pricing.load([tmp_path / "prices.toml"])


def test_a_task_s_feature_is_that_of_its_first_request_naming_one(con: Any, tmp_path: Path) -> None:
    prices = _two_step_task(con, tmp_path)
    october = Window(datetime(2026, 10, 1), datetime(2026, 11, 1))
    definitions.install(con, prices, october)
    ref = {r["feature"]: r["tasks"] for r in definition(con, "task_metrics")}
    assert ref == {"(all)": 1, "chat": 1}  # the first request has no feature, the second has
    doc = metrics.report(con, prices, by=[], window=october).to_json()
    assert {r["feature"]: r["tasks"] for r in doc["tasks"]} == ref


def test_every_definition_file_says_what_it_defines_and_its_units() -> None:
    from importlib import resources

    files = {p.name for p in resources.files("llmcost").joinpath("sql").iterdir()}
    assert files == {f"{name}.sql" for name in definitions.DEFINITIONS}
    for name in definitions.DEFINITIONS:
        sql = definitions.text(name, ["feature"])
        header = sql.split("\nSELECT")[0].split("\nWITH")[0]
        assert header.startswith(f"-- {name}: "), name
        assert "Units:" in header, name
        assert "{" not in sql, name  # every placeholder filled in


# ---------------------------------------------------------------- the same files on Spark

# One case: a --by report installs every definition (report_rows among them); a window that cuts
# months prorates revenue. Spark is slow to start and to run each cached view.
SPARK_CASES = [(["feature", "month"], Window(datetime(2026, 9, 10), datetime(2026, 11, 5, 12)))]


@pytest.fixture(scope="module")
def spark_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, pricing.PriceTable]]:  # fmt: skip
    """A random store (seed 7), its DuckDB connection and the same data as a lake on Spark."""
    request.getfixturevalue("spark_session")
    from llmcost import lake
    from llmcost.ingest import ingest_paths
    from llmcost.spark import connect as spark_connect
    from llmcost.store import connect

    base = tmp_path_factory.mktemp("definitions-spark")
    records, revenue = _store_records(7)
    (base / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (base / "revenue.csv").write_text(revenue)
    (base / "prices.toml").write_text(PRICES)
    con = connect(base / "db.duckdb")
    ingest_paths(con, [str(base / "log.jsonl"), str(base / "revenue.csv")])
    prices = pricing.load([base / "prices.toml"])
    lake.export(con, prices, str(base / "lake"))
    spark = spark_connect(str(base / "lake"), "local[2]")
    yield con, spark, prices
    spark.close()
    con.close()


def _exact(value: Any) -> Any:
    """A value both engines give exactly, as one type: integers and DECIMALs as Decimal."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, Decimal)):
        return Decimal(value).normalize() if value else Decimal(0)
    return value


def _split(row: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, float]]:
    """A row's exact values (its key: every column but the DOUBLEs) and its DOUBLEs."""
    doubles = {k: v for k, v in row.items() if isinstance(v, float)}
    exact = tuple((k, _exact(v)) for k, v in sorted(row.items()) if k not in doubles)
    return exact, doubles


@pytest.mark.parametrize(("by", "window"), SPARK_CASES, ids=["by feature,month"])
def test_the_same_files_on_spark_give_the_same_numbers(
    spark_store: Any, by: list[str], window: Window
) -> None:
    con, spark, prices = spark_store
    assert definitions.install(spark, prices, window, by) == definitions.install(
        con, prices, window, by
    )
    for name in definitions.DEFINITIONS:
        if name == "report_rows" and not by:
            continue
        duck = sorted((_split(r) for r in definition(con, name)), key=lambda x: repr(x[0]))
        on_spark = sorted((_split(r) for r in definition(spark, name)), key=lambda x: repr(x[0]))
        assert len(on_spark) == len(duck), name
        assert duck, name  # every definition has rows here
        assert definitions.frame(spark, name).height == len(duck), name
        for (key, doubles), (s_key, s_doubles) in zip(duck, on_spark, strict=True):
            assert s_key == key, name
            assert set(s_doubles) <= set(doubles) | {k for k, _ in key}, name
            for field, value in doubles.items():
                same(s_doubles.get(field), value, f"spark {name} {key}.{field}")


def test_an_empty_store_gives_empty_definitions(con: Any) -> None:
    prices = pricing.load()
    definitions.install(con, prices, Window())
    (t,) = definition(con, "period_totals")
    assert (t["requests"], t["cost_usd"], t["revenue_usd"], t["margin_usd"]) == (
        0,
        None,
        None,
        None,
    )
    assert definition(con, "months") == [] and definition(con, "customers") == []
    assert [r["tasks"] for r in definition(con, "task_metrics")] == [0]  # the (all) row
    assert definitions.frame(con, "user_costs").height == 0


@pytest.mark.parametrize("allocate", ["cost", "equal"])
@pytest.mark.parametrize("window", ["all", "part"])
@pytest.mark.parametrize("by", [["feature"], ["user"], ["feature", "month"]], ids=",".join)
def test_the_other_allocations_equal_the_definitions(
    store: Any, by: list[str], window: str, allocate: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    con, prices = store
    docs = fast_reports(con, prices, monkeypatch, by=by, window=WINDOWS[window], allocate=allocate)
    definitions.install(con, prices, WINDOWS[window], by, allocate)
    keys = definitions.group_columns(by)
    ref = {tuple(month_text(r[k]) for k in keys): r for r in definition(con, "report_rows")}
    for how, doc in docs.items():
        where = f"{how} --by {','.join(by)} --allocate {allocate} {window}"
        assert doc["allocation"]["rule"] == allocate
        fast = {tuple(r[b] for b in by): r for r in doc["rows"]}
        assert set(fast) == set(ref), where
        for key, row in fast.items():
            same_fields(row, ref[key], ["requests", "cost_usd", *MARGIN_FIELDS], f"{where} {key}")
