"""The metric definitions: one named, portable SQL file per metric (src/llmcost/sql/, docs/metrics.md).

Each file is one SELECT over named relations: the input `priced_requests` (every request of the
window with its point-in-time cost) and `customer_month_revenue` (llmcost.revenue's rule), or the
definitions before it in DEFINITIONS. They are written in the SQL that DuckDB and Spark SQL both
read as it is (CASE instead of FILTER, explicit GROUP BY, `percentile_cont(p) WITHIN GROUP (ORDER
BY x)`, CAST before a division), so the same text runs on both engines without a rewrite. They are
the reference: llmcost.metrics computes the report through DuckDB-only speed-ups (partial sums in
integer units, rollups kept in the store), and tests/test_metric_definitions.py holds its numbers
equal to these.

`install` builds the inputs with the engine's own SQL (pricing's join and the revenue rule, as the
report builds them) and then every definition, each a temp table (DuckDB) or a cached temp view
(Spark) named as its file.
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

from llmcost import pricing
from llmcost import revenue as revenue_rule
from llmcost.metrics import ALLOCATIONS
from llmcost.query import Window, dimension_sql, effective_window, install_names

if TYPE_CHECKING:
    import polars as pl

# In dependency order: each reads the inputs and the ones before it.
DEFINITIONS = (
    "priced_requests",
    "customer_month_revenue",
    "request_revenue",
    "report_rows",
    "period_totals",
    "top20_customers",
    "models",
    "user_costs",
    "user_month_costs",
    "user_distribution",
    "p90_users",
    "customers",
    "months",
    "task_costs",
    "task_metrics",
)
INPUT = "priced_in_window"  # pricing's priced requests of the window, with the --by keys
REVENUE = "revenue_in_window"  # llmcost.revenue's table for the window
EMPTY_WINDOW = Window(datetime(1, 1, 1), datetime(1, 1, 1))


def group_columns(by: list[str]) -> list[str]:
    """The names the definitions give the --by keys, in order: group_1, group_2, ..."""
    return [f"group_{i + 1}" for i in range(len(by))]


def text(name: str, by: list[str] | None = None, allocate: str = "requests") -> str:
    """The SQL of definition NAME, its placeholders filled in for the --by keys BY and the
    allocation rule ALLOCATE (metrics.ALLOCATIONS)."""
    if name not in DEFINITIONS:
        raise KeyError(name)
    if allocate not in ALLOCATIONS:
        raise ValueError(f"unknown allocation {allocate!r}")
    raw = resources.files("llmcost").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")
    keys = group_columns(by or [])
    filled = {
        "{group_columns}": "".join(f", {k}" for k in keys),
        "{group_keys}": ", ".join(keys),
        "{allocation}": allocate,
    }
    for mark, value in filled.items():
        raw = raw.replace(mark, value)
    return raw


def _ts(value: datetime) -> str:
    """A window bound as a literal; it comes from a parsed datetime, never from user text."""
    return f"TIMESTAMP '{value.isoformat(sep=' ')}'"


def install(
    con: Any,
    prices: pricing.PriceTable,
    window: Window,
    by: list[str] | None = None,
    allocate: str = "requests",
) -> Window:
    """Build the inputs for WINDOW (its open ends closed at the data, as the report does) and every
    definition over them, revenue allocated by ALLOCATE; return the window used. `con` is a DuckDB
    connection or a llmcost.spark.SparkConnection: the inputs go through its execute (Spark:
    transpiled from DuckDB's dialect), the definitions run as written."""
    by = by or []
    pricing.install(con, prices)
    install_names(con, prices)
    win = effective_window(con, window)
    if win.since is None or win.until is None or win.since >= win.until:
        win = EMPTY_WINDOW  # no request: every definition is over no rows
    assert win.since is not None and win.until is not None
    keys = "".join(
        f", {dimension_sql(b)} AS {k}" for b, k in zip(by, group_columns(by), strict=True)
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {INPUT} AS SELECT *{keys} FROM priced"
        f" WHERE ts >= {_ts(win.since)} AND ts < {_ts(win.until)}"
    )
    revenue_rule.install(con, win, None, table=REVENUE)
    spark = getattr(con, "spark", None)
    for name in DEFINITIONS:
        if name == "report_rows" and not by:
            continue
        sql = text(name, by, allocate)
        if spark is None:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS\n{sql}")
        else:  # the same text, not transpiled: the portability of the definitions is the point
            frame = spark.sql(sql).cache()
            frame.count()
            frame.createOrReplaceTempView(name)
    return win


def records(con: Any, name: str) -> list[dict[str, Any]]:
    """The rows of an installed definition, as dicts of Python values (DECIMAL costs as Decimal)."""
    spark = getattr(con, "spark", None)
    if spark is not None:
        return [row.asDict() for row in spark.table(name).collect()]
    cur = con.execute(f"SELECT * FROM {name}")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def frame(con: Any, name: str) -> pl.DataFrame:
    """The rows of an installed definition as a polars DataFrame (through Arrow)."""
    import polars as pl

    spark = getattr(con, "spark", None)
    if spark is not None:
        return pl.from_arrow(spark.table(name).toArrow())  # type: ignore[return-value]
    from llmcost.documents import fetch_frame

    return fetch_frame(con, f"SELECT * FROM {name}")
