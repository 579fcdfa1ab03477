"""What the HTML report shows: its own small queries over the `priced` view (time series, margins,
distribution, model mix, cache rates) and a template context built defensively from the report's
JSON document. A key that is absent from the document makes its section say "not available".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from llmcost.documents import Result, Table
from llmcost.render import fmt_value, fmt_window, jsonable

TOP_FEATURES = 8  # more colours than this are unreadable; the rest is folded into "other"
HIST_BINS = 30


@dataclass
class HtmlReport:
    """A report result plus what only the HTML needs; renders like the result in every other format."""

    base: Result
    extras: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**self.base.to_json(), **self.extras}

    def tables(self) -> list[Table]:
        return self.base.tables()

    def headline(self) -> list[str]:
        return self.base.headline()


def with_series(
    result: Result, con: Any, window: Any, settings: Any = None, prices: Any = None
) -> HtmlReport:
    """Attach the chart series (the `priced` view must be installed on `con`, as metrics.report does)."""
    from llmcost.report import charts

    charts.warm_up()  # overlaps vl-convert's start-up with the queries below
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
    return HtmlReport(result, extras)


def bridge(con: Any, prices: Any, window: Any) -> dict[str, Any] | None:
    """The cost bridge (llmcost explain) of the window from the previous one; when that one has no priced
    request, of the window's last calendar month from the month before."""
    from llmcost import explain
    from llmcost.errors import LlmcostError
    from llmcost.metrics import Window, _add_months, _month_start

    if window.since is None or window.until is None or window.since >= window.until:
        return None
    last = con.execute(
        "SELECT max(ts) FROM requests WHERE ts >= ? AND ts < ?", [window.since, window.until]
    ).fetchone()[0]
    if last is None:
        return None
    start = max(_month_start(last), window.since)
    month = Window(start, min(_add_months(_month_start(last), 1), window.until))
    for w in (window, month):
        try:
            doc = explain.explain(con, prices, window=w, compare_to="previous").to_json()
        except LlmcostError:
            continue
        t = doc["totals"]
        if t["previous_requests"] and t["current_requests"]:
            return doc
    return None


def _report_window(result: Result, window: Any) -> Any:
    """The window the report itself used (it may have filled in open ends), so charts and headline agree."""
    from datetime import datetime

    from llmcost.metrics import Window, parse_when

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
       count(*) AS n, count(*) FILTER (WHERE {priced}) AS priced_n,
       sum({u}) AS u, count({u}) AS nu, sum({cost}) AS cx, count({cost}) AS nx,
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
                priced="priced", u="u", cost="cost_x", source="lc_rep", where="NOT prev"
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
        return _series(con)
    finally:
        con.execute("DROP TABLE IF EXISTS lc_html")


def _cost() -> str:
    from llmcost.metrics import F_SUM_COST

    return F_SUM_COST


def _series(con: Any) -> dict[str, Any]:
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
        con, where, params, "coalesce(feature, '(none)')", "feature", "lc_html"
    )
    out["customers"] = margins(con, where, params, "customer_id", "customer", "lc_html")
    out["distribution"] = _distribution(con, where, params)
    out["models"] = [
        {"model": m, "tier": t or "unpriced", "requests": n, "cost_usd": _f(c)}
        for m, t, n, c in con.execute(
            f"""SELECT model, any_value(tier), sum(n), {cost} AS c FROM lc_html WHERE {where}
                GROUP BY model ORDER BY c DESC NULLS LAST, model""",
            params,
        ).fetchall()
    ]
    cache_rows = con.execute(
        f"""SELECT date_trunc('week', day) AS b, sum(cache_read_tokens), sum(cache_write_t),
                   sum(input_tokens), sum(hits), sum(n)
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


def _has_revenue(con: Any) -> bool:
    return bool(con.execute("SELECT count(*) FROM revenue").fetchone()[0])


def margins(
    con: Any, where: str, params: list[Any], dim: str, name: str, source: str = "priced"
) -> list[dict[str, Any]]:
    """Cost and revenue per group. Each customer-month's revenue is allocated to the groups in
    proportion to that customer's requests in the month (SPEC §6 default rule); only
    customer-months with requests in the window carry revenue into it."""
    # lc_html holds per-day partial sums; any other source (the `priced` view) one row per request.
    day, n, cost = (
        ("day", "sum(n)", _cost()) if source == "lc_html" else ("ts", "count(*)", "sum(cost_usd)")
    )
    rows = con.execute(
        f"""WITH req AS (SELECT {dim} AS g, customer_id, CAST(date_trunc('month', {day}) AS DATE) AS month,
                                {n} AS n, {cost} AS cost
                         FROM {source} WHERE {where} GROUP BY ALL),
                 cm AS (SELECT customer_id, month, sum(n) AS n FROM req GROUP BY ALL),
                 rev AS (SELECT customer_id, month, sum(revenue_usd) AS r FROM revenue GROUP BY ALL)
            SELECT req.g, sum(req.n), sum(req.cost),
                   sum(CAST(rev.r AS DOUBLE) * req.n / cm.n) AS revenue
            FROM req JOIN cm USING (customer_id, month) LEFT JOIN rev USING (customer_id, month)
            GROUP BY req.g ORDER BY sum(req.cost) DESC NULLS LAST, req.g""",
        params,
    ).fetchall()
    out = []
    for g, n, cost, revenue in rows:
        c, r = _f(cost), _f(revenue)
        margin = (r - (c or 0.0)) if r is not None else None
        pct = (margin / r * 100.0) if margin is not None and r else None
        out.append(
            {
                name: g,
                "requests": n,
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
    totals = {str(r["name"]): jsonable(r) for r in rows}
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


# ---------------------------------------------------------------- template context


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return doc


def usd(value: Any) -> str:
    return fmt_value(value, "usd")


def pct(value: Any) -> str:
    return fmt_value(value, "pct")


def _when(value: Any) -> str:
    """generated_at as people read it: 2026-11-22 10:00 UTC."""
    if not value:
        return ""
    text = str(value).replace("T", " ").replace("Z", "")
    return text[:16] + " UTC" if len(text) >= 16 else text


def build_context(doc: dict[str, Any], title: str) -> dict[str, Any]:
    """Everything the template shows, as plain strings and lists; charts as sanitised SVG."""
    from llmcost.report import charts

    doc = jsonable(doc)
    s = doc.get("series") or {}
    kpis, previous_label = _kpis(doc)

    cov = doc.get("coverage") or {}
    coverage = None
    if cov:
        n, priced = cov.get("requests") or 0, cov.get("priced") or 0
        coverage = {
            "line": f"{priced:,} of {n:,} requests priced ({(priced / n * 100) if n else 100:.2f}%)",
            "unpriced": cov.get("unpriced") or 0,
            "models": [str(m) for m in cov.get("unpriced_models") or []],
        }

    # every section the template knows, None until there is something to show
    sections: dict[str, Any] = dict.fromkeys(
        ("time", "features", "under_water", "distribution", "models", "cache", "explain")
    )
    sections["explain"] = _explain_section(doc.get("explain"))
    empty = not s or s.get("empty")
    if not empty and s.get("cost_over_time"):
        sections["time"] = {"svg": charts.to_svg(charts.cost_over_time(s["cost_over_time"], s.get("bucket", "day"))),
                            "bucket": s.get("bucket", "day")}  # fmt: skip
    feats = s.get("features") or []
    if feats:
        with_rev = [f for f in feats if f.get("margin_pct") is not None]
        sections["features"] = {
            "rows": [_money_row(f, "feature") for f in feats],
            "svg": charts.to_svg(charts.margin_by_feature(with_rev)) if with_rev else None,
        }
    custs = s.get("customers") or []
    if custs:
        under = sorted((c for c in custs if c.get("margin_usd") is not None and c["margin_usd"] < 0),
                       key=lambda c: c["margin_usd"])  # fmt: skip
        sections["under_water"] = {
            "rows": [_money_row(c, "customer") for c in under[:20]],
            "count": len(under),
            "no_revenue": sum(1 for c in custs if c.get("revenue_usd") is None),
            "revenue_known": any(c.get("revenue_usd") is not None for c in custs),
        }
    dist = s.get("distribution") or {}
    doc_dist = _get(doc, "distribution", "cost_per_user_month_usd") or {}
    if not isinstance(doc_dist, dict):
        doc_dist = {}
    if any(isinstance(v, (int, float)) for v in [*doc_dist.values(), *dist.values()]):
        p = {
            k: doc_dist.get(k) if doc_dist.get(k) is not None else dist.get(k)
            for k in ("p50", "p90", "p99")
        }
        marks = [{"value": v, "label": f"{k.upper()} {usd(v)}"} for k, v in p.items() if v]
        top = _get(doc, "distribution", "top_share")
        top = (
            {str(k): v for k, v in top.items() if isinstance(v, (int, float))}
            if isinstance(top, dict)
            else None
        )
        curve = dist.get("top_share_curve") or []
        share_marks = []
        for k in (1, 10):
            pt = next((c for c in curve if c["top_pct"] == k), None)
            if pt:
                share_marks.append({**pt, "label": f"top {k}%: {pt['share_pct']:.1f}% of cost"})
        sections["distribution"] = {
            "percentiles": [{"name": k.upper(), "value": usd(v)} for k, v in p.items()],
            "user_months": dist.get("user_months"),
            "zero": dist.get("zero_cost_user_months"),
            "top_share": top
            or {f"top_{m['top_pct']:.0f}pct": m["share_pct"] / 100 for m in share_marks},
            "svg": charts.to_svg(charts.user_distribution(dist["bins"], marks))
            if dist.get("bins")
            else None,
            "curve_svg": charts.to_svg(charts.top_share_curve(curve, share_marks))
            if len(curve) > 1
            else None,
        }
    models = s.get("models") or []
    if models:
        total = sum(m["cost_usd"] or 0 for m in models)
        sections["models"] = {
            "rows": [
                {
                    "model": m["model"],
                    "tier": m["tier"],
                    "requests": fmt_value(m["requests"], "int"),
                    "cost": usd(m["cost_usd"]),
                    "share": pct(100 * m["cost_usd"] / total)
                    if total and m["cost_usd"] is not None
                    else "—",
                }
                for m in models
            ],
            "svg": charts.to_svg(
                charts.model_mix([m for m in models if m["cost_usd"] is not None][:20])
            ),
        }
    cache = s.get("cache") or []
    if cache:
        pts = []
        for c in cache:
            for key, name in (("cache_read_pct", "prompt-cache reads / input tokens"),
                              ("semantic_hit_pct", "semantic cache hits / requests")):  # fmt: skip
                if c.get(key) is not None:
                    pts.append({"bucket": c["bucket"], "series": name, "rate_pct": c[key]})
        sections["cache"] = {
            "rows": [
                {
                    "week": c["bucket"],
                    "read": pct(c["cache_read_pct"]),
                    "write": pct(c["cache_write_pct"]),
                    "hits": pct(c["semantic_hit_pct"]),
                }
                for c in cache
            ],
            "svg": charts.to_svg(charts.cache_rates(pts)) if pts else None,
        }

    by = [str(b) for b in doc.get("by") or []]
    main_rows = doc.get("rows") or []
    main_cols = by + [k for k in ("requests", "cost_usd", "share_pct", "cost_per_request_usd", "revenue_usd", "margin_pct")
                      if any(k in r for r in main_rows)]  # fmt: skip
    kinds = {"requests": "int", "cost_usd": "usd", "share_pct": "pct", "cost_per_request_usd": "usd",
             "revenue_usd": "usd", "margin_pct": "pct"}  # fmt: skip
    window = doc.get("window") or {}
    pricing = doc.get("pricing") or {}
    return {
        "title": title,
        "generated_at": _when(doc.get("generated_at")),
        "window": fmt_window(window.get("since"), window.get("until")),
        "kpis": kpis,
        "has_previous": previous_label is not None,
        "previous_label": previous_label,
        "coverage": coverage,
        "sections": sections,
        "series_missing": empty,
        # the chart queries take the window only; say so when the report was filtered
        "filtered": bool(doc.get("filters")),
        "main": {
            "by": by,
            "columns": main_cols,
            "rows": [
                [fmt_value(r.get(c), kinds.get(c, "text")) for c in main_cols]
                for r in main_rows[:500]
            ],
            "truncated": max(0, len(main_rows) - 500),
        },
        "scenarios": _scenarios(doc.get("scenarios")),
        "pricing": {
            "files": [str(f) for f in pricing.get("files") or []],
            "sha256": str(pricing.get("sha256") or ""),
        },
    }


def _explain_section(ex: Any) -> dict[str, Any] | None:
    """The waterfall of `llmcost explain`: previous cost, each driver that moved, this period's cost."""
    from llmcost.report import charts

    if not ex:
        return None
    t = ex["totals"]
    moved = [d for d in ex["drivers"] if d["driver"] != "total" and d["usd"]]
    steps = [{"label": "previous period", "usd": t["previous_cost_usd"], "kind": "total"}]
    steps += [
        {
            "label": d["label"].split(" (")[0],
            "usd": d["usd"],
            "kind": "up" if d["usd"] > 0 else "down",
        }
        for d in moved
    ]
    steps.append({"label": "this period", "usd": t["current_cost_usd"], "kind": "total"})
    p, c = ex["compare_to"], ex["period"]
    return {
        "svg": charts.to_svg(charts.waterfall(steps)),
        "periods": f"{p['since']} .. {p['until']} → {c['since']} .. {c['until']}",
        "change": usd(t["change_usd"]),
        "rows": [{"label": d["label"], "usd": usd(d["usd"]), "detail": d["detail"]} for d in moved],
    }


KPI_NAMES = (
    "total_cost_usd", "revenue_usd", "gross_margin_pct", "requests", "active_users",
    "cost_per_active_user_usd", "cost_per_successful_task_usd", "prompt_cache_hit_rate_pct",
)  # fmt: skip


def _kpi(label: str, unit: str, value: Any, before: Any, lower_is_better: bool) -> dict[str, Any]:
    delta = None
    if isinstance(value, (int, float)) and isinstance(before, (int, float)):
        delta = (
            (value - before)
            if unit == "pct"
            else ((value - before) / before * 100 if before else None)
        )
    return {
        "label": label,
        "value": fmt_value(value, unit) if value is not None else "not available",
        "previous": fmt_value(before, unit) if before is not None else None,
        "delta": (f"{delta:+.1f} pt" if unit == "pct" else f"{delta:+.1f}%")
        if delta is not None
        else None,
        "bad": delta is not None and delta != 0 and ((delta > 0) == lower_is_better),
    }


def _kpis(doc: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """Headline numbers with the previous period beside them: the report's summary metrics when it
    carries them, else its totals."""
    metrics = _get(doc, "summary", "metrics")
    prev_window = doc.get("previous_window")
    if isinstance(metrics, list) and metrics:
        by_name = {m.get("name"): m for m in metrics if isinstance(m, dict)}
        chosen = [by_name[n] for n in KPI_NAMES if n in by_name] or list(by_name.values())
        kpis = [
            _kpi(str(m.get("label") or m.get("name")), str(m.get("unit") or "num"), m.get("value"), m.get("previous"),
                 "cost" in str(m.get("name")))
            for m in chosen
        ]  # fmt: skip
        has_prev = any(m.get("previous") is not None for m in chosen)
        label = None
        if has_prev and isinstance(prev_window, dict):
            label = fmt_window(prev_window.get("since"), prev_window.get("until"))
        elif has_prev:
            label = "the previous period"
        return kpis, label
    totals = doc.get("totals") or {}
    fields = (
        ("cost_usd", "inference cost", "usd"), ("revenue_usd", "revenue", "usd"), ("margin_pct", "gross margin", "pct"),
        ("requests", "requests", "int"), ("users", "users", "int"), ("customers", "customers", "int"),
    )  # fmt: skip
    return [
        _kpi(label, unit, totals.get(key), None, key == "cost_usd") for key, label, unit in fields
    ], None


def _scenarios(sc: Any) -> dict[str, Any] | None:
    if not isinstance(sc, dict):
        return None
    defs = []
    for d in sc.get("definitions") or []:
        defs.append({
            "name": str(d.get("name")), "levers": d.get("levers") or {}, "words": [str(w) for w in d.get("words") or []],
            "baseline": usd(d.get("baseline_cost_usd")), "scenario": usd(d.get("scenario_cost_usd")),
            "savings": usd(d.get("savings_usd")), "savings_pct": pct(d.get("savings_pct")),
        })  # fmt: skip
    return {
        "definitions": defs,
        "totals_available": bool(sc.get("totals_available")),
        "error": sc.get("error"),
    }


def _money_row(row: dict[str, Any], key: str) -> dict[str, Any]:
    return {
        "name": row.get(key) if row.get(key) is not None else "(none)",
        "requests": fmt_value(row.get("requests"), "int"),
        "cost": usd(row.get("cost_usd")),
        "revenue": usd(row.get("revenue_usd"))
        if row.get("revenue_usd") is not None
        else "no revenue",
        "margin": usd(row.get("margin_usd")),
        "margin_pct": pct(row.get("margin_pct")),
        "negative": (row.get("margin_usd") or 0) < 0,
    }
