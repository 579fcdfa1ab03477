"""`llmcost check`: the CI gate. Evaluates the [check] rules of llmcost.toml over the priced data.

A rule whose value cannot be computed (no revenue loaded, no requests, no earlier week) fails: a
gate that passes when it cannot see is no gate. Remove the rule if it does not apply.

The rule results are a typed table: a polars frame of a fixed schema (`rule_schema()`), which the
document holds and every writer writes; a rule over groups (the lowest feature margin) is picked
in SQL from the report's group frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from llmcost import query
from llmcost.documents import Column, Table, fetch_frame, is_frame, materialise
from llmcost.errors import ConfigError
from llmcost.values import fmt_value

if TYPE_CHECKING:
    import polars as pl

SCHEMA = "llmcost.check/1"

# rule -> (direction, unit, what it measures)
RULES: dict[str, tuple[str, str, str]] = {
    "min_margin_pct": ("min", "pct", "overall gross margin in the window"),
    "min_feature_margin_pct": ("min", "pct", "lowest gross margin of a feature that has revenue"),
    "max_p90_user_cost_usd": ("max", "usd", "P90 of cost per active user-month"),
    "max_unpriced_share": ("max", "ratio", "unpriced requests / all requests"),
    "max_cost_growth_pct": ("max", "pct", "cost of the last full week vs the week before"),
    "max_projected_month_cost_usd": ("max", "usd", "projected month-end cost (linear run rate)"),
}


@dataclass
class RuleResult:
    name: str
    value: float | None
    threshold: float
    ok: bool
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "FAIL (cannot compute)"
        return "pass" if self.ok else "FAIL"


@dataclass
class CheckResult:
    rules: list[RuleResult]
    window: dict[str, Any]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rules)

    def frame(self) -> pl.DataFrame:
        """The rules' results, one row per rule, in rule_schema() (the same columns with no rule)."""
        import polars as pl

        data = {
            "name": [r.name for r in self.rules],
            "value": [None if r.value is None else float(r.value) for r in self.rules],
            "threshold": [float(r.threshold) for r in self.rules],
            "ok": [r.ok for r in self.rules],
            "note": [r.note for r in self.rules],
        }
        return pl.DataFrame(data, schema=rule_schema())

    def document(self) -> dict[str, Any]:
        """The document with its rules as a frame, for the writers."""
        return {"schema": SCHEMA, "ok": self.ok, "window": self.window, "rules": self.frame()}

    def to_json(self) -> dict[str, Any]:
        """The document as plain values (the rules as a list of dicts)."""
        out: dict[str, Any] = materialise(self.document())
        return out

    def headline(self) -> list[str]:
        failed = [r.name for r in self.rules if not r.ok]
        if not failed:
            return [f"check passed: {len(self.rules)} rule(s) within their thresholds"]
        return [
            f"check FAILED: {len(failed)} of {len(self.rules)} rule(s) breached: {', '.join(failed)}"
        ]

    def tables(self) -> list[Table]:
        """The rules as people read them: each value and threshold in its rule's unit."""
        import polars as pl

        def shown(r: RuleResult) -> dict[str, str]:
            direction, unit, _ = RULES[r.name]
            return {
                "rule": r.name,
                "value": fmt_value(r.value, unit) if r.value is not None else "—",
                "threshold": ("≥ " if direction == "min" else "≤ ") + fmt_value(r.threshold, unit),
                "verdict": r.verdict,
                "note": r.note,
            }

        keys = ["rule", "value", "threshold", "verdict", "note"]
        cells = [shown(r) for r in self.rules]
        frame = pl.DataFrame(
            {k: [c[k] for c in cells] for k in keys}, schema=dict.fromkeys(keys, pl.String)
        )
        return [Table("check", [Column(k) for k in keys], frame)]


def rule_schema() -> dict[str, Any]:
    """The columns of the rules' frame: name, value (missing when it cannot be computed),
    threshold, ok, note."""
    import polars as pl

    return {"name": pl.String, "value": pl.Float64, "threshold": pl.Float64, "ok": pl.Boolean,
            "note": pl.String}  # fmt: skip


def parse_rules(section: dict[str, Any]) -> dict[str, float]:
    if not section:
        raise ConfigError(
            "no [check] rules in the config",
            hint="add e.g. [check] max_unpriced_share = 0.01 to llmcost.toml",
        )
    rules: dict[str, float] = {}
    for name, value in section.items():
        if name not in RULES:
            raise ConfigError(
                f"unknown [check] rule {name!r}", hint=f"known rules: {', '.join(RULES)}"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"[check] {name} must be a number, got {value!r}")
        rules[name] = float(value)
    return rules


def run(con: Any, prices: Any, section: dict[str, Any], window: Any) -> CheckResult:
    """Evaluate every configured rule, in the order RULES lists them."""
    from llmcost import metrics

    rules = parse_rules(section)
    report = metrics.report(
        con, prices, by=["feature"], window=window
    )  # installs the `priced` view
    doc = report.document()  # the group rows stay a frame
    where, params = window.sql("ts")
    results = []
    for name in RULES:
        if name not in rules:
            continue
        value, note = _value(name, con, doc, where, params, window)
        threshold = rules[name]
        direction = RULES[name][0]
        ok = value is not None and (
            value >= threshold if direction == "min" else value <= threshold
        )
        results.append(RuleResult(name, value, threshold, ok, note))
    w = doc.get("window") or {}
    return CheckResult(results, {"since": _iso(w.get("since")), "until": _iso(w.get("until"))})


def _iso(value: Any) -> Any:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(value, datetime) else value


def _value(
    name: str,
    con: Any,
    doc: dict[str, Any],
    where: str,
    params: list[Any],
    window: Any,
) -> tuple[float | None, str]:
    if name == "max_unpriced_share":
        cov = doc.get("coverage") or {}
        n = cov.get("requests") or 0
        if not n:
            return None, "no requests in the window"
        models = ", ".join(cov.get("unpriced_models") or [])
        return cov.get("unpriced", 0) / n, (f"unpriced: {models}" if models else "")
    # Margins: the report's own numbers when it carries them, so the gate agrees with the report;
    # otherwise the HTML report's per-feature margins (llmcost.series: revenue split by requests).
    if name == "min_margin_pct" and (doc.get("totals") or {}).get("margin_pct") is not None:
        return float(doc["totals"]["margin_pct"]), ""
    worst_row = (
        _worst_margin(doc.get("rows"), "feature") if name == "min_feature_margin_pct" else None
    )
    if worst_row is not None:
        return worst_row[1], f"feature {worst_row[0]}"
    if name in ("min_margin_pct", "min_feature_margin_pct"):
        from llmcost import series

        features = series.margins(
            con, window, where, params, "coalesce(feature, '(none)')", "feature"
        )
        with_revenue = [f for f in features if f["revenue_usd"]]
        if not with_revenue:
            return None, "no revenue loaded for the window"
        if name == "min_feature_margin_pct":
            worst = min(with_revenue, key=lambda f: f["margin_pct"])
            return worst["margin_pct"], f"feature {worst['feature']}"
        revenue = sum(f["revenue_usd"] for f in with_revenue)
        cost = sum(f["cost_usd"] or 0.0 for f in features)
        return (revenue - cost) / revenue * 100.0, ""
    if name == "max_p90_user_cost_usd":
        p90 = (doc.get("distribution") or {}).get("cost_per_user_month_usd", {}).get("p90")
        if p90 is None:
            row = con.execute(
                f"""SELECT quantile_cont(c, 0.9) FROM (SELECT sum(cost_usd) AS c FROM priced
                    WHERE {where} AND user_id IS NOT NULL GROUP BY user_id, date_trunc('month', ts)
                    HAVING count(price_model) > 0)""",
                params,
            ).fetchone()
            p90 = row[0] if row else None
        return (
            (float(p90), "") if p90 is not None else (None, "no priced user-months in the window")
        )
    if name == "max_cost_growth_pct":
        return _growth(con, window)
    if name == "max_projected_month_cost_usd":
        return _projected(con, doc)
    raise AssertionError(name)


WORST_MARGIN = """
SELECT {key}, margin_pct FROM lc_groups
WHERE margin_pct IS NOT NULL AND revenue_usd IS NOT NULL AND revenue_usd <> 0
ORDER BY margin_pct, __lc_i LIMIT 1
"""


def _worst_margin(rows: Any, key: str) -> tuple[Any, float] | None:
    """The group of a report's rows with the lowest margin among those with revenue (the first of
    a tie), and that margin; None when no group has both. In SQL over the report's frame."""
    import duckdb
    import polars as pl

    from llmcost.documents import OMIT

    if not is_frame(rows):
        rows = pl.DataFrame(rows or [], infer_schema_length=None)
    frame: pl.DataFrame = rows
    picks = []
    for name in (key, "margin_pct", "revenue_usd"):
        col = pl.col(name) if name in frame.columns else pl.lit(None)
        if OMIT + name in frame.columns:  # a field left out of its row
            col = pl.when(pl.col(OMIT + name)).then(None).otherwise(col)
        picks.append(col.alias(name))
    data = frame.select(picks).with_row_index("__lc_i")
    if not data.schema["margin_pct"].is_numeric() or not data.schema["revenue_usd"].is_numeric():
        return None
    con = duckdb.connect()
    con.register("lc_groups", data)
    worst = fetch_frame(con, WORST_MARGIN.format(key=f'"{key}"'))
    con.close()
    if worst.height == 0:
        return None
    return worst.item(0, 0), float(worst.item(0, 1))


def _growth(con: Any, window: Any) -> tuple[float | None, str]:
    """Last full ISO week (Monday 00:00 UTC) ending at or before --until (or the end of the data)."""
    end = window.until
    if end is None:
        last = con.execute("SELECT max(ts) FROM priced").fetchone()[0]
        if last is None:
            return None, "no requests"
        end = datetime.combine(last.date() + timedelta(days=1), datetime.min.time())
    monday = datetime.combine(end.date() - timedelta(days=end.weekday()), datetime.min.time())
    w1 = monday - timedelta(days=7)
    w0 = w1 - timedelta(days=7)
    rows = con.execute(
        """SELECT sum(cost_usd) FILTER (WHERE ts >= ? AND ts < ?), sum(cost_usd) FILTER (WHERE ts >= ? AND ts < ?),
                  min(ts) FROM priced""",
        [w0, w1, w1, monday],
    ).fetchone()
    before, last_week, first = rows
    label = f"week of {w1:%Y-%m-%d} vs {w0:%Y-%m-%d}"
    if first is None or not before:
        return None, f"{label}: no cost in the earlier week"
    if first >= w0 + timedelta(days=1):  # a week the data only starts in would overstate growth
        return (
            None,
            f"{label}: the data starts on {first:%Y-%m-%d}, after the earlier week's Monday",
        )
    return (float(last_week or 0) - float(before)) / float(before) * 100.0, label


def _projected(con: Any, doc: dict[str, Any]) -> tuple[float | None, str]:
    """The summary's run rate over the report's window (its lc_fine is still on the connection)."""
    from llmcost import metrics

    w = doc.get("window") or {}
    rr = metrics.run_rate(con, query.Window(w.get("since"), w.get("until")))
    if rr is None or rr["projected_month_usd"] is None:
        return None, "no priced requests in the window"
    state = (
        "complete" if rr["complete"] else f"{rr['elapsed_days']:.1f} of {rr['month_days']:.1f} days"
    )
    return float(
        rr["projected_month_usd"]
    ), f"{rr['month']} ({state}): month-to-date x month / elapsed"
