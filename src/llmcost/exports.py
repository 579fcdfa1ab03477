"""Provider exports after ingest: price the `usage` table, report on it, reconcile it with the
request logs and the bill. Named SQL beside the Python that fills it; no printing.

Usage rows are priced with the same price rows and cost expression as requests, at the bucket
start. One difference: a bucket sums many requests, so its input total says nothing about the
long-context tier; the tier comes from the export's `context_window` instead (`long_context`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from llmcost import pricing
from llmcost.documents import Column, Table, fetch_frame, materialise
from llmcost.errors import LlmcostError
from llmcost.metrics import group_order
from llmcost.query import now
from llmcost.values import fmt_usd_terms, fmt_value, fmt_window

REPORT_SCHEMA = "llmcost.report/1"
RECONCILE_SCHEMA = "llmcost.reconcile/1"
USAGE_PRICES = "lc_usage_prices"
PRICED_USAGE = "priced_usage"
PERIODS = {"day": ("day", "%Y-%m-%d"), "month": ("month", "%Y-%m")}

# --by for `report --source exports`: name -> SQL over priced_usage
DIMENSIONS: dict[str, str] = {
    # the price-table model, as report --by model groups requests (lc_model_keys)
    "model": "coalesce((SELECT k.key FROM lc_model_keys k WHERE k.name = model), model)",
    "provider": "provider",
    "project": "project",
    "workspace": "workspace",
    "api_key": "api_key",
    "user": "user_id",
    "service_tier": "service_tier",
    "batch": "batch",
    "tier": "tier",
    "source": "source_kind",
    "day": "strftime(date_trunc('day', bucket_start), '%Y-%m-%d')",
    "week": "strftime(date_trunc('week', bucket_start), '%Y-%m-%d')",
    "month": "strftime(date_trunc('month', bucket_start), '%Y-%m')",
}
SYNONYMS = {
    "project_id": "project",
    "workspace_id": "workspace",
    "api_key_id": "api_key",
    "user_id": "user",
}


def install_usage(con: Any, table: pricing.PriceTable) -> None:
    """Price rows for every model in the usage table and the `priced_usage` view over it."""
    keys = pricing.request_keys(con, "usage")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {USAGE_PRICES} ({pricing.PRICE_COLUMNS})")
    rows = pricing.price_rows(table, keys)
    if rows:
        con.executemany(f"INSERT INTO {USAGE_PRICES} VALUES ({pricing.PRICE_MARKS})", rows)
    # long_threshold -1 makes cost_sql take the long rates for a long-context row, NULL the base ones
    con.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW {PRICED_USAGE} AS
        WITH j AS (
            SELECT u.*, p.model_id, p.price_provider, p.tier,
                   p.r_input, p.r_output, p.r_cache_read, p.r_cache_write, p.r_cache_write_1h, p.batch_factor,
                   CASE WHEN u.long_context AND p.long_threshold IS NOT NULL THEN -1 END AS long_threshold,
                   p.l_input, p.l_output, p.l_cache_read, p.l_cache_write, p.l_cache_write_1h
            FROM usage u
            LEFT JOIN {USAGE_PRICES} p
              ON p.model = u.model AND p.host = coalesce(u.provider, '') AND u.bucket_start >= p.valid_from AND u.bucket_start < p.valid_to
        )
        SELECT j.* EXCLUDE (r_input, r_output, r_cache_read, r_cache_write, r_cache_write_1h, batch_factor,
                            long_threshold, l_input, l_output, l_cache_read, l_cache_write, l_cache_write_1h),
               j.model_id AS price_model, {pricing.cost_sql("j", "j")} AS cost_usd
        FROM j
        """
    )


def has_requests(con: Any) -> bool:
    return con.execute("SELECT EXISTS (SELECT 1 FROM requests)").fetchone()[0] is True


def default_source(con: Any) -> str:
    """`report` reads the request logs, or the usage exports when the database holds no request logs."""
    if has_requests(con):
        return "requests"
    return (
        "exports"
        if con.execute("SELECT EXISTS (SELECT 1 FROM usage)").fetchone()[0]
        else "requests"
    )


def _window_sql(window: Any, column: str) -> tuple[str, list[Any]]:
    if window is None:
        return "TRUE", []
    where, params = window.sql(column)
    return where, list(params)


def _meta(prices: pricing.PriceTable, window: Any, generated_at: datetime | None) -> dict[str, Any]:
    return {
        "generated_at": generated_at or now(),
        "pricing": {"files": prices.files, "sha256": prices.sha256},
        "window": {
            "since": getattr(window, "since", None),
            "until": getattr(window, "until", None),
        },
    }


# ---------------------------------------------------------------- report --source exports


DEFAULT_BY = ("provider", "model")


def parse_by(text: str | None) -> list[str]:
    names = [part.strip() for part in (text or "").split(",") if part.strip()]
    for name in names:
        if SYNONYMS.get(name, name) not in DIMENSIONS:
            raise LlmcostError(
                f"unknown --by dimension {name!r} for --source exports",
                hint=f"usage exports have no per-request fields; choose from: {', '.join(DIMENSIONS)}",
            )
    return names


@dataclass
class ExportsReport:
    doc: dict[str, Any]
    by: list[str]
    rows: list[dict[str, Any]]
    extra_tables: list[Table] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return self.doc

    def headline(self) -> list[str]:
        t, c, w = self.doc["totals"], self.doc["coverage"], self.doc["window"]
        requests = "—" if t["requests"] is None else f"{t['requests']:,}"
        cov = f"coverage: {c['priced']:,} of {c['usage_rows']:,} usage rows priced"
        if c["unpriced"]:
            models = ", ".join(m or "(no model)" for m in c["unpriced_models"])
            cov += f"; {c['unpriced']:,} unpriced ({models}) — see `llmcost prices check`"
        return [
            f"source: provider usage exports   window: {fmt_window(w['since'], w['until'])}",
            f"requests {requests}   input tokens {t['input_tokens']:,}   output tokens {t['output_tokens']:,}   "
            f"cost {fmt_value(t['cost_usd'], 'usd')}",
            cov,
            f"prices: {len(self.doc['pricing']['files'])} files, sha256 {self.doc['pricing']['sha256'][:12]}",
        ]

    def tables(self) -> list[Table]:
        cols = [Column(name) for name in self.by] + [
            Column("requests", "requests", "int"),
            Column("input_tokens", "input tok", "int"),
            Column("cache_read_tokens", "cache read", "int"),
            Column("output_tokens", "output tok", "int"),
            Column("cost_usd", "cost", "usd"),
            Column("share_pct", "share", "pct"),
        ]
        title = "usage exports by " + ", ".join(self.by) if self.by else "usage exports"
        return [Table(title, cols, self.rows), *self.extra_tables]


_SUMS = """sum(requests) AS requests, sum(input_tokens) AS input_tokens, sum(cache_read_tokens) AS cache_read_tokens,
           sum(output_tokens) AS output_tokens, sum(cost_usd) AS cost_usd"""
_SUM_KEYS = ("requests", "input_tokens", "cache_read_tokens", "output_tokens", "cost_usd")


def report(
    con: Any,
    prices: pricing.PriceTable,
    *,
    by: list[str],
    window: Any = None,
    generated_at: datetime | None = None,
) -> ExportsReport:
    """The usage exports grouped by `by` (see DIMENSIONS; by provider and model when not given),
    priced at their bucket start."""
    by = by or list(DEFAULT_BY)
    install_usage(con, prices)
    _model_keys(con, prices)
    where, params = _window_sql(window, "bucket_start")
    n, priced, unpriced_models = con.execute(
        f"SELECT count(*), count(price_model), list(DISTINCT model ORDER BY model) FILTER (WHERE price_model IS NULL) "
        f"FROM {PRICED_USAGE} WHERE {where}",
        params,
    ).fetchone()
    tot = con.execute(f"SELECT {_SUMS} FROM {PRICED_USAGE} WHERE {where}", params).fetchone()
    totals = {
        k: (v if v is not None or k in ("requests", "cost_usd") else 0)
        for k, v in zip(_SUM_KEYS, tot, strict=True)
    }
    rows: list[dict[str, Any]] = []
    if by:
        dims = [DIMENSIONS[SYNONYMS.get(b, b)] for b in by]
        select = ", ".join(f"{d} AS d{i}" for i, d in enumerate(dims))
        group = ", ".join(f"d{i}" for i in range(len(dims)))
        for rec in con.execute(
            f"SELECT {select}, {_SUMS} FROM {PRICED_USAGE} WHERE {where} "
            f"GROUP BY {group} ORDER BY {group_order(by, [f'd{i}' for i in range(len(by))], 'cost_usd')}",
            params,
        ).fetchall():
            row = {name: rec[i] for i, name in enumerate(by)}
            row.update(zip(_SUM_KEYS, rec[len(by) :], strict=True))
            cost, total = row["cost_usd"], totals["cost_usd"]
            row["share_pct"] = (cost / total * 100) if cost is not None and total else None
            rows.append(row)
    doc = {
        "schema": REPORT_SCHEMA,
        "source": "exports",
        **_meta(prices, window, generated_at),
        "coverage": {
            "usage_rows": n,
            "priced": priced,
            "unpriced": n - priced,
            "unpriced_models": unpriced_models or [],
        },
        "totals": totals,
        "by": by,
        "rows": rows,
    }
    return ExportsReport(doc=doc, by=by, rows=rows)


# ---------------------------------------------------------------- reconcile


@dataclass
class ReconcileResult:
    doc: dict[str, Any]  # the document, its rows a polars frame (RECONCILE_ROWS)

    def to_json(self) -> dict[str, Any]:
        """The document as plain values (the rows as a list of dicts)."""
        out: dict[str, Any] = materialise(self.doc)
        return out

    def document(self) -> dict[str, Any]:
        """The document with its rows as a frame, for the writers."""
        return self.doc

    def headline(self) -> list[str]:
        t = self.doc["totals"]
        lines = [
            f"reconcile by {self.doc['by']}: request logs {fmt_value(t['logged_cost_usd'], 'usd')}   "
            f"usage exports {fmt_value(t['usage_cost_usd'], 'usd')}   billed {fmt_value(t['billed_cost_usd'], 'usd')}",
        ]
        if t["billed_cost_usd"] is None:
            lines.append(
                "no billed-cost export in the database: ingest an OpenAI costs page or an Anthropic cost_report"
            )
        else:
            share = self.doc["unexplained_share"]
            # the gap only exists where a bill does: print the terms it is the difference of
            billed, logged, gap = fmt_usd_terms(
                t["billed_cost_usd"], t["logged_cost_billed_usd"] or 0, t["gap_usd"]
            )
            lines.append(
                f"periods with a bill: billed {billed} - request logs {logged} = gap {gap}"
            )
            if share is not None:
                lines.append(f"{share * 100:.1f}% of the bill is not explained by the request logs")
            outside = t["logged_cost_unbilled_usd"]
            if outside:
                lines.append(
                    f"request logs in periods with no bill: {fmt_value(outside, 'usd')} (nothing to compare them with)"
                )
        if self.doc["unpriced_requests"]:
            lines.append(
                f"{self.doc['unpriced_requests']:,} logged requests have no price: their cost counts as unexplained"
            )
        return lines

    def tables(self) -> list[Table]:
        cols = [
            Column("period"), Column("provider"), Column("model"),
            Column("requests", "requests", "int"),
            Column("logged_cost_usd", "request logs", "usd"),
            Column("usage_cost_usd", "usage exports", "usd"),
            Column("billed_cost_usd", "billed", "usd"),
            Column("gap_usd", "gap", "usd"),
            Column("gap_pct", "gap % of bill", "pct"),
        ]  # fmt: skip
        note = "gap = billed - request logs: the spend the request logs do not explain; — = no export for that period"
        return [
            Table(
                f"reconcile by {self.doc['by']}, provider, model", cols, self.doc["rows"], note=note
            )
        ]


RECONCILE_SQL = """
WITH
logged AS (
    SELECT strftime(date_trunc('{unit}', r.ts), '{fmt}') AS period, coalesce(r.provider, r.price_provider) AS provider,
           coalesce(k.key, r.model) AS model, count(*) AS requests, count(*) - count(r.price_model) AS unpriced,
           sum(r.cost_usd) AS cost
    FROM priced r LEFT JOIN lc_model_keys k ON k.name = r.model AND k.host = coalesce(r.provider, '')
    WHERE {w_req} GROUP BY ALL),
used AS (
    SELECT strftime(date_trunc('{unit}', u.bucket_start), '{fmt}') AS period, u.provider,
           coalesce(k.key, u.model) AS model, sum(u.requests) AS requests, sum(u.cost_usd) AS cost
    FROM {priced_usage} u LEFT JOIN lc_model_keys k ON k.name = u.model AND k.host = coalesce(u.provider, '')
    WHERE {w_use} GROUP BY ALL),
bill AS (
    SELECT strftime(date_trunc('{unit}', b.period_start), '{fmt}') AS period, b.provider,
           coalesce(k.key, b.model) AS model, sum(b.amount_usd) AS cost
    FROM billed b LEFT JOIN lc_model_keys k ON k.name = b.model AND k.host = coalesce(b.provider, '')
    WHERE {w_bill} GROUP BY ALL),
keys AS (
    SELECT period, provider, model FROM logged UNION SELECT period, provider, model FROM used
    UNION SELECT period, provider, model FROM bill),
billed_cover AS (SELECT DISTINCT period, provider FROM bill),
usage_cover AS (SELECT DISTINCT period, provider FROM used)
SELECT k.period, k.provider, k.model, l.requests, l.unpriced, l.cost,
       CASE WHEN uc.period IS NOT NULL THEN coalesce(u.cost, 0) END AS usage_cost,
       CASE WHEN bc.period IS NOT NULL THEN coalesce(b.cost, 0) END AS billed_cost
FROM keys k
LEFT JOIN logged l ON l.period = k.period AND l.provider IS NOT DISTINCT FROM k.provider
                  AND l.model IS NOT DISTINCT FROM k.model
LEFT JOIN used u ON u.period = k.period AND u.provider IS NOT DISTINCT FROM k.provider
                AND u.model IS NOT DISTINCT FROM k.model
LEFT JOIN bill b ON b.period = k.period AND b.provider IS NOT DISTINCT FROM k.provider
                AND b.model IS NOT DISTINCT FROM k.model
LEFT JOIN billed_cover bc ON bc.period = k.period AND bc.provider IS NOT DISTINCT FROM k.provider
LEFT JOIN usage_cover uc ON uc.period = k.period AND uc.provider IS NOT DISTINCT FROM k.provider
ORDER BY k.period, k.provider NULLS LAST, k.model NULLS LAST
"""


def _model_keys(con: Any, prices: pricing.PriceTable) -> None:
    """Logged, exported and billed (model name, provider) mapped to one key: the price-table id of the
    name at that host when it resolves."""
    names = [
        (r[0], r[1]) for r in con.execute(
            "SELECT model, coalesce(provider, '') FROM requests UNION SELECT model, coalesce(provider, '') FROM usage"
            " UNION SELECT model, coalesce(provider, '') FROM billed"
        ).fetchall() if r[0] is not None
    ]  # fmt: skip
    con.execute(
        "CREATE OR REPLACE TEMP TABLE lc_model_keys (name VARCHAR, host VARCHAR, key VARCHAR)"
    )
    pairs = [(n, h, m.id) for n, h in names if (m := prices.resolve(n, h or None)) is not None]
    if pairs:
        con.executemany("INSERT INTO lc_model_keys VALUES (?, ?, ?)", pairs)


def check_period(by: str) -> None:
    if by not in PERIODS:
        raise LlmcostError(f"unknown --by {by!r} for reconcile", hint="choose day or month")


# The reconcile rows from RECONCILE_SQL's, in SQL. The costs are exact DECIMAL sums; each becomes a
# DOUBLE through its decimal text (correctly rounded, as float(Decimal) is) and gap = billed - logs
# is an exact DECIMAL difference. gap % of bill is the correctly rounded DOUBLE of 100 * gap / billed
# (the Decimal quotient the rows were once computed with, rounded at 28 digits, gives the same
# double): a long division of the two as integers of 1e-24 dollars, digit by digit, to GAP_DIGITS
# decimals and a sticky digit, read as a DOUBLE from its text (correctly rounded). A bill of $1e13
# or more (its tenfold would pass 128 bits) takes the DOUBLE quotient.
DOUBLE = "CAST(CAST({x} AS VARCHAR) AS DOUBLE)"
SCALED = "CAST(replace(CAST(CAST({x} AS DECIMAL(38,24)) AS VARCHAR), '.', '') AS HUGEINT)"
GAP_DIGITS = 60  # a quotient down to 1e-35 % keeps 20 digits


def _gap_pct_sql() -> str:
    """Columns of the long division of 100 * gap by billed_cost (NULL where lc_exact is false)."""
    parts = [
        f"CASE WHEN lc_exact THEN {SCALED.format(x='gap')} END AS lc_n",
        f"CASE WHEN lc_exact THEN {SCALED.format(x='billed_cost')} END AS lc_b",
        "(lc_n < 0) <> (lc_b < 0) AS lc_neg",
        "abs(lc_b) AS lc_ab",
        "abs(lc_n) // lc_ab AS lc_q",
        "abs(lc_n) % lc_ab AS lc_r0",
    ]
    steps = GAP_DIGITS + 2  # the first two digits are the hundredfold's units
    for i in range(1, steps + 1):
        parts.append(f"lc_r{i - 1} * 10 // lc_ab AS lc_d{i}")
        parts.append(f"lc_r{i - 1} * 10 % lc_ab AS lc_r{i}")
    digit = "CAST(lc_d{} AS VARCHAR)".format
    text = " || ".join(
        [
            "CASE WHEN lc_neg THEN '-' ELSE '' END",
            "CAST(lc_q AS VARCHAR)",
            digit(1),
            digit(2),
            "'.'",
            *(digit(i) for i in range(3, steps + 1)),
            f"CASE WHEN lc_r{steps} <> 0 THEN '1' ELSE '' END",
        ]
    )
    return ", ".join(parts) + f", CAST({text} AS DOUBLE) AS lc_exact_pct"


RECONCILE_ROWS = f"""
SELECT period, provider, model, coalesce(requests, 0) AS requests,
       coalesce(unpriced, 0) AS unpriced_requests,
       {DOUBLE.format(x="cost")} AS logged_cost_usd, {DOUBLE.format(x="usage_cost")} AS usage_cost_usd,
       {DOUBLE.format(x="billed_cost")} AS billed_cost_usd, {DOUBLE.format(x="gap")} AS gap_usd,
       CASE WHEN gap IS NULL OR billed_cost = 0 THEN NULL WHEN lc_exact THEN lc_exact_pct
            ELSE {DOUBLE.format(x="gap")} / {DOUBLE.format(x="billed_cost")} * 100 END AS gap_pct,
       {DOUBLE.format(x="usage_gap")} AS usage_gap_usd
FROM (SELECT *, {{gap_pct}} FROM (
          SELECT *, coalesce(billed_cost <> 0 AND abs(billed_cost) < 1e13, false) AS lc_exact
          FROM (SELECT *, billed_cost - coalesce(cost, 0) AS gap, billed_cost - usage_cost AS usage_gap
                FROM lc_reconcile WHERE keep)))
ORDER BY ord
"""
RECONCILE_TOTALS = """
SELECT sum(cost), sum(usage_cost), sum(billed_cost), sum(billed_cost - coalesce(cost, 0)),
       sum(billed_cost - usage_cost), coalesce(sum(requests), 0),
       sum(cost) FILTER (WHERE billed_cost IS NOT NULL), bool_or(cost <> 0) FILTER (WHERE billed_cost IS NOT NULL),
       sum(cost) FILTER (WHERE billed_cost IS NULL), bool_or(cost <> 0) FILTER (WHERE billed_cost IS NULL)
FROM lc_reconcile WHERE keep
"""


def reconcile(
    con: Any, prices: pricing.PriceTable, *, by: str = "month", window: Any = None,
    generated_at: datetime | None = None,
) -> ReconcileResult:  # fmt: skip
    """Per period, provider and model: request-log cost, usage-export cost, billed cost, and the gap.

    A cost is NULL where no export of that kind covers the period and provider; where one does,
    a model it does not mention counts 0. gap = billed - request logs (logs missing count 0).
    The rows are a polars frame computed in SQL (RECONCILE_ROWS); a period, provider and model
    with nothing logged, exported or billed (e.g. an empty day in a cost export) is left out.
    """
    check_period(by)
    unit, fmt = PERIODS[by]
    pricing.install(con, prices)
    install_usage(con, prices)
    _model_keys(con, prices)
    w_req, p_req = _window_sql(window, "r.ts")
    w_use, p_use = _window_sql(window, "u.bucket_start")
    w_bill, p_bill = _window_sql(window, "b.period_start")
    sql = RECONCILE_SQL.format(
        unit=unit, fmt=fmt, w_req=w_req, w_use=w_use, w_bill=w_bill, priced_usage=PRICED_USAGE
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE lc_reconcile AS
            SELECT *, row_number() OVER (ORDER BY period, provider NULLS LAST, model NULLS LAST) AS ord,
                   coalesce(requests, 0) <> 0 OR coalesce(cost, 0) <> 0 OR coalesce(usage_cost, 0) <> 0
                   OR coalesce(billed_cost, 0) <> 0 AS keep
            FROM ({sql})""",
        [*p_req, *p_use, *p_bill],
    )
    rows = fetch_frame(con, RECONCILE_ROWS.format(gap_pct=_gap_pct_sql()))
    unpriced_requests = int(
        con.execute("SELECT coalesce(sum(unpriced), 0) FROM lc_reconcile").fetchone()[0]
    )
    (logged, usage, billed, gap, usage_gap, requests, billed_logged, billed_any, other_logged,
     other_any) = con.execute(RECONCILE_TOTALS).fetchone()  # fmt: skip
    totals: dict[str, Any] = {
        "logged_cost_usd": logged, "usage_cost_usd": usage, "billed_cost_usd": billed,
        "gap_usd": gap, "usage_gap_usd": usage_gap, "requests": int(requests),
        # a sum of no amount (or of zeros) is the whole number 0
        "logged_cost_billed_usd": billed_logged if billed_any else 0,
        "logged_cost_unbilled_usd": other_logged if other_any else 0,
    }  # fmt: skip
    share = (gap / billed) if billed and gap is not None else None
    doc = {
        "schema": RECONCILE_SCHEMA,
        **_meta(prices, window, generated_at),
        "by": by,
        "rows": rows,
        "totals": totals,
        "unexplained_share": share,
        "unpriced_requests": unpriced_requests,
    }
    return ReconcileResult(doc)
