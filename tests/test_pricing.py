"""SPEC §4: the dated price table, the point-in-time join, the cost formula, broken price files.

Money is checked against hand computations with the real bundled prices (USD per 1M tokens).
"""

from __future__ import annotations

import itertools
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmcost import pricing

E = Decimal("1e-9")
_ids = itertools.count()


@pytest.fixture(scope="module")
def table() -> pricing.PriceTable:
    return pricing.load()


def add(con: Any, model: str, ts: datetime, *, input_tokens: int = 0, output_tokens: int = 0,
        cache_read: int = 0, cache_write: int = 0, cache_write_1h: int = 0, batch: bool = False,
        cache_hit: bool = False, feature: str | None = None, rid: str | None = None) -> str:  # fmt: skip
    """Insert one request row directly (what ingest would store)."""
    rid = rid or f"r{next(_ids)}"
    con.execute(
        """INSERT INTO requests (source_kind, request_id, rid_hash, file_id, line_no, ts, model, feature, status,
               input_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens,
               reasoning_tokens, cache_hit, batch, estimated)
           VALUES ('requests', ?, hash(?), 1, 1, ?, ?, ?, 'ok', ?, ?, ?, ?, ?, 0, ?, ?, false)""",
        [rid, rid, ts, model, feature, input_tokens, cache_read, cache_write, cache_write_1h, output_tokens,
         cache_hit, batch],
    )  # fmt: skip
    return rid


def priced(con: Any, table: pricing.PriceTable) -> dict[str, tuple[Any, ...]]:
    pricing.install(con, table)
    rows = con.execute(
        "SELECT request_id, price_model, list_cost_usd, cost_usd FROM priced"
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def cost_of(con: Any, table: pricing.PriceTable, rid: str) -> Decimal | None:
    value = priced(con, table)[rid][2]
    return None if value is None else Decimal(value)


# ---------------------------------------------------------------- hand-computed money


def test_sonnet_4_5_every_token_bucket(con: Any, table: pricing.PriceTable) -> None:
    when = datetime(2025, 10, 1, 12)
    rid = add(con, "claude-sonnet-4-5", when, input_tokens=10_000, cache_read=2_000, cache_write=1_000,
              cache_write_1h=500, output_tokens=800)  # fmt: skip
    # rates 3 / 15, cache read 0.30, 5m write 3.75, 1h write 6.00 per 1M tokens
    # uncached = 10000 - 2000 - 1000 - 500 = 6500
    # 6500*3 + 2000*0.30 + 1000*3.75 + 500*6.00 + 800*15 = 19500 + 600 + 3750 + 3000 + 12000 = 38850 -> 0.03885
    assert cost_of(con, table, rid) == Decimal("0.03885")
    v = table.resolve("claude-sonnet-4-5").version_at(when)  # type: ignore[union-attr]
    assert v is not None
    assert v.cost(input_tokens=10_000, cache_read_tokens=2_000, cache_write_tokens=1_000, cache_write_1h_tokens=500,
                  output_tokens=800) == Decimal("0.03885")  # fmt: skip


def test_batch_halves(con: Any, table: pricing.PriceTable) -> None:
    rid = add(con, "claude-sonnet-4-5", datetime(2025, 10, 1), input_tokens=10_000, cache_read=2_000,
              cache_write=1_000, cache_write_1h=500, output_tokens=800, batch=True)  # fmt: skip
    # 0.03885 (above) x (1 - 0.5) = 0.019425
    assert cost_of(con, table, rid) == Decimal("0.019425")


def test_five_minute_and_one_hour_writes(con: Any, table: pricing.PriceTable) -> None:
    t = datetime(2025, 11, 1)
    five = add(con, "claude-sonnet-4-5", t, input_tokens=100_000, cache_write=100_000)
    hour = add(con, "claude-sonnet-4-5", t, input_tokens=100_000, cache_write_1h=100_000)
    read = add(con, "claude-sonnet-4-5", t, input_tokens=100_000, cache_read=100_000)
    # 100k tokens each (under the 200k long tier): 5m write 100000*3.75 = 375000 -> 0.375,
    # 1h write 100000*6.00 -> 0.6, read 100000*0.30 -> 0.03
    assert [cost_of(con, table, r) for r in (five, hour, read)] == [
        Decimal("0.375"),
        Decimal("0.6"),
        Decimal("0.03"),
    ]


def test_o3_price_cut_boundary(con: Any, table: pricing.PriceTable) -> None:
    before = add(
        con, "o3", datetime(2025, 6, 9, 23, 59, 59, 999999), input_tokens=1_000, output_tokens=1_000
    )
    at = add(con, "o3", datetime(2025, 6, 10), input_tokens=1_000, output_tokens=1_000)
    # 1 µs before the cut: 10 / 40 -> (1000*10 + 1000*40) / 1e6 = 0.05
    # at midnight UTC: 2 / 8 -> (1000*2 + 1000*8) / 1e6 = 0.01
    assert cost_of(con, table, before) == Decimal("0.05")
    assert cost_of(con, table, at) == Decimal("0.01")
    model = table.resolve("o3")
    assert model is not None
    assert model.version_at(datetime(2025, 6, 9, 23, 59, 59, 999999)).input == Decimal(10)  # type: ignore[union-attr]
    assert model.version_at(date(2025, 6, 10)).input == Decimal(2)  # type: ignore[union-attr]


def test_o3_before_release_is_unpriced(con: Any, table: pricing.PriceTable) -> None:
    early = add(
        con, "o3", datetime(2025, 4, 15, 23, 59, 59), input_tokens=1_000, output_tokens=1_000
    )
    first = add(con, "o3", datetime(2025, 4, 16), input_tokens=1_000, output_tokens=1_000)
    got = priced(con, table)
    assert got[early] == (None, None, None)  # NULL, never 0
    assert Decimal(got[first][2]) == Decimal("0.05")


def test_long_context_cliff_gemini_2_5_pro(con: Any, table: pricing.PriceTable) -> None:
    t = datetime(2025, 7, 1)
    at = add(con, "gemini-2.5-pro", t, input_tokens=200_000, output_tokens=1_000)
    above = add(
        con, "gemini-2.5-pro", t, input_tokens=200_001, cache_read=100_000, output_tokens=1_000
    )
    # exactly 200,000 stays base (1.25 / 10): 200000*1.25 + 1000*10 = 260000 -> 0.26
    assert cost_of(con, table, at) == Decimal("0.26")
    # 200,001: ALL tokens at the long rates (2.50 / 15, cache read 0.25):
    # 100001*2.50 + 100000*0.25 + 1000*15 = 250002.5 + 25000 + 15000 = 290002.5 -> 0.2900025
    assert cost_of(con, table, above) == Decimal("0.2900025")


def test_long_context_batch_and_scaled_cache_write(con: Any, table: pricing.PriceTable) -> None:
    t = datetime(2025, 10, 1)
    rid = add(con, "claude-sonnet-4-5", t, input_tokens=300_000, cache_write_1h=100_000, output_tokens=10_000,
              batch=True)  # fmt: skip
    # long rates: input 6, output 22.5, 1h write = 6.00 x (6/3) = 12
    # (200000*6 + 100000*12 + 10000*22.5) / 1e6 = (1200000 + 1200000 + 225000) / 1e6 = 2.625; batch x0.5 = 1.3125
    assert cost_of(con, table, rid) == Decimal("1.3125")


def test_semantic_cache_hit_costs_nothing_but_keeps_list_cost(
    con: Any, table: pricing.PriceTable
) -> None:
    rid = add(
        con,
        "claude-sonnet-4-5",
        datetime(2025, 10, 1),
        input_tokens=1_000,
        output_tokens=100,
        cache_hit=True,
    )
    model, list_cost, cost = priced(con, table)[rid]
    # list: 1000*3 + 100*15 = 4500 -> 0.0045
    assert model == "claude-sonnet-4-5"
    assert Decimal(list_cost) == Decimal("0.0045")
    assert cost == 0


def test_unknown_model_is_null_not_zero(con: Any, table: pricing.PriceTable) -> None:
    rid = add(con, "my-finetune-v7", datetime(2025, 10, 1), input_tokens=1_000, output_tokens=100)
    hit = add(
        con,
        "my-finetune-v7",
        datetime(2025, 10, 1),
        input_tokens=1_000,
        output_tokens=100,
        cache_hit=True,
    )
    got = priced(con, table)
    assert got[rid] == (None, None, None)
    assert got[hit] == (None, None, None)  # a cache hit of an unpriced model is unpriced too


@pytest.mark.parametrize(
    ("logged", "model_id"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("sonnet", "claude-sonnet-4-5"),
        ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("Claude-Sonnet-4-5", "claude-sonnet-4-5"),
        ("openai/gpt-4o", "gpt-4o"),
        ("o3-2025-04-16", "o3"),
    ],
)
def test_logged_names_resolve_through_aliases(
    con: Any, table: pricing.PriceTable, logged: str, model_id: str
) -> None:
    rid = add(con, logged, datetime(2025, 10, 1), input_tokens=10, output_tokens=1)
    assert priced(con, table)[rid][0] == model_id


# ---------------------------------------------------------------- coverage and `prices check`


def test_unpriced_models_in_report_and_prices_check(run_cli: Any, jsonl: Any) -> None:
    recs = [
        {"request_id": "a", "timestamp": "2025-10-01T00:00:00Z", "model": "claude-sonnet-4-5",
         "input_tokens": 1000, "output_tokens": 100},
        {"request_id": "b", "timestamp": "2025-10-01T00:00:00Z", "model": "my-finetune", "input_tokens": 5, "output_tokens": 5},
        {"request_id": "c", "timestamp": "2025-01-01T00:00:00Z", "model": "o3", "input_tokens": 5, "output_tokens": 5},
    ]  # fmt: skip
    assert run_cli("ingest", "-q", str(jsonl(recs)))[0] == 0
    # all of it (without a window the summary is the last full month)
    code, out, _ = run_cli("report", "--since", "2025-01-01", "--format", "json")
    doc = json.loads(out)
    assert code == 0
    cov = {k: doc["coverage"][k] for k in ("requests", "priced", "unpriced", "unpriced_models")}
    assert cov == {
        "requests": 3,
        "priced": 1,
        "unpriced": 2,
        "unpriced_models": ["my-finetune", "o3"],
    }
    # only the priced request counts: 1000*3 + 100*15 = 4500 -> 0.0045
    assert doc["totals"]["cost_usd"] == pytest.approx(0.0045, abs=1e-12)
    code, out, _ = run_cli("prices", "check", "--format", "json")
    assert code == 1  # requests are unpriced: the CI gate fails
    rows = {r["model"]: r for r in json.loads(out)["unpriced"]}
    assert set(rows) == {"my-finetune", "o3"}
    assert rows["my-finetune"]["reason"] == "no price for this model"
    assert rows["o3"]["reason"] == "requests before its first price (2025-04-16)"
    assert rows["o3"]["unpriced_requests"] == 1


def test_prices_check_warns_about_missing_cache_rates(run_cli: Any, tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(
        'provider = "acme"\n\n[[models]]\nid = "acme-1"\ntier = "small"\n\n'
        "[[models.prices]]\neffective_from = 2025-01-01\ninput = 1.5\noutput = 2\n"
    )
    code, out, _ = run_cli("--pricing", "mine.toml", "prices", "check", "--format", "json")
    assert code == 0
    warnings = [w for w in json.loads(out)["warnings"] if w.startswith("acme-1")]
    assert warnings == [f"acme-1 (from 2025-01-01): no {k} rate; priced at the input rate (1.5)"
                        for k in ("cache_read", "cache_write", "cache_write_1h")]  # fmt: skip


def test_missing_cache_rate_falls_back_to_input(con: Any, tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(
        'provider = "acme"\n\n[[models]]\nid = "acme-1"\ntier = "small"\n\n'
        "[[models.prices]]\neffective_from = 2025-01-01\ninput = 1.5\noutput = 2\n"
    )
    t = pricing.load([tmp_path / "mine.toml"])
    rid = add(
        con, "acme-1", datetime(2025, 2, 1), input_tokens=1_000, cache_read=400, output_tokens=10
    )
    # cache read priced at input: 1000*1.5 + 10*2 = 1520 -> 0.00152
    assert cost_of(con, t, rid) == Decimal("0.00152")


# ---------------------------------------------------------------- overlays


def test_overlay_same_date_wins_and_new_date_adds_a_version(con: Any, tmp_path: Path) -> None:
    (tmp_path / "deal.toml").write_text(
        '[[models]]\nid = "claude-sonnet-4-5"\n\n'
        "[[models.prices]]\neffective_from = 2025-09-29\ninput = 2.0\noutput = 10.0\ncache_read = 0.2\n"
        "cache_write = 2.5\ncache_write_1h = 4.0\n\n"
        "[[models.prices]]\neffective_from = 2026-01-01\ninput = 1.0\noutput = 5.0\n"
    )
    t = pricing.load([tmp_path / "deal.toml"])
    a = add(
        con,
        "claude-sonnet-4-5",
        datetime(2025, 12, 31, 23, 59),
        input_tokens=1_000,
        output_tokens=100,
    )
    b = add(con, "claude-sonnet-4-5", datetime(2026, 1, 1), input_tokens=1_000, output_tokens=100)
    # negotiated 2 / 10: 1000*2 + 100*10 = 3000 -> 0.003; from 2026: 1000*1 + 100*5 = 1500 -> 0.0015
    assert cost_of(con, t, a) == Decimal("0.003")
    assert cost_of(con, t, b) == Decimal("0.0015")
    assert str(tmp_path / "deal.toml") in t.files
    assert t.sha256 != pricing.load().sha256


def test_bundled_table_is_well_formed(table: pricing.PriceTable) -> None:
    assert {"anthropic", "openai", "google"} <= {m.provider for m in table.models.values()}
    for model in table.models.values():
        dates = [v.effective_from for v in model.versions]
        assert dates == sorted(dates) and len(set(dates)) == len(dates), model.id
        assert model.tier in pricing.TIERS


def test_hash_depends_on_contents(tmp_path: Path) -> None:
    body = 'provider = "acme"\n\n[[models]]\nid = "acme-1"\ntier = "small"\n\n[[models.prices]]\neffective_from = 2025-01-01\ninput = 1\noutput = 2\n'
    f = tmp_path / "acme.toml"
    f.write_text(body)
    h1 = pricing.load([f]).sha256
    assert pricing.load([f]).sha256 == h1
    f.write_text(body.replace("output = 2", "output = 3"))
    assert pricing.load([f]).sha256 != h1


# ---------------------------------------------------------------- broken price files


def test_toml_syntax_error_names_file_and_line(run_cli: Any, tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text('provider = "x"\n\n[[models]\nid = "m"\n')
    code, out, err = run_cli("--pricing", "broken.toml", "prices", "list")
    assert code == 2 and out == ""
    assert err.startswith("llmcost: error: cannot read prices: broken.toml: ")
    assert "line 3" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_semantic_error_names_file_and_line(run_cli: Any, tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text(
        'provider = "x"\n'  # 1
        "\n"  # 2
        "[[models]]\n"  # 3
        'id = "m1"\n'  # 4
        'tier = "small"\n'  # 5
        "\n"  # 6
        "[[models.prices]]\n"  # 7
        "effective_from = 2025-01-01\n"  # 8
        "input = 1\n"  # 9
        "output = 2\n"  # 10
        "\n"  # 11
        "[[models.prices]]\n"  # 12
        "effective_from = 2025-06-01\n"  # 13
        'input = "abc"\n'  # 14
        "output = 2\n"  # 15
    )
    code, out, err = run_cli("--pricing", "bad.toml", "report")
    assert code == 2 and out == ""
    assert err == (
        "llmcost: error: cannot read prices: bad.toml line 14: m1: 'input' must be a number, got 'abc'"
        " (see pricing/README.md for the format)\n"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[models]]\nid = "m"\ntier = "huge"\n', "tier must be one of small, mid, frontier"),
        (
            '[[models]]\nid = "m"\ntier = "small"\n[[models.prices]]\neffective_from = "soon"\ninput = 1\noutput = 1\n',
            "'effective_from' must be a date",
        ),
        (
            '[[models]]\nid = "m"\ntier = "small"\n[[models.prices]]\neffective_from = 2025-01-01\ninput = -1\noutput = 1\n',
            "'input' must not be negative",
        ),
        (
            '[[models]]\nid = "m"\ntier = "small"\n[[models.prices]]\neffective_from = 2025-01-01\ninput = 1\noutput = 1\nbatch_discount = 2\n',
            "'batch_discount' is a fraction from 0 to 1",
        ),
        (
            '[[models]]\nid = "m"\ntier = "small"\n[[models.prices]]\neffective_from = 2025-01-01\ninput = 1\noutput = 1\ninptu = 1\n',
            "unknown key 'inptu'",
        ),
    ],
)
def test_other_semantic_errors(run_cli: Any, tmp_path: Path, body: str, message: str) -> None:
    (tmp_path / "p.toml").write_text('provider = "x"\n' + body)
    code, _, err = run_cli("--pricing", "p.toml", "prices", "list")
    assert code == 2 and message in err and "p.toml line " in err and err.count("\n") == 1


def test_missing_pricing_path(run_cli: Any) -> None:
    code, _, err = run_cli("--pricing", "nope.toml", "prices", "list")
    assert (code, err) == (
        2,
        "llmcost: error: cannot read prices: nope.toml does not exist (check the --pricing path)\n",
    )


# ---------------------------------------------------------------- properties (hypothesis)

MODELS_AT = [
    ("claude-sonnet-4-5", datetime(2025, 10, 1)),  # long tier above 200k
    ("gemini-2.5-pro", datetime(2025, 7, 1)),  # long tier above 200k
    ("o3", datetime(2025, 5, 1)),  # before the cut
    ("o3", datetime(2025, 6, 10)),  # after the cut
    ("gpt-4o-mini", datetime(2025, 3, 1)),
    ("claude-haiku-4-5", datetime(2025, 11, 1)),
]


@st.composite
def requests_st(draw: Any) -> dict[str, Any]:
    model, ts = draw(st.sampled_from(MODELS_AT))
    input_tokens = draw(st.integers(0, 1_500_000))
    cr = draw(st.integers(0, input_tokens))
    cw = draw(st.integers(0, input_tokens - cr))
    cw1 = draw(st.integers(0, input_tokens - cr - cw))
    return {
        "model": model, "ts": ts, "input_tokens": input_tokens, "cache_read": cr, "cache_write": cw,
        "cache_write_1h": cw1, "output_tokens": draw(st.integers(0, 200_000)), "batch": draw(st.booleans()),
        "cache_hit": draw(st.booleans()), "feature": draw(st.sampled_from(["a", "b", "c", None])),
    }  # fmt: skip


_shared: dict[str, Any] = {}


def shared_con() -> Any:
    """One in-memory database for all hypothesis examples (function fixtures do not reset between them)."""
    if "con" not in _shared:
        from llmcost.store import connect

        _shared["con"] = connect(":memory:")
        _shared["table"] = pricing.load()
    con = _shared["con"]
    con.execute("DELETE FROM requests")
    return con


def python_cost(table: pricing.PriceTable, r: dict[str, Any]) -> Decimal:
    v = table.resolve(r["model"]).version_at(r["ts"])  # type: ignore[union-attr]
    assert v is not None
    return v.cost(
        input_tokens=r["input_tokens"], output_tokens=r["output_tokens"], cache_read_tokens=r["cache_read"],
        cache_write_tokens=r["cache_write"], cache_write_1h_tokens=r["cache_write_1h"], batch=r["batch"],
        cache_hit=r["cache_hit"],
    )  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(requests_st(), min_size=1, max_size=8))
def test_sql_agrees_with_python(reqs: list[dict[str, Any]]) -> None:
    con = shared_con()
    table = _shared["table"]
    rids = [add(con, **r) for r in reqs]
    got = priced(con, table)
    for rid, r in zip(rids, reqs, strict=True):
        assert abs(Decimal(got[rid][2]) - python_cost(table, r)) <= E, r


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(requests_st(), min_size=1, max_size=12))
def test_group_sums_equal_the_total(reqs: list[dict[str, Any]]) -> None:
    con = shared_con()
    for r in reqs:
        add(con, **r)
    pricing.install(con, _shared["table"])
    total = con.execute("SELECT sum(cost_usd) FROM priced").fetchone()[0]
    groups = con.execute("SELECT feature, sum(cost_usd) FROM priced GROUP BY feature").fetchall()
    assert abs(sum(Decimal(g[1]) for g in groups) - Decimal(total)) <= E
    expected = sum(python_cost(_shared["table"], r) for r in reqs)
    assert abs(Decimal(total) - expected) <= E


@given(
    st.sampled_from(MODELS_AT), st.integers(0, 100_000), st.integers(0, 100_000), st.integers(0, 100_000),
    st.integers(0, 100_000), st.integers(2, 10),
)  # fmt: skip
def test_cost_is_linear_in_tokens(
    model_at: tuple[str, datetime], uncached: int, cr: int, cw: int, out: int, k: int
) -> None:
    # stay under every long-context threshold (200k): k * 100k x 2 buckets could cross it, so cap at 1/k
    table = _shared.get("table") or pricing.load()
    _shared["table"] = table
    v = table.resolve(model_at[0]).version_at(model_at[1])  # type: ignore[union-attr]
    assert v is not None
    scale = max(1, (uncached + cr + cw) * k // 190_000 + 1)
    uncached, cr, cw = uncached // scale, cr // scale, cw // scale

    def c(m: int, batch: bool = False) -> Decimal:
        return v.cost(input_tokens=m * (uncached + cr + cw), cache_read_tokens=m * cr, cache_write_tokens=m * cw,
                      output_tokens=m * out, batch=batch)  # fmt: skip

    assert c(k) == k * c(1)
    assert c(1) + c(k - 1) == c(k)
    # batch: x (1 - discount); every model here has discount 0.5, so batch halves
    assert v.batch_discount == Decimal("0.5")
    assert c(1, batch=True) * 2 == c(1)


def test_cost_of_nothing_is_zero(table: pricing.PriceTable) -> None:
    v = table.resolve("gpt-4o").version_at(date(2025, 10, 1))  # type: ignore[union-attr]
    assert v is not None and v.cost(input_tokens=0, output_tokens=0) == 0
