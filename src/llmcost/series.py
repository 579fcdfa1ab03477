"""The HTML report's own analytics: the chart series (time series, margins, distribution, model
mix, cache rates), the cost bridge and the configured scenarios' totals, as plain data that
report/context.py turns into the template's context. Revenue by the one rule (llmcost.revenue).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from llmcost import revenue as revenue_rule
from llmcost.query import Window, add_months, month_start, parse_when

TOP_FEATURES = 8  # more colours than this are unreadable; the rest is folded into "other"
HIST_BINS = 30
REV = "lc_html_rev"  # the window's revenue (llmcost.revenue)


def html_extras(
    result: Any, con: Any, window: Any, settings: Any = None, prices: Any = None
) -> dict[str, Any]:
    """What the HTML report adds to a report RESULT (a metrics.ReportResult): the chart series, the
    configured scenarios and the cost bridge. The `priced` view must be installed on `con`, as
    metrics.report does."""
    window = _report_window(result, window)
    # The report's own rows serve the charts when they are the window's requests, unfiltered.
    doc = result.to_json()
    rows_sql = getattr(result, "rows_sql", None)
    if rows_sql is not None:  # a report read from its rollups has not selected its rows yet
        rows_sql()
    from_report = isinstance(doc, dict) and doc.get("filters") == [] and _has_table(con, "lc_rep")
    extras: dict[str, Any] = {"series": series(con, window, from_report=from_report)}
    if settings is not None and prices is not None:
        extras["scenarios"] = scenarios(settings, con, prices, window)
        if not doc.get("by") and not doc.get("filters"):
            extras["explain"] = bridge(con, prices, window)
    return extras


def bridge(con: Any, prices: Any, window: Any) -> dict[str, Any] | None:
    """The cost bridge (llmcost explain) of the window from the previous one; when that one has no priced
    request, of the window's last calendar month from the month before."""
    from llmcost import explain
    from llmcost.errors import LlmcostError

    if window.since is None or window.until is None or window.since >= window.until:
        return None
    last = con.execute(
        "SELECT max(ts) FROM requests WHERE ts >= ? AND ts < ?", [window.since, window.until]
    ).fetchone()[0]
    if last is None:
        return None
    start = max(month_start(last), window.since)
    month = Window(start, min(add_months(month_start(last), 1), window.until))
    for w in (window, month):
        try:
            doc = explain.explain(con, prices, window=w, compare_to="previous").to_json()
        except LlmcostError:
            continue
        t = doc["totals"]
        if t["previous_requests"] and t["current_requests"]:
            return doc
    return None


def _report_window(result: Any, window: Any) -> Any:
    """The window the report itself used (it may have filled in open ends), so charts and headline agree."""
    from datetime import datetime

    w = result.to_json().get("window") or {}
    ends = []
    for key, given in (("since", window.since), ("until", window.until)):
        value = w.get(key)
        if isinstance(value, str):
            value = parse_when(value)
        ends.append(value if isinstance(value, datetime) else given)
    return Window(ends[0], ends[1])


# ---------------------------------------------------------------- queries


def _f(value: Any) -> float | None:
    if value is None:
        return None
    return float(value) if isinstance(value, (Decimal, int, float)) else None


# lc_html: the window's requests summed per day, feature, customer, user and model (a few thousand
# rows however many requests), with the cost as partial sums (metrics.F_SUM_COST puts them together
# into the same DECIMAL that sum(cost_usd) gives). Every chart query reads it.
HTML_ROWS = """
CREATE OR REPLACE TEMP TABLE lc_html AS
SELECT date_trunc('day', ts) AS day, min(ts) AS ts_lo, max(ts) AS ts_hi, feature, customer_id, user_id, model, tier,
       count(*) AS n_requests, count(*) FILTER (WHERE {priced}) AS priced_n,
       sum({u}) AS cost_units, count({u}) AS n_cost_units, sum({cost}) AS cost_exact, count({cost}) AS n_cost_exact,
       sum(input_tokens) AS input_tokens, sum(cache_read_tokens) AS cache_read_tokens,
       sum(cache_write_tokens + cache_write_1h_tokens) AS cache_write_t, count(*) FILTER (WHERE cache_hit) AS hits
FROM {source} WHERE {where} GROUP BY ALL
"""


def series(con: Any, window: Any, *, from_report: bool = False) -> dict[str, Any]:
    """The chart series. With `from_report`, from the rows metrics.report just selected (lc_rep: priced
    once, costs as exact units) instead of pricing every request of the window again."""
    if from_report:
        con.execute(
            HTML_ROWS.format(
                priced="priced",
                u="cost_units",
                cost="cost_exact",
                source="lc_rep",
                where="NOT prev",
            )
        )
    else:
        w, p = window.sql("ts")
        con.execute(
            HTML_ROWS.format(priced="price_model IS NOT NULL", u="CAST(NULL AS BIGINT)", cost="cost_usd",
                             source="priced", where=w),
            p,
        )  # fmt: skip
    try:
        return _series(con, window)
    finally:
        con.execute("DROP TABLE IF EXISTS lc_html")


def _cost() -> str:
    from llmcost.metrics import F_SUM_COST

    return F_SUM_COST


def _series(con: Any, window: Any) -> dict[str, Any]:
    where = "TRUE"  # lc_html holds the window already
    params: list[Any] = []
    cost = _cost()
    out: dict[str, Any] = {}
    span = con.execute(
        f"SELECT min(ts_lo), max(ts_hi) FROM lc_html WHERE {where}", params
    ).fetchone()
    if span is None or span[0] is None:
        return {"empty": True}
    days = (span[1] - span[0]).days
    bucket = "day" if days <= 120 else "week"
    out["bucket"] = bucket

    # cost over time by feature, the biggest features first, the tail folded into "other"
    rows = con.execute(
        f"""SELECT date_trunc('{bucket}', day) AS b, coalesce(feature, '(none)') AS f, {cost} AS c
            FROM lc_html WHERE {where} GROUP BY ALL""",
        params,
    ).fetchall()
    totals: dict[str, float] = {}
    for _, f, c in rows:
        totals[f] = totals.get(f, 0.0) + (_f(c) or 0.0)
    ranked = sorted(totals, key=lambda k: (-totals[k], k))
    keep = set(ranked[:TOP_FEATURES]) if len(ranked) > TOP_FEATURES + 1 else set(ranked)
    order = {f: i for i, f in enumerate([f for f in ranked if f in keep] + ["other"])}
    merged: dict[tuple[str, str], float] = {}
    for b, f, c in rows:
        name = f if f in keep else "other"
        key = (b.strftime("%Y-%m-%d"), name)
        merged[key] = merged.get(key, 0.0) + (_f(c) or 0.0)
    out["cost_over_time"] = [
        {"bucket": b, "feature": f, "cost_usd": c, "order": order[f]}
        for (b, f), c in sorted(merged.items())
    ]

    out["features"] = margins(
        con, window, where, params, "coalesce(feature, '(none)')", "feature", "lc_html"
    )
    out["customers"] = margins(con, window, where, params, "customer_id", "customer", "lc_html")
    out["distribution"] = _distribution(con, where, params)
    out["models"] = [
        {"model": m, "tier": t or "unpriced", "requests": n, "cost_usd": _f(c)}
        for m, t, n, c in con.execute(
            f"""SELECT model, any_value(tier), sum(n_requests), {cost} AS c FROM lc_html WHERE {where}
                GROUP BY model ORDER BY c DESC NULLS LAST, model""",
            params,
        ).fetchall()
    ]
    cache_rows = con.execute(
        f"""SELECT date_trunc('week', day) AS b, sum(cache_read_tokens), sum(cache_write_t),
                   sum(input_tokens), sum(hits), sum(n_requests)
            FROM lc_html WHERE {where} GROUP BY b ORDER BY b""",
        params,
    ).fetchall()
    out["cache"] = [
        {"bucket": b.strftime("%Y-%m-%d"), "cache_read_pct": 100.0 * cr / inp if inp else None,
         "cache_write_pct": 100.0 * cw / inp if inp else None, "semantic_hit_pct": 100.0 * hits / n if n else None}
        for b, cr, cw, inp, hits, n in cache_rows
    ]  # fmt: skip
    return out


def _has_table(con: Any, name: str) -> bool:
    found = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = ? AND temporary", [name]
    ).fetchone()
    return bool(found[0]) or bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND temporary", [name]
        ).fetchone()[0]
    )


def margins(
    con: Any,
    window: Any,
    where: str,
    params: list[Any],
    dim: str,
    name: str,
    source: str = "priced",
) -> list[dict[str, Any]]:
    """Cost and revenue per group of the WINDOW's requests in SOURCE. Revenue by the one rule
    (llmcost.revenue): each customer-month's revenue, by the share of the month inside the window,
    allocated to the groups in proportion to that customer's requests in the month (SPEC §6 default
    rule)."""
    # lc_html holds per-day partial sums; any other source (the `priced` view) one row per request.
    day, n, cost = (
        ("day", "sum(n_requests)", _cost())
        if source == "lc_html"
        else ("ts", "count(*)", "sum(cost_usd)")
    )
    rows = con.execute(
        f"""SELECT {dim} AS g, {n} AS n, {cost} AS cost FROM {source} WHERE {where}
            GROUP BY ALL ORDER BY 3 DESC NULLS LAST, 1""",
        params,
    ).fetchall()
    revenue: dict[Any, float | None] = {}
    win = revenue_rule.closed(con, window) if revenue_rule.loaded(con) else None
    if win is not None:
        revenue_rule.install(con, win, table=REV)
        revenue = revenue_rule.by_requests(
            con,
            f"""SELECT {dim} AS g, customer_id, CAST(date_trunc('month', {day}) AS DATE) AS month,
                       {n} AS n FROM {source} WHERE {where} GROUP BY ALL""",
            params,
            table=REV,
        )
    out = []
    for g, count, c_sum in rows:
        c, r = _f(c_sum), revenue.get(g)
        margin = (r - (c or 0.0)) if r is not None else None
        pct = (margin / r * 100.0) if margin is not None and r else None
        out.append(
            {
                name: g,
                "requests": count,
                "cost_usd": c,
                "revenue_usd": r,
                "margin_usd": margin,
                "margin_pct": pct,
            }
        )
    return out


def _distribution(con: Any, where: str, params: list[Any]) -> dict[str, Any]:
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE lc_user_months AS
            SELECT user_id, date_trunc('month', day) AS m, {_cost()} AS c FROM lc_html
            WHERE {where} AND user_id IS NOT NULL GROUP BY ALL HAVING sum(priced_n) > 0""",
        params,
    )
    try:
        return _user_distribution(con, where, params)
    finally:
        con.execute("DROP TABLE IF EXISTS lc_user_months")


def _user_distribution(con: Any, where: str, params: list[Any]) -> dict[str, Any]:
    base = "SELECT * FROM lc_user_months"
    q = con.execute(
        f"SELECT count(*), quantile_cont(c, [0.5, 0.9, 0.99]), min(c) FILTER (WHERE c > 0), max(c) FROM ({base})"
    ).fetchone()
    if not q or not q[0]:
        return {}
    n, quants, lo, hi = q
    out: dict[str, Any] = {
        "user_months": n,
        "p50": _f(quants[0]),
        "p90": _f(quants[1]),
        "p99": _f(quants[2]),
    }
    bins: list[dict[str, Any]] = []
    if lo is not None and hi is not None and float(hi) > 0:
        l0, l1 = math.log10(float(lo)), math.log10(float(hi))
        width = max((l1 - l0) / HIST_BINS, 1e-9)
        counts = con.execute(
            f"""SELECT least(CAST(floor((log10(CAST(c AS DOUBLE)) - ?) / ?) AS INTEGER), ?) AS k, count(*)
                FROM ({base}) WHERE c > 0 GROUP BY k ORDER BY k""",
            [l0, width, HIST_BINS - 1],
        ).fetchall()
        bins = [
            {"lo": 10 ** (l0 + k * width), "hi": 10 ** (l0 + (k + 1) * width), "n": cnt}
            for k, cnt in counts
        ]
    out["bins"] = bins
    out["zero_cost_user_months"] = con.execute(
        f"SELECT count(*) FROM ({base}) WHERE c = 0"
    ).fetchone()[0]
    # the top-share curve over users' totals in the window
    users = (
        con.execute(
            f"""SELECT list(c ORDER BY c DESC) FROM (SELECT {_cost()} AS c FROM lc_html
            WHERE {where} AND user_id IS NOT NULL GROUP BY user_id HAVING sum(priced_n) > 0)""",
            params,
        ).fetchone()[0]
        or []
    )
    costs = [float(c) for c in users]
    total = sum(costs)
    curve: list[dict[str, Any]] = [{"top_pct": 0.0, "share_pct": 0.0}]
    if total > 0:
        running, cum = 0.0, []
        for c in costs:
            running += c
            cum.append(running)
        for pct in [0.5, *range(1, 101)]:
            k = max(1, math.ceil(len(costs) * pct / 100))
            curve.append({"top_pct": float(pct), "share_pct": 100.0 * cum[k - 1] / total})
    out["top_share_curve"] = curve
    return out


def _in_words(name: str, raw: dict[str, Any]) -> list[str]:
    """A scenario as sentences (its description, scope and levers), not as Python values."""
    from llmcost import whatif
    from llmcost.errors import LlmcostError

    try:
        lines = whatif.describe(whatif.scenario_from_config(name, raw))
    except LlmcostError as exc:
        return [f"not valid: {exc}"]
    lines = [ln for ln in lines if ln != "quality and latency are not measured"]
    description = raw.get("description")
    return ([str(description)] if description else []) + lines


def scenarios(settings: Any, con: Any, prices: Any, window: Any) -> dict[str, Any]:
    """The [scenarios.NAME] tables of llmcost.toml, with their totals from llmcost.whatif."""
    raw = settings.raw if settings is not None else {}
    defs = raw.get("scenarios") or {}
    if not isinstance(defs, dict):
        return {"definitions": [], "totals_available": False}
    listed: list[dict[str, Any]] = [
        {"name": str(k), "levers": {str(a): b for a, b in v.items()}, "words": _in_words(str(k), v)}
        for k, v in defs.items()
        if isinstance(v, dict)
    ]
    out: dict[str, Any] = {"definitions": listed, "totals_available": False}
    if not listed:
        return out
    try:
        from llmcost import whatif

        rows = whatif.configured_totals(con, prices, raw, window=window)
    except Exception as exc:  # a broken scenario must not take the report down; say why instead
        out["error"] = str(exc)
        return out
    totals = {str(r["name"]): r for r in rows}
    for d in listed:
        t = totals.get(d["name"]) or {}
        d.update(
            {
                k: t.get(k)
                for k in ("baseline_cost_usd", "scenario_cost_usd", "savings_usd", "savings_pct")
            }
        )
    out["totals_available"] = True
    return out
