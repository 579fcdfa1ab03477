"""Revenue CSV (SPEC §6): customer_id, month, revenue_usd[, plan], with their aliases."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal, InvalidOperation

from llmcost.errors import InputError
from llmcost.ingest.formats import Format, Job, first_line, register
from llmcost.ingest.sources import Source
from llmcost.store import writes

ALIASES = {
    "customer_id": ["customer_id", "workspace_id", "customer"],
    "month": ["month", "period"],
    "revenue_usd": ["revenue_usd", "revenue", "mrr", "amount"],
    "plan": ["plan", "plan_tier"],
}
MONTH = re.compile(r"^(\d{4})-(\d{2})(?:-\d{2})?$")


def _columns(header: list[str]) -> dict[str, int] | None:
    names = [h.strip().lower().lstrip("\ufeff") for h in header]
    found: dict[str, int] = {}
    for field, aliases in ALIASES.items():
        for alias in aliases:
            if alias in names:
                found[field] = names.index(alias)
                break
    if {"customer_id", "month", "revenue_usd"} <= found.keys():
        return found
    return None


def sniff(head: bytes, source: Source) -> bool:
    line = first_line(head)
    if "," not in line:
        return False
    return _columns(next(csv.reader([line]))) is not None


MAX_REVENUE = Decimal(10) ** 12


def _money(text: str) -> Decimal:
    cleaned = text.strip().replace("$", "").replace(",", "")
    value = Decimal(cleaned)
    if not value.is_finite():
        raise InvalidOperation
    return value


def load(job: Job) -> writes.Counts:
    data = b"".join(job.reader)
    job.on_bytes(len(data))
    text = data.decode("utf-8-sig", errors="replace")
    rows = list(csv.reader(io.StringIO(text)))
    counts = writes.Counts()
    if not rows:
        return counts
    cols = _columns(rows[0])
    if cols is None:  # forced with --as revenue onto a file without the columns
        raise InputError(
            f"{job.source.name}: a revenue CSV needs a header with customer_id, month and revenue_usd",
            hint="aliases: workspace_id, period, mrr, amount; see the README's revenue section",
        )
    good: list[tuple[int, str, str, Decimal, str | None]] = []
    rejects: list[tuple[int, str, str]] = []
    for line_no, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        counts.read += 1
        raw = ",".join(row)
        try:
            customer = row[cols["customer_id"]].strip()
            month = row[cols["month"]].strip()
            amount_text = row[cols["revenue_usd"]]
            plan = (
                row[cols["plan"]].strip() or None
                if "plan" in cols and cols["plan"] < len(row)
                else None
            )
        except IndexError:
            rejects.append((line_no, f"expected {len(rows[0])} columns, got {len(row)}", raw))
            continue
        m = MONTH.match(month)
        if not customer:
            rejects.append((line_no, "missing customer_id", raw))
        elif not m or not 1 <= int(m.group(2)) <= 12:
            rejects.append((line_no, f"month must be YYYY-MM, got {month[:20]!r}", raw))
        else:
            try:
                amount = _money(amount_text)
            except (InvalidOperation, ValueError):
                rejects.append(
                    (line_no, f"revenue must be a number, got {amount_text[:20]!r}", raw)
                )
                continue
            if amount < 0:
                rejects.append((line_no, "revenue must not be negative", raw))
                continue
            if amount >= MAX_REVENUE:  # the column holds DECIMAL(18, 6)
                rejects.append((line_no, "revenue is out of range (below 10^12 USD)", raw))
                continue
            good.append((line_no, customer, f"{m.group(1)}-{m.group(2)}-01", amount, plan))
    writes.reject_lines(job.con, job.file_id, rejects)
    counts.rejected = len(rejects)
    loaded, duplicates = writes.upsert_revenue(job.con, job.file_id, good)
    counts.loaded, counts.duplicates = loaded, duplicates
    return counts


FORMAT = register(
    Format(
        name="revenue",
        kind="revenue",
        description="revenue CSV (customer_id, month, revenue_usd[, plan])",
        sniff=sniff,
        load=load,
        priority=50,
    )
)
