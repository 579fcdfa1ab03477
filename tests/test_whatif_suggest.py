"""`whatif --suggest`: each rule on a hand-computed fixture, its reproducing command, margin points, and the sample.

Prices (USD per 1M tokens), one vendor "acme" of this file's own, so that the bundled table cannot
change which model a rule picks; batch x0.5 everywhere:
acme-frontier (frontier) in 15 / out 75;  acme-mid and acme-mid-old (mid) in 3 / out 15, cache read 0.30,
cache write 3.75 (acme-mid is the newer one);  acme-small (small) in 1 / out 5;  acme-tiny (small) in 0.25 /
out 1.25.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def model(mid: str, tier: str, tin: float, tout: float, since: str = "2026-01-01") -> str:
    return f"""
[[models]]
id = "{mid}"
provider = "acme"
tier = "{tier}"
[[models.prices]]
effective_from = {since}
input = {tin}
output = {tout}
cache_read = {tin / 10}
cache_write = {tin * 1.25}
cache_write_1h = {tin * 2}
batch_discount = 0.5
"""


PRICES = (
    model("acme-frontier", "frontier", 15, 75)
    + model("acme-mid", "mid", 3, 15, "2026-02-01")
    + model("acme-mid-old", "mid", 3, 15, "2025-06-01")
    + model("acme-small", "small", 1, 5)
    + model("acme-tiny", "small", 0.25, 1.25)
)


def req(
    i: int, feature: str, mdl: str, tin: int, tout: int, *, ts: str | None = None, **extra: Any
) -> dict[str, Any]:
    # spread over days and hours (no schedule), unless a time is given
    when = ts or f"2026-03-{1 + i % 27:02d}T{i % 24:02d}:{i % 60:02d}:00Z"
    return {"request_id": f"{feature}-{i}", "timestamp": when, "model": mdl, "feature": feature,
            "customer_id": "c1", "input_tokens": tin, "output_tokens": tout, **extra}  # fmt: skip


@pytest.fixture
def suggest(jsonl: Any, run_cli: Any, tmp_path: Path) -> Any:
    prices = tmp_path / "acme.toml"
    prices.write_text(PRICES)

    def go(records: list[dict[str, Any]], revenue: str | None = None) -> dict[str, Any]:
        paths = [str(jsonl(records))]
        if revenue:
            (tmp_path / "revenue.csv").write_text(revenue)
            paths.append(str(tmp_path / "revenue.csv"))
        code, _, err = run_cli("--pricing", str(prices), "ingest", "-q", *paths)
        assert code == 0, err
        code, out, err = run_cli(
            "--pricing", str(prices), "whatif", "--suggest", "--format", "json"
        )
        assert code == 0, err
        return json.loads(out)  # type: ignore[no-any-return]

    return go


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in doc["rows"]}


def test_routing_picks_by_tier_and_vendor(suggest: Any, run_cli: Any, tmp_path: Path) -> None:
    tagger = [req(i, "tagger", "acme-mid", 100, 10) for i in range(10)]
    chat = [req(i, "chat", "acme-frontier", 2000, 500) for i in range(10)]
    doc = suggest(tagger + chat, revenue="customer_id,month,revenue_usd\nc1,2026-03,10\n")
    rows = by_name(doc)
    # chat is not short: one tier down, the cheapest mid model, the newer of two at the same rate.
    # (2000 x 15 + 500 x 75) / 1e6 = 0.0675 -> (2000 x 3 + 500 x 15) / 1e6 = 0.0135; x 10: saves 0.54
    chat_row = rows["route chat acme-frontier → acme-mid"]
    assert chat_row["savings_usd"] == pytest.approx(0.54, abs=1e-12) and chat_row["rank"] == 1
    # tagger is short (avg 100 in / 10 out): the cheapest small model.
    # (100 x 3 + 10 x 15) / 1e6 = 0.00045 -> (100 x 0.25 + 10 x 1.25) / 1e6 = 0.0000375; x 10: saves 0.004125
    tag = rows["route tagger acme-mid → acme-tiny"]
    assert tag["savings_usd"] == pytest.approx(0.004125, abs=1e-12)
    assert "classification-like" in tag["why"] and tag["quality"] == "not measured"
    # margin points: savings / revenue x 100 = 0.54 / 10 x 100 = 5.4
    assert chat_row["margin_points"] == pytest.approx(5.4)
    assert set(rows) == {"route chat acme-frontier → acme-mid", "route tagger acme-mid → acme-tiny"}
    # the command reproduces the number
    args = shlex.split(tag["command"])[1:]
    assert args == [
        "whatif",
        "--feature",
        "tagger",
        "--model",
        "acme-mid",
        "--route-to",
        "acme-tiny",
    ]
    code, out, err = run_cli("--pricing", str(tmp_path / "acme.toml"), *args, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["totals"]["scope_savings_usd"] == pytest.approx(0.004125, abs=1e-12)


def test_scheduled_feature_is_batchable(suggest: Any) -> None:
    # ten requests at 02:xx UTC on five days; (1000 x 0.25 + 100 x 1.25) / 1e6 = 0.000375 each, 0.00375: batch saves half
    recs = [
        req(i, "nightly", "acme-tiny", 1000, 100, ts=f"2026-03-{1 + i % 5:02d}T02:{i:02d}:00Z")
        for i in range(10)
    ]
    row = by_name(suggest(recs))["batch nightly"]
    assert row["savings_usd"] == pytest.approx(0.001875, abs=1e-12)
    assert "one hour of the day" in row["why"] and row["command"].endswith(
        "--feature nightly --batch"
    )


def test_long_agent_tasks_stop_at_p90(suggest: Any) -> None:
    # nine tasks of 2 steps, one of 30: P95 of steps = 2 + 0.55 x 28 = 17.4 >= 10; P90 = 2 + 0.1 x 28 = 4.8 -> 4.
    # --max-steps 4 drops steps 5..30 of the long task: 26 x 0.000375 = 0.00975
    recs = []
    for t in range(10):
        for s in range(30 if t == 9 else 2):
            recs.append(
                req(len(recs), "agent", "acme-tiny", 1000, 100, task_id=f"t{t}", step=s + 1)
            )
    row = by_name(suggest(recs))["stop agent tasks at 4 steps"]
    assert row["savings_usd"] == pytest.approx(0.00975, abs=1e-12)
    assert row["scenario"]["levers"]["max_steps"] == 4


def test_large_uncached_prefix_is_prompt_cached(suggest: Any) -> None:
    # three requests a minute apart, 4,000 uncached input tokens each: P10 4,000, prefix 2,000.
    # baseline (4000 x 3 + 10 x 15) / 1e6 = 0.01215 each, 0.03645.
    # first: write 2,000 at 3.75 + 2,000 at 3 + out: (7500 + 6000 + 150) / 1e6 = 0.01365;
    # the two warm ones read 2,000 at 0.30: (600 + 6000 + 150) / 1e6 = 0.00675 each. 0.02715: saves 0.0093
    recs = [req(i, "docs", "acme-mid", 4000, 10, ts=f"2026-03-02T10:0{i}:00Z") for i in range(3)]
    row = by_name(suggest(recs))["prompt-cache docs acme-mid"]
    assert row["savings_usd"] == pytest.approx(0.0093, abs=1e-12)
    assert row["scenario"]["levers"]["prompt_cache"] == 2000 and "not observed" in row["why"]


def test_nothing_to_save_says_so(suggest: Any, run_cli: Any) -> None:
    doc = suggest([req(i, "tiny", "acme-tiny", 100, 10) for i in range(5)])
    assert doc["rows"] == [] and any("no lever found" in n for n in doc["notes"])


def test_sample_puts_support_chat_on_a_small_model_in_the_top_three(run_cli: Any) -> None:
    from llmcost import pricing

    code, _, err = run_cli(
        "ingest",
        "-q",
        str(ROOT / "sample_logs" / "logs"),
        str(ROOT / "sample_logs" / "revenue.csv"),
    )
    assert code == 0, err
    code, out, err = run_cli("whatif", "--suggest", "--format", "json")
    assert code == 0, err
    top = json.loads(out)["rows"][:3]
    table = pricing.load()
    small = [
        r for r in top
        if r["lever"] == "route" and r["scenario"]["scope"]["features"] == ["support-chat"]
        and table.resolve(r["scenario"]["levers"]["route_to"]).tier == "small"  # type: ignore[union-attr]
    ]  # fmt: skip
    assert small, [r["name"] for r in top]
    assert all(
        r["margin_points"] is not None and r["command"].startswith("llmcost whatif ") for r in top
    )
    code, out, _ = run_cli("whatif", "--suggest")
    assert "reproduce each one" in out and "quality is not measured" in out


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ({"latency_ms": 120_000}, "100% of its requests take a minute or more"),
        ({"batch": True}, "already batch"),
    ],
)
def test_batchable_by_latency_or_partly_batch(
    suggest: Any, extra: dict[str, Any], why: str
) -> None:
    # four requests of 0.000375 (spread over days and hours: no schedule). By latency: all four go to
    # batch, saving half of 0.0015 = 0.00075. Partly batch (one of four already): the other three, 0.0005625
    recs = [req(i, "reports", "acme-tiny", 1000, 100, **(extra if extra.get("latency_ms") or i == 0 else {}))
            for i in range(4)]  # fmt: skip
    row = by_name(suggest(recs))["batch reports"]
    assert why in row["why"]
    assert row["savings_usd"] == pytest.approx(
        0.00075 if "latency_ms" in extra else 0.0005625, abs=1e-12
    )


def test_candidates_sharing_a_target_match_their_own_runs(
    suggest: Any, run_cli: Any, tmp_path: Path
) -> None:
    # two features routed to the same model are re-priced in one run --by feature,model: each row must be
    # what its own command gives. a: 3 x (100 x 3 + 10 x 15) / 1e6 = 0.00135 -> 3 x 0.0000375; b: 5 requests
    recs = [req(i, "a", "acme-mid", 100, 10) for i in range(3)] + [
        req(i, "b", "acme-mid", 100, 10) for i in range(5)
    ]
    rows = by_name(suggest(recs))
    assert set(rows) == {"route a acme-mid → acme-tiny", "route b acme-mid → acme-tiny"}
    for row in rows.values():
        code, out, err = run_cli(
            "--pricing",
            str(tmp_path / "acme.toml"),
            *shlex.split(row["command"])[1:],
            "--format",
            "json",
        )
        assert code == 0, err
        t = json.loads(out)["totals"]
        assert (row["scope_requests"], row["baseline_cost_usd"], row["savings_usd"]) == (
            t["scope_requests"], t["scope_baseline_cost_usd"], t["scope_savings_usd"])  # fmt: skip
    assert rows["route a acme-mid → acme-tiny"]["savings_usd"] == pytest.approx(
        3 * (0.00045 - 0.0000375), abs=1e-12
    )


def test_quantile_from_counts_is_duckdbs(con: Any) -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from llmcost.whatif import quantile_cont

    @settings(max_examples=80, deadline=None)
    @given(
        st.lists(st.integers(0, 5000), min_size=1, max_size=60),
        st.sampled_from([0.0, 0.1, 0.5, 0.9, 0.95, 1.0]),
    )
    def check(values: list[int], q: float) -> None:
        counts = sorted({v: values.count(v) for v in values}.items())
        want = con.execute(
            "SELECT quantile_cont(v, ?) FROM unnest(?) t(v)", [q, values]
        ).fetchone()[0]
        assert quantile_cont(counts, q) == pytest.approx(want, abs=1e-9)

    check()
