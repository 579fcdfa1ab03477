"""The emitters' own field names: LiteLLM's StandardLoggingPayload, the Anthropic SDK's tracing,
OpenLLMetry, OpenLIT and the official OpenAI/Google tracers; spans of one call counted once.

Expected costs are computed by hand from the bundled prices (USD per 1M tokens), written beside
each. claude-3-5-sonnet: input 3, output 15, cache read 0.30, cache write 3.75, 1-hour write 6.
gpt-4o-mini: input 0.15, output 0.60, cache read 0.075. gemini-2.5-flash: input 0.30, output 2.50.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from llmcost import pricing
from llmcost.ingest import ingest_paths

REALWORLD = Path(__file__).resolve().parents[1] / ".." / "shared" / "realworld"


def realworld(*parts: str) -> Path:
    path = REALWORLD.joinpath(*parts)
    if not path.exists():
        pytest.skip("the real-world samples are not here")
    return path


def priced(con: Any) -> dict[str, dict[str, Any]]:
    pricing.install(con, pricing.load())
    cur = con.execute(
        "SELECT *, CAST(attrs AS VARCHAR) AS attrs_text FROM priced ORDER BY request_id"
    )
    names = [d[0] for d in cur.description]
    return {r[names.index("request_id")]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def tokens(row: dict[str, Any]) -> tuple[int, int, int, int, int, int]:
    return (
        row["input_tokens"], row["cache_read_tokens"], row["cache_write_tokens"],
        row["cache_write_1h_tokens"], row["output_tokens"], row["reasoning_tokens"],
    )  # fmt: skip


def near(value: Any, expected: str) -> bool:
    return value is not None and abs(Decimal(str(value)) - Decimal(expected)) < Decimal("1e-9")


def kv(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"key": key, "value": {"stringValue": value}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"intValue": str(value)}}


def export(*spans: tuple[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """One OTLP ExportTraceServiceRequest: (scope name, attributes) per span."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [kv("service.name", "bot")]},
                "scopeSpans": [
                    {
                        "scope": {"name": scope},
                        "spans": [
                            {
                                "traceId": f"{i:032x}", "spanId": f"{i:016x}", "name": "chat",
                                "startTimeUnixNano": "1796233992000000000",
                                "endTimeUnixNano": "1796233993000000000",
                                "attributes": attrs, "status": {},
                            }
                        ],
                    }
                    for i, (scope, attrs) in enumerate(spans, start=1)
                ],
            }
        ]
    }  # fmt: skip


SONNET = [kv("gen_ai.provider.name", "anthropic"), kv("gen_ai.operation.name", "chat"),
          kv("gen_ai.response.model", "claude-3-5-sonnet-20240620"), kv("gen_ai.response.id", "msg_1")]  # fmt: skip


# ---------------------------------------------------------------- LiteLLM


def test_litellm_standard_logging_payload_reads_usage_object(con: Any, jsonl: Any) -> None:
    # No additional_usage_values: the cache counts are in metadata.usage_object (LiteLLM >= 1.6x).
    payload = {
        "id": "chatcmpl-1", "call_type": "completion", "custom_llm_provider": "anthropic",
        "model": "claude-3-5-sonnet-20240620", "model_group": "", "status": "success",
        "startTime": 1796233992.39, "endTime": 1796233992.67, "response_cost": 0.0,
        "prompt_tokens": 1167, "completion_tokens": 202,
        "metadata": {"spend_logs_metadata": {"feature": "summarize"},
                     "usage_object": {"prompt_tokens": 1167, "completion_tokens": 202,
                                      "prompt_tokens_details": {"cached_tokens": 1163},
                                      "cache_read_input_tokens": 1163, "cache_creation_input_tokens": 0}},
        "messages": [{"role": "user", "content": "hello"}],
    }  # fmt: skip
    ingest_paths(con, [str(jsonl([payload]))])
    row = priced(con)["chatcmpl-1"]
    assert tokens(row) == (1167, 1163, 0, 0, 202, 0)
    assert row["feature"] == "summarize"
    # 4 uncached x 3 + 1163 read x 0.30 + 202 x 15 = 12 + 348.9 + 3030 = 3390.9 per 1M
    assert near(row["cost_usd"], "0.0033909")


def test_litellm_response_usage_when_metadata_has_none(con: Any, jsonl: Any) -> None:
    payload = {
        "id": "chatcmpl-2", "call_type": "completion", "custom_llm_provider": "openai",
        "model": "gpt-4o-mini-2024-07-18", "status": "success", "startTime": 1796233992.0,
        "response_cost": 0.0003, "prompt_tokens": 1149, "completion_tokens": 353, "metadata": {},
        "response": {"usage": {"prompt_tokens": 1149, "completion_tokens": 353,
                               "prompt_tokens_details": {"cached_tokens": 1024},
                               "completion_tokens_details": {"reasoning_tokens": 0}}},
    }  # fmt: skip
    ingest_paths(con, [str(jsonl([payload]))])
    row = priced(con)["chatcmpl-2"]
    assert tokens(row) == (1149, 1024, 0, 0, 353, 0)
    # 125 x 0.15 + 1024 x 0.075 + 353 x 0.60 = 18.75 + 76.8 + 211.8 = 307.35 per 1M
    assert near(row["cost_usd"], "0.00030735")


def test_litellm_replayed_payload_prices_like_its_spend_logs(con: Any, tmp_path: Path) -> None:
    payload = realworld("litellm", "standard_logging_replayed_litellm-1.110.2.jsonl")
    spend = realworld("litellm", "spend_logs_replayed_litellm-1.110.2.json")
    ingest_paths(con, [str(payload)])
    first = {k: r["cost_usd"] for k, r in priced(con).items()}
    # the Anthropic call that read 1163 cached tokens: 4 x 3 + 1163 x 0.30 + 202 x 15 = 3390.9 per 1M
    assert near(first["chatcmpl-c506c1b4-830a-4036-b75d-44ea0eaf10c2"], "0.0033909")
    # the one that wrote them: 4 x 3 + 1163 x 3.75 + 187 x 15 = 7178.25 per 1M
    assert near(first["chatcmpl-4bf40a01-1079-4112-a1c0-1834e650eb27"], "0.00717825")
    # gpt-4o-mini with 1024 cached: 125 x 0.15 + 1024 x 0.075 + 353 x 0.60 = 307.35 per 1M
    assert near(first["chatcmpl-BNi420iFNtIOHzy8Gq2fVS5utTus7"], "0.00030735")
    from llmcost.store import connect

    other = connect(tmp_path / "spend.duckdb")
    ingest_paths(other, [str(spend)])
    assert {k: r["cost_usd"] for k, r in priced(other).items()} == first


# ---------------------------------------------------------------- OpenTelemetry


def test_anthropic_sdk_native_names_and_the_1h_split(con: Any, jsonl: Any) -> None:
    attrs = [*SONNET, kv("gen_ai.usage.input_tokens", 3010), kv("gen_ai.usage.output_tokens", 100),
             kv("gen_ai.usage.cache_read.input_tokens", 0),
             kv("gen_ai.usage.cache_write.input_tokens", 3000),
             kv("anthropic.usage.cache_creation.ephemeral_5m_input_tokens", 1000),
             kv("anthropic.usage.cache_creation.ephemeral_1h_input_tokens", 2000)]  # fmt: skip
    ingest_paths(con, [str(jsonl([export(("com.anthropic.sdk.python", attrs))]))])
    row = priced(con)["msg_1"]
    assert tokens(row) == (3010, 0, 1000, 2000, 100, 0)
    # 10 x 3 + 1000 x 3.75 + 2000 x 6 + 100 x 15 = 30 + 3750 + 12000 + 1500 = 17280 per 1M
    assert near(row["cost_usd"], "0.01728")


def test_cache_write_name_without_split_is_a_5m_write(con: Any, jsonl: Any) -> None:
    attrs = [*SONNET, kv("gen_ai.usage.input_tokens", 1167), kv("gen_ai.usage.output_tokens", 187),
             kv("gen_ai.usage.cache_write.input_tokens", 1163)]  # fmt: skip
    ingest_paths(con, [str(jsonl([export(("com.anthropic.sdk.python", attrs))]))])
    # 4 x 3 + 1163 x 3.75 + 187 x 15 = 7178.25 per 1M (priced as plain input it was 5318.25)
    assert near(priced(con)["msg_1"]["cost_usd"], "0.00717825")


def test_two_tracers_one_call_counted_once(con: Any, jsonl: Any) -> None:
    native = [*SONNET, kv("gen_ai.usage.input_tokens", 1167), kv("gen_ai.usage.output_tokens", 202),
              kv("gen_ai.usage.cache_read.input_tokens", 1163)]  # fmt: skip
    traceloop = [*SONNET, kv("gen_ai.usage.input_tokens", 1167), kv("gen_ai.usage.output_tokens", 202),
                 kv("gen_ai.usage.cache_read.input_tokens", 1163),
                 kv("gen_ai.usage.cache_creation.input_tokens", 0)]  # fmt: skip
    summary = ingest_paths(
        con,
        [str(jsonl([export(("com.anthropic.sdk.python", native), ("opentelemetry.instrumentation.anthropic", traceloop))]))],
    )  # fmt: skip
    assert summary.totals == {"read": 2, "loaded": 1, "rejected": 0, "duplicates": 1}
    # 4 x 3 + 1163 x 0.30 + 202 x 15 = 3390.9 per 1M, once
    assert near(priced(con)["msg_1"]["cost_usd"], "0.0033909")


def test_openlit_cost_and_pre_137_names(con: Any, jsonl: Any) -> None:
    attrs = [kv("gen_ai.system", "openai"), kv("gen_ai.request.model", "gpt-4o-mini-2024-07-18"),
             kv("gen_ai.usage.prompt_tokens", 2000), kv("gen_ai.usage.completion_tokens", 100),
             kv("gen_ai.usage.cache_read_input_tokens", 1000), kv("gen_ai.usage.cost", 0.000285)]  # fmt: skip
    ingest_paths(con, [str(jsonl([export(("openlit.otel.tracing", attrs))]))])
    (row,) = priced(con).values()
    assert tokens(row) == (2000, 1000, 0, 0, 100, 0)
    assert row["logged_cost_usd"] == pytest.approx(0.000285)
    # 1000 x 0.15 + 1000 x 0.075 + 100 x 0.60 = 150 + 75 + 60 = 285 per 1M
    assert near(row["cost_usd"], "0.000285")


def test_a_tracer_without_cache_counts_is_counted(con: Any, jsonl: Any, run_cli: Any) -> None:
    attrs = [kv("gen_ai.provider.name", "openai"), kv("gen_ai.operation.name", "chat"),
             kv("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
             kv("gen_ai.usage.input_tokens", 1149), kv("gen_ai.usage.output_tokens", 353)]  # fmt: skip
    path = jsonl([export(("opentelemetry.util.genai.handler", attrs))])
    code, _, err = run_cli("ingest", str(path))
    assert code == 0
    assert "1 requests carry no cached-token counts" in err
    code, out, _ = run_cli("report", "-f", "json")
    assert json.loads(out)["coverage"]["no_cache_counts"] == 1
    code, out, _ = run_cli("report")
    assert "1 without cached-token counts" in out
    code, out, _ = run_cli("report", "-f", "json", "--where", "provider=anthropic")
    assert "no_cache_counts" not in json.loads(out)["coverage"]  # none in this selection


def test_realworld_spans(con: Any) -> None:
    folder = realworld("otel")
    native_and_traceloop = folder / "anthropic_sdk_native_and_traceloop.jsonl"
    summary = ingest_paths(con, [str(native_and_traceloop)])
    assert summary.totals == {"read": 4, "loaded": 2, "rejected": 0, "duplicates": 2}
    rows = priced(con)
    # write: 4 x 3 + 1163 x 3.75 + 187 x 15 = 7178.25; read: 4 x 3 + 1163 x 0.30 + 202 x 15 = 3390.9
    assert near(rows["msg_01EF3r8zYyZntM4Sg9a5kc6k"]["cost_usd"], "0.00717825")
    assert near(rows["msg_01YGB3PuEANUSkLuzemhtNVF"]["cost_usd"], "0.0033909")
    # the halves: each file alone gives the same two requests, and the second adds nothing
    for name in ("anthropic_sdk_native_2.16.0.jsonl", "anthropic_traceloop_0.62.4.jsonl"):
        again = ingest_paths(con, [str(folder / name)])
        assert again.totals["loaded"] == 0 and again.totals["duplicates"] == 2

    summary = ingest_paths(con, [str(folder / "google_genai_contrib_1.3b0.jsonl")])
    rows = priced(con)
    # 8 x 0.30 + 1910 x 2.50 (433 text + 1477 thinking) = 2.4 + 4775 = 4777.4 per 1M
    assert tokens(rows["hizpaKmcH9qs698P85HHgAU"]) == (8, 0, 0, 0, 1910, 1477)
    assert near(rows["hizpaKmcH9qs698P85HHgAU"]["cost_usd"], "0.0047774")

    summary = ingest_paths(con, [str(folder / "openai_v2_contrib_2.4b0.jsonl")])
    assert summary.no_cache_counts == 7
    rows = priced(con)
    # the tracer drops the 1024 cached tokens of this call: 1149 x 0.15 + 353 x 0.60 = 384.15 per 1M
    assert near(rows["chatcmpl-BNi420iFNtIOHzy8Gq2fVS5utTus7"]["cost_usd"], "0.00038415")
    assert (
        json.loads(rows["chatcmpl-BNi420iFNtIOHzy8Gq2fVS5utTus7"]["attrs_text"])[
            "cache_tokens_recorded"
        ]
        is False
    )
