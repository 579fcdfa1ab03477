"""What-if (SPEC §7): levers are pure transformations of request rows, then the same pricing.

Each scenario row is the request with its tokens, model and batch flag changed (dropped rows flagged),
priced exactly like the baseline, in one query over `requests` (see "the scenario rows"). Levers apply
in a fixed order: max_steps, route_to, compress_input, max_output_tokens, prompt_cache, batch,
then cache_hit_rate on the priced cost. A request unpriced in the baseline stays unpriced (NULL)
in the scenario, whatever the levers do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from llmcost import pricing
from llmcost.errors import ConfigError, LlmcostError
from llmcost.metrics import Window, dimension_sql
from llmcost.render import Column, Table, fmt_value
from llmcost.store.sql import literal

SCHEMA = "llmcost.whatif/1"
PRICES = "lc_wi_prices"
ROUTED_PREFIX = (
    "route:"  # price-row key of routed requests: never collides with a logged model name
)
TTLS = {"5m": 300, "1h": 3600}

# --where: canonical string fields only, compared with a bound parameter.
WHERE_FIELDS = {
    "feature": "feature", "model": "model", "provider": "provider", "plan": "plan", "status": "status",
    "customer": "customer_id", "customer_id": "customer_id", "user": "user_id", "user_id": "user_id",
    "task": "task_id", "task_id": "task_id", "request": "request_id", "request_id": "request_id",
}  # fmt: skip
WHERE_RX = re.compile(r"^\s*([A-Za-z_]+)\s*(!=|=)\s*(.*?)\s*$")


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


@dataclass
class Scope:
    features: list[str] = field(default_factory=list)
    model: str | None = None
    where: list[str] = field(default_factory=list)


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
    if lv.cache_ttl not in TTLS:
        raise bad(
            f"--cache-ttl must be 5m or 1h, got {lv.cache_ttl!r}",
            hint="the provider TTLs priced in the table",
        )
    for clause in s.scope.where:
        parse_where(clause)


def is_empty(lv: Levers) -> bool:
    return lv == Levers(cache_ttl=lv.cache_ttl)


def parse_where(clause: str) -> tuple[str, str, str]:
    m = WHERE_RX.match(clause)
    if not m or m.group(1) not in WHERE_FIELDS:
        raise LlmcostError(
            f"cannot read --where {clause!r}",
            hint=f"use FIELD=VALUE or FIELD!=VALUE with FIELD one of {', '.join(sorted(WHERE_FIELDS))}",
        )
    value = m.group(3)
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return WHERE_FIELDS[m.group(1)], m.group(2), value


# ---------------------------------------------------------------- result


@dataclass
class WhatifResult:
    doc: dict[str, Any]
    by: list[str]
    rows: list[dict[str, Any]]
    assumptions: list[str]
    has_revenue: bool

    def to_json(self) -> dict[str, Any]:
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
                f"; {t['dropped_requests']:,} dropped by --max-steps"
                if t["dropped_requests"]
                else ""
            ),
        ]
        if self.has_revenue and t.get("revenue_usd") is not None:
            lines.append(
                f"revenue {fmt_value(t['revenue_usd'], 'usd')}   gross margin {fmt_value(t['margin_before_pct'], 'pct')}"
                f" → {fmt_value(t['margin_after_pct'], 'pct')}"
            )
        share = c["priced"] / c["requests"] * 100 if c["requests"] else 100.0
        cov = f"coverage: {c['priced']:,} of {c['requests']:,} requests priced ({share:.2f}%)"
        if c["unpriced"]:
            cov += f"; {c['unpriced']:,} unpriced ({', '.join(c['unpriced_models'])}) stay unpriced in the scenario"
        lines.append(cov)
        lines += [f"assumes: {a}" for a in self.assumptions]
        return lines

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
        title = "what-if by " + ", ".join(self.by) if self.by else "what-if"
        if self.by:
            return [Table(title, cols, self.rows)]
        t = self.doc["totals"]
        scope = {
            "part": "scope",
            "requests": t["scope_requests"],
            **{k[6:]: v for k, v in t.items() if k.startswith("scope_")},
        }
        cols = [Column("part"), *cols[:5]]
        return [Table(title, cols, [scope, {"part": "all requests", **t}])]


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


def _scope_sql(con: Any, prices: pricing.PriceTable, scope: Scope) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if scope.features:
        clauses.append(f"feature IN ({', '.join('?' * len(scope.features))})")
        params += scope.features
    if scope.model:
        # the logged names that resolve to the same priced model, or the exact logged name
        target = prices.resolve(scope.model)
        names = [r[0] for r in con.execute("SELECT DISTINCT model FROM requests").fetchall()]
        match = [
            n
            for n in names
            if n == scope.model
            or (target is not None and (m := prices.resolve(n)) and m.id == target.id)
        ]
        if not match:
            clauses.append("FALSE")
        else:
            clauses.append(f"model IN ({', '.join('?' * len(match))})")
            params += match
    for clause in scope.where:
        column, op, value = parse_where(clause)
        clauses.append(
            f"{column} IS NOT DISTINCT FROM ?" if op == "=" else f"{column} IS DISTINCT FROM ?"
        )
        params.append(value)
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
    con.execute(f"CREATE OR REPLACE TEMP TABLE {PRICES} ({pricing.PRICE_COLUMNS})")
    rows = pricing.price_rows(prices, pricing.request_keys(con))
    if target is not None:
        rows += pricing.price_rows(prices, [(ROUTED_PREFIX + target.id, "")], as_model=target)
    if rows:
        con.executemany(f"INSERT INTO {PRICES} VALUES ({pricing.PRICE_MARKS})", rows)
    thresholds = [
        int(r[0])
        for r in con.execute(
            f"SELECT DISTINCT long_threshold FROM {PRICES} WHERE long_threshold IS NOT NULL ORDER BY 1"
        ).fetchall()
    ]
    # rates are kept to 1e-9 USD per 1M tokens and batch factors to 1e-9: x 1e9 both are whole numbers
    ints = ", ".join(
        f"CAST(r_{k}::DECIMAL(38,9) * {GIGA} AS BIGINT) AS r_{k}, CAST(l_{k}::DECIMAL(38,9) * {GIGA} AS BIGINT) AS l_{k}"
        for _, k in BUCKETS
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {PRICES_I} AS
            SELECT model, host, model_id, tier, valid_from, valid_to, {ints}, CAST(batch_factor::DECIMAL(38,9) * {GIGA} AS BIGINT) AS bf,
                   list_position(?, long_threshold) AS long_pos
            FROM {PRICES}""",
        [thresholds],
    )
    return thresholds


def _plan(con: Any, prices: pricing.PriceTable, s: Scenario, window: Window, dims: str) -> _Plan:
    """Levers 1-4 and 6 (max-steps, route, compress, output cap, batch) as expressions; the price rows."""
    lv = s.levers
    scope, sparams = _scope_sql(con, prices, s.scope)
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
    ctes = f"""
        r AS (SELECT rowid AS rid, *, coalesce({scope}, false) AS in_scope FROM requests WHERE {wsql}),
        b AS (SELECT *, model AS orig_model, coalesce(provider, '') AS orig_host, {_tokens("b")}, batch AS b_batch, {_long(thresholds)} AS b_long,
                     {dropped} AS dropped{dims} FROM r),
        g AS (SELECT *, in_scope AND NOT dropped AS live FROM b),
        t AS (SELECT *{new_cols} FROM (SELECT *, {route} AS routed FROM g))"""
    return _Plan(ctes, [*sparams, *wparams], target, thresholds)


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


def _semantic_cache(con: Any, lv: Levers) -> tuple[int, int, bool] | None:
    """--cache-hit-rate as integers: K = (1 - R) x 1e9 and the lookup cost in 1e-24 USD, as the DECIMAL casts
    round them; and whether every price row's cost x (1 - R) is exact at 1e-24 (then it is linear too)."""
    if lv.cache_hit_rate is None:
        return None
    k, lookup = con.execute(
        f"SELECT CAST(CAST(? AS DECIMAL(12,9))::DECIMAL(38,9) * {GIGA} AS BIGINT), "
        f"CAST(CAST(? AS DECIMAL(18,9))::DECIMAL(38,9) * {GIGA} AS BIGINT)",
        [str(1 - Decimal(str(lv.cache_hit_rate))), str(Decimal(str(lv.cache_lookup_cost)))],
    ).fetchone()
    # a cost is N x bf x 1e-24 USD (N whole); x K / 1e9 stays whole when bf x K / 1e9 is whole
    exact = con.execute(
        f"SELECT coalesce(bool_and(bf * CAST(? AS HUGEINT) % {GIGA} = 0), true) FROM {PRICES_I}",
        [k],
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
) -> WhatifResult:
    """Baseline vs scenario cost, savings and margin, per --by group."""
    by = by or []
    window = window or Window()
    validate(scenario)
    lv = scenario.levers
    # the --by dimensions, of the request as logged; tier is the baseline price row's, taken when pricing
    dims = [dimension_sql(b) for b in by]
    early = "".join(f", {d} AS d{i}" for i, d in enumerate(dims) if d != "tier")
    early_keys = "".join(f", d{i}" for i, d in enumerate(dims) if d != "tier")
    late = "".join(f", p.tier AS d{i}" for i, d in enumerate(dims) if d == "tier")
    plan = _plan(con, prices, scenario, window, early)
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
        _sum_usd(u, x, where)
        for where in ("", "in_scope")
        for u, x in (("b24", NO_USD), ("s24", "sx"))
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
               coalesce(sum(n), 0), coalesce(sum(n) FILTER (WHERE in_scope), 0), coalesce(sum(n) FILTER (WHERE dropped), 0),
               coalesce(sum(n) FILTER (WHERE priced), 0),
               list(DISTINCT orig_model ORDER BY orig_model) FILTER (WHERE NOT priced), {sums}
        FROM x {f"GROUP BY GROUPING SETS ((), ({group}))" if by else ""}"""
    if by:
        sql = f"SELECT * FROM ({sql}) ORDER BY gid DESC, {7 + len(by)} DESC NULLS LAST, {group}"
    recs = con.execute(sql, plan.params).fetchall()
    return _summarise(
        con, prices, scenario, by, window, {"target": plan.target}, recs, generated_at
    )


def _sum_usd(units: str, exact: str, where: str) -> str:
    """sum(cost) as DECIMAL(38,24) from 1e-24 USD units plus DECIMAL costs; NULL when no row is priced."""
    f = f" FILTER (WHERE {where})" if where else ""
    return (
        f"CASE WHEN count({units}){f} + count({exact}){f} > 0 THEN CAST("
        f"coalesce(CAST(sum({units}){f} AS DECIMAL(38,0)) * {USD_24}, 0) + coalesce(sum({exact}){f}, 0) AS DECIMAL(38,24)) END"
    )


# ---------------------------------------------------------------- totals, groups, margin

REVENUE_DIMS = {"customer": "customer_id", "customer_id": "customer_id", "feature": "feature"}


def _pct(part: Any, whole: Any) -> Any:
    return part / whole * 100 if part is not None and whole else None


def _savings(row: dict[str, Any]) -> None:
    base, scen = row["baseline_cost_usd"], row["scenario_cost_usd"]
    row["savings_usd"] = base - scen if base is not None and scen is not None else None
    row["savings_pct"] = _pct(row["savings_usd"], base)


def _margins(row: dict[str, Any]) -> None:
    rev = row.get("revenue_usd")
    for key, cost in (
        ("margin_before_pct", row["baseline_cost_usd"]),
        ("margin_after_pct", row["scenario_cost_usd"]),
    ):
        row[key] = _pct(rev - (cost or 0), rev) if rev else None


def _revenue(con: Any, by: list[str], window: Window) -> tuple[Any, dict[Any, Any]] | None:
    """Revenue over the months that have requests; per customer, or allocated to features by requests (SPEC §6)."""
    if not con.execute("SELECT count(*) FROM revenue").fetchone()[0]:
        return None
    wsql, wparams = window.sql()
    months = f"SELECT DISTINCT CAST(date_trunc('month', ts) AS DATE) FROM requests WHERE {wsql}"
    total = con.execute(
        f"SELECT sum(revenue_usd) FROM revenue WHERE month IN ({months})", wparams
    ).fetchone()[0]
    per: dict[Any, Any] = {}
    if by and REVENUE_DIMS.get(by[0]) == "customer_id" and len(by) == 1:
        per = dict(
            con.execute(
                f"SELECT customer_id, sum(revenue_usd) FROM revenue WHERE month IN ({months}) GROUP BY 1",
                wparams,
            ).fetchall()
        )
    elif by == ["feature"]:
        per = dict(
            con.execute(
                f"""WITH n AS (SELECT customer_id, CAST(date_trunc('month', ts) AS DATE) AS month, feature, count(*) AS k
                           FROM requests WHERE {wsql} GROUP BY ALL),
                     t AS (SELECT customer_id, month, sum(k) AS kt FROM n GROUP BY ALL)
                SELECT n.feature, sum(CAST(r.revenue_usd * n.k / t.kt AS DECIMAL(38,9)))
                FROM n JOIN t USING (customer_id, month) JOIN revenue r USING (customer_id, month) GROUP BY 1""",
                wparams,
            ).fetchall()
        )
    return total, per


def _summarise(
    con: Any, prices: pricing.PriceTable, s: Scenario, by: list[str], window: Window,
    facts: dict[str, Any], recs: list[tuple[Any, ...]], generated_at: datetime | None,
) -> WhatifResult:  # fmt: skip
    k = len(by)
    t = recs[0][k + 1 :]  # requests, in scope, dropped, priced, unpriced models, 4 sums
    totals: dict[str, Any] = {
        "requests": t[0], "scope_requests": t[1], "dropped_requests": t[2],
        "baseline_cost_usd": t[5], "scenario_cost_usd": t[6],
    }  # fmt: skip
    _savings(totals)
    scope_part = {"baseline_cost_usd": t[7], "scenario_cost_usd": t[8]}
    _savings(scope_part)
    totals.update({f"scope_{key}": v for key, v in scope_part.items()})
    revenue = _revenue(con, by, window)
    if revenue is not None:
        totals["revenue_usd"] = revenue[0]
        _margins(totals)
    rows: list[dict[str, Any]] = []
    for rec in recs[1:]:
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
    assumptions = describe(s, facts)
    doc = {
        "schema": SCHEMA,
        "generated_at": generated_at or datetime.now(UTC).replace(tzinfo=None),
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
    has_rev = revenue is not None and (not by or bool(revenue[1]))
    return WhatifResult(doc=doc, by=by, rows=rows, assumptions=assumptions, has_revenue=has_rev)


def summary(s: Scenario) -> str:
    """The levers and scope in one short line: `route_to=haiku share=0.5 | feature=support-chat`."""
    default = Levers()
    levers = " ".join(
        f"{f.name}={getattr(s.levers, f.name)}"
        for f in fields(Levers)
        if getattr(s.levers, f.name) != getattr(default, f.name)
    )
    scope = [f"feature={','.join(s.scope.features)}"] if s.scope.features else []
    scope += [f"model={s.scope.model}"] if s.scope.model else []
    return f"{levers} | {' '.join(scope + s.scope.where) or 'all requests'}"


def _asdict(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def describe(s: Scenario, facts: dict[str, Any] | None = None) -> list[str]:
    """Every assumption of the scenario, in words, printed beside the numbers."""
    lv, sc = s.levers, s.scope
    parts = []
    if sc.features:
        parts.append("feature in " + ", ".join(sc.features))
    if sc.model:
        parts.append(f"model {sc.model}")
    parts += sc.where
    out = [f"scope: {'; '.join(parts) if parts else 'every request'}"]
    if lv.max_steps is not None:
        out.append(
            f"agent tasks stop after {lv.max_steps} steps (order: step, then time); later steps are dropped, cost 0"
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
            "levers apply in this order: max-steps, route, compress, output cap, prompt cache, batch, semantic cache"
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
             "prompt_cache": int, "max_output_tokens": int, "max_steps": int, "batch": bool, "route_to": str, "cache_ttl": str}  # fmt: skip
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
            model=raw.get("model"),
            where=as_list(raw.get("where")),
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
        first = [Column("rank", "#", "int")] if self.rows and "rank" in self.rows[0] else []
        cols = [*first, Column("name", "scenario"), Column("scope_requests", "requests", "int"),
                Column("baseline_cost_usd", "baseline", "usd"), Column("scenario_cost_usd", "scenario", "usd"),
                Column("savings_usd", "savings", "usd"), Column("savings_pct", "savings %", "pct"), Column("why", "what / why")]  # fmt: skip
        rows = [
            {**r, "why": r.get("why") or r.get("description") or r.get("summary")}
            for r in self.rows
        ]
        return [Table(self.title, cols, rows)]


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
    name: str | None, raw_config: dict[str, Any], *, features: list[str], model: str | None, where: list[str],
    levers: dict[str, Any],
) -> Scenario:  # fmt: skip
    """The scenario of a command line: a named one from the configuration, with any flags given on top."""
    given = {k: v for k, v in levers.items() if v is not None and v is not False}
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
            features or s.scope.features, model or s.scope.model, [*s.scope.where, *where]
        )
        s = Scenario(name, scope, replace(s.levers, **given))
    else:
        s = Scenario("scenario", Scope(features, model, where), Levers(**given))
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
BATCH_MIN_P50_LATENCY_MS = 60_000  # a feature that already waits a minute has no latency need
CAP_MIN_TAIL_SHARE = (
    0.05  # cap output at P95 only when the tail above it is at least 5% of output tokens
)
REPEAT_MIN_RATE = 0.02


def cheapest_small(
    prices: pricing.PriceTable, provider: str, when: datetime
) -> pricing.Model | None:
    """The small-tier model of `provider` with the lowest input + output rate at `when`."""
    best: tuple[Decimal, str] | None = None
    for m in prices.models.values():
        v = m.version_at(when)
        if m.provider == provider and m.tier == "small" and v is not None:
            key = (v.input + v.output, m.id)
            best = key if best is None or key < best else best
    return prices.models[best[1]] if best else None


def suggest(con: Any, prices: pricing.PriceTable, *, window: Window | None = None) -> CompareResult:
    """Candidate levers found in the data, each re-priced as a scenario, ranked by savings."""
    window = window or Window()
    pricing.install(con, prices)
    wsql, wparams = window.sql()
    rsql, _ = window.sql("r.ts")
    candidates: list[tuple[Scenario, str]] = []
    # routing: short requests of a feature on a mid/frontier model -> cheapest small model of the provider
    for feature, model, provider, n, avg_in, avg_out, last in con.execute(
        f"""SELECT feature, model, price_provider, count(*), avg(input_tokens), avg(output_tokens), max(ts)
            FROM priced WHERE {wsql} AND price_model IS NOT NULL AND tier IN ('mid', 'frontier') AND feature IS NOT NULL
            GROUP BY ALL HAVING avg(output_tokens) <= ? AND avg(input_tokens) <= ? ORDER BY 1, 2""",
        [*wparams, ROUTE_MAX_AVG_OUTPUT, ROUTE_MAX_AVG_INPUT],
    ).fetchall():
        target = cheapest_small(prices, provider, last)
        if target is not None:
            why = f"{n:,} short requests (avg {avg_in:,.0f} in / {avg_out:,.0f} out tokens): classification-like"
            candidates.append((Scenario(f"route {feature} {model} → {target.id}", Scope([feature], model),
                                        Levers(route_to=target.id)), why))  # fmt: skip
    # exact repeats: a prompt hash seen before is a hit an exact-match cache would have served
    for feature, n, distinct in con.execute(
        f"""SELECT feature, count(*), count(DISTINCT json_extract_string(attrs, '$.prompt_hash'))
            FROM requests WHERE {wsql} AND json_extract_string(attrs, '$.prompt_hash') IS NOT NULL GROUP BY 1 ORDER BY 1""",
        wparams,
    ).fetchall():
        rate = 1 - distinct / n
        if rate >= REPEAT_MIN_RATE:
            why = f"{n - distinct:,} of {n:,} prompts repeat exactly (attrs.prompt_hash): observed hit rate {rate:.1%}"
            candidates.append((Scenario(f"cache {feature}", Scope([feature] if feature else []),
                                        Levers(cache_hit_rate=round(rate, 6))), why))  # fmt: skip
    # batchable and output caps, per feature
    for feature, batch_share, p50_latency, p95_out, out_total, tail in con.execute(
        f"""WITH f AS (SELECT feature, avg(CAST(batch AS INT)) AS b, median(latency_ms) AS lat,
                              floor(quantile_cont(output_tokens, 0.95)) AS p95, sum(output_tokens) AS out_total
                       FROM requests WHERE {wsql} AND feature IS NOT NULL GROUP BY 1)
            SELECT f.feature, f.b, f.lat, f.p95, f.out_total,
                   (SELECT sum(greatest(r.output_tokens - f.p95, 0)) FROM requests r WHERE r.feature = f.feature AND {rsql})
            FROM f ORDER BY 1""",
        [*wparams, *wparams],
    ).fetchall():
        if batch_share < 1 and (batch_share > 0 or (p50_latency or 0) >= BATCH_MIN_P50_LATENCY_MS):
            why = (
                f"{batch_share:.0%} already batch"
                if batch_share > 0
                else f"median latency {p50_latency / 1000:,.0f} s"
            ) + ": no latency need"
            candidates.append(
                (Scenario(f"batch {feature}", Scope([feature]), Levers(batch=True)), why)
            )
        if out_total and tail and tail / out_total >= CAP_MIN_TAIL_SHARE:
            why = f"long output tail: {tail / out_total:.0%} of output tokens are above the P95 ({int(p95_out):,})"
            candidates.append(
                (
                    Scenario(
                        f"cap {feature} at P95",
                        Scope([feature]),
                        Levers(max_output_tokens=int(p95_out)),
                    ),
                    why,
                )
            )
    rows = []
    for s, why in candidates:
        t = run(con, prices, s, window=window).doc["totals"]
        if t["savings_usd"] is not None and t["savings_usd"] > 0:
            rows.append({"name": s.name, "why": why, "scenario": {"scope": _asdict(s.scope), "levers": _asdict(s.levers)},
                         "scope_requests": t["scope_requests"],
                         **{k: t["scope_" + k] for k in ("baseline_cost_usd", "scenario_cost_usd", "savings_usd", "savings_pct")},
                         "total_savings_pct": t["savings_pct"]})  # fmt: skip
    rows.sort(key=lambda r: (-r["savings_usd"], r["name"]))
    for i, r in enumerate(rows, 1):
        r["rank"] = i
    notes = [
        "opportunities found in this data, each re-priced as a what-if scenario; costs and savings are those of its scope",
        "quality is NOT measured: check a sample of answers before you route, cap or cache a feature",
    ]
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
    when = when or datetime.now(UTC).replace(tzinfo=None)
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
