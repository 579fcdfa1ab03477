"""OpenAI Usage API pages (`/v1/organization/usage/completions`) and the dashboard Activity CSV.

Both land in the `usage` table. Schema drift: until mid-2026 `input_tokens` was TEXT input
(cached included) with audio input apart in `input_audio_tokens`; since then `input_tokens` is
every modality and `input_uncached_tokens` / `input_cache_write_tokens` break it down. The new
breakdown is preferred when present; breakdown fields are never added up into a fake total.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from llmcost.ingest.adapters import _exports as x
from llmcost.ingest.formats import Format, Job, register
from llmcost.ingest.sources import Source
from llmcost.store import writes

KIND = "openai_usage"
RESULT = "organization.usage.completions.result"
# keys that only the 2026 schema has
NEW_SCHEMA = {
    "input_uncached_tokens", "input_cache_write_tokens", "input_text_tokens", "input_cached_text_tokens",
    "input_image_tokens", "output_text_tokens",
}  # fmt: skip
MAPPED = {
    "object", "input_tokens", "input_cached_tokens", "input_cache_write_tokens", "input_uncached_tokens",
    "output_tokens", "num_model_requests", "project_id", "user_id", "api_key_id", "model", "batch",
    "service_tier", "start_time", "end_time",
}  # fmt: skip
KEY = [
    "bucket_start",
    "bucket_end",
    "model",
    "project",
    "api_key",
    "user_id",
    "batch",
    "service_tier",
]


def usage_row(start: Any, end: Any, result: Any, *, lenient: bool = False) -> dict[str, Any]:
    """One completions usage result as a `usage` row. `lenient`: blank CSV cells are zeros."""
    if not isinstance(result, dict):
        raise x.Reject("a result must be a JSON object")
    obj = result.get("object")
    if obj is not None and obj != RESULT:
        raise x.Reject(f"not a completions usage result (object {str(obj)[:60]!r})")
    required = not lenient
    output = x.integer(result.get("output_tokens"), "output_tokens", required=required)
    cached = x.integer(result.get("input_cached_tokens"), "input_cached_tokens")
    if NEW_SCHEMA & {k for k, v in result.items() if v not in (None, "")}:
        write = x.integer(result.get("input_cache_write_tokens"), "input_cache_write_tokens")
        if result.get("input_uncached_tokens") not in (None, ""):
            uncached = x.integer(result.get("input_uncached_tokens"), "input_uncached_tokens")
            total = uncached + cached + write
        else:
            total = x.integer(result.get("input_tokens"), "input_tokens", required=required)
    else:  # legacy: text input (cached included) + audio input (cached included)
        write = 0
        total = x.integer(result.get("input_tokens"), "input_tokens", required=required)
        total += x.integer(result.get("input_audio_tokens"), "input_audio_tokens")
        output += x.integer(result.get("output_audio_tokens"), "output_audio_tokens")
    if cached + write > total:
        raise x.Reject(
            f"input_cached_tokens + input_cache_write_tokens ({cached + write}) exceed input ({total})"
        )
    row = {
        "bucket_start": x.when(start, "start_time"),
        "bucket_end": x.when(end, "end_time") if end not in (None, "") else None,
        "provider": "openai",
        "model": x.text(result.get("model")),
        "project": x.text(result.get("project_id")),
        "api_key": x.text(result.get("api_key_id")),
        "user_id": x.text(result.get("user_id")),
        "service_tier": x.text(result.get("service_tier")),
        "context_window": None,
        "long_context": False,
        "batch": x.flag(result.get("batch")),
        "requests": x.integer(
            result.get("num_model_requests"), "num_model_requests", required=required
        ),
        "input_tokens": total,
        "cache_read_tokens": cached,
        "cache_write_tokens": write,
        "cache_write_1h_tokens": 0,
        "output_tokens": output,
        "web_search_requests": None,
        "attrs": x.extra_attrs(result, MAPPED),
    }
    return x.keyed(row, KEY)


# ---------------------------------------------------------------- API page


def sniff(head: bytes, source: Source) -> bool:
    textual = x.json_head(head)
    if not textual or not re.search(r'"object"\s*:\s*"page"', textual):
        return False
    if re.search(rf'"object"\s*:\s*"{re.escape(RESULT)}"', textual):
        return True
    # a page whose buckets are all empty: nothing tells usage from costs; claim it, it loads nothing
    return re.search(r'"results"\s*:\s*\[\s*\{', textual) is None and '"start_time"' in textual


def load(job: Job) -> writes.Counts:
    pages, rejects = x.json_pages(job, "an OpenAI usage page")
    records = []
    for n, (bucket, result) in enumerate(x.buckets(pages, job, "an OpenAI usage page"), start=1):
        if result is None:
            continue
        start, end = bucket.get("start_time"), bucket.get("end_time")
        records.append((n, x.dump(result), partial(usage_row, start, end, result)))
    return x.store(job, "usage", KIND, records, rejects)


# ---------------------------------------------------------------- dashboard Activity CSV

CSV_NEEDS = {"start_time", "end_time"}
CSV_METRICS = {"num_model_requests", "input_tokens", "output_tokens"}


def sniff_csv(head: bytes, source: Source) -> bool:
    header = x.csv_header(head)
    if not header >= CSV_NEEDS or "amount_value" in header:
        return False
    # an empty-range export is only the time columns
    return bool(CSV_METRICS & header) or header == {
        "start_time",
        "end_time",
        "start_time_iso",
        "end_time_iso",
    }


def load_csv(job: Job) -> writes.Counts:
    _, rows = x.csv_rows(job)
    records = []
    for line_no, row, raw in rows:
        start = row.get("start_time") or row.get("start_time_iso")
        end = row.get("end_time") or row.get("end_time_iso")
        result = {k: v for k, v in row.items() if k not in ("start_time_iso", "end_time_iso")}
        records.append((line_no, raw, partial(usage_row, start, end, result, lenient=True)))
    return x.store(job, "usage", KIND, records, [])


FORMAT = register(
    Format(
        name="openai_usage",
        kind=KIND,
        description="OpenAI Usage API page (/v1/organization/usage/completions; JSON)",
        sniff=sniff,
        load=load,
        priority=60,
    )
)
FORMAT_CSV = register(
    Format(
        name="openai_usage_csv",
        kind=KIND,  # the same records as the API: an API page and its CSV export dedupe
        description="OpenAI dashboard usage export, Activity tab (completions_usage_*.csv)",
        sniff=sniff_csv,
        load=load_csv,
        priority=60,
    )
)
