"""Anthropic Admin API `usage_report/messages` pages and the Console usage CSV export.

Anthropic's input is EXCLUSIVE: `uncached_input_tokens` leaves out cache reads and cache
creation, so input_tokens = uncached + cache read + 5m creation + 1h creation. The report has
no request count (`requests` stays NULL). `service_tier = batch` marks batch usage; a
`context_window` of 200k-1M is priced at the model's long-context rates.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from llmcost.ingest.adapters import _exports as x
from llmcost.ingest.formats import Format, Job, register
from llmcost.ingest.sources import Source
from llmcost.store import writes

KIND = "anthropic_usage"
CONSOLE_KIND = "anthropic_console_usage"  # names instead of ids: its keys never match the API's
MAPPED = {
    "uncached_input_tokens", "cache_read_input_tokens", "cache_creation", "cache_creation_input_tokens",
    "cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens", "output_tokens", "server_tool_use",
    "model", "workspace_id", "api_key_id", "service_tier", "context_window",
}  # fmt: skip
KEY = [
    "bucket_start", "bucket_end", "model", "workspace", "api_key", "service_tier", "context_window",
    "inference_geo", "speed", "account_id", "service_account_id", "usage_type",
]  # fmt: skip


def is_long(context_window: str | None) -> bool:
    """'200k-1M' (API), '> 200k' (Console): the long-context tier."""
    if not context_window:
        return False
    cw = context_window.strip().lower()
    return cw.startswith((">", "200k-")) or cw.endswith("-1m")


def tokens_row(
    start: Any, end: Any, *, uncached: int, read: int, write_5m: int, write_1h: int, output: int,
) -> dict[str, Any]:  # fmt: skip
    return {
        "bucket_start": x.when(start, "starting_at"),
        "bucket_end": x.when(end, "ending_at") if end not in (None, "") else None,
        "provider": "anthropic",
        "user_id": None,
        "project": None,
        "requests": None,
        "input_tokens": uncached + read + write_5m + write_1h,
        "cache_read_tokens": read,
        "cache_write_tokens": write_5m,
        "cache_write_1h_tokens": write_1h,
        "output_tokens": output,
    }


def usage_row(start: Any, end: Any, result: Any) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise x.Reject("a result must be a JSON object")
    creation = result.get("cache_creation")
    if creation is not None and not isinstance(creation, dict):
        raise x.Reject("cache_creation must be an object")
    creation = creation or {}
    # the official shape nests cache_creation{}; older third-party copies flatten it
    write_5m = x.integer(
        creation.get("ephemeral_5m_input_tokens", result.get("cache_creation_5m_input_tokens",
                                                              result.get("cache_creation_input_tokens"))),
        "cache_creation.ephemeral_5m_input_tokens",
    )  # fmt: skip
    write_1h = x.integer(
        creation.get("ephemeral_1h_input_tokens", result.get("cache_creation_1h_input_tokens")),
        "cache_creation.ephemeral_1h_input_tokens",
    )
    tool_use = (
        result.get("server_tool_use") if isinstance(result.get("server_tool_use"), dict) else {}
    )
    tier = x.text(result.get("service_tier"))
    context_window = x.text(result.get("context_window"))
    row = tokens_row(
        start, end,
        uncached=x.integer(result.get("uncached_input_tokens"), "uncached_input_tokens", required=True),
        read=x.integer(result.get("cache_read_input_tokens"), "cache_read_input_tokens"),
        write_5m=write_5m, write_1h=write_1h,
        output=x.integer(result.get("output_tokens"), "output_tokens", required=True),
    )  # fmt: skip
    row.update(
        model=x.text(result.get("model")),
        workspace=x.text(result.get("workspace_id")),
        api_key=x.text(result.get("api_key_id")),
        service_tier=tier,
        context_window=context_window,
        long_context=is_long(context_window),
        batch=tier == "batch",
        web_search_requests=x.integer(
            (tool_use or {}).get("web_search_requests"), "web_search_requests"
        ),
        attrs=x.extra_attrs(result, MAPPED),
        **{
            k: x.text(result.get(k))
            for k in ("inference_geo", "speed", "account_id", "service_account_id")
        },
    )
    return x.keyed(row, KEY)


def sniff(head: bytes, source: Source) -> bool:
    textual = x.json_head(head)
    return (
        bool(textual)
        and '"starting_at"' in textual
        and re.search(r'"uncached_input_tokens"\s*:', textual) is not None
    )


def load(job: Job) -> writes.Counts:
    what = "an Anthropic usage report"
    pages, rejects = x.json_pages(job, what)
    records = []
    for n, (bucket, result) in enumerate(x.buckets(pages, job, what), start=1):
        if result is None:
            continue
        start, end = bucket.get("starting_at"), bucket.get("ending_at")
        records.append((n, x.dump(result), partial(usage_row, start, end, result)))
    return x.store(job, "usage", KIND, records, rejects)


# ---------------------------------------------------------------- Console CSV (Usage -> Export)

CSV_TOKENS = ("usage_input_tokens_no_cache", "usage_output_tokens")


def console_row(row: dict[str, str]) -> dict[str, Any]:
    start, end = x.day_bucket(row.get("usage_date_utc"), "usage_date_utc")
    usage_type = x.text(row.get("usage_type"))
    context_window = x.text(row.get("context_window"))
    # older exports had one cache-write column (5-minute TTL)
    write_5m = row.get(
        "usage_input_tokens_cache_write_5m", row.get("usage_input_tokens_cache_write")
    )
    out = tokens_row(
        start, end,
        uncached=x.integer(row.get("usage_input_tokens_no_cache"), "usage_input_tokens_no_cache"),
        read=x.integer(row.get("usage_input_tokens_cache_read"), "usage_input_tokens_cache_read"),
        write_5m=x.integer(write_5m, "usage_input_tokens_cache_write_5m"),
        write_1h=x.integer(row.get("usage_input_tokens_cache_write_1h"), "usage_input_tokens_cache_write_1h"),
        output=x.integer(row.get("usage_output_tokens"), "usage_output_tokens"),
    )  # fmt: skip
    mapped = {
        "usage_date_utc", "model_version", "api_key", "workspace", "usage_type", "context_window",
        "usage_input_tokens_no_cache", "usage_input_tokens_cache_write_5m", "usage_input_tokens_cache_write",
        "usage_input_tokens_cache_write_1h", "usage_input_tokens_cache_read", "usage_output_tokens",
        "web_search_count",
    }  # fmt: skip
    out.update(
        model=x.text(row.get("model_version")),
        workspace=x.text(row.get("workspace")),
        api_key=x.text(row.get("api_key")),
        service_tier=usage_type,
        usage_type=usage_type,
        context_window=context_window,
        long_context=is_long(context_window),
        batch=bool(usage_type and "batch" in usage_type.lower()),
        web_search_requests=x.integer(row.get("web_search_count"), "web_search_count"),
        attrs=x.extra_attrs(row, mapped),
        inference_geo=x.text(row.get("inference_geo")),
        speed=x.text(row.get("speed")),
    )
    return x.keyed(out, KEY)


def sniff_csv(head: bytes, source: Source) -> bool:
    header = x.csv_header(head)
    return "usage_date_utc" in header and any(c in header for c in CSV_TOKENS)


def load_csv(job: Job) -> writes.Counts:
    _, rows = x.csv_rows(job)
    records = [(n, raw, partial(console_row, row)) for n, row, raw in rows]
    return x.store(job, "usage", CONSOLE_KIND, records, [])


FORMAT = register(
    Format(
        name="anthropic_usage",
        kind=KIND,
        description="Anthropic Admin API usage_report/messages page (JSON)",
        sniff=sniff,
        load=load,
        priority=60,
    )
)
FORMAT_CSV = register(
    Format(
        name="anthropic_usage_csv",
        kind=CONSOLE_KIND,
        description="Anthropic Console usage export (CSV: usage_date_utc, model_version, usage_*_tokens...)",
        sniff=sniff_csv,
        load=load_csv,
        priority=60,
    )
)
