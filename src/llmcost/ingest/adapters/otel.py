"""OpenTelemetry GenAI spans in OTLP JSON: one `ExportTraceServiceRequest` per line (the
Collector's file exporter) or one document (`{"resourceSpans": [...]}`).

Traps: both generations of the GenAI conventions are read (`gen_ai.system` and
`gen_ai.usage.prompt_tokens` / `completion_tokens` before v1.37; `gen_ai.provider.name` and
`gen_ai.usage.input_tokens` / `output_tokens` after), plus vendor aliases for cache counts.
`intValue` is usually a string (proto3 int64 in JSON); `startTimeUnixNano` may be a string or a
number. `gen_ai.usage.input_tokens` SHOULD include cached tokens; an emitter whose cache counts
exceed it did not follow that, and they are added. Only inference spans are requests: agent,
tool and workflow spans (`invoke_agent`...) often carry summed usage and are passed over.

Emitters' own names: the Anthropic SDK's built-in tracing writes cache writes as
`gen_ai.usage.cache_write.input_tokens` and the TTL split as
`anthropic.usage.cache_creation.ephemeral_{5m,1h}_input_tokens`; OpenLLMetry (Traceloop) the
pre-1.37 `gen_ai.usage.prompt_tokens` with `cache_read_input_tokens`; OpenLIT `gen_ai.usage.cost`;
OpenInference `llm.token_count.*`. One call traced by two instrumentations (the SDK's own tracing
and another) gives two spans with the same `gen_ai.response.id`: that id is the request id, so
the second is a duplicate. The official OpenAI tracer (`opentelemetry-instrumentation-openai-v2`)
and others record no cache counts: such a span is marked `cache_tokens_recorded: false`, and the
ingest summary says how many there are (their cache reads, if any, are priced as input).
"""

from __future__ import annotations

import json
from typing import Any

from llmcost.ingest.adapters import _request_source as rs
from llmcost.ingest.formats import Format, Job, register
from llmcost.ingest.sources import Source
from llmcost.store.writes import Counts

KIND = "otel"
INFERENCE_OPS = {"chat", "generate_content", "text_completion", "embeddings", "completion"}
NOT_REQUESTS = {"invoke_agent", "create_agent", "execute_tool", "invoke_workflow", "retrieval"}
PROVIDERS = {"aws.bedrock": "bedrock", "gcp.gemini": "google", "gcp.vertex_ai": "google", "gcp.gen_ai": "google",
             "azure.ai.openai": "azure", "azure.ai.inference": "azure", "az.ai.openai": "azure"}  # fmt: skip
ATTR = {
    "input": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"),
    "output": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion"),
    "cache_read": ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
                   "gen_ai.usage.input_tokens.cached", "gen_ai.usage.cached_tokens",
                   "gen_ai.usage.cached_input_tokens", "llm.token_count.prompt_details.cache_read"),
    "cache_write": ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_write.input_tokens",
                    "gen_ai.usage.cache_creation_input_tokens", "gen_ai.usage.input_tokens.cache_write",
                    "llm.token_count.prompt_details.cache_write"),
    "cache_write_5m": ("anthropic.usage.cache_creation.ephemeral_5m_input_tokens",),
    "cache_write_1h": ("anthropic.usage.cache_creation.ephemeral_1h_input_tokens",),
    "reasoning": ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens",
                  "gen_ai.usage.output_tokens.reasoning", "llm.token_count.completion_details.reasoning"),
    "cost": ("gen_ai.usage.cost",),
    "user": ("enduser.id", "user.id", "app.user_id", "user_id"),
    "customer": ("app.customer_id", "customer.id", "tenant.id", "app.tenant_id", "customer_id", "tenant_id"),
    "feature": ("app.feature", "feature", "app.feature_id"),
    "plan": ("app.plan", "plan"),
}  # fmt: skip
MAPPED = {k for keys in ATTR.values() for k in keys}
TOKEN_KEYS = ("input", "output", "cache_read", "cache_write", "cache_write_5m", "cache_write_1h",
              "reasoning", "cost")  # fmt: skip


def value_of(v: Any) -> Any:
    """The Python value of an OTLP AnyValue."""
    if not isinstance(v, dict):
        return v
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return rs.as_int(v["intValue"])
    if "doubleValue" in v:
        return rs.as_num(v["doubleValue"])
    if "boolValue" in v:
        return v["boolValue"]
    if "arrayValue" in v:
        return [value_of(x) for x in (v["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in v:
        return attributes((v["kvlistValue"] or {}).get("values", []))
    return None


def attributes(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(items, list):
        for kv in items:
            if isinstance(kv, dict) and "key" in kv:
                out[str(kv["key"])] = value_of(kv.get("value"))
    return out


def _first(attrs: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if attrs.get(name) not in (None, ""):
            return attrs[name]
    return None


def _is_request(attrs: dict[str, Any]) -> bool:
    op = str(attrs.get("gen_ai.operation.name") or "").lower()
    if op in NOT_REQUESTS:
        return False
    has_usage = any(k.startswith(("gen_ai.usage.", "llm.token_count.")) for k in attrs)
    return has_usage and (op in INFERENCE_OPS or not op)


def span_record(span: dict[str, Any], resource: dict[str, Any], scope: Any) -> rs.Outcome:
    attrs = {**resource, **attributes(span.get("attributes"))}
    if not _is_request(attrs):
        return None
    tokens = {k: _first(attrs, ATTR[k]) for k in TOKEN_KEYS}
    for name, v in tokens.items():
        if name != "cost" and v is not None and not isinstance(rs.as_int(v), int):
            return f"gen_ai.usage {name} tokens must be an integer, got {str(v)[:40]}"
    write_5m, write_1h = rs.as_int(tokens["cache_write_5m"]), rs.as_int(tokens["cache_write_1h"])
    write = rs.as_int(tokens["cache_write"])
    if write_1h is not None:  # the TTL split (the Anthropic SDK's names): the total is 5m + 1h
        write = write_5m if write_5m is not None else max(0, (write or 0) - write_1h)
    inp = rs.as_int(tokens["input"])
    caches = rs.add_ints(tokens["cache_read"], write, write_1h)
    if isinstance(inp, int) and isinstance(caches, int) and caches > inp:
        inp += caches  # the emitter left cached tokens out of input_tokens
    provider = _first(attrs, ("gen_ai.provider.name", "gen_ai.system"))
    status = rs.obj(span.get("status"))
    code = status.get("code")
    failed = code in (2, "2", "STATUS_CODE_ERROR") or attrs.get("error.type") not in (None, "")
    trace, span_id = span.get("traceId"), span.get("spanId")
    response_id = attrs.get("gen_ai.response.id")
    fields = {
        # one call, two tracers: the response id makes the second span a duplicate
        "request_id": str(response_id)
        if response_id not in (None, "")
        else (f"{trace}:{span_id}" if trace and span_id else None),
        "timestamp": rs.as_int(span.get("startTimeUnixNano")),
        "provider": PROVIDERS.get(str(provider).lower(), provider) if provider else None,
        "model": _first(attrs, ("gen_ai.response.model", "gen_ai.request.model")),
        "user_id": _first(attrs, ATTR["user"]),
        "customer_id": _first(attrs, ATTR["customer"]),
        "feature": _first(attrs, ATTR["feature"]),
        "task_id": trace or None,
        "plan": _first(attrs, ATTR["plan"]),
        "input_tokens": inp,
        "cache_read_tokens": rs.as_int(tokens["cache_read"]),
        "cache_write_tokens": write,
        "cache_write_1h_tokens": write_1h,
        "output_tokens": rs.as_int(tokens["output"]),
        "reasoning_tokens": rs.as_int(tokens["reasoning"]),
        "status": "error" if failed else "ok",
        "latency_ms": _latency(span),
        "cost_usd": rs.as_num(tokens["cost"]),
    }
    extras = {
        "span_name": span.get("name"),
        "operation": attrs.get("gen_ai.operation.name"),
        "request_model": attrs.get("gen_ai.request.model"),
        "response_id": attrs.get("gen_ai.response.id"),
        "conversation_id": attrs.get("gen_ai.conversation.id"),
        "service_name": attrs.get("service.name"),
        "environment": attrs.get("deployment.environment.name")
        or attrs.get("deployment.environment"),
        "service_tier": attrs.get("openai.response.service_tier"),
        "error_type": attrs.get("error.type"),
        "scope": scope.get("name") if isinstance(scope, dict) else None,
        "span_id": span_id,
        "trace_span": f"{trace}:{span_id}" if response_id not in (None, "") else None,
        "parent_span_id": span.get("parentSpanId") or None,
        "cache_tokens_recorded": False
        if tokens["cache_read"] is None and tokens["cache_write"] is None
        else None,
    }  # gen_ai.input/output.messages are text: never kept
    return rs.canonical_record(fields, extras, KIND)


def _latency(span: dict[str, Any]) -> float | None:
    start, end = rs.as_int(span.get("startTimeUnixNano")), rs.as_int(span.get("endTimeUnixNano"))
    if isinstance(start, int) and isinstance(end, int) and end >= start:
        return (end - start) / 1e6
    return None


def convert(doc: Any) -> list[tuple[str | None, rs.Outcome]]:
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceSpans"), list):
        return rs.one("not an OTLP trace export (no resourceSpans)")
    out: list[tuple[str | None, rs.Outcome]] = []
    for rspans in doc["resourceSpans"]:
        if not isinstance(rspans, dict):
            continue
        resource = attributes((rspans.get("resource") or {}).get("attributes"))
        for sspans in rspans.get("scopeSpans") or rspans.get("instrumentationLibrarySpans") or []:
            scope = sspans.get("scope") or sspans.get("instrumentationLibrary")
            for span in sspans.get("spans") or []:
                if isinstance(span, dict):
                    out.append(
                        (json.dumps(span, ensure_ascii=False), span_record(span, resource, scope))
                    )
    return out


def load(job: Job) -> Counts:
    return rs.load_records(
        job, KIND, rs.json_records(job, lambda d: d if isinstance(d, list) else [d]), convert
    )


def sniff(head: bytes, source: Source) -> bool:
    if any("resourceSpans" in r for r in rs.dict_records(head)):
        return True
    return b'"resourceSpans"' in head[:2048] and head.lstrip()[:1] in (b"{", b"[")


FORMAT = register(
    Format(
        name="otel",
        kind=KIND,
        description="OpenTelemetry GenAI spans, OTLP JSON (gen_ai.usage.*; file exporter lines or one document)",
        sniff=sniff,
        load=load,
        priority=200,
    )
)
