"""Terminal output: the real width, columns that shrink, colour on a terminal only, numbers for people;
`-o` and the formats: the extension decides, the same columns and types everywhere, `--table`."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from llmcost import query, render, values
from llmcost.documents import Column, Table

ANSI = re.compile(r"\x1b\[[0-9;]*m")
HAIKU = "claude-haiku-4-5"


def rec(rid: str, ts: str, **kw: Any) -> dict[str, Any]:
    return {"request_id": rid, "timestamp": ts, "model": HAIKU, "input_tokens": 1000, "output_tokens": 0,
            "user_id": "u1", "customer_id": "c1", "feature": "chat", **kw}  # fmt: skip


@pytest.fixture
def loaded(run_cli: Any, jsonl: Any, tmp_path: Path) -> Any:
    """September: 2 haiku requests of 1000 input tokens ($0.001 each); October: 3 ($0.003), one with
    a long id-like feature name. Revenue c1: $10 in each month."""
    log = jsonl([
        rec("a", "2026-09-10T10:00:00Z"), rec("b", "2026-09-11T10:00:00Z"),
        rec("c", "2026-10-10T10:00:00Z"), rec("d", "2026-10-11T10:00:00Z"),
        rec("e", "2026-10-12T10:00:00Z", feature="feature-with-a-very-long-generated-name-0123456789abcdef"),
    ])  # fmt: skip
    (tmp_path / "rev.csv").write_text(
        "customer_id,month,revenue_usd\nc1,2026-09,10\nc1,2026-10,10\n"
    )
    (tmp_path / "llmcost.toml").write_text(
        "[check]\nmin_margin_pct = 60\nmax_unpriced_share = 0.01\n"
    )
    code, _, err = run_cli("ingest", "-q", str(log), str(tmp_path / "rev.csv"))
    assert code == 0, err
    return run_cli


# ---------------------------------------------------------------- width


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize(
    "args", [["report"], ["report", "--by", "feature"], ["prices", "list"], ["check"]]
)
def test_output_fits_the_terminal(
    loaded: Any, monkeypatch: pytest.MonkeyPatch, columns: int, args: list[str]
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    code, out, err = (
        loaded(*args, "--since", "2026-10-01", "--until", "2026-10-31")
        if args[0] != "prices"
        else loaded(*args)
    )
    assert code in (0, 1), err
    widest = max(len(line) for line in out.splitlines())
    assert widest <= columns
    if columns == 120 and args[0] == "report":
        assert widest > 80  # the width is used, not a fixed 80


def test_ids_are_cut_with_an_ellipsis_not_folded(
    loaded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    _, out, _ = loaded(
        "report", "--by", "feature", "--since", "2026-10-01", "--until", "2026-10-31"
    )
    rows = [ln for ln in out.splitlines() if ln.startswith("feature-with")]
    assert rows and all("…" in ln for ln in rows)
    assert not any(
        ln.startswith("0123456789") or ln.strip().startswith("name-") for ln in out.splitlines()
    )
    # every cell of a row on one line: each row line carries the request count
    assert all(re.search(r"\s1\s", ln) for ln in rows[:1])


def test_prices_list_cells_do_not_break_mid_word(
    run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for columns in ("80", "120"):
        monkeypatch.setenv("COLUMNS", columns)
        _, out, _ = run_cli("prices", "list")
        lines = out.splitlines()
        assert not any(ln.strip() in ("ic", "4-5") for ln in lines)
        anthropic = [ln for ln in lines if ln.startswith("anthropic")]
        assert anthropic and all(ln.split()[0] == "anthropic" for ln in anthropic)


def test_a_wide_table_continues_below_under_its_leading_columns() -> None:
    cols = [Column("feature")] + [Column(f"n{i}", f"number {i}", "int") for i in range(12)]
    t = Table("wide", cols, [{"feature": "chat", **{f"n{i}": 1000 * i for i in range(12)}}])

    class R:
        def headline(self) -> list[str]:
            return []

        def tables(self) -> list[Table]:
            return [t]

        def to_json(self) -> dict[str, Any]:
            return {}

    out = render.to_terminal(R(), width=60, color=False)
    assert "wide (continued)" in out
    assert max(len(ln) for ln in out.splitlines()) <= 60
    parts = sum(ln.startswith("chat") for ln in out.splitlines())
    assert parts >= 2 and out.count("(continued)") == parts - 1  # the row in each part
    for i in range(12):
        assert f"number {i}" in out  # no column lost


# ---------------------------------------------------------------- colour


def test_colour_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert render.use_color(Tty()) is True
    assert render.use_color(io.StringIO()) is False  # a pipe or a file
    monkeypatch.setenv("NO_COLOR", "1")
    assert render.use_color(Tty()) is False
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert render.use_color(Tty()) is False


def test_fail_and_miss_are_red_pass_is_green(loaded: Any, tmp_path: Path) -> None:
    from llmcost import checks, pricing
    from llmcost.store import connect

    con = connect(tmp_path / "db" / "llmcost.duckdb")
    rules = {"min_margin_pct": 99.99, "max_unpriced_share": 0.5}
    result = checks.run(con, pricing.load(), rules, query.parse_window("2026-10-01", "2026-10-31"))
    out = render.to_terminal(result, width=120, color=True)
    fail = next(ln for ln in out.splitlines() if ANSI.sub("", ln).startswith("min_margin_pct"))
    ok = next(ln for ln in out.splitlines() if ANSI.sub("", ln).startswith("max_unpriced_share"))
    assert "\x1b[1;31mFAIL" in fail and "\x1b[1;32mpass" in ok
    assert ANSI.sub("", out) == render.to_terminal(result, width=120, color=False)
    _, plain, _ = loaded("check")  # not a terminal: no escape codes
    assert "\x1b[" not in plain


# ---------------------------------------------------------------- numbers and dates


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "$0"), (112.2712, "$112.27"), (-27.8982, "-$27.90"), (1234567.891, "$1,234,567.89"),
     (0.0279, "$0.0279"), (0.000146, "$0.000146"), (0.1, "$0.100"), (0.00000004, "<$0.000001")],
)  # fmt: skip
def test_money_for_people(value: float, text: str) -> None:
    assert values.fmt_usd(value) == text


def test_signed_changes_and_percentage_points() -> None:
    assert values.fmt_change(10.58, "usd", 30.0) == "+$10.58 (+30.0%)"
    assert values.fmt_change(-1.2, "usd") == "-$1.20"
    assert values.fmt_change(499, "int", 7.47) == "+499 (+7.5%)"
    assert values.fmt_change(-9.6, "pct", -14.1) == "-9.6 pp"  # points, never a relative %
    assert values.fmt_change(0, "int", 0.0) == "0 (0.0%)"


def test_summary_change_column_is_signed_with_points(loaded: Any) -> None:
    # October vs September: cost 0.003 vs 0.002 -> +$0.00100 (+50.0%); margin (10 - 0.003) / 10 =
    # 99.97 % vs 99.98 % -> -0.01 pp, printed -0.0 pp
    _, out, _ = loaded("report", "--since", "2026-10-01", "--until", "2026-10-31")
    cost = next(ln for ln in out.splitlines() if ln.startswith("total inference cost"))
    assert "+$0.00100 (+50.0%)" in cost
    margin = next(ln for ln in out.splitlines() if ln.startswith("gross margin %"))
    assert "-0.0 pp" in margin and "%)" not in margin


def test_windows_and_times_are_human(loaded: Any) -> None:
    _, out, _ = loaded("report", "--since", "2026-10-01", "--until", "2026-10-31")
    assert out.splitlines()[0] == (
        "window: 2026-10-01 to 2026-10-31 (31 days)   (previous: 2026-09-01 to 2026-09-30 (30 days))"
    )
    assert "T00:00:00Z" not in out
    assert values.fmt_window("2026-11-03T08:48:04Z", "2026-12-03T08:48:04Z") == (
        "2026-11-03 08:48:04 to 2026-12-03 08:48:04 UTC"
    )


# ---------------------------------------------------------------- -o and the formats


@pytest.mark.parametrize(
    ("name", "check"),
    [("r.json", lambda t: json.loads(t)["schema"] == "llmcost.report/1"),
     ("r.csv", lambda t: t.startswith("feature,requests,")),
     ("r.md", lambda t: t.startswith("## llmcost report")),
     ("r.html", lambda t: t.lstrip().lower().startswith("<!doctype html>")),
     ("r.txt", lambda t: t.startswith("window: "))],
)  # fmt: skip
def test_output_format_follows_the_extension(
    loaded: Any, tmp_path: Path, name: str, check: Any
) -> None:
    code, out, err = loaded("report", "--by", "feature", "-o", name)
    assert code == 0, err
    assert out == ""
    assert check((tmp_path / name).read_text())


def test_parquet_by_extension(loaded: Any, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    code, _, err = loaded("report", "--by", "feature", "-o", "r.parquet")
    assert code == 0, err
    assert pq.read_table(tmp_path / "r.parquet").column_names[0] == "feature"


def test_csv_numbers_are_the_json_numbers(loaded: Any, tmp_path: Path) -> None:
    # diff's totals: numbers (not "66.1%" text); prices: no 28-digit decimals
    loaded("report", "--until", "2026-09-30", "-o", "base.json")
    code, out, _ = loaded("diff", "--compare-to", "base.json", "--since", "2026-10-01", "--until",
                          "2026-10-31", "--format", "csv")  # fmt: skip
    assert code == 0
    rows = {r["metric"]: r for r in csv.DictReader(io.StringIO(out))}
    assert rows["margin_pct"]["delta"] and "%" not in rows["margin_pct"]["delta"]
    float(rows["margin_pct"]["delta"])
    assert float(rows["cost_usd"]["delta"]) == pytest.approx(0.001)  # 0.003 - 0.002
    _, out, _ = loaded("prices", "list", "--format", "csv")
    for row in csv.DictReader(io.StringIO(out)):
        for key in ("input", "output", "cache_read"):
            assert len(row[key]) < 20 and "%" not in row[key]
    doc = json.loads(loaded("prices", "list", "--format", "json")[1])
    by_id = {m["model"]: m for m in doc["models"]}
    first = next(csv.DictReader(io.StringIO(out)))
    assert float(first["input"]) == by_id[first["model"]]["input"]


def test_table_picks_the_table_of_a_multi_table_result(loaded: Any) -> None:
    args = ["report", "--by", "feature", "--format", "csv"]
    code, out, err = loaded(*args)
    assert code == 0 and out.startswith("feature,requests,")
    assert "table 'cost_by_feature' (1 of 2)" in err and "request_cost_and_usage_by_feature" in err
    code, out, err = loaded(*args, "--table", "request_cost_and_usage_by_feature")
    assert code == 0 and out.startswith("feature,p50_request_usd,") and err == ""
    code, out, err = loaded(*args, "--table", "nope")
    assert code == 2 and out == "" and "no table 'nope'" in err and "cost_by_feature" in err
    code, out, err = loaded("report", "--format", "csv", "--table", "per_month")
    assert code == 0 and out.startswith("month,cost_usd,")
