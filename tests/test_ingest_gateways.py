"""Request-level gateway and provider sources: Bedrock, LiteLLM, Langfuse, Helicone, OpenRouter, OTel.

Fixtures are the hand-made files under sample_logs/providers/<source>/; every expected cost is
computed by hand from the bundled prices (USD per 1M tokens) in a comment beside it.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from llmcost import pricing
from llmcost.ingest import ingest_paths

PROVIDERS = Path(__file__).resolve().parents[1] / "sample_logs" / "providers"


def load(con: Any, *paths: Path | str, as_format: str | None = None) -> Any:
    return ingest_paths(con, [str(p) for p in paths], as_format=as_format)


def rows(con: Any, kind: str) -> dict[str, dict[str, Any]]:
    """Every loaded request of a source kind with its computed cost, by request_id."""
    pricing.install(con, pricing.load())
    cur = con.execute(
        "SELECT *, CAST(attrs AS VARCHAR) AS attrs_text FROM priced WHERE source_kind = ? ORDER BY request_id",
        [kind],
    )
    names = [d[0] for d in cur.description]
    return {r[names.index("request_id")]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def cost(row: dict[str, Any]) -> Decimal | None:
    return None if row["cost_usd"] is None else Decimal(str(row["cost_usd"]))


def near(value: Decimal | None, expected: str) -> bool:
    return value is not None and abs(value - Decimal(expected)) < Decimal("1e-9")


def tokens(row: dict[str, Any]) -> tuple[int, int, int, int, int]:
    return (
        row["input_tokens"],
        row["cache_read_tokens"],
        row["cache_write_tokens"],
        row["cache_write_1h_tokens"],
        row["output_tokens"],
    )


# ---------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        ("bedrock/invocations.jsonl", "bedrock"),
        ("litellm/spend_logs.json", "litellm"),
        ("litellm/spend_logs.csv", "litellm"),
        ("litellm/standard_logging.jsonl", "litellm"),
        ("langfuse/observations.json", "langfuse"),
        ("helicone/requests.jsonl", "helicone"),
        ("openrouter/activity.csv", "openrouter"),
        ("otel/traces.jsonl", "otel"),
        ("otel/trace_export.json", "otel"),
    ],
)
def test_each_fixture_is_recognised(con: Any, path: str, fmt: str) -> None:
    summary = load(con, PROVIDERS / path)
    assert [f.format for f in summary.files] == [fmt]
    f = summary.files[0]
    assert f.read == f.loaded + f.rejected + f.duplicates
    assert f.rejected == 0


def test_canonical_log_is_not_stolen(con: Any, jsonl: Any) -> None:
    # a canonical line that happens to carry gateway-ish names still reads as the canonical log
    path = jsonl(
        [{"request_id": "r1", "timestamp": "2026-10-01T00:00:00Z", "model": "gpt-4o-mini",
          "input_tokens": 10, "output_tokens": 5, "cost": 0.1, "trace_id": "t"}]
    )  # fmt: skip
    assert [f.format for f in load(con, path).files] == ["requests"]


# ---------------------------------------------------------------- Bedrock


def test_bedrock_input_excludes_cache_counts(con: Any) -> None:
    load(con, PROVIDERS / "bedrock/invocations.jsonl")
    r = rows(con, "bedrock")
    sonnet = r["915a6a04-3f83-4c70-a277-7fbf7ea546b3"]
    # inputTokenCount 1500 is uncached: all input = 1500 + 200 read + 1500 written = 3200
    assert tokens(sonnet) == (3200, 200, 1500, 0, 500)
    # Bedrock Sonnet 4 (3 / 0.30 / 3.75 / 15): 1500*3 + 200*0.3 + 1500*3.75 + 500*15 = 17685 -> 0.017685
    assert near(cost(sonnet), "0.017685")
    assert (
        sonnet["feature"] == "summarize"
        and sonnet["customer_id"] == "acme"
        and sonnet["user_id"] == "u-17"
    )
    assert sonnet["provider"] == "bedrock"
    attrs = json.loads(sonnet["attrs_text"])
    assert attrs["inference_region"] == "us-west-2" and attrs["request_metadata"] == {
        "ticket": "T-1001"
    }


def test_bedrock_1h_cache_split_and_fallback_rate(con: Any) -> None:
    load(con, PROVIDERS / "bedrock/invocations.jsonl")
    haiku = rows(con, "bedrock")["2b7f0c1e-51aa-4a53-9d43-0c8f7d0a9e11"]
    # body usage.cache_creation: 400 (5m) + 600 (1h) of the 1000 written
    assert tokens(haiku) == (1100, 0, 400, 600, 200)
    # Bedrock 3.5 Haiku has no 1h rate: it falls back to input (0.80).
    # 100*0.8 + 400*1.0 + 600*0.8 + 200*4 = 80 + 400 + 480 + 800 = 1760 -> 0.00176
    assert near(cost(haiku), "0.00176")
    # the request body (prompt text) is never stored
    assert "where is my order" not in haiku["attrs_text"]


def test_bedrock_offset_timestamp_missing_cache_fields_and_errors(con: Any) -> None:
    load(con, PROVIDERS / "bedrock/invocations.jsonl")
    r = rows(con, "bedrock")
    llama = r["c0ffee00-0000-4000-8000-000000000003"]
    assert llama["ts"] == datetime(2026, 10, 1, 23, 30)  # 01:30+02:00 is 23:30 UTC the day before
    assert tokens(llama) == (4000, 0, 0, 0, 1000)
    assert near(cost(llama), "0.0011")  # (4000 + 1000) * 0.22 = 1100 -> 0.0011
    assert r["d00d0000-0000-4000-8000-000000000004"]["status"] == "error"  # ThrottlingException


def test_bedrock_cloudwatch_page(con: Any, tmp_path: Path) -> None:
    record = {"schemaType": "ModelInvocationLog", "timestamp": "2026-10-01T00:00:00Z", "requestId": "cw-1",
              "modelId": "meta.llama3-1-8b-instruct-v1:0",
              "input": {"inputTokenCount": 1000}, "output": {"outputTokenCount": 1000}}  # fmt: skip
    page = {
        "events": [{"timestamp": 1790812800000, "message": json.dumps(record)}],
        "searchedLogStreams": [],
    }
    path = tmp_path / "cw.json"
    path.write_text(json.dumps(page, indent=2))
    summary = load(con, path)
    assert summary.files[0].format == "bedrock" and summary.files[0].loaded == 1
    assert near(cost(rows(con, "bedrock")["cw-1"]), "0.00044")  # 2000 * 0.22 = 440 -> 0.00044


def test_bedrock_bad_count_is_rejected_with_its_reason(con: Any, jsonl: Any) -> None:
    path = jsonl(
        [{"schemaType": "ModelInvocationLog", "timestamp": "2026-10-01T00:00:00Z", "requestId": "b1",
          "modelId": "meta.llama3-1-8b-instruct-v1:0", "input": {"inputTokenCount": "many"},
          "output": {"outputTokenCount": 3}}]
    )  # fmt: skip
    f = load(con, path).files[0]
    assert (f.read, f.loaded, f.rejected) == (1, 0, 1)
    reason = con.execute("SELECT reason FROM rejects").fetchone()[0]
    assert reason == "input.inputTokenCount must be an integer, got many"


# ---------------------------------------------------------------- LiteLLM


def test_litellm_json_export(con: Any) -> None:
    load(con, PROVIDERS / "litellm/spend_logs.json")
    r = rows(con, "litellm")
    mini = r["chatcmpl-3f9c2a7e-1b2d-4c6e-9a1f-5d7e8b9c0a12"]
    # prompt_tokens 2048 already includes the 1536 cached (OpenAI shape)
    assert tokens(mini) == (2048, 1536, 0, 0, 312)
    # gpt-4o-mini (0.15 / 0.075 / 0.60): 512*0.15 + 1536*0.075 + 312*0.6 = 76.8 + 115.2 + 187.2 -> 0.0003792
    assert near(cost(mini), "0.0003792")
    assert mini["logged_cost_usd"] == pytest.approx(0.0003792)
    assert (mini["user_id"], mini["customer_id"], mini["feature"], mini["task_id"]) == (
        "customer-42", "acme", "summarize", "t-889",
    )  # fmt: skip
    assert mini["latency_ms"] == 2733
    sonnet = r["chatcmpl-anthropic-0002"]
    assert tokens(sonnet) == (3600, 3000, 500, 0, 400)
    # Sonnet 4: 100*3 + 3000*0.3 + 500*3.75 + 400*15 = 300 + 900 + 1875 + 6000 = 9075 -> 0.009075
    assert near(cost(sonnet), "0.009075")


def test_litellm_exclusive_prompt_is_made_inclusive(con: Any) -> None:
    load(con, PROVIDERS / "litellm/spend_logs.json")
    haiku = rows(con, "litellm")["chatcmpl-anthropic-0003"]
    # prompt_tokens 50 < cache reads 2000: logged the Anthropic way, so input = 50 + 2000
    assert tokens(haiku) == (2050, 2000, 0, 0, 100)
    # Haiku 4.5 (1 / 0.10 / 5): 50*1 + 2000*0.1 + 100*5 = 50 + 200 + 500 = 750 -> 0.00075
    assert near(cost(haiku), "0.00075")


def test_litellm_cache_hit_and_failure(con: Any) -> None:
    load(con, PROVIDERS / "litellm/spend_logs.json")
    r = rows(con, "litellm")
    hit = r["chatcmpl-cachehit-0004"]
    assert hit["cache_hit"] is True and cost(hit) == 0
    # the avoided list cost: 1000*0.15 + 100*0.6 = 210 -> 0.00021
    assert near(Decimal(str(hit["list_cost_usd"])), "0.00021")
    assert r["chatcmpl-failed-0005"]["status"] == "error"


def test_litellm_csv_and_payload_timestamps(con: Any) -> None:
    load(con, PROVIDERS / "litellm/spend_logs.csv", PROVIDERS / "litellm/standard_logging.jsonl")
    r = rows(con, "litellm")
    row = r["chatcmpl-csv-0001"]
    assert row["ts"] == datetime(2026, 10, 4, 9, 15, 0, 500000)  # zone-less DB time = UTC
    assert tokens(row) == (2000, 1000, 0, 0, 500)  # cached count from the JSON-in-CSV metadata
    # 1000*0.15 + 1000*0.075 + 500*0.6 = 150 + 75 + 300 = 525 -> 0.000525
    assert near(cost(row), "0.000525")
    assert row["feature"] == "autocomplete"
    payload = r["chatcmpl-slp-0001"]
    assert payload["ts"] == datetime(2026, 10, 4, 8, 0, 0, 250000)  # float epoch seconds
    assert payload["latency_ms"] == 1500  # endTime - startTime
    # 1000*0.15 + 500*0.6 = 150 + 300 = 450 -> 0.00045
    assert near(cost(payload), "0.00045")
    assert "secret prompt text" not in payload["attrs_text"]


# ---------------------------------------------------------------- Langfuse


def test_langfuse_generations(con: Any) -> None:
    f = load(con, PROVIDERS / "langfuse/observations.json").files[0]
    assert (f.read, f.loaded) == (4, 4)  # the SPAN observation is not a request
    r = rows(con, "langfuse")
    first = r["obs_9f8e7d"]
    # usageDetails input 512 is the uncached part; input_cached_tokens 1536 adds to it
    assert tokens(first) == (2048, 1536, 0, 0, 312)
    assert near(cost(first), "0.0003792")  # 512*0.15 + 1536*0.075 + 312*0.6 = 379.2 -> 0.0003792
    assert (first["feature"], first["customer_id"], first["task_id"]) == (
        "summarize",
        "acme",
        "sess-77",
    )
    sonnet = r["obs_anthropic_02"]
    assert tokens(sonnet) == (9020, 8000, 1000, 0, 600)
    # 20*3 + 8000*0.3 + 1000*3.75 + 600*15 = 60 + 2400 + 3750 + 9000 = 15210 -> 0.01521
    assert near(cost(sonnet), "0.01521")
    assert sonnet["feature"] == "research-agent"  # the trace name when metadata names no feature
    legacy = r["obs_legacy_04"]
    assert tokens(legacy) == (1000, 0, 0, 0, 200)
    assert near(cost(legacy), "0.0045")  # gpt-4o: 1000*2.5 + 200*10 = 4500 -> 0.0045
    thinking = r["obs_reasoning_05"]
    assert (thinking["output_tokens"], thinking["reasoning_tokens"]) == (500, 400)
    # gemini-2.5-flash: 1000*0.3 + 500*2.5 = 300 + 1250 = 1550 -> 0.00155
    assert near(cost(thinking), "0.00155")


# ---------------------------------------------------------------- Helicone


def test_helicone_inclusive_and_exclusive_prompts(con: Any) -> None:
    load(con, PROVIDERS / "helicone/requests.jsonl")
    r = rows(con, "helicone")
    openai_row = r["7c1e0a52-9a7d-4f7e-b1a2-000000000001"]
    # total 2360 = 2048 + 312: prompt_tokens includes the 1536 cached
    assert tokens(openai_row) == (2048, 1536, 0, 0, 312)
    assert near(cost(openai_row), "0.0003792")
    assert (openai_row["feature"], openai_row["customer_id"], openai_row["task_id"]) == (
        "summarize",
        "acme",
        "sess-77",
    )
    anthropic_row = r["7c1e0a52-9a7d-4f7e-b1a2-000000000002"]
    # total 6080 = 30 + 5000 + 800 + 250: prompt_tokens 30 excluded the cache counts
    assert tokens(anthropic_row) == (5830, 5000, 800, 0, 250)
    # Haiku 4.5: 30*1 + 5000*0.1 + 800*1.25 + 250*5 = 30 + 500 + 1000 + 1250 = 2780 -> 0.00278
    assert near(cost(anthropic_row), "0.00278")
    # property names are matched case-insensitively ("Feature")
    assert anthropic_row["feature"] == "classify-ticket"
    failed = r["7c1e0a52-9a7d-4f7e-b1a2-000000000003"]
    # no response_model: the requested one
    assert failed["status"] == "error" and failed["model"] == "gpt-4o"
    # no total_tokens, caches below the prompt: inclusive. 2000*2.5 + 2000*1.25 + 100*10 = 8500
    assert near(cost(r["7c1e0a52-9a7d-4f7e-b1a2-000000000004"]), "0.0085")


def test_helicone_csv(con: Any, tmp_path: Path) -> None:
    path = tmp_path / "helicone.csv"
    path.write_text(
        "request_id,request_created_at,request_user_id,request_properties,response_model,provider,"
        "response_status,delay_ms,prompt_tokens,prompt_cache_read_tokens,prompt_cache_write_tokens,"
        "completion_tokens,total_tokens,cost\n"
        'h-1,2026-10-06 10:00:00,u1,"{""feature"": ""search""}",gpt-4o-mini,OPENAI,200,900,1000,,,100,1100,\n'
    )
    assert load(con, path).files[0].format == "helicone"
    row = rows(con, "helicone")["h-1"]
    assert row["ts"] == datetime(2026, 10, 6, 10, 0) and row["feature"] == "search"
    assert tokens(row) == (1000, 0, 0, 0, 100)  # empty cells are absent counts
    assert near(cost(row), "0.00021")  # 1000*0.15 + 100*0.6 = 210 -> 0.00021


# ---------------------------------------------------------------- OpenRouter


def test_openrouter_activity_csv(con: Any) -> None:
    load(con, PROVIDERS / "openrouter/activity.csv")
    r = rows(con, "openrouter")
    mini = r["gen-1791381807-AbCdEfGhIjKlMnOpQrSt"]
    assert mini["ts"] == datetime(2026, 10, 7, 14, 3, 27, 713000)  # no zone marker: UTC
    assert tokens(mini) == (2048, 1536, 0, 0, 312)
    assert near(cost(mini), "0.0003792")
    assert json.loads(mini["attrs_text"])["app_name"] == "acme-support"
    sonnet = r["gen-1791385200-BcDeFgHiJkLmNoPqRsTu"]
    # reasoning 300 is inside the 800 completion tokens, not added to them
    assert (sonnet["output_tokens"], sonnet["reasoning_tokens"]) == (800, 300)
    # anthropic/claude-sonnet-4 -> claude-sonnet-4: 1200*3 + 800*15 = 3600 + 12000 = 15600 -> 0.0156
    assert near(cost(sonnet), "0.0156")
    cancelled = r["gen-1791387000-CdEfGhIjKlMnOpQrStUv"]
    assert cancelled["status"] == "cancelled" and cancelled["user_id"] is None
    assert near(cost(cancelled), "0.0002")  # gemini-2.5-flash: 500*0.3 + 20*2.5 = 150 + 50 = 200


def test_openrouter_generation_json(con: Any, tmp_path: Path) -> None:
    gen = {"data": {"id": "gen-42", "created_at": "2026-10-07T12:00:00Z", "model": "openai/gpt-4o-mini",
                    "tokens_prompt": 100, "tokens_completion": 10, "native_tokens_cached": 0, "total_cost": 0.000021}}  # fmt: skip
    path = tmp_path / "generation.json"
    path.write_text(json.dumps(gen))
    assert load(con, path).files[0].format == "openrouter"
    assert near(cost(rows(con, "openrouter")["gen-42"]), "0.000021")  # 100*0.15 + 10*0.6 = 21


# ---------------------------------------------------------------- OpenTelemetry


def test_otel_new_and_old_conventions(con: Any) -> None:
    f = load(con, PROVIDERS / "otel/traces.jsonl").files[0]
    assert (f.read, f.loaded) == (3, 3)  # the invoke_agent span and the HTTP span are passed over
    r = rows(con, "otel")
    new = r["chatcmpl-BxYz123"]  # the span's gen_ai.response.id: one call, whichever tracer
    # intValue strings, startTimeUnixNano as a string of nanoseconds
    assert new["ts"] == datetime(2026, 10, 8, 14, 3, 27, 112000)
    assert tokens(new) == (2048, 1536, 0, 0, 312)
    assert near(cost(new), "0.0003792")
    assert (new["user_id"], new["feature"], new["provider"]) == (
        "customer-42",
        "summarize",
        "openai",
    )
    assert new["task_id"] == "5b8efff798038103d269b633813fc60c" and new["latency_ms"] == 2733
    old = r["0af7651916cd43dd8448eb211c80319c:b7ad6b7169203331"]
    # gen_ai.system + prompt_tokens / completion_tokens, intValue numbers, start time a number
    assert old["ts"] == datetime(2026, 10, 8, 15, 0) and old["provider"] == "anthropic"
    assert tokens(old) == (1200, 1000, 0, 0, 300)
    # 3.5 Haiku (0.80 / 0.08 / 4): 200*0.8 + 1000*0.08 + 300*4 = 160 + 80 + 1200 = 1440 -> 0.00144
    assert near(cost(old), "0.00144")
    assert old["customer_id"] == "globex"


def test_otel_cache_left_out_of_input_is_added(con: Any) -> None:
    load(con, PROVIDERS / "otel/traces.jsonl")
    row = rows(con, "otel")["0af7651916cd43dd8448eb211c80319c:b7ad6b7169203332"]
    # input_tokens 50 < 4000 read + 500 written: the emitter excluded them; all input = 4550
    assert tokens(row) == (4550, 4000, 500, 0, 100)
    # Sonnet 4: 50*3 + 4000*0.3 + 500*3.75 + 100*15 = 150 + 1200 + 1875 + 1500 = 4725 -> 0.004725
    assert near(cost(row), "0.004725")


def test_otel_document_with_error_status(con: Any) -> None:
    load(con, PROVIDERS / "otel/trace_export.json")
    row = rows(con, "otel")["4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7"]
    assert row["status"] == "error" and row["provider"] == "google"
    assert (row["output_tokens"], row["reasoning_tokens"]) == (600, 400)
    assert near(cost(row), "0.0018")  # gemini-2.5-flash: 1000*0.3 + 600*2.5 = 300 + 1500 = 1800


def test_otel_bad_int_value_is_rejected(con: Any, jsonl: Any) -> None:
    span = {"traceId": "t" * 32, "spanId": "s" * 16, "startTimeUnixNano": "1790812800000000000",
            "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                           {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
                           {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "12x"}}]}  # fmt: skip
    path = jsonl(
        [{"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [span]}]}]}], "t.jsonl"
    )
    f = load(con, path).files[0]
    assert (f.read, f.rejected) == (1, 1)
    reason, raw = con.execute("SELECT reason, raw FROM rejects").fetchone()
    assert reason == "gen_ai.usage input tokens must be an integer, got 12x"
    assert json.loads(raw)["spanId"] == "s" * 16  # the span itself is kept


# ---------------------------------------------------------------- files gone wrong


def test_truncated_export_is_a_one_line_error(run_cli: Any, tmp_path: Path) -> None:
    text = (PROVIDERS / "litellm/spend_logs.json").read_text()
    cut = tmp_path / "cut.json"
    cut.write_text(text[: len(text) // 2])
    code, out, err = run_cli("ingest", str(cut), "--as", "litellm")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "cut.json: not valid JSON" in err and "Traceback" not in err


def test_unknown_file_is_a_one_line_error(run_cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\nworld\n")
    code, _, err = run_cli("ingest", str(path))
    assert code == 2 and err.count("\n") == 1 and "cannot recognise the format" in err


def test_bad_json_line_is_kept_as_a_reject(con: Any, tmp_path: Path) -> None:
    good = (PROVIDERS / "helicone/requests.jsonl").read_text().splitlines()
    path = tmp_path / "h.jsonl"
    path.write_text(
        "\n".join([good[0], '{"request_id": "x", "request_created_at": ', good[1]]) + "\n"
    )
    f = load(con, path).files[0]
    assert (f.read, f.loaded, f.rejected) == (3, 2, 1)
    assert con.execute("SELECT line_no, reason FROM rejects").fetchall() == [(2, "invalid JSON")]


def test_reingest_and_renamed_copy_add_nothing(con: Any, tmp_path: Path) -> None:
    src = PROVIDERS / "bedrock/invocations.jsonl"
    load(con, src)
    again = load(con, src).files[0]
    assert again.skipped and again.loaded == 0
    copy = tmp_path / "renamed.jsonl"
    shutil.copy(src, copy)
    assert load(con, copy).files[0].loaded == 0
    # a record seen before inside a new file is a duplicate
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(src.read_text().splitlines()[0] + "\n")
    f = load(con, mixed).files[0]
    assert (f.read, f.loaded, f.duplicates) == (1, 0, 1)
    assert (
        con.execute("SELECT count(*) FROM requests WHERE source_kind = 'bedrock'").fetchone()[0]
        == 4
    )


def test_cli_ingest_and_report_by_feature(run_cli: Any) -> None:
    code, out, err = run_cli("ingest", str(PROVIDERS / "langfuse"), "--format", "json")
    assert code == 0, err
    assert json.loads(out)["totals"] == {"read": 4, "loaded": 4, "rejected": 0, "duplicates": 0}
    code, out, _ = run_cli("report", "--by", "feature", "--format", "json")
    by = {r["feature"]: r["cost_usd"] for r in json.loads(out)["rows"]}
    # support-ticket = obs_legacy_04 0.0045; summarize 0.0003792; research-agent 0.01521; weekly-report 0.00155
    assert by == pytest.approx(
        {
            "support-ticket": 0.0045,
            "summarize": 0.0003792,
            "research-agent": 0.01521,
            "weekly-report": 0.00155,
        },
        abs=1e-9,
    )
