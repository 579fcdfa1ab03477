"""SPEC §4 as amended: prices per host, the generated table, overlay rules, `prices check` as a gate.

Expected rates are the sources' figures in force on 2026-11-15 (USD per 1M tokens), read from the
snapshots in pricing/sources/ (genai-prices 0.2.3 leads; LiteLLM 1.110.2 where it alone lists a name).
"""

from __future__ import annotations

import gzip
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from llmcost import price_import, pricing

ROOT = Path(__file__).resolve().parents[1]
HOST_IDS = {host: spec[0] for host, spec in price_import.HOSTS.items()}
DAY = date(2026, 11, 15)


@pytest.fixture(scope="module")
def table() -> pricing.PriceTable:
    return pricing.load()


# logged name, model it prices as, input, output, cache read on 2026-11-15
CASES = [
    ("gpt-5.1", "gpt-5.1", "1.25", "10", "0.125"),
    ("gpt-5.4-mini", "gpt-5.4-mini", "0.75", "4.5", "0.075"),
    ("claude-opus-4-6", "claude-opus-4-6", "5", "25", "0.5"),
    ("claude-sonnet-4-6", "claude-sonnet-4-6", "3", "15", "0.3"),
    ("gemini-2.5-flash-lite", "gemini-2.5-flash-lite", "0.1", "0.4", "0.01"),
    ("gemini-3-flash-preview", "gemini-3-flash-preview", "0.5", "3", "0.05"),
    ("o3-pro", "o3-pro", "20", "80", "20"),
    ("grok-4", "grok-4-0709", "3", "15", "0.75"),
    ("xai/grok-4", "grok-4-0709", "3", "15", "0.75"),
    ("groq/llama-3.3-70b-versatile", "groq/llama-3.3-70b-versatile", "0.59", "0.79", "0.59"),
    (
        "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "1.04",
        "1.04",
        "1.04",
    ),
    (
        "deepinfra/meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "deepinfra/meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "0.1",
        "0.32",
        "0.1",
    ),
    (
        "fireworks_ai/accounts/fireworks/models/llama-v3p3-70b-instruct",
        "fireworks_ai/accounts/fireworks/models/llama-v3p3-70b-instruct",
        "0.9",
        "0.9",
        "0.9",
    ),
    (
        "openrouter/anthropic/claude-3.7-sonnet",
        "openrouter/anthropic/claude-3.7-sonnet",
        "3",
        "15",
        "3",
    ),
    ("openrouter/openai/gpt-4o", "openrouter/openai/gpt-4o", "2.5", "10", "1.25"),
    # fine-tunes at the fine-tune rate (LiteLLM ft:gpt-4o-mini-2024-07-18 0.3/1.2), never the base 0.15/0.6
    ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "ft:gpt-4o-mini", "0.3", "1.2", "0.3"),
    ("ft:gpt-4.1-mini-2025-04-14:acme::x", "ft:gpt-4.1-mini-2025-04-14", "0.8", "3.2", "0.2"),
    # Bedrock: regional profiles +10 % (1.1/5.5, 5.5/27.5), global at list
    (
        "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "regional.anthropic.claude-haiku-4-5-20251001-v1:0",
        "1.1",
        "5.5",
        "0.11",
    ),
    (
        "jp.anthropic.claude-haiku-4-5-20251001-v1:0",
        "regional.anthropic.claude-haiku-4-5-20251001-v1:0",
        "1.1",
        "5.5",
        "0.11",
    ),
    (
        "global.anthropic.claude-haiku-4-5-20251001-v1:0",
        "global.anthropic.claude-haiku-4-5-20251001-v1:0",
        "1",
        "5",
        "0.1",
    ),
    (
        "bedrock/us.anthropic.claude-opus-4-5-20251101-v1:0",
        "regional.anthropic.claude-opus-4-5-v1:0",
        "5.5",
        "27.5",
        "0.55",
    ),
    (
        "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "3.3",
        "16.5",
        "0.33",
    ),
    (
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "3",
        "15",
        "0.3",
    ),
    (
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "regional.anthropic.claude-haiku-4-5-20251001-v1:0",
        "1.1",
        "5.5",
        "0.11",
    ),
    # Vertex at Vertex's price; name@version never falls back to the family
    ("vertex_ai/gemini-2.0-flash", "vertex_ai/gemini-2.0-flash", "0.15", "0.6", "0.15"),
    ("vertex_ai/mistral-large@2407", "vertex_ai/mistral-large@2407", "2", "6", "2"),
    (
        "vertex_ai/claude-sonnet-4-5@20250929",
        "vertex_ai/claude-sonnet-4-5",
        "3",
        "15",
        "0.3",
    ),
    # Azure data zones 1.1x
    ("azure/eu/gpt-4o", "azure/eu/gpt-4o", "2.75", "11", "1.375"),
    ("azure/us/gpt-5", "azure/eu/gpt-5", "1.375", "11", "0.1375"),
    ("azure/gpt-4o-mini", "azure/gpt-4o-mini", "0.15", "0.6", "0.075"),
    # first-party, with and without the vendor's gateway prefix
    ("gpt-4o", "gpt-4o", "2.5", "10", "1.25"),
    ("openai/gpt-5", "gpt-5", "1.25", "10", "0.125"),
    ("anthropic/claude-opus-4-5", "claude-opus-4-5", "5", "25", "0.5"),
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5", "3", "15", "0.3"),
    ("gemini/gemini-2.5-flash", "gemini-2.5-flash", "0.3", "2.5", "0.03"),
    ("gemini-2.5-pro", "gemini-2.5-pro", "1.25", "10", "0.125"),
    ("mistral-large-latest", "mistral-large-latest", "0.5", "1.5", "0.05"),
    ("mistral/mistral-small-latest", "mistral-small-latest", "0.15", "0.6", "0.015"),
    ("mistral-large-2512", "mistral-large-2512", "0.5", "1.5", "0.05"),
    ("o3", "o3", "2", "8", "0.5"),
    # us-gov. profiles at GovCloud's price (LiteLLM 3.6/18), Opus 4.6 regional +10 % vs global
    (
        "us-gov.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "us-gov.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "3.6",
        "18",
        "0.36",
    ),
    (
        "us.anthropic.claude-opus-4-6-v1",
        "regional.anthropic.claude-opus-4-6-v1:0",
        "5.5",
        "27.5",
        "0.55",
    ),
    (
        "global.anthropic.claude-opus-4-6-v1",
        "global.anthropic.claude-opus-4-6-v1:0",
        "5",
        "25",
        "0.5",
    ),
    # more names as logs carry them, each at both sources' figure (genai-prices only where LiteLLM
    # dropped the retired first-party key)
    ("gpt-4.1", "gpt-4.1", "2", "8", "0.5"),
    ("gpt-5-mini", "gpt-5-mini", "0.25", "2", "0.025"),
    ("gpt-5-nano", "gpt-5-nano", "0.05", "0.4", "0.005"),
    ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13", "5", "15", "5"),
    ("o4-mini", "o4-mini", "1.1", "4.4", "0.275"),
    ("claude-3-5-haiku-20241022", "claude-3-5-haiku", "0.8", "4", "0.08"),
    ("claude-opus-4-1-20250805", "claude-opus-4-1", "15", "75", "1.5"),
    ("claude-sonnet-4-20250514", "claude-sonnet-4", "3", "15", "0.3"),
    ("claude-3-haiku-20240307", "claude-3-haiku", "0.25", "1.25", "0.03"),
    ("gemini-2.0-flash-001", "gemini-2.0-flash", "0.1", "0.4", "0.025"),
    ("gemini/gemini-2.5-pro", "gemini-2.5-pro", "1.25", "10", "0.125"),
    (
        "us.meta.llama3-3-70b-instruct-v1:0",
        "meta.llama3-3-70b-instruct-v1:0",
        "0.72",
        "0.72",
        "0.72",
    ),
    ("meta.llama3-1-8b-instruct-v1:0", "meta.llama3-1-8b-instruct-v1:0", "0.22", "0.22", "0.22"),
    (
        "apac.anthropic.claude-sonnet-4-20250514-v1:0",
        "anthropic.claude-sonnet-4-20250514-v1:0",
        "3",
        "15",
        "0.3",
    ),
    (
        "openrouter/google/gemini-2.5-flash",
        "openrouter/google/gemini-2.5-flash",
        "0.3",
        "2.5",
        "0.03",
    ),
    ("vertex_ai/claude-opus-4-5@20251101", "vertex_ai/claude-opus-4-5", "5", "25", "0.5"),
    ("groq/openai/gpt-oss-120b", "groq/openai/gpt-oss-120b", "0.15", "0.6", "0.075"),
    ("xai/grok-3-mini", "grok-3-mini", "0.3", "0.5", "0.075"),
    (
        "together_ai/meta-llama/Llama-4-Scout-17B-16E-Instruct",
        "together_ai/meta-llama/Llama-4-Scout-17B-16E-Instruct",
        "0.18",
        "0.59",
        "0.18",
    ),
    ("azure_ai/mistral-large-latest", "azure_ai/mistral-large-latest", "2", "6", "2"),
    ("mistral/codestral-2508", "codestral-2508", "0.3", "0.9", "0.03"),
    # genai-prices: 0.135/0.55 off-peak (16:30-00:30 UTC), 0.27/1.1 the rest of the day: the day's highest
    ("deepseek-chat", "deepseek-chat", "0.27", "1.1", "0.07"),
    ("deepseek/deepseek-chat", "deepseek-chat", "0.27", "1.1", "0.07"),
    # a Bedrock region LiteLLM prices apart (genai-prices has one price for every region): LiteLLM's
    # figure; it gives no cache rates there, so cache reads fall back to input (prices check warns)
    (
        "bedrock/us-gov-west-1/anthropic.claude-3-5-sonnet-20240620-v1:0",
        "us-gov-west-1/anthropic.claude-3-5-sonnet-20240620-v1:0",
        "3.6",
        "18",
        "3.6",
    ),
    ("eu.amazon.nova-pro-v1:0", "eu.amazon.nova-pro-v1:0", "1.05", "4.2", "0.2625"),
]


@pytest.mark.parametrize(("name", "model_id", "inp", "out", "cached"), CASES)
def test_names_price_at_their_hosts_figure(table: pricing.PriceTable, name: str, model_id: str,
                                           inp: str, out: str, cached: str) -> None:  # fmt: skip
    model, how = table.resolve_how(name)
    assert model is not None and model.id == model_id and how == "host"
    v = model.version_at(DAY)
    assert v is not None
    assert (v.input, v.output, v.cache_read) == (Decimal(inp), Decimal(out), Decimal(cached))


def test_cost_of_a_bedrock_regional_request_by_hand(table: pricing.PriceTable) -> None:
    # us.anthropic Haiku 4.5: 100,000 in (60,000 cache reads), 5,000 out:
    # (40,000 x 1.1 + 60,000 x 0.11 + 5,000 x 5.5) / 1e6 = (44,000 + 6,600 + 27,500) / 1e6 = 0.0781
    model = table.resolve("us.anthropic.claude-haiku-4-5-20251001-v1:0")
    assert model is not None
    v = model.version_at(DAY)
    assert v is not None
    cost = v.cost(input_tokens=100_000, cache_read_tokens=60_000, output_tokens=5_000)
    assert cost == Decimal("0.0781")


def test_dated_versions(table: pricing.PriceTable) -> None:
    o3 = table.resolve("o3")
    assert o3 is not None
    before, after = o3.version_at(date(2025, 6, 9)), o3.version_at(date(2025, 6, 10))
    assert before is not None and (before.input, before.output) == (10, 40)
    assert after is not None and (after.input, after.output) == (2, 8)
    together = table.resolve("together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo")
    assert together is not None
    aug, sep = together.version_at(date(2026, 8, 31)), together.version_at(date(2026, 9, 1))
    assert aug is not None and aug.input == Decimal("0.88")
    assert sep is not None and sep.input == Decimal("1.04")


def test_unknown_host_borrows_only_as_fallback(table: pricing.PriceTable) -> None:
    model, how = table.resolve_how("meta-llama/Llama-3.3-70B-Instruct-Turbo")
    assert model is not None and how == "fallback"
    # a known host that does not list the model: unpriced, never another host's price
    assert table.resolve_how("vertex_ai/mistral-large") == (None, "")
    assert table.resolve_how("groq/gpt-4o") == (None, "")
    # the provider names the host when the name does not
    model, how = table.resolve_how("gpt-4o-mini", "azure")
    assert model is not None and model.id.startswith("azure/") and how == "host"
    # the org part of a model name is never stripped
    assert (
        pricing.host_candidates("together_ai/openai/gpt-oss-120b")[1][0]
        == "together_ai/openai/gpt-oss-120b"
    )


def test_fine_tune_never_base_price(table: pricing.PriceTable) -> None:
    assert table.resolve("ft:my-own-base:acme::x") is None
    assert table.resolve("ft:gpt-4o-mini-2024-07-18:acme::x").id != "gpt-4o-mini"  # type: ignore[union-attr]


# ---------------------------------------------------------------- coverage against the sources


def _snapshot(prefix: str) -> Any:
    path = next((ROOT / "pricing" / "sources").glob(f"{prefix}-*.json.gz"))
    return json.loads(gzip.decompress(path.read_bytes()))


def test_coverage_of_the_sources_current_text_models(table: pricing.PriceTable) -> None:
    """Every current text model LiteLLM lists for the hosts, as logged (its key, its host as the
    provider): at least 95 % resolve, each at its own host, at LiteLLM's figure, or at genai-prices'
    where the importer printed the disagreement (genai-prices leads)."""
    ll = _snapshot("litellm")
    gp = _snapshot("genai-prices")
    imported = price_import.from_sources(gp, ll, DAY)
    overrides = price_import.read_overrides(ROOT / "pricing" / "overrides.toml")
    price_import.merge(price_import.read_table(ROOT / "pricing"), imported, overrides, DAY)
    disagreed = " ".join(imported.disagreements)
    total = resolved = 0
    wrong = []
    for key, v in ll.items():
        if not isinstance(v, dict) or v.get("mode") not in ("chat", "completion", "responses"):
            continue
        hn = price_import.ll_host(key, v)
        rates = price_import.ll_rates(v) if hn else None
        if hn is None or rates is None:
            continue
        if v.get("deprecation_date") and str(v["deprecation_date"]) < DAY.isoformat():
            continue
        total += 1
        model, how = table.resolve_how(key, hn[0])
        if model is None:
            continue
        resolved += 1
        version = model.version_at(DAY)
        if how != "host" or model.provider != hn[0] or version is None:
            wrong.append((key, model.id, model.provider))
        elif (version.input, version.output) != (rates["input"], rates["output"]):
            printed = (f"LiteLLM {key}:", f"{hn[0]} {model.id}: ", f"{HOST_IDS[hn[0]]}{hn[1]} ")
            if not any(p in disagreed for p in printed):
                wrong.append((key, model.id, version.input, version.output, rates["input"]))
    assert total > 1500
    assert resolved / total >= 0.95, (resolved, total)
    assert wrong == []


# ---------------------------------------------------------------- the importer


def test_importer_appends_and_never_rewrites(tmp_path: Path) -> None:
    gp = [{"id": "openai", "models": [
        {"id": "gpt-x", "match": {"or": [{"equals": "gpt-x"}, {"starts_with": "gpt-x-2026"}]},
         "prices": [{"prices": {"input_mtok": "2", "output_mtok": "8"}},
                    {"constraint": {"start_date": "2026-06-01"}, "prices": {"input_mtok": "1", "output_mtok": "4"}}]}]}]  # fmt: skip
    ll = {"gpt-x": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1.5e-06,
                    "output_cost_per_token": 4e-06},
          "azure/eu/gpt-x": {"litellm_provider": "azure", "mode": "chat", "input_cost_per_token": 1.1e-06,
                             "output_cost_per_token": 4.4e-06}}  # fmt: skip
    (tmp_path / "gp.json").write_text(json.dumps(gp))
    (tmp_path / "ll.json").write_text(json.dumps(ll))
    table = tmp_path / "pricing"
    table.mkdir()
    args = {"genai_prices": tmp_path / "gp.json", "litellm": tmp_path / "ll.json", "table_dir": table,
            "out_dir": table, "versions": {"genai-prices": "t", "litellm": "t"}}  # fmt: skip
    disagreements, _, counts = price_import.run(as_of=date(2026, 11, 15), **args)  # type: ignore[arg-type]
    # genai-prices leads; LiteLLM's 1.5 input is printed for a person to decide
    assert disagreements == ["openai gpt-x: genai-prices input 1.0 vs LiteLLM gpt-x: input 1.5"]
    assert counts == {"openai": 1, "azure": 1}
    loaded = pricing.load(bundled=table)
    x = loaded.resolve("gpt-x-20260101")
    assert x is not None and [(v.effective_from, v.input) for v in x.versions] == [
        (date(2023, 1, 1), 2), (date(2026, 6, 1), 1)]  # fmt: skip
    assert loaded.resolve("azure/eu/gpt-x").version_at(DAY).input == Decimal("1.1")  # type: ignore[union-attr]
    # the source changes its price: a new version is appended, the old ones stay
    gp[0]["models"][0]["prices"] = {"input_mtok": "0.5", "output_mtok": "2"}
    (tmp_path / "gp.json").write_text(json.dumps(gp))
    _, changes, _ = price_import.run(as_of=date(2026, 12, 1), **args)  # type: ignore[arg-type]
    assert changes == ["openai gpt-x: price changed, new version from 2026-12-01"]
    x = pricing.load(bundled=table).resolve("gpt-x")
    assert x is not None and [(v.effective_from, v.input) for v in x.versions] == [
        (date(2023, 1, 1), 2), (date(2026, 6, 1), 1), (date(2026, 12, 1), Decimal("0.5"))]  # fmt: skip


def test_override_needs_reason_and_source(tmp_path: Path) -> None:
    from llmcost.errors import PricingError

    (tmp_path / "overrides.toml").write_text(
        '[[override]]\nhost = "openai"\nmodel = "gpt-x"\nreason = "r"\n'
    )
    with pytest.raises(PricingError, match=r"line 1: an override needs 'source'"):
        price_import.read_overrides(tmp_path / "overrides.toml")


# ---------------------------------------------------------------- overlay rules


def _overlay(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "mine.toml"
    p.write_text(text)
    return p


def test_overlay_may_not_rebind_a_bundled_alias_silently(tmp_path: Path) -> None:
    from llmcost.errors import PricingError

    text = '[[models]]\nid = "my-gpt"\naliases = ["gpt-5"]\n[[models.prices]]\neffective_from = 2026-01-01\ninput = 7.0\noutput = 7.0\n'
    with pytest.raises(
        PricingError, match=r"alias 'gpt-5' of my-gpt is already used by gpt-5.*replaces"
    ):
        pricing.load([_overlay(tmp_path, text)])
    taken = text.replace('aliases = ["gpt-5"]', 'aliases = ["gpt-5"]\nreplaces = "gpt-5"')
    t = pricing.load([_overlay(tmp_path, taken)])
    model = t.resolve("gpt-5")
    assert model is not None and model.id == "my-gpt" and model.replaces == ["gpt-5"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "effective_from = 2026-01-01\ninput = 1.0\noutput = 1.0\n[[models.prices]]\neffective_from = 2026-01-01\ninput = 2.0\noutput = 2.0\n",
            r"mine.toml line 8: x-model: two prices from 2026-01-01",
        ),
        (
            "effective_from = 2026-01-01\ninput = inf\noutput = 1.0\n",
            r"mine.toml line 5: x-model: 'input' = Infinity is not a price",
        ),
        (
            "effective_from = 2026-01-01\ninput = nan\noutput = 1.0\n",
            r"mine.toml line 5: x-model: 'input' = NaN is not a price",
        ),
        (
            "effective_from = 2026-01-01\ninput = 1e30\noutput = 1.0\n",
            r"mine.toml line 5: x-model: 'input' = 1E\+30 is not a price",
        ),
        (
            "effective_from = 2026-01-01\noutput = 1.0\n",
            r"mine.toml line \d+: x-model: a price needs 'input'",
        ),
    ],
)
def test_overlay_errors_name_file_and_line(tmp_path: Path, body: str, message: str) -> None:
    from llmcost.errors import PricingError

    text = '[[models]]\nid = "x-model"\n[[models.prices]]\n' + body
    with pytest.raises(PricingError, match=message):
        pricing.load([_overlay(tmp_path, text)])


def test_overlay_new_model_without_price_is_an_error(tmp_path: Path) -> None:
    from llmcost.errors import PricingError

    with pytest.raises(PricingError, match=r"x-model: no \[\[models.prices\]\]"):
        pricing.load([_overlay(tmp_path, '[[models]]\nid = "x-model"\n')])


# ---------------------------------------------------------------- prices check as a gate


def test_prices_check_exit_codes_and_fallback(run_cli: Any, jsonl: Any) -> None:
    def rec(i: int, model: str) -> dict[str, Any]:
        return {"request_id": f"r{i}", "timestamp": "2026-11-15T10:00:00Z", "model": model,
                "input_tokens": 1000, "output_tokens": 100}  # fmt: skip

    run_cli("ingest", str(jsonl([rec(1, "gpt-4o"), rec(2, "gpt-4o")], "a.jsonl")), "-q")
    code, out, _ = run_cli("prices", "check", "--format", "json")
    assert code == 0 and json.loads(out)["unpriced_requests"] == 0
    run_cli(
        "ingest", str(jsonl([rec(3, "meta-llama/Llama-3.3-70B-Instruct-Turbo")], "b.jsonl")), "-q"
    )
    code, out, _ = run_cli("prices", "check", "--format", "json")
    doc = json.loads(out)
    assert code == 0
    # gpt-4o: 2 x (1000 x 2.5 + 100 x 10) / 1e6 = 0.007; Llama at Together: (1000 + 100) x 1.04 / 1e6 = 0.001144
    (fb,) = doc["fallback"]
    assert fb["model"] == "meta-llama/Llama-3.3-70B-Instruct-Turbo" and fb["requests"] == 1
    assert fb["cost_share"] == pytest.approx(0.001144 / (0.007 + 0.001144))
    run_cli("ingest", str(jsonl([rec(4, "no-such-model")], "c.jsonl")), "-q")
    code, out, _ = run_cli("prices", "check", "--format", "json")
    assert code == 1 and json.loads(out)["unpriced_requests"] == 1


def test_prices_list_shows_what_an_overlay_replaces(run_cli: Any, tmp_path: Path) -> None:
    _overlay(tmp_path, '[[models]]\nid = "my-gpt"\naliases = ["gpt-5"]\nreplaces = "gpt-5"\n'
             "[[models.prices]]\neffective_from = 2026-01-01\ninput = 7.0\noutput = 7.0\n")  # fmt: skip
    code, out, _ = run_cli(
        "--pricing", str(tmp_path / "mine.toml"), "prices", "list", "--format", "json"
    )
    assert code == 0
    (row,) = [r for r in json.loads(out)["models"] if r["model"] == "my-gpt"]
    assert row["replaces"] == "gpt-5"
    code, out, _ = run_cli(
        "--pricing", str(tmp_path / "mine.toml"), "prices", "list", "--format", "csv"
    )
    assert "replaces" in out.splitlines()[0]


def test_the_committed_table_is_rebuilt_exactly_from_its_snapshots(
    run_cli: Any, tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / "pricing"
    shutil.copytree(ROOT / "pricing", copy, ignore=shutil.ignore_patterns("README.md"))
    sources = sorted((copy / "sources").glob("*.json.gz"))
    gp = next(p for p in sources if p.name.startswith("genai-prices-"))
    ll = next(p for p in sources if p.name.startswith("litellm-"))
    code, _, err = run_cli("prices", "import", "--genai-prices", str(gp), "--litellm", str(ll),
                             "--into", str(copy), "--as-of", "2026-11-15")  # fmt: skip
    assert code == 0, err
    assert "sources disagree: openai" in err or "sources disagree:" in err
    for path in sorted((ROOT / "pricing").glob("*.toml")):
        assert (copy / path.name).read_text() == path.read_text(), path.name


def test_prices_update_writes_a_dated_overlay(run_cli: Any, tmp_path: Path) -> None:
    ll = {
        "gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 2e-06,
                   "output_cost_per_token": 8e-06, "cache_read_input_token_cost": 1e-06},
        "groq/my-new-model": {"litellm_provider": "groq", "mode": "chat", "input_cost_per_token": 1e-07,
                              "output_cost_per_token": 2e-07},
    }  # fmt: skip
    (tmp_path / "ll.json").write_text(json.dumps(ll))
    mine = tmp_path / "mine"
    code, out, err = run_cli("prices", "update", "--from", str(tmp_path / "ll.json"), "--into", str(mine),
                             "--as-of", "2026-12-01")  # fmt: skip
    assert code == 0, err
    assert "2 model(s) written to" in out
    bundled_before = pricing.load()
    t = pricing.load([mine])
    gpt = t.resolve("gpt-4o")
    assert gpt is not None
    # the old versions stay; the file's price starts on its date
    assert gpt.version_at(date(2026, 11, 30)) == bundled_before.resolve("gpt-4o").version_at(
        date(2026, 11, 30)
    )  # type: ignore[union-attr]
    v = gpt.version_at(date(2026, 12, 1))
    assert v is not None and (v.input, v.output, v.cache_read) == (2, 8, 1)
    new = t.resolve("groq/my-new-model")
    assert new is not None and new.version_at(DAY).input == Decimal("0.1")  # type: ignore[union-attr]
    assert pricing.load().resolve("groq/my-new-model") is None  # bundled files untouched


def test_report_coverage_counts_fallback(run_cli: Any, jsonl: Any) -> None:
    recs = [
        {"request_id": f"r{i}", "timestamp": "2026-11-15T10:00:00Z", "model": m, "input_tokens": 1000,
         "output_tokens": 100}
        for i, m in enumerate(["gpt-4o", "meta-llama/Llama-3.3-70B-Instruct-Turbo", "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo"])
    ]  # fmt: skip
    run_cli("ingest", str(jsonl(recs)), "-q")
    code, out, _ = run_cli("report", "--format", "json")
    assert code == 0
    cov = json.loads(out)["coverage"]
    assert (cov["priced"], cov["fallback"]) == (3, 1)
    assert cov["fallback_models"] == ["meta-llama/Llama-3.3-70B-Instruct-Turbo"]
    _, out, _ = run_cli("report")
    assert "1 priced by fallback (meta-llama/Llama-3.3-70B-Instruct-Turbo)" in out


def test_prices_list_by_host_then_filtered(run_cli: Any) -> None:
    code, out, _ = run_cli("prices", "list")
    assert code == 0 and "price table by host" in out and "openrouter" in out
    code, out, _ = run_cli("prices", "list", "haiku", "--host", "bedrock", "--format", "json")
    rows = json.loads(out)["models"]
    assert rows and all(
        r["provider"] == "bedrock" and "haiku" in (r["model"] + r["aliases"]) for r in rows
    )
    code, out, _ = run_cli("prices", "list", "--format", "json")
    assert len(json.loads(out)["models"]) > 2000


def test_prices_check_prices_by_provider_and_lists_a_host_without_the_model(
    run_cli: Any, jsonl: Any
) -> None:
    recs = [
        {"request_id": "a1", "timestamp": "2026-11-15T10:00:00Z", "model": "gpt-4o-mini", "provider": "azure",
         "input_tokens": 1000, "output_tokens": 100},
        {"request_id": "a2", "timestamp": "2026-11-15T10:00:00Z", "model": "gpt-4o-mini", "provider": "groq",
         "input_tokens": 1000, "output_tokens": 100},
        {"request_id": "a3", "timestamp": "2026-11-15T10:00:00Z", "model": "gpt-4o-mini",
         "input_tokens": 1000, "output_tokens": 100},
    ]  # fmt: skip
    run_cli("ingest", str(jsonl(recs)), "-q")
    code, out, _ = run_cli("prices", "check", "--format", "json")
    doc = json.loads(out)
    # azure: priced at Azure's price; no provider: OpenAI's; groq does not list it: unpriced, never
    # another host's price (SPEC §4), so the gate fails
    assert code == 1 and doc["fallback"] == [] and doc["unpriced_requests"] == 1
    assert [(r["model"], r["unpriced_requests"], r["reason"]) for r in doc["unpriced"]] == [
        ("gpt-4o-mini", 1, "provider groq does not list it")
    ]


def _cost(table: pricing.PriceTable, name: str, when: date = DAY, **usage: Any) -> Decimal:
    model = table.resolve(name)
    assert model is not None
    version = model.version_at(when)
    assert version is not None
    return version.cost(**usage)


def test_long_context_thresholds_other_than_200k(table: pricing.PriceTable) -> None:
    # gpt-5.4 (genai-prices): 2.5/15 up to 272k input tokens, 5/22.5 for the whole request above
    # 272,000 x 2.5 + 5,000 x 15 = 755,000 -> 0.755
    assert _cost(table, "gpt-5.4", input_tokens=272_000, output_tokens=5_000) == Decimal("0.755")
    # 272,001 x 5 + 5,000 x 22.5 = 1,472,505 -> 1.472505
    assert _cost(table, "gpt-5.4", input_tokens=272_001, output_tokens=5_000) == Decimal("1.472505")
    # claude-haiku-5-5 above 100k: 0.5 / 2.5, cache read 0.05
    # uncached 50,001 x 0.5 + 50,000 x 0.05 + 1,000 x 2.5 = 25,000.5 + 2,500 + 2,500 -> 0.0300005
    cost = _cost(
        table,
        "claude-haiku-5-5",
        input_tokens=100_001,
        cache_read_tokens=50_000,
        output_tokens=1_000,
    )
    assert cost == Decimal("0.0300005")


def test_mistral_cache_reads_and_batch(table: pricing.PriceTable) -> None:
    # mistral-large-2512 from its first day: cache read 0.05 (0.1x), batch 50 %
    # (900,000 x 0.5 + 100,000 x 0.05 + 1,000,000 x 1.5) x 0.5 = (450,000 + 5,000 + 1,500,000) x 0.5 -> 0.9775
    cost = _cost(table, "mistral-large-2512", date(2025, 12, 2), input_tokens=1_000_000,
                 cache_read_tokens=100_000, output_tokens=1_000_000, batch=True)  # fmt: skip
    assert cost == Decimal("0.9775")


def test_bedrock_sonnet_4_5_batch_and_long_context(table: pricing.PriceTable) -> None:
    # regional profile, 2025-10-01, batch, 300,000 in: long rates 6.6 / 24.75, then x 0.5
    # (300,000 x 6.6 + 10,000 x 24.75) x 0.5 = (1,980,000 + 247,500) x 0.5 -> 1.11375
    name = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    cost = _cost(
        table, name, date(2025, 10, 1), input_tokens=300_000, output_tokens=10_000, batch=True
    )
    assert cost == Decimal("1.11375")
    # global: 6 / 22.5 -> (1,800,000 + 225,000) x 0.5 = 1.0125
    name = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
    cost = _cost(
        table, name, date(2025, 10, 1), input_tokens=300_000, output_tokens=10_000, batch=True
    )
    assert cost == Decimal("1.0125")


def test_prices_check_gates_on_the_window(run_cli: Any, jsonl: Any) -> None:
    recs = [
        {"request_id": "w1", "timestamp": "2026-10-01T10:00:00Z", "model": "no-such-model",
         "input_tokens": 10, "output_tokens": 1},
        {"request_id": "w2", "timestamp": "2026-11-15T10:00:00Z", "model": "gpt-4o", "input_tokens": 10,
         "output_tokens": 1},
    ]  # fmt: skip
    run_cli("ingest", str(jsonl(recs)), "-q")
    assert run_cli("prices", "check")[0] == 1
    code, out, _ = run_cli("prices", "check", "--since", "2026-11-01", "--format", "json")
    assert code == 0 and json.loads(out)["requests"] == 1
    assert run_cli("prices", "check", "--until", "2026-11-01")[0] == 1


@pytest.mark.parametrize("source", ["claude_code", "otel", "litellm", "bedrock"])
def test_real_logs_are_priced(run_cli: Any, source: str) -> None:
    """Logs made by the real systems (a Claude Code history of 2026 was mostly claude-opus-4-6)."""
    folder = ROOT.parent / "shared" / "realworld" / source
    if not folder.is_dir():
        pytest.skip("real-world samples not present")
    run_cli("ingest", str(folder), "-q")
    code, out, _ = run_cli("prices", "check", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["requests"] > 0 and doc["unpriced_requests"] == 0


def test_parsed_table_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = pricing.load()
    (cached,) = (tmp_path / "llmcost").glob("prices-*.pickle")
    again = pricing.load()
    assert again.sha256 == first.sha256 and again.index == first.index
    assert again.resolve("o3").versions == first.resolve("o3").versions  # type: ignore[union-attr]
    cached.write_bytes(b"not a pickle")  # a damaged cache is rebuilt, not trusted
    assert pricing.load().index == first.index
    assert cached.read_bytes() != b"not a pickle"
    # an overlay never leaks into the cache: the next load is the bundled table again
    overlay = tmp_path / "mine.toml"
    overlay.write_text(
        '[[models]]\nid = "x-model"\n[[models.prices]]\neffective_from = 2026-01-01\ninput = 1.0\noutput = 1.0\n'
    )
    assert pricing.load([overlay]).resolve("x-model") is not None
    assert pricing.load().resolve("x-model") is None
