"""Aggregate usage exports and billed-cost exports: detection, token semantics, money units, dedupe.

Fixtures are hand-made from the documented shapes under sample_logs/providers/<source>/; every
expected cost below is worked out by hand from the bundled price table (USD per 1M tokens).
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

PROVIDERS = Path(__file__).resolve().parents[1] / "sample_logs" / "providers"
OPENAI_USAGE = PROVIDERS / "openai_usage" / "2025-08-01_usage_completions.json"
OPENAI_LEGACY = PROVIDERS / "openai_usage" / "2025-06-01_usage_completions_legacy.json"
OPENAI_USAGE_CSV = PROVIDERS / "openai_usage_csv" / "completions_usage_2025-10-06_2025-10-07.csv"
OPENAI_COSTS = PROVIDERS / "openai_costs" / "2025-08-01_costs.json"
OPENAI_COSTS_CSV = PROVIDERS / "openai_costs_csv" / "cost_2025-10-06_2025-10-07.csv"
ANTHROPIC_USAGE = PROVIDERS / "anthropic_usage" / "2025-11-03_usage_report_messages.json"
ANTHROPIC_COSTS = PROVIDERS / "anthropic_costs" / "2025-11-03_cost_report.json"
ANTHROPIC_USAGE_CSV = (
    PROVIDERS / "anthropic_usage_csv" / "claude_api_usage_2026-03-22_2026-03-23.csv"
)
ANTHROPIC_COSTS_CSV = (
    PROVIDERS / "anthropic_costs_csv" / "claude_api_cost_2026-03-22_2026-03-23.csv"
)


def ingest(run_cli: Any, *paths: Path | str, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    code, out, err = run_cli("ingest", "-q", "-f", "json", *extra, *map(str, paths))
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def db() -> Any:
    from llmcost.config import resolve
    from llmcost.store import connect

    return connect(resolve(None, [], None).db)


def usage_costs(by: str = "model") -> dict[Any, Decimal]:
    """Priced usage rows summed by `by`, as exact Decimals."""
    from llmcost import exports, pricing

    con = db()
    try:
        exports.install_usage(con, pricing.load())
        return dict(
            con.execute(f"SELECT {by}, sum(cost_usd) FROM priced_usage GROUP BY ALL").fetchall()
        )
    finally:
        con.close()


def query(sql: str) -> list[tuple[Any, ...]]:
    con = db()
    try:
        return list(con.execute(sql).fetchall())
    finally:
        con.close()


# ---------------------------------------------------------------- OpenAI usage


def test_openai_usage_page_2026_schema(run_cli: Any) -> None:
    summary = ingest(run_cli, OPENAI_USAGE)
    assert summary["files"][0]["format"] == "openai_usage"
    assert summary["totals"] == {"read": 4, "loaded": 4, "rejected": 0, "duplicates": 0}
    rows = query(
        "SELECT bucket_start::VARCHAR, model, project, api_key, requests, input_tokens, cache_read_tokens, "
        "cache_write_tokens, output_tokens FROM usage ORDER BY bucket_start, model"
    )
    assert rows == [
        # epoch 1754006400 = 2025-08-01 00:00 UTC. gpt-4.1: 180,000 uncached + 100,000 cached + 20,000 written
        # = 300,000 (input_text_tokens 175,000 + image 5,000 are modality breakdowns, not added again)
        ("2025-08-01 00:00:00", "gpt-4.1-2025-04-14", "proj_research", "key_GhIjKl789012", 150, 300000, 100000, 20000, 40000),
        ("2025-08-01 00:00:00", "gpt-4o-mini-2024-07-18", "proj_support", "key_AbCdEf123456", 3120, 1250000, 800000, 0, 92000),
        # optional fields missing: no uncached / cache-write breakdown -> input_tokens as given; no project or key
        ("2025-08-02 00:00:00", "gpt-4.1-2025-04-14", None, None, 20, 50000, 10000, 0, 5000),
        ("2025-08-02 00:00:00", "gpt-4o-mini-2024-07-18", "proj_support", "key_AbCdEf123456", 2500, 1000000, 600000, 0, 80000),
    ]  # fmt: skip
    costs = usage_costs()
    # gpt-4o-mini (0.15 in / 0.075 cached / 0.60 out):
    #   day 1: 450,000*0.15 + 800,000*0.075 + 92,000*0.60 = 67,500 + 60,000 + 55,200 = 182,700 -> $0.1827
    #   day 2: 400,000*0.15 + 600,000*0.075 + 80,000*0.60 = 60,000 + 45,000 + 48,000 = 153,000 -> $0.153
    assert costs["gpt-4o-mini-2024-07-18"] == Decimal("0.3357")
    # gpt-4.1 (2.00 in / 0.50 cached / 2.00 cache write / 8.00 out):
    #   day 1: 180,000*2 + 100,000*0.5 + 20,000*2 + 40,000*8 = 360,000 + 50,000 + 40,000 + 320,000 -> $0.77
    #   day 2: 40,000*2 + 10,000*0.5 + 5,000*8 = 80,000 + 5,000 + 40,000 -> $0.125
    assert costs["gpt-4.1-2025-04-14"] == Decimal("0.895")


def test_openai_usage_page_legacy_schema(run_cli: Any) -> None:
    """Before mid-2026 input_tokens was text only; audio input and output came apart."""
    ingest(run_cli, OPENAI_LEGACY)
    rows = query(
        "SELECT model, batch, input_tokens, output_tokens FROM usage ORDER BY model, batch"
    )
    assert rows == [
        ("gpt-4o-2024-08-06", False, 100000, 10000),
        (
            "gpt-4o-mini-2024-07-18",
            False,
            12000,
            1500,
        ),  # 10,000 text + 2,000 audio in; 1,000 + 500 out
        ("gpt-4o-mini-2024-07-18", True, 200000, 50000),
    ]
    costs = usage_costs("model || ':' || batch")
    # gpt-4o: 80,000*2.50 + 20,000*1.25 + 10,000*10 = 200,000 + 25,000 + 100,000 -> $0.325
    assert costs["gpt-4o-2024-08-06:false"] == Decimal("0.325")
    # batch: (200,000*0.15 + 50,000*0.60) = 60,000 -> $0.06, x 0.5 -> $0.03
    assert costs["gpt-4o-mini-2024-07-18:true"] == Decimal("0.03")
    # 12,000*0.15 + 1,500*0.60 = 1,800 + 900 -> $0.0027
    assert costs["gpt-4o-mini-2024-07-18:false"] == Decimal("0.0027")


def test_openai_usage_csv_float_counts_booleans_and_rejects(run_cli: Any) -> None:
    summary = ingest(run_cli, OPENAI_USAGE_CSV)
    assert summary["files"][0]["format"] == "openai_usage_csv"
    # the third row has input_uncached_tokens = -5.0
    assert summary["totals"] == {"read": 3, "loaded": 2, "rejected": 1, "duplicates": 0}
    assert query("SELECT line_no, reason FROM rejects") == [
        (4, "input_uncached_tokens must not be negative")
    ]
    rows = query(
        "SELECT model, batch, requests, input_tokens, cache_read_tokens FROM usage ORDER BY model"
    )
    # '8.0' -> 8; 'FALSE'/'TRUE' -> booleans; input = 38,072 uncached + 8,192 cached = 46,264
    assert rows == [
        ("gpt-4o-mini-2024-07-18", True, 10, 20000, 0),
        ("gpt-5-2025-08-07", False, 8, 46264, 8192),
    ]
    costs = usage_costs()
    # gpt-5 (1.25 / 0.125 / 10): 38,072*1.25 + 8,192*0.125 + 60,000*10 = 47,590 + 1,024 + 600,000 -> $0.648614
    assert costs["gpt-5-2025-08-07"] == Decimal("0.648614")
    # batch gpt-4o-mini: (20,000*0.15 + 4,000*0.60) * 0.5 = 5,400 * 0.5 -> $0.0027
    assert costs["gpt-4o-mini-2024-07-18"] == Decimal("0.0027")


def test_openai_usage_rejects_other_results_and_bad_counts(
    run_cli: Any, jsonl: Any, tmp_path: Path
) -> None:
    page = {
        "object": "page",
        "data": [{"object": "bucket", "start_time": 1754006400, "end_time": 1754092800, "results": [
            {"object": "organization.usage.completions.result", "input_tokens": 10, "output_tokens": 5,
             "num_model_requests": 1, "model": "gpt-4o-mini"},
            {"object": "organization.usage.embeddings.result", "input_tokens": 10, "num_model_requests": 1},
            {"object": "organization.usage.completions.result", "input_tokens": 10, "input_cached_tokens": 20,
             "output_tokens": 5, "num_model_requests": 1},
            {"object": "organization.usage.completions.result", "output_tokens": 5, "num_model_requests": 1},
        ]}],
    }  # fmt: skip
    path = tmp_path / "page.json"
    path.write_text(json.dumps(page))
    summary = ingest(run_cli, path)
    assert summary["totals"] == {"read": 4, "loaded": 1, "rejected": 3, "duplicates": 0}
    reasons = [r[0] for r in query("SELECT reason FROM rejects ORDER BY line_no")]
    assert reasons == [
        "not a completions usage result (object 'organization.usage.embeddings.result')",
        "input_cached_tokens + input_cache_write_tokens (20) exceed input (10)",
        "missing input_tokens",
    ]


# ---------------------------------------------------------------- OpenAI costs


def test_openai_costs_page_dollars_and_line_items(run_cli: Any) -> None:
    summary = ingest(run_cli, OPENAI_COSTS)
    assert summary["files"][0]["format"] == "openai_costs"
    assert summary["totals"]["loaded"] == 13
    rows = query(
        "SELECT model, token_kind, cost_type, amount_usd, currency FROM billed "
        "WHERE period_start = '2025-08-01' AND model LIKE 'gpt-4o-mini%' ORDER BY token_kind"
    )
    assert rows == [
        # "cached input" is matched before "input"; the float-noise digits of the export are kept exactly
        ("gpt-4o-mini-2024-07-18", "cache_read", "tokens", Decimal("0.06"), "USD"),
        ("gpt-4o-mini-2024-07-18", "input", "tokens", Decimal("0.067500000000000004"), "USD"),
        ("gpt-4o-mini-2024-07-18", "output", "tokens", Decimal("0.0552"), "USD"),
    ]
    # a non-token line: no model, kept whole
    assert query(
        "SELECT model, token_kind, cost_type, line_item FROM billed WHERE model IS NULL"
    ) == [(None, None, "web_search", "web search tool calls")]
    # 0.0675.. + 0.06 + 0.0552 + 0.4 + 0.05 + 0.32 + 0.06 + 0.045 + 0.048 + 0.08 + 0.005 + 0.04 + 0.025
    assert query("SELECT sum(amount_usd) FROM billed")[0][0] == Decimal("1.255700000000000004")


@pytest.mark.parametrize(
    ("item", "model", "kind", "tier", "window"),
    [
        (
            "gpt-4o-mini-2024-07-18, cached input",
            "gpt-4o-mini-2024-07-18",
            "cache_read",
            None,
            None,
        ),
        (
            "gpt-audio-mini-2025-12-15 audio, input",
            "gpt-audio-mini-2025-12-15",
            "audio input",
            None,
            None,
        ),
        (
            "priority | gpt-5.6-sol, output, long context",
            "gpt-5.6-sol",
            "output",
            "priority",
            "long",
        ),
        ("ft-gpt-4o-2024-08-06, input", "ft-gpt-4o-2024-08-06", "input", None, None),
        ("whisper-1, audio", "whisper-1", "audio", None, None),
        ("Vector storage", None, None, None, None),
    ],
)
def test_openai_line_item_parsing(
    item: str, model: str | None, kind: str | None, tier: str | None, window: str | None
) -> None:
    from llmcost.ingest.adapters.openai_costs import parse_line_item

    got = parse_line_item(item)
    assert (got["model"], got["token_kind"], got["service_tier"], got["context_window"]) == (
        model,
        kind,
        tier,
        window,
    )


def test_openai_costs_csv_blank_day_and_batch(run_cli: Any) -> None:
    summary = ingest(run_cli, OPENAI_COSTS_CSV)
    assert summary["files"][0]["format"] == "openai_costs_csv"
    assert summary["totals"] == {"read": 7, "loaded": 7, "rejected": 0, "duplicates": 0}
    # an empty day comes as a row with blank values: loaded as $0
    assert query("SELECT amount_usd FROM billed WHERE period_start = '2025-10-07'") == [
        (Decimal(0),)
    ]
    assert query("SELECT DISTINCT service_tier FROM billed WHERE model LIKE 'gpt-4o-mini%'") == [
        ("batch",)
    ]
    # 0.04759 + 0.001024 + 0.6 + 0.0015 + 0.0012 + 0.03
    assert query("SELECT sum(amount_usd) FROM billed")[0][0] == Decimal("0.681314")


def test_non_usd_costs_are_rejected(run_cli: Any, tmp_path: Path) -> None:
    page = {"object": "page", "data": [{"object": "bucket", "start_time": 1754006400, "end_time": 1754092800,
            "results": [{"object": "organization.costs.result", "amount": {"value": 1.5, "currency": "eur"},
                         "line_item": "gpt-4o, input"}]}]}  # fmt: skip
    path = tmp_path / "costs.json"
    path.write_text(json.dumps(page))
    assert ingest(run_cli, path)["totals"]["rejected"] == 1
    assert query("SELECT reason FROM rejects") == [("currency EUR is not USD; convert it first",)]


# ---------------------------------------------------------------- Anthropic usage


def test_anthropic_usage_report_exclusive_input_and_long_context(run_cli: Any) -> None:
    summary = ingest(run_cli, ANTHROPIC_USAGE)
    assert summary["files"][0]["format"] == "anthropic_usage"
    rows = query(
        "SELECT bucket_start::VARCHAR, model, workspace, batch, long_context, requests, input_tokens, "
        "cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens, web_search_requests "
        "FROM usage ORDER BY bucket_start, model, long_context"
    )
    assert rows == [
        # RFC 3339 bucket; no request count in this report
        ("2025-11-03 00:00:00", "claude-haiku-4-5-20251001", "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ", True, False, None,
         1000000, 0, 0, 0, 200000, 0),
        # input is exclusive at Anthropic: 1,500 uncached + 200 read + 500 (5m) + 1,000 (1h) = 3,200
        ("2025-11-03 00:00:00", "claude-sonnet-4-20250514", "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ", False, False, None,
         3200, 200, 500, 1000, 500, 10),
        ("2025-11-04 00:00:00", "claude-sonnet-4-5-20250929", None, False, False, None, 500000, 100000, 0, 0, 20000, 0),
        # cache_creation, cache reads and server_tool_use absent: zeros
        ("2025-11-04 00:00:00", "claude-sonnet-4-5-20250929", None, False, True, None, 250000, 0, 0, 0, 10000, 0),
    ]  # fmt: skip
    costs = usage_costs("model || ':' || long_context")
    # sonnet-4 (3 / 0.30 read / 3.75 5m / 6 1h / 15): 1,500*3 + 200*0.3 + 500*3.75 + 1,000*6 + 500*15
    #   = 4,500 + 60 + 1,875 + 6,000 + 7,500 = 19,935 -> $0.019935
    assert costs["claude-sonnet-4-20250514:false"] == Decimal("0.019935")
    # haiku-4-5 batch: (1,000,000*1 + 200,000*5) = 2,000,000 -> $2.00 x 0.5 = $1.00
    assert costs["claude-haiku-4-5-20251001:false"] == Decimal("1")
    # sonnet-4-5 in 200k-1M: long rates 6 / 22.5: 250,000*6 + 10,000*22.5 = 1,500,000 + 225,000 -> $1.725
    assert costs["claude-sonnet-4-5-20250929:true"] == Decimal("1.725")
    # sonnet-4-5 in 0-200k: the bucket sums 500,000 input tokens but base rates apply (a sum of requests):
    #   400,000*3 + 100,000*0.3 + 20,000*15 = 1,200,000 + 30,000 + 300,000 -> $1.53 (long rates would give $2.91)
    assert costs["claude-sonnet-4-5-20250929:false"] == Decimal("1.53")


def test_anthropic_console_usage_csv(run_cli: Any) -> None:
    summary = ingest(run_cli, ANTHROPIC_USAGE_CSV)  # starts with a UTF-8 BOM
    assert summary["files"][0]["format"] == "anthropic_usage_csv"
    assert summary["totals"] == {"read": 3, "loaded": 3, "rejected": 0, "duplicates": 0}
    rows = query(
        "SELECT bucket_end::VARCHAR, api_key, workspace, batch, input_tokens FROM usage ORDER BY bucket_start, model"
    )
    assert rows == [
        (
            "2026-03-23 00:00:00",
            "prod-backend",
            "Default",
            False,
            75000,
        ),  # 20,000 + 4,000 + 1,000 + 50,000
        ("2026-03-23 00:00:00", "prod-backend", "Default", False, 100000),
        ("2026-03-24 00:00:00", "batch-jobs", "Default", True, 1000000),
    ]
    costs = usage_costs("strftime(bucket_start, '%d') || model")
    # sonnet-4: 100,000*3 + 5,000*15 = 375,000 -> $0.375
    assert costs["22claude-sonnet-4-20250514"] == Decimal("0.375")
    # haiku-4-5: 20,000*1 + 4,000*1.25 + 1,000*2 + 50,000*0.1 + 3,000*5 = 20,000 + 5,000 + 2,000 + 5,000 + 15,000 -> $0.047
    assert costs["22claude-haiku-4-5-20251001"] == Decimal("0.047")
    # batch: (1,000,000*1 + 100,000*5) * 0.5 = 750,000 -> $0.75
    assert costs["23claude-haiku-4-5-20251001"] == Decimal("0.75")


def test_anthropic_console_usage_csv_older_columns(run_cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "usage.csv"
    path.write_text(
        "usage_date_utc,model_version,api_key,workspace,usage_type,context_window,usage_input_tokens_no_cache,"
        "usage_input_tokens_cache_write,usage_input_tokens_cache_read,usage_output_tokens,web_search_count\n"
        "2025-11-05,claude-sonnet-4-20250514,k1,Default,standard,,1000,2000,3000,100,\n"
    )
    ingest(run_cli, path)
    # one cache-write column in older exports: 5-minute TTL
    assert query("SELECT input_tokens, cache_write_tokens, cache_write_1h_tokens FROM usage") == [
        (6000, 2000, 0)
    ]
    # 1,000*3 + 2,000*3.75 + 3,000*0.3 + 100*15 = 3,000 + 7,500 + 900 + 1,500 = 12,900 -> $0.0129
    assert usage_costs()["claude-sonnet-4-20250514"] == Decimal("0.0129")


# ---------------------------------------------------------------- Anthropic costs


def test_anthropic_cost_report_cents(run_cli: Any) -> None:
    summary = ingest(run_cli, ANTHROPIC_COSTS)
    assert summary["files"][0]["format"] == "anthropic_costs"
    assert summary["totals"] == {"read": 13, "loaded": 13, "rejected": 0, "duplicates": 0}
    # "0.45" is 0.45 CENTS: $0.0045
    assert query(
        "SELECT amount_usd FROM billed WHERE line_item = 'Claude Sonnet 4 Usage - Input Tokens'"
    ) == [(Decimal("0.0045"),)]
    # model and token_type left out: both read from the description
    assert query(
        "SELECT DISTINCT model, token_kind FROM billed WHERE context_window = '200k-1M' ORDER BY token_kind"
    ) == [("claude-sonnet-4-5", "input"), ("claude-sonnet-4-5", "output")]
    # cents: 0.45 + 0.006 + 0.1875 + 0.6 + 0.75 + 50 + 50 + 10 + 150 + 22.5 + 120 + 3 + 30 = 437.4935 -> $4.374935
    assert query("SELECT sum(amount_usd) FROM billed")[0][0] == Decimal("4.374935")


def test_anthropic_console_cost_csv_dollars_and_display_names(run_cli: Any) -> None:
    summary = ingest(run_cli, ANTHROPIC_COSTS_CSV)
    assert summary["files"][0]["format"] == "anthropic_costs_csv"
    models = [
        r[0] for r in query("SELECT DISTINCT model FROM billed WHERE model IS NOT NULL ORDER BY 1")
    ]
    assert models == [
        "claude-haiku-4-5",
        "claude-sonnet-4",
    ]  # from "Claude Haiku 4.5", "Claude Sonnet 4"
    from llmcost import pricing

    table = pricing.load()
    assert [table.resolve(m).id for m in models] == ["claude-haiku-4-5", "claude-sonnet-4"]  # type: ignore[union-attr]
    # dollars, not cents: 0.30 + 0.075 + 0.02 + 0.005 + 0.002 + 0.005 + 0.015 + 0.10 + 0.50 + 0.25 = 1.272
    assert query("SELECT sum(amount_usd) FROM billed")[0][0] == Decimal("1.272")


def test_display_model_names() -> None:
    from llmcost.ingest.adapters._exports import display_model
    from llmcost.pricing import load

    table = load()
    assert display_model("Claude Haiku 4.5") == "claude-haiku-4-5"
    # the date suffix is dropped by the price table's name resolution
    assert table.resolve(display_model("Claude 3.5 Sonnet 2024-10-22")).id == "claude-3-5-sonnet"  # type: ignore[union-attr]


# ---------------------------------------------------------------- idempotence


def test_reingest_loads_nothing_and_a_refetched_day_replaces_the_old(
    run_cli: Any, tmp_path: Path
) -> None:
    first = ingest(run_cli, OPENAI_USAGE)
    assert first["totals"]["loaded"] == 4
    again = ingest(run_cli, OPENAI_USAGE)
    assert again["files"][0]["skipped"] is True and again["totals"]["loaded"] == 0
    # a renamed copy: the same content is already loaded whole
    copy = tmp_path / "copy.json"
    shutil.copy(OPENAI_USAGE, copy)
    assert ingest(run_cli, copy)["files"][0]["skipped"] is True
    # the same buckets fetched again later, one of them with more requests in it
    page = json.loads(OPENAI_USAGE.read_text())
    page["data"][1]["results"][1]["num_model_requests"] = 21
    page["data"][1]["results"][1]["output_tokens"] = 6000
    refetch = tmp_path / "refetch.json"
    refetch.write_text(json.dumps(page))
    summary = ingest(run_cli, refetch)
    assert summary["totals"] == {"read": 4, "loaded": 1, "rejected": 0, "duplicates": 3}
    assert query("SELECT count(*), sum(requests), sum(output_tokens) FROM usage") == [
        (4, 3120 + 150 + 2500 + 21, 92000 + 40000 + 80000 + 6000)
    ]


def test_api_page_and_its_csv_export_share_keys(run_cli: Any, tmp_path: Path) -> None:
    """The OpenAI Activity CSV carries the same bucket and group fields as the API page."""
    page = {"object": "page", "data": [{"object": "bucket", "start_time": 1759708800, "end_time": 1759795200,
            "results": [{"object": "organization.usage.completions.result", "input_tokens": 46264,
                         "input_cached_tokens": 8192, "input_uncached_tokens": 38072, "output_tokens": 60000,
                         "num_model_requests": 8, "project_id": "proj_4BhWq2", "user_id": "user-dAU7kP",
                         "api_key_id": "key_OYRZ3x", "model": "gpt-5-2025-08-07", "batch": False,
                         "service_tier": "default"}]}]}  # fmt: skip
    path = tmp_path / "page.json"
    path.write_text(json.dumps(page))
    ingest(run_cli, path)
    summary = ingest(run_cli, OPENAI_USAGE_CSV)
    assert summary["totals"] == {"read": 3, "loaded": 1, "rejected": 1, "duplicates": 1}
    assert query("SELECT count(*) FROM usage") == [(2,)]


# ---------------------------------------------------------------- detection


def test_unknown_json_names_the_formats_tried(run_cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "mystery.json"
    path.write_text(json.dumps({"object": "list", "data": [{"foo": 1}]}))
    code, out, err = run_cli("ingest", str(path))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    for name in (
        "openai_usage",
        "openai_costs",
        "anthropic_usage",
        "anthropic_costs",
        "anthropic_costs_csv",
    ):
        assert name in err


def test_truncated_page_is_an_error_not_a_traceback(run_cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text(OPENAI_USAGE.read_text()[:700])
    code, _, err = run_cli("ingest", str(path))
    # recognised from its head; the reader then says what is wrong with the document
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "cannot read an OpenAI usage page from" in err and "is the file complete?" in err
    assert query("SELECT count(*) FROM files") == [(0,)]


def test_forced_format_on_a_file_of_another_shape(run_cli: Any) -> None:
    code, _, err = run_cli("ingest", "--as", "openai_costs", str(OPENAI_USAGE_CSV))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "OpenAI costs page" in err


def test_a_canonical_log_is_not_taken_for_an_export(run_cli: Any, jsonl: Any) -> None:
    path = jsonl([{"request_id": "a", "timestamp": "2025-08-01T10:00:00Z", "model": "gpt-4o-mini",
                   "input_tokens": 10, "output_tokens": 5}])  # fmt: skip
    assert ingest(run_cli, path)["files"][0]["format"] == "requests"


def test_json_lines_of_pages(run_cli: Any, tmp_path: Path) -> None:
    """Pages saved one per line (a paginated fetch) are read as one export; a broken line is a reject."""
    page = json.loads(OPENAI_USAGE.read_text())
    first = {**page, "data": page["data"][:1], "has_more": True}
    second = {**page, "data": page["data"][1:]}
    path = tmp_path / "pages.jsonl"
    path.write_text(
        json.dumps(first) + "\n" + json.dumps(second) + "\n" + '{"object": "page", "data": [\n'
    )
    summary = ingest(run_cli, path, extra=("--as", "openai_usage"))
    assert summary["totals"] == {"read": 5, "loaded": 4, "rejected": 1, "duplicates": 0}
