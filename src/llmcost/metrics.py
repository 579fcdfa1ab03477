"""The P&L queries over priced requests. Named SQL beside the Python that fills it; no printing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from llmcost import pricing
from llmcost.errors import LlmcostError
from llmcost.render import Column, Table, fmt_value

SCHEMA = "llmcost.report/1"

# --by name -> (SQL over the `priced` view, JSON key). The JSON key is the name given on the
# command line; customer_id, user_id, task_id and request_id name the same dimensions.
DIMENSIONS: dict[str, str] = {
    "feature": "feature",
    "customer": "customer_id",
    "user": "user_id",
    "task": "coalesce(task_id, request_id)",
    "model": "model",
    "provider": "provider",
    "tier": "tier",
    "plan": "plan",
    "status": "status",
    "request": "request_id",
    "day": "strftime(date_trunc('day', ts), '%Y-%m-%d')",
    "week": "strftime(date_trunc('week', ts), '%Y-%m-%d')",
    "month": "strftime(date_trunc('month', ts), '%Y-%m')",
}
SYNONYMS = {"customer_id": "customer", "user_id": "user", "task_id": "task", "request_id": "request"}
ATTR_NAME = re.compile(r"^attrs\.([A-Za-z0-9_\-.]+)$")


def dimension_sql(name: str) -> str:
    key = SYNONYMS.get(name, name)
    if key in DIMENSIONS:
        return DIMENSIONS[key]
    m = ATTR_NAME.match(name)
    if m:
        path = ".".join(f'"{part}"' for part in m.group(1).split("."))
        return f"json_extract_string(attrs, '$.{path}')"
    known = ", ".join([*DIMENSIONS, "attrs.NAME"])
    raise LlmcostError(f"unknown --by dimension {name!r}", hint=f"choose from: {known}")


def parse_by(text: str | None) -> list[str]:
    if not text:
        return []
    names = [part.strip() for part in text.split(",") if part.strip()]
    for name in names:
        dimension_sql(name)
    return names


_RELATIVE = re.compile(r"^(\d+)([hdwm])$")


def parse_when(text: str | None, *, now: datetime | None = None) -> datetime | None:
    """ISO dates/datetimes (UTC unless an offset is given) or relative windows such as 30d, 12h, 4w, 3m."""
    if text is None or text == "":
        return None
    now = now or datetime.now(UTC).replace(tzinfo=None)
    m = _RELATIVE.match(text.strip())
    if m:
        n, unit = int(m.group(1)), m.group(2)
        delta = {"h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n), "m": timedelta(days=30 * n)}
        return now - delta[unit]
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            value = datetime.combine(date.fromisoformat(text.strip()), datetime.min.time())
        except ValueError:
            raise LlmcostError(
                f"cannot read the date {text!r}", hint="use 2026-08-01, 2026-08-01T12:00:00Z or a window such as 30d"
            ) from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


@dataclass
class Window:
    since: datetime | None = None
    until: datetime | None = None

    def sql(self, column: str = "ts") -> tuple[str, list[Any]]:
        clauses, params = [], []
        if self.since is not None:
            clauses.append(f"{column} >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append(f"{column} < ?")
            params.append(self.until)
        return (" AND ".join(clauses) or "TRUE"), params


@dataclass
class Coverage:
    requests: int
    priced: int
    unpriced: int
    unpriced_models: list[str]

    def line(self) -> str:
        share = (self.priced / self.requests * 100) if self.requests else 100.0
        text = f"coverage: {self.priced:,} of {self.requests:,} requests priced ({share:.2f}%)"
        if self.unpriced:
            text += f"; {self.unpriced:,} unpriced ({', '.join(self.unpriced_models)}) — see `llmcost prices check`"
        return text


@dataclass
class ReportResult:
    doc: dict[str, Any]
    by: list[str]
    rows: list[dict[str, Any]]
    coverage: Coverage
    extra_tables: list[Table] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return self.doc

    def headline(self) -> list[str]:
        t = self.doc["totals"]
        w = self.doc["window"]
        lines = [
            f"window: {w['since'] or 'start'} .. {w['until'] or 'end'}   "
            f"requests {t['requests']:,}   tasks {t['tasks']:,}   users {t['users']:,}   customers {t['customers']:,}",
            f"inference cost {fmt_value(t['cost_usd'], 'usd')}"
            + (f"   revenue {fmt_value(t['revenue_usd'], 'usd')}" if t.get("revenue_usd") is not None else "")
            + (f"   gross margin {fmt_value(t['margin_pct'], 'pct')}" if t.get("margin_pct") is not None else ""),
            self.coverage.line(),
            f"prices: {len(self.doc['pricing']['files'])} files, sha256 {self.doc['pricing']['sha256'][:12]}",
        ]
        return lines

    def tables(self) -> list[Table]:
        cols = [Column(name) for name in self.by] + [
            Column("requests", "requests", "int"),
            Column("cost_usd", "cost", "usd"),
            Column("share_pct", "share", "pct"),
            Column("cost_per_request_usd", "cost/request", "usd"),
        ]
        title = "cost by " + ", ".join(self.by) if self.by else "cost"
        return [Table(title, cols, self.rows), *self.extra_tables]


def _f(value: Any) -> Any:
    return value


def report(
    con: Any,
    prices: pricing.PriceTable,
    *,
    by: list[str],
    window: Window,
    generated_at: datetime | None = None,
) -> ReportResult:
    pricing.install(con, prices)
    where, params = window.sql()
    cov_row = con.execute(
        f"SELECT count(*), count(price_model), list(DISTINCT model ORDER BY model) FILTER (WHERE price_model IS NULL) "
        f"FROM priced WHERE {where}",
        params,
    ).fetchone()
    coverage = Coverage(cov_row[0], cov_row[1], cov_row[0] - cov_row[1], cov_row[2] or [])
    totals_row = con.execute(
        f"""SELECT count(*), count(DISTINCT coalesce(task_id, request_id)), count(DISTINCT user_id),
                   count(DISTINCT customer_id), sum(cost_usd)
            FROM priced WHERE {where}""",
        params,
    ).fetchone()
    totals: dict[str, Any] = {
        "requests": totals_row[0],
        "tasks": totals_row[1],
        "users": totals_row[2],
        "customers": totals_row[3],
        "cost_usd": totals_row[4],
    }
    rows: list[dict[str, Any]] = []
    if by:
        dims = [dimension_sql(b) for b in by]
        select = ", ".join(f"{d} AS d{i}" for i, d in enumerate(dims))
        group = ", ".join(f"d{i}" for i in range(len(dims)))
        result = con.execute(
            f"""SELECT {select}, count(*) AS requests, sum(cost_usd) AS cost, count(price_model) AS priced
                FROM priced WHERE {where} GROUP BY {group} ORDER BY cost DESC NULLS LAST, {group}""",
            params,
        ).fetchall()
        total_cost = totals["cost_usd"]
        for rec in result:
            row = {name: rec[i] for i, name in enumerate(by)}
            n, cost, priced = rec[len(by)], rec[len(by) + 1], rec[len(by) + 2]
            row["requests"] = n
            row["cost_usd"] = cost
            row["cost_per_request_usd"] = (cost / priced) if cost is not None and priced else None
            row["share_pct"] = (cost / total_cost * 100) if cost is not None and total_cost else None
            rows.append(row)
    doc = {
        "schema": SCHEMA,
        "generated_at": (generated_at or datetime.now(UTC).replace(tzinfo=None)),
        "pricing": {"files": prices.files, "sha256": prices.sha256},
        "window": {"since": window.since, "until": window.until},
        "coverage": {
            "requests": coverage.requests,
            "priced": coverage.priced,
            "unpriced": coverage.unpriced,
            "unpriced_models": coverage.unpriced_models,
        },
        "totals": totals,
        "by": by,
        "rows": rows,
    }
    return ReportResult(doc=doc, by=by, rows=rows, coverage=coverage)
