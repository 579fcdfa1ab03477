"""Revenue in a window: the one rule every command that shows revenue reads (docs/report.md,
"Revenue in a window").

A customer-month's revenue counts by the share of the month inside the window: all of it when the
window holds the whole month, 17/31 of an October for a window from 2026-10-15. A group's revenue
is its share of each customer-month's (by that customer-month's requests in the window, unless the
report's --allocate says otherwise). `report`, `explain`, `whatif` (totals, per customer, per
feature, --plan-price, the capped customers' revenue at risk), the HTML report's margins and
`check` all read the table `install` writes, so they show the same revenue for the same window.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from llmcost.query import Window, effective_window

TABLE = "lc_rev"


def share_sql(month: str, since: str, until: str) -> str:
    """The share of the calendar month starting at MONTH inside [SINCE, UNTIL) (SQL expressions)."""
    return f"({_overlap(month, since, until)}) / ({_length(month)})"


def _overlap(month: str, since: str, until: str) -> str:
    return (
        f"epoch(least({month} + INTERVAL 1 MONTH, {until}))"
        f" - epoch(greatest(CAST({month} AS TIMESTAMP), {since}))"
    )


def _length(month: str) -> str:
    return f"epoch({month} + INTERVAL 1 MONTH) - epoch(CAST({month} AS TIMESTAMP))"


# Per customer-month and period (prev: the window before, for the summary and explain): the revenue
# of the months that overlap the window, prorated by the share of each month inside it.
PRORATED = f"""
CREATE OR REPLACE TEMP TABLE {{table}} AS
WITH w(prev, ws, wu) AS (VALUES (false, ?::TIMESTAMP, ?::TIMESTAMP), (true, ?::TIMESTAMP, ?::TIMESTAMP)),
m AS (
    SELECT customer_id, month, sum(revenue_usd) AS revenue, min(plan) AS plan FROM revenue GROUP BY ALL
)
SELECT w.prev, m.customer_id, m.month, m.plan,
       CAST(m.revenue AS DOUBLE) * ({_overlap("m.month", "w.ws", "w.wu")}) / ({_length("m.month")}) AS revenue,
       {share_sql("m.month", "w.ws", "w.wu")} AS share
FROM m JOIN w ON m.month < w.wu AND m.month + INTERVAL 1 MONTH > w.ws
"""

# A group's revenue by requests: each customer-month's revenue split over its requests in the window,
# a group getting its share of them. {requests}: a query of (g, customer_id, month, n) rows.
BY_REQUESTS = """
WITH req AS ({requests}),
cm AS (SELECT customer_id, month, sum(n) AS n FROM req GROUP BY ALL)
SELECT req.g, fsum(r.revenue * req.n / cm.n) AS revenue
FROM req JOIN cm USING (customer_id, month)
JOIN {table} r ON NOT r.prev AND r.customer_id = req.customer_id AND r.month = req.month
GROUP BY req.g
"""


def loaded(con: Any) -> bool:
    return bool(con.execute("SELECT count(*) FROM revenue").fetchone()[0])


def install(
    con: Any, window: Window, previous: Window | None = None, *, table: str = TABLE
) -> None:
    """TABLE (prev, customer_id, month, plan, revenue, share): the prorated revenue of WINDOW (and of
    PREVIOUS, with prev true). Both windows must be closed (`closed`)."""
    pw = previous or Window(datetime(1, 1, 1), datetime(1, 1, 1))
    con.execute(PRORATED.format(table=table), [window.since, window.until, pw.since, pw.until])


def closed(con: Any, window: Window) -> Window | None:
    """WINDOW with open ends closed at the data's month bounds (query.effective_window); None when
    there is nothing to prorate over (no requests and an open end)."""
    win = effective_window(con, window)
    if win.since is None or win.until is None or win.since >= win.until:
        return None
    return win


def total(con: Any, *, table: str = TABLE, prev: bool = False) -> float | None:
    """All revenue of the period; None when no revenue row overlaps it (margins are then unknown)."""
    n, value = con.execute(
        f"SELECT count(*), sum(revenue) FROM {table} WHERE prev = ?", [prev]
    ).fetchone()
    return _num(value) if n else None


def total_of(con: Any, months: str, *, table: str = TABLE) -> float | None:
    """The revenue of the customer-months MONTHS (a query of customer_id, month rows) in the window."""
    row = con.execute(
        f"SELECT sum(revenue) FROM {table} WHERE NOT prev AND (customer_id, month) IN ({months})"
    ).fetchone()
    return _num(row[0])


def per_customer(con: Any, *, table: str = TABLE) -> dict[Any, float | None]:
    return {
        c: _num(v)
        for c, v in con.execute(
            f"SELECT customer_id, sum(revenue) FROM {table} WHERE NOT prev GROUP BY ALL"
        ).fetchall()
    }


def by_requests(
    con: Any, requests: str, params: list[Any], *, table: str = TABLE
) -> dict[Any, float | None]:
    """Per group g of REQUESTS (a query of g, customer_id, month, n): its revenue by requests."""
    rows = con.execute(BY_REQUESTS.format(requests=requests, table=table), params).fetchall()
    return {g: _num(v) for g, v in rows}


def _num(x: Any) -> float | None:
    """Rounded to 1e-9, as the report rounds its sums (SPEC §8)."""
    return None if x is None else round(float(x), 9)
