"""A request is priced at its host's price: the price rows are keyed by (logged name, provider), and
report, report --by, what-if and reconcile agree on the same requests (SPEC §4).

Every request below: 10,000 input and 1,000 output tokens on 2026-11-15, one feature each. Rates are
USD per 1M tokens, from the bundled table:
  azure-turbo   gpt-4-turbo on azure      Azure 11 / 33:     110,000 + 33,000 = 143,000 -> 0.143
  openai-turbo  gpt-4-turbo, no provider  OpenAI 10 / 30:    100,000 + 30,000 = 130,000 -> 0.13
  azure-4o      gpt-4o on azure           Azure 2.5 / 10:     25,000 + 10,000 =  35,000 -> 0.035
  bedrock       claude-sonnet-4-5 on bedrock  Bedrock 3.3 / 16.5: 33,000 + 16,500 = 49,500 -> 0.0495
  anthropic     claude-sonnet-4-5, no provider  Anthropic 3 / 15: 30,000 + 15,000 = 45,000 -> 0.045
  groq-mini     gpt-4o-mini on groq       Groq does not list it: unpriced (never OpenAI's price)
  llama-fb      llama-3.3-70b-versatile, no provider: Groq's 0.59 / 0.79 borrowed, priced by fallback:
                5,900 + 790 = 6,690 -> 0.00669
  llama-groq    llama-3.3-70b-versatile on groq: the same 0.00669, at its own host
Priced: 0.143 + 0.13 + 0.035 + 0.0495 + 0.045 + 0.00669 + 0.00669 = 0.41588.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from llmcost import pricing

CASES = [
    ("azure-turbo", "gpt-4-turbo", "azure", 0.143),
    ("openai-turbo", "gpt-4-turbo", None, 0.13),
    ("azure-4o", "gpt-4o", "azure", 0.035),
    ("bedrock", "claude-sonnet-4-5", "bedrock", 0.0495),
    ("anthropic", "claude-sonnet-4-5", None, 0.045),
    ("groq-mini", "gpt-4o-mini", "groq", None),
    ("llama-fb", "llama-3.3-70b-versatile", None, 0.00669),
    ("llama-groq", "llama-3.3-70b-versatile", "groq", 0.00669),
]
COST = {feature: cost for feature, _, _, cost in CASES}
TOTAL = 0.41588


def records() -> list[dict[str, Any]]:
    out = []
    for i, (feature, model, provider, _) in enumerate(CASES):
        rec: dict[str, Any] = {
            "request_id": f"r{i}", "timestamp": "2026-11-15T10:00:00Z", "model": model, "feature": feature,
            "input_tokens": 10_000, "output_tokens": 1_000,
        }  # fmt: skip
        if provider:
            rec["provider"] = provider
        out.append(rec)
    return out


@pytest.fixture
def cli(run_cli: Any, jsonl: Any) -> Any:
    code, _, err = run_cli("ingest", str(jsonl(records())), "-q")
    assert code == 0, err

    def go(*args: str) -> dict[str, Any]:
        code, out, err = run_cli(*args, "--format", "json")
        assert code == 0, err
        return json.loads(out)  # type: ignore[no-any-return]

    return go


def test_resolution_by_name_and_provider() -> None:
    table = pricing.load()

    def how(name: str, host: str | None) -> tuple[str | None, str]:
        model, kind = table.resolve_how(name, host)
        return (model.id if model else None), kind

    assert how("gpt-4-turbo", "azure") == ("azure/gpt-4-turbo", "host")
    assert how("gpt-4-turbo", None) == ("gpt-4-turbo", "host")
    assert how("gpt-4o", "azure") == ("azure/global/gpt-4o-2024-08-06", "host")
    # a first-party name served by Bedrock: the foundation-model id (no cross-region profile)
    assert how("claude-sonnet-4-5", "bedrock") == (
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "host",
    )
    assert (
        how("claude-sonnet-4-5-20250929", "aws")[0] == "anthropic.claude-sonnet-4-5-20250929-v1:0"
    )
    assert how("bedrock/claude-sonnet-4-5", None)[0] == "anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert how("claude-sonnet-4-5", "vertex_ai") == ("vertex_ai/claude-sonnet-4-5", "host")
    assert how("claude-sonnet-4-5", None) == ("claude-sonnet-4-5", "host")
    assert how("gpt-4o", "bedrock") == (None, "")  # Bedrock does not sell it: unpriced
    assert how("gpt-4o-mini", "groq") == (None, "")
    assert how("llama-3.3-70b-versatile", None) == ("groq/llama-3.3-70b-versatile", "fallback")
    assert how("llama-3.3-70b-versatile", "groq") == ("groq/llama-3.3-70b-versatile", "host")


def test_price_rows_are_keyed_by_name_and_host() -> None:
    table = pricing.load()
    rows = pricing.price_rows(
        table, [("gpt-4-turbo", "azure"), ("gpt-4-turbo", ""), ("gpt-4o-mini", "groq")]
    )
    # columns: model, model_id, ..., r_input (6), r_output (7), ..., host (18), fallback (19)
    got = {(r[0], r[18]): (r[1], r[6], r[7], r[19]) for r in rows}
    assert got == {
        ("gpt-4-turbo", "azure"): ("azure/gpt-4-turbo", 11, 33, False),
        ("gpt-4-turbo", ""): ("gpt-4-turbo", 10, 30, False),
    }


def test_report_and_report_by_feature_and_model(cli: Any) -> None:
    doc = cli("report")
    assert doc["totals"]["cost_usd"] == pytest.approx(TOTAL, abs=1e-12)
    cov = doc["coverage"]
    assert (cov["requests"], cov["priced"], cov["unpriced"]) == (8, 7, 1)
    assert cov["unpriced_models"] == ["gpt-4o-mini"]
    # only the request whose host is unknown is priced by fallback, not the one on groq
    assert (cov["fallback"], cov["fallback_models"]) == (1, ["llama-3.3-70b-versatile"])
    rows = {r["feature"]: r["cost_usd"] for r in cli("report", "--by", "feature")["rows"]}
    assert rows == {
        f: (None if c is None else pytest.approx(c, abs=1e-12)) for f, c in COST.items()
    }
    by_model = {r["model"]: r["cost_usd"] for r in cli("report", "--by", "model")["rows"]}
    assert by_model == {
        "gpt-4-turbo": pytest.approx(0.143 + 0.13, abs=1e-12),
        "gpt-4o": pytest.approx(0.035, abs=1e-12),
        "claude-sonnet-4-5": pytest.approx(0.0495 + 0.045, abs=1e-12),
        "gpt-4o-mini": None,
        # --by model shows the price table's id: Groq's entry is `groq/llama-3.3-70b-versatile`
        "groq/llama-3.3-70b-versatile": pytest.approx(0.00669 * 2, abs=1e-12),
    }
    # the second run reads the stored rollups: the same figures
    assert cli("report")["totals"]["cost_usd"] == pytest.approx(TOTAL, abs=1e-12)
    assert cli("report")["coverage"]["fallback"] == 1


def test_whatif_batch_and_route_price_the_baseline_by_host(cli: Any) -> None:
    doc = cli("whatif", "--batch", "--by", "feature")
    rows = {r["feature"]: r for r in doc["rows"]}
    for feature, cost in COST.items():
        assert rows[feature]["baseline_cost_usd"] == (
            None if cost is None else pytest.approx(cost, abs=1e-12)
        ), feature
    # batch discounts: Azure gpt-4-turbo 0 (stays 0.143), OpenAI gpt-4-turbo 50 % (0.065), Azure gpt-4o
    # 50 % (0.0175), Bedrock Sonnet 4.5 50 % (0.02475), Anthropic 50 % (0.0225), Groq 0 (0.00669 twice)
    scen = {"azure-turbo": 0.143, "openai-turbo": 0.065, "azure-4o": 0.0175, "bedrock": 0.02475,
            "anthropic": 0.0225, "llama-fb": 0.00669, "llama-groq": 0.00669}  # fmt: skip
    for feature, cost in scen.items():
        assert rows[feature]["scenario_cost_usd"] == pytest.approx(cost, abs=1e-12), feature
    assert doc["totals"]["baseline_cost_usd"] == pytest.approx(TOTAL, abs=1e-12)
    assert doc["totals"]["scenario_cost_usd"] == pytest.approx(sum(scen.values()), abs=1e-12)
    # routed to Claude Haiku 4.5 at Anthropic's 1 / 5: 10,000 + 5,000 = 15,000 -> 0.015 a priced request
    doc = cli("whatif", "--route-to", "claude-haiku-4-5")
    assert doc["totals"]["baseline_cost_usd"] == pytest.approx(TOTAL, abs=1e-12)
    assert doc["totals"]["scenario_cost_usd"] == pytest.approx(7 * 0.015, abs=1e-12)
    assert doc["coverage"]["unpriced_models"] == ["gpt-4o-mini"]


def test_reconcile_logged_cost_by_host(cli: Any) -> None:
    rows = {(r["provider"], r["model"]): r for r in cli("reconcile")["rows"]}
    logged = {k: r["logged_cost_usd"] for k, r in rows.items()}
    assert logged == {
        ("azure", "azure/gpt-4-turbo"): pytest.approx(0.143, abs=1e-12),
        ("openai", "gpt-4-turbo"): pytest.approx(0.13, abs=1e-12),
        ("azure", "azure/global/gpt-4o-2024-08-06"): pytest.approx(0.035, abs=1e-12),
        ("bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0"): pytest.approx(0.0495, abs=1e-12),
        ("anthropic", "claude-sonnet-4-5"): pytest.approx(0.045, abs=1e-12),
        ("groq", "gpt-4o-mini"): None,
        # on groq, and without a provider (reconcile files it under the price row's host): 2 x 0.00669
        ("groq", "groq/llama-3.3-70b-versatile"): pytest.approx(0.01338, abs=1e-12),
    }
    assert rows[("groq", "groq/llama-3.3-70b-versatile")]["requests"] == 2
    assert rows[("groq", "gpt-4o-mini")]["unpriced_requests"] == 1
