"""LiteLLM proxy spend logs: `LiteLLM_SpendLogs` rows as JSON (`GET /spend/logs`, a JSON array),
JSON lines, or CSV (`\\copy "LiteLLM_SpendLogs" TO ... CSV HEADER`, the UI export); also the
`StandardLoggingPayload` that LiteLLM's S3/GCS loggers write.

Traps: LiteLLM normalises usage to OpenAI's shape, so `prompt_tokens` INCLUDES cached tokens,
whose counts live in `metadata.additional_usage_values` (SpendLogs) or `metadata.usage_object`
and `response.usage` (StandardLoggingPayload, which has no `additional_usage_values`); a row whose cache counts exceed
`prompt_tokens` was logged the Anthropic way (exclusive) and gets them added. `startTime` is a
database time without a zone (UTC) in SpendLogs, and float epoch seconds in the payload.
`cache_hit` is the string "True"/"False": LiteLLM's own cache answered, no provider call.
CSV cells that hold JSON (`metadata`, `request_tags`) are decoded.
"""

from __future__ import annotations

from typing import Any

from llmcost.ingest.adapters import _request_source as rs
from llmcost.ingest.formats import Format, Job, register
from llmcost.ingest.sources import Source
from llmcost.store.writes import Counts

KIND = "litellm"
JSON_FIELDS = ("metadata", "request_tags", "hidden_params", "cost_breakdown")
# spend_logs_metadata keys (caller-supplied) read as canonical dimensions
MAPPED_META = {
    "user_id",
    "customer_id",
    "customer",
    "tenant_id",
    "tenant",
    "feature",
    "feature_id",
    "task_id",
    "trace_id",
    "plan",
}


def _cache_counts(usage: Any) -> tuple[Any, Any]:
    """(cache read, cache write) from an additional_usage_values / usage object, either vendor's names.

    A count of 0 is a count: the first name that is present wins, zero or not."""
    if not isinstance(usage, dict):
        return None, None
    details = rs.obj(usage.get("prompt_tokens_details"))
    read = _present(usage, "cache_read_input_tokens")
    if read is None:
        read = _present(details, "cached_tokens")
    write = _present(usage, "cache_creation_input_tokens")
    if write is None:
        write = _present(details, "cache_creation_tokens", "cache_write_tokens")
    return rs.as_int(read), rs.as_int(write)


def _present(mapping: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if mapping.get(key) not in (None, ""):
            return mapping[key]
    return None


def _usages(rec: dict[str, Any], meta: dict[str, Any]) -> list[Any]:
    """The usage objects a row may carry, most specific first."""
    response = rs.obj(rec.get("response"))
    return [
        meta.get("additional_usage_values"),
        meta.get("usage_object"),
        response.get("usage"),
        rec.get("usage"),
        rec.get("response_usage"),
    ]


def convert(rec: Any) -> list[tuple[str | None, rs.Outcome]]:
    if not isinstance(rec, dict):
        return rs.one("not a JSON object")
    rec = {k: rs.maybe_json(rec[k]) if k in JSON_FIELDS else rec[k] for k in rec}
    meta = rs.obj(rec.get("metadata"))
    custom = rs.obj(meta.get("spend_logs_metadata"))
    read = write = reasoning = None
    for usage in _usages(rec, meta):
        read, write = _cache_counts(usage)
        if read is not None or write is not None:
            break
    for usage in _usages(rec, meta):
        reasoning = _present(
            rs.obj(rs.obj(usage).get("completion_tokens_details")), "reasoning_tokens"
        )
        if reasoning is not None:
            break
    prompt = rs.as_int(rec.get("prompt_tokens"))
    caches = rs.add_ints(read, write)
    input_tokens: Any = prompt
    if isinstance(prompt, int) and isinstance(caches, int) and caches > prompt:
        input_tokens = prompt + caches  # logged exclusive (Anthropic style): make it inclusive
    status = str(rec.get("status") or meta.get("status") or "success").lower()
    cache_hit = rs.as_bool(rec.get("cache_hit"))
    start, end = rec.get("startTime"), rec.get("endTime")
    fields = {
        "request_id": rec.get("request_id") or rec.get("id"),
        "timestamp": rs.timestamp(start),
        "provider": rec.get("custom_llm_provider") or None,
        "model": rec.get("model") or rec.get("model_group"),
        "user_id": rec.get("end_user")
        or custom.get("user_id")
        or rec.get("user")
        or meta.get("user_api_key_user_id"),
        "customer_id": rs.pick(custom, "customer_id", "customer", "tenant_id", "tenant"),
        "feature": rs.pick(custom, "feature", "feature_id"),
        "task_id": rs.pick(custom, "task_id", "trace_id")
        or rec.get("session_id")
        or rec.get("trace_id"),
        "plan": rs.pick(custom, "plan"),
        "input_tokens": input_tokens,
        "cache_read_tokens": read,
        "cache_write_tokens": write,
        "output_tokens": rs.as_int(rec.get("completion_tokens")),
        "reasoning_tokens": rs.as_int(reasoning),
        "cache_hit": cache_hit,
        "status": "ok"
        if status in ("success", "ok", "")
        else ("error" if status in ("failure", "failed") else status),
        "latency_ms": rs.as_num(rec.get("request_duration_ms")) or rs.latency(start, end),
        "cost_usd": rs.as_num(
            rec.get("spend") if rec.get("spend") not in (None, "") else rec.get("response_cost")
        ),
    }
    extras = {
        "model_group": rec.get("model_group"),
        "deployment_id": rec.get("model_id"),
        "call_type": rec.get("call_type"),
        "api_key_alias": meta.get("user_api_key_alias"),
        "api_key_hash": rec.get("api_key") or meta.get("user_api_key_hash"),
        "team_id": rec.get("team_id") or meta.get("user_api_key_team_id"),
        "team_alias": meta.get("user_api_key_team_alias"),
        "organization_id": rec.get("organization_id") or meta.get("user_api_key_org_id"),
        "proxy_user": rec.get("user") if rec.get("end_user") else None,
        "request_tags": rec.get("request_tags"),
        "spend_logs_metadata": {k: v for k, v in custom.items() if k.lower() not in MAPPED_META},
    }  # messages / response bodies are text: never kept
    return rs.one(rs.canonical_record(fields, extras, KIND))


def load(job: Job) -> Counts:
    return rs.load_records(job, KIND, rs.any_records(job, rs.unwrap_common), convert)


def _is_spend_row(rec: dict[str, Any]) -> bool:
    if "request_id" in rec and "spend" in rec and ("startTime" in rec or "call_type" in rec):
        return True
    # StandardLoggingPayload
    return (
        "response_cost" in rec
        and "call_type" in rec
        and ("model_group" in rec or "custom_llm_provider" in rec)
    )


def sniff(head: bytes, source: Source) -> bool:
    header = rs.csv_header(head)
    if header:
        return {"request_id", "spend", "startTime"} <= set(header) or {
            "request_id",
            "spend",
            "call_type",
        } <= set(header)
    return any(_is_spend_row(r) for r in rs.dict_records(head))


FORMAT = register(
    Format(
        name="litellm",
        kind=KIND,
        description="LiteLLM proxy SpendLogs (JSON, JSON lines or CSV) and StandardLoggingPayload",
        sniff=sniff,
        load=load,
        priority=300,
    )
)
