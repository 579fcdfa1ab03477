"""`llmcost explain`: why the bill moved between two periods, as a cost bridge whose parts add up exactly.

The requests of both periods are summed per cell (the --by group, feature and model) and per price row
(model version, batch, long-context side, semantic-cache hit): token sums and the exact DECIMAL cost of
each token bucket. A cell's cost is then the product form

    cost = N x s x (1 - h) x [ i x (u.r_in + c.r_cr + w.r_cw + w1.r_cw1) + o x r_out ],  r = l x g x b

(volume, mix, semantic cache, input and output tokens per served request, provider cache split of the
input, and per token bucket the base rate of the versions in force, the long-context uplift and the
batch factor), which equals the logged requests' cost to the last digit. Each cell's change is split over those drivers by the Shapley value, in exact rational
arithmetic, so the parts add up to the change exactly. Formulas and edge cases: docs/explain.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from math import factorial, lcm
from typing import Any

from llmcost import pricing
from llmcost import revenue as revenue_rule
from llmcost.documents import Column, Table
from llmcost.errors import LlmcostError
from llmcost.query import (
    Window,
    add_months,
    dimension_sql,
    install_names,
    month_start,
    now,
    parse_when,
    parse_window,
)
from llmcost.values import fmt_value

SCHEMA = "llmcost.explain/1"
BY = ("feature", "customer", "model")
BUCKETS = ("unc", "cr", "cw", "cw1", "out")
DRIVERS: dict[str, str] = {
    "volume": "volume (requests)",
    "mix": "mix (share of requests per group, feature and model)",
    "input_tokens": "input tokens per request",
    "output_tokens": "output tokens per request",
    "price": "price changes (price-table versions in force)",
    "long_context": "long-context share (requests above a model's threshold)",
    "batch": "batch share (batch discount)",
    "provider_cache": "provider prompt-cache rate",
    "semantic_cache": "semantic cache rate",
    "new": "new groups",
    "gone": "gone groups",
}
SHORT = {"volume": "volume", "mix": "mix", "input_tokens": "input tok", "output_tokens": "output tok",
         "price": "price", "long_context": "long ctx", "batch": "batch", "provider_cache": "prompt cache", "semantic_cache": "sem. cache"}  # fmt: skip

# The requests of both periods per cell and price row. `rate_*` are the rates a request is priced at
# (long-context rates above the threshold), `base_*` the version's base rates, `bf` the batch factor it
# gets (1 when not batch). The requests are summed first per cell and price key: host; `ver`, how many
# of the price table's version starts inside the periods the request is past (between two of them no
# price row changes, so the span's first instant, `at`, finds the same row as every request in it); and
# `lg`, how many of the table's long-context thresholds its input is above (above a row's threshold iff
# lg >= that threshold's position). Then the few groups are joined to their price rows: the same sums
# as joining every request.
PRICES = "lc_ex_prices"
GROUPS = "lc_ex_groups"
SUMS = """
CREATE OR REPLACE TEMP TABLE lc_ex_groups AS
SELECT ts >= ? AS cur, {group} AS g, feature, model, coalesce(provider, '') AS host, {ver} AS ver,
       coalesce(cache_hit, false) AS hit, coalesce(batch, false) AS batch, {lg} AS lg,
       count(*) AS n, sum(input_tokens) AS in_t,
       sum(input_tokens - cache_read_tokens - cache_write_tokens - cache_write_1h_tokens) AS unc,
       sum(cache_read_tokens) AS cr, sum(cache_write_tokens) AS cw, sum(cache_write_1h_tokens) AS cw1,
       sum(output_tokens) AS out
FROM requests WHERE (ts >= ? AND ts < ?) OR (ts >= ? AND ts < ?)
GROUP BY ALL
"""
CELLS = """
SELECT a.cur, a.g, a.feature, a.model, p.model_id, p.valid_from, a.hit, p.model_id IS NOT NULL AS priced,
       sum(a.n) AS n, sum(a.in_t) AS in_t, sum(a.unc) AS unc, sum(a.cr) AS cr, sum(a.cw) AS cw, sum(a.cw1) AS cw1,
       sum(a.out) AS out,
       {rates}, CASE WHEN a.batch THEN p.batch_factor ELSE 1 END AS bf, a.batch,
       coalesce({long}, false) AS long
FROM (SELECT *, {at} AS at FROM lc_ex_groups) a
LEFT JOIN lc_ex_prices p ON p.model = a.model AND p.host = a.host AND a.at >= p.valid_from AND a.at < p.valid_to
GROUP BY ALL
"""
RATE_COLS = {
    "unc": "input",
    "cr": "cache_read",
    "cw": "cache_write",
    "cw1": "cache_write_1h",
    "out": "output",
}


def _long_sql(thresholds: list[int]) -> str:
    """Whether group `a` is above its price row's long-context threshold (`lg` counts `thresholds`)."""
    return (
        f"p.long_threshold IS NOT NULL AND a.lg >= list_position({thresholds!r}, p.long_threshold)"
    )


def _rates_sql(long: str) -> str:
    rates = [
        f"CASE WHEN {long} THEN coalesce(p.l_{k}, p.r_{k}) ELSE p.r_{k} END AS rate_{b}"
        for b, k in RATE_COLS.items()
    ]
    return ", ".join(rates + [f"p.r_{k} AS base_{b}" for b, k in RATE_COLS.items()])


def _thresholds(prices: pricing.PriceTable) -> list[int]:
    """Every long-context threshold of the price table, in order."""
    return sorted(
        {
            v.long_context_threshold
            for m in prices.models.values()
            for v in m.versions
            if v.long_context_threshold is not None
        }
    )


def _starts(prices: pricing.PriceTable, lo: datetime, hi: datetime) -> list[datetime]:
    """The price table's version starts (midnight UTC) strictly inside (lo, hi), in order."""
    return sorted(
        {
            start
            for m in prices.models.values()
            for v in m.versions
            if lo < (start := datetime.combine(v.effective_from, datetime.min.time())) < hi
        }
    )


def _ts(t: datetime) -> str:
    return f"TIMESTAMP '{t.isoformat(sep=' ')}'"


# ---------------------------------------------------------------- periods


def parse_period(text: str, current: Window) -> Window:
    """--compare-to: `previous` (the window of equal length just before), `YYYY-MM`, or `SINCE..UNTIL`."""
    t = text.strip()
    if t == "previous":
        return current.previous()
    if len(t) == 7 and t[4] == "-" and t[:4].isdigit() and t[5:].isdigit():
        start = parse_when(t + "-01")
        assert start is not None
        return Window(start, add_months(start, 1))
    if ".." in t:
        a, _, b = t.partition("..")
        try:  # as --since/--until: a date-only UNTIL includes that day
            w: Window | None = parse_window(a, b)
        except LlmcostError:
            w = None
        if w is not None and w.since is not None and w.until is not None:
            return w
    raise LlmcostError(
        f"cannot read --compare-to {text!r}",
        hint="use previous, a month such as 2026-09, or SINCE..UNTIL such as 2026-09-01..2026-09-30 (a date-only UNTIL includes that day)",
    )


def periods(con: Any, window: Window, compare_to: str) -> tuple[Window, Window]:
    """This period (default: the calendar month of the last request; open ends closed at the data) and the other."""
    lo, hi = con.execute("SELECT min(ts), max(ts) FROM requests").fetchone()
    if hi is None:
        raise LlmcostError("no requests loaded", hint="load logs with `llmcost ingest PATH` first")
    since, until = window.since, window.until
    if since is None and until is None:
        since = month_start(hi)
        until = add_months(since, 1)
    elif since is None:
        assert until is not None
        since = month_start(lo)
    elif until is None:
        until = add_months(hi, 1)
    assert since is not None and until is not None
    if since >= until:
        raise LlmcostError(
            "--since must be before --until", hint="e.g. --since 2026-10-01 --until 2026-11-01"
        )
    cur = Window(since, until)
    base = parse_period(compare_to, cur)
    assert base.since is not None and base.until is not None
    if base.since < until and since < base.until:
        raise LlmcostError(
            "the two periods overlap",
            hint="compare with a period that ends before this one starts, e.g. --compare-to previous",
        )
    return cur, base


# ---------------------------------------------------------------- the Shapley split


def shapley_product(pairs: list[tuple[str, Fraction, Fraction]]) -> dict[str, Fraction]:
    """Shapley value of each factor of a product that moves from prod(a) to prod(b).

    phi_j = (b_j - a_j) x sum over S of the other factors: |S|!(k-1-|S|)!/k! x prod_{S} b x prod_{rest} a.
    The sum over S is read off the polynomial prod_{l != j} (a_l + b_l t): its t^m coefficient is the sum
    over the sets of size m. The values add up to prod(b) - prod(a) exactly.
    """
    # In integers: each pair over a common denominator D_j (a = A/D, b = B/D), so every term of the sum has
    # the same denominator k! x prod D and only one Fraction is made per factor (about 10x faster).
    k = len(pairs)
    ints: list[tuple[str, int, int]] = []
    den = factorial(k)
    for name, a, b in pairs:
        d = lcm(a.denominator, b.denominator)
        ints.append((name, a.numerator * (d // a.denominator), b.numerator * (d // b.denominator)))
        den *= d
    weights = [factorial(m) * factorial(k - 1 - m) for m in range(k)]
    out: dict[str, Fraction] = {}
    for j, (name, a_j, b_j) in enumerate(ints):
        if a_j == b_j:
            out[name] = out.get(name, Fraction(0))
            continue
        poly = [1]
        for idx, (_, ia, ib) in enumerate(ints):
            if idx == j:
                continue
            nxt = [0] * (len(poly) + 1)
            for m, c in enumerate(poly):
                if c:
                    nxt[m] += c * ia
                    nxt[m + 1] += c * ib
            poly = nxt
        total = sum(weights[m] * c for m, c in enumerate(poly))
        out[name] = out.get(name, Fraction(0)) + Fraction((b_j - a_j) * total, den)
    return out


@dataclass
class _Side:
    """One cell in one period: counts, token sums and the exact cost of each bucket."""

    n: int = 0
    hits: int = 0
    batch_n: int = 0
    long_n: int = 0
    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0))
    in_t: int = 0
    base_cost: dict[str, Fraction] = field(
        default_factory=lambda: dict.fromkeys(BUCKETS, Fraction(0))
    )
    list_cost: dict[str, Fraction] = field(
        default_factory=lambda: dict.fromkeys(BUCKETS, Fraction(0))
    )
    cost: dict[str, Fraction] = field(default_factory=lambda: dict.fromkeys(BUCKETS, Fraction(0)))

    def total(self) -> Fraction:
        return sum(self.cost.values(), Fraction(0))

    def factors(self) -> dict[str, Any]:
        """The product form's factors; None where the period leaves one undefined (no request to measure)."""
        served = self.n - self.hits
        f: dict[str, Any] = {
            "s_n": self.n,
            "keep": Fraction(served, self.n) if self.n else None,
            "i": Fraction(self.in_t, served) if served else None,
            "o": Fraction(self.tokens["out"], served) if served else None,
        }
        for b in BUCKETS:
            t = self.tokens[b]
            if b != "out":
                f["c_" + b] = Fraction(t, self.in_t) if self.in_t else None
            base, lst = self.base_cost[b], self.list_cost[b]
            # price: the version's base rate per token; long context: list / base (a base rate of 0 with a
            # long rate above it leaves the long-context uplift in the price, so the product stays exact)
            f["l_" + b] = (base if base else lst) / t if t else None
            f["g_" + b] = lst / base if base else (Fraction(1) if lst else None)
            f["b_" + b] = self.cost[b] / lst if lst else None
        return f


def _fill(a: dict[str, Any], b: dict[str, Any]) -> None:
    """A factor undefined in one period takes the other period's value (it did not move); undefined in both: 0."""
    for k in a:
        if a[k] is None and b[k] is None:
            a[k] = b[k] = Fraction(0)
        elif a[k] is None:
            a[k] = b[k]
        elif b[k] is None:
            b[k] = a[k]


def split_cell(prev: _Side, cur: _Side, n_prev: int, n_cur: int) -> dict[str, Fraction]:
    """The change of one cell over volume (N), mix (s = n / N) and the intensive factors, exactly."""
    fa, fb = prev.factors(), cur.factors()
    _fill(fa, fb)
    s_a = Fraction(prev.n, n_prev) if n_prev else Fraction(0)
    s_b = Fraction(cur.n, n_cur) if n_cur else Fraction(0)
    head = [
        ("volume", Fraction(n_prev), Fraction(n_cur)),
        ("mix", s_a, s_b),
        ("semantic_cache", fa["keep"], fb["keep"]),
    ]
    out = dict.fromkeys(DRIVERS, Fraction(0))
    for b in BUCKETS:
        tokens = (
            ("output_tokens", fa["o"], fb["o"])
            if b == "out"
            else ("input_tokens", fa["i"], fb["i"])
        )
        terms = [*head, tokens]
        if b != "out":
            terms.append(("provider_cache", fa["c_" + b], fb["c_" + b]))
        terms += [
            ("price", fa["l_" + b], fb["l_" + b]),
            ("long_context", fa["g_" + b], fb["g_" + b]),
            ("batch", fa["b_" + b], fb["b_" + b]),
        ]
        if any(a == 0 and b == 0 for _, a, b in terms):
            continue  # a factor 0 in both periods: every term of every Shapley sum is 0 (a bucket unused)
        for name, v in shapley_product(terms).items():
            out[name] += v
    return out


# ---------------------------------------------------------------- the result


@dataclass
class ExplainResult:
    doc: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return self.doc

    def headline(self) -> list[str]:
        d, t = self.doc, self.doc["totals"]
        p, c = d["compare_to"], d["period"]
        lines = [
            f"explain: {fmt_value(p['since'], 'text')} .. {fmt_value(p['until'], 'text')}  →  "
            f"{fmt_value(c['since'], 'text')} .. {fmt_value(c['until'], 'text')}   by {', '.join(d['by'])}",
            f"cost {fmt_value(t['previous_cost_usd'], 'usd')}  →  {fmt_value(t['current_cost_usd'], 'usd')}   change "
            f"{_signed(t['change_usd'])} ({fmt_value(t['change_pct'], 'pct')}); requests {t['previous_requests']:,} → {t['current_requests']:,}",
            f"the drivers below add up to the change exactly: {_signed(t['sum_of_drivers_usd'])} (Shapley split, docs/explain.md)",
        ]
        m = d.get("margin")
        if m:
            lines.append(
                f"gross margin {fmt_value(m['previous_margin_usd'], 'usd')} ({fmt_value(m['previous_margin_pct'], 'pct')})  →  "
                f"{fmt_value(m['current_margin_usd'], 'usd')} ({fmt_value(m['current_margin_pct'], 'pct')}); "
                f"revenue {_signed(m['revenue_change_usd'])}, cost {_signed(t['change_usd'])}"
            )
        for side in ("previous", "current"):
            cov = d["coverage"][side]
            if cov["unpriced"]:
                lines.append(
                    f"{side} period: {cov['unpriced']:,} unpriced requests ({', '.join(cov['unpriced_models'])}) are outside the bridge"
                )
        for change in d["price_changes"]:
            lines.append(
                f"price versions in force for {change['model']}: {', '.join(change['previous']) or 'none'} → {', '.join(change['current']) or 'none'}"
            )
        return lines

    def tables(self) -> list[Table]:
        d = self.doc
        cols = [Column("label", "driver"), Column("usd", "change", "usd"), Column("share_pct", "% of change", "pct"),
                Column("detail", "what moved")]  # fmt: skip
        out = [
            Table("cost bridge", cols, d["drivers"], note="the parts add up to the change exactly")
        ]
        if d.get("margin"):
            mcols = [Column("label", "part"), Column("usd", "margin change", "usd")]
            out.append(Table("margin bridge", mcols, d["margin"]["bridge"]))
        dims = [Column(b) for b in d["by"]]
        gcols = [*dims, Column("status"), Column("previous_requests", "requests before", "int"),
                 Column("current_requests", "after", "int"), Column("previous_cost_usd", "cost before", "usd"),
                 Column("current_cost_usd", "after", "usd"), Column("change_usd", "change", "usd")]  # fmt: skip
        title = ", ".join(d["by"])
        out.append(Table("by " + title, gcols, d["rows"]))
        dcols = [*dims, *(Column(k + "_usd", SHORT[k], "usd") for k in SHORT)]
        moved = [r for r in d["rows"] if r["status"] == "continuing"]
        out.append(
            Table(
                f"drivers by {title}",
                dcols,
                moved,
                note="new and gone groups: their whole change is theirs",
            )
        )
        return out


def _signed(v: Any) -> str:
    if v is None:
        return "—"
    text = fmt_value(abs(v), "usd")
    return ("+" if v >= 0 else "−") + text


def _num(v: Fraction) -> float:
    return float(v)


# ---------------------------------------------------------------- explain


def explain(
    con: Any, prices: pricing.PriceTable, *, window: Window, compare_to: str = "previous", by: str = "feature",
    generated_at: datetime | None = None,
) -> ExplainResult:  # fmt: skip
    """The cost bridge from the `compare_to` period to `window`, split by driver and by --by group."""
    if by not in BY:
        raise LlmcostError(
            f"unknown --by {by!r} for explain", hint=f"choose one of: {', '.join(BY)}"
        )
    cur_w, base_w = periods(con, window, compare_to)
    if by == "model":  # --by model groups on the price table's model (lc_model_names)
        install_names(con, prices)
    assert cur_w.since and cur_w.until and base_w.since and base_w.until
    lo, hi = min(cur_w.since, base_w.since), max(cur_w.until, base_w.until)
    thresholds, starts = _thresholds(prices), _starts(prices, lo, hi)
    while True:
        lg = " + ".join(f"CAST(input_tokens > {int(t)} AS INTEGER)" for t in thresholds) or "0"
        ver = " + ".join(f"CAST(ts >= {_ts(t)} AS INTEGER)" for t in starts) or "0"
        con.execute(
            SUMS.format(group=dimension_sql(by), lg=lg, ver=ver),
            [cur_w.since, base_w.since, base_w.until, cur_w.since, cur_w.until],
        )
        keys = con.execute(
            f"SELECT DISTINCT model, host FROM {GROUPS} WHERE model IS NOT NULL ORDER BY 1, 2"
        ).fetchall()
        pricing.register(con, prices, PRICES, keys=keys)
        th, edges = con.execute(
            f"""SELECT list(DISTINCT long_threshold) FILTER (WHERE long_threshold IS NOT NULL),
                       list(DISTINCT e) FILTER (WHERE e > ? AND e < ?)
                FROM {PRICES}, unnest([valid_from, valid_to]) u(e)""",
            [lo, hi],
        ).fetchone()
        more_th, more_starts = set(th or []) - set(thresholds), set(edges or []) - set(starts)
        if not more_th and not more_starts:
            break
        # a price row outside the table's models: count its threshold and version start too
        thresholds = sorted(set(thresholds) | more_th)
        starts = sorted(set(starts) | more_starts)
    long = _long_sql(thresholds)
    at = " ".join(f"WHEN {i} THEN {_ts(t)}" for i, t in enumerate([lo, *starts]))
    recs = con.execute(
        CELLS.format(rates=_rates_sql(long), long=long, at=f"CASE ver {at} END")
    ).fetchall()
    cells: dict[tuple[Any, ...], list[_Side]] = {}
    coverage: dict[str, dict[str, Any]] = {
        s: {"requests": 0, "priced": 0, "unpriced": 0, "unpriced_models": set()}
        for s in ("previous", "current")
    }
    versions: dict[str, list[set[str]]] = {}
    for (is_cur, g, feature, model, model_id, valid_from, hit, priced, n, in_t, unc, cr, cw, cw1, out,
         *rest) in recs:  # fmt: skip
        side_name = "current" if is_cur else "previous"
        cov = coverage[side_name]
        cov["requests"] += n
        if not priced:
            cov["unpriced"] += n
            cov["unpriced_models"].add(model)
            continue
        cov["priced"] += n
        rates, base_rates, bf, batch, long = rest[:5], rest[5:10], rest[10], rest[11], rest[12]
        versions.setdefault(model_id, [set(), set()])[1 if is_cur else 0].add(
            valid_from.strftime("%Y-%m-%d")
        )
        # the cell: the group, and feature and model within it (the group already is one of them)
        key = (g, feature if by != "feature" else None, model if by != "model" else None)
        side = cells.setdefault(key, [_Side(), _Side()])[1 if is_cur else 0]
        side.n += n
        side.batch_n += n if batch else 0
        side.long_n += n if long else 0
        if hit:
            side.hits += n
            continue
        side.in_t += in_t
        for b, t, rate, base in zip(
            BUCKETS, (unc, cr, cw, cw1, out), rates, base_rates, strict=True
        ):
            side.tokens[b] += t
            side.base_cost[b] += Fraction(Decimal(t) * Decimal(base)) / 1_000_000
            lc = Fraction(Decimal(t) * Decimal(rate)) / 1_000_000
            side.list_cost[b] += lc
            side.cost[b] += lc * Fraction(Decimal(bf))
    return _result(con, prices, by, cur_w, base_w, cells, coverage, versions, generated_at)


def _result(
    con: Any, prices: pricing.PriceTable, by: str, cur_w: Window, base_w: Window,
    cells: dict[tuple[Any, ...], list[_Side]], coverage: dict[str, dict[str, Any]],
    versions: dict[str, list[set[str]]], generated_at: datetime | None,
) -> ExplainResult:  # fmt: skip
    groups: dict[Any, list[tuple[_Side, _Side]]] = {}
    for (g, *_), (a, b) in cells.items():
        groups.setdefault(g, []).append((a, b))
    status = {}
    for g, sides in groups.items():
        n_a, n_b = sum(a.n for a, _ in sides), sum(b.n for _, b in sides)
        status[g] = "continuing" if n_a and n_b else ("new" if n_b else "gone")
    # volume and mix are over the groups present in both periods
    n_prev = sum(a.n for g, sides in groups.items() if status[g] == "continuing" for a, _ in sides)
    n_cur = sum(b.n for g, sides in groups.items() if status[g] == "continuing" for _, b in sides)
    totals = dict.fromkeys(DRIVERS, Fraction(0))
    rows = []
    prev_cost = cur_cost = Fraction(0)
    for g, sides in groups.items():
        parts = dict.fromkeys(DRIVERS, Fraction(0))
        ca = sum((a.total() for a, _ in sides), Fraction(0))
        cb = sum((b.total() for _, b in sides), Fraction(0))
        if status[g] == "new":
            parts["new"] = cb
        elif status[g] == "gone":
            parts["gone"] = -ca
        else:
            for a, b in sides:
                for k, v in split_cell(a, b, n_prev, n_cur).items():
                    parts[k] += v
        prev_cost += ca
        cur_cost += cb
        for k, v in parts.items():
            totals[k] += v
        row: dict[str, Any] = {by: g, "status": status[g], "previous_cost_usd": _num(ca), "current_cost_usd": _num(cb),
                               "change_usd": _num(cb - ca), "previous_requests": sum(a.n for a, _ in sides),
                               "current_requests": sum(b.n for _, b in sides)}  # fmt: skip
        row.update({k + "_usd": _num(v) for k, v in parts.items()})
        rows.append((abs(cb - ca), row))
    change = cur_cost - prev_cost
    drivers_sum = sum(totals.values(), Fraction(0))
    # exact rational arithmetic: the Shapley values of each product add up to its change
    assert drivers_sum == change, "the bridge must add up"
    rows.sort(key=lambda x: (-x[0], str(x[1][by])))
    details = _details(groups, status)
    drivers = [
        {"driver": k, "label": label, "usd": _num(totals[k]), "share_pct": float(totals[k] / change * 100) if change else None,
         "detail": details.get(k, "")}
        for k, label in DRIVERS.items()
    ]  # fmt: skip
    drivers.append({"driver": "total", "label": "total change", "usd": _num(change), "share_pct": 100.0 if change else None,
                    "detail": f"{_num(prev_cost):,.6f} → {_num(cur_cost):,.6f} USD"})  # fmt: skip
    for cov in coverage.values():
        cov["unpriced_models"] = sorted(str(m) for m in cov["unpriced_models"])
    totals_doc = {
        "previous_cost_usd": _num(prev_cost), "current_cost_usd": _num(cur_cost), "change_usd": _num(change),
        "change_pct": float(change / prev_cost * 100) if prev_cost else None,
        "previous_requests": coverage["previous"]["priced"], "current_requests": coverage["current"]["priced"],
        "sum_of_drivers_usd": _num(drivers_sum), "residual_usd": _num(change - drivers_sum),
    }  # fmt: skip
    price_changes = [
        {"model": m, "previous": sorted(v[0]), "current": sorted(v[1])}
        for m, v in sorted(versions.items())
        if v[0] and v[1] and v[0] != v[1]
    ]
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "generated_at": generated_at or now(),
        "pricing": {"files": prices.files, "sha256": prices.sha256},
        "period": {"since": cur_w.since, "until": cur_w.until},
        "compare_to": {"since": base_w.since, "until": base_w.until},
        "by": [by],
        "method": "shapley: each group x feature x model cell's cost is a product of its drivers; the change is split by the Shapley value in exact rational arithmetic",
        "coverage": coverage,
        "totals": totals_doc,
        "drivers": drivers,
        "price_changes": price_changes,
        "margin": _margin(con, cur_w, base_w, prev_cost, cur_cost, drivers),
        "rows": [r for _, r in rows],
    }
    return ExplainResult(doc)


def _rate(num: int, den: int) -> str:
    return f"{num / den * 100:.1f}%" if den else "—"


def _add(tgt: _Side, s: _Side) -> None:
    tgt.n += s.n
    tgt.hits += s.hits
    tgt.batch_n += s.batch_n
    tgt.long_n += s.long_n
    tgt.in_t += s.in_t
    for b in BUCKETS:
        tgt.tokens[b] += s.tokens[b]


def _details(
    groups: dict[Any, list[tuple[_Side, _Side]]], status: dict[Any, str]
) -> dict[str, str]:
    """What moved, in words, over the groups present in both periods."""
    agg = [_Side(), _Side()]
    for g, sides in groups.items():
        if status[g] != "continuing":
            continue
        for pair in sides:
            for tgt, s in zip(agg, pair, strict=True):
                _add(tgt, s)
    a, b = agg
    sa, sb = a.n - a.hits, b.n - b.hits

    def per(x: int, n: int) -> str:
        return f"{x / n:,.0f}" if n else "—"

    new = [str(g) for g, s in status.items() if s == "new"]
    gone = [str(g) for g, s in status.items() if s == "gone"]
    return {
        "volume": f"requests {a.n:,} → {b.n:,} in the groups of both periods",
        "mix": "shares of requests move between groups, features and models",
        "input_tokens": f"input tokens per served request {per(a.in_t, sa)} → {per(b.in_t, sb)}",
        "output_tokens": f"output tokens per served request {per(a.tokens['out'], sa)} → {per(b.tokens['out'], sb)}",
        "price": "base rates per token of the price versions in force",
        "long_context": f"requests above a long-context threshold {_rate(a.long_n, a.n)} → {_rate(b.long_n, b.n)}",
        "batch": f"batch requests {_rate(a.batch_n, a.n)} → {_rate(b.batch_n, b.n)}",
        "provider_cache": f"cache-read share of input {_rate(a.tokens['cr'], a.in_t)} → {_rate(b.tokens['cr'], b.in_t)}",
        "semantic_cache": f"semantic cache hits {_rate(a.hits, a.n)} → {_rate(b.hits, b.n)}",
        "new": ", ".join(sorted(new)[:5]) + (f" (+{len(new) - 5} more)" if len(new) > 5 else ""),
        "gone": ", ".join(sorted(gone)[:5])
        + (f" (+{len(gone) - 5} more)" if len(gone) > 5 else ""),
    }


def _margin(
    con: Any,
    cur_w: Window,
    base_w: Window,
    prev_cost: Fraction,
    cur_cost: Fraction,
    drivers: list[dict[str, Any]],
) -> dict[str, Any] | None:
    """Margin bridge when revenue is loaded: revenue change minus each cost driver (SPEC §6 window rule)."""
    if not revenue_rule.loaded(con):
        return None
    # the one rule (llmcost.revenue), into a table of its own: a report on the same connection keeps lc_rev
    revenue_rule.install(con, cur_w, base_w, table="lc_ex_rev")
    per = dict(con.execute("SELECT prev, sum(revenue) FROM lc_ex_rev GROUP BY prev").fetchall())
    if (
        per.get(True) is None or per.get(False) is None
    ):  # a period without revenue has no margin to compare
        return None
    r_prev, r_cur = round(float(per.get(True) or 0), 9), round(float(per.get(False) or 0), 9)
    m_prev, m_cur = r_prev - float(prev_cost), r_cur - float(cur_cost)
    bridge = [{"label": "revenue", "usd": round(r_cur - r_prev, 9)}]
    bridge += [
        {"label": d["label"], "usd": -d["usd"]}
        for d in drivers
        if d["driver"] != "total" and d["usd"]
    ]
    bridge.append({"label": "total margin change", "usd": m_cur - m_prev})
    return {
        "previous_revenue_usd": r_prev, "current_revenue_usd": r_cur, "revenue_change_usd": round(r_cur - r_prev, 9),
        "previous_margin_usd": m_prev, "current_margin_usd": m_cur,
        "previous_margin_pct": m_prev / r_prev * 100 if r_prev else None,
        "current_margin_pct": m_cur / r_cur * 100 if r_cur else None,
        "bridge": bridge,
    }  # fmt: skip
