"""`llmcost explain`: the cost bridge against hand-computed fixtures where one driver moves at a time.

Prices (USD per 1M tokens), in tests/test_explain.py's own price file:
ex-big   (mid):   input 10, output 20, cache read 1, batch x0.5 from 2026-01-01; input 5 from 2026-03-01
ex-small (small): input 1, output 2, cache read 0.1, batch x0.5
A January "chat" request on ex-big with 1,000 input and 100 output tokens costs
(1000 x 10 + 100 x 20) / 1e6 = 0.012; ten of them 0.12.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

PRICES = """
[[models]]
id = "ex-big"
provider = "test"
tier = "mid"
[[models.prices]]
effective_from = 2026-01-01
input = 10.0
output = 20.0
cache_read = 1.0
cache_write = 12.5
cache_write_1h = 20.0
batch_discount = 0.5
[[models.prices]]
effective_from = 2026-03-01
input = 5.0
output = 20.0
cache_read = 1.0
cache_write = 12.5
cache_write_1h = 20.0
batch_discount = 0.5

[[models]]
id = "ex-long"
provider = "test"
tier = "mid"
[[models.prices]]
effective_from = 2026-01-01
input = 10.0
output = 20.0
cache_read = 1.0
cache_write = 12.5
cache_write_1h = 20.0
long_context_threshold = 2000
long_input = 20.0
long_output = 30.0

[[models]]
id = "ex-small"
provider = "test"
tier = "small"
[[models.prices]]
effective_from = 2026-01-01
input = 1.0
output = 2.0
cache_read = 0.1
cache_write = 1.25
cache_write_1h = 2.0
batch_discount = 0.5
"""
DRIVERS = ("volume", "mix", "input_tokens", "output_tokens", "price", "long_context", "batch", "provider_cache",
           "semantic_cache", "new", "gone")  # fmt: skip


def reqs(month: str, n: int, *, feature: str = "chat", model: str = "ex-big", tin: int = 1000, tout: int = 100,
         start: int = 0, **extra: Any) -> list[dict[str, Any]]:  # fmt: skip
    return [
        {"request_id": f"{month}-{feature}-{start + i}", "timestamp": f"{month}-{1 + i % 27:02d}T12:00:00Z",
         "model": model, "feature": feature, "customer_id": "c1", "user_id": "u1",
         "input_tokens": tin, "output_tokens": tout, **extra}
        for i in range(n)
    ]  # fmt: skip


@pytest.fixture
def explain(jsonl: Any, run_cli: Any, tmp_path: Path) -> Any:
    prices = tmp_path / "ex.toml"
    prices.write_text(PRICES)

    def go(records: list[dict[str, Any]], *args: str, revenue: str | None = None) -> dict[str, Any]:
        paths = [str(jsonl(records))]
        if revenue is not None:
            (tmp_path / "revenue.csv").write_text(revenue)
            paths.append(str(tmp_path / "revenue.csv"))
        code, _, err = run_cli("--pricing", str(prices), "ingest", "-q", *paths)
        assert code == 0, err
        code, out, err = run_cli("--pricing", str(prices), "explain", *args, "--format", "json")
        assert code == 0, err
        doc = json.loads(out)
        assert doc["schema"] == "llmcost.explain/1"
        return doc  # type: ignore[no-any-return]

    return go


def drivers(doc: dict[str, Any]) -> dict[str, float]:
    return {d["driver"]: d["usd"] for d in doc["drivers"]}


def only(doc: dict[str, Any], name: str, usd: float) -> None:
    """`name` carries the whole change `usd`; every other driver is exactly 0; the parts add up."""
    d = drivers(doc)
    assert d[name] == pytest.approx(usd, abs=1e-12)
    assert all(d[k] == 0 for k in DRIVERS if k != name), d
    assert d["total"] == pytest.approx(usd, abs=1e-12)
    assert sum(d[k] for k in DRIVERS) == pytest.approx(d["total"], abs=1e-12)
    assert doc["totals"]["residual_usd"] == 0


JAN = [
    "--since",
    "2026-02-01",
    "--until",
    "2026-02-28",
]  # this period February (a date-only --until includes that day), compared to January


def test_volume_alone(explain: Any) -> None:
    # February: twenty of the same requests, 0.24; change 0.12
    doc = explain(reqs("2026-01", 10) + reqs("2026-02", 20), *JAN)
    assert doc["compare_to"] == {"since": "2026-01-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"}
    assert doc["totals"]["previous_cost_usd"] == pytest.approx(0.12)
    only(doc, "volume", 0.12)


def test_input_tokens_alone(explain: Any) -> None:
    # 2,000 input tokens: (2000 x 10 + 100 x 20) / 1e6 = 0.022 each, 0.22; change 0.10
    only(explain(reqs("2026-01", 10) + reqs("2026-02", 10, tin=2000), *JAN), "input_tokens", 0.10)


def test_output_tokens_alone(explain: Any) -> None:
    # 300 output tokens: (10000 + 300 x 20) / 1e6 = 0.016 each, 0.16; change 0.04
    only(explain(reqs("2026-01", 10) + reqs("2026-02", 10, tout=300), *JAN), "output_tokens", 0.04)


def test_semantic_cache_alone(explain: Any) -> None:
    # five of ten answered by the app's cache: 5 x 0.012 = 0.06; change -0.06
    feb = reqs("2026-02", 5) + reqs("2026-02", 5, start=5, cache_hit=True)
    only(explain(reqs("2026-01", 10) + feb, *JAN), "semantic_cache", -0.06)


def test_provider_cache_alone(explain: Any) -> None:
    # half the input read from the prompt cache: (500 x 10 + 500 x 1 + 100 x 20) / 1e6 = 0.0075, 0.075
    feb = reqs("2026-02", 10, cache_read_tokens=500)
    only(explain(reqs("2026-01", 10) + feb, *JAN), "provider_cache", -0.045)


def test_batch_alone(explain: Any) -> None:
    # every request through the batch API at x0.5: 0.06; change -0.06
    only(explain(reqs("2026-01", 10) + reqs("2026-02", 10, batch=True), *JAN), "batch", -0.06)


def test_price_version_alone(explain: Any) -> None:
    # March: ex-big's input rate 10 -> 5: (1000 x 5 + 100 x 20) / 1e6 = 0.007, 0.07; change -0.05
    doc = explain(
        reqs("2026-02", 10) + reqs("2026-03", 10), "--since", "2026-03-01", "--until", "2026-03-31"
    )
    only(doc, "price", -0.05)
    assert doc["price_changes"] == [
        {"model": "ex-big", "previous": ["2026-01-01"], "current": ["2026-03-01"]}
    ]


def test_a_version_starting_inside_the_period(explain: Any) -> None:
    # this period 2026-02-20 .. 2026-03-10 spans ex-big's new version (input 5 from 03-01): 10 requests on
    # 02-25 at 0.012 and 10 on 03-05 at (1000 x 5 + 100 x 20) / 1e6 = 0.007: 0.19; before (01-20 .. 02-08)
    # 10 on 01-25 at 0.012: 0.12. Each request is priced at the version in force at its time.
    def on(day: str, n: int, start: int) -> list[dict[str, Any]]:
        return [{**r, "timestamp": f"{day}T12:00:00Z"} for r in reqs(day[:7], n, start=start)]

    recs = on("2026-01-25", 10, 0) + on("2026-02-25", 10, 0) + on("2026-03-05", 10, 0)
    doc = explain(
        recs,
        "--since",
        "2026-02-20",
        "--until",
        "2026-03-10",
        "--compare-to",
        "2026-01-20..2026-02-08",
    )
    t = doc["totals"]
    assert (t["previous_requests"], t["current_requests"]) == (10, 20)
    assert t["previous_cost_usd"] == pytest.approx(0.12, abs=1e-12)
    assert t["current_cost_usd"] == pytest.approx(0.19, abs=1e-12)
    assert t["residual_usd"] == 0 and t["sum_of_drivers_usd"] == pytest.approx(0.07, abs=1e-12)
    assert doc["price_changes"] == [
        {"model": "ex-big", "previous": ["2026-01-01"], "current": ["2026-01-01", "2026-03-01"]}
    ]


def test_long_context_alone(explain: Any) -> None:
    # ex-long: above 2,000 input tokens every token is at 20 / 30 instead of 10 / 20.
    # January: 5 x 3,000 in (long): (3000 x 20 + 100 x 30) / 1e6 = 0.063 and 5 x 1,000 in: 0.012; 0.375.
    # February: 10 x 2,000 in (not above): 0.022; 0.22. Same tokens per request (2,000 / 100), same base
    # rates: the change, -0.155, is all long-context share
    jan = reqs("2026-01", 5, model="ex-long", tin=3000) + reqs(
        "2026-01", 5, model="ex-long", start=5
    )
    doc = explain(jan + reqs("2026-02", 10, model="ex-long", tin=2000), *JAN)
    only(doc, "long_context", -0.155)
    d = {x["driver"]: x["detail"] for x in doc["drivers"]}
    assert "50.0% → 0.0%" in d["long_context"]


def test_mix_alone(explain: Any) -> None:
    # January 10 chat (0.012 each) + 10 tag on ex-small ((1000 x 1 + 100 x 2) / 1e6 = 0.0012 each) = 0.132;
    # February 5 chat + 15 tag = 0.06 + 0.018 = 0.078: the same 20 requests, change -0.054
    jan = reqs("2026-01", 10) + reqs("2026-01", 10, feature="tag", model="ex-small")
    feb = reqs("2026-02", 5) + reqs("2026-02", 15, feature="tag", model="ex-small")
    only(explain(jan + feb, *JAN), "mix", -0.054)


def test_model_switch_inside_a_feature_is_mix(explain: Any) -> None:
    # chat moves half its requests to ex-small (a cell new in February): 5 x 0.012 + 5 x 0.0012 = 0.066
    feb = reqs("2026-02", 5) + reqs("2026-02", 5, model="ex-small", start=5)
    doc = explain(reqs("2026-01", 10) + feb, *JAN)
    only(doc, "mix", -0.054)
    assert doc["rows"][0]["status"] == "continuing"


def test_new_and_gone_groups(explain: Any) -> None:
    # summarize appears in February (2 x 0.0012), tag disappears (10 x 0.0012); chat does not move
    jan = reqs("2026-01", 10) + reqs("2026-01", 10, feature="tag", model="ex-small")
    feb = reqs("2026-02", 10) + reqs("2026-02", 2, feature="summarize", model="ex-small")
    doc = explain(jan + feb, *JAN)
    d = drivers(doc)
    assert d["new"] == pytest.approx(0.0024) and d["gone"] == pytest.approx(-0.012)
    assert all(d[k] == 0 for k in DRIVERS if k not in ("new", "gone"))
    status = {r["feature"]: r["status"] for r in doc["rows"]}
    assert status == {"chat": "continuing", "summarize": "new", "tag": "gone"}


def test_two_drivers_split_symmetrically(explain: Any) -> None:
    # January 10 x (1000 in, 100 out) = 0.12; February 20 x (2000 in, 100 out) = 20 x 0.022 = 0.44: change 0.32.
    # Input part N x i x 1e-5: 10 x 1000 -> 20 x 2000. Shapley: volume 1/2 (10 x 1000 + 10 x 2000) x 1e-5 = 0.15,
    # input tokens 1/2 (1000 x 10 + 1000 x 20) x 1e-5 = 0.15. Output part N x 100 x 2e-5: 0.02 -> 0.04, all volume.
    d = drivers(explain(reqs("2026-01", 10) + reqs("2026-02", 20, tin=2000), *JAN))
    assert d["volume"] == pytest.approx(0.17, abs=1e-12)
    assert d["input_tokens"] == pytest.approx(0.15, abs=1e-12)
    assert d["total"] == pytest.approx(0.32, abs=1e-12)


def test_margin_bridge(explain: Any) -> None:
    # revenue 100 -> 130; cost 0.12 -> 0.24: margin 99.88 -> 129.76, change 29.88 = 30 - 0.12
    revenue = "customer_id,month,revenue_usd\nc1,2026-01,100\nc1,2026-02,130\n"
    doc = explain(reqs("2026-01", 10) + reqs("2026-02", 20), *JAN, revenue=revenue)
    m = doc["margin"]
    assert m["revenue_change_usd"] == pytest.approx(30)
    assert m["previous_margin_usd"] == pytest.approx(99.88) and m[
        "current_margin_usd"
    ] == pytest.approx(129.76)
    parts = {p["label"]: p["usd"] for p in m["bridge"]}
    assert parts["revenue"] == pytest.approx(30) and parts["volume (requests)"] == pytest.approx(
        -0.12
    )
    assert parts["total margin change"] == pytest.approx(29.88)
    assert sum(v for k, v in parts.items() if k != "total margin change") == pytest.approx(29.88)


def test_no_margin_bridge_when_a_period_has_no_revenue(explain: Any) -> None:
    revenue = "customer_id,month,revenue_usd\nc1,2026-02,130\n"
    doc = explain(reqs("2026-01", 10) + reqs("2026-02", 20), *JAN, revenue=revenue)
    assert doc["margin"] is None  # January's margin is unknown, not $0 - $0.12


def test_by_model_and_default_period(explain: Any) -> None:
    # default: this period is the month of the last request (February), compared to the one before
    doc = explain(reqs("2026-01", 10) + reqs("2026-02", 20), "--by", "model")
    assert doc["period"]["since"] == "2026-02-01T00:00:00Z" and doc["by"] == ["model"]
    assert doc["rows"][0]["model"] == "ex-big"
    only(doc, "volume", 0.12)


def test_compare_to_a_month_and_terminal(explain: Any, run_cli: Any, tmp_path: Path) -> None:
    explain(
        reqs("2026-01", 10) + reqs("2026-02", 20) + reqs("2026-03", 20), "--compare-to", "2026-01"
    )
    code, out, _ = run_cli("--pricing", str(tmp_path / "ex.toml"), "explain", "--since", "2026-02-01", "--until",
                           "2026-02-28", "--compare-to", "2026-01-01..2026-01-31")  # fmt: skip
    assert code == 0
    # money below $1 in three significant digits
    assert "cost $0.120  →  $0.240   change +$0.120 (100.0%)" in out
    assert "add up to the change exactly" in out and "cost bridge" in out
    code, out, _ = run_cli(
        "--pricing", str(tmp_path / "ex.toml"), "explain", "--format", "markdown"
    )
    assert code == 0 and "| volume (requests) |" in out


def test_compare_to_a_date_only_until_includes_that_day(explain: Any) -> None:
    # ten January requests on days 1-10 and one on the 31st at noon: 2026-01-01..2026-01-31 reads as
    # --until 2026-01-31 does, up to the end of the 31st (11 x 0.012 = 0.132); a time UNTIL stays exclusive
    recs = reqs("2026-01", 10) + reqs("2026-02", 20)
    recs.append({**reqs("2026-01", 1, start=99)[0], "timestamp": "2026-01-31T12:00:00Z"})
    doc = explain(recs, *JAN, "--compare-to", "2026-01-01..2026-01-31")
    assert doc["compare_to"] == {"since": "2026-01-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"}
    assert doc["totals"]["previous_requests"] == 11
    assert doc["totals"]["previous_cost_usd"] == pytest.approx(0.132, abs=1e-12)
    doc = explain([], *JAN, "--compare-to", "2026-01-01..2026-01-31T00:00:00Z")
    assert doc["compare_to"]["until"] == "2026-01-31T00:00:00Z"
    assert doc["totals"]["previous_requests"] == 10
    assert doc["totals"]["previous_cost_usd"] == pytest.approx(0.12, abs=1e-12)


@pytest.mark.parametrize("command", [["explain"], ["export"], ["prices", "check"]])
def test_until_help_says_a_date_includes_its_day(run_cli: Any, command: list[str]) -> None:
    code, out, _ = run_cli(*command, "--help")
    text = " ".join(out.replace("│", " ").split())
    assert code == 0 and "exclusive)" not in text
    assert "a date includes that day (2026-10-31), a time is exclusive" in text


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--compare-to", "last-year"], "cannot read --compare-to"),
        (["--compare-to", "2026-02"], "the two periods overlap"),
        (["--by", "user"], "unknown --by 'user' for explain"),
        (["--since", "2026-03-01", "--until", "2026-02-01"], "the window is empty or inverted"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    explain: Any, run_cli: Any, args: list[str], needle: str
) -> None:
    explain(reqs("2026-01", 2) + reqs("2026-02", 2))
    code, out, err = run_cli("explain", *args)
    assert code == 2 and out == ""
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_empty_database(run_cli: Any) -> None:
    # read commands never create a database: with nothing ingested, explain says to ingest first
    code, _, err = run_cli("explain")
    assert code == 2 and "no llmcost database" in err and "llmcost ingest" in err


# ---------------------------------------------------------------- the split itself


def test_shapley_product_by_hand() -> None:
    from llmcost.explain import shapley_product

    # x*y from 2*3 = 6 to 4*5 = 20: x gets (4-2) x 1/2 (3 + 5) = 8, y (5-3) x 1/2 (2 + 4) = 6; 8 + 6 = 14
    f = Fraction
    v = shapley_product([("x", f(2), f(4)), ("y", f(3), f(5))])
    assert v == {"x": f(8), "y": f(6)}
    # three factors 1 -> 2 each: symmetric, 7/3 each
    v = shapley_product([("a", f(1), f(2)), ("b", f(1), f(2)), ("c", f(1), f(2))])
    assert v == {"a": f(7, 3), "b": f(7, 3), "c": f(7, 3)}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(0, 10), st.integers(0, 10),
                  st.integers(0, 5000), st.integers(0, 5000), st.integers(0, 900), st.integers(0, 900),
                  st.booleans(), st.booleans()),
        min_size=1, max_size=6,
    )
)  # fmt: skip
def test_cells_always_add_up_exactly(cells: list[tuple[Any, ...]]) -> None:
    from decimal import Decimal

    from llmcost.explain import BUCKETS, _Side, split_cell
    from llmcost.explain import DRIVERS as NAMES

    def side(n: int, hits: int, tin: int, tout: int, cr: int, batch: bool) -> _Side:
        s = _Side(n=n, hits=min(hits, n), batch_n=n if batch else 0)
        served = s.n - s.hits
        cr = min(cr, tin)
        s.in_t = served * tin
        s.tokens.update(unc=served * (tin - cr), cr=served * cr, out=served * tout)
        rates = {
            "unc": Decimal("3"),
            "cr": Decimal("0.3"),
            "out": Decimal("15"),
            "cw": Decimal(0),
            "cw1": Decimal(0),
        }
        for b in BUCKETS:
            s.list_cost[b] = Fraction(s.tokens[b]) * Fraction(rates[b]) / 1_000_000
            s.cost[b] = s.list_cost[b] * (Fraction(1, 2) if batch else 1)
        return s

    sides = [(side(a, ha, ia, ta, ia // 2, ba), side(b, hb, ib, tb, ib // 3, bb))
             for a, b, ha, hb, ia, ib, ta, tb, ba, bb in cells]  # fmt: skip
    n_a, n_b = sum(a.n for a, _ in sides), sum(b.n for _, b in sides)
    total = dict.fromkeys(NAMES, Fraction(0))
    for a, b in sides:
        for k, v in split_cell(a, b, n_a, n_b).items():
            total[k] += v
    change = sum((b.total() - a.total() for a, b in sides), Fraction(0))
    assert sum(total.values(), Fraction(0)) == change


def test_html_report_draws_the_waterfall(explain: Any, run_cli: Any, tmp_path: Path) -> None:
    # the report's window (January and February) has no previous period with requests: the bridge is
    # February's from January's, the volume case above (+$0.12)
    explain(reqs("2026-01", 10) + reqs("2026-02", 20))
    out = tmp_path / "report.html"
    code, _, err = run_cli(
        "--pricing", str(tmp_path / "ex.toml"), "report", "--format", "html", "-o", str(out)
    )
    assert code == 0, err
    page = out.read_text()
    section = page[
        page.index('id="explain"') : page.index("</section>", page.index('id="explain"'))
    ]
    assert "<svg" in section and "change $0.120" in section
    assert '<td>volume (requests)</td><td class="n">$0.120</td>' in section


def test_sample_costs_agree_with_report(run_cli: Any) -> None:
    # on the sample: both periods' costs are the report's for the same windows, and the parts add up
    root = Path(__file__).resolve().parents[1] / "sample_logs"
    code, _, err = run_cli("ingest", "-q", str(root / "logs"), str(root / "revenue.csv"))
    assert code == 0, err
    code, out, err = run_cli("explain", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["period"] == {"since": "2026-10-01T00:00:00Z", "until": "2026-11-01T00:00:00Z"}
    for key, since, until in (
        ("previous", "2026-09-01", "2026-09-30"),  # a date-only --until includes that day
        ("current", "2026-10-01", "2026-10-31"),
    ):
        code, out, err = run_cli("report", "--since", since, "--until", until, "--format", "json")
        assert code == 0, err
        assert doc["totals"][f"{key}_cost_usd"] == pytest.approx(
            json.loads(out)["totals"]["cost_usd"], abs=1e-9
        )
    parts = sum(d["usd"] for d in doc["drivers"] if d["driver"] != "total")
    assert (
        parts == pytest.approx(doc["totals"]["change_usd"], abs=1e-9)
        and doc["totals"]["residual_usd"] == 0
    )
    assert sum(r["change_usd"] for r in doc["rows"]) == pytest.approx(
        doc["totals"]["change_usd"], abs=1e-9
    )
