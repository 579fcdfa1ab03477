"""The other real samples (Claude Code, Bedrock, OpenRouter, OpenAI usage and costs), each with its
token counts and a cost computed by hand. Skipped when the samples are not here.

Rates (USD per 1M tokens): claude-haiku-4-5 input 1, cache read 0.10, 5-minute write 1.25,
1-hour write 2, output 5; claude-sonnet-4-5 input 3, read 0.30, write 3.75, output 15;
claude-opus-4-6 at the samples' overlay (Opus 4.5's list rates) input 5, read 0.50, write 6.25,
1-hour write 10, output 25; gpt-4o-mini input 0.15, read 0.075, output 0.60 (no cache-write
rate: writes at input). Models the bundled table lacks are priced with test rates in an overlay
dated the day of the request, so that a bundled price added later does not change the test.
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


def near(value: Any, expected: str) -> bool:
    return value is not None and abs(Decimal(str(value)) - Decimal(expected)) < Decimal("1e-9")


def overlay(tmp_path: Path, provider: str, model: str, day: str, **rates: float) -> Path:
    path = tmp_path / f"{provider}.toml"
    lines = [f'provider = "{provider}"', "[[models]]", f'id = "{model}"', 'tier = "small"',
             "[[models.prices]]", f"effective_from = {day}"] + [f"{k} = {v}" for k, v in rates.items()]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


def test_claude_code_sessions(con: Any) -> None:
    folder = realworld("claude_code", "projects")
    s = ingest_paths(con, [str(folder)])
    # 487 assistant usage lines (streaming snapshots, subagent copies) of 243 requests
    assert s.totals == {"read": 487, "loaded": 243, "rejected": 0, "duplicates": 244}
    ids = set()
    for path in folder.rglob("*.jsonl"):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            for r in (rec, ((rec.get("data") or {}).get("message") or {})):
                msg = r.get("message") or {}
                if (
                    isinstance(msg, dict)
                    and msg.get("usage")
                    and r.get("requestId")
                    and msg.get("id")
                ):
                    ids.add(f"{msg['id']}:{r['requestId']}")
    assert len(ids) == 243
    pricing.install(con, pricing.load([realworld("claude_code", "overlay")]))
    sums = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT model, sum(input_tokens), sum(cache_read_tokens), sum(cache_write_tokens),"
            " sum(cache_write_1h_tokens), sum(output_tokens), sum(cost_usd) FROM priced GROUP BY model"
        ).fetchall()
    }
    haiku = sums["claude-haiku-4-5-20251001"]
    assert haiku[:5] == (11185048, 11028804, 141785, 14285, 29886)
    # uncached 11185048 - 11028804 - 141785 - 14285 = 174: 174 x 1 + 11028804 x 0.10
    # + 141785 x 1.25 + 14285 x 2 + 29886 x 5 = 174 + 1102880.4 + 177231.25 + 28570 + 149430
    assert near(haiku[5], "1.45828565")
    opus = sums["claude-opus-4-6"]
    assert opus[:5] == (6441167, 6165041, 217025, 57373, 21407)
    # uncached 1728: 1728 x 5 + 6165041 x 0.50 + 217025 x 6.25 + 57373 x 10 + 21407 x 25
    # = 8640 + 3082520.5 + 1356406.25 + 573730 + 535175 = 5556471.75
    assert near(opus[5], "5.55647175")
    sonnet = sums["claude-sonnet-4-5-20250929"]
    assert sonnet[:5] == (50496, 29274, 18814, 0, 7)
    # uncached 2408: 2408 x 3 + 29274 x 0.30 + 18814 x 3.75 + 7 x 15 = 7224 + 8782.2 + 70552.5 + 105
    assert near(sonnet[5], "0.0866637")
    one = con.execute(
        "SELECT input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, cost_usd FROM priced"
        " WHERE request_id = 'msg_0124nX8Y75pefoTHytA3NMG7:req_011CY4KUjngAmdjZPPiHZB4g'"
    ).fetchone()
    # 58027 x 0.10 + 391 x 1.25 + 436 x 5 = 5802.7 + 488.75 + 2180 = 8471.45 per 1M
    assert one[:4] == (58418, 58027, 391, 436) and near(one[4], "0.00847145")


def test_bedrock_invocation_logs(con: Any, tmp_path: Path) -> None:
    folder = realworld("bedrock")
    s = ingest_paths(con, [str(folder)])
    assert s.totals == {"read": 2, "loaded": 1, "rejected": 1, "duplicates": 0}
    (reason, raw) = con.execute("SELECT reason, raw FROM rejects").fetchone()
    # its author redacted the date as 2025-04-99: kept as published, and rejected
    assert reason == "bad timestamp: 2025-04-99T23:00:17Z"
    kept = json.loads(raw)
    assert kept["input"]["inputTokenCount"] == 35 and "[text removed: " in raw
    test_rates = overlay(
        tmp_path, "bedrock", "amazon.nova-lite-v1:0", "2025-03-11", input=0.06, output=0.24
    )
    pricing.install(con, pricing.load([test_rates]))
    row = con.execute(
        "SELECT input_tokens, cache_read_tokens, output_tokens, cost_usd FROM priced"
    ).fetchone()
    # 4 x 0.06 + 38 x 0.24 = 0.24 + 9.12 = 9.36 per 1M (test rates)
    assert row[:3] == (4, 0, 38) and near(row[3], "0.00000936")


def test_openrouter_generation(con: Any, tmp_path: Path) -> None:
    ingest_paths(con, [str(realworld("openrouter", "generation_docs_example.json"))])
    test_rates = overlay(tmp_path, "openrouter", "sao10k/l3-stheno-8b", "2024-07-15",
                         input=0.05, output=0.05, cache_read=0.05)  # fmt: skip
    pricing.install(con, pricing.load([test_rates]))
    row = con.execute(
        "SELECT input_tokens, cache_read_tokens, output_tokens, reasoning_tokens, logged_cost_usd,"
        " cost_usd FROM priced"
    ).fetchone()
    # 7 uncached + 3 cached + 25 output, all at 0.05: 1.75 per 1M; OpenRouter logged $0.0015
    assert row[:4] == (10, 3, 25, 5) and row[4] == pytest.approx(0.0015)
    assert near(row[5], "0.00000175")


def test_openai_usage_and_costs(run_cli: Any) -> None:
    usage = realworld("openai_usage", "usage_completions_result_object_wrapped.json")
    assert run_cli("ingest", str(usage))[0] == 0
    code, out, _ = run_cli("report", "--source", "exports", "-f", "json")
    totals = json.loads(out)["totals"]
    # gpt-4o-mini, 5000 input of which 1800 cached reads and 200 cache writes (at the input rate):
    # 3000 x 0.15 + 1800 x 0.075 + 200 x 0.15 + 1000 x 0.60 = 450 + 135 + 30 + 600 = 1215 per 1M
    assert (totals["input_tokens"], totals["cache_read_tokens"], totals["output_tokens"]) == (
        5000,
        1800,
        1000,
    )
    assert near(totals["cost_usd"], "0.001215")
    costs = realworld("openai_costs")
    code, out, _ = run_cli("ingest", "-f", "json", str(costs))
    assert code == 0 and json.loads(out)["totals"]["loaded"] == 2
    code, out, _ = run_cli("reconcile", "-f", "json")
    # the two examples bill $0.06 each
    assert near(json.loads(out)["totals"]["billed_cost_usd"], "0.12")
