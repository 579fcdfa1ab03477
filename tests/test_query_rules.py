"""One definition per rule, in every command: the --where rule, revenue in a window, now().

The data, by hand (lc-test: $1 per 1,000,000 input tokens, so every request costs $1.00):
  c1 (plan pro):  2026-10-05 chat u1, 2026-10-20 chat u1, 2026-10-25 search u2
  c2 (plan free): 2026-10-22 search u3, 2026-10-23 (no feature) u3
  revenue: c1 2026-10 $31.00 (pro), c2 2026-10 $62.00 (free)
The window --since 2026-10-15 --until 2026-10-31 is [10-15, 11-01): 17 of October's 31 days, so
c1's October counts $17.00 and c2's $34.00: $51.00. Its requests: c1 chat 10-20 and search 10-25,
c2 search 10-22 and (none) 10-23; split by requests per customer-month: chat 17/2 = 8.50, search
17/2 + 34/2 = 25.50, (none) 17.00. The previous window of equal length, [09-28, 10-15), holds 14
days of October: c1 $14.00 and c2 $28.00, $42.00.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "llmcost"


def req(
    rid: str, day: str, customer: str, user: str, feature: str | None, plan: str
) -> dict[str, Any]:
    rec: dict[str, Any] = {"request_id": rid, "timestamp": f"2026-10-{day}T12:00:00Z", "model": "lc-test",
                           "customer_id": customer, "user_id": user, "plan": plan,
                           "input_tokens": 1_000_000, "output_tokens": 0}  # fmt: skip
    if feature is not None:
        rec["feature"] = feature
    return rec


RECORDS = [
    req("r1", "05", "c1", "u1", "chat", "pro"),
    req("r2", "20", "c1", "u1", "chat", "pro"),
    req("r3", "25", "c1", "u2", "search", "pro"),
    req("r4", "22", "c2", "u3", "search", "free"),
    req("r5", "23", "c2", "u3", None, "free"),
]
REVENUE = "customer_id,month,revenue_usd,plan\nc1,2026-10,31.00,pro\nc2,2026-10,62.00,free\n"
WINDOW = ["--since", "2026-10-15", "--until", "2026-10-31"]


@pytest.fixture
def cli(jsonl: Any, run_cli: Any, test_prices: Path, tmp_path: Path) -> Any:
    (tmp_path / "revenue.csv").write_text(REVENUE)
    code, _, err = run_cli(
        "--pricing",
        str(test_prices),
        "ingest",
        "-q",
        str(jsonl(RECORDS)),
        str(tmp_path / "revenue.csv"),
    )
    assert code == 0, err

    def go(*args: str) -> dict[str, Any]:
        code, out, err = run_cli("--pricing", str(test_prices), *args, "--format", "json")
        assert code == 0, err
        return json.loads(out)  # type: ignore[no-any-return]

    return go


# ---------------------------------------------------------------- --where


@pytest.mark.parametrize(
    ("where", "n"),
    [
        (["feature=chat", "feature=search"], 4),  # the same field repeated: any of the values (OR)
        (["feature=search", "customer=c2"], 1),  # different fields: all of them (AND)
        (["feature=search", "feature=chat", "user=u1"], 2),  # (chat OR search) AND u1
        (["feature="], 1),  # an empty value: the field is missing
        (["feature!="], 4),
        (["feature!=chat"], 3),  # != keeps the requests that have no feature
        (["feature!=chat", "feature!=search"], 1),  # every != holds
        (["feature='chat'"], 2),  # a quoted value (as a config file writes it) without its quotes
    ],
)
def test_where_is_one_rule_in_report_and_whatif(cli: Any, where: list[str], n: int) -> None:
    flags = [a for w in where for a in ("--where", w)]
    report = cli(
        "report", "--by", "customer", "--since", "2026-10-01", "--until", "2026-10-31", *flags
    )
    whatif = cli("whatif", "--batch", *flags)
    assert report["totals"]["requests"] == n
    assert whatif["totals"]["scope_requests"] == n


def test_where_errors_are_the_same_everywhere(run_cli: Any, cli: Any) -> None:
    for cmd in (["report"], ["whatif", "--batch"]):
        code, out, err = run_cli(*cmd, "--where", "nope=1")
        assert code == 2 and out == "" and err.count("\n") == 1
        assert err.startswith("llmcost: error: unknown --where field 'nope'")
    # tier is a price-table field: the what-if reads the requests, which have none
    code, _, err = run_cli("whatif", "--batch", "--where", "tier=small")
    assert code == 2 and "unknown --where field 'tier'" in err


# ---------------------------------------------------------------- revenue in a window


def test_partial_month_revenue_is_prorated_in_report(cli: Any) -> None:
    by = cli("report", "--by", "feature", *WINDOW)
    assert by["totals"]["revenue_usd"] == pytest.approx(51.0)
    rows = {r["feature"]: r["revenue_usd"] for r in by["rows"]}
    assert rows == pytest.approx({"chat": 8.5, "search": 25.5, None: 17.0})
    summary = cli("report", *WINDOW)
    assert summary["totals"]["revenue_usd"] == pytest.approx(51.0)


def test_partial_month_revenue_is_prorated_in_whatif(cli: Any) -> None:
    doc = cli("whatif", "--batch", *WINDOW)
    assert doc["totals"]["revenue_usd"] == pytest.approx(51.0)
    by = cli("whatif", "--batch", "--by", "feature", *WINDOW)
    assert {r["feature"]: r["revenue_usd"] for r in by["rows"]} == pytest.approx(
        {"chat": 8.5, "search": 25.5, None: 17.0}
    )
    customers = cli("whatif", "--batch", "--by", "customer", *WINDOW)
    assert {r["customer"]: r["revenue_usd"] for r in customers["rows"]} == pytest.approx(
        {"c1": 17.0, "c2": 34.0}
    )
    # --plan-price pro=62: c1's October at 62 counts 62 x 17/31 = 34.00 in the window; c2 keeps 34.00
    plans = cli("whatif", "--plan-price", "pro=62", *WINDOW)
    assert plans["totals"]["revenue_usd"] == pytest.approx(51.0)
    assert plans["totals"]["revenue_after_usd"] == pytest.approx(68.0)
    # the four requests of the window cost $4.00: margin (51 - 4) / 51 before, (68 - 4) / 68 after
    assert plans["totals"]["margin_before_pct"] == pytest.approx(47 / 51 * 100)
    assert plans["totals"]["margin_after_pct"] == pytest.approx(64 / 68 * 100)


def test_partial_month_revenue_is_prorated_in_explain(cli: Any) -> None:
    m = cli("explain", *WINDOW)["margin"]
    assert m["current_revenue_usd"] == pytest.approx(51.0)
    assert m["previous_revenue_usd"] == pytest.approx(42.0)


def test_partial_month_revenue_is_prorated_in_the_html_margins(cli: Any, tmp_path: Path) -> None:
    from datetime import datetime

    from llmcost import pricing, series
    from llmcost.query import Window
    from llmcost.store import connect

    con = connect(tmp_path / "db" / "llmcost.duckdb")
    try:
        pricing.install(con, pricing.load([tmp_path / "prices.toml"]))
        window = Window(datetime(2026, 10, 15), datetime(2026, 11, 1))
        where, params = window.sql("ts")
        feats = series.margins(con, window, where, params, "coalesce(feature, '(none)')", "feature")
        custs = series.margins(con, window, where, params, "customer_id", "customer")
    finally:
        con.close()
    assert {f["feature"]: f["revenue_usd"] for f in feats} == pytest.approx(
        {"chat": 8.5, "search": 25.5, "(none)": 17.0}
    )
    assert {c["customer"]: c["revenue_usd"] for c in custs} == pytest.approx(
        {"c1": 17.0, "c2": 34.0}
    )
    # search: 2 requests, $2.00, revenue $25.50 -> margin $23.50, 92.16 %
    search = next(f for f in feats if f["feature"] == "search")
    assert (search["requests"], search["cost_usd"]) == (2, pytest.approx(2.0))
    assert search["margin_pct"] == pytest.approx(23.5 / 25.5 * 100)


def test_check_margin_follows_the_report(cli: Any, run_cli: Any, tmp_path: Path) -> None:
    config = tmp_path / "llmcost.toml"
    config.write_text("[check]\nmin_margin_pct = 0\nmin_feature_margin_pct = 0\n")
    code, out, err = run_cli(
        "--pricing", str(tmp_path / "prices.toml"), "--config", str(config), "check", *WINDOW,
        "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    values = {r["name"]: r["value"] for r in json.loads(out)["rules"]}
    # the report's margin: (51 - 4) / 51; the worst feature: chat, one $1 request, (8.50 - 1) / 8.50
    assert values["min_margin_pct"] == pytest.approx(47 / 51 * 100)
    assert values["min_feature_margin_pct"] == pytest.approx(7.5 / 8.5 * 100)


# ---------------------------------------------------------------- now()


def test_now_is_pinned_everywhere(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMCOST_NOW", "2026-10-26T00:00:00Z")
    stamps = {
        name: doc["generated_at"]
        for name, doc in (
            ("report", cli("report", "--by", "feature")),
            ("whatif", cli("whatif", "--batch")),
            ("explain", cli("explain")),
        )
    }
    assert set(stamps.values()) == {"2026-10-26T00:00:00Z"}, stamps
    # a relative window is anchored at the pinned now: 2d is 10-24 .. 10-26, requests r3 (10-25) only
    assert cli("report", "--by", "feature", "--since", "2d")["totals"]["requests"] == 1
    assert cli("whatif", "--batch", "--since", "2d")["totals"]["requests"] == 1


# ---------------------------------------------------------------- one place each


def _sources() -> dict[str, str]:
    return {str(p.relative_to(SRC)): p.read_text(encoding="utf-8") for p in SRC.rglob("*.py")}


def test_each_rule_is_written_once() -> None:
    src = _sources()

    def holders(pattern: str) -> list[str]:
        return sorted(name for name, text in src.items() if re.search(pattern, text))

    assert holders(r"INTO requests\b") == ["store/writes.py"]  # the one writer of `requests`
    assert holders(r"LLMCOST_NOW") == ["query.py"]
    assert holders(r"coalesce\(task_id, request_id\)") == ["query.py"]  # the dimension list
    assert holders(r"_WHERE = re\.compile|WHERE_RX") == ["query.py"]  # the --where parser
    assert holders(r"epoch\(least\(") == ["revenue.py"]  # proration of a month
