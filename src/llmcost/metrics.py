"""The P&L queries over priced requests. Named SQL beside the Python that fills it; no printing.

`lc_rep` holds the requests of the window (and, for the summary, of the previous window of equal
length) with only the columns the report needs and their cost as exact units (a view; a table with
--where). One scan sums them into `lc_fine` per month, user, customer, feature, model and group:
totals, user-months, allocation, months, models and customers read that small table; only the
percentiles and the task aggregates read the requests again. User text reaches SQL only as bound
parameters; field names come from whitelists. Formulas: docs/report.md; speed: docs/report-performance.md.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from llmcost import pricing
from llmcost import revenue as revenue_rule
from llmcost.documents import Column, Table, fetch_frame, frame_dicts, is_frame, preload_polars
from llmcost.errors import LlmcostError
from llmcost.query import (
    LAST_FULL_MONTH,
    MODEL_GROUP,
    SYNONYMS,
    TIME_DIMENSIONS,
    Filter,
    Window,
    add_months,
    check_attrs,
    dimension_sql,
    effective_window,
    install_names,
    month_start,
    now,
    parse_by,
    report_window,
    where_sql,
)
from llmcost.values import fmt_value, fmt_window

if TYPE_CHECKING:
    import polars as pl

SCHEMA = "llmcost.report/1"
ALLOCATIONS = ("requests", "cost", "equal")
QUANTILES = "[0.5, 0.9, 0.99]"
TOP_SHARES = (1, 5, 10, 20)  # percent of users

# ---------------------------------------------------------------- the result


def _fallback(con: Any, rollups: Rollups | None) -> tuple[int, list[str]]:
    """Priced requests of this period whose name and provider give no host, and those names."""
    if not con.execute("SELECT count(*) FROM lc_prices WHERE fallback").fetchone()[0]:
        return 0, []
    if rollups is not None:
        rollups.rows()  # lc_rep: the rollups do not keep a request's host
    rows = con.execute(
        "SELECT model, count(*) FROM lc_rep WHERE sel AND NOT prev AND fb GROUP BY model ORDER BY model"
    ).fetchall()
    return sum(int(n) for _, n in rows), [m for m, _ in rows]


@dataclass
class Coverage:
    requests: int
    priced: int
    unpriced: int
    unpriced_models: list[str]
    # requests whose emitter records no cached tokens (ingest.no_cache_counts)
    no_cache_counts: int = 0
    fallback: int = 0  # priced requests whose host is unknown: another host's price (SPEC §4)
    fallback_models: list[str] = field(default_factory=list)

    def line(self) -> str:
        share = (self.priced / self.requests * 100) if self.requests else 100.0
        text = f"coverage: {self.priced:,} of {self.requests:,} requests priced ({share:.2f}%)"
        if self.fallback:
            text += f"; {self.fallback:,} priced by fallback ({', '.join(self.fallback_models)})"
        if self.unpriced:
            text += f"; {self.unpriced:,} unpriced ({', '.join(self.unpriced_models)}), left out of every sum — see `llmcost prices check`"
        if self.no_cache_counts:
            text += f"; {self.no_cache_counts:,} without cached-token counts (their tracer does not record them: any cache reads priced as input)"
        return text


def _no_cache_counts(con: Any, win: Window, filters: list[Filter]) -> int:
    """Requests of the window (and filters) whose emitter records no cached-token counts."""
    if any(f.name == "tier" for f in filters):
        return 0  # the tier is the price table's: not a column of requests
    wsql, wparams = where_sql(filters)
    bounds = [(c, v) for c, v in (("ts >= ?", win.since), ("ts < ?", win.until)) if v is not None]
    sql = (
        "SELECT count(*) FROM requests WHERE source_kind = 'otel'"
        " AND json_extract_string(attrs, '$.cache_tokens_recorded') = 'false'"
        + "".join(f" AND {c}" for c, _ in bounds)
        + f" AND ({wsql})"
    )
    return int(con.execute(sql, [v for _, v in bounds] + wparams).fetchone()[0])


def _c(key: str, title: str = "", kind: str = "text") -> Column:
    return Column(key, title or key, kind)


# The terminal is 120 columns wide: cost and margin in one table, the per-request shape in a second.
ROW_COLUMNS = [
    _c("requests", "requests", "int"), _c("users", "users", "int"), _c("tasks", "tasks", "int"),
    _c("cost_usd", "cost", "usd"), _c("share_pct", "share", "pct"), _c("cost_per_request_usd", "cost/req", "usd"),
]  # fmt: skip
REVENUE_COLUMNS = [
    _c("revenue_usd", "revenue", "usd"),
    _c("margin_usd", "margin", "usd"),
    _c("margin_pct", "margin %", "pct"),
]
USAGE_COLUMNS = [
    _c("p50_request_usd", "req p50", "usd"), _c("p90_request_usd", "req p90", "usd"),
    _c("p99_request_usd", "req p99", "usd"), _c("output_input_ratio", "out/in tok", "ratio"),
    _c("latency_p50_ms", "lat p50 ms", "num"), _c("latency_p90_ms", "lat p90 ms", "num"),
    _c("cache_hit_pct", "sem. cache", "pct"), _c("unpriced", "unpriced", "int"),
]  # fmt: skip


@dataclass
class ReportResult:
    """Everything lives in `doc` (the SPEC §8 JSON); tables() and headline() are views of it, so every
    renderer — terminal, Markdown, CSV, Parquet, HTML — reads the same numbers."""

    doc: dict[str, Any]  # the document, its long lists of rows as polars DataFrames (document())
    by: list[str]
    rows: Any  # the --by rows: a polars DataFrame (a list of dicts for the break-even rows)
    coverage: Coverage
    extra_tables: list[Table] = field(default_factory=list)
    # Creates lc_rep (the report's requests, for the HTML charts) when the report did not need it.
    rows_sql: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The document as plain values (every frame a list of row dicts)."""
        from llmcost.documents import materialise

        out: dict[str, Any] = materialise(self.doc)
        return out

    def document(self) -> dict[str, Any]:
        """The document with its frames, for the writers (llmcost.render.json_document)."""
        return self.doc

    def headline(self) -> list[str]:
        d = self.doc
        t, w = d["totals"], d["window"]
        lines = [
            "window: " + ("the last full month, " if d.get("window_rule") == LAST_FULL_MONTH else "")
            + fmt_window(w["since"], w["until"])
            + (f"   (previous: {fmt_window(d['previous_window']['since'], d['previous_window']['until'])})"
               if d.get("previous_window") else "")
            + (f"   where {' and '.join(d['filters'])}" if d.get("filters") else ""),
            f"requests {t['requests']:,}   tasks {t['tasks']:,}   users {t['users']:,}   customers {t['customers']:,}",
            f"inference cost {fmt_value(t['cost_usd'], 'usd')}"
            + (f"   revenue {fmt_value(t['revenue_usd'], 'usd')}" if t.get("revenue_usd") is not None
               else "   revenue: none in this window" if (d.get("data") or {}).get("revenue_rows") else "   revenue: none loaded")
            + (f"   gross margin {fmt_value(t['margin_usd'], 'usd')} ({fmt_value(t['margin_pct'], 'pct')})" if t.get("margin_pct") is not None else ""),
        ]  # fmt: skip
        dist = d.get("distribution")
        if dist:
            cu, ct, ts = (
                dist["cost_per_user_month_usd"],
                dist["cost_per_task_usd"],
                dist["top_share"],
            )
            lines.append(
                "cost per user-month p50/p90/p99 "
                + "/".join(fmt_value(cu[k], "usd") for k in ("p50", "p90", "p99"))
            )
            lines.append(
                "cost per task p50/p90/p99 "
                + "/".join(fmt_value(ct[k], "usd") for k in ("p50", "p90", "p99"))
                + f"   top 1% users {fmt_value(_pct(ts['top_1pct']), 'pct')}, top 10% {fmt_value(_pct(ts['top_10pct']), 'pct')} of cost"
            )
        if t.get("revenue_usd") is not None:
            lines.append(
                f"revenue allocation to features and other groups: {d['allocation']['rule']} ({d['allocation']['text']})"
            )
            if d["allocation"].get("unallocated_usd"):
                lines.append(
                    f"revenue of customer-months without requests: {fmt_value(d['allocation']['unallocated_usd'], 'usd')}"
                    " (in the totals and per customer; no feature or other group gets it)"
                )
        rr = d.get("run_rate")
        if rr and rr["complete"]:
            lines.append(
                f"run rate: month {rr['month']} complete, cost {fmt_value(rr['month_to_date_usd'], 'usd')}"
            )
        elif rr:
            lines.append(
                f"run rate: {rr['month']} month-to-date {fmt_value(rr['month_to_date_usd'], 'usd')} over {rr['elapsed_days']:.1f} "
                f"of {rr['month_days']:.1f} days, projected month-end {fmt_value(rr['projected_month_usd'], 'usd')} "
                "(linear: month-to-date / elapsed x the month's length)"
            )
        lines.append(self.coverage.line())
        if not t["requests"]:
            lines.append(_no_requests(d))
        drift = d["coverage"].get("logged_cost")
        if drift and drift["requests"]:
            lines.append(
                f"logged vs computed cost ({drift['requests']:,} priced requests carry a logged cost): "
                f"logged {fmt_value(drift['logged_usd'], 'usd')}, computed {fmt_value(drift['computed_usd'], 'usd')}, "
                f"drift {fmt_value(drift['drift_usd'], 'usd')} ({fmt_value(drift['drift_pct'], 'pct')})"
            )
        lines.append(
            f"prices: {len(d['pricing']['files'])} files, sha256 {d['pricing']['sha256'][:12]}"
        )
        return lines

    def tables(self) -> list[Table]:
        d = self.doc
        has_rev = d["totals"].get("revenue_usd") is not None
        out: list[Table] = []
        if self.by:
            dims = [Column(name) for name in self.by]
            note = f"revenue allocated by {d['allocation']['rule']}" if has_rev else ""
            title = ", ".join(self.by)
            cols = dims + ROW_COLUMNS + (REVENUE_COLUMNS if has_rev else [])
            out.append(Table("cost by " + title, cols, self.rows, note=note))
            out.append(Table("request cost and usage by " + title, dims + USAGE_COLUMNS, self.rows))
        if "summary" in d:
            out += _summary_tables(d, has_rev)
        return [*out, *self.extra_tables]


def _no_requests(d: dict[str, Any]) -> str:
    """Why a window is empty, with the dates the data does cover."""
    data, w = d.get("data") or {}, d["window"]
    first, last = data.get("first_request"), data.get("last_request")
    if last is None:
        return "no requests in this window: load logs with `llmcost ingest PATH`"
    if w.get("since") is not None and w["since"] > last:
        return f"no requests in this window; the data ends {last:%Y-%m-%d}"
    if w.get("until") is not None and w["until"] <= first:
        return f"no requests in this window; the data starts {first:%Y-%m-%d}"
    where = " that match the filters" if d.get("filters") else ""
    return (
        f"no requests{where} in this window; the data runs from {first:%Y-%m-%d} to {last:%Y-%m-%d}"
    )


def _pct(x: Any) -> float | None:
    return None if x is None else float(x) * 100


def _summary_tables(d: dict[str, Any], has_rev: bool) -> list[Table]:
    s = d["summary"]
    metric_cols = [
        _c("label", "metric"), _c("value", "this period", "unit"), _c("previous", "previous", "unit"),
        _c("change", "change", "change"), _c("goal", "target"), _c("status", "status"),
    ]  # fmt: skip
    tables = [
        Table(
            "unit economics",
            metric_cols,
            s["metrics"],
            note="target: from the targets section of llmcost.toml; miss = outside it",
        )
    ]
    tables.append(
        Table(
            "per month",
            [
                _c("month"),
                _c("cost_usd", "cost", "usd"),
                _c("active_users", "users", "int"),
                _c("cost_per_active_user_usd", "cost/user", "usd"),
                _c("p50_user_usd", "user p50", "usd"),
                _c("p90_user_usd", "user p90", "usd"),
                _c("p99_user_usd", "user p99", "usd"),
                *(
                    [
                        _c("revenue_usd", "revenue", "usd"),
                        _c("margin_usd", "margin", "usd"),
                        _c("margin_pct", "margin %", "pct"),
                    ]
                    if has_rev
                    else []
                ),
            ],
            d["months"],
        )
    )
    feat_cols = [_c("feature"), *ROW_COLUMNS, *(REVENUE_COLUMNS if has_rev else [])]
    note = (
        f"revenue allocated by {d['allocation']['rule']}: {d['allocation']['text']}"
        if has_rev
        else ""
    )
    tables.append(Table("by feature", feat_cols, d["features"], note=note))
    tables.append(
        Table("request cost and usage by feature", [_c("feature"), *USAGE_COLUMNS], d["features"])
    )
    tables.append(
        Table(
            "tasks by feature",
            [
                _c("feature"),
                _c("tasks", "tasks", "int"),
                _c("success_pct", "ok %", "pct"),
                _c("cost_usd", "cost", "usd"),
                _c("cost_per_task_usd", "cost/task", "usd"),
                _c("cost_per_successful_task_usd", "cost/ok task", "usd"),
                _c("p90_task_usd", "p90", "usd"),
                _c("mean_steps", "steps", "num"),
                _c("context_growth_ratio", "ctx growth", "ratio"),
                _c("context_growth_tokens_per_step", "+tok/step", "num"),
            ],
            d["tasks"],
            note="a task is successful when its last request has status ok",
        )
    )
    tables.append(Table("models", [
        _c("model"), _c("tier"), _c("requests", "requests", "int"), _c("requests_pct", "req %", "pct"),
        _c("cost_usd", "cost", "usd"), _c("share_pct", "cost share", "pct"), _c("priced", "priced"),
        _c("logged_usd", "logged cost", "usd"), _c("drift_pct", "drift", "pct"),
    ], d["models"], note="drift: computed vs logged cost over the requests that carry a logged cost"))  # fmt: skip
    conc = d["concentration"]
    crow = [
        {"label": f"top {k}% of users", "value": _pct(conc[f"top_{k}pct"]), "unit": "pct"}
        for k in TOP_SHARES
    ]
    crow.append(
        {"label": "Gini coefficient of cost per user", "value": conc["gini"], "unit": "ratio"}
    )
    tables.append(Table("cost concentration", [_c("label", "users"), _c("value", "share of cost", "unit")], crow,
                        note=f"over {conc['users']:,} users with a priced request"))  # fmt: skip
    p90 = d["p90_users"]
    user_cols = [
        _c("user"),
        _c("customer"),
        _c("requests", "requests", "int"),
        _c("cost_usd", "cost", "usd"),
    ]
    if has_rev:
        user_cols += [
            _c("revenue_usd", "revenue (alloc.)", "usd"),
            _c("margin_usd", "margin", "usd"),
            _c("margin_pct", "margin %", "pct"),
        ]
    every = Table("P90+ users", user_cols, p90["users"])
    shown = every.head(20)
    tables.append(Table(
        f"P90+ users (cost ≥ {fmt_value(p90['threshold_usd'], 'usd')}, the P90 of user totals)", user_cols,
        shown.frame if shown.frame is not None else shown.rows,
        note=f"{len(shown)} of {len(every)} shown; JSON has all" if len(shown) < len(every) else "",
    ))  # fmt: skip
    if has_rev:
        cust_cols = [
            _c("customer"), _c("plan"), _c("users", "users", "int"), _c("cost_usd", "cost", "usd"),
            _c("revenue_usd", "revenue", "usd"), _c("margin_usd", "margin", "usd"), _c("margin_pct", "margin %", "pct"),
            _c("cost_pct_of_revenue", "cost % rev", "pct"),
        ]  # fmt: skip
        customers = d["customers"]
        under = (
            customers.filter("under_water")
            if is_frame(customers)
            else [c for c in customers if c["under_water"]]
        )
        tables.append(Table(f"customers under water ({len(under)} of {len(customers)})", cust_cols, under,
                            note="inference cost above revenue; `--by customer` lists every customer"))  # fmt: skip
    return tables


# ---------------------------------------------------------------- SQL

# The rows of the report, with only the columns the metrics read. A request's cost is split in two
# (pricing.cost_units_sql): `cost_units`, exact integer units, for nearly every row, and `cost_exact`, the DECIMAL
# cost, only for the rest; SUM_COST / SUM_D / COST_D put them back together exactly. Computing a
# 128-bit DECIMAL per request and casting it to DOUBLE for percentiles was most of a report's time.
# Without a --where filter lc_rep is a VIEW: each metric scans the compressed requests table again,
# cheaper than writing ~20 columns of every row to a temp table. A filter's values are bound
# parameters, which a view cannot hold: then the rows are materialised once.
MATERIALISE = """
CREATE OR REPLACE TEMP {kind} lc_rep AS
-- ord: step order, then time; only requests of a task need it
SELECT ts, CAST(date_trunc('month', ts) AS DATE) AS month, task_id,
       CASE WHEN task_id IS NOT NULL THEN coalesce(step, 0)::BIGINT * 10000000000000 + epoch_ms(ts) END AS ord,
       user_id, customer_id, feature, model, tier, plan, status, input_tokens, output_tokens,
       cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, cache_hit, latency_ms, logged_cost_usd,
       priced, fb, cost_units, cost_exact,
       ts < {prev} AS prev, ({where}) AS sel {dims}
FROM (SELECT r.*, p.tier, p.model_id IS NOT NULL AS priced, coalesce(p.fallback, false) AS fb, {units} AS cost_units,
             CASE WHEN {units} IS NULL THEN {cost} END AS cost_exact
      FROM requests r LEFT JOIN lc_prices_u p ON p.model = r.model AND p.host = coalesce(r.provider, '') AND r.ts >= p.valid_from AND r.ts < p.valid_to)
WHERE ts >= {start} AND ts < {until} {prefilter}
"""
# sum(cost) as the exact DECIMAL, a row's cost as DOUBLE, and sum(cost) as DOUBLE (as CAST would give them).
SUM_COST = pricing.sum_cost_sql("cost_units", "cost_exact")
COST_D = pricing.cost_double_sql("cost_units", "cost_exact")
SUM_D = pricing.sum_double_sql("cost_units", "cost_exact")

# Everything but percentiles and distinct tasks is a sum or count, so one scan of lc_rep grouped by
# every key a metric reads (a few thousand groups, however many requests) serves the totals, the
# user-months, the allocation, months, models and customers, and the non-percentile part of every
# row. Before, each of those rescanned (and re-priced) the requests. Partial sums of the units are
# exact integers and of cost_exact exact DECIMALs, so the sums below equal those over the requests.
# Per group: n_requests; the cost as cost_units (their sum) over n_cost_units rows plus cost_exact over
# n_cost_exact rows; the same four over the requests that carry a logged cost (*_logged), for the drift.
FINE = """
CREATE OR REPLACE TEMP TABLE lc_fine AS
SELECT prev, sel, priced, month, user_id, customer_id, feature, model, tier, plan {dims},
       count(*) AS n_requests,
       sum(cost_units) AS cost_units, count(cost_units) AS n_cost_units,
       sum(cost_exact) AS cost_exact, count(cost_exact) AS n_cost_exact,
       sum(cost_units) FILTER (WHERE logged_cost_usd IS NOT NULL) AS cost_units_logged,
       count(cost_units) FILTER (WHERE logged_cost_usd IS NOT NULL) AS n_cost_units_logged,
       sum(cost_exact) FILTER (WHERE logged_cost_usd IS NOT NULL) AS cost_exact_logged,
       count(cost_exact) FILTER (WHERE logged_cost_usd IS NOT NULL) AS n_cost_exact_logged,
       count(logged_cost_usd) AS logged_n, fsum(logged_cost_usd) AS logged,
       count(*) FILTER (WHERE cache_hit) AS hits, count(*) FILTER (WHERE task_id IS NULL) AS untasked,
       sum(cache_read_tokens) FILTER (WHERE NOT cache_hit) AS cache_read_t,
       sum(input_tokens) FILTER (WHERE NOT cache_hit) AS provider_in_t,
       sum(output_tokens) AS out_t, sum(input_tokens) AS in_t
FROM lc_rep GROUP BY ALL
"""


def _fsum_cost(suffix: str = "") -> str:
    """pricing.sum_cost_sql over lc_fine's partial sums (SUFFIX "_logged": of the requests with a
    logged cost): the same DECIMAL(38,24)."""
    return pricing.sum_partial_cost_sql(
        f"cost_units{suffix}",
        f"n_cost_units{suffix}",
        f"cost_exact{suffix}",
        f"n_cost_exact{suffix}",
    )


# pricing.sum_double_sql over partial sums: below 2^53 the DOUBLE sum of integral units is the exact sum.
F_SUM_COST = _fsum_cost()
F_SUM_D = (
    f"CASE WHEN sum(n_cost_exact) = 0 AND sum(cost_units) < {2**53} "
    f"THEN CAST(sum(cost_units) AS DOUBLE) / {pricing.UNITS_PER_USD_D} "
    f"ELSE CAST({F_SUM_COST} AS DOUBLE) END"
)


# Revenue per customer-month and period: llmcost.revenue (lc_rev, the one revenue-in-window rule).

# Denominators of the allocation rules, per customer-month, over ALL requests of the window
# (a --where filter selects which requests receive revenue, not how a customer's revenue is split).
ALLOC = f"""
CREATE OR REPLACE TEMP TABLE lc_alloc AS
WITH cmf AS (
    SELECT prev, customer_id, month, coalesce(feature, chr(0)) AS fkey, sum(n_requests) AS n_cmf FROM lc_fine GROUP BY ALL
), cm AS (
    SELECT prev, customer_id, month, sum(n_requests) AS n_cm, {F_SUM_D} AS c_cm FROM lc_fine GROUP BY ALL
), nf AS (
    SELECT prev, customer_id, month, count(*) AS f_cm FROM cmf GROUP BY ALL
)
SELECT cmf.prev, cmf.customer_id, cmf.month, cmf.fkey, cmf.n_cmf, cm.n_cm, cm.c_cm, nf.f_cm, r.revenue
FROM cmf JOIN cm USING (prev, customer_id, month) JOIN nf USING (prev, customer_id, month)
JOIN lc_rev r ON r.prev = cmf.prev AND r.customer_id = cmf.customer_id AND r.month = cmf.month
"""

ALLOC_WEIGHT = {
    "requests": "a.revenue * g.n / a.n_cm",
    "cost": "CASE WHEN a.c_cm > 0 THEN a.revenue * coalesce(g.c, 0) / a.c_cm ELSE a.revenue * g.n / a.n_cm END",
    "equal": "a.revenue / a.f_cm * g.n / a.n_cmf",
}
ALLOC_TEXT = {
    "requests": "each customer-month's revenue split over its requests; a group gets its share of them",
    "cost": "each customer-month's revenue split in proportion to its inference cost (by requests when it has no cost)",
    "equal": "each customer-month's revenue split equally between the features it used, then over their requests",
}


# Per group, what needs every request: request-cost and latency percentiles, distinct task ids.
# Distinct tasks in two steps (distinct pairs, then count): a count(DISTINCT) beside the percentiles
# cost ~2 s of 5 at 10M requests --by user; this separate scan needs no cost, ~0.25 s.
GROUP_Q = f"""SELECT {{k}}, quantile_cont({COST_D}, {QUANTILES}) AS q, quantile_cont(latency_ms, [0.5, 0.9]) AS lat_q
              FROM lc_rep WHERE {{where}} GROUP BY {{k}}"""
GROUP_T = """SELECT {k}, count(*) AS tasks FROM (SELECT DISTINCT {k}, task_id FROM lc_rep
                                                  WHERE {where} AND task_id IS NOT NULL) GROUP BY {k}"""
GROUP_STATS = """CREATE OR REPLACE TEMP TABLE {name} AS
SELECT q.*, t.tasks FROM ({q}) q LEFT JOIN ({t}) t ON {on}"""


def _group_sql(
    keys: list[str],
    allocate: str | None,
    *,
    where: str = "sel AND NOT prev",
    stats: str | None = None,
    user_key: str | None = None,
) -> str:
    """Per group: counts, cost, tokens, users and cache hits from lc_fine; request-cost and latency
    percentiles and distinct tasks from the requests (lc_rep), or from `stats`, a table of them per
    group (GROUP_STATS, or read from a rollup); with allocated revenue. `user_key`: the key that
    is user_id itself (a --by with user), whose group has 1 distinct user, or 0 when it is NULL."""
    k = ", ".join(keys)
    # a hash set per group for count(DISTINCT) costs a third of this aggregate at 50,000 users
    users = "count(DISTINCT user_id)" if user_key is None else f"({user_key} IS NOT NULL)::BIGINT"
    on = " AND ".join(f"f.{c} IS NOT DISTINCT FROM q.{c}" for c in keys)
    on_t = " AND ".join(f"f.{c} IS NOT DISTINCT FROM t.{c}" for c in keys)
    fine = f"""
            SELECT {k}, sum(n_requests) AS requests, coalesce(sum(n_requests) FILTER (WHERE priced), 0) AS priced_n, {F_SUM_COST} AS cost,
                   sum(out_t) AS out_t, sum(in_t) AS in_t, {users} AS users,
                   sum(hits) AS hits, sum(untasked) AS untasked
            FROM lc_fine WHERE {where} GROUP BY {k}"""
    if stats is None:
        stats = f"""
        SELECT f.*, q.q, q.lat_q, coalesce(t.tasks, 0) + f.untasked AS tasks FROM ({fine}) f
        JOIN ({GROUP_Q.format(k=k, where=where)}) q ON {on}
        LEFT JOIN ({GROUP_T.format(k=k, where=where)}) t ON {on_t}"""
    else:
        stats = f"""
        SELECT f.*, q.q, q.lat_q, coalesce(q.tasks, 0) + f.untasked AS tasks FROM ({fine}) f
        JOIN {stats} q ON {on}"""
    if allocate is None:
        return f"SELECT *, CAST(NULL AS DOUBLE) AS revenue FROM ({stats})"
    join = " AND ".join(f"r.{c} IS NOT DISTINCT FROM s.{c}" for c in keys)
    # only the cost rule weighs by cost: its DOUBLE from the exact partial sums is not computed
    # for the other two (a group row per customer-month-feature: nearly one per fine row)
    cost = f", {F_SUM_D} AS c" if allocate == "cost" else ""
    return f"""
        WITH s AS ({stats}),
        g AS (SELECT {k}, prev, customer_id, month, coalesce(feature, chr(0)) AS fkey, sum(n_requests) AS n
                     {cost}
              FROM lc_fine WHERE {where} GROUP BY ALL),
        r AS (SELECT {", ".join("g." + c for c in keys)}, fsum({ALLOC_WEIGHT[allocate]}) AS revenue
              FROM g JOIN lc_alloc a ON a.prev = g.prev AND a.customer_id = g.customer_id AND a.month = g.month
                                     AND a.fkey = g.fkey
              GROUP BY ALL)
        SELECT s.*, coalesce(r.revenue, 0) AS revenue FROM s LEFT JOIN r ON {join}"""


def _num(x: Any) -> float | None:
    """Floating sums and means, rounded to 1e-9: parallel aggregation adds in no fixed order, and the
    last bits must not change from run to run (SPEC §8 allows rounding at 1e-9)."""
    return None if x is None else round(float(x), 9)


def _div(a: Any, b: Any, scale: float = 1.0) -> float | None:
    if a is None or b is None or float(b) == 0:
        return None
    return float(a) / float(b) * scale


def _margin(row: dict[str, Any], revenue: Any, cost: Any) -> None:
    """revenue_usd, margin_usd, margin_pct and cost_pct_of_revenue; unpriced cost counts as 0 here."""
    if revenue is None:
        return
    revenue = _num(revenue)
    row["revenue_usd"] = revenue
    # every request unpriced: the margin is unknown, not 100 %
    if cost is None and row.get("requests"):
        row["margin_usd"] = row["margin_pct"] = row["cost_pct_of_revenue"] = None
        return
    c = float(cost or 0)
    row["margin_usd"] = round(revenue - c, 9)
    row["margin_pct"] = _div(revenue - c, revenue, 100)
    row["cost_pct_of_revenue"] = _div(c, revenue, 100)


def group_order(names: list[str], keys: list[str], cost: str = "cost") -> str:
    """Periods in time order (then the costliest first within a period); other groups costliest first."""
    time = [k for n, k in zip(names, keys, strict=True) if n in TIME_DIMENSIONS]
    return ", ".join([*time, f"{cost} DESC NULLS LAST", *(f"{k} NULLS LAST" for k in keys)])


# Every field of a group row, computed in SQL with the operations the row's Python formulas used
# (_div: a / b * scale, NULL when a or b is NULL or b is 0; _num and _margin: rounding at 1e-9), so
# the numbers are the same bits: the exact DECIMAL cost becomes a DOUBLE through its decimal text
# (correctly rounded, as float(Decimal) is), and round(x, 9) is the DOUBLE of printf('%.9f', x)
# (both correctly rounded). tests/test_documents.py holds the frame to the row-by-row formulas.
ROUND9 = "CAST(printf('%.9f', {x}) AS DOUBLE)"
ROW_FIELDS = """
    requests::BIGINT AS requests, cost_d AS cost_usd,
    CASE WHEN priced_n <> 0 THEN cost_d / priced_n::DOUBLE END AS cost_per_request_usd,
    q[1] AS p50_request_usd, q[2] AS p90_request_usd, q[3] AS p99_request_usd,
    {share} AS share_pct,
    CASE WHEN in_t <> 0 THEN out_t::DOUBLE / in_t::DOUBLE END AS output_input_ratio,
    lat_q[1] AS latency_p50_ms, lat_q[2] AS latency_p90_ms, users::BIGINT AS users, tasks::BIGINT AS tasks,
    CASE WHEN requests <> 0 THEN hits::DOUBLE / requests::DOUBLE * 100 END AS cache_hit_pct,
    (requests - priced_n)::BIGINT AS unpriced"""
MARGIN_FIELDS = f"""
    revenue_usd,
    CASE WHEN NOT unknown THEN {ROUND9.format(x="revenue_usd - c")} END AS margin_usd,
    CASE WHEN NOT unknown AND revenue_usd <> 0 THEN (revenue_usd - c) / revenue_usd * 100 END AS margin_pct,
    CASE WHEN NOT unknown AND revenue_usd <> 0 THEN c / revenue_usd * 100 END AS cost_pct_of_revenue"""
# A row of a customer with revenue in the window but no request (--by customer): only these fields.
EXTRA_FIELDS = (
    "cost_per_request_usd", "p50_request_usd", "p90_request_usd", "p99_request_usd", "share_pct",
    "output_input_ratio", "latency_p50_ms", "latency_p90_ms", "users", "tasks", "cache_hit_pct",
)  # fmt: skip


def _group_frame(
    con: Any, names: list[str], keys: list[str], allocate: str | None, total_cost: Any,
    rollups: Rollups | None = None, *, full_revenue: bool = False, min_cost: float | None = None,
) -> pl.DataFrame:  # fmt: skip
    """One row per group, every field computed in SQL and fetched as Arrow into polars. With
    `full_revenue` (--by customer, no filter): a customer's whole revenue of the window instead of
    what is allocated to its requests, and a row for each customer with revenue but no request.
    With `min_cost`: only the groups of a known key whose cost is at least that."""
    from llmcost.documents import OMIT

    stats = rollups.group_stats(names, keys) if rollups is not None else None
    user_key = next(
        (k for n, k in zip(names, keys, strict=True) if SYNONYMS.get(n, n) == "user"), None
    )
    where = "sel AND NOT prev"
    if min_cost is not None and keys == ["user_id"]:
        # only the users that may reach min_cost, before any sum: their totals in lc_um are the
        # same exact sums, cast to DOUBLE another way (within an ulp), hence the margin; the
        # exact test on each row's cost_d is below
        lo = min_cost - abs(min_cost) * 1e-9 - 1e-12
        where += (
            " AND user_id IN (SELECT user_id FROM lc_um GROUP BY user_id"
            f" HAVING sum(cost)::DOUBLE >= CAST('{lo!r}' AS DOUBLE))"
        )
    inner = _group_sql(keys, allocate, where=where, stats=stats, user_key=user_key)
    total = None if total_cost is None else float(total_cost)
    share = "CASE WHEN cost_d IS NOT NULL AND ?::DOUBLE <> 0 THEN cost_d / ?::DOUBLE * 100 END"
    params: list[Any] = [total, total]
    picks = ", ".join(f"{k} AS {_ident(n)}" for n, k in zip(names, keys, strict=True))
    revenue = "revenue"
    extra_rows = ""
    if full_revenue:
        k = keys[0]
        inner = f"""SELECT s.* EXCLUDE (revenue), coalesce(fr.revenue, 0) AS revenue, false AS extra
                    FROM ({inner}) s LEFT JOIN lc_full_rev fr ON s.{k} IS NOT DISTINCT FROM fr.customer_id"""
        con.execute(
            "CREATE OR REPLACE TEMP TABLE lc_full_rev AS SELECT customer_id, sum(revenue) AS revenue"
            " FROM lc_rev WHERE NOT prev GROUP BY ALL"
        )
        # the same columns as the group rows, in their order (a portable UNION ALL: no BY NAME)
        columns = [d[0] for d in con.execute(f"SELECT * FROM ({inner}) LIMIT 0").description]
        given = {
            k: f"customer_id AS {k}", "requests": "0::BIGINT AS requests",
            "priced_n": "0::BIGINT AS priced_n", "cost": "NULL::DECIMAL(38,24) AS cost",
            "revenue": "revenue", "extra": "true AS extra",
        }  # fmt: skip
        picked = ", ".join(given.get(c, f"NULL AS {_ident(c)}") for c in columns)
        extra_rows = f"""UNION ALL
            SELECT {picked}
            FROM lc_full_rev fr WHERE NOT EXISTS (SELECT 1 FROM lc_fine f WHERE sel AND NOT prev
                                                   AND f.{k} IS NOT DISTINCT FROM fr.customer_id)"""
    else:
        inner = f"SELECT *, false AS extra FROM ({inner})"
    margin = f", {MARGIN_FIELDS}" if allocate is not None else ""
    omit = "".join(f", extra AS {OMIT}{f}" for f in EXTRA_FIELDS) if full_revenue else ""
    only = ""
    if min_cost is not None:
        only = " AND ".join([*(f"{k} IS NOT NULL" for k in keys), "cost_d >= ?"])
        only = f"WHERE {only}"
        params.append(min_cost)
    sql = f"""
        SELECT {picks}, {ROW_FIELDS.format(share=share)}{margin}{omit}
        FROM (SELECT *, {ROUND9.format(x=revenue)} AS revenue_usd,
                     coalesce(cost_d, 0) AS c, cost_d IS NULL AND coalesce(requests, 0) <> 0 AS unknown
              FROM (SELECT *, CAST(CAST(cost AS VARCHAR) AS DOUBLE) AS cost_d FROM ({inner} {extra_rows})))
        {only}
        ORDER BY extra, {group_order(names, keys)}"""
    return fetch_frame(con, sql, params)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# Tasks without task_id are one request each: counted, not hashed.
TASK_COUNT = "(count(DISTINCT task_id) + count(*) FILTER (WHERE task_id IS NULL))"

# Per period: sums and counts (distinct customers, and users of the previous period, below in
# PERIOD_CUSTOMERS and PREV_USERS; distinct tasks and users of the current period come from the
# task and user-month queries, which group by them anyway). Logged costs are DOUBLEs: fsum
# (compensated) keeps their sum's last digits from depending on the order the threads add them in.
PERIOD_TOTALS = f"""
SELECT prev, sum(n_requests) AS requests, {F_SUM_COST} AS cost, coalesce(sum(n_requests) FILTER (WHERE priced), 0) AS priced,
       list(DISTINCT model ORDER BY model) FILTER (WHERE NOT priced) AS unpriced_models,
       sum(hits) AS semantic_hits, sum(cache_read_t) AS cache_read_t, sum(provider_in_t) AS provider_in_t,
       coalesce(sum(n_requests) FILTER (WHERE tier = 'small'), 0) AS small_n,
       coalesce(sum(n_requests) FILTER (WHERE tier = 'mid'), 0) AS mid_n,
       coalesce(sum(logged_n) FILTER (WHERE priced), 0) AS logged_n,
       fsum(logged) FILTER (WHERE priced) AS logged_usd,
       {_fsum_cost("_logged")} AS computed_usd
FROM lc_fine WHERE sel GROUP BY prev
"""

# Distinct customers per period and distinct users of the previous one, each counted in two steps
# (distinct pairs, then a count): a count(DISTINCT) beside the sums above is one hash set per
# period, filled by one thread (half of that query's time at 50,000 users).
PERIOD_CUSTOMERS = """
SELECT prev, count(customer_id) AS customers FROM (SELECT DISTINCT prev, customer_id FROM lc_fine WHERE sel) GROUP BY prev
"""
PREV_USERS = "SELECT count(user_id) FROM (SELECT DISTINCT user_id FROM lc_fine WHERE sel AND prev)"

TASKS = """
WITH t AS (
    SELECT task_id, arg_min(feature, ord) FILTER (WHERE feature IS NOT NULL) AS feature, count(*) AS steps, sum(cost_units) AS cost_units,
           sum(cost_exact) AS cost_exact,
           bool_or(priced) AS priced, {sum_d} AS cost_d,
           arg_max(status, ord) = 'ok' AS ok, arg_min(input_tokens, ord) AS first_in,
           arg_max(input_tokens, ord) AS last_in
    FROM lc_rep WHERE {where} AND task_id IS NOT NULL GROUP BY task_id
    UNION ALL  -- a request without task_id is its own one-step task: no hash aggregate for those
    SELECT NULL, feature, 1, cost_units, cost_exact, priced, {cost_d}, status = 'ok', input_tokens, input_tokens
    FROM lc_rep WHERE {where} AND task_id IS NULL
)
SELECT {head}, count(*) AS tasks, count(*) FILTER (WHERE ok) AS successful,
       {sum_cost} AS cost, count(*) FILTER (WHERE priced) AS priced_tasks, quantile_cont(cost_d, {q}) AS q,
       avg(steps) AS mean_steps,
       avg(last_in / nullif(first_in, 0)) FILTER (WHERE steps > 1) AS growth_ratio,
       avg((last_in - first_in) / (steps - 1)) FILTER (WHERE steps > 1) AS growth_tokens
FROM t {group} ORDER BY is_total DESC, cost DESC NULLS LAST, feature NULLS LAST
"""

# The summary also reads each user's customer (its P90+ users); a --by report only the costs.
USER_MONTHS = f"""
CREATE OR REPLACE TEMP TABLE lc_um AS
SELECT user_id, month{{customer}}, {F_SUM_COST} AS cost
FROM lc_fine WHERE sel AND NOT prev AND user_id IS NOT NULL GROUP BY user_id, month
"""


def _quant(values: Any) -> dict[str, float | None]:
    q = values or [None, None, None]
    return {"p50": q[0], "p90": q[1], "p99": q[2]}


def concentration(costs: list[float]) -> dict[str, Any]:
    """Share of cost of the top k% of users (k = ceil(p·n) users, at least 1) and the Gini coefficient."""
    xs = sorted((c for c in costs if c is not None), reverse=True)
    n, total = len(xs), sum(xs)
    out: dict[str, Any] = {"users": n}
    for p in TOP_SHARES:
        k = max(1, math.ceil(p / 100 * n)) if n else 0
        out[f"top_{p}pct"] = (sum(xs[:k]) / total) if total > 0 else None
    asc = xs[::-1]
    out["gini"] = (
        (sum((2 * i - n - 1) * x for i, x in enumerate(asc, start=1)) / (n * total))
        if total > 0
        else None
    )
    return out


def concentration_of(costs: pl.Series) -> dict[str, Any]:
    """concentration() of a column of costs, in polars: the same sums in the same order (a
    cumulative sum adds left to right as Python's sum does), so the same floats, without a Python
    float per user."""
    import polars as pl

    xs = costs.drop_nulls().sort(descending=True)
    n = xs.len()
    out: dict[str, Any] = {"users": n}
    if n == 0:
        return out | {f"top_{p}pct": None for p in TOP_SHARES} | {"gini": None}
    run = xs.cum_sum()
    total = float(run[-1])
    for p in TOP_SHARES:
        k = max(1, math.ceil(p / 100 * n))
        out[f"top_{p}pct"] = (float(run[k - 1]) / total) if total > 0 else None
    if total > 0:
        weights = (pl.int_range(1, n + 1, eager=True) * 2 - (n + 1)).cast(pl.Float64)
        out["gini"] = float((weights * xs.reverse()).cum_sum()[-1]) / (n * total)
    else:
        out["gini"] = None
    return out


# ---------------------------------------------------------------- summary metrics

# name -> (label, unit, better). Targets in llmcost.toml: [targets] min_<name> / max_<name>.
SUMMARY_METRICS: dict[str, tuple[str, str]] = {
    "total_cost_usd": ("total inference cost", "usd"),
    "requests": ("requests", "int"),
    "active_users": ("active users", "int"),
    "cost_per_active_user_usd": ("cost per active user", "usd"),
    "cost_per_successful_task_usd": ("cost per successful task", "usd"),
    "revenue_usd": ("revenue", "usd"),
    "cost_pct_of_revenue": ("inference cost as % of revenue", "pct"),
    "gross_margin_usd": ("gross margin", "usd"),
    "gross_margin_pct": ("gross margin %", "pct"),
    "semantic_cache_hit_rate_pct": ("semantic cache hit rate (requests)", "pct"),
    "prompt_cache_hit_rate_pct": ("prompt cache hit rate (input tokens)", "pct"),
    "small_model_share_pct": ("requests on small models", "pct"),
    "mid_model_share_pct": ("requests on mid models", "pct"),
    "top20_customers_cost_pct_of_revenue": ("top 20% customers: cost % of their revenue", "pct"),
}


def parse_targets(raw: dict[str, Any]) -> dict[str, tuple[str, float]]:
    out: dict[str, tuple[str, float]] = {}
    for key, value in raw.items():
        kind, _, name = key.partition("_")
        if kind not in ("min", "max") or name not in SUMMARY_METRICS:
            raise LlmcostError(
                f"llmcost.toml [targets]: unknown key {key!r}",
                hint="keys are min_<metric> or max_<metric>; metrics: "
                + ", ".join(SUMMARY_METRICS),
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise LlmcostError(f"llmcost.toml [targets]: {key} must be a number, got {value!r}")
        out[name] = (kind, float(value))
    return out


def _period_metrics(
    con: Any, tot: dict[str, Any], prev: bool, revenue: float | None, succ_cost: tuple[Any, int]
) -> dict[str, Any]:
    cost = float(tot["cost"] or 0) if tot else 0.0
    n = tot["requests"] if tot else 0
    m: dict[str, Any] = {
        "total_cost_usd": tot["cost"] if tot else None,
        "requests": n,
        "active_users": tot["users"] if tot else 0,
        "cost_per_active_user_usd": _div(tot["cost"], tot["users"]) if tot else None,
        "cost_per_successful_task_usd": _div(succ_cost[0], succ_cost[1]),
        "revenue_usd": revenue,
        "cost_pct_of_revenue": _div(cost, revenue, 100),
        "gross_margin_usd": None if revenue is None else revenue - cost,
        "gross_margin_pct": _div(None if revenue is None else revenue - cost, revenue, 100),
        "semantic_cache_hit_rate_pct": _div(tot["semantic_hits"], n, 100) if tot else None,
        "prompt_cache_hit_rate_pct": _div(tot["cache_read_t"], tot["provider_in_t"], 100)
        if tot
        else None,
        "small_model_share_pct": _div(tot["small_n"], n, 100) if tot else None,
        "mid_model_share_pct": _div(tot["mid_n"], n, 100) if tot else None,
        "top20_customers_cost_pct_of_revenue": None,
    }
    if revenue is not None and tot:
        # Top 20% of customers by cost (at least one), their cost over their own prorated revenue.
        # Summed as DECIMAL: a DOUBLE sum's last digits depend on the order the threads add in.
        r = con.execute(
            f"""WITH c AS (SELECT customer_id, {F_SUM_D} AS cost FROM lc_fine
                          WHERE sel AND prev = ? AND customer_id IS NOT NULL GROUP BY customer_id HAVING bool_or(priced)),
                    k AS (SELECT * FROM c ORDER BY cost DESC, customer_id LIMIT (SELECT greatest(1, ceil(count(*) * 0.2)) FROM c))
               SELECT CAST(sum(CAST(k.cost AS DECIMAL(38, 12))) AS DOUBLE), sum(coalesce(rv.revenue, 0))
               FROM k LEFT JOIN (SELECT customer_id, sum(revenue) AS revenue FROM lc_rev WHERE prev = ? GROUP BY ALL) rv
                 USING (customer_id)""",
            [prev, prev],
        ).fetchone()
        m["top20_customers_cost_pct_of_revenue"] = _div(r[0], _num(r[1]), 100)
    return m


def _summary(
    cur: dict[str, Any], prev: dict[str, Any], targets: dict[str, tuple[str, float]]
) -> dict[str, Any]:
    rows = []
    for name, (label, unit) in SUMMARY_METRICS.items():
        v, p = cur.get(name), prev.get(name)
        change = None if v is None or p is None else float(v) - float(p)
        target = targets.get(name)
        status = ""
        if target is not None:
            kind, bound = target
            status = (
                "n/a"
                if v is None
                else (
                    "ok" if (float(v) >= bound if kind == "min" else float(v) <= bound) else "miss"
                )
            )
        rows.append({
            "name": name, "label": label, "unit": unit, "value": v, "previous": p, "change": change,
            "change_pct": _div(change, p, 100) if change is not None and p else None,
            "target": None if target is None else target[1], "target_kind": None if target is None else target[0],
            "goal": "" if target is None else f"{'≥' if target[0] == 'min' else '≤'} {fmt_value(target[1], unit)}",
            "status": status, "ok": None if status in ("", "n/a") else status == "ok",
        })  # fmt: skip
    return {"metrics": rows, "misses": [r["name"] for r in rows if r["status"] == "miss"]}


# ---------------------------------------------------------------- rollups
#
# A report over every request, with no --where, derives the same intermediate tables each time from
# the same rows: lc_fine (one scan), the task table (one scan) and per-group percentiles and distinct
# tasks (two scans). At 10M requests those scans are ~4.5 s of a 4.6 s report. They are kept in the
# store (migrations m003, m004) and read back while both their inputs are unchanged: the requests (a data
# version: every change to `requests` comes with a new `files` row; the request count and time span
# are checked too) and the price set (its sha256, overlays included). Revenue is not in them: it is
# joined at every report. A window of whole UTC months (the summary's default one among them) reads
# rollup_fine by its month column, and keeps its own task table and group statistics under its months
# (Rollups.serve). Any other report (a window that leaves requests out and is not whole months, a
# --where, a --by on a dimension lc_fine does not hold) reads the requests as before.

ROLLUP_FORMAT = "2"  # bump when what a rollup holds changes: older rollups are then rebuilt
# --by dimensions a rollup serves: columns of lc_fine (month as its YYYY-MM text, as DIMENSIONS has it)
ROLLUP_DIMS = {
    "feature": "feature",
    "customer": "customer_id",
    "user": "user_id",
    "model": MODEL_GROUP,
    "tier": "tier",
    "plan": "plan",
    "month": "strftime(month, '%Y-%m')",
}
FINE_COLUMNS = (
    "priced, month, user_id, customer_id, feature, model, tier, plan, n_requests, cost_units, n_cost_units, "
    "cost_exact, n_cost_exact, cost_units_logged, n_cost_units_logged, cost_exact_logged, n_cost_exact_logged, "
    "logged_n, logged, hits, untasked, cache_read_t, provider_in_t, out_t, in_t"
)
# rollup_fine's key columns (the rest of FINE_COLUMNS are sums, added up when rows are merged)
FINE_KEYS = FINE_COLUMNS.split(", ")[:8]
TASK_COLUMNS = "feature, is_total, tasks, successful, cost, priced_tasks, q, mean_steps, growth_ratio, growth_tokens"
DATA_VERSION = """
SELECT (SELECT count(*) FROM files), (SELECT max(file_id) FROM files), (SELECT sum(loaded) FROM files),
       count(*), min(ts), max(ts)
FROM requests
"""


class Rollups:
    """The persisted report rollups of one connection, for one data version and price set."""

    def __init__(self, con: Any, prices: pricing.PriceTable) -> None:
        from llmcost import __version__

        self.con = con
        self.select_rows: Callable[[], None] | None = None  # creates lc_rep, set by report()
        self._rows_ready = False
        files, last_file, loaded, n, lo, hi = con.execute(DATA_VERSION).fetchone()
        self.requests, self.first, self.last = n, lo, hi
        self.parts = (files, last_file, loaded, n)  # rollup_versions' columns
        self.version = f"{ROLLUP_FORMAT}/{__version__} files {files}:{last_file}:{loaded} requests {n} {lo}..{hi}"
        self.sha = prices.sha256
        self.months: tuple[Any, Any, Any] = (
            None,
            None,
            None,
        )  # of a keyed window: start, since, until
        self.key = (
            ""  # "" over every request; "@START/SINCE/UNTIL" (months) for a window of whole months
        )
        self.valid_names = {
            name
            for (name,) in con.execute(
                "SELECT name FROM report_rollups WHERE data_version = ? AND price_sha256 = ?",
                [self.version, self.sha],
            ).fetchall()
        }

    def covers(self, win: Window) -> bool:
        """Every request is inside the window (the rollups are over all of them)."""
        return (
            self.requests > 0
            and win.since is not None
            and win.until is not None
            and win.since <= self.first
            and self.last < win.until
        )

    def serve(self, win: Window, prev: Window | None) -> bool:
        """Whether the rollups answer this window (and its previous period): every request is inside
        it, or both are whole UTC months — rollup_fine has a month column, and the task table and the
        per-group statistics of such a window are kept under its months (`key`)."""
        if self.covers(win):
            return True
        got = _months_key(win, prev) if self.requests else None
        if got is None:
            return False
        self.key, self.months = got
        return True

    def rows(self) -> None:
        """Create lc_rep, once: the requests a rollup is built from."""
        if not self._rows_ready and self.select_rows is not None:
            self.select_rows()
            self._rows_ready = True

    def _store(self, name: str, statements: list[tuple[str, list[Any]]]) -> None:
        """Write one rollup and its validity row in one transaction. The cache is an optimisation: when
        the store cannot be written (read-only file), the report goes on from its temp tables."""
        import duckdb

        con = self.con
        try:
            con.execute("BEGIN TRANSACTION")
            for sql, params in statements:
                con.execute(sql, params)
            con.execute(
                "INSERT OR REPLACE INTO report_rollups VALUES (?, ?, ?, now()::TIMESTAMP)",
                [name, self.version, self.sha],
            )
            con.execute("COMMIT")
        except (duckdb.IOException, duckdb.InvalidInputException, duckdb.TransactionException):
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            return
        self.valid_names.add(name)

    def fine(self, dims: list[str]) -> None:
        """lc_fine for a report over every request, from the rollup, or built (FINE) and kept."""
        cols = "".join(f", {ROLLUP_DIMS[SYNONYMS.get(b, b)]} AS d{i}" for i, b in enumerate(dims))
        _drop_temp(self.con, "lc_fine")
        if "fine" in self.valid_names:
            if not self.key:
                self.con.execute(
                    f"CREATE OR REPLACE TEMP VIEW lc_fine AS SELECT false AS prev, true AS sel, {FINE_COLUMNS}{cols} FROM rollup_fine"
                )
                return
            start, since, until = (_ts_literal(m) for m in self.months)
            self.con.execute(
                f"CREATE OR REPLACE TEMP VIEW lc_fine AS SELECT month < {since} AS prev, true AS sel, "
                f"{FINE_COLUMNS}{cols} FROM rollup_fine WHERE month >= {start} AND month < {until}"
            )
            return
        self.rows()
        self.con.execute(FINE.format(dims="".join(f", d{i}" for i in range(len(dims)))))
        if self.key:  # lc_rep holds this window only: rollup_fine is over every request
            return
        # A new data version or price set: every rollup of another one is dead weight.
        valid = "(SELECT name FROM report_rollups WHERE data_version = ? AND price_sha256 = ?)"
        keep = [self.version, self.sha]
        self._store("fine", [
            (f"DELETE FROM rollup_groups WHERE 'group:' || dims NOT IN {valid}", keep),
            (f"DELETE FROM rollup_tasks WHERE kind NOT IN {valid}", keep),
            ("DELETE FROM report_rollups WHERE data_version <> ? OR price_sha256 <> ?", keep),
            ("DELETE FROM rollup_fine", []),
            (f"INSERT INTO rollup_fine ({FINE_COLUMNS}) SELECT {FINE_COLUMNS} FROM lc_fine", []),
            ("DELETE FROM rollup_versions", []),
            ("INSERT INTO rollup_versions VALUES (?, ?, ?, ?, ?)", [self.version, *self.parts]),
        ])  # fmt: skip

    def tasks(self, by_feature: bool, prev: bool = False) -> list[dict[str, Any]]:
        """The task table's rows (TASKS) over this period (`prev`: the previous one)."""
        kind = ("tasks:prev" if prev else "tasks:feature" if by_feature else "tasks:all") + self.key
        if kind in self.valid_names:
            cur = self.con.execute(
                f"SELECT {TASK_COLUMNS} FROM rollup_tasks WHERE kind = ? ORDER BY ord", [kind]
            )
            return _task_rows([c[0] for c in cur.description], cur.fetchall())
        self.rows()
        cur = self.con.execute(
            _tasks_sql("sel AND prev" if prev else "sel AND NOT prev", by_feature)
        )
        names = [c[0] for c in cur.description]  # before the INSERTs below reuse the cursor
        records = cur.fetchall()
        marks = ", ".join("?" * (len(names) + 2))
        self._store(kind, [
            ("DELETE FROM rollup_tasks WHERE kind = ?", [kind]),
            *((f"INSERT INTO rollup_tasks VALUES ({marks})", [kind, i, *rec]) for i, rec in enumerate(records)),
        ])  # fmt: skip
        return _task_rows(names, records)

    def group_stats(self, names: list[str], keys: list[str]) -> str:
        """A temp table of GROUP_STATS for these --by names (as `keys`), from the rollup or built and kept."""
        dims = ",".join(SYNONYMS.get(b, b) for b in names) + self.key
        name = "group:" + dims
        table = "lc_gstats"
        if name in self.valid_names:
            picks = ", ".join(f"g[{i + 1}] AS {k}" for i, k in enumerate(keys))
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {picks}, q, lat_q, tasks FROM rollup_groups WHERE dims = ?",
                [dims],
            )
            return table
        self.rows()
        k = ", ".join(keys)
        where = "sel AND NOT prev"
        on = " AND ".join(f"q.{c} IS NOT DISTINCT FROM t.{c}" for c in keys)
        self.con.execute(GROUP_STATS.format(
            name=table, q=GROUP_Q.format(k=k, where=where), t=GROUP_T.format(k=k, where=where), on=on,
        ))  # fmt: skip
        self._store(name, [
            ("DELETE FROM rollup_groups WHERE dims = ?", [dims]),
            (f"INSERT INTO rollup_groups SELECT ?, [{k}]::VARCHAR[], q, lat_q, tasks FROM {table}", [dims]),
        ])  # fmt: skip
        return table


def _months_key(win: Window, prev: Window | None) -> tuple[str, tuple[Any, Any, Any]] | None:
    """The key of a window (and its previous period) of whole UTC months, "@START/SINCE/UNTIL", and
    those bounds; None when a bound is not a month start."""
    start = prev.since if prev is not None else win.since
    bounds = (start, win.since, win.until)
    if any(b is None or b != month_start(b) for b in bounds):
        return None
    return "@" + "/".join(f"{b:%Y-%m}" for b in bounds), bounds


# Kept current at the end of an ingest (refresh_rollups), so that the first report after it reads
# them like the second: the groups every P&L asks for (the summary's feature, user and customer
# views, the margins by customer-month), every other --by a report stored, the task tables, and the
# summary's default window. Requests are append-only: the rows of the files after those the rollups
# were built at are the new ones (an ingest drops its duplicates from its own rows). `forget`,
# `--reload` and the Claude Code adapter's completed token counts change older rows, and another
# price set reprices every row: then every rollup is built again from all the requests.
#   * rollup_fine holds sums: the new rows are summed by its key and added to the rows of the same
#     key (the sums of exact units and DECIMALs and the counts are exact).
#   * A group's percentiles and distinct tasks change only when a new row is in it: the groups the
#     new rows touch are recomputed over all their requests, the others kept.
#   * The task tables are recomputed (a task may span ingests): one query gives both.
#   * A window of whole months that no new request falls in is kept as it is; the summary's default
#     window is brought up to date (or built, when a new month made it another); other windows that
#     new requests fall in are dropped (the next report over them builds them).
# Everything is written in one transaction with the new data version: an ingest killed before it
# leaves the rollups of the data before, which the next ingest brings up to date in the same way.
INGEST_GROUPS = ("feature", "user", "customer", "customer,month")
# the summary's group statistics (_group_frame of its features, P90+ users and customers): --by name, column
SUMMARY_GROUPS = (("feature", "feature"), ("user", "user_id"), ("customer", "customer_id"))
EARLIEST, LATEST = datetime(1, 1, 1), datetime(9999, 12, 31)
# The touched groups alone are recomputed when they are at most 1/TOUCHED_SHARE of a rollup's groups;
# above that, filtering the requests by them costs more than it saves (docs/report-performance.md).
TOUCHED_SHARE = 4


def refresh_rollups(
    con: Any,
    prices: pricing.PriceTable | Callable[[], pricing.PriceTable],
    *,
    build: bool = False,
) -> list[str]:
    """Bring the store's rollups up to the data's new version (see above). Returns the names of the
    rollups written: none when the store holds no rollup (unless `build`: then they are built from
    the requests), has no rollup tables or no request, or when every one is already valid.
    `prices` may be a function that loads them: it is called only when a rollup is to be read."""
    import duckdb

    try:
        stored = con.execute(
            "SELECT name, data_version, price_sha256 FROM report_rollups"
        ).fetchall()
    except duckdb.CatalogException:
        return []
    if (not stored and not build) or not con.execute(
        "SELECT count(*) > 0 FROM requests"
    ).fetchone()[0]:
        return []
    if callable(prices):  # loaded only now: an ingest into a store without rollups needs none
        prices = prices()
    current = Rollups(con, prices)
    summary = _summary_months(con, current)
    dims = sorted(
        {n.removeprefix("group:") for n, _, _ in stored if n.startswith("group:") and "@" not in n}
    )
    wanted = list(dict.fromkeys([*INGEST_GROUPS, *dims]))
    needed = {"fine", "tasks:all", "tasks:feature", *(f"group:{d}" for d in wanted)}
    if summary is not None:
        key = summary[0]
        needed |= {
            f"tasks:feature{key}",
            f"tasks:prev{key}",
            *(f"group:{g}{key}" for g, _ in SUMMARY_GROUPS),
        }
    if needed <= current.valid_names:
        return []
    base = _base_version(con, current, stored)
    old = {n for n, v, sha in stored if base is not None and v == base[0] and sha == current.sha}
    con.execute("SET enable_progress_bar = false")  # it would draw on stdout
    pricing.install(con, prices)
    install_names(con, prices)
    pricing.register_units(con)
    job = _Refresh(con, old, None if base is None else base[1])
    try:
        con.execute("BEGIN TRANSACTION")
        job.run(wanted, summary)
        job.stamp(current)
        con.execute("COMMIT")
    except (duckdb.IOException, duckdb.InvalidInputException, duckdb.TransactionException,
            duckdb.OutOfMemoryException):  # fmt: skip
        # the store cannot be written: the rollups stay those of the data before (the next report
        # builds what it reads)
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        return []
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    return job.written


def _summary_months(con: Any, current: Rollups) -> tuple[str, tuple[Any, Any, Any]] | None:
    """The key and bounds of the summary's default window when the rollups keep it by its months
    (Rollups.serve); None when it covers every request (the plain rollups answer it) or has none."""
    win = effective_window(con, report_window(con, [], Window())[0])
    if win.since is None or win.until is None or win.since >= win.until or current.covers(win):
        return None
    return _months_key(win, win.previous())


def _base_version(
    con: Any, current: Rollups, stored: list[tuple[str, str, str]]
) -> tuple[str, int] | None:
    """The data version of the stored rollups and the last file they hold, when the requests since are
    only additions (the same files and rows up to that file, no Claude Code completion after it) and
    the price set and rollup format are the same; None otherwise: everything is built again."""
    fine = [(v, sha) for n, v, sha in stored if n == "fine"]
    if not fine or fine[0][1] != current.sha:
        return None
    version = fine[0][0]
    if version.split(" ")[0] != current.version.split(" ")[0]:  # ROLLUP_FORMAT/package version
        return None
    row = con.execute(
        "SELECT files, last_file_id, loaded, requests FROM rollup_versions WHERE data_version = ?",
        [version],
    ).fetchone()
    if row is None or row[1] is None:
        return None
    files, last, loaded, n = row
    now_rows = con.execute(
        """SELECT (SELECT count(*) FROM files WHERE file_id <= $last),
                  (SELECT sum(loaded) FROM files WHERE file_id <= $last),
                  (SELECT count(*) FROM requests WHERE file_id <= $last),
                  (SELECT count(*) FROM files WHERE file_id > $last AND kind = 'claude_code')""",
        {"last": last},
    ).fetchone()
    if tuple(now_rows) != (files, loaded, n, 0):
        return None
    return version, int(last)


@dataclass
class _Refresh:
    """One refresh: `old` the rollups of the base version (valid for its rows), `since_file` the last
    file they hold (None: no base, every row is new)."""

    con: Any
    old: set[str]
    since_file: int | None
    written: list[str] = field(default_factory=list)
    kept: set[str] = field(default_factory=set)

    def new_rows(self) -> str:
        return "" if self.since_file is None else f"AND file_id > {self.since_file}"

    def rows(
        self,
        dims: Sequence[str] = (),
        bounds: tuple[Any, Any, Any] | None = None,
        *,
        new: bool = False,
    ) -> None:
        """lc_rep, a view of the priced requests (`new`: of the new rows only) with DIMS as d0, d1, …;
        BOUNDS (start, since, until): the rows from START to UNTIL, `prev` those before SINCE."""
        start, since, until = bounds or (EARLIEST, EARLIEST, LATEST)
        _drop_temp(self.con, "lc_rep")
        self.con.execute(MATERIALISE.format(
            kind="VIEW", where="true", dims="".join(f", {d} AS d{i}" for i, d in enumerate(dims)),
            prefilter=self.new_rows() if new else "", cost=pricing.cost_usd_sql(), units=pricing.cost_units_sql(),
            prev=_ts_literal(since), start=_ts_literal(start), until=_ts_literal(until),
        ))  # fmt: skip

    def touched(self, bounds: tuple[Any, Any, Any] | None = None) -> bool:
        """Whether a new row is in these bounds (every row is new without a base)."""
        if self.since_file is None:
            return True
        start, _, until = bounds or (EARLIEST, EARLIEST, LATEST)
        found = self.con.execute(
            "SELECT count(*) > 0 FROM requests WHERE file_id > ? AND ts >= ? AND ts < ?",
            [self.since_file, start, until],
        ).fetchone()[0]
        return bool(found)

    def run(self, wanted: list[str], summary: tuple[str, tuple[Any, Any, Any]] | None) -> None:
        any_new = self.touched()
        windows: dict[str, bool] = {}  # key -> a new row falls in it
        for name in self.old:  # a window of whole months no new row falls in: as it is
            if "@" in name:
                key = name[name.index("@") :]
                if key not in windows:
                    windows[key] = any_new and self.touched(_key_bounds(key))
                if not windows[key]:
                    self.kept.add(name)
        if any_new or "fine" not in self.old:
            self.fine()
        else:
            self.kept.add("fine")
        for dims in wanted:
            names = parse_by(dims)
            month = names.index("month") if "month" in names else None
            self.groups(f"group:{dims}", [dimension_sql(b) for b in names], None, month=month)
        self.tasks("", None)
        if summary is not None:
            key, bounds = summary
            for by, col in SUMMARY_GROUPS:
                self.groups(f"group:{by}{key}", [col], bounds)
            self.tasks(key, bounds)

    def fine(self) -> None:
        """rollup_fine: the new rows' sums (FINE) added to those of the same key, or all of them."""
        con = self.con
        self.rows(new=True)
        _drop_temp(con, "lc_fine")
        con.execute(FINE.format(dims=""))
        if "fine" not in self.old:
            con.execute("DELETE FROM rollup_fine")
            con.execute(
                f"INSERT INTO rollup_fine ({FINE_COLUMNS}) SELECT {FINE_COLUMNS} FROM lc_fine"
            )
        else:
            same = " AND ".join(f"f.{k} IS NOT DISTINCT FROM n.{k}" for k in FINE_KEYS)
            sums = ", ".join(
                f"{'fsum' if c == 'logged' else 'sum'}({c})"
                for c in FINE_COLUMNS.split(", ")
                if c not in FINE_KEYS
            )
            keys = ", ".join(FINE_KEYS)
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE lc_fine_old AS SELECT {FINE_COLUMNS} FROM rollup_fine f
                    WHERE EXISTS (SELECT 1 FROM lc_fine n WHERE {same})"""
            )
            con.execute(
                f"DELETE FROM rollup_fine AS f WHERE EXISTS (SELECT 1 FROM lc_fine n WHERE {same})"
            )
            con.execute(
                f"""INSERT INTO rollup_fine ({FINE_COLUMNS})
                    SELECT {keys}, {sums} FROM (SELECT {FINE_COLUMNS} FROM lc_fine_old
                                               UNION ALL SELECT {FINE_COLUMNS} FROM lc_fine)
                    GROUP BY {keys}"""
            )
            con.execute("DROP TABLE lc_fine_old")
        self.written.append("fine")

    def groups(
        self,
        name: str,
        dims: list[str],
        bounds: tuple[Any, Any, Any] | None,
        *,
        month: int | None = None,
    ) -> None:
        """A group rollup (Rollups.group_stats): the groups new rows are in, recomputed over all their
        rows in BOUNDS (all groups without a base or a stored rollup). With MONTH (the position of
        the month among the dimensions), every group from the first month a new row is in, over the
        requests from that month on: the months before hold no new row."""
        con = self.con
        label = name.removeprefix("group:")
        k = ", ".join(f"d{i}" for i in range(len(dims)))
        where = "sel AND NOT prev"
        touched = groups = 0
        if name in self.old and month is not None and bounds is None:
            assert self.since_file is not None
            first = con.execute(
                "SELECT min(ts) FROM requests WHERE file_id > ?", [self.since_file]
            ).fetchone()[0]
            if first is None:
                self.kept.add(name)
                return
            start = month_start(first)
            con.execute(
                f"DELETE FROM rollup_groups WHERE dims = ? AND g[{month + 1}] >= ?",
                [label, f"{start:%Y-%m}"],
            )
            self.store_groups(name, dims, (start, start, LATEST), where)
            return
        if name in self.old:
            self.rows(dims, bounds, new=True)
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE lc_touched AS SELECT DISTINCT {k} FROM lc_rep WHERE {where}"
            )
            touched, groups = con.execute(
                "SELECT (SELECT count(*) FROM lc_touched), (SELECT count(*) FROM rollup_groups WHERE dims = ?)",
                [label],
            ).fetchone()
            if not touched:
                self.kept.add(name)
                return
        if touched and touched * TOUCHED_SHARE <= groups:
            where += (
                " AND EXISTS (SELECT 1 FROM lc_touched t WHERE "
                + " AND ".join(f"t.d{i} IS NOT DISTINCT FROM lc_rep.d{i}" for i in range(len(dims)))
                + ")"
            )
            con.execute(
                f"DELETE FROM rollup_groups WHERE dims = ? AND g IN (SELECT [{k}]::VARCHAR[] FROM lc_touched)",
                [label],
            )
        else:  # most groups touched: filtering the requests by them costs more than it leaves out
            con.execute("DELETE FROM rollup_groups WHERE dims = ?", [label])
        self.store_groups(name, dims, bounds, where)

    def store_groups(
        self, name: str, dims: list[str], bounds: tuple[Any, Any, Any] | None, where: str
    ) -> None:
        """GROUP_STATS over the requests in BOUNDS that meet WHERE, into rollup_groups."""
        con, label = self.con, name.removeprefix("group:")
        k = ", ".join(f"d{i}" for i in range(len(dims)))
        self.rows(dims, bounds)
        on = " AND ".join(f"q.d{i} IS NOT DISTINCT FROM t.d{i}" for i in range(len(dims)))
        con.execute(GROUP_STATS.format(
            name="lc_gstats", q=GROUP_Q.format(k=k, where=where), t=GROUP_T.format(k=k, where=where), on=on,
        ))  # fmt: skip
        con.execute(
            f"INSERT INTO rollup_groups SELECT ?, [{k}]::VARCHAR[], q, lat_q, tasks FROM lc_gstats",
            [label],
        )
        self.written.append(name)

    def tasks(self, key: str, bounds: tuple[Any, Any, Any] | None) -> None:
        """The task tables (Rollups.tasks) over every request (KEY "") or a window of whole months: per
        feature with its total row, which is the table without features (`tasks:all`)."""
        kinds = [f"tasks:feature{key}", f"tasks:prev{key}" if key else "tasks:all"]
        if all(k in self.old for k in kinds) and not self.touched(bounds):
            self.kept.update(kinds)
            return
        con = self.con
        self.rows((), bounds)
        cur = con.execute(_tasks_sql("sel AND NOT prev", True))
        records = cur.fetchall()
        tables = {kinds[0]: records}
        if key:
            tables[kinds[1]] = con.execute(_tasks_sql("sel AND prev", False)).fetchall()
        else:  # the total row, first
            tables[kinds[1]] = records[:1]
        for kind, rows in tables.items():
            con.execute("DELETE FROM rollup_tasks WHERE kind = ?", [kind])
            if rows:
                marks = ", ".join("?" * (len(rows[0]) + 2))
                con.executemany(
                    f"INSERT INTO rollup_tasks VALUES ({marks})",
                    [[kind, i, *rec] for i, rec in enumerate(rows)],
                )
            self.written.append(kind)

    def stamp(self, current: Rollups) -> None:
        """Every rollup written or kept under the new data version; the others deleted."""
        con = self.con
        names = sorted({*self.written, *self.kept})
        con.execute(
            "DELETE FROM rollup_groups WHERE NOT list_contains(?::VARCHAR[], 'group:' || dims)",
            [names],
        )
        con.execute("DELETE FROM rollup_tasks WHERE NOT list_contains(?::VARCHAR[], kind)", [names])
        con.execute("DELETE FROM report_rollups")
        con.execute(
            "INSERT INTO report_rollups SELECT unnest(?::VARCHAR[]), ?, ?, now()::TIMESTAMP",
            [names, current.version, current.sha],
        )
        con.execute("DELETE FROM rollup_versions")
        con.execute(
            "INSERT INTO rollup_versions VALUES (?, ?, ?, ?, ?)", [current.version, *current.parts]
        )


def _key_bounds(key: str) -> tuple[Any, Any, Any]:
    """The bounds of a window key "@YYYY-MM/YYYY-MM/YYYY-MM" (_months_key)."""
    start, since, until = (datetime.strptime(p, "%Y-%m") for p in key.removeprefix("@").split("/"))
    return start, since, until


def _drop_temp(con: Any, name: str) -> None:
    """Drop temp table or view `name`: lc_rep and lc_fine are either, from one report to the next."""
    found = con.execute(
        "SELECT 'TABLE' FROM duckdb_tables() WHERE temporary AND table_name = ? "
        "UNION ALL SELECT 'VIEW' FROM duckdb_views() WHERE temporary AND view_name = ?",
        [name, name],
    ).fetchall()
    for (kind,) in found:
        con.execute(f"DROP {kind} {name}")


def _rollups_for(
    con: Any, prices: pricing.PriceTable, by: list[str], filters: list[Filter]
) -> Rollups | None:
    """The rollups when this report's shape can use them (before the window is known)."""
    import duckdb

    if filters or any(SYNONYMS.get(b, b) not in ROLLUP_DIMS for b in by):
        return None
    try:
        return Rollups(con, prices)
    except duckdb.CatalogException:  # a connection that did not migrate the store: no rollup tables
        return None


# ---------------------------------------------------------------- run rate

RUN_RATE_METHOD = (
    "linear: month-to-date cost / elapsed time x the month's length, as of now (or the last request, when later)"
    " or the window's end, whichever is earlier"
)


def run_rate(con: Any, win: Window) -> dict[str, Any] | None:
    """Month-to-date and projected month-end cost of the month of the window's last request (from lc_fine)."""
    month = con.execute(
        "SELECT max(month) FROM lc_fine WHERE sel AND NOT prev AND n_requests > 0"
    ).fetchone()[0]
    if month is None:
        return None
    start = datetime(month.year, month.month, 1)
    end = add_months(start, 1)
    begin = max(start, win.since) if win.since is not None else start
    # requests dated after now (a clock ahead of ours) count as elapsed time, not as a projection
    wsql, wparams = win.sql()
    last = con.execute(f"SELECT max(ts) FROM requests WHERE {wsql}", wparams).fetchone()[0]
    as_of = min(x for x in (max(now(), last or now()), win.until, end) if x is not None)
    mtd = con.execute(
        f"SELECT {F_SUM_COST} FROM lc_fine WHERE sel AND NOT prev AND month = ?", [month]
    ).fetchone()[0]
    elapsed = (as_of - begin).total_seconds()
    if elapsed <= 0:
        return None
    complete = as_of >= end
    span = (end - begin).total_seconds()
    projected = None if mtd is None else (float(mtd) if complete else float(mtd) * span / elapsed)
    return {
        "month": start.strftime("%Y-%m"), "from": begin, "as_of": as_of, "complete": complete,
        "elapsed_days": elapsed / 86400, "month_days": span / 86400,
        "month_to_date_usd": mtd, "projected_month_usd": projected, "method": RUN_RATE_METHOD,
    }  # fmt: skip


# ---------------------------------------------------------------- report


def report(
    con: Any,
    prices: pricing.PriceTable,
    *,
    by: list[str],
    window: Window,
    where: list[Filter] | None = None,
    allocate: str = "requests",
    targets: dict[str, Any] | None = None,
    generated_at: datetime | None = None,
) -> ReportResult:
    """The P&L. With `by`: one row per group (SPEC §8). Without: the unit-economics summary, this
    window beside the previous one, with the per-month, per-feature, task, user and customer views."""
    if allocate not in ALLOCATIONS:
        raise LlmcostError(
            f"unknown --allocate {allocate!r}", hint="choose requests, cost or equal"
        )
    preload_polars()  # the frames' library, imported while the first queries run
    filters = where or []
    check_attrs(con, by)
    target_rules = parse_targets(targets or {})
    rollups = _rollups_for(con, prices, by, filters)
    pricing.install(con, prices)
    install_names(con, prices)
    win = effective_window(con, window)
    summary_mode = not by
    has_span = win.since is not None and win.until is not None and win.since < win.until
    prev_win = win.previous() if summary_mode and has_span else None
    if rollups is not None and not rollups.serve(win, prev_win):
        rollups = None
    has_revenue = _has_revenue(con, win, prev_win)
    wsql, wparams = where_sql(filters)
    dims = [dimension_sql(b) for b in by]
    dim_cols = "".join(f", {d} AS d{i}" for i, d in enumerate(dims))
    start = prev_win.since if prev_win else win.since
    # Without revenue no allocation denominators are needed, so the filter can prune rows right away.
    prefilter = "" if has_revenue or not filters else f"AND ({wsql})"
    bounds = [win.since, start or datetime(1, 1, 1), win.until or datetime(1, 1, 1)]
    sql = MATERIALISE.format(
        kind="TABLE" if filters else "VIEW", where=wsql, dims=dim_cols, prefilter=prefilter,
        cost=pricing.cost_usd_sql(), units=pricing.cost_units_sql(),
        **dict(zip(("prev", "start", "until"), ("?" if filters else _ts_literal(b) for b in bounds), strict=True)),
    )  # fmt: skip
    params = (
        [bounds[0], *wparams, *bounds[1:], *(wparams if prefilter else [])] if filters else None
    )

    def select_rows() -> None:
        pricing.register_units(con)
        _drop_temp(con, "lc_rep")
        con.execute(sql, params)

    if rollups is not None:  # lc_rep only when a rollup has to be built (or for the HTML charts)
        rollups.select_rows = select_rows
        rollups.fine(by)
    else:
        select_rows()
        _drop_temp(con, "lc_fine")
        con.execute(FINE.format(dims="".join(f", d{i}" for i in range(len(by)))))

    if has_revenue:
        revenue_rule.install(con, win, prev_win)
        con.execute(ALLOC)
    alloc = allocate if has_revenue else None

    cur = con.execute(PERIOD_TOTALS)
    names = [c[0] for c in cur.description]
    per = {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
    for prev, customers in con.execute(PERIOD_CUSTOMERS).fetchall():
        per[prev]["customers"] = customers
    if False in per:
        per[False]["users"] = 0  # this period's: from the user-months, below
    if True in per:
        per[True]["users"] = con.execute(PREV_USERS).fetchone()[0]
    cur_t = per.get(False) or {}
    task_rows = _tasks(con, "sel AND NOT prev", by_feature=summary_mode, rollups=rollups)
    distribution, users = _distribution(con, task_rows, summary=summary_mode)
    if cur_t:  # the (all) task row and lc_um hold this period's distinct tasks and users
        cur_t["tasks"] = task_rows[0]["tasks"]
        cur_t["users"] = users
    coverage = Coverage(
        cur_t.get("requests", 0), cur_t.get("priced", 0), cur_t.get("requests", 0) - cur_t.get("priced", 0),
        list(cur_t.get("unpriced_models") or []), _no_cache_counts(con, win, filters),
    )  # fmt: skip
    coverage.fallback, coverage.fallback_models = _fallback(con, rollups)
    total_cost = cur_t.get("cost")
    revenue = _revenue_total(con, filters, alloc, prev=False) if has_revenue else None
    totals: dict[str, Any] = {
        "requests": coverage.requests, "tasks": cur_t.get("tasks", 0), "users": cur_t.get("users", 0),
        "customers": cur_t.get("customers", 0), "cost_usd": total_cost,
        "revenue_usd": revenue, "margin_usd": None, "margin_pct": None,
    }  # fmt: skip
    if revenue is not None:
        _margin(totals, revenue, total_cost)
        totals.pop("cost_pct_of_revenue", None)

    rows: Any = []
    if by:
        full = by in (["customer"], ["customer_id"]) and has_revenue and not filters
        rows = _group_frame(
            con,
            by,
            [f"d{i}" for i in range(len(by))],
            alloc,
            total_cost,
            rollups,
            full_revenue=full,
        )
    extra: list[Table] = []
    if by == ["plan"] and has_revenue:
        rows = frame_dicts(rows)  # the break-even fields join each plan's row
        extra.append(_breakeven(con, rows, target_rules))

    drift_logged = _num(cur_t.get("logged_usd"))
    first, last = con.execute("SELECT min(ts), max(ts) FROM requests").fetchone()
    revenue_rows = con.execute("SELECT count(*) FROM revenue").fetchone()[0]
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "generated_at": generated_at or now(),
        "pricing": {"files": prices.files, "sha256": prices.sha256},
        "window": {"since": win.since, "until": win.until},
        "data": {"first_request": first, "last_request": last, "revenue_rows": revenue_rows},
        "filters": [f.text() for f in filters],
        "coverage": {
            "requests": coverage.requests,
            "priced": coverage.priced,
            "unpriced": coverage.unpriced,
            "unpriced_models": coverage.unpriced_models,
            "fallback": coverage.fallback,
            "fallback_models": coverage.fallback_models,
            **({"no_cache_counts": coverage.no_cache_counts} if coverage.no_cache_counts else {}),
            "logged_cost": {
                "requests": cur_t.get("logged_n", 0),
                "logged_usd": drift_logged,
                "computed_usd": cur_t.get("computed_usd"),
                "drift_usd": None
                if drift_logged is None
                else float(cur_t.get("computed_usd") or 0) - float(drift_logged),
                "drift_pct": None
                if drift_logged is None
                else _div(
                    float(cur_t.get("computed_usd") or 0) - float(drift_logged), drift_logged, 100
                ),
            },
        },
        "totals": totals,
        "by": by,
        "rows": rows,
        "distribution": distribution,
        "allocation": {
            "rule": allocate,
            "text": ALLOC_TEXT[allocate],
            "unallocated_usd": _unallocated(con, has_revenue, filters),
        },
    }
    if summary_mode:
        doc["run_rate"] = run_rate(con, win)
        _fill_summary(
            con, doc, per, prev_win, alloc, filters, task_rows, target_rules, has_revenue, rollups
        )
    return ReportResult(
        doc=doc, by=by, rows=rows, coverage=coverage, extra_tables=extra,
        rows_sql=rollups.rows if rollups else None,
    )  # fmt: skip


def _breakeven(
    con: Any, rows: list[dict[str, Any]], targets: dict[str, tuple[str, float]]
) -> Table:
    """Per plan: revenue, cost and tokens per active user-month, and the cost and tokens a user-month may
    reach at the target gross margin ([targets] min_gross_margin_pct; 0 %, break-even, without one)."""
    target = targets.get("gross_margin_pct")
    margin = target[1] if target and target[0] == "min" else 0.0
    per = {
        plan: (um, tokens)
        for plan, um, tokens in con.execute(
            """SELECT d0, count(DISTINCT (user_id, month)) FILTER (WHERE user_id IS NOT NULL), sum(in_t + out_t)
               FROM lc_fine WHERE sel AND NOT prev GROUP BY d0"""
        ).fetchall()
    }
    for row in rows:
        um, tokens = per.get(row["plan"], (0, 0))
        cost = float(row["cost_usd"]) if row.get("cost_usd") is not None else None
        rev = _div(row.get("revenue_usd"), um)
        allowed = None if rev is None else rev * (1 - margin / 100)
        per_token = _div(cost, tokens)
        row.update(
            user_months=um, target_margin_pct=margin, revenue_per_user_month_usd=rev,
            cost_per_user_month_usd=_div(cost, um), tokens_per_user_month=_div(tokens, um),
            breakeven_cost_per_user_month_usd=allowed,
            breakeven_tokens_per_user_month=None if allowed is None or not per_token else allowed / per_token,
        )  # fmt: skip
    cols = [
        _c("plan"), _c("user_months", "user-months", "int"), _c("revenue_per_user_month_usd", "revenue/um", "usd"),
        _c("cost_per_user_month_usd", "cost/um", "usd"), _c("tokens_per_user_month", "tokens/um", "num"),
        _c("breakeven_cost_per_user_month_usd", "max cost/um", "usd"),
        _c("breakeven_tokens_per_user_month", "max tokens/um", "num"),
    ]  # fmt: skip
    note = (
        f"max: what a user-month may cost (and use, at the plan's cost per token) for a {margin:g}% gross margin"
        + ("" if target else " (no min_gross_margin_pct in the targets section: break-even)")
    )
    return Table("break-even per active user-month (um) by plan", cols, rows, note=note)


def _ts_literal(value: datetime | None) -> str:
    """A window bound written into the lc_rep view; it comes from a parsed datetime, never from user text."""
    return "NULL::TIMESTAMP" if value is None else f"TIMESTAMP '{value.isoformat(sep=' ')}'"


def _unallocated(con: Any, has_revenue: bool, filters: list[Filter]) -> float | None:
    """Revenue of customer-months in the window with no request: it reaches the totals but no group's row."""
    if not has_revenue or filters:
        return None
    row = con.execute(
        """SELECT sum(revenue) FROM lc_rev r WHERE NOT prev AND NOT EXISTS
           (SELECT 1 FROM lc_alloc a WHERE NOT a.prev AND a.customer_id = r.customer_id AND a.month = r.month)"""
    ).fetchone()
    return _num(row[0] or 0)


def _has_revenue(con: Any, win: Window, prev: Window | None) -> bool:
    if win.since is None or win.until is None:
        return False
    lo = prev.since if prev else win.since
    row = con.execute(
        "SELECT count(*) FROM revenue WHERE month < ? AND month + INTERVAL 1 MONTH > ?",
        [win.until, lo],
    ).fetchone()
    return bool(row[0])


def _revenue_total(
    con: Any, filters: list[Filter], alloc: str | None, *, prev: bool
) -> float | None:
    """All prorated revenue of the window; with a --where filter, only what is allocated to the selected requests."""
    n, total = con.execute(
        "SELECT count(*), coalesce(sum(revenue), 0) FROM lc_rev WHERE prev = ?", [prev]
    ).fetchone()
    if not n:
        return None  # no revenue loaded for this period: margins are unknown, not 100 % or -100 %
    if not filters:
        return _num(total)
    assert alloc is not None
    where = f"sel AND prev = {'true' if prev else 'false'}"
    row = con.execute(
        f"SELECT sum(revenue) FROM ({_group_sql(['prev'], alloc, where=where)})"
    ).fetchone()
    return _num(row[0] or 0)


def _tasks(
    con: Any, where: str, *, by_feature: bool = True, rollups: Rollups | None = None
) -> list[dict[str, Any]]:
    if rollups is not None:  # over every request: `where` is this period's rows, all of them
        return rollups.tasks(by_feature)
    cur = con.execute(_tasks_sql(where, by_feature))
    return _task_rows([c[0] for c in cur.description], cur.fetchall())


def _tasks_sql(where: str, by_feature: bool) -> str:
    if by_feature:
        head, group = (
            "feature, grouping(feature) AS is_total",
            "GROUP BY GROUPING SETS ((feature), ())",
        )
    else:
        head, group = "NULL AS feature, 1 AS is_total", ""
    return TASKS.format(
        where=where,
        q=QUANTILES,
        head=head,
        group=group,
        sum_d=SUM_D,
        cost_d=COST_D,
        sum_cost=SUM_COST,
    )


def _task_rows(cols: list[str], records: list[Any]) -> list[dict[str, Any]]:
    out = []
    for rec in records:
        r = dict(zip(cols, rec, strict=True))
        q = r["q"] or [None, None, None]
        out.append({
            "feature": "(all)" if r["is_total"] else r["feature"], "tasks": r["tasks"], "successful": r["successful"],
            "success_pct": _div(r["successful"], r["tasks"], 100), "cost_usd": r["cost"],
            "cost_per_task_usd": _div(r["cost"], r["priced_tasks"]),
            "cost_per_successful_task_usd": _div(r["cost"], r["successful"]),
            "p50_task_usd": q[0], "p90_task_usd": q[1], "p99_task_usd": q[2], "mean_steps": _num(r["mean_steps"]),
            "context_growth_ratio": _num(r["growth_ratio"]), "context_growth_tokens_per_step": _num(r["growth_tokens"]),
        })  # fmt: skip
    return out


def _distribution(
    con: Any, task_rows: list[dict[str, Any]], *, summary: bool
) -> tuple[dict[str, Any], int]:
    """The cost per user-month and per task, and how concentrated the users' cost is; and how
    many distinct users lc_um holds (one per row of their totals)."""
    con.execute(USER_MONTHS.format(customer=", min(customer_id) AS customer_id" if summary else ""))
    um = con.execute(
        f"SELECT quantile_cont(CAST(cost AS DOUBLE), {QUANTILES}) FROM lc_um"
    ).fetchone()[0]
    # each user's DECIMAL total as a DOUBLE through its text: correctly rounded, as float(Decimal) is,
    # without a Python value per user
    users = fetch_frame(
        con, "SELECT CAST(CAST(sum(cost) AS VARCHAR) AS DOUBLE) AS c FROM lc_um GROUP BY user_id"
    )
    conc = concentration_of(users.get_column("c"))
    total = task_rows[0] if task_rows else {}
    return {
        "cost_per_user_month_usd": _quant(um),
        "cost_per_task_usd": {
            "p50": total.get("p50_task_usd"),
            "p90": total.get("p90_task_usd"),
            "p99": total.get("p99_task_usd"),
        },
        "top_share": {f"top_{p}pct": conc[f"top_{p}pct"] for p in TOP_SHARES},
        "gini": conc["gini"],
    }, users.height


def _fill_summary(
    con: Any, doc: dict[str, Any], per: dict[bool, dict[str, Any]], prev_win: Window | None, alloc: str | None,
    filters: list[Filter], task_rows: list[dict[str, Any]], targets: dict[str, tuple[str, float]], has_revenue: bool,
    rollups: Rollups | None = None,
) -> None:  # fmt: skip
    cur_t, prev_t = per.get(False) or {}, per.get(True) or {}
    revenue = doc["totals"]["revenue_usd"]
    prev_rev = _revenue_total(con, filters, alloc, prev=True) if has_revenue and prev_win else None
    total = task_rows[0] if task_rows else {}
    prev_tasks = (
        []
        if not prev_t
        else rollups.tasks(False, prev=True)
        if rollups is not None
        else _tasks(con, "sel AND prev", by_feature=False)
    )
    prev_total = prev_tasks[0] if prev_tasks else {}
    cur_m = _period_metrics(
        con, cur_t, False, revenue, (total.get("cost_usd"), total.get("successful") or 0)
    )
    prev_m = (
        _period_metrics(
            con,
            prev_t,
            True,
            prev_rev,
            (prev_total.get("cost_usd"), prev_total.get("successful") or 0),
        )
        if prev_t
        else {}
    )
    doc["previous_window"] = (
        {"since": prev_win.since, "until": prev_win.until} if prev_win else None
    )
    doc["summary"] = _summary(cur_m, prev_m, targets)
    doc["tasks"] = task_rows
    doc["features"] = _group_frame(
        con, ["feature"], ["feature"], alloc, doc["totals"]["cost_usd"], rollups
    )
    doc["months"] = _months(con, has_revenue, filters, alloc)
    doc["models"] = _models(con, doc["totals"]["cost_usd"], doc["totals"]["requests"])
    users = fetch_frame(con, "SELECT sum(cost)::DOUBLE AS c FROM lc_um GROUP BY user_id")
    doc["concentration"] = concentration_of(users.get_column("c"))
    doc["p90_users"] = _p90_users(con, alloc, rollups)
    doc["customers"] = _customers(con, has_revenue, filters, alloc, rollups)


def _months(
    con: Any, has_revenue: bool, filters: list[Filter], alloc: str | None
) -> list[dict[str, Any]]:
    rev: dict[Any, float] = {}
    if has_revenue:
        if filters:
            cur = con.execute(f"SELECT month, revenue FROM ({_group_sql(['month'], alloc)})")
        else:
            cur = con.execute("SELECT month, sum(revenue) FROM lc_rev WHERE NOT prev GROUP BY ALL")
        rev = {m: round(float(v or 0), 9) for m, v in cur.fetchall()}
    found = con.execute(
        f"""WITH m AS (SELECT month, sum(n_requests) AS requests, {F_SUM_COST} AS cost FROM lc_fine WHERE sel AND NOT prev GROUP BY month),
                 u AS (SELECT month, count(*) AS active, quantile_cont(CAST(cost AS DOUBLE), {QUANTILES}) AS q
                       FROM lc_um GROUP BY month)
            SELECT m.month, m.requests, m.cost, coalesce(u.active, 0), u.q FROM m LEFT JOIN u USING (month) ORDER BY m.month"""
    ).fetchall()
    out = []
    for month, n, cost, active, q in found:
        q = q or [None, None, None]
        row: dict[str, Any] = {
            "month": month.strftime("%Y-%m"), "requests": n, "cost_usd": cost, "active_users": active,
            "cost_per_active_user_usd": _div(cost, active), "p50_user_usd": q[0], "p90_user_usd": q[1], "p99_user_usd": q[2],
        }  # fmt: skip
        if has_revenue:
            _margin(row, rev.get(month, 0.0), cost)
        out.append(row)
    return out


def _models(con: Any, total_cost: Any, total_n: int) -> list[dict[str, Any]]:
    found = con.execute(
        f"""SELECT model, min(tier), sum(n_requests) AS n, {F_SUM_COST} AS cost, bool_and(priced),
                  fsum(logged) FILTER (WHERE priced), {_fsum_cost("_logged")}
           FROM lc_fine WHERE sel AND NOT prev
           GROUP BY model ORDER BY cost DESC NULLS LAST, n DESC, model"""
    ).fetchall()
    # The logged cost is a DOUBLE summed in no fixed order: drift is taken from its 1e-9 rounding, as in the
    # totals, so it does not change from run to run.
    return [
        {"model": m, "tier": tier, "requests": n, "requests_pct": _div(n, total_n, 100), "cost_usd": cost,
         "share_pct": _div(cost, total_cost, 100) if cost is not None else None, "priced": "yes" if priced else "no",
         "logged_usd": _num(logged), "computed_usd": computed,
         "drift_pct": _drift_pct(computed, _num(logged))}
        for m, tier, n, cost, priced, logged, computed in found
    ]  # fmt: skip


def _drift_pct(computed: Any, logged: float | None) -> float | None:
    return None if logged is None else _div(float(computed or 0) - logged, logged, 100)


def _p90_users(con: Any, alloc: str | None, rollups: Rollups | None = None) -> dict[str, Any]:
    """Users whose cost reaches the P90 of user totals, costliest first, with their customer."""
    row = con.execute(
        "SELECT quantile_cont(c, 0.9) FROM (SELECT sum(cost)::DOUBLE AS c FROM lc_um GROUP BY user_id) WHERE c IS NOT NULL"
    ).fetchone()
    threshold = row[0]
    if threshold is None:
        return {"threshold_usd": None, "users": []}
    # the users at or above it, filtered in SQL: a tenth of the rows are fetched
    rows = _group_frame(
        con, ["user"], ["user_id"], alloc, None, rollups, min_cost=threshold - 1e-12
    )
    owners = fetch_frame(
        con, "SELECT user_id AS user, min(customer_id) AS customer FROM lc_um GROUP BY user_id"
    )
    top = rows.join(owners, on="user", how="left", maintain_order="left")
    cols = ["user", "customer", "requests", "cost_usd"]
    if alloc:
        cols += ["revenue_usd", "margin_usd", "margin_pct", "cost_pct_of_revenue"]
    return {"threshold_usd": threshold, "users": top.select(cols)}


def _customers(
    con: Any,
    has_revenue: bool,
    filters: list[Filter],
    alloc: str | None,
    rollups: Rollups | None = None,
) -> pl.DataFrame:
    """Per customer over the window: cost, users, revenue (0 when it has none), margin; under water when
    cost > revenue. Lowest margin first."""
    import polars as pl

    full = has_revenue and not filters
    rows = _group_frame(con, ["customer"], ["customer_id"], alloc, None, rollups, full_revenue=full)
    rev_plans = (
        "SELECT customer_id, min(plan) AS plan FROM lc_rev WHERE plan IS NOT NULL GROUP BY ALL"
        if has_revenue
        else "SELECT NULL::VARCHAR AS customer_id, NULL::VARCHAR AS plan WHERE false"
    )
    plans = fetch_frame(
        con,
        f"""WITH f AS (SELECT customer_id, min(plan) AS plan FROM lc_fine WHERE plan IS NOT NULL GROUP BY ALL),
                 r AS ({rev_plans})
            SELECT customer_id AS customer, coalesce(r.plan, f.plan) AS plan
            FROM f FULL JOIN r USING (customer_id) WHERE customer_id IS NOT NULL""",
    )
    out = rows.filter(pl.col("customer").is_not_null()).join(
        plans, on="customer", how="left", maintain_order="left"
    )
    cols: list[Any] = [
        "customer", "requests", pl.col("users").fill_null(0), "cost_usd", "plan",
    ]  # fmt: skip
    if has_revenue:
        cols += ["revenue_usd", "margin_usd", "margin_pct", "cost_pct_of_revenue"]
        under = pl.col("cost_usd").fill_null(0.0) > pl.col("revenue_usd").fill_null(0.0)
    else:
        under = pl.lit(False)
    out = out.select(*cols, under.alias("under_water"))
    # lowest margin first (none: 0), then by name; + 0.0 makes -0.0 sort as 0, as Python compares them
    if not has_revenue:
        return out.sort("customer", maintain_order=True)
    return out.sort(
        pl.col("margin_usd").fill_null(0.0) + 0.0, pl.col("customer"), maintain_order=True
    )
