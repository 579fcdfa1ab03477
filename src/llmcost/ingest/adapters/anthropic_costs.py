"""Anthropic Admin API `cost_report` pages and the Console cost CSV export: billed cost.

Trap: the API's `amount` is a decimal STRING in CENTS ("123.45" = $1.2345); it is divided by
100 exactly. The Console CSV's `cost_usd` is already dollars. The model comes from `model` when
the report was grouped by description, else from the description ("Claude Sonnet 4 Usage -
Input Tokens"); the Console CSV has display names ("Claude Haiku 4.5"), normalised to ids.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import partial
from typing import Any

from llmcost.ingest.adapters import _exports as x
from llmcost.ingest.formats import Format, Job, register
from llmcost.ingest.sources import Source
from llmcost.store import writes

KIND = "anthropic_costs"
CONSOLE_KIND = "anthropic_console_costs"
CENTS = Decimal(100)
API_TOKEN_TYPES = {
    "uncached_input_tokens": "input",
    "output_tokens": "output",
    "cache_read_input_tokens": "cache_read",
    "cache_creation.ephemeral_5m_input_tokens": "cache_write",
    "cache_creation.ephemeral_1h_input_tokens": "cache_write_1h",
}
CONSOLE_TOKEN_TYPES = {
    "input_no_cache": "input",
    "output": "output",
    "input_cache_read": "cache_read",
    "input_cache_write_5m": "cache_write",
    "input_cache_write": "cache_write",
    "input_cache_write_1h": "cache_write_1h",
}
DESCRIPTION = re.compile(r"^(?P<model>.+?) Usage - (?P<kind>.+)$")
MAPPED = {"amount", "currency", "description", "cost_type", "token_type", "model", "service_tier", "context_window",
          "workspace_id"}  # fmt: skip
KEY = [
    "period_start", "period_end", "line_item", "cost_type", "token_type", "model_raw", "service_tier",
    "context_window", "inference_geo", "speed", "workspace", "api_key",
]  # fmt: skip


def kind_from_description(kind: str) -> str | None:
    k = kind.lower()
    if "cache read" in k:
        return "cache_read"
    if "cache write" in k or "cache creation" in k:
        return "cache_write_1h" if "1h" in k or "1 hour" in k else "cache_write"
    if "output" in k:
        return "output"
    if "input" in k:
        return "input"
    return None


def billed_row(start: Any, end: Any, result: Any) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise x.Reject("a result must be a JSON object")
    if result.get("amount") in (None, ""):
        raise x.Reject("missing amount")
    currency = (x.text(result.get("currency")) or "USD").upper()
    if currency != "USD":
        raise x.Reject(f"currency {currency} is not USD; convert it first")
    description = x.text(result.get("description"))
    token_type = x.text(result.get("token_type"))
    token_kind = API_TOKEN_TYPES.get(token_type or "", token_type)
    model = x.text(result.get("model"))
    m = DESCRIPTION.match(description or "")
    if m and model is None:
        model = x.display_model(m.group("model"))
    if m and token_kind is None:
        token_kind = kind_from_description(m.group("kind"))
    cost_type = x.text(result.get("cost_type")) or ("tokens" if token_kind else None)
    row = {
        "period_start": x.when(start, "starting_at"),
        "period_end": x.when(end, "ending_at") if end not in (None, "") else None,
        "provider": "anthropic",
        "model": model,
        "model_raw": x.text(result.get("model")),
        "token_kind": token_kind,
        "token_type": token_type,
        "cost_type": cost_type,
        "service_tier": x.text(result.get("service_tier")),
        "context_window": x.text(result.get("context_window")),
        "amount_usd": x.money(result.get("amount"), "amount") / CENTS,  # cents -> dollars, exact
        "currency": currency,
        "project": None,
        "workspace": x.text(result.get("workspace_id")),
        "api_key": None,
        "line_item": description,
        "quantity": None,
        "quantity_unit": None,
        "attrs": x.extra_attrs(result, MAPPED),
        "inference_geo": x.text(result.get("inference_geo")),
        "speed": x.text(result.get("speed")),
    }
    return x.keyed(row, KEY)


def sniff(head: bytes, source: Source) -> bool:
    textual = x.json_head(head)
    return (
        bool(textual) and '"starting_at"' in textual and re.search(r'"amount"\s*:\s*"', textual) is not None
        and re.search(r'"uncached_input_tokens"\s*:', textual) is None
    )  # fmt: skip


def load(job: Job) -> writes.Counts:
    what = "an Anthropic cost report"
    pages, rejects = x.json_pages(job, what)
    records = []
    for n, (bucket, result) in enumerate(x.buckets(pages, job, what), start=1):
        if result is None:
            continue
        start, end = bucket.get("starting_at"), bucket.get("ending_at")
        records.append((n, x.dump(result), partial(billed_row, start, end, result)))
    return x.store(job, "billed", KIND, records, rejects)


# ---------------------------------------------------------------- Console CSV (Cost -> Export)


def console_row(row: dict[str, str]) -> dict[str, Any]:
    start, end = x.day_bucket(row.get("usage_date_utc"), "usage_date_utc")
    display = x.text(row.get("model"))
    token_type = x.text(row.get("token_type"))
    usage_type = x.text(row.get("usage_type"))
    mapped = {"usage_date_utc", "model", "workspace", "api_key", "usage_type", "context_window", "token_type",
              "cost_usd", "cost_type"}  # fmt: skip
    out = {
        "period_start": start,
        "period_end": end,
        "provider": "anthropic",
        "model": x.display_model(display),
        "model_raw": display,
        "token_kind": CONSOLE_TOKEN_TYPES.get(token_type or "", token_type),
        "token_type": token_type,
        "cost_type": "tokens"
        if x.text(row.get("cost_type")) == "token"
        else x.text(row.get("cost_type")),
        "service_tier": "batch" if usage_type and "batch" in usage_type.lower() else usage_type,
        "context_window": x.text(row.get("context_window")),
        "amount_usd": x.money(row.get("cost_usd"), "cost_usd"),  # already dollars here
        "currency": "USD",
        "project": None,
        "workspace": x.text(row.get("workspace")),
        "api_key": x.text(row.get("api_key_id")) or x.text(row.get("api_key")),
        "line_item": " ".join(p for p in (display, token_type) if p) or None,
        "quantity": None,
        "quantity_unit": None,
        "attrs": x.extra_attrs(row, mapped),
        "inference_geo": x.text(row.get("inference_geo")),
        "speed": x.text(row.get("speed")),
    }
    return x.keyed(out, KEY)


def sniff_csv(head: bytes, source: Source) -> bool:
    header = x.csv_header(head)
    return {"usage_date_utc", "cost_usd"} <= header


def load_csv(job: Job) -> writes.Counts:
    _, rows = x.csv_rows(job)
    records = [(n, raw, partial(console_row, row)) for n, row, raw in rows]
    return x.store(job, "billed", CONSOLE_KIND, records, [])


FORMAT = register(
    Format(
        name="anthropic_costs",
        kind=KIND,
        description="Anthropic Admin API cost_report page (JSON; amounts are strings in CENTS)",
        sniff=sniff,
        load=load,
        priority=60,
    )
)
FORMAT_CSV = register(
    Format(
        name="anthropic_costs_csv",
        kind=CONSOLE_KIND,
        description="Anthropic Console cost export (CSV: usage_date_utc, model, token_type, cost_usd in dollars)",
        sniff=sniff_csv,
        load=load_csv,
        priority=60,
    )
)
