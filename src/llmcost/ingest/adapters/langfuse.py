"""Langfuse generations: observations from `GET /api/public/v2/observations` (or the legacy v1
endpoint; a `{"data": [...]}` page or a JSON array), blob-storage exports in JSON lines or CSV.

Traps: `usageDetails` is an open map. Langfuse counts every key containing "input" as input and
every key containing "output" as output, and its integrations split cached tokens OUT of
`input` (`input_cached_tokens`, `cache_read_input_tokens`...), so all input is the sum of the
input keys and `input` alone is the uncached part. Only GENERATION (and EMBEDDING) observations
are requests; spans and events are passed over. Costs are dollars (`totalCost`, `costDetails`).
"""

from __future__ import annotations

from typing import Any

from llmcost.ingest.adapters import _request_source as rs
from llmcost.ingest.formats import Format, Job, register
from llmcost.ingest.sources import Source
from llmcost.store.writes import Counts

KIND = "langfuse"
REQUEST_TYPES = {"GENERATION", "EMBEDDING"}
JSON_FIELDS = ("usageDetails", "costDetails", "usage", "metadata", "tags", "modelParameters")
MAPPED_META = {
    "feature",
    "feature_id",
    "customer_id",
    "customer",
    "tenant_id",
    "tenant",
    "task_id",
    "plan",
}


def _is_cache_read(key: str) -> bool:
    k = key.lower()
    return "input" in k and ("cached" in k or "cache_read" in k)


def _is_cache_write(key: str) -> bool:
    k = key.lower()
    return "input" in k and ("cache_creation" in k or "cache_write" in k)


def _tokens(obs: dict[str, Any]) -> dict[str, Any] | str | None:
    details = obs.get("usageDetails")
    if not isinstance(details, dict) or not details:
        legacy = rs.obj(obs.get("usage"))
        details = {
            k: v
            for k, v in {
                "input": legacy.get("input", obs.get("promptTokens")),
                "output": legacy.get("output", obs.get("completionTokens")),
            }.items()
            if v is not None
        }
    if not details:
        return None
    counts: dict[str, int] = {}
    for key, value in details.items():
        n = rs.as_int(value)
        if n is None:
            continue
        if not isinstance(n, int) or isinstance(n, bool):
            return f"usageDetails.{key} must be an integer, got {str(value)[:40]}"
        counts[key] = n
    ins = {k: v for k, v in counts.items() if "input" in k.lower()}
    outs = {k: v for k, v in counts.items() if "output" in k.lower()}
    return {
        "input_tokens": sum(ins.values()),
        "cache_read_tokens": sum(v for k, v in ins.items() if _is_cache_read(k)),
        "cache_write_tokens": sum(v for k, v in ins.items() if _is_cache_write(k)),
        "output_tokens": sum(outs.values()),
        "reasoning_tokens": sum(v for k, v in outs.items() if "reasoning" in k.lower()),
    }


def convert(rec: Any) -> list[tuple[str | None, rs.Outcome]]:
    if not isinstance(rec, dict):
        return rs.one("not a JSON object")
    obs = {k: rs.maybe_json(v) if k in JSON_FIELDS else v for k, v in rec.items()}
    kind = str(obs.get("type") or "").upper()
    if kind and kind not in REQUEST_TYPES:
        return []  # spans, events, agents: not model calls
    tokens = _tokens(obs)
    if isinstance(tokens, str):
        return rs.one(tokens)
    if tokens is None:
        if not kind:
            return []
        tokens = {}
    meta = rs.obj(obs.get("metadata"))
    costs = rs.obj(obs.get("costDetails"))
    cost = obs.get("totalCost")
    if cost in (None, ""):
        cost = costs.get("total", obs.get("calculatedTotalCost"))
    level = str(obs.get("level") or "").upper()
    lat = rs.as_num(obs.get("latency"))
    fields = {
        "request_id": obs.get("id"),
        "timestamp": rs.timestamp(obs.get("startTime")),
        "model": obs.get("providedModelName") or obs.get("model"),
        "user_id": obs.get("userId"),
        "customer_id": rs.pick(meta, "customer_id", "customer", "tenant_id", "tenant"),
        "feature": rs.pick(meta, "feature", "feature_id") or obs.get("traceName"),
        "task_id": rs.pick(meta, "task_id") or obs.get("sessionId") or obs.get("traceId"),
        "plan": rs.pick(meta, "plan"),
        **tokens,
        "status": "error" if level == "ERROR" else "ok",
        "latency_ms": round(lat * 1000, 3)
        if isinstance(lat, float)
        else rs.latency(obs.get("startTime"), obs.get("endTime")),
        "cost_usd": rs.as_num(cost),
    }
    extras = {
        "trace_id_langfuse": obs.get("traceId"),
        "session_id_langfuse": obs.get("sessionId"),
        "observation_name": obs.get("name"),
        "observation_type": kind or None,
        "project_id": obs.get("projectId"),
        "environment": obs.get("environment"),
        "release": obs.get("release"),
        "version": obs.get("version"),
        "tags": obs.get("tags"),
        "prompt_name": obs.get("promptName"),
        "prompt_version": obs.get("promptVersion"),
        "usage_details": obs.get("usageDetails"),
        "cost_details": costs,
        "metadata": {k: v for k, v in meta.items() if str(k).lower() not in MAPPED_META},
    }  # input / output are text: never kept
    return rs.one(rs.canonical_record(fields, extras, KIND))


def load(job: Job) -> Counts:
    return rs.load_records(job, KIND, rs.any_records(job, rs.unwrap_common), convert)


def _looks_like(rec: dict[str, Any]) -> bool:
    if "traceId" not in rec:
        return False
    return any(
        k in rec
        for k in ("usageDetails", "providedModelName", "costDetails", "calculatedTotalCost")
    ) or str(rec.get("type", "")).upper() in REQUEST_TYPES | {"SPAN", "EVENT"}


def sniff(head: bytes, source: Source) -> bool:
    header = rs.csv_header(head)
    if header:
        return "traceId" in header and bool({"usageDetails", "providedModelName"} & set(header))
    return any(_looks_like(r) for r in rs.dict_records(head))


FORMAT = register(
    Format(
        name="langfuse",
        kind=KIND,
        description="Langfuse observations (generations): API pages, JSON lines or CSV export",
        sniff=sniff,
        load=load,
        priority=300,
    )
)
