"""Helicone request exports: `npx @helicone/export` (JSON, JSON lines, CSV) and
`POST /v1/request/query` pages (`{"data": [...]}`).

Trap: `prompt_tokens` follows the upstream provider. For OpenAI it includes the cached tokens
(`prompt_cache_read_tokens` is a subset); for Anthropic it is only the uncached part. The row
tells which: when `total_tokens` equals prompt + cache read + cache write + completion (or the
cache counts exceed the prompt), the prompt was exclusive and the cache counts are added.
`cost` is dollars. Custom `Helicone-Property-*` headers arrive in `request_properties`.
"""

from __future__ import annotations

from typing import Any

from llmcost.ingest.adapters import _request_source as rs
from llmcost.ingest.formats import Format, Job, register
from llmcost.ingest.sources import Source
from llmcost.store.writes import Counts

KIND = "helicone"
JSON_FIELDS = ("request_properties", "scores")
PROPS = {
    "feature": ("feature", "helicone-property-feature", "app-feature"),
    "customer_id": (
        "customer_id",
        "customer",
        "helicone-property-customer",
        "tenant",
        "tenant_id",
        "organization",
    ),
    "task_id": ("task_id", "helicone-session-id", "session_id", "session"),
    "plan": ("plan", "helicone-property-plan"),
}


def _input(rec: dict[str, Any]) -> Any:
    prompt = rs.as_int(rec.get("prompt_tokens"))
    read, write = (
        rs.as_int(rec.get("prompt_cache_read_tokens")),
        rs.as_int(rec.get("prompt_cache_write_tokens")),
    )
    caches = rs.add_ints(read, write)
    if not isinstance(prompt, int) or not isinstance(caches, int) or caches == 0:
        return prompt
    total, completion = rs.as_int(rec.get("total_tokens")), rs.as_int(rec.get("completion_tokens"))
    exclusive = caches > prompt or (
        isinstance(total, int)
        and isinstance(completion, int)
        and total == prompt + caches + completion
    )
    return prompt + caches if exclusive else prompt


def convert(rec: Any) -> list[tuple[str | None, rs.Outcome]]:
    if not isinstance(rec, dict):
        return rs.one("not a JSON object")
    rec = {k: rs.maybe_json(v) if k in JSON_FIELDS else v for k, v in rec.items()}
    props = rs.obj(rec.get("request_properties"))
    status = rs.as_int(rec.get("response_status"))
    provider = rec.get("provider")
    fields = {
        "request_id": rec.get("request_id"),
        "timestamp": rs.timestamp(rec.get("request_created_at")),
        "provider": provider.lower() if isinstance(provider, str) and provider else None,
        "model": rec.get("response_model")
        or rec.get("model_override")
        or rec.get("request_model")
        or rec.get("model"),
        "user_id": rec.get("request_user_id") or rec.get("helicone_user") or None,
        "customer_id": rs.pick(props, *PROPS["customer_id"]),
        "feature": rs.pick(props, *PROPS["feature"]),
        "task_id": rs.pick(props, *PROPS["task_id"]),
        "plan": rs.pick(props, *PROPS["plan"]),
        "input_tokens": _input(rec),
        "cache_read_tokens": rs.as_int(rec.get("prompt_cache_read_tokens")),
        "cache_write_tokens": rs.as_int(rec.get("prompt_cache_write_tokens")),
        "output_tokens": rs.as_int(rec.get("completion_tokens")),
        "reasoning_tokens": rs.as_int(rec.get("reasoning_tokens")),
        "status": "ok" if not isinstance(status, int) or 200 <= status < 300 else "error",
        "latency_ms": rs.as_num(rec.get("delay_ms")),
        "cost_usd": rs.as_num(rec.get("cost")),
    }
    mapped = {k for keys in PROPS.values() for k in keys}
    extras = {
        "request_model": rec.get("request_model"),
        "request_path": rec.get("request_path"),
        "response_status": status,
        "time_to_first_token_ms": rs.as_num(rec.get("time_to_first_token")),
        "prompt_id": rec.get("prompt_id"),
        "prompt_version": rec.get("prompt_version"),
        "properties": {k: v for k, v in props.items() if str(k).lower() not in mapped},
    }  # request / response bodies are text: never kept
    return rs.one(rs.canonical_record(fields, extras, KIND))


def load(job: Job) -> Counts:
    return rs.load_records(job, KIND, rs.any_records(job, rs.unwrap_common), convert)


def sniff(head: bytes, source: Source) -> bool:
    header = rs.csv_header(head)
    keys = {"request_id", "request_created_at"}
    if header:
        return keys <= set(header)
    return any(keys <= set(r) for r in rs.dict_records(head))


FORMAT = register(
    Format(
        name="helicone",
        kind=KIND,
        description="Helicone request export (JSON, JSON lines or CSV; API pages)",
        sniff=sniff,
        load=load,
        priority=300,
    )
)
