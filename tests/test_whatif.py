"""What-if levers against hand-computed totals, with the bundled prices (USD per 1M tokens):
claude-sonnet-4-5 in 3 / out 15 / cache read 0.30 / write 3.75 / write-1h 6.00, batch x0.5 (from 2025-09-29);
claude-haiku-4-5 in 1 / out 5, batch x0.5 (from 2025-10-15); claude-sonnet-4 3 / 15 (from 2025-05-22);
claude-3-haiku in 0.25 / out 1.25 (from 2024-03-13); claude-haiku-5-5 in 0.1 / out 0.5 (genai-prices 0.2.3, undated).
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SONNET = "claude-sonnet-4-5"
DAY = "2025-11-01T00:00:00Z"


def rec(rid: str, tokens_in: int, tokens_out: int, *, feature: str = "support-chat", model: str = SONNET,
        ts: str = DAY, **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {"request_id": rid, "timestamp": ts, "model": model, "feature": feature, "customer_id": "c1",
            "input_tokens": tokens_in, "output_tokens": tokens_out, **extra}  # fmt: skip


# A 0.0045 (1000*3 + 100*15), B 0.009 (2000*3 + 200*15), C 0.045 (10000*3 + 1000*15), D unpriced
BASE = [
    rec("A", 1000, 100),
    rec("B", 2000, 200, ts="2025-11-01T00:01:00Z"),
    rec("C", 10000, 1000, feature="summarize"),
    rec("D", 500, 50, model="acme-private"),
]
BASELINE = 0.0585  # 0.0045 + 0.009 + 0.045


@pytest.fixture
def whatif(jsonl: Any, run_cli: Any) -> Any:
    def go(*args: str, records: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        path = jsonl(records if records is not None else BASE)
        code, _, err = run_cli("ingest", str(path), "-q")
        assert code == 0, err
        code, out, err = run_cli("whatif", *args, "--format", "json")
        assert code == 0, err
        return json.loads(out)  # type: ignore[no-any-return]

    return go


def totals(doc: dict[str, Any]) -> tuple[float, float, float]:
    t = doc["totals"]
    return t["baseline_cost_usd"], t["scenario_cost_usd"], t["savings_usd"]


def test_route_feature_to_haiku_and_unpriced_stay_unpriced(whatif: Any) -> None:
    doc = whatif("--route-to", "claude-haiku-4-5", "--feature", "support-chat")
    assert doc["schema"] == "llmcost.whatif/1"
    base, scen, sav = totals(doc)
    assert base == pytest.approx(BASELINE, abs=1e-12)
    # A 1000*1 + 100*5 = 0.0015; B 2000*1 + 200*5 = 0.003; C unchanged 0.045
    assert scen == pytest.approx(0.0495, abs=1e-12)
    assert sav == pytest.approx(0.009, abs=1e-12)
    assert doc["totals"]["savings_pct"] == pytest.approx(0.009 / 0.0585 * 100)
    # D is in scope (support-chat) but has no price: NULL in both, reported in coverage
    assert doc["coverage"] == {
        "requests": 4,
        "priced": 3,
        "unpriced": 1,
        "unpriced_models": ["acme-private"],
    }
    assert doc["totals"]["scope_requests"] == 3
    assert any("claude-haiku-4-5" in a for a in doc["assumptions"])


def test_per_group_rows(whatif: Any) -> None:
    doc = whatif(
        "--route-to", "claude-haiku-4-5", "--feature", "support-chat", "--by", "feature,model"
    )
    rows = {(r["feature"], r["model"]): r for r in doc["rows"]}
    assert rows[("support-chat", SONNET)]["baseline_cost_usd"] == pytest.approx(
        0.0135
    )  # 0.0045 + 0.009
    assert rows[("support-chat", SONNET)]["scenario_cost_usd"] == pytest.approx(
        0.0045
    )  # 0.0015 + 0.003
    assert rows[("support-chat", SONNET)]["savings_pct"] == pytest.approx(0.009 / 0.0135 * 100)
    assert rows[("summarize", SONNET)]["savings_usd"] == 0
    assert rows[("support-chat", "acme-private")]["baseline_cost_usd"] is None
    assert rows[("support-chat", "acme-private")]["scenario_cost_usd"] is None


def test_route_then_batch(whatif: Any) -> None:
    doc = whatif("--route-to", "claude-haiku-4-5", "--batch")
    # haiku: A 0.0015, B 0.003, C 10000*1 + 1000*5 = 0.015; all x 0.5 = 0.00975
    assert totals(doc)[1] == pytest.approx(0.00975, abs=1e-12)


def test_cache_hit_rate_on_top_of_route(whatif: Any) -> None:
    doc = whatif("--route-to", "claude-haiku-4-5", "--feature", "support-chat", "--cache-hit-rate", "0.25",
                 "--cache-lookup-cost", "0.0001")  # fmt: skip
    # A 0.0015*0.75 + 0.0001 = 0.001225; B 0.003*0.75 + 0.0001 = 0.00235; C 0.045; D stays unpriced
    assert totals(doc)[1] == pytest.approx(0.048575, abs=1e-12)


def test_output_cap(whatif: Any) -> None:
    doc = whatif("--max-output-tokens", "150")
    # A unchanged 0.0045; B 2000*3 + 150*15 = 0.00825; C 10000*3 + 150*15 = 0.03225
    assert totals(doc)[1] == pytest.approx(0.045, abs=1e-12)


def test_compress_input(whatif: Any) -> None:
    doc = whatif("--compress-input", "0.5")
    # A 500*3 + 1500 = 0.003; B 1000*3 + 3000 = 0.006; C 5000*3 + 15000 = 0.03
    assert totals(doc)[1] == pytest.approx(0.039, abs=1e-12)


def test_scope_model_and_where(whatif: Any) -> None:
    doc = whatif("--batch", "--model", "sonnet", "--where", "feature!=summarize")
    # A 0.00225 and B 0.0045 batched; C (summarize) and D (another model) out of scope
    assert doc["totals"]["scope_requests"] == 2
    assert totals(doc)[1] == pytest.approx(0.00225 + 0.0045 + 0.045, abs=1e-12)


def test_where_equals_customer(whatif: Any) -> None:
    doc = whatif("--batch", "--where", "customer_id=nobody")
    assert doc["totals"]["scope_requests"] == 0
    assert totals(doc)[2] == 0


def test_route_to_model_priced_only_after_the_request(whatif: Any) -> None:
    # claude-sonnet-4 on 2025-06-01: 1000*3 + 100*15 = 0.0045. Haiku 4.5 starts 2025-10-15, so its
    # earliest price applies: 1000*1 + 100*5 = 0.0015.
    doc = whatif(
        "--route-to",
        "claude-haiku-4-5",
        records=[rec("S", 1000, 100, model="claude-sonnet-4", ts="2025-06-01T00:00:00Z")],
    )
    assert totals(doc) == pytest.approx((0.0045, 0.0015, 0.003), abs=1e-12)


def test_route_share_is_deterministic_by_request_id(whatif: Any) -> None:
    ids = [f"r{i}" for i in range(12)]
    records = [rec(i, 1000, 100) for i in ids]
    doc = whatif("--route-to", "claude-haiku-4-5", "--share", "0.5", records=records)
    # the rule: md5(request_id)'s first 32 bits below 0.5 * 2^32 are routed (0.0015), the rest stay (0.0045)
    routed = sum(1 for i in ids if int(hashlib.md5(i.encode()).hexdigest()[:8], 16) < 2**31)
    assert 0 < routed < 12
    assert totals(doc)[1] == pytest.approx(routed * 0.0015 + (12 - routed) * 0.0045, abs=1e-12)


CACHE_RUN = [
    rec("p0", 3000, 0, ts="2025-11-01T00:00:00Z"),
    rec("p1", 3000, 0, ts="2025-11-01T00:04:00Z"),  # 4 min after p0: warm
    rec("p2", 3000, 0, ts="2025-11-01T00:10:00Z"),  # 6 min after p1: cold again under a 5m TTL
    rec("p3", 3000, 0, ts="2025-11-01T00:12:00Z"),  # warm
    rec("q0", 3000, 0, ts="2025-11-01T00:01:00Z", feature="summarize"),  # its own feature: cold
]


def test_prompt_cache_5m_window(whatif: Any) -> None:
    doc = whatif("--prompt-cache", "2000", records=CACHE_RUN)
    # baseline 5 x 3000*3 = 0.045
    # cold: 2000*3.75 + 1000*3 = 0.0105 (p0, p2, q0); warm: 2000*0.30 + 1000*3 = 0.0036 (p1, p3)
    assert totals(doc)[0] == pytest.approx(0.045, abs=1e-12)
    assert totals(doc)[1] == pytest.approx(3 * 0.0105 + 2 * 0.0036, abs=1e-12)


def test_prompt_cache_1h_window(whatif: Any) -> None:
    doc = whatif("--prompt-cache", "2000", "--cache-ttl", "1h", records=CACHE_RUN)
    # cold: 2000*6 + 1000*3 = 0.015 (p0, q0); warm 0.0036 (p1, p2, p3)
    assert totals(doc)[1] == pytest.approx(2 * 0.015 + 3 * 0.0036, abs=1e-12)


def test_prompt_cache_ttl_boundary(whatif: Any) -> None:
    records = [
        rec("b0", 3000, 0, ts="2025-11-01T00:00:00Z"),
        rec("b1", 3000, 0, ts="2025-11-01T00:05:00Z"),  # exactly 300 s later: still warm
        rec("b2", 3000, 0, ts="2025-11-01T00:10:01Z"),  # 301 s later: expired
    ]
    doc = whatif("--prompt-cache", "2000", records=records)
    # cold 0.0105 (b0, b2), warm 0.0036 (b1)
    assert totals(doc)[1] == pytest.approx(2 * 0.0105 + 0.0036, abs=1e-12)


def test_prompt_cache_prefix_longer_than_input(whatif: Any) -> None:
    doc = whatif("--prompt-cache", "5000", records=[rec("x", 3000, 0)])
    # only 3000 input tokens to cache: 3000*3.75 = 0.01125
    assert totals(doc)[1] == pytest.approx(0.01125, abs=1e-12)


def test_max_steps(whatif: Any) -> None:
    records = [rec(f"t{s}", 1000, 100, task_id="T", step=s) for s in (3, 1, 2)] + [
        rec("solo", 1000, 100)
    ]
    doc = whatif("--max-steps", "2", records=records)
    # 4 x 0.0045 = 0.018; step 3 of task T dropped: 0.0135
    assert totals(doc) == pytest.approx((0.018, 0.0135, 0.0045), abs=1e-12)
    assert doc["totals"]["dropped_requests"] == 1


def test_margin_before_and_after(whatif: Any, tmp_path: Path, run_cli: Any) -> None:
    (tmp_path / "revenue.csv").write_text("customer_id,month,revenue_usd\nc1,2025-11,1.00\n")
    assert run_cli("ingest", str(tmp_path / "revenue.csv"), "-q")[0] == 0
    doc = whatif("--route-to", "claude-haiku-4-5", "--feature", "support-chat", "--by", "customer")
    row = doc["rows"][0]
    # (1 - 0.0585) / 1 = 94.15%; after: (1 - 0.0495) = 95.05%
    assert row["revenue_usd"] == pytest.approx(1.0)
    assert row["margin_before_pct"] == pytest.approx(94.15)
    assert row["margin_after_pct"] == pytest.approx(95.05)
    assert doc["totals"]["margin_after_pct"] == pytest.approx(95.05)


def test_margin_per_feature_allocates_by_requests(
    whatif: Any, tmp_path: Path, run_cli: Any
) -> None:
    (tmp_path / "revenue.csv").write_text("customer_id,month,revenue_usd\nc1,2025-11,1.00\n")
    assert run_cli("ingest", str(tmp_path / "revenue.csv"), "-q")[0] == 0
    doc = whatif("--batch", "--by", "feature")
    rows = {r["feature"]: r for r in doc["rows"]}
    # c1 made 3 of its 4 requests in support-chat: 0.75 of the revenue; summarize 0.25
    assert rows["support-chat"]["revenue_usd"] == pytest.approx(0.75)
    # summarize: before (0.25 - 0.045) / 0.25 = 82%; batched (0.25 - 0.0225) / 0.25 = 91%
    assert rows["summarize"]["margin_before_pct"] == pytest.approx(82.0)
    assert rows["summarize"]["margin_after_pct"] == pytest.approx(91.0)


def test_named_scenario_and_all(whatif: Any, tmp_path: Path, run_cli: Any) -> None:
    (tmp_path / "llmcost.toml").write_text(
        '[scenarios.cheap-chat]\nroute_to = "claude-haiku-4-5"\nfeature = ["support-chat"]\n\n'
        "[scenarios.batch-all]\nbatch = true\n"
    )
    doc = whatif("cheap-chat")
    assert doc["scenario"]["name"] == "cheap-chat"
    assert totals(doc)[1] == pytest.approx(0.0495, abs=1e-12)
    code, out, err = run_cli("whatif", "--all", "--format", "json")
    assert code == 0, err
    rows = {r["name"]: r for r in json.loads(out)["rows"]}
    assert rows["cheap-chat"]["savings_usd"] == pytest.approx(0.009)
    assert rows["batch-all"]["scenario_cost_usd"] == pytest.approx(0.02925)  # 0.0585 / 2


def test_configured_totals_library(con: Any, jsonl: Any) -> None:
    from llmcost import ingest, pricing, whatif

    ingest.ingest_paths(con, [str(jsonl(BASE))])
    out = whatif.configured_totals(
        con, pricing.load(), {"scenarios": {"cap": {"max_output_tokens": 150}}}
    )
    assert [r["name"] for r in out] == ["cap"]
    assert out[0]["scenario_cost_usd"] == Decimal("0.045")  # exact: DECIMAL throughout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--share", "0.5"], "--share needs --route-to"),
        (["--route-to", "no-such-model"], "has no price"),
        (["--batch", "--where", "attrs=1"], "unknown --where field"),
        (["--batch", "--where", "feature; DROP TABLE requests"], "cannot read --where"),
        (["--cache-hit-rate", "1.5"], "fraction"),
        (["--prompt-cache", "100", "--cache-ttl", "2h"], "5m or 1h"),
        ([], "no lever given"),
        (["nope"], "no scenario named 'nope'"),
        (["--all"], "no scenarios configured"),
    ],
)
def test_user_errors_are_one_line(jsonl: Any, run_cli: Any, args: list[str], needle: str) -> None:
    run_cli("ingest", str(jsonl(BASE)), "-q")
    code, out, err = run_cli("whatif", *args)
    assert code == 2 and out == ""
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_scenario_file_is_a_config_error(jsonl: Any, run_cli: Any, tmp_path: Path) -> None:
    (tmp_path / "llmcost.toml").write_text("[scenarios.x]\nroute = 'haiku'\n")
    code, _, err = run_cli("whatif", "x")
    assert code == 2 and "unknown key 'route'" in err


def test_suggest_ranks_levers(jsonl: Any, run_cli: Any) -> None:
    outs = [10] * 19 + [1000]
    # 5 distinct prompts in 20: observed repeat rate 0.75
    records = [
        rec(f"s{i}", 100, o, feature="tagger", prompt_hash=f"h{i % 5}") for i, o in enumerate(outs)
    ]
    run_cli("ingest", str(jsonl(records)), "-q")
    code, out, err = run_cli("whatif", "--suggest", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert any("quality is NOT measured" in n for n in doc["notes"])
    names = [r["name"] for r in doc["rows"]]
    # baseline 2000*3 + 1190*15 = 0.02385
    # route to the cheapest small anthropic model (claude-haiku-5-5): 2000*0.1 + 1190*0.5 = 0.000795 -> saves 0.023055
    # cache at the observed 75% repeat rate: saves 0.75 * 0.02385 = 0.0178875
    # cap at P95 = floor(10 + 0.05*990) = 59: (1000 - 59) * 15 = 0.014115
    assert names == [
        f"route tagger {SONNET} → claude-haiku-5-5",
        "cache tagger",
        "cap tagger at P95",
    ]
    assert [r["savings_usd"] for r in doc["rows"]] == pytest.approx([0.023055, 0.0178875, 0.014115])
    code, out, _ = run_cli("whatif", "--suggest")
    assert "quality is NOT measured" in out


def test_terminal_answer(jsonl: Any, run_cli: Any) -> None:
    run_cli("ingest", str(jsonl(BASE)), "-q")
    code, out, _ = run_cli("whatif", "--route-to", "claude-haiku-4-5", "--feature", "support-chat")
    assert code == 0
    assert "baseline $0.0585  →  scenario $0.0495   savings $0.00900 (15.4%)" in out
    assert "stay unpriced" in out and "assumes:" in out


# ---------------------------------------------------------------- property: pure discounts never cost more

LEVERS = st.fixed_dictionaries(
    {},
    optional={
        "batch": st.just(True),
        "cache_hit_rate": st.floats(0, 1),
        "max_output_tokens": st.integers(0, 5000),
        "compress_input": st.floats(0, 1),
    },
)
ROWS = st.lists(
    st.tuples(st.integers(0, 300_000), st.integers(0, 8000), st.sampled_from([SONNET, "claude-haiku-4-5", "gpt-4o", "x"]),
              st.booleans(), st.integers(0, 100)),
    min_size=1, max_size=12,
)  # fmt: skip


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=ROWS, levers=LEVERS)
def test_pure_discounts_never_cost_more(
    con: Any, rows: list[tuple[int, int, str, bool, int]], levers: dict[str, Any]
) -> None:
    from llmcost import pricing, whatif

    con.execute("DELETE FROM requests")
    for i, (n_in, n_out, model, batch, cached_pct) in enumerate(rows):
        cached = n_in * cached_pct // 100
        con.execute(
            "INSERT INTO requests (source_kind, request_id, rid_hash, file_id, line_no, ts, model, status, input_tokens, "
            "cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, cache_hit, "
            "batch, estimated) VALUES ('requests', ?, 0, 1, ?, TIMESTAMP '2025-11-01', ?, 'ok', ?, ?, 0, 0, ?, 0, false, ?, false)",
            [f"r{i}", i, model, n_in, cached, n_out, batch],
        )
    doc = whatif.run(con, pricing.load(), whatif.Scenario(levers=whatif.Levers(**levers))).to_json()
    t = doc["totals"]
    if t["baseline_cost_usd"] is None:
        assert t["scenario_cost_usd"] is None
    else:
        assert t["savings_usd"] >= 0


def test_family_alias_routes_to_the_newest_of_its_family(whatif: Any) -> None:
    # haiku is the newest first-party Haiku in the table: claude-haiku-5-5 at 0.1 / 0.5
    # A 1000*0.1 + 100*0.5 = 150 -> 0.00015; B 2000*0.1 + 200*0.5 = 300 -> 0.0003; C unchanged 0.045
    doc = whatif("--route-to", "haiku", "--feature", "support-chat")
    base, scen, sav = totals(doc)
    assert base == pytest.approx(BASELINE, abs=1e-12)
    assert scen == pytest.approx(0.04545, abs=1e-12)
    assert sav == pytest.approx(0.0585 - 0.04545, abs=1e-12)
    assert any(
        "routed to claude-haiku-5-5 ('haiku': the newest of its family; anthropic, small tier)" in a
        for a in doc["assumptions"]
    )


def test_family_rule_picks_the_highest_version_with_a_price_then(tmp_path: Path) -> None:
    from datetime import date

    from llmcost import pricing

    def model(mid: str, day: str) -> str:
        return (f'[[models]]\nid = "{mid}"\ntier = "small"\n'
                f'[[models.prices]]\neffective_from = {day}\ninput = 1\noutput = 2\n'
                f'cache_read = 0.1\ncache_write = 1.25\ncache_write_1h = 2\n\n')  # fmt: skip

    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "anthropic.toml").write_text(
        'provider = "anthropic"\n'
        + model("claude-haiku-4-5", "2025-10-15")
        + model("claude-haiku-10", "2026-06-01")  # 10.0 > 4.5: numbers, not text
        + model("claude-haiku-11-1", "2027-01-01")  # no price yet on 2026-12-01
        + model("claude-3-5-haiku", "2024-10-22")
    )
    (tmp_path / "p" / "vertex.toml").write_text(
        'provider = "vertex"\n'
        + model("vertex_ai/claude-haiku-12", "2025-01-01")  # another host: never
    )
    (tmp_path / "p" / "openai.toml").write_text(
        'provider = "openai"\n'
        + model("gpt-5-mini", "2025-08-07")
        + model("gpt-5.4-mini", "2026-03-17")
        + model("gpt-5.4-mini-preview", "2026-01-01")
    )
    table = pricing.load(bundled=tmp_path / "p")

    def pick(alias: str, day: date) -> str | None:
        m = pricing.family_model(table, alias, day)
        return m.id if m else None

    assert pick("haiku", date(2026, 12, 1)) == "claude-haiku-10"
    assert pick("Haiku", date(2026, 1, 1)) == "claude-haiku-4-5"
    assert pick("haiku", date(2027, 2, 1)) == "claude-haiku-11-1"
    assert pick("mini", date(2026, 12, 1)) == "gpt-5.4-mini"
    assert pick("sonnet", date(2026, 12, 1)) is None  # no Sonnet in this table
    assert pick("claude-haiku-4-5", date(2026, 12, 1)) is None  # not a family name
    target = pricing.route_target(table, "claude-haiku-4-5", date(2026, 12, 1))
    assert target is not None and target.id == "claude-haiku-4-5"
