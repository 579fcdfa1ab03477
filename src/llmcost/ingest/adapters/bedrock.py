"""AWS Bedrock model-invocation logs (S3 delivery: JSON lines, often gzipped; or a CloudWatch
`filter-log-events` page whose events carry the record as a JSON string).

Trap: `input.inputTokenCount` EXCLUDES cache reads and writes, which Bedrock counts apart, so
all input = inputTokenCount + cacheReadInputTokenCount + cacheWriteInputTokenCount. The 1-hour
share of the cache writes is read from the response body when the model reports it (Anthropic
`usage.cache_creation`, Converse `usage.cacheDetails`).
"""

from __future__ import annotations

import json
from typing import Any

from llmcost.ingest.adapters import _request_source as rs
from llmcost.ingest.formats import Format, Job, register
from llmcost.ingest.sources import Source
from llmcost.store.writes import Counts

KIND = "bedrock"
# Caller-supplied requestMetadata keys that name canonical dimensions.
META = {
    "user_id": ("user_id", "user", "end_user", "enduser"),
    "customer_id": ("customer_id", "customer", "tenant_id", "tenant", "workspace_id", "org_id"),
    "feature": ("feature", "feature_id", "app_feature"),
    "task_id": ("task_id", "session_id", "trace_id", "conversation_id", "run_id"),
    "plan": ("plan", "plan_tier"),
}


def _unwrap(doc: Any) -> list[Any]:
    if isinstance(doc, dict) and isinstance(doc.get("events"), list):  # CloudWatch Logs page
        out = []
        for event in doc["events"]:
            msg = event.get("message") if isinstance(event, dict) else None
            try:
                out.append(json.loads(msg) if isinstance(msg, str) else event)
            except json.JSONDecodeError:
                out.append(event)
        return out
    return rs.unwrap_common(doc)


def _cache_1h(output: Any) -> Any:
    """The 1-hour cache-write tokens the response body reports, or None."""
    body = output.get("outputBodyJson") if isinstance(output, dict) else None
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return None
    creation = usage.get("cache_creation")
    if isinstance(creation, dict) and "ephemeral_1h_input_tokens" in creation:
        return rs.as_int(creation["ephemeral_1h_input_tokens"])
    details = usage.get("cacheDetails")
    if isinstance(details, list):
        return rs.add_ints(
            *(d.get("inputTokens") for d in details if isinstance(d, dict) and d.get("ttl") == "1h")
        )
    return None


def convert(rec: Any) -> list[tuple[str | None, rs.Outcome]]:
    if not isinstance(rec, dict):
        return rs.one("not a JSON object")
    inp = rs.obj(rec.get("input"))
    out = rs.obj(rec.get("output"))
    uncached, read, write = (
        inp.get("inputTokenCount"),
        inp.get("cacheReadInputTokenCount"),
        inp.get("cacheWriteInputTokenCount"),
    )
    for name, v in (
        ("inputTokenCount", uncached),
        ("cacheReadInputTokenCount", read),
        ("cacheWriteInputTokenCount", write),
    ):
        if v is not None and not isinstance(rs.as_int(v), int):
            return rs.one(f"input.{name} must be an integer, got {str(v)[:40]}")
    if uncached is None and out.get("outputTokenCount") is None:
        return rs.one("no token counts (input.inputTokenCount / output.outputTokenCount)")
    write_all = rs.as_int(write) or 0
    write_1h = _cache_1h(out)
    if not isinstance(write_1h, int) or write_1h > write_all:
        write_1h = 0
    meta = rs.obj(rec.get("requestMetadata"))
    identity = rs.obj(rec.get("identity"))
    error = rec.get("errorCode") or (
        rec.get("status") not in (None, "", "Success", "success") and rec.get("status")
    )
    fields = {
        "request_id": rec.get("requestId"),
        "timestamp": rs.timestamp(rec.get("timestamp")),
        "provider": "bedrock",
        "model": rec.get("modelId"),
        "user_id": rs.pick(meta, *META["user_id"]) or identity.get("arn"),
        "customer_id": rs.pick(meta, *META["customer_id"]),
        "feature": rs.pick(meta, *META["feature"]),
        "task_id": rs.pick(meta, *META["task_id"]),
        "plan": rs.pick(meta, *META["plan"]),
        "input_tokens": rs.add_ints(uncached, read, write),
        "cache_read_tokens": rs.as_int(read),
        "cache_write_tokens": write_all - write_1h,
        "cache_write_1h_tokens": write_1h,
        "output_tokens": rs.as_int(out.get("outputTokenCount")),
        "status": "error" if error else "ok",
        "latency_ms": rs.as_num(rec.get("latencyMs") or out.get("latencyMs")),
    }
    mapped = {k for keys in META.values() for k in keys}
    extras = {
        "aws_account_id": rec.get("accountId"),
        "region": rec.get("region"),
        "inference_region": rec.get("inferenceRegion"),
        "operation": rec.get("operation"),
        "error_code": rec.get("errorCode"),
        "caller_arn": identity.get("arn"),
        "performance": rs.obj(rec.get("performanceConfig")).get("latency"),
        "request_metadata": {k: v for k, v in meta.items() if k.lower() not in mapped},
    }  # request and response bodies are text: never kept
    return rs.one(rs.canonical_record(fields, extras, KIND))


def load(job: Job) -> Counts:
    return rs.load_records(job, KIND, rs.json_records(job, _unwrap), convert)


def sniff(head: bytes, source: Source) -> bool:
    for rec in rs.dict_records(head, "events"):
        if rec.get("schemaType") == "ModelInvocationLog":
            return True
        if (
            "modelId" in rec
            and isinstance(rec.get("input"), dict)
            and "inputTokenCount" in rec["input"]
        ):
            return True
        msg = rec.get("message")
        if isinstance(msg, str) and '"ModelInvocationLog"' in msg:
            return True
    return False


FORMAT = register(
    Format(
        name="bedrock",
        kind=KIND,
        description="AWS Bedrock model-invocation logs (S3 JSON lines or a CloudWatch page)",
        sniff=sniff,
        load=load,
        priority=200,
    )
)
