"""What-if (SPEC §7): levers are pure transformations of request rows, then the same pricing.

Each scenario row is the request with its tokens, model and batch flag changed (dropped rows flagged),
priced exactly like the baseline, in one query over `requests` (see "the scenario rows"). Levers apply
in a fixed order: max_steps, route_to, compress_input, max_output_tokens, prompt_cache, batch,
then cache_hit_rate on the priced cost. A request unpriced in the baseline stays unpriced (NULL)
in the scenario, whatever the levers do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from llmcost import pricing, query
from llmcost import revenue as revenue_rule
from llmcost.documents import Column, Table, is_frame, materialise
from llmcost.errors import ConfigError, LlmcostError
from llmcost.query import Window, dimension_sql, install_names, now, parse_where, where_sql
from llmcost.store.sql import literal
from llmcost.values import fmt_value

if TYPE_CHECKING:
    import polars as pl

SCHEMA = "llmcost.whatif/1"
PRICES = "lc_wi_prices"
ROUTED_PREFIX = (
    "route:"  # price-row key of routed requests: never collides with a logged model name
)
TTLS = {"5m": 300, "1h": 3600}

# --where: the one parser (llmcost.query); the what-if reads the `requests` table, which has no tier.
WHERE_FIELDS = [f for f in query.WHERE_FIELDS if f != "tier"]


@dataclass
class Levers:
    route_to: str | None = None
    share: float | None = None
    cache_hit_rate: float | None = None
    cache_lookup_cost: float = 0.0
    prompt_cache: int | None = None
    cache_ttl: str = "5m"
    batch: bool = False
    max_output_tokens: int | None = None
    compress_input: float | None = None
    max_steps: int | None = None
    cap_user_cost: float | None = None
    plan_price: dict[str, float] = field(default_factory=dict)


@dataclass
class Scope:
    features: list[str] = field(default_factory=list)
    model: str | None = None  # the first of `models` (whatif/1 carries it)
    where: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)  # requests of any of these

    def __post_init__(self) -> None:
        if self.model and not self.models:
            self.models = [self.model]
        self.model = self.models[0] if self.models else None


@dataclass
class Scenario:
    name: str = "scenario"
    scope: Scope = field(default_factory=Scope)
    levers: Levers = field(default_factory=Levers)


def validate(s: Scenario) -> None:
    lv = s.levers

    def bad(msg: str, hint: str) -> LlmcostError:
        return LlmcostError(f"{s.name}: {msg}" if s.name != "scenario" else msg, hint=hint)

    for key in ("share", "cache_hit_rate", "compress_input"):
        value = getattr(lv, key)
        if value is not None and not 0 <= value <= 1:
            raise bad(
                f"--{key.replace('_', '-')} must be a fraction from 0 to 1, got {value}",
                hint="e.g. 0.3",
            )
    if lv.share is not None and lv.route_to is None:
        raise bad("--share needs --route-to", hint="e.g. --route-to haiku --share 0.5")
    if lv.cache_lookup_cost < 0:
        raise bad("--cache-lookup-cost must not be negative", hint="USD per request, e.g. 0.0001")
    for key in ("prompt_cache", "max_output_tokens", "max_steps"):
        value = getattr(lv, key)
        if value is not None and value < (1 if key == "max_steps" else 0):
            raise bad(f"--{key.replace('_', '-')} must be a positive whole number", hint="e.g. 500")
    if lv.cap_user_cost is not None and not (
        math.isfinite(lv.cap_user_cost) and lv.cap_user_cost >= 0
    ):
        raise bad(
            "--cap-user-cost must be a USD amount, 0 or more", hint="USD per user and month, e.g. 5"
        )
    for plan, price in lv.plan_price.items():
        if (
            not plan
            or isinstance(price, bool)
            or not isinstance(price, (int, float))
            or not math.isfinite(price)
            or price < 0
        ):
            raise bad(
                f"--plan-price {plan}={price!r}: the price must be a USD amount, 0 or more",
                hint="e.g. --plan-price pro=49",
            )
    if lv.cache_ttl not in TTLS:
        raise bad(
            f"--cache-ttl must be 5m or 1h, got {lv.cache_ttl!r}",
            hint="the provider TTLs priced in the table",
        )
    parse_where(s.scope.where, fields=WHERE_FIELDS)


def is_empty(lv: Levers) -> bool:
    return lv == Levers(cache_ttl=lv.cache_ttl)


def parse_plan_prices(items: list[str] | None) -> dict[str, float] | None:
    """--plan-price PLAN=USD (repeatable): USD per customer and month on that plan."""
    out: dict[str, float] = {}
    for item in items or []:
        plan, sep, usd = item.partition("=")
        try:
            value = float(usd) if sep and plan.strip() else None
        except ValueError:
            value = None
        if value is None:
            raise LlmcostError(
                f"cannot read --plan-price {item!r}", hint="use PLAN=USD, e.g. --plan-price pro=49"
            )
        out[plan.strip()] = value
    return out or None


# ---------------------------------------------------------------- result


@dataclass
class WhatifResult:
    """The whatif/1 document in `doc`; its group rows (`rows`, also doc["rows"]) a polars DataFrame
    computed in SQL, or a list of dicts (exact_rows, Spark). tables() and headline() are views of it."""

    doc: dict[str, Any]
    by: list[str]
    rows: Any
    assumptions: list[str]
    has_revenue: bool

    def to_json(self) -> dict[str, Any]:
        """The document as plain values (the frame of rows a list of row dicts)."""
        out: dict[str, Any] = materialise(self.doc)
        return out

    def document(self) -> dict[str, Any]:
        """The document with its frame of rows, for the writers (llmcost.render.json_document)."""
        return self.doc

    def headline(self) -> list[str]:
        t = self.doc["totals"]
        c = self.doc["coverage"]
        lines = [
            f"what-if {self.doc['scenario']['name']}: baseline {fmt_value(t['baseline_cost_usd'], 'usd')}  →  "
            f"scenario {fmt_value(t['scenario_cost_usd'], 'usd')}   savings {fmt_value(t['savings_usd'], 'usd')}"
            f" ({fmt_value(t['savings_pct'], 'pct')})",
            f"scope: {t['scope_requests']:,} of {t['requests']:,} requests: {fmt_value(t['scope_baseline_cost_usd'], 'usd')}"
            f"  →  {fmt_value(t['scope_scenario_cost_usd'], 'usd')}, saves {fmt_value(t['scope_savings_pct'], 'pct')} of its cost"
            + (
                f"; {t['dropped_requests']:,} dropped by {self._dropped_by()}"
                if t["dropped_requests"]
                else ""
            ),
        ]
        if self.has_revenue and t.get("revenue_usd") is not None:
            after = (
                f" → {fmt_value(t['revenue_after_usd'], 'usd')} at --plan-price"
                if "revenue_after_usd" in t
                else ""
            )
            lines.append(
                f"revenue {fmt_value(t['revenue_usd'], 'usd')}{after}   gross margin {fmt_value(t['margin_before_pct'], 'pct')}"
                f" → {fmt_value(t['margin_after_pct'], 'pct')}"
            )
        cap = self.doc.get("cap")
        if cap:
            lines.append(
                f"cap {fmt_value(cap['cap_usd'], 'usd')} per user-month: {cap['requests_not_served']:,} requests not served, "
                f"{cap['users_affected']:,} users ({cap['user_months_capped']:,} user-months) of {cap['customers_affected']:,} customers; "
                f"revenue of those customer-months (at risk) {fmt_value(cap['revenue_at_risk_usd'], 'usd')}"
            )
        share = c["priced"] / c["requests"] * 100 if c["requests"] else 100.0
        cov = f"coverage: {c['priced']:,} of {c['requests']:,} requests priced ({share:.2f}%)"
        if c["unpriced"]:
            cov += f"; {c['unpriced']:,} unpriced ({', '.join(c['unpriced_models'])}) stay unpriced in the scenario"
        lines.append(cov)
        lines += [f"assumes: {a}" for a in self.assumptions]
        return lines

    def _dropped_by(self) -> str:
        lv = self.doc["scenario"]["levers"]
        names = ["--max-steps"] if lv.get("max_steps") is not None else []
        return " and ".join(
            names + (["--cap-user-cost"] if lv.get("cap_user_cost") is not None else [])
        )

    def tables(self) -> list[Table]:
        cols = [Column(b) for b in self.by] + [
            Column("requests", "requests", "int"),
            Column("baseline_cost_usd", "baseline", "usd"),
            Column("scenario_cost_usd", "scenario", "usd"),
            Column("savings_usd", "savings", "usd"),
            Column("savings_pct", "savings %", "pct"),
        ]
        if self.has_revenue:
            cols += [
                Column("revenue_usd", "revenue", "usd"),
                Column("margin_before_pct", "margin before", "pct"),
                Column("margin_after_pct", "margin after", "pct"),
            ]
        if "revenue_after_usd" in _first_keys(self.rows):
            cols.insert(len(cols) - 2, Column("revenue_after_usd", "revenue after", "usd"))
        title = "what-if by " + ", ".join(self.by) if self.by else "what-if"
        plans = self._plans_table()
        if self.by:
            return [Table(title, cols, self.rows), *plans]
        t = self.doc["totals"]
        scope = {
            "part": "scope",
            "requests": t["scope_requests"],
            **{k[6:]: v for k, v in t.items() if k.startswith("scope_")},
        }
        cols = [Column("part"), *cols[:5]]
        return [Table(title, cols, [scope, {"part": "all requests", **t}]), *plans]

    def _plans_table(self) -> list[Table]:
        plans = self.doc.get("plans")
        if not plans:
            return []
        cols = [Column("plan"), Column("repriced"), Column("customers", "customers", "int"),
                Column("revenue_usd", "revenue", "usd"), Column("revenue_after_usd", "revenue after", "usd"),
                Column("baseline_cost_usd", "cost", "usd"), Column("scenario_cost_usd", "scenario cost", "usd"),
                Column("margin_before_pct", "margin before", "pct"), Column("margin_after_pct", "margin after", "pct")]  # fmt: skip
        rows = [{**p, "repriced": "yes" if p["repriced"] else ""} for p in plans]
        note = "revenue by each customer-month's plan (revenue.csv, else its requests'); cost by the requests' plan"
        return [Table("by plan, at --plan-price", cols, rows, note=note)]


def _first_keys(rows: Any) -> list[str]:
    """The fields of the first row (a frame's columns: every row has them), none without rows."""
    if is_frame(rows):
        return list(rows.columns) if rows.height else []
    return list(rows[0]) if rows else []


# ---------------------------------------------------------------- the scenario rows
#
# The levers are expressions over `requests`, evaluated in one query that prices and sums both sides:
# writing a TEMP copy of every row (all ~30 columns) and updating it lever by lever was most of the time
# and memory on large data. Only the two levers that need an order across rows are computed first, and
# only for the rows they touch, keyed by rowid: --max-steps (the dropped steps) and --prompt-cache (each
# request's prefix and whether the cache is warm).
#
# A request's cost is linear in its tokens for a given price row, batch flag and long-context side, and
# exact (DECIMAL, no rounding), so the rows are first summed per group of everything that decides their
# price (logged and scenario model, UTC day: price versions start at midnight, long-context side,
# batch, cache hit, scope, dropped, the --by dimensions), then each group is priced once, in integer
# units of 1e-24 USD (the scale of the DECIMAL(38,24) cost): tokens x rate x 1e9 x batch factor x 1e9.
# Sums of these are the same numbers, digit for digit, as summing every request's DECIMAL cost.

DROP = "lc_wi_drop"
REV = "lc_wi_rev"  # the window's revenue (llmcost.revenue)
CAP = "lc_wi_cap"
PCACHE = "lc_wi_pcache"
PRICES_I = "lc_wi_prices_i"
GIGA = 1_000_000_000
USD_24 = "CAST('0.000000000000000000000001' AS DECIMAL(24,24))"
NO_USD = "CAST(NULL AS DECIMAL(38,24))"
BUCKETS = (
    ("unc", "input"),
    ("cr", "cache_read"),
    ("cw", "cache_write"),
    ("cw1", "cache_write_1h"),
    ("out", "output"),
)


def _model_names(con: Any, memo: dict[str, Any] | None) -> list[str]:
    """The logged model names (one scan); kept in `memo` when a caller runs many scenarios on the same data."""
    if memo is not None and "names" in memo:
        return memo["names"]  # type: ignore[no-any-return]
    names = [r[0] for r in con.execute("SELECT DISTINCT model FROM requests").fetchall()]
    if memo is not None:
        memo["names"] = names
    return names


def _scope_sql(
    con: Any, prices: pricing.PriceTable, scope: Scope, memo: dict[str, Any] | None = None
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if scope.features:
        clauses.append(f"feature IN ({', '.join('?' * len(scope.features))})")
        params += scope.features
    if scope.models:
        # the logged names that resolve to the same priced model, or the exact logged name
        targets = {t.id for t in map(prices.resolve, scope.models) if t is not None}
        names = _model_names(con, memo)
        match = [
            n
            for n in names
            if n in scope.models or ((m := prices.resolve(n)) is not None and m.id in targets)
        ]
        if not match:
            clauses.append("FALSE")
        else:
            clauses.append(f"model IN ({', '.join('?' * len(match))})")
            params += match
    if scope.where:
        wsql, wparams = where_sql(parse_where(scope.where, fields=WHERE_FIELDS))
        clauses.append(f"({wsql})")
        params += wparams
    return (" AND ".join(clauses) or "TRUE"), params


def _uncached(r: str = "") -> str:
    return f"({r}input_tokens - {r}cache_read_tokens - {r}cache_write_tokens - {r}cache_write_1h_tokens)"


@dataclass
class _Plan:
    """The scenario as SQL: CTEs `r` .. `t` over the requests in the window, and their bound parameters."""

    ctes: str
    params: list[Any]
    target: pricing.Model | None
    thresholds: list[int]


def _register_prices(
    con: Any, prices: pricing.PriceTable, target: pricing.Model | None
) -> list[int]:
    """Price rows for every logged name (the baseline, and scenario rows not routed) plus the routed key,
    with each rate x 1e9 and the batch factor x 1e9 as integers. Returns the long-context thresholds."""
    rows = pricing.price_rows(prices, pricing.request_keys(con))
    if target is not None:
        rows += pricing.price_rows(prices, [(ROUTED_PREFIX + target.id, "")], as_model=target)
    return _integer_prices(con, PRICES, PRICES_I, rows, [], tier=True)


def _integer_prices(
    con: Any, raw: str, table: str, rows: list[Any], thresholds: list[int], *, tier: bool
) -> list[int]:
    """The price ROWS as the temp table RAW, and as TABLE with each rate x 1e9 and the batch factor
    x 1e9 as integers and the long-context side's place among THRESHOLDS and the rows' own
    thresholds (returned, sorted)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {raw} ({pricing.PRICE_COLUMNS})")
    if rows:
        con.executemany(f"INSERT INTO {raw} VALUES ({pricing.PRICE_MARKS})", rows)
    found = con.execute(
        f"SELECT DISTINCT long_threshold FROM {raw} WHERE long_threshold IS NOT NULL"
    ).fetchall()
    thresholds = sorted(set(thresholds) | {int(r[0]) for r in found})
    # rates are kept to 1e-9 USD per 1M tokens and batch factors to 1e-9: x 1e9 both are whole numbers
    ints = ", ".join(
        f"CAST(r_{k}::DECIMAL(38,9) * {GIGA} AS BIGINT) AS r_{k}, CAST(l_{k}::DECIMAL(38,9) * {GIGA} AS BIGINT) AS l_{k}"
        for _, k in BUCKETS
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table} AS
            SELECT model, host, model_id, {"tier, " if tier else ""}valid_from, valid_to, {ints},
                   CAST(batch_factor::DECIMAL(38,9) * {GIGA} AS BIGINT) AS bf,
                   list_position(?, long_threshold) AS long_pos
            FROM {raw}""",
        [thresholds],
    )
    return thresholds


def _plan(
    con: Any,
    prices: pricing.PriceTable,
    s: Scenario,
    window: Window,
    dims: str,
    *,
    scope_only: bool = False,
    memo: dict[str, Any] | None = None,
) -> _Plan:
    """Levers 1-4 and 6 (max-steps, route, compress, output cap, batch) as expressions; the price rows."""
    lv = s.levers
    scope, sparams = _scope_sql(con, prices, s.scope, memo)
    wsql, wparams = window.sql()
    target = None
    if lv.route_to:
        target = pricing.route_target(prices, lv.route_to)
        if target is None:
            raise LlmcostError(
                f"--route-to {lv.route_to!r} has no price",
                hint="`llmcost prices list` shows the models",
            )
    thresholds = _register_prices(con, prices, target)
    # 1. --max-steps: the steps after N of each task in scope, in step then time order, are dropped
    dropped = "false"
    if lv.max_steps is not None:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {DROP} AS SELECT rid FROM (
                    SELECT rowid AS rid,
                           row_number() OVER (PARTITION BY task_id ORDER BY step NULLS LAST, ts, request_id) AS n
                    FROM requests WHERE coalesce({scope}, false) AND ({wsql}) AND task_id IS NOT NULL)
                WHERE n > {int(lv.max_steps)}""",
            [*sparams, *wparams],
        )
        dropped = f"rid IN (SELECT rid FROM {DROP})"
    # 1b. --cap-user-cost: per user and calendar month, in time order, the request that takes the user's
    # cost (as logged, before the other levers) over the cap and every later one are not served
    if lv.cap_user_cost is not None:
        not_dropped = (
            f"AND rowid NOT IN (SELECT rid FROM {DROP})" if lv.max_steps is not None else ""
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {CAP} AS SELECT rid, user_id, customer_id, month FROM (
                    SELECT r.rid, r.user_id, r.customer_id, CAST(date_trunc('month', r.ts) AS DATE) AS month,
                           sum(coalesce({pricing.cost_usd_sql("r", "p")}, 0)) OVER (
                               PARTITION BY r.user_id, date_trunc('month', r.ts) ORDER BY r.ts, r.request_id
                               ROWS UNBOUNDED PRECEDING) AS cum
                    FROM (SELECT rowid AS rid, * FROM requests
                          WHERE coalesce({scope}, false) AND ({wsql}) AND user_id IS NOT NULL {not_dropped}) r
                    LEFT JOIN {PRICES} p ON p.model = r.model AND p.host = coalesce(r.provider, '') AND r.ts >= p.valid_from AND r.ts < p.valid_to)
                WHERE cum > CAST(? AS DECIMAL(38,24))""",
            [*sparams, *wparams, str(Decimal(str(lv.cap_user_cost)))],
        )
        capped = f"rid IN (SELECT rid FROM {CAP})"
        dropped = capped if dropped == "false" else f"({dropped} OR {capped})"
    # 2. --route-to [--share]: a deterministic fraction by the md5 of request_id
    route = "false"
    if target is not None:
        route = "live"
        if lv.share is not None:
            route += f" AND CAST(('0x' || left(md5(request_id), 8)) AS UBIGINT) < {round(lv.share * 2**32)}"
    replace_cols = (
        [f"CASE WHEN routed THEN {literal(ROUTED_PREFIX + target.id)} ELSE model END AS model"]
        if target
        else []
    )
    # 3. --compress-input: the uncached input shrinks by F (rounded to whole tokens)
    if lv.compress_input is not None:
        # round(x * keep) with keep a DECIMAL(12,9), rounding half away from zero, in integers: keep = K / 1e9
        k = con.execute(
            f"SELECT CAST(CAST(? AS DECIMAL(12,9))::DECIMAL(38,9) * {GIGA} AS BIGINT)",
            [str(Decimal(str(1 - lv.compress_input)))],
        ).fetchone()[0]
        x, half = _uncached(), GIGA // 2
        kept = f"CASE WHEN {x} >= 0 THEN ({x} * {k} + {half}) // {GIGA} ELSE -((-{x} * {k} + {half}) // {GIGA}) END"
        replace_cols.append(
            f"CASE WHEN live THEN input_tokens - {x} + {kept} ELSE input_tokens END AS input_tokens"
        )
    # 4. --max-output-tokens: output above N is cut (reasoning is part of output, and is not priced apart)
    if lv.max_output_tokens is not None:
        replace_cols.append(
            f"CASE WHEN live THEN least(output_tokens, {int(lv.max_output_tokens)}) ELSE output_tokens END AS output_tokens"
        )
    # 6. --batch (5, the prompt cache, needs the order of the rows: see _prompt_cache)
    if lv.batch:
        replace_cols.append("batch OR live AS batch")
    new_cols = f" REPLACE ({', '.join(replace_cols)})" if replace_cols else ""
    only = f" AND coalesce({scope}, false)" if scope_only else ""
    ctes = f"""
        r AS (SELECT rowid AS rid, *, coalesce({scope}, false) AS in_scope FROM requests WHERE {wsql}{only}),
        b AS (SELECT *, model AS orig_model, coalesce(provider, '') AS orig_host, {_tokens("b")}, batch AS b_batch, {_long(thresholds)} AS b_long,
                     {dropped} AS dropped{dims} FROM r),
        g AS (SELECT *, in_scope AND NOT dropped AS live FROM b),
        t AS (SELECT *{new_cols} FROM (SELECT *, {route} AS routed FROM g))"""
    return _Plan(ctes, [*sparams, *wparams, *(sparams if scope_only else [])], target, thresholds)


def _tokens(prefix: str) -> str:
    return (
        f"{_uncached()} AS {prefix}_unc, cache_read_tokens AS {prefix}_cr, cache_write_tokens AS {prefix}_cw, "
        f"cache_write_1h_tokens AS {prefix}_cw1, output_tokens AS {prefix}_out"
    )


def _long(thresholds: list[int]) -> str:
    """How many long-context thresholds the input is above: above a model's threshold iff >= its position."""
    return " + ".join(f"CAST(input_tokens > {t} AS INTEGER)" for t in thresholds) or "0"


def _prompt_cache(con: Any, lv: Levers, plan: _Plan) -> str:
    """5. --prompt-cache: a prefix of P uncached input tokens is written when the feature+model's cache is
    cold, read while warm; every request refreshes the TTL, as Anthropic and OpenAI do. Returns the CTE
    that adds it to `t`."""
    if not lv.prompt_cache:
        return "u AS (SELECT * FROM t)"
    ttl = TTLS[lv.cache_ttl]
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {PCACHE} AS WITH {plan.ctes}
            SELECT rid, least({_uncached()}, {int(lv.prompt_cache)}) AS p,
                   coalesce(epoch(ts) - epoch(lag(ts) OVER (PARTITION BY feature, model ORDER BY ts, request_id)) <= {ttl}, false) AS warm
            FROM t WHERE live AND NOT cache_hit""",
        plan.params,
    )
    wcol = "cache_write_tokens" if lv.cache_ttl == "5m" else "cache_write_1h_tokens"
    return f"""u AS (SELECT t.* REPLACE (
                    t.cache_read_tokens + coalesce(CASE WHEN c.warm THEN c.p ELSE 0 END, 0) AS cache_read_tokens,
                    t.{wcol} + coalesce(CASE WHEN c.warm THEN 0 ELSE c.p END, 0) AS {wcol})
                FROM t LEFT JOIN {PCACHE} c USING (rid))"""


def _units(side: str, p: str, long: str, mult: str) -> str:
    """A group's cost in 1e-24 USD: its token sums x rate x 1e9 (long-context rate above the threshold) x `mult`."""

    def rate(k: str) -> str:
        return f"CASE WHEN {p}.long_pos IS NOT NULL AND a.{long} >= {p}.long_pos THEN {p}.l_{k} ELSE {p}.r_{k} END"

    n = " + ".join(f"a.{side}_{col} * {rate(k)}" for col, k in BUCKETS)
    return f"({n}) * ({mult})"


def _semantic_cache(
    con: Any,
    lv: Levers,
    prices: str = PRICES_I,
    where: str = "TRUE",
    params: list[Any] | None = None,
) -> tuple[int, int, bool] | None:
    """--cache-hit-rate as integers: K = (1 - R) x 1e9 and the lookup cost in 1e-24 USD, as the DECIMAL casts
    round them; and whether every price row (of PRICES, WHERE) has its cost x (1 - R) exact at 1e-24 (then it
    is linear too)."""
    if lv.cache_hit_rate is None:
        return None
    k, lookup = con.execute(
        f"SELECT CAST(CAST(? AS DECIMAL(12,9))::DECIMAL(38,9) * {GIGA} AS BIGINT), "
        f"CAST(CAST(? AS DECIMAL(18,9))::DECIMAL(38,9) * {GIGA} AS BIGINT)",
        [str(1 - Decimal(str(lv.cache_hit_rate))), str(Decimal(str(lv.cache_lookup_cost)))],
    ).fetchone()
    # a cost is N x bf x 1e-24 USD (N whole); x K / 1e9 stays whole when bf x K / 1e9 is whole
    exact = con.execute(
        f"SELECT coalesce(bool_and(bf * CAST(? AS HUGEINT) % {GIGA} = 0), true) FROM {prices} WHERE {where}",
        [k, *(params or [])],
    ).fetchone()[0]
    return int(k), int(lookup) * 10**15, bool(exact)


def run(
    con: Any,
    prices: pricing.PriceTable,
    scenario: Scenario,
    *,
    by: list[str] | None = None,
    window: Window | None = None,
    generated_at: datetime | None = None,
    scope_only: bool = False,
    memo: dict[str, Any] | None = None,
    exact_rows: bool = False,
) -> WhatifResult:
    """Baseline vs scenario cost, savings and margin, per --by group. `scope_only`: read only the requests in
    scope (the totals are then the scope's; --suggest needs no more). The group rows are a polars frame
    computed in SQL (_group_frame); with `exact_rows`, dicts whose costs are the exact DECIMALs (what
    --plan-price goes on computing with)."""
    by = by or []
    window = window or Window()
    validate(scenario)
    lv = scenario.levers
    exact_rows = exact_rows or (bool(lv.plan_price) and by in (["customer"], ["customer_id"]))
    # the --by dimensions (model and provider as report groups them); tier is the baseline price row's
    install_names(con, prices)
    dims = [dimension_sql(b) for b in by]
    early = "".join(f", {d} AS d{i}" for i, d in enumerate(dims) if d != "tier")
    early_keys = "".join(f", d{i}" for i, d in enumerate(dims) if d != "tier")
    late = "".join(f", p.tier AS d{i}" for i, d in enumerate(dims) if d == "tier")
    plan = _plan(con, prices, scenario, window, early, scope_only=scope_only, memo=memo)
    last = _prompt_cache(con, lv, plan)
    semantic = _semantic_cache(con, lv)
    group = ", ".join(f"d{i}" for i in range(len(by)))
    # per-request groups in scope when x (1 - R) must be rounded per request, as the DECIMAL column did
    single = ", CASE WHEN in_scope THEN rid END AS one" if semantic and not semantic[2] else ""
    base = f"CASE WHEN p.model_id IS NULL THEN NULL WHEN a.cache_hit THEN 0 ELSE {_units('b', 'p', 'b_long', f'CASE WHEN a.b_batch THEN p.bf ELSE {GIGA} END')} END"
    scen_cost = _units("s", "q", "s_long", f"CASE WHEN a.batch THEN q.bf ELSE {GIGA} END")
    head = "CASE WHEN p.model_id IS NULL OR q.model_id IS NULL THEN NULL WHEN a.dropped THEN 0"
    scen, scen_x = f"{head} WHEN a.cache_hit THEN 0 ELSE {scen_cost} END", NO_USD
    if semantic is not None:
        k, lookup, exact = semantic
        if exact:
            mult = f"CASE WHEN a.batch THEN q.bf * CAST({k} AS HUGEINT) // {GIGA} ELSE {k} END"
            cut = f"(CASE WHEN a.cache_hit THEN 0 ELSE {_units('s', 'q', 's_long', mult)} END + a.n * CAST({lookup} AS HUGEINT))"
            scen = f"{head} WHEN a.in_scope THEN {cut} WHEN a.cache_hit THEN 0 ELSE {scen_cost} END"
        else:
            # one request per group: its DECIMAL cost x (1 - R) + lookup, rounded to 1e-24 as before
            cost = f"CAST(CAST(CASE WHEN a.cache_hit THEN 0 ELSE {scen_cost} END AS DECIMAL(38,0)) * {USD_24} AS DECIMAL(38,24))"
            scen = f"{head} WHEN a.in_scope THEN NULL WHEN a.cache_hit THEN 0 ELSE {scen_cost} END"
            scen_x = (
                f"CASE WHEN p.model_id IS NULL OR q.model_id IS NULL OR a.dropped OR NOT a.in_scope THEN NULL ELSE "
                f"CAST({cost} * CAST('{Decimal(k) / GIGA}' AS DECIMAL(12,9)) + CAST('{Decimal(lookup // 10**15) / GIGA}' AS DECIMAL(18,9)) AS DECIMAL(38,24)) END"
            )
    # the scenario's price row: the routed key, or the logged model (one string fewer to group by)
    smodel = (
        f"CASE WHEN a.routed THEN {literal(ROUTED_PREFIX + plan.target.id)} ELSE a.orig_model END"
        if plan.target
        else "a.orig_model"
    )
    shost = "CASE WHEN a.routed THEN '' ELSE a.orig_host END" if plan.target else "a.orig_host"
    # the scenario's token buckets, summed per group like the baseline's b_* (taken before the levers)
    cols = [c for c, _ in BUCKETS]
    scen_tokens = [
        _uncached(),
        "cache_read_tokens",
        "cache_write_tokens",
        "cache_write_1h_tokens",
        "output_tokens",
    ]
    sums = ", ".join(
        f"{pricing.sum_cost_sql(u, x, where, unit=USD_24)} AS {name}{part}"
        for where, part in (("", ""), ("in_scope", "_scope"))
        for u, x, name in (("b24", NO_USD, "b"), ("s24", "sx", "s"))
    )
    sql = f"""
        WITH {plan.ctes}, {last},
        a AS (SELECT orig_model, orig_host, routed, CAST(ts AS DATE) AS day, b_long,
                     {_long(plan.thresholds)} AS s_long, b_batch, batch, cache_hit, in_scope, dropped{early_keys}{single},
                     count(*) AS n, {", ".join(f"sum(b_{c}) AS b_{c}" for c, _ in BUCKETS)},
                     {", ".join(f"sum({e}) AS s_{c}" for c, e in zip(cols, scen_tokens, strict=True))}
              FROM u GROUP BY ALL),
        x AS (SELECT a.*{late}, p.model_id IS NOT NULL AS priced, {base} AS b24, {scen} AS s24, {scen_x} AS sx
              FROM a LEFT JOIN {PRICES_I} p ON p.model = a.orig_model AND p.host = a.orig_host AND a.day >= p.valid_from AND a.day < p.valid_to
                     LEFT JOIN {PRICES_I} q ON q.model = {smodel} AND q.host = {shost} AND a.day >= q.valid_from AND a.day < q.valid_to)
        SELECT {f"GROUPING_ID({group})" if by else "0"} AS gid, {group + "," if by else ""}
               coalesce(sum(n), 0) AS n, coalesce(sum(n) FILTER (WHERE in_scope), 0) AS n_scope,
               coalesce(sum(n) FILTER (WHERE dropped), 0) AS n_dropped, coalesce(sum(n) FILTER (WHERE priced), 0) AS n_priced,
               list(DISTINCT orig_model ORDER BY orig_model) FILTER (WHERE NOT priced) AS unpriced_models, {sums}
        FROM x {f"GROUP BY GROUPING SETS ((), ({group}))" if by else ""}"""
    rows: list[tuple[Any, ...]] | None = None
    if exact_rows or not _is_duckdb(con):  # the rows built in Python, their sums as DECIMALs
        if by:
            sql = f"SELECT * FROM ({sql}) ORDER BY gid DESC, {7 + len(by)} DESC NULLS LAST, {group}"
        recs = con.execute(sql, plan.params).fetchall()
        head, rows = recs[0], recs[1:]
    else:  # the rows as a frame (_group_frame), from the groups kept in GROUPS
        con.execute(f"CREATE OR REPLACE TEMP TABLE {GROUPS} AS {sql}", plan.params)
        head = con.execute(f"SELECT * FROM {GROUPS} ORDER BY gid DESC LIMIT 1").fetchone()
    facts: dict[str, Any] = {"target": plan.target}
    if lv.cap_user_cost is not None:
        facts["cap"] = _cap_facts(con, lv.cap_user_cost, window)
    result = _summarise(con, prices, scenario, by, window, facts, head, rows, generated_at, memo)
    if lv.plan_price:
        _apply_plan_prices(con, prices, scenario, result, window)
    return result


def _cap_facts(con: Any, cap: float, window: Window) -> dict[str, Any]:
    """Who --cap-user-cost stops: requests not served, users and customers, and the revenue (in the
    window, llmcost.revenue) of the customer-months in which one of their users hit the cap (at risk
    if those users leave)."""
    n, users, customers, months = con.execute(
        f"SELECT count(*), count(DISTINCT user_id), count(DISTINCT customer_id), count(DISTINCT (user_id, month)) FROM {CAP}"
    ).fetchone()
    at_risk = None
    if _install_revenue(con, window):
        at_risk = revenue_rule.total_of(
            con,
            f"SELECT DISTINCT customer_id, month FROM {CAP} WHERE customer_id IS NOT NULL",
            table=REV,
        )
    return {"cap_usd": cap, "requests_not_served": n, "users_affected": users, "user_months_capped": months,
            "customers_affected": customers, "revenue_at_risk_usd": at_risk}  # fmt: skip


PLAN_REVENUE = """
WITH w(ws, wu) AS (VALUES (?::TIMESTAMP, ?::TIMESTAMP)),
cm AS (SELECT customer_id, CAST(date_trunc('month', ts) AS DATE) AS month, min(plan) AS plan
            FROM requests WHERE {wsql} AND customer_id IS NOT NULL GROUP BY ALL),
rv AS ({rv})
SELECT customer_id, month, coalesce(rv.plan, cm.plan) AS plan, coalesce(rv.revenue, 0) AS revenue,
       coalesce(rv.share, {share}) AS share
FROM cm FULL JOIN rv USING (customer_id, month) CROSS JOIN w ORDER BY 1, 2
"""
NO_REVENUE = (
    "SELECT NULL::VARCHAR AS customer_id, NULL::DATE AS month, NULL::VARCHAR AS plan,"
    " NULL::DOUBLE AS revenue, NULL::DOUBLE AS share WHERE false"
)


def _apply_plan_prices(
    con: Any, prices: pricing.PriceTable, s: Scenario, result: WhatifResult, window: Window
) -> None:
    """--plan-price: each customer-month on PLAN (revenue.csv's plan, else its requests') earns USD instead
    of its revenue, by the share of the month inside the window as revenue counts (llmcost.revenue);
    margin after per plan and per customer."""
    win = revenue_rule.closed(con, window) or window
    wsql, wparams = win.sql()
    rv = (
        f"SELECT customer_id, month, plan, revenue, share FROM {REV} WHERE NOT prev"
        if _install_revenue(con, win)
        else NO_REVENUE
    )
    share = revenue_rule.share_sql("cm.month", "w.ws", "w.wu")
    new = {plan: Decimal(str(usd)) for plan, usd in s.levers.plan_price.items()}
    per_plan: dict[Any, dict[str, Any]] = {}
    per_customer: dict[Any, Decimal] = {}
    total = Decimal(0)
    for customer, _month, plan, rev, part in con.execute(
        PLAN_REVENUE.format(wsql=wsql, rv=rv, share=share), [win.since, win.until, *wparams]
    ).fetchall():
        revenue = _dec(rev)  # summed as DECIMAL: the same digits whatever the order
        after = new[plan] * _dec(part) if plan in new else revenue
        total += after
        per_customer[customer] = per_customer.get(customer, Decimal(0)) + after
        p = per_plan.setdefault(
            plan,
            {
                "plan": plan,
                "customers": set(),
                "revenue_usd": Decimal(0),
                "revenue_after_usd": Decimal(0),
            },
        )
        p["customers"].add(customer)
        p["revenue_usd"] += revenue
        p["revenue_after_usd"] += after
    doc, t = result.doc, result.doc["totals"]
    t["revenue_after_usd"] = total
    if t.get("revenue_usd") is None:
        t["revenue_usd"] = sum((p["revenue_usd"] for p in per_plan.values()), Decimal(0))
    _margins(t)
    if result.by in (["customer"], ["customer_id"]):
        for row in result.rows:
            row["revenue_after_usd"] = per_customer.get(row[result.by[0]])
            _margins(row)
    costs = run(
        con, prices, replace(s, levers=replace(s.levers, plan_price={})), by=["plan"], window=window,
        exact_rows=True,
    )  # fmt: skip
    for row in costs.rows:
        p = per_plan.setdefault(row["plan"], {"plan": row["plan"], "customers": set(), "revenue_usd": Decimal(0),
                                              "revenue_after_usd": Decimal(0)})  # fmt: skip
        p.update(
            baseline_cost_usd=row["baseline_cost_usd"], scenario_cost_usd=row["scenario_cost_usd"]
        )
    plans = []
    for p in sorted(per_plan.values(), key=lambda p: str(p["plan"])):
        p["customers"] = len(p["customers"])
        p.setdefault("baseline_cost_usd", None)
        p.setdefault("scenario_cost_usd", None)
        p["repriced"] = p["plan"] in new
        _margins(p)
        plans.append(p)
    doc["plans"] = plans
    result.has_revenue = True


# ---------------------------------------------------------------- totals, groups, margin


def _dec(x: Any) -> Decimal:
    """A revenue or cost as DECIMAL (a DOUBLE by its shortest repr: 330.99, not its binary digits)."""
    return x if isinstance(x, Decimal) else Decimal(repr(float(x)))


def _pct(part: Any, whole: Any) -> Any:
    return part / whole * 100 if part is not None and whole else None


def _savings(row: dict[str, Any]) -> None:
    base, scen = row["baseline_cost_usd"], row["scenario_cost_usd"]
    row["savings_usd"] = base - scen if base is not None and scen is not None else None
    row["savings_pct"] = _pct(row["savings_usd"], base)


def _margins(row: dict[str, Any]) -> None:
    """Margin before on the revenue, after on the revenue after --plan-price (the same without it)."""
    rev = row.get("revenue_usd")
    after = row.get("revenue_after_usd", rev)
    for key, cost, r in (
        ("margin_before_pct", row["baseline_cost_usd"], rev),
        ("margin_after_pct", row["scenario_cost_usd"], after),
    ):
        row[key] = _pct(_dec(r) - _dec(cost or 0), _dec(r)) if r else None


def _revenue(con: Any, by: list[str], window: Window) -> tuple[Any, dict[Any, Any]] | None:
    """The window's revenue by the one rule (llmcost.revenue: a month by its share inside the window);
    per customer, or allocated to features by requests (SPEC §6)."""
    if not _install_revenue(con, window):
        return None
    total = revenue_rule.total(con, table=REV)
    per: dict[Any, Any] = {}
    if by in (["customer"], ["customer_id"]):
        per = revenue_rule.per_customer(con, table=REV)
    elif by == ["feature"]:
        wsql, wparams = window.sql()
        per = revenue_rule.by_requests(
            con,
            f"""SELECT feature AS g, customer_id, CAST(date_trunc('month', ts) AS DATE) AS month,
                       count(*) AS n FROM requests WHERE {wsql} GROUP BY ALL""",
            wparams,
            table=REV,
        )
    return total, per


def _install_revenue(con: Any, window: Window) -> bool:
    """REV: the prorated revenue of the window (open ends closed at the data's months), when any is loaded."""
    if not revenue_rule.loaded(con):
        return False
    win = revenue_rule.closed(con, window)
    if win is None:
        return False
    revenue_rule.install(con, win, table=REV)
    return True


def _summarise(
    con: Any, prices: pricing.PriceTable, s: Scenario, by: list[str], window: Window,
    facts: dict[str, Any], head: tuple[Any, ...], recs: list[tuple[Any, ...]] | None,
    generated_at: datetime | None, memo: dict[str, Any] | None = None,
) -> WhatifResult:  # fmt: skip
    """The document from the totals row HEAD and the group rows: RECS built into dicts by the row
    formulas, or (None) the groups kept in GROUPS computed into a frame (_group_frame)."""
    k = len(by)
    t = head[k + 1 :]  # requests, in scope, dropped, priced, unpriced models, 4 sums
    totals: dict[str, Any] = {
        "requests": t[0], "scope_requests": t[1], "dropped_requests": t[2],
        "baseline_cost_usd": t[5], "scenario_cost_usd": t[6],
    }  # fmt: skip
    _savings(totals)
    scope_part = {"baseline_cost_usd": t[7], "scenario_cost_usd": t[8]}
    _savings(scope_part)
    totals.update({f"scope_{key}": v for key, v in scope_part.items()})
    # the window's revenue (the same whatever the groups), and per customer or feature
    grouped = by in (["customer"], ["customer_id"], ["feature"])
    per = by if recs is not None and grouped else []
    key = "revenue:" + ",".join(per)
    revenue = memo[key] if memo is not None and key in memo else _revenue(con, per, window)
    if memo is not None:
        memo[key] = revenue
    if revenue is not None:
        totals["revenue_usd"] = revenue[0]
        _margins(totals)
    rows: Any = []
    has_rev = revenue is not None and not by
    if recs is not None:
        rows = _group_rows(by, recs, revenue)
        has_rev = has_rev or (revenue is not None and bool(revenue[1]))
    elif by:
        (groups,) = con.execute(f"SELECT count(*) FROM {GROUPS} WHERE gid = 0").fetchone()
        many = groups >= FRAME_MIN_GROUPS
        with_rev = (
            many and revenue is not None and grouped and _install_group_revenue(con, by, window)
        )
        chunk = _group_chunk(con, with_rev) if many else None
        if chunk is not None:
            rows = _group_frame(con, by, with_rev, chunk)
            has_rev = has_rev or with_rev
        else:  # a few groups, or an amount too large for the SQL decimals: the row formulas
            order = ", ".join(["b DESC NULLS LAST", *(f"d{i}" for i in range(k))])
            recs = con.execute(f"SELECT * FROM {GROUPS} WHERE gid = 0 ORDER BY {order}").fetchall()
            by_group = _revenue(con, by, window) if revenue is not None else None
            rows = _group_rows(by, recs, by_group)
            has_rev = has_rev or (by_group is not None and bool(by_group[1]))
    assumptions = describe(s, facts)
    doc = {
        "schema": SCHEMA,
        "generated_at": generated_at or now(),
        "pricing": {"files": prices.files, "sha256": prices.sha256},
        "window": {"since": window.since, "until": window.until},
        "scenario": {"name": s.name, "scope": _asdict(s.scope), "levers": _asdict(s.levers)},
        "assumptions": assumptions,
        "coverage": {
            "requests": t[0],
            "priced": t[3],
            "unpriced": t[0] - t[3],
            "unpriced_models": t[4] or [],
        },
        "totals": totals,
        "by": by,
        "rows": rows,
    }
    if "cap" in facts:
        doc["cap"] = facts["cap"]
    return WhatifResult(doc=doc, by=by, rows=rows, assumptions=assumptions, has_revenue=has_rev)


# ---------------------------------------------------------------- the group rows in SQL
#
# The row formulas (_savings, _margins, _pct) are Python Decimal arithmetic on the exact DECIMAL(38,24)
# sums: a difference and a quotient each rounded to 28 significant digits, half to even (the default
# context), x 100, then the DOUBLE nearest to that decimal (jsonable). _group_frame writes the same
# operations in SQL on integers: a decimal is a HUGEINT coefficient in units of 1e-24 USD, a rounding to
# 28 digits cuts the coefficient's last digits (half to even), a quotient is long division in chunks of
# up to 10 digits to 30 or more digits after the first (then rounded to 28, the remainder deciding a
# tie), and the DOUBLE is read from the decimal's text (correctly rounded, as float(Decimal) is). The
# chunks are as long as a HUGEINT allows for the largest amount of the groups (_chunk); from 1e12 USD,
# the row formulas. tests/test_whatif_documents.py holds the frame to the row formulas bit for bit.

GROUPS = "lc_wi_groups"  # the grouped sums of a run: the totals row and one per group
REV_G = "lc_wi_rev_g"  # the window's revenue per customer or feature, as the rows carry it
PREC = 28  # significant digits of Python's default decimal context
QUOTIENT = 30  # digits of a quotient after its first (then rounded to PREC)
# From this many groups on the rows are a frame; below, dicts by the row formulas: importing polars and
# pyarrow and planning the frame's query cost about what this many dicts do (docs/whatif-performance.md).
FRAME_MIN_GROUPS = 10_000
ROUND9 = "CAST(printf('%.9f', {x}) AS DOUBLE)"  # round(x, 9), as revenue._num (metrics.ROUND9)


def _is_duckdb(con: Any) -> bool:
    """A DuckDB connection (Spark's runs the row formulas: its SQL has no HUGEINT)."""
    return type(con).__module__.split(".")[0] in ("duckdb", "_duckdb")


def _p10(exponent: str) -> str:
    """10^EXPONENT (0 to 38) as a HUGEINT: two powers of ten up to 10^19, each exact as a DOUBLE."""
    e = f"({exponent})"
    return f"(CAST(10.0 ** least({e}, 19) AS HUGEINT) * CAST(10.0 ** greatest({e} - 19, 0) AS HUGEINT))"


def _digits(x: str) -> str:
    """The number of decimal digits of the HUGEINT X >= 0 (1 for 0): log10 of its DOUBLE, put right
    by comparing with the powers of ten either side (the DOUBLE may round up to one)."""
    approx = f"(CAST(floor(log10(greatest(CAST({x} AS DOUBLE), 1))) AS INTEGER) + 1)"
    fix = f"CASE WHEN {x} >= {_p10(approx)} THEN 1 WHEN {x} < {_p10(f'{approx} - 1')} THEN -1 ELSE 0 END"
    return f"greatest({approx} + {fix}, 1)"


def _units_sql(decimal: str) -> str:
    """The coefficient of a DECIMAL(38,24) in units of 1e-24, as a HUGEINT."""
    return f"CAST(replace(CAST({decimal} AS VARCHAR), '.', '') AS HUGEINT)"


def _nested(source: str, stages: list[list[str]]) -> str:
    """SOURCE with the columns of each stage added in turn (a stage reads the ones before it)."""
    sql = source
    for stage in stages:
        sql = f"SELECT *, {', '.join(stage)} FROM ({sql})"
    return sql


def _round_stages(name: str, coef: str, exp: str) -> list[list[str]]:
    """NAME_c, NAME_e: the decimal COEF x 10^EXP rounded to PREC significant digits, half to even."""
    a, k, q, r, p = (f"{name}_{x}" for x in "akqrp")
    return [
        [f"abs({coef}) AS {a}", f"{coef} < 0 AS {name}_neg", f"{exp} AS {name}_ex"],
        [f"greatest({_digits(a)} - {PREC}, 0) AS {k}"],
        [f"CASE WHEN {k} = 0 THEN {a} ELSE {a} // {_p10(k)} END AS {q}", f"{_p10(k)} AS {p}"],
        [f"{a} - {q} * {p} AS {r}"],
        [f"(CASE WHEN {name}_neg THEN -1 ELSE 1 END) * ({q} + CASE WHEN 2 * {r} > {p} "
         f"OR (2 * {r} = {p} AND {q} % 2 = 1) THEN 1 ELSE 0 END) AS {name}_c",
         f"{name}_ex + {k} AS {name}_e"],
    ]  # fmt: skip


def _double(coef: str, exp: str) -> str:
    """The DOUBLE nearest to COEF x 10^EXP (DuckDB reads the text correctly rounded)."""
    return f"CAST(CAST({coef} AS VARCHAR) || 'e' || CAST({exp} AS VARCHAR) AS DOUBLE)"


def _chunk(longest: int) -> int | None:
    """The digits of a long division's chunk when no coefficient has more than LONGEST digits: a
    remainder (under the divisor) x 10^chunk fits a HUGEINT (< 10^38), at most 10; None if none."""
    chunk = min(10, 38 - longest)
    return chunk if chunk >= 1 else None


def _quotient_stages(name: str, j: int, t: str, d: str) -> list[list[str]]:
    """NAME_cJ = T // D and NAME_rJ = T % D (HUGEINTs, the quotient under 10^10): the quotient of
    their DOUBLEs (within 1e-5 of the exact one), then put right by the exact remainder (a HUGEINT
    division is many times slower)."""
    tj, g, h = f"{name}_t{j}", f"{name}_g{j}", f"({name}_t{j} - {name}_g{j} * {d})"
    return [
        [f"{t} AS {tj}", f"CAST(floor(CAST({t} AS DOUBLE) / CAST({d} AS DOUBLE)) AS HUGEINT) AS {g}"],
        [f"{g} + CASE WHEN {h} < 0 THEN -1 WHEN {h} >= {d} THEN 1 ELSE 0 END AS {name}_c{j}",
         f"{h} + CASE WHEN {h} < 0 THEN {d} WHEN {h} >= {d} THEN -{d} ELSE 0 END AS {name}_r{j}"],
    ]  # fmt: skip


def _pct_stages(
    name: str, num: tuple[str, str], den: tuple[str, str], chunk: int
) -> tuple[list[list[str]], str]:
    """The stages of NAME = NUM / DEN rounded to PREC digits x 100 (decimals as coefficient and
    exponent), and the DOUBLE of it: long division, in chunks of CHUNK digits, of the coefficients
    scaled to the same length L (a quotient from 0.1 to 10: QUOTIENT or more digits after the first;
    a chunk's remainder x 10^CHUNK is under 10^(L + CHUNK))."""
    (nc, ne), (dc, de) = num, den
    n, d, nn, dd = f"{name}_n", f"{name}_d", f"{name}_nn", f"{name}_dd"
    ln, ld = f"{name}_ln", f"{name}_ld"
    stages = [
        [f"abs({nc}) AS {n}", f"nullif(abs({dc}), 0) AS {d}", f"({nc} < 0) <> ({dc} < 0) AS {name}_neg",
         f"({ne}) - ({de}) AS {name}_x"],
        [f"{_digits(n)} AS {ln}", f"{_digits(d)} AS {ld}"],
        [f"{n} * {_p10(f'greatest({ld} - {ln}, 0)')} AS {nn}",
         f"{d} * {_p10(f'greatest({ln} - {ld}, 0)')} AS {dd}",
         f"greatest({ln} - {ld}, 0) - greatest({ld} - {ln}, 0) AS {name}_sh"],
    ]  # fmt: skip
    stages += _quotient_stages(name, 0, nn, dd)
    chunks = -(-QUOTIENT // chunk)
    for j in range(1, chunks + 1):
        stages += _quotient_stages(name, j, f"{name}_r{j - 1} * {10**chunk}", dd)
    digits = chunk * chunks
    whole = " + ".join(
        f"{name}_c{j} * CAST({10 ** (digits - chunk * j)} AS HUGEINT)" for j in range(chunks + 1)
    )
    m, k, q, r, p = (f"{name}_{x}" for x in ("m", "k", "q", "r", "p"))
    stages.append([f"{whole} AS {m}", f"{name}_r{chunks} <> 0 AS {name}_st"])
    stages.append([f"greatest({_digits(m)} - {PREC}, 0) AS {k}"])
    stages.append([f"{m} // {_p10(k)} AS {q}", f"{_p10(k)} AS {p}"])
    stages.append([f"{m} - {q} * {p} AS {r}"])
    up = (f"CASE WHEN 2 * {r} > {p} OR (2 * {r} = {p} AND ({name}_st OR {q} % 2 = 1))"
          " THEN 1 ELSE 0 END")  # fmt: skip
    coef = f"(CASE WHEN {name}_neg THEN -1 ELSE 1 END) * ({q} + {up})"
    # x 100: the exponent + 2 (exact, as Decimal's x 100 of 28 digits is)
    exp = f"{k} - {digits} + {name}_sh + {name}_x + 2"
    zero = f"CASE WHEN {name}_neg THEN CAST('-0.0' AS DOUBLE) ELSE 0.0 END"
    value = f"CASE WHEN {n} = 0 THEN {zero} ELSE {_double(coef, exp)} END"
    return stages, value


def _install_group_revenue(con: Any, by: list[str], window: Window) -> bool:
    """REV_G (g, revenue): the revenue of each customer (or feature) of the window as the rows carry
    it (revenue._num of the same sums _revenue reads); whether there is any."""
    if by == ["feature"]:
        wsql, wparams = window.sql()
        sql = revenue_rule.BY_REQUESTS.format(
            requests=f"""SELECT feature AS g, customer_id, CAST(date_trunc('month', ts) AS DATE) AS month,
                       count(*) AS n FROM requests WHERE {wsql} GROUP BY ALL""",
            table=REV,
        )
    else:
        sql, wparams = (
            f"SELECT customer_id AS g, sum(revenue) AS revenue FROM {REV} WHERE NOT prev GROUP BY ALL",
            [],
        )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {REV_G} AS SELECT g, {ROUND9.format(x='revenue')} AS revenue FROM ({sql})",
        wparams,
    )
    return bool(con.execute(f"SELECT count(*) FROM {REV_G}").fetchone()[0])


def _group_chunk(con: Any, with_revenue: bool) -> int | None:
    """_chunk for the groups' amounts: the digits, at 1e-24, of the largest cost (and revenue), + 1
    for a margin's revenue - cost."""
    (big,) = con.execute(
        f"SELECT greatest(max(abs(b)), max(abs(s))) FROM {GROUPS} WHERE gid = 0"
    ).fetchone()
    amounts = [Decimal(big or 0)]
    if with_revenue:
        (rev,) = con.execute(f"SELECT max(abs(revenue)) FROM {REV_G}").fetchone()
        amounts.append(_dec(rev or 0))
    units = max(int(a.scaleb(24).to_integral_value(rounding="ROUND_CEILING")) for a in amounts)
    return _chunk(len(str(units)) + 1)


def _group_frame(con: Any, by: list[str], with_revenue: bool, chunk: int) -> pl.DataFrame:
    """The group rows of GROUPS (one per --by group, costliest first) as a frame, every field in SQL:
    the same numbers, bit for bit, as _group_rows (see above)."""
    from llmcost.documents import fetch_frame

    picks = ", ".join(f"d{i} AS {_ident(name)}" for i, name in enumerate(by))
    join = f" LEFT JOIN {REV_G} rg ON g.d0 IS NOT DISTINCT FROM rg.g" if with_revenue else ""
    rev = ", rg.revenue AS rev" if with_revenue else ""
    keys = "".join(f"g.d{i}, " for i in range(len(by)))
    source = (
        f"SELECT {keys}g.n, g.n_scope, g.b, g.s{rev}, {_units_sql('g.b')} AS bc, {_units_sql('g.s')} AS sc"
        f" FROM {GROUPS} g{join} WHERE g.gid = 0"
    )
    stages: list[list[str]] = [["bc - sc AS sv_raw"]]
    if with_revenue:
        stages[0] += [
            f"{_units_sql('CAST(CAST(rev AS VARCHAR) AS DECIMAL(38,24))')} AS rc",
        ]
        stages.append(["rc - coalesce(bc, 0) AS mb_raw", "rc - coalesce(sc, 0) AS ma_raw"])
    rounds = [_round_stages("sv", "sv_raw", "-24")]
    if with_revenue:
        rounds += [_round_stages("mb", "mb_raw", "-24"), _round_stages("ma", "ma_raw", "-24")]
    stages += [[c for r in rounds for c in r[i]] for i in range(len(rounds[0]))]
    divs = [_pct_stages("svp", ("sv_c", "sv_e"), ("bc", "-24"), chunk)]
    if with_revenue:
        divs += [
            _pct_stages("mbp", ("mb_c", "mb_e"), ("rc", "-24"), chunk),
            _pct_stages("map", ("ma_c", "ma_e"), ("rc", "-24"), chunk),
        ]
    stages += [[c for d in divs for c in d[0][i]] for i in range(len(divs[0][0]))]
    both = "b IS NOT NULL AND s IS NOT NULL"
    fields = [
        "CAST(n AS BIGINT) AS requests", "CAST(n_scope AS BIGINT) AS scope_requests",
        "CAST(CAST(b AS VARCHAR) AS DOUBLE) AS baseline_cost_usd",
        "CAST(CAST(s AS VARCHAR) AS DOUBLE) AS scenario_cost_usd",
        f"CASE WHEN {both} THEN {_double('sv_c', 'sv_e')} END AS savings_usd",
        f"CASE WHEN {both} AND bc <> 0 THEN {divs[0][1]} END AS savings_pct",
    ]  # fmt: skip
    if with_revenue:
        known = "rev IS NOT NULL AND rev <> 0"
        fields += [
            "rev AS revenue_usd",
            f"CASE WHEN {known} THEN {divs[1][1]} END AS margin_before_pct",
            f"CASE WHEN {known} THEN {divs[2][1]} END AS margin_after_pct",
        ]
    order = ", ".join(["b DESC NULLS LAST", *(f"d{i}" for i in range(len(by)))])
    sql = f"SELECT {picks}, {', '.join(fields)} FROM ({_nested(source, stages)}) ORDER BY {order}"
    return fetch_frame(con, sql)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _group_rows(
    by: list[str], recs: list[tuple[Any, ...]], revenue: tuple[Any, dict[Any, Any]] | None
) -> list[dict[str, Any]]:
    """The group rows RECS (gid, the groups' keys, then as the totals) as dicts, by the row formulas."""
    k = len(by)
    rows: list[dict[str, Any]] = []
    for rec in recs:
        row = {name: rec[1 + i] for i, name in enumerate(by)}
        g = rec[k + 1 :]
        row.update(
            requests=g[0], scope_requests=g[1], baseline_cost_usd=g[5], scenario_cost_usd=g[6]
        )
        _savings(row)
        if revenue is not None and revenue[1]:
            row["revenue_usd"] = revenue[1].get(rec[1])
            _margins(row)
        rows.append(row)
    return rows


def summary(s: Scenario) -> str:
    """The levers and scope in one short line: `route_to=haiku share=0.5 | feature=support-chat`."""
    default = Levers()
    levers = " ".join(
        f"{f.name}={getattr(s.levers, f.name)}"
        for f in fields(Levers)
        if getattr(s.levers, f.name) != getattr(default, f.name)
    )
    scope = [f"feature={','.join(s.scope.features)}"] if s.scope.features else []
    scope += [f"model={','.join(s.scope.models)}"] if s.scope.models else []
    return f"{levers} | {' '.join(scope + s.scope.where) or 'all requests'}"


def _asdict(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def describe(s: Scenario, facts: dict[str, Any] | None = None) -> list[str]:
    """Every assumption of the scenario, in words, printed beside the numbers."""
    lv, sc = s.levers, s.scope
    parts = []
    if sc.features:
        parts.append("feature in " + ", ".join(sc.features))
    if sc.models:
        parts.append(f"model {' or '.join(sc.models)}")
    parts += sc.where
    out = [f"scope: {'; '.join(parts) if parts else 'every request'}"]
    if lv.max_steps is not None:
        out.append(
            f"agent tasks stop after {lv.max_steps} steps (order: step, then time); later steps are dropped, cost 0"
        )
    if lv.cap_user_cost is not None:
        out.append(
            f"each user's cost is capped at ${lv.cap_user_cost:g} per calendar month (UTC): in time order, the request "
            "that takes the user's cost as logged over the cap, and every later one that month, is not served (cost 0)"
        )
    if lv.route_to:
        target = (facts or {}).get("target")
        name = f"{target.id} ({target.provider}, {target.tier} tier)" if target else lv.route_to
        if target and lv.route_to.strip().lower() in pricing.FAMILIES:
            name = f"{target.id} ({lv.route_to!r}: the newest of its family; {target.provider}, {target.tier} tier)"
        share = (
            f"{lv.share:.0%} of the scope (chosen by a hash of request_id)"
            if lv.share is not None
            else "the scope"
        )
        out.append(
            f"{share} routed to {name}: same token counts, its price at each request's time (its earliest before it existed)"
        )
    if lv.compress_input is not None:
        out.append(
            f"uncached input tokens shrink by {lv.compress_input:.0%} (rounded to whole tokens)"
        )
    if lv.max_output_tokens is not None:
        out.append(f"output tokens above {lv.max_output_tokens:,} are cut (reasoning included)")
    if lv.prompt_cache:
        out.append(
            f"a static prefix of {lv.prompt_cache:,} uncached input tokens per request is prompt-cached per feature+model: "
            f"written at the {lv.cache_ttl} cache-write rate when cold, read while warm; {lv.cache_ttl} TTL refreshed "
            "by every request; provider minimum prefix sizes ignored"
        )
    if lv.batch:
        out.append(
            "the scope goes through the batch API at each model's batch discount (results within 24 h)"
        )
    if lv.cache_hit_rate is not None:
        out.append(
            f"a semantic cache answers {lv.cache_hit_rate:.0%} of the scope: provider cost x {1 - lv.cache_hit_rate:g} "
            f"(expected value), plus ${lv.cache_lookup_cost:g} per request looked up"
        )
    if sum(1 for line in out[1:]) > 1:
        out.append(
            "levers apply in this order: max-steps, user cost cap, route, compress, output cap, prompt cache, batch, semantic cache"
        )
    if lv.plan_price:
        prices_text = ", ".join(f"{plan} ${usd:g}" for plan, usd in lv.plan_price.items())
        out.append(
            f"plan prices per customer-month: {prices_text} (instead of the revenue loaded); costs do not change"
        )
    out.append("quality and latency are not measured")
    return out


# ---------------------------------------------------------------- scenario files

CONFIG_KEYS = {f.name for f in fields(Levers)} | {"feature", "model", "where", "description"}


def scenario_from_config(name: str, raw: Any) -> Scenario:
    """A `[scenarios.NAME]` table of llmcost.toml: the levers as keys, plus feature / model / where."""
    if not isinstance(raw, dict):
        raise ConfigError(f"[scenarios.{name}] must be a table", hint='e.g. route_to = "haiku"')
    unknown = sorted(set(raw) - CONFIG_KEYS)
    if unknown:
        raise ConfigError(
            f"[scenarios.{name}]: unknown key {unknown[0]!r}",
            hint=f"known keys: {', '.join(sorted(CONFIG_KEYS))}",
        )

    def as_list(value: Any) -> list[str]:
        return [value] if isinstance(value, str) else [str(v) for v in value or []]

    lever_kwargs = {k: v for k, v in raw.items() if k in {f.name for f in fields(Levers)}}
    types = {"share": float, "cache_hit_rate": float, "cache_lookup_cost": float, "compress_input": float,
             "prompt_cache": int, "max_output_tokens": int, "max_steps": int, "batch": bool, "route_to": str, "cache_ttl": str,
             "cap_user_cost": float, "plan_price": dict}  # fmt: skip
    for key, value in lever_kwargs.items():
        want = types[key]
        ok = isinstance(value, want) or (
            want is float and isinstance(value, int) and not isinstance(value, bool)
        )
        if not ok or (want is int and isinstance(value, bool)):
            raise ConfigError(f"[scenarios.{name}]: {key} must be {want.__name__}, got {value!r}")
    s = Scenario(
        name=name,
        scope=Scope(
            features=as_list(raw.get("feature")),
            where=as_list(raw.get("where")),
            models=as_list(raw.get("model")),
        ),
        levers=Levers(**lever_kwargs),
    )
    try:
        validate(s)
    except LlmcostError as exc:
        raise ConfigError(f"[scenarios.{name}]: {exc.message}", hint=exc.hint) from None
    return s


def configured(raw_config: dict[str, Any]) -> dict[str, Scenario]:
    section = raw_config.get("scenarios", {})
    if not isinstance(section, dict):
        raise ConfigError("[scenarios] must be a table of [scenarios.NAME] tables")
    return {name: scenario_from_config(name, raw) for name, raw in section.items()}


def configured_totals(
    con: Any,
    prices: pricing.PriceTable,
    raw_config: dict[str, Any],
    *,
    window: Window | None = None,
) -> list[dict[str, Any]]:
    """Every configured scenario's totals (name, assumptions, baseline/scenario/savings), for reports."""
    out = []
    section = raw_config.get("scenarios", {})
    for name, s in configured(raw_config).items():
        res = run(con, prices, s, window=window)
        t = res.doc["totals"]
        out.append({
            "name": name, "description": section[name].get("description"), "summary": summary(s),
            "assumptions": res.assumptions,
            **{k: t[k] for k in ("requests", "scope_requests", "baseline_cost_usd", "scenario_cost_usd",
                                 "savings_usd", "savings_pct")},
        })  # fmt: skip
    return out


@dataclass
class CompareResult:
    """Scenarios side by side (`whatif --all`) or ranked opportunities (`whatif --suggest`)."""

    schema: str
    rows: list[dict[str, Any]]
    notes: list[str]
    title: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"schema": self.schema, "notes": self.notes, **self.extra, "rows": self.rows}

    def headline(self) -> list[str]:
        return self.notes

    def tables(self) -> list[Table]:
        if self.rows and "command" in self.rows[0]:
            return self._suggest_tables()
        first = [Column("rank", "#", "int")] if self.rows and "rank" in self.rows[0] else []
        cols = [*first, Column("name", "scenario"), Column("scope_requests", "requests", "int"),
                Column("baseline_cost_usd", "baseline", "usd"), Column("scenario_cost_usd", "scenario", "usd"),
                Column("savings_usd", "savings", "usd"), Column("savings_pct", "savings %", "pct"), Column("why", "what / why")]  # fmt: skip
        rows = [
            {**r, "why": r.get("why") or r.get("description") or r.get("summary")}
            for r in self.rows
        ]
        return [Table(self.title, cols, rows)]

    def _suggest_tables(self) -> list[Table]:
        margin = (
            [Column("margin_points", "margin pts", "num")]
            if self.rows[0].get("margin_points") is not None
            else []
        )
        cols = [Column("rank", "#", "int"), Column("name", "opportunity"), Column("scope_requests", "requests", "int"),
                Column("baseline_cost_usd", "cost now", "usd"), Column("savings_usd", "savings", "usd"),
                Column("savings_pct", "savings %", "pct"), *margin, Column("why", "why")]  # fmt: skip
        commands = Table("reproduce each one", [Column("rank", "#", "int"), Column("command")], self.rows,
                         note="quality is not measured")  # fmt: skip
        return [Table(self.title, cols, self.rows), commands]


def compare_all(
    con: Any,
    prices: pricing.PriceTable,
    raw_config: dict[str, Any],
    *,
    window: Window | None = None,
) -> CompareResult:
    rows = configured_totals(con, prices, raw_config, window=window)
    if not rows:
        raise ConfigError(
            "no scenarios configured",
            hint='add [scenarios.NAME] tables to llmcost.toml, e.g. route_to = "haiku"',
        )
    return CompareResult(SCHEMA.replace("whatif/", "whatif.compare/"), rows,
                         ["scenarios from the configuration, each against the same baseline", "quality and latency are not measured"],
                         "scenarios")  # fmt: skip


def from_options(
    name: str | None, raw_config: dict[str, Any], *, features: list[str], model: str | list[str] | None, where: list[str],
    levers: dict[str, Any],
) -> Scenario:  # fmt: skip
    """The scenario of a command line: a named one from the configuration, with any flags given on top."""
    given = {k: v for k, v in levers.items() if v is not None and v is not False}
    models = [model] if isinstance(model, str) else list(model or [])
    if name is not None:
        scenarios = configured(raw_config)
        if name not in scenarios:
            known = ", ".join(scenarios) or "none configured"
            raise ConfigError(
                f"no scenario named {name!r}",
                hint=f"[scenarios.NAME] in llmcost.toml; known: {known}",
            )
        s = scenarios[name]
        scope = Scope(
            features or s.scope.features, None, [*s.scope.where, *where], models or s.scope.models
        )
        s = Scenario(name, scope, replace(s.levers, **given))
    else:
        s = Scenario("scenario", Scope(features, None, where, models), Levers(**given))
    if is_empty(s.levers):
        raise LlmcostError(
            "no lever given",
            hint="e.g. --route-to haiku, --batch, --max-output-tokens 500, a scenario NAME, --all or --suggest",
        )
    validate(s)
    return s


# ---------------------------------------------------------------- opportunity finder

ROUTE_MAX_AVG_OUTPUT = 256  # tokens: short, classification-like answers
ROUTE_MAX_AVG_INPUT = 2000
BATCH_MIN_LATENCY_MS = 60_000  # half a feature's requests already wait a minute: no latency need
# half a feature's requests in one hour of the day (UTC), on 3 days or more: a scheduled job
BATCH_MIN_HOUR_SHARE = 0.5
BATCH_MIN_DAYS = 3
CAP_MIN_TAIL_SHARE = (
    0.05  # cap output at P95 only when the tail above it is at least 5% of output tokens
)
REPEAT_MIN_RATE = 0.02
STEPS_MIN_P95 = 10  # tasks of a feature whose P95 is this many steps or more are long agent runs
PREFIX_MIN_TOKENS = 1024  # the smallest prefix the providers cache
PREFIX_MAX_CACHED_SHARE = (
    0.2  # a feature+model that reads less than this share of its input from the cache
)


def quantile_cont(counts: list[tuple[int, int]], q: float) -> float:
    """DuckDB's quantile_cont from (value, count) pairs in value order: linear interpolation between the
    order statistics at floor and ceil of (n - 1) x q."""
    n = sum(k for _, k in counts)
    if not n:
        return 0.0
    h = (n - 1) * q
    lo, hi = math.floor(h), math.ceil(h)
    x_lo = x_hi = None
    seen = 0
    for value, k in counts:
        if x_lo is None and lo < seen + k:
            x_lo = value
        if hi < seen + k:
            x_hi = value
            break
        seen += k
    assert x_lo is not None and x_hi is not None
    return x_lo + (h - lo) * (x_hi - x_lo)


def cheapest_of_tier(
    prices: pricing.PriceTable, provider: str, tier: str, when: datetime
) -> pricing.Model | None:
    """The model of `provider` and `tier` with the lowest input + output rate at `when`; at the same rate the
    newest model (latest first price version), then the id."""
    best: tuple[Decimal, int, str] | None = None
    for m in prices.models.values():
        v = m.version_at(when)
        if m.provider == provider and m.tier == tier and v is not None:
            key = (v.input + v.output, -m.versions[0].effective_from.toordinal(), m.id)
            best = key if best is None or key < best else best
    return prices.models[best[2]] if best else None


def cheapest_small(
    prices: pricing.PriceTable, provider: str, when: datetime
) -> pricing.Model | None:
    """The small-tier model of `provider` with the lowest input + output rate at `when`."""
    return cheapest_of_tier(prices, provider, "small", when)


def route_target(
    prices: pricing.PriceTable, provider: str, tier: str, when: datetime, *, short: bool
) -> pricing.Model | None:
    """Short, classification-like requests: the cheapest small model of the same vendor; others: the
    cheapest model one tier down (frontier -> mid -> small), else any smaller tier."""
    below = list(pricing.TIERS[: pricing.TIERS.index(tier)])
    order = below if short else below[::-1]
    for t in order:
        found = cheapest_of_tier(prices, provider, t, when)
        if found is not None:
            return found
    return None


def command(s: Scenario, window: Window) -> str:
    """The `llmcost whatif` command line that reproduces the scenario."""
    import shlex

    parts = ["llmcost", "whatif"]
    for feat in s.scope.features:
        parts += ["--feature", feat]
    for m in s.scope.models:
        parts += ["--model", m]
    for w in s.scope.where:
        parts += ["--where", w]
    lv, default = s.levers, Levers()
    for f in fields(Levers):
        value = getattr(lv, f.name)
        if value == getattr(default, f.name):
            continue
        flag = "--" + f.name.replace("_", "-")
        parts += (
            [flag]
            if value is True
            else [flag, f"{value:g}" if isinstance(value, float) else str(value)]
        )
    for name, when in (("--since", window.since), ("--until", window.until)):
        if when is not None:
            parts += [name, when.strftime("%Y-%m-%dT%H:%M:%SZ")]
    return " ".join(shlex.quote(p) for p in parts)


def _route_candidates(con: Any, prices: pricing.PriceTable) -> list[tuple[str, Scenario, str]]:
    """Per feature and logged model on a mid or frontier price row (of SG_HOURS, the window's requests)."""
    out = []
    inputs = " + ".join(f"a.b_{c}" for c, _ in BUCKETS if c != "out")
    for feature, model, provider, tier, avg_in, avg_out, last in con.execute(
        f"""SELECT a.feature, a.model, p.price_provider, p.tier, sum({inputs}) / sum(a.n), sum(a.b_out) / sum(a.n), max(a.last)
            FROM {SG_HOURS} a JOIN lc_prices p ON p.model = a.model AND p.host = a.host AND a.day >= p.valid_from AND a.day < p.valid_to
            WHERE p.tier IN ('mid', 'frontier') AND a.feature IS NOT NULL
            GROUP BY ALL ORDER BY 1, 2"""
    ).fetchall():
        short = avg_out <= ROUTE_MAX_AVG_OUTPUT and avg_in <= ROUTE_MAX_AVG_INPUT
        target = route_target(prices, provider, tier, last, short=short)
        if target is None:
            continue
        why = f"{tier} model, avg {avg_in:,.0f} in / {avg_out:,.0f} out tokens"
        why += ": short, classification-like" if short else ""
        why += f"; the cheapest {target.tier} model of {target.provider}"
        s = Scenario(
            f"route {feature} {model} → {target.id}",
            Scope([feature], model),
            Levers(route_to=target.id),
        )
        out.append(("route", s, why))
    return out


def _feature_candidates(con: Any, wsql: str, wparams: list[Any]) -> list[tuple[str, Scenario, str]]:
    out: list[tuple[str, Scenario, str]] = []
    # exact repeats: a prompt hash seen before is a hit an exact-match cache would have served (a LIKE first:
    # the JSON is parsed only where the key appears)
    for feature, n, distinct in con.execute(
        f"""SELECT feature, count(*), count(DISTINCT json_extract_string(attrs, '$.prompt_hash'))
            FROM requests WHERE {wsql} AND attrs LIKE '%prompt_hash%' AND json_extract_string(attrs, '$.prompt_hash') IS NOT NULL GROUP BY 1 ORDER BY 1""",
        wparams,
    ).fetchall():
        rate = 1 - distinct / n
        if rate >= REPEAT_MIN_RATE:
            why = f"{n - distinct:,} of {n:,} prompts repeat exactly (attrs.prompt_hash): observed hit rate {rate:.1%}"
            out.append(("cache", Scenario(f"cache {feature}", Scope([feature] if feature else []),
                                          Levers(cache_hit_rate=round(rate, 6))), why))  # fmt: skip
    # batchable (no latency need, or a schedule) and output caps, per feature: SG_HOURS (by day and hour) and
    # a grouped scan by output length, read in Python, instead of holistic aggregates over every request
    shape: dict[Any, dict[str, Any]] = {}
    for feature, day, hr, k, nb, nl, slow in con.execute(
        f"""SELECT feature, day, hour, sum(n), coalesce(sum(n) FILTER (WHERE batch), 0),
                   coalesce(sum(n) FILTER (WHERE timed), 0), coalesce(sum(n) FILTER (WHERE slow), 0)
            FROM {SG_HOURS} WHERE feature IS NOT NULL GROUP BY ALL"""
    ).fetchall():
        f = shape.setdefault(
            feature, {"n": 0, "batch": 0, "timed": 0, "slow": 0, "days": set(), "hours": {}}
        )
        f["n"] += k
        f["batch"] += nb
        f["timed"] += nl
        f["slow"] += slow
        f["days"].add(day)
        f["hours"][hr] = f["hours"].get(hr, 0) + k
    lengths: dict[Any, list[tuple[int, int]]] = {}
    for feature, tokens, k in con.execute(
        f"""SELECT feature, output_tokens, count(*) FROM requests WHERE {wsql} AND feature IS NOT NULL
            GROUP BY ALL ORDER BY 1, 2""",
        wparams,
    ).fetchall():
        lengths.setdefault(feature, []).append((tokens, k))
    for feature in sorted(shape, key=str):
        f = shape[feature]
        batch_share = f["batch"] / f["n"]
        slow = bool(f["timed"]) and f["slow"] * 2 >= f["timed"]
        hour_share = max(f["hours"].values()) / f["n"]
        scheduled = hour_share >= BATCH_MIN_HOUR_SHARE and len(f["days"]) >= BATCH_MIN_DAYS
        if batch_share < 1 and (batch_share > 0 or slow or scheduled):
            if batch_share > 0:
                why = f"{batch_share:.0%} already batch: no latency need"
            elif slow:
                why = f"{f['slow'] / f['timed']:.0%} of its requests take a minute or more: no latency need"
            else:
                why = f"{hour_share:.0%} of its requests in one hour of the day (UTC) over {len(f['days'])} days: a scheduled job"
            out.append(
                ("batch", Scenario(f"batch {feature}", Scope([feature]), Levers(batch=True)), why)
            )
        counts = lengths.get(feature, [])
        p95 = math.floor(quantile_cont(counts, 0.95))
        out_total = sum(t * k for t, k in counts)
        tail = sum(max(t - p95, 0) * k for t, k in counts)
        if out_total and tail and tail / out_total >= CAP_MIN_TAIL_SHARE:
            why = f"long output tail: {tail / out_total:.0%} of output tokens are above the P95 ({p95:,})"
            out.append(
                (
                    "cap",
                    Scenario(
                        f"cap {feature} at P95", Scope([feature]), Levers(max_output_tokens=p95)
                    ),
                    why,
                )
            )
    # long agent tasks: stop at the P90 of steps
    # (the steps per task and feature are kept: the --max-steps candidates are re-priced on their long tasks)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {SG_TASKS} AS SELECT task_id, feature, count(*) AS k, min(ts) AS first
            FROM requests WHERE {wsql} AND task_id IS NOT NULL GROUP BY ALL""",
        wparams,
    )
    for feature, tasks, p50, p90, _p95, longest in con.execute(
        f"""SELECT feature, count(*), median(k), floor(quantile_cont(k, 0.9)), quantile_cont(k, 0.95), max(k)
            FROM (SELECT arg_min(feature, first) AS feature, CAST(sum(k) AS BIGINT) AS k FROM {SG_TASKS} GROUP BY task_id)
            WHERE feature IS NOT NULL GROUP BY 1 HAVING quantile_cont(k, 0.95) >= ? ORDER BY 1""",
        [STEPS_MIN_P95],
    ).fetchall():
        if p90 >= 1 and longest > p90:
            why = f"long agent tasks: {tasks:,} tasks, steps median {p50:,.0f}, P90 {p90:,.0f}, max {longest:,}"
            out.append(("max_steps", Scenario(f"stop {feature} tasks at {int(p90)} steps", Scope([feature]),
                                              Levers(max_steps=int(p90))), why))  # fmt: skip
    # large prefixes not cached: half the smallest common uncached input (its P10) as a cacheable prefix. The
    # P10 is read only for the feature + model pairs SG_HOURS does not rule out: a pair with more than
    # ceil((n - 1) x 0.1) requests under the threshold has its P10 under it, and the cached share is its sums'
    inputs = " + ".join(f"b_{c}" for c, _ in BUCKETS if c != "out")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {SG_PAIRS} AS SELECT feature, model FROM {SG_HOURS}
            WHERE feature IS NOT NULL AND NOT cache_hit GROUP BY ALL
            HAVING sum(small) <= ceil((sum(n) - 1) * 0.1)
               AND coalesce(sum(b_cr) / nullif(sum({inputs}), 0), 0) < ?""",
        [PREFIX_MAX_CACHED_SHARE],
    )
    pairs = con.execute(f"SELECT count(*) FROM {SG_PAIRS}").fetchone()[0]
    for feature, model, p10, share in (
        con.execute(
            f"""SELECT feature, model, quantile_cont({_uncached()}, 0.1),
                   sum(cache_read_tokens) / nullif(sum(input_tokens), 0)
            FROM requests WHERE {wsql} AND feature IS NOT NULL AND NOT cache_hit
                 AND (feature, model) IN (SELECT (feature, model) FROM {SG_PAIRS}) GROUP BY ALL
            HAVING quantile_cont({_uncached()}, 0.1) >= ? AND coalesce(sum(cache_read_tokens) / nullif(sum(input_tokens), 0), 0) < ?
            ORDER BY 1, 2""",
            [*wparams, 2 * PREFIX_MIN_TOKENS, PREFIX_MAX_CACHED_SHARE],
        ).fetchall()
        if pairs
        else []
    ):
        prefix = int(p10 // 2)
        why = (f"P10 of uncached input {p10:,.0f} tokens, {float(share or 0):.0%} of input read from the prompt cache; "
               "assumes a shared prefix of half that (not observed)")  # fmt: skip
        out.append(("prompt_cache", Scenario(f"prompt-cache {feature} {model}", Scope([feature], model),
                                             Levers(prompt_cache=prefix)), why))  # fmt: skip
    return out


# ---------------------------------------------------------------- suggest: one pre-aggregation
#
# Every candidate is re-priced over one table of the window's requests summed per price key (feature,
# logged model, host, UTC day, long-context side, batch, cache hit), built once per run, instead of one
# what-if over every request each. A group's cost is linear in its token sums at one price row (_units),
# so its cost under routing, batching or a semantic cache is its sums at the scenario's price row. The
# levers that change rows (output cap, max steps, prompt cache) add, per candidate, the change of the
# token sums of the rows they touch (one grouped scan each, over those rows only): the scenario's sums
# are the baseline's plus that change, priced at the same row. Integer units of 1e-24 USD again, so the
# totals are the same numbers, digit for digit, as `llmcost whatif` gives for the candidate's command.

# SG_HOURS: SG_BASE's groups by hour of the day and latency too, with the last request
SG_HOURS = "lc_sg_hours"
SG_BASE = "lc_sg_base"
SG_PAIRS = "lc_sg_pairs"  # the feature + model pairs whose prefix P10 is read
SG_DELTA = "lc_sg_delta"
SG_PARAMS = "lc_sg_params"
SG_PRICES = "lc_sg_prices"
SG_PRICES_I = "lc_sg_prices_i"
SG_TASKS = "lc_sg_tasks"  # the steps per task and feature in the window (_feature_candidates)
SG_KEYS = "feature, model, host, day, lg, batch, cache_hit"


def _sg_keys_sql(thresholds: list[int], r: str = "") -> str:
    """The price key of request `r`, as SG_KEYS."""
    return (f"{r}feature AS feature, {r}model AS model, coalesce({r}provider, '') AS host, CAST({r}ts AS DATE) AS day, "
            f"{_long(thresholds)} AS lg, {r}batch AS batch, {r}cache_hit AS cache_hit")  # fmt: skip


def _sg_register(
    con: Any,
    prices: pricing.PriceTable,
    keys: list[tuple[str, str]],
    targets: list[pricing.Model],
    thresholds: list[int],
) -> list[int]:
    """As _register_prices, into tables of suggest's own, with a routed key for every target at once, the
    long-context side by `thresholds` (those of SG_BASE's `lg`) and any more the rows have: returns them."""
    rows = pricing.price_rows(prices, keys)
    for t in targets:
        rows += pricing.price_rows(prices, [(ROUTED_PREFIX + t.id, "")], as_model=t)
    return _integer_prices(con, SG_PRICES, SG_PRICES_I, rows, thresholds, tier=False)


def _sg_thresholds(prices: pricing.PriceTable) -> list[int]:
    """Every long-context threshold of the price table: `lg` counts those below the input, so a price row's
    side is known (lg >= its position) whichever rows the candidates join."""
    return sorted(
        {
            v.long_context_threshold
            for m in prices.models.values()
            for v in m.versions
            if v.long_context_threshold is not None
        }
    )


def _sg_base(con: Any, thresholds: list[int], wsql: str, wparams: list[Any]) -> None:
    """The window's requests summed per price key: requests and the baseline's token buckets (b_*); SG_HOURS
    the same per hour of the day and latency too (what the candidates are found in)."""
    sums = ", ".join(f"sum({e}) AS b_{c}" for (c, _), e in zip(BUCKETS, _SG_TOKENS, strict=True))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {SG_HOURS} AS
            SELECT {_sg_keys_sql(thresholds)}, hour(ts) AS hour, latency_ms IS NOT NULL AS timed,
                   latency_ms >= {BATCH_MIN_LATENCY_MS} AS slow, count(*) AS n, {sums}, max(ts) AS last,
                   count(*) FILTER (WHERE {_uncached()} < {2 * PREFIX_MIN_TOKENS}) AS small
            FROM requests WHERE {wsql} GROUP BY ALL""",
        wparams,
    )
    resum = ", ".join(f"sum(b_{c}) AS b_{c}" for c, _ in BUCKETS)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {SG_BASE} AS SELECT {SG_KEYS}, sum(n) AS n, {resum} FROM {SG_HOURS} GROUP BY ALL"
    )


_SG_TOKENS = (
    _uncached(),
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
)


def _sg_params(con: Any, rows: list[tuple[Any, ...]], columns: str) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {SG_PARAMS} ({columns})")
    if rows:
        con.executemany(f"INSERT INTO {SG_PARAMS} VALUES ({', '.join('?' * len(rows[0]))})", rows)


def _sg_deltas(
    con: Any,
    thresholds: list[int],
    wsql: str,
    wparams: list[Any],
    caps: list[tuple[int, str, int]],
    steps: list[tuple[int, str, int]],
    prefixes: list[tuple[int, str, str, int, str]],
) -> None:
    """SG_DELTA: per candidate and price key, how its lever changes the token sums (d_*) of the rows it
    touches. caps and steps: (candidate, feature, N); prefixes: (candidate, feature, logged model, P, ttl)."""
    cols = ", ".join(f"d_{c} HUGEINT" for c, _ in BUCKETS)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {SG_DELTA} (cand INTEGER, feature VARCHAR, model VARCHAR, host VARCHAR,
            day DATE, lg INTEGER, batch BOOLEAN, cache_hit BOOLEAN, {cols})"""
    )
    keys = _sg_keys_sql(thresholds, "r.")
    if caps:  # 4. output above N is cut: d_out = least(out, N) - out on the rows above N
        _sg_params(con, caps, "cand INTEGER, feature VARCHAR, lim BIGINT")
        con.execute(
            f"""INSERT INTO {SG_DELTA}
                SELECT c.cand, {keys}, 0, 0, 0, 0, sum(c.lim - r.output_tokens)
                FROM requests r JOIN {SG_PARAMS} c ON r.feature = c.feature
                WHERE ({wsql}) AND r.output_tokens > c.lim GROUP BY ALL""",
            wparams,
        )
    if (
        steps
    ):  # 1. the steps after N of each task, in step then time order, are dropped: d = -tokens (only
        # the tasks of more than N steps, from SG_TASKS, are ordered, each one by a number: one (feature,
        # task_id) of SG_TASKS)
        _sg_params(con, steps, "cand INTEGER, feature VARCHAR, lim BIGINT")
        minus = ", ".join(f"-sum({e})" for e in _SG_TOKENS)
        con.execute(
            f"""INSERT INTO {SG_DELTA}
                SELECT cand, {keys}, {minus} FROM (
                    SELECT c.cand, c.lim, r.feature, r.model, r.provider, r.ts, r.batch, r.cache_hit, r.input_tokens,
                           r.cache_read_tokens, r.cache_write_tokens, r.cache_write_1h_tokens, r.output_tokens,
                           row_number() OVER (PARTITION BY c.tid ORDER BY r.step NULLS LAST, r.ts, r.request_id) AS k
                    FROM requests r JOIN (SELECT row_number() OVER () AS tid, t.task_id, c.* FROM {SG_TASKS} t JOIN {SG_PARAMS} c
                                          ON t.feature = c.feature WHERE t.k > c.lim) c
                         ON r.task_id = c.task_id AND r.feature = c.feature
                    WHERE {wsql}) r
                WHERE k > lim GROUP BY ALL""",
            wparams,
        )
    if prefixes:  # 5. a prefix of P uncached tokens is read while the cache is warm, else written
        _sg_params(
            con, prefixes, "cand INTEGER, feature VARCHAR, model VARCHAR, lim BIGINT, ttl VARCHAR"
        )
        written = {
            "5m": ("coalesce(sum(p) FILTER (WHERE NOT warm), 0)", "0"),
            "1h": ("0", "coalesce(sum(p) FILTER (WHERE NOT warm), 0)"),
        }
        for ttl, (cw, cw1) in written.items():
            con.execute(
                f"""INSERT INTO {SG_DELTA}
                    SELECT cand, {SG_KEYS}, -sum(p), coalesce(sum(p) FILTER (WHERE warm), 0), {cw}, {cw1}, 0 FROM (
                        SELECT c.cand, {keys}, least({_uncached("r.")}, c.lim) AS p,
                               coalesce(epoch(r.ts) - epoch(lag(r.ts) OVER (PARTITION BY r.feature, r.model ORDER BY r.ts, r.request_id)) <= {TTLS[ttl]}, false) AS warm
                        FROM requests r JOIN {SG_PARAMS} c ON r.feature = c.feature AND r.model = c.model
                        WHERE ({wsql}) AND c.ttl = ? AND NOT r.cache_hit)
                    GROUP BY ALL""",
                [*wparams, ttl],
            )


def _sg_price(
    con: Any, scope: str, params: list[Any], *, scen: str, smodel: str = "a.model", shost: str = "a.host",
    delta: int | None = None,
) -> tuple[int, Any, Any]:  # fmt: skip
    """(requests, baseline, scenario) of the SG_BASE rows in `scope` (plus candidate `delta`'s SG_DELTA
    rows): `scen` is the scenario's cost of a group in 1e-24 USD at price row `q` (its sums are a.s_*)."""
    same = ", ".join(f"b_{c} AS s_{c}" for c, _ in BUCKETS)
    src = f"SELECT *, {same} FROM {SG_BASE} WHERE coalesce({scope}, false)"
    if delta is not None:
        zeros = ", ".join(f"0 AS b_{c}, d_{c} AS s_{c}" for c, _ in BUCKETS)
        src += f" UNION ALL BY NAME SELECT {SG_KEYS}, 0 AS n, {zeros} FROM {SG_DELTA} WHERE cand = {int(delta)}"
    base = f"CASE WHEN p.model_id IS NULL THEN NULL WHEN a.cache_hit THEN 0 ELSE {_units('b', 'p', 'lg', f'CASE WHEN a.batch THEN p.bf ELSE {GIGA} END')} END"
    on = "a.day >= {0}.valid_from AND a.day < {0}.valid_to"
    sql = f"""
        SELECT coalesce(sum(n), 0), {pricing.sum_cost_sql("b24", NO_USD, unit=USD_24)}, {pricing.sum_cost_sql("s24", NO_USD, unit=USD_24)}
        FROM (SELECT a.n, {base} AS b24,
                     CASE WHEN p.model_id IS NULL OR q.model_id IS NULL THEN NULL ELSE {scen} END AS s24
              FROM ({src}) a
              LEFT JOIN {SG_PRICES_I} p ON p.model = a.model AND p.host = a.host AND {on.format("p")}
              LEFT JOIN {SG_PRICES_I} q ON q.model = {smodel} AND q.host = {shost} AND {on.format("q")})"""
    n, b, s = con.execute(sql, params).fetchone()
    return int(n), b, s


def _sg_semantic(con: Any, lv: Levers) -> tuple[int, int, bool]:
    """_semantic_cache over suggest's price rows (the logged names: those a cache candidate's run has)."""
    found = _semantic_cache(con, lv, SG_PRICES_I, "NOT starts_with(model, ?)", [ROUTED_PREFIX])
    assert found is not None  # a cache candidate has a rate
    return found


def _suggest_totals(
    con: Any,
    prices: pricing.PriceTable,
    candidates: list[tuple[str, Scenario, str]],
    window: Window,
    keys: list[tuple[str, str]],
    memo: dict[str, Any],
    thresholds: list[int],
) -> tuple[dict[str, dict[str, Any]], Any]:
    """Each candidate's scope totals (scope_requests, scope_baseline/scenario/savings_usd) by name, and the
    window's baseline, from one pre-aggregation (see above). A semantic-cache candidate whose x (1 - R)
    must be rounded per request, and a prompt-cache candidate whose rows another one already has, are
    re-priced by `run` instead."""
    wsql, wparams = window.sql()
    targets: dict[str, pricing.Model] = {}
    for lever, s, _ in candidates:
        if lever == "route":
            t = pricing.route_target(prices, str(s.levers.route_to))
            if t is None:
                raise LlmcostError(f"--route-to {s.levers.route_to!r} has no price")
            targets[t.id] = t
    more = _sg_register(con, prices, keys, list(targets.values()), thresholds)
    if more != thresholds:  # a price row of a model outside the table's list: lg counts them all
        thresholds = more
        _sg_base(con, thresholds, wsql, wparams)
    scopes = [_scope_sql(con, prices, s.scope, memo) for _, s, _ in candidates]
    caps, steps, prefixes, slow = [], [], [], []
    taken: set[tuple[Any, Any]] = set()
    for i, (lever, s, _) in enumerate(candidates):
        lv = s.levers
        if lever == "cap":
            caps.append((i, s.scope.features[0], int(lv.max_output_tokens or 0)))
        elif lever == "max_steps":
            steps.append((i, s.scope.features[0], int(lv.max_steps or 0)))
        elif lever == "prompt_cache":
            cells = con.execute(
                f"SELECT DISTINCT feature, model FROM {SG_BASE} WHERE coalesce({scopes[i][0]}, false)",
                scopes[i][1],
            ).fetchall()
            if taken.intersection(cells):
                slow.append(i)
                continue
            taken.update(cells)
            prefixes += [(i, f, m, int(lv.prompt_cache or 0), lv.cache_ttl) for f, m in cells]
    _sg_deltas(con, thresholds, wsql, wparams, caps, steps, prefixes)
    logged = f"CASE WHEN a.batch THEN q.bf ELSE {GIGA} END"
    out: dict[str, dict[str, Any]] = {}
    for i, (lever, s, _) in enumerate(candidates):
        scope, sparams = scopes[i]
        lv = s.levers
        kw: dict[str, Any] = {
            "scen": f"CASE WHEN a.cache_hit THEN 0 ELSE {_units('s', 'q', 'lg', logged)} END"
        }
        if lever == "route":
            t = pricing.route_target(prices, str(lv.route_to))
            assert t is not None
            kw["smodel"], kw["shost"] = literal(ROUTED_PREFIX + t.id), "''"
        elif lever == "batch":
            kw["scen"] = f"CASE WHEN a.cache_hit THEN 0 ELSE {_units('s', 'q', 'lg', 'q.bf')} END"
        elif lever == "cache":
            k, lookup, exact = _sg_semantic(con, lv)
            if not exact:
                slow.append(i)
                continue
            mult = f"CASE WHEN a.batch THEN q.bf * CAST({k} AS HUGEINT) // {GIGA} ELSE {k} END"
            kw["scen"] = (
                f"(CASE WHEN a.cache_hit THEN 0 ELSE {_units('s', 'q', 'lg', mult)} END + a.n * CAST({lookup} AS HUGEINT))"
            )
        elif lever in ("cap", "max_steps", "prompt_cache"):
            if i in slow:
                continue
            kw["delta"] = i
        else:
            slow.append(i)
            continue
        n, b, sc = _sg_price(con, scope, sparams, **kw)
        sums: dict[str, Any] = {"baseline_cost_usd": b, "scenario_cost_usd": sc}
        _savings(sums)
        out[s.name] = {
            "scope_requests": n,
            **{
                f"scope_{k}": sums[k]
                for k in ("baseline_cost_usd", "scenario_cost_usd", "savings_usd", "savings_pct")
            },
        }
    for i in slow:
        s = candidates[i][1]
        own = run(con, prices, s, window=window, scope_only=True, memo=memo).doc["totals"]
        out[s.name] = {
            k: own[k]
            for k in (
                "scope_requests",
                "scope_baseline_cost_usd",
                "scope_scenario_cost_usd",
                "scope_savings_usd",
                "scope_savings_pct",
            )
        }
    total = _sg_price(con, "TRUE", [], scen="0")[1]
    return out, total


def suggest(con: Any, prices: pricing.PriceTable, *, window: Window | None = None) -> CompareResult:
    """Candidate levers found in the data, each re-priced as a scenario, ranked by savings."""
    window = window or Window()
    wsql, wparams = window.sql()
    thresholds = _sg_thresholds(prices)
    _sg_base(con, thresholds, wsql, wparams)
    keys = con.execute(
        f"SELECT DISTINCT model, host FROM {SG_BASE} WHERE model IS NOT NULL ORDER BY 1, 2"
    ).fetchall()
    pricing.install(con, prices, keys=keys)
    candidates = _route_candidates(con, prices) + _feature_candidates(con, wsql, wparams)
    revenue = _revenue(con, [], window)
    total_revenue = revenue[0] if revenue is not None else None
    rows = []
    # the model names and the revenue are the same for every candidate
    memo: dict[str, Any] = {"revenue:": revenue, "names": sorted({m for m, _ in keys})}
    totals, total_base = _suggest_totals(con, prices, candidates, window, keys, memo, thresholds)
    for lever, s, why in candidates:
        t = totals[s.name]
        t["savings_usd"] = t["scope_savings_usd"]
        t["savings_pct"] = _pct(t["scope_savings_usd"], total_base)
        if t["savings_usd"] is not None and t["savings_usd"] > 0:
            rows.append({"name": s.name, "lever": lever, "why": why, "scenario": {"scope": _asdict(s.scope), "levers": _asdict(s.levers)},
                         "command": command(s, window), "quality": "not measured",
                         "scope_requests": t["scope_requests"],
                         **{k: t["scope_" + k] for k in ("baseline_cost_usd", "scenario_cost_usd", "savings_usd", "savings_pct")},
                         "total_savings_pct": t["savings_pct"],
                         "margin_points": float(t["savings_usd"]) / float(total_revenue) * 100 if total_revenue else None})  # fmt: skip
    rows.sort(key=lambda r: (-r["savings_usd"], r["name"]))
    for i, r in enumerate(rows, 1):
        r["rank"] = i
    notes = [
        "opportunities found in this data, each re-priced as a what-if scenario; costs and savings are those of its scope",
        "quality is NOT measured: check a sample of answers before you route, cap or cache a feature",
    ]
    if total_revenue:
        notes.append(
            f"margin points: savings / revenue of the window ({fmt_value(total_revenue, 'usd')}) x 100, what the gross margin would gain"
        )
    if not rows:
        notes.append("no lever found anything to save with the thresholds in docs/whatif.md")
    return CompareResult(
        SCHEMA.replace("whatif/", "whatif.suggest/"),
        rows,
        notes,
        "opportunities, ranked by savings",
    )


# ---------------------------------------------------------------- pre-flight estimate


def read_text(path: str | None) -> str:
    """A prompt from a file, or stdin for '-' / nothing."""
    import sys

    if path in (None, "-"):
        if sys.stdin is None or sys.stdin.isatty():
            raise LlmcostError(
                "no prompt given", hint="give a prompt file, or pipe the prompt on stdin"
            )
        return sys.stdin.read()
    try:
        with open(str(path), encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError as exc:
        raise LlmcostError(f"cannot read {path}: {exc.strerror}", hint="check the path") from None


@dataclass
class EstimateResult:
    rows: list[dict[str, Any]]
    notes: list[str]
    params: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "llmcost.estimate/1",
            **self.params,
            "notes": self.notes,
            "rows": self.rows,
        }

    def headline(self) -> list[str]:
        return self.notes

    def tables(self) -> list[Table]:
        n = self.params["calls"]
        cols = [Column("model"), Column("provider"), Column("tier"), Column("input_tokens", "input tokens", "int"),
                Column("call_cost_usd", "cost/call", "usd"), Column("total_cost_usd", f"{n:,} call{'s' * (n != 1)}", "usd")]  # fmt: skip
        if self.params["system_tokens"]:
            cols += [
                Column("cached_total_cost_usd", "with prompt cache", "usd"),
                Column("cache_savings_usd", "cache saves", "usd"),
            ]
        return [Table("estimate, cheapest first", cols, self.rows)]


def estimate(
    prices: pricing.PriceTable, prompt: str, *, system: str = "", output_tokens: int = 0, calls: int = 1,
    models: list[str] | None = None, tier: str | None = None, when: datetime | None = None,
) -> EstimateResult:  # fmt: skip
    """Price `calls` calls of one prompt per model at today's prices; with a system prefix, the first
    call writes it to the prompt cache (5-minute rate) and later calls read it."""
    from llmcost import tokens

    if calls < 1 or output_tokens < 0:
        raise LlmcostError("--calls must be at least 1 and --output-tokens not negative")
    if tier is not None and tier not in pricing.TIERS:
        raise LlmcostError(
            f"unknown --tier {tier!r}", hint=f"choose from {', '.join(pricing.TIERS)}"
        )
    when = when or now()
    chosen: list[pricing.Model] = []
    for name in models or []:
        m = prices.resolve(name)
        if m is None:
            raise LlmcostError(
                f"no price for {name!r}", hint="`llmcost prices list` shows the models"
            )
        chosen.append(m)
    if not models:
        chosen = list(prices.models.values())
    rows = []
    encodings: set[str] = set()
    counted: dict[str, tuple[int, int]] = {}
    for m in chosen:
        v = m.version_at(when)
        if v is None or (tier is not None and m.tier != tier):
            continue
        enc = tokens.encoding_for(m.id)
        encodings.add(enc)
        if enc not in counted:
            counted[enc] = (
                tokens.count_tokens(system, m.id) if system else 0,
                tokens.count_tokens(prompt, m.id),
            )
        sys_t, prompt_t = counted[enc]
        n_in = sys_t + prompt_t
        one = v.cost(input_tokens=n_in, output_tokens=output_tokens)
        row: dict[str, Any] = {"model": m.id, "provider": m.provider, "tier": m.tier, "encoding": enc,
                               "input_tokens": n_in, "system_tokens": sys_t, "output_tokens": output_tokens,
                               "call_cost_usd": one, "total_cost_usd": one * calls}  # fmt: skip
        if sys_t:
            first = v.cost(input_tokens=n_in, cache_write_tokens=sys_t, output_tokens=output_tokens)
            later = v.cost(input_tokens=n_in, cache_read_tokens=sys_t, output_tokens=output_tokens)
            row["cached_total_cost_usd"] = first + later * (calls - 1)
            row["cache_savings_usd"] = row["total_cost_usd"] - row["cached_total_cost_usd"]
        rows.append(row)
    if not rows:
        raise LlmcostError("no model with a price today matches", hint="check --model / --tier")
    rows.sort(key=lambda r: (r["total_cost_usd"], r["model"]))
    prompt_counts = ", ".join(f"{counted[e][1]:,} ({e})" for e in sorted(encodings))
    notes = [f"prompt: {prompt_counts} tokens" + (f"; system prefix: {', '.join(f'{counted[e][0]:,} ({e})' for e in sorted(encodings))} tokens" if system else ""),
             f"{calls:,} call(s) x {output_tokens:,} output tokens, prices in force on {when:%Y-%m-%d}",
             "token counts are tiktoken's; for non-OpenAI models they are an estimate (their tokenizers differ)"]  # fmt: skip
    if system:
        notes.append(
            "prompt cache: the first call writes the system prefix (5-minute rate), later calls read it (within the TTL)"
        )
    if "cl100k_base" in encodings and any(
        tokens.wanted_encoding(m.id) == "o200k_base" for m in chosen
    ):
        notes.append(
            "o200k_base is not available offline: gpt-4o / gpt-5 / o-series counts use cl100k_base"
        )
    params = {"calls": calls, "output_tokens": output_tokens, "system_tokens": max((c[0] for c in counted.values()), default=0),
              "date": when.date()}  # fmt: skip
    return EstimateResult(rows, notes, params)
