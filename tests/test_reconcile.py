"""`llmcost reconcile` and `report --source exports` on hand-made exports and request logs.

The OpenAI usage page and costs page under sample_logs/providers/ describe the same two days;
the Anthropic usage report and cost report likewise. Costs are worked out by hand below.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

PROVIDERS = Path(__file__).resolve().parents[1] / "sample_logs" / "providers"
OPENAI_USAGE = PROVIDERS / "openai_usage" / "2025-08-01_usage_completions.json"
OPENAI_LEGACY = PROVIDERS / "openai_usage" / "2025-06-01_usage_completions_legacy.json"
OPENAI_COSTS = PROVIDERS / "openai_costs" / "2025-08-01_costs.json"
ANTHROPIC_USAGE = PROVIDERS / "anthropic_usage" / "2025-11-03_usage_report_messages.json"
ANTHROPIC_COSTS = PROVIDERS / "anthropic_costs" / "2025-11-03_cost_report.json"

# Request logs for August 2025 (OpenAI), priced by hand:
#   a: gpt-4o-mini, 100,000 uncached*0.15 + 200,000 cached*0.075 + 50,000 out*0.60 = 15,000 + 15,000 + 30,000 -> $0.06
#   b: gpt-4.1, 100,000*2 + 10,000*8 = 200,000 + 80,000 -> $0.28
#   c: a semantic-cache hit: no provider call, $0
#   d: a model with no price: unpriced (NULL), counted as unexplained
LOGS = [
    {"request_id": "a", "timestamp": "2025-08-01T09:00:00Z", "provider": "openai", "model": "gpt-4o-mini",
     "input_tokens": 300000, "cache_read_tokens": 200000, "output_tokens": 50000},
    {"request_id": "b", "timestamp": "2025-08-02T09:00:00Z", "provider": "openai", "model": "gpt-4.1-2025-04-14",
     "input_tokens": 100000, "output_tokens": 10000},
    {"request_id": "c", "timestamp": "2025-08-02T10:00:00Z", "provider": "openai", "model": "gpt-4o-mini",
     "input_tokens": 1000, "output_tokens": 100, "cache_hit": True},
    {"request_id": "d", "timestamp": "2025-08-02T11:00:00Z", "provider": "openai", "model": "mystery-model",
     "input_tokens": 1000, "output_tokens": 100},
]  # fmt: skip


def ingest(run_cli: Any, *paths: Path | str) -> None:
    code, _, err = run_cli("ingest", "-q", *map(str, paths))
    assert code == 0, err


def reconcile_json(run_cli: Any, *args: str) -> dict[str, Any]:
    code, out, err = run_cli("reconcile", "--format", "json", *args)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["schema"] == "llmcost.reconcile/1"
    return doc  # type: ignore[no-any-return]


def by_key(doc: dict[str, Any]) -> dict[tuple[str, str, str | None], dict[str, Any]]:
    return {(r["period"], r["provider"], r["model"]): r for r in doc["rows"]}


def test_openai_usage_page_and_costs_page_reconcile_within_a_cent(run_cli: Any) -> None:
    ingest(run_cli, OPENAI_USAGE, OPENAI_COSTS)
    doc = reconcile_json(run_cli, "--by", "day")
    rows = by_key(doc)
    for key in [("2025-08-01", "openai", "gpt-4o-mini"), ("2025-08-01", "openai", "gpt-4.1"),
                ("2025-08-02", "openai", "gpt-4o-mini"), ("2025-08-02", "openai", "gpt-4.1")]:  # fmt: skip
        row = rows[key]
        assert abs(row["billed_cost_usd"] - row["usage_cost_usd"]) < 0.01, key
        assert row["usage_gap_usd"] == pytest.approx(0, abs=1e-9)
    # usage: 0.1827 + 0.77 + 0.153 + 0.125 (see test_ingest_exports)
    assert rows[("2025-08-01", "openai", "gpt-4o-mini")]["usage_cost_usd"] == pytest.approx(
        0.1827, abs=1e-12
    )
    assert doc["totals"]["usage_cost_usd"] == pytest.approx(1.2307, abs=1e-9)
    # the bill adds $0.025 of web search that no token export explains
    assert rows[("2025-08-02", "openai", None)] == {
        "period": "2025-08-02", "provider": "openai", "model": None, "requests": 0, "unpriced_requests": 0,
        "logged_cost_usd": None, "usage_cost_usd": 0.0, "billed_cost_usd": 0.025, "gap_usd": 0.025,
        "gap_pct": 100.0, "usage_gap_usd": 0.025,
    }  # fmt: skip
    assert doc["totals"]["billed_cost_usd"] == pytest.approx(1.2557, abs=1e-9)
    # no request logs at all: the whole bill is unexplained
    assert doc["totals"]["gap_usd"] == pytest.approx(1.2557, abs=1e-9)
    assert doc["unexplained_share"] == pytest.approx(1.0)


def test_reconcile_with_request_logs_by_month(run_cli: Any, jsonl: Any) -> None:
    ingest(run_cli, OPENAI_USAGE, OPENAI_COSTS, jsonl(LOGS))
    doc = reconcile_json(run_cli)  # --by month is the default
    assert doc["by"] == "month"
    rows = by_key(doc)
    mini = rows[
        ("2025-08", "openai", "gpt-4o-mini")
    ]  # "gpt-4o-mini" and "gpt-4o-mini-2024-07-18" are one model
    assert mini["requests"] == 2 and mini["logged_cost_usd"] == pytest.approx(0.06, abs=1e-12)
    # billed 0.067500000000000004 + 0.06 + 0.0552 + 0.06 + 0.045 + 0.048 = 0.3357; gap 0.3357 - 0.06 = 0.2757
    assert mini["billed_cost_usd"] == pytest.approx(0.3357, abs=1e-12)
    assert mini["gap_usd"] == pytest.approx(0.2757, abs=1e-12)
    assert mini["gap_pct"] == pytest.approx(0.2757 / 0.3357 * 100)
    gpt41 = rows[("2025-08", "openai", "gpt-4.1")]
    # billed 0.4 + 0.05 + 0.32 + 0.08 + 0.005 + 0.04 = 0.895; gap 0.895 - 0.28 = 0.615
    assert (gpt41["logged_cost_usd"], gpt41["billed_cost_usd"]) == (
        pytest.approx(0.28),
        pytest.approx(0.895),
    )
    assert gpt41["gap_usd"] == pytest.approx(0.615, abs=1e-12)
    mystery = rows[("2025-08", "openai", "mystery-model")]
    # logged but unpriced; the bill and the usage export cover the month and do not mention it: 0
    assert mystery["logged_cost_usd"] is None and mystery["unpriced_requests"] == 1
    assert (mystery["usage_cost_usd"], mystery["billed_cost_usd"], mystery["gap_usd"]) == (
        0.0,
        0.0,
        0.0,
    )
    t = doc["totals"]
    assert t["logged_cost_usd"] == pytest.approx(0.34, abs=1e-12)  # 0.06 + 0.28 + 0 (cache hit)
    assert t["billed_cost_usd"] == pytest.approx(1.2557, abs=1e-12)
    assert t["gap_usd"] == pytest.approx(
        1.2557 - 0.34, abs=1e-12
    )  # 0.2757 + 0.615 + 0.025 + 0 = 0.9157
    assert doc["unexplained_share"] == pytest.approx(0.9157 / 1.2557)
    assert doc["unpriced_requests"] == 1 and t["requests"] == 4


def test_reconcile_table_headline(run_cli: Any, jsonl: Any) -> None:
    ingest(run_cli, OPENAI_USAGE, OPENAI_COSTS, jsonl(LOGS))
    code, out, err = run_cli("reconcile")
    assert code == 0, err
    # 0.9157 / 1.2557 = 72.92%
    assert "72.9% of the bill is not explained by the request logs" in out
    assert "1 logged requests have no price" in out
    code, out, _ = run_cli("reconcile", "--format", "csv")
    header = out.splitlines()[0].split(",")
    assert header[:3] == ["period", "provider", "model"] and "gap_usd" in header


def test_anthropic_usage_and_cost_report_reconcile(run_cli: Any) -> None:
    ingest(run_cli, ANTHROPIC_USAGE, ANTHROPIC_COSTS)
    rows = by_key(reconcile_json(run_cli, "--by", "day"))
    sonnet45 = rows[("2025-11-04", "anthropic", "claude-sonnet-4-5")]
    # usage 1.725 (long context) + 1.53; billed cents (150 + 22.5 + 120 + 3 + 30) / 100 = 3.255
    assert sonnet45["usage_cost_usd"] == pytest.approx(3.255, abs=1e-12)
    assert sonnet45["billed_cost_usd"] == pytest.approx(3.255, abs=1e-12)
    haiku = rows[("2025-11-03", "anthropic", "claude-haiku-4-5")]
    assert haiku["usage_cost_usd"] == pytest.approx(1.0) and haiku[
        "billed_cost_usd"
    ] == pytest.approx(1.0)
    sonnet4 = rows[("2025-11-03", "anthropic", "claude-sonnet-4")]
    assert sonnet4["usage_cost_usd"] == pytest.approx(0.019935, abs=1e-12)
    assert sonnet4["billed_cost_usd"] == pytest.approx(0.019935, abs=1e-12)  # 1.9935 cents
    assert rows[("2025-11-03", "anthropic", None)]["billed_cost_usd"] == pytest.approx(
        0.10
    )  # web search, 10 cents


def test_periods_without_a_bill_have_no_gap(run_cli: Any) -> None:
    ingest(run_cli, OPENAI_LEGACY)
    doc = reconcile_json(run_cli)
    assert {r["model"] for r in doc["rows"]} == {"gpt-4o", "gpt-4o-mini"}
    for row in doc["rows"]:
        assert row["billed_cost_usd"] is None and row["gap_usd"] is None
    assert doc["totals"]["usage_cost_usd"] == pytest.approx(0.3577)  # 0.325 + 0.03 + 0.0027
    assert doc["totals"]["billed_cost_usd"] is None and doc["unexplained_share"] is None


def test_reconcile_window(run_cli: Any) -> None:
    ingest(run_cli, OPENAI_USAGE, OPENAI_COSTS)
    doc = reconcile_json(run_cli, "--by", "day", "--since", "2025-08-02", "--until", "2025-08-03")
    assert {r["period"] for r in doc["rows"]} == {"2025-08-02"}
    # day 2: usage 0.153 + 0.125; billed 0.06 + 0.045 + 0.048 + 0.08 + 0.005 + 0.04 + 0.025 = 0.303
    assert doc["totals"]["usage_cost_usd"] == pytest.approx(0.278)
    assert doc["totals"]["billed_cost_usd"] == pytest.approx(0.303)


def test_reconcile_bad_period_is_one_line(run_cli: Any) -> None:
    code, out, err = run_cli("reconcile", "--by", "week")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "llmcost: error: unknown --by 'week' for reconcile (choose day or month)"
    ]


# ---------------------------------------------------------------- report --source exports


def test_report_defaults_to_exports_without_request_logs(run_cli: Any) -> None:
    ingest(run_cli, OPENAI_USAGE, ANTHROPIC_USAGE)
    code, out, err = run_cli("report", "--by", "provider", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["source"] == "exports" and doc["schema"] == "llmcost.report/1"
    rows = {r["provider"]: r for r in doc["rows"]}
    # openai 0.3357 + 0.895 = 1.2307; anthropic 0.019935 + 1 + 1.725 + 1.53 = 4.274935
    assert rows["openai"]["cost_usd"] == pytest.approx(1.2307, abs=1e-12)
    assert rows["anthropic"]["cost_usd"] == pytest.approx(4.274935, abs=1e-12)
    # 3120 + 150 + 2500 + 20 requests; the Anthropic report has no request count
    assert rows["openai"]["requests"] == 5790 and rows["anthropic"]["requests"] is None
    assert doc["totals"]["cost_usd"] == pytest.approx(1.2307 + 4.274935, abs=1e-12)
    assert doc["coverage"] == {"usage_rows": 8, "priced": 8, "unpriced": 0, "unpriced_models": []}


def test_report_exports_by_project_and_day(run_cli: Any) -> None:
    ingest(run_cli, OPENAI_USAGE)
    code, out, err = run_cli(
        "report", "--source", "exports", "--by", "project,day", "--format", "json"
    )
    assert code == 0, err
    rows = {(r["project"], r["day"]): r["cost_usd"] for r in json.loads(out)["rows"]}
    assert rows == {
        ("proj_research", "2025-08-01"): pytest.approx(0.77),
        ("proj_support", "2025-08-01"): pytest.approx(0.1827),
        ("proj_support", "2025-08-02"): pytest.approx(0.153),
        (None, "2025-08-02"): pytest.approx(0.125),
    }


def test_report_with_request_logs_stays_on_requests(run_cli: Any, jsonl: Any) -> None:
    ingest(run_cli, OPENAI_USAGE, jsonl(LOGS))
    code, out, err = run_cli("report", "--format", "json")
    assert code == 0, err
    assert json.loads(out).get("source") != "exports"
    code, out, err = run_cli("report", "--source", "exports", "--by", "feature")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "unknown --by dimension 'feature' for --source exports" in err
    code, _, err = run_cli("report", "--source", "bills")
    assert code == 2 and "unknown --source 'bills'" in err
