"""OpenRouter activity export (openrouter.ai/activity -> Export CSV), one row per generation;
also generation stats (`GET /api/v1/generation?id=...`) saved as JSON.

Traps: `created_at` has no zone ("2026-06-28 03:46:57.713"): it is UTC. `tokens_prompt`
includes `tokens_cached` (OpenAI convention) and `tokens_completion` includes
`tokens_reasoning` (OpenRouter bills reasoning as completion). `cost_total` is dollars
(credits); `cost_cache` is a discount and is kept as it is. The model is the permaslug
(`openai/gpt-4o-mini`); the vendor prefix is resolved by the price table.
"""

from __future__ import annotations

from typing import Any

from llmcost.ingest.adapters import _request_source as rs
from llmcost.ingest.formats import Format, Job, register
from llmcost.ingest.sources import Source
from llmcost.store.writes import Counts

KIND = "openrouter"


def convert(rec: Any) -> list[tuple[str | None, rs.Outcome]]:
    if not isinstance(rec, dict):
        return rs.one("not a JSON object")
    cancelled = rs.as_bool(rec.get("cancelled"))
    finish = str(rec.get("finish_reason_normalized") or rec.get("finish_reason") or "").lower()
    byok = rs.as_num(rec.get("byok_usage_inference"))
    fields = {
        "request_id": rec.get("generation_id") or rec.get("id"),
        "timestamp": rs.timestamp(rec.get("created_at")),
        "model": rec.get("model_permaslug") or rec.get("model"),
        "user_id": rec.get("user") or rec.get("external_user") or None,
        "input_tokens": rs.as_int(rec.get("tokens_prompt")),
        "cache_read_tokens": rs.as_int(rec.get("tokens_cached", rec.get("native_tokens_cached"))),
        "output_tokens": rs.as_int(rec.get("tokens_completion")),
        "reasoning_tokens": rs.as_int(
            rec.get("tokens_reasoning", rec.get("native_tokens_reasoning"))
        ),
        "status": "cancelled" if cancelled else ("error" if finish == "error" else "ok"),
        "latency_ms": rs.as_num(rec.get("generation_time_ms") or rec.get("generation_time")),
        "cost_usd": rs.as_num(
            rec.get("cost_total")
            if rec.get("cost_total") not in (None, "")
            else rec.get("total_cost")
        ),
    }
    extras = {
        "upstream_provider": rec.get("provider_name"),
        "variant": rec.get("variant"),
        "app_name": rec.get("app_name"),
        "api_key_name": rec.get("api_key_name"),
        "finish_reason": finish or None,
        "streamed": rs.as_bool(rec.get("streamed")),
        "byok_usage_inference": byok if byok else None,
        "cost_cache": rs.as_num(rec.get("cost_cache")) or None,
        "cost_web_search": rs.as_num(rec.get("cost_web_search")) or None,
        "time_to_first_token_ms": rs.as_num(rec.get("time_to_first_token_ms")),
    }
    return rs.one(rs.canonical_record(fields, extras, KIND))


def _unwrap(doc: Any) -> list[Any]:
    if isinstance(doc, dict) and isinstance(
        doc.get("data"), dict
    ):  # one generation: {"data": {...}}
        return [doc["data"]]
    return rs.unwrap_common(doc)


def load(job: Job) -> Counts:
    return rs.load_records(job, KIND, rs.any_records(job, _unwrap), convert)


def sniff(head: bytes, source: Source) -> bool:
    header = rs.csv_header(head)
    if header:
        return "generation_id" in header and (
            "model_permaslug" in header or "tokens_prompt" in header
        )
    records = [r for rec in rs.dict_records(head) for r in _unwrap(rec) if isinstance(r, dict)]
    return any(str(r.get("id", "")).startswith("gen-") and "tokens_prompt" in r for r in records)


FORMAT = register(
    Format(
        name="openrouter",
        kind=KIND,
        description="OpenRouter activity export (CSV) and generation stats (JSON)",
        sniff=sniff,
        load=load,
        priority=300,
    )
)
