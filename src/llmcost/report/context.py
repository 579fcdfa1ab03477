"""What the HTML report shows: a template context built defensively from finished documents (the
report's JSON with the chart series, bridge and scenarios that llmcost.series computes). It runs
no query. A key that is absent from the document makes its section say "not available".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmcost.documents import Result, Table
from llmcost.values import fmt_value, fmt_window, jsonable


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
