"""OpenAI Costs API pages (`/v1/organization/costs`) and the dashboard Cost CSV: billed dollars.

Amounts are DOLLARS (`amount.value`, a number; a string is accepted too). `line_item` is free
text such as "gpt-4o-mini-2024-07-18, cached input" or "priority | gpt-5, output, long context";
it is parsed into model and token kind, and kept whole. Unparsed items are non-token charges.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from llmcost.ingest.adapters import _exports as x
from llmcost.ingest.formats import Format, Job, register
from llmcost.ingest.sources import Source
from llmcost.store import writes

KIND = "openai_costs"
RESULT = "organization.costs.result"
LINE_ITEM = re.compile(
    r"^(?:(?P<tier>[^|,]+?) \| )?(?P<model>[^\s,|]+)(?: (?P<modality>[^,]+?))?, (?P<direction>[^,]+?)"
    r"(?:, (?P<qualifiers>.+))?$"
)
TOKEN_KINDS = {
    "input": "input",
    "cached input": "cache_read",
    "output": "output",
    "cache write": "cache_write",
}
MAPPED = {
    "object",
    "amount",
    "line_item",
    "project_id",
    "api_key_id",
    "quantity",
    "quantity_unit",
    "start_time",
    "end_time",
}
KEY = ["period_start", "period_end", "line_item", "project", "api_key", "organization_id"]


def parse_line_item(item: str | None) -> dict[str, Any]:
    """model, token_kind, cost_type, service_tier, context_window from a line_item."""
    out: dict[str, Any] = {"model": None, "token_kind": None, "cost_type": None, "service_tier": None,
                           "context_window": None}  # fmt: skip
    if not item:
        return out
    m = LINE_ITEM.match(item.strip())
    if m is None:
        out["cost_type"] = "web_search" if "web search" in item.lower() else "other"
        return out
    direction = m.group("direction").strip().lower()
    qualifiers = [q.strip().lower() for q in (m.group("qualifiers") or "").split(",") if q.strip()]
    kind = TOKEN_KINDS.get(direction)
    out["model"] = m.group("model")
    out["token_kind"] = kind or direction
    out["cost_type"] = "tokens" if kind else "other"
    tier = (m.group("tier") or "").strip().lower() or None
    out["service_tier"] = "batch" if "batch" in qualifiers else tier
    if any("long context" in q for q in qualifiers):
        out["context_window"] = "long"
    if m.group("modality"):
        out["token_kind"] = f"{m.group('modality').strip().lower()} {out['token_kind']}"
    return out


def billed_row(start: Any, end: Any, result: Any) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise x.Reject("a result must be a JSON object")
    obj = result.get("object")
    if obj is not None and obj != RESULT:
        raise x.Reject(f"not a costs result (object {str(obj)[:60]!r})")
    amount = result.get("amount")
    if amount is not None and not isinstance(amount, dict):
        raise x.Reject("amount must be an object with value and currency")
    amount = amount or {}
    currency = (x.text(amount.get("currency")) or "usd").upper()
    if currency != "USD":
        raise x.Reject(f"currency {currency} is not USD; convert it first")
    line_item = x.text(result.get("line_item"))
    quantity = result.get("quantity")
    row = {
        "period_start": x.when(start, "start_time"),
        "period_end": x.when(end, "end_time") if end not in (None, "") else None,
        "provider": "openai",
        **parse_line_item(line_item),
        "amount_usd": x.money(amount.get("value"), "amount.value"),
        "currency": currency,
        "project": x.text(result.get("project_id")),
        "workspace": None,
        "api_key": x.text(result.get("api_key_id")),
        "line_item": line_item,
        "quantity": float(x.money(quantity, "quantity")) if quantity not in (None, "") else None,
        "quantity_unit": x.text(result.get("quantity_unit")),
        "attrs": x.extra_attrs(result, MAPPED),
        "organization_id": x.text(result.get("organization_id")),
    }
    return x.keyed(row, KEY)


def sniff(head: bytes, source: Source) -> bool:
    textual = x.json_head(head)
    return (
        bool(textual) and re.search(rf'"object"\s*:\s*"{re.escape(RESULT)}"', textual) is not None
    )


def load(job: Job) -> writes.Counts:
    what = "an OpenAI costs page"
    pages, rejects = x.json_pages(job, what)
    records = []
    for n, (bucket, result) in enumerate(x.buckets(pages, job, what), start=1):
        if result is None:
            continue
        start, end = bucket.get("start_time"), bucket.get("end_time")
        records.append((n, x.dump(result), partial(billed_row, start, end, result)))
    return x.store(job, "billed", KIND, records, rejects)


# ---------------------------------------------------------------- dashboard Cost CSV


def sniff_csv(head: bytes, source: Source) -> bool:
    header = x.csv_header(head)
    return {"start_time", "amount_value"} <= header


def load_csv(job: Job) -> writes.Counts:
    _, rows = x.csv_rows(job)
    records = []
    for line_no, row, raw in rows:
        start = row.get("start_time") or row.get("start_time_iso")
        end = row.get("end_time") or row.get("end_time_iso")
        result: dict[str, Any] = {
            k: v
            for k, v in row.items()
            if k not in ("start_time_iso", "end_time_iso", "amount_value", "amount_currency")
        }
        # empty days come as rows with blank values: loaded as $0
        result["amount"] = {
            "value": row.get("amount_value"),
            "currency": row.get("amount_currency") or "usd",
        }
        records.append((line_no, raw, partial(billed_row, start, end, result)))
    return x.store(job, "billed", KIND, records, [])


FORMAT = register(
    Format(
        name="openai_costs",
        kind=KIND,
        description="OpenAI Costs API page (/v1/organization/costs; JSON, dollars)",
        sniff=sniff,
        load=load,
        priority=60,
    )
)
FORMAT_CSV = register(
    Format(
        name="openai_costs_csv",
        kind=KIND,
        description="OpenAI dashboard cost export, Cost tab (CSV, dollars)",
        sniff=sniff_csv,
        load=load_csv,
        priority=60,
    )
)
