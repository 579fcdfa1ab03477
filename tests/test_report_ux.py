"""What a person sees around the numbers: windows, empty results, errors that say what to do.

Prices (bundled, USD per 1M tokens): claude-haiku-4-5 input 1, output 5. "mystery-1" has no price.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from llmcost import query
from llmcost.errors import LlmcostError

HAIKU = "claude-haiku-4-5"


def rec(rid: str, ts: str, model: str = HAIKU, **kw: Any) -> dict[str, Any]:
    return {"request_id": rid, "timestamp": ts, "model": model, "input_tokens": 1000,
            "output_tokens": 0, "user_id": "u1", "customer_id": "c1", "feature": "chat", **kw}  # fmt: skip


@pytest.fixture
def loaded(run_cli: Any, jsonl: Any, tmp_path: Path) -> Any:
    """Two September requests (haiku, $0.001 each: 1000 x $1 / 1e6) and one unpriced October one,
    with revenue $10 for c1 in September and $4 for c2 in October."""
    log = jsonl([
        rec("a", "2026-09-10T10:00:00Z"),
        rec("b", "2026-09-30T12:00:00Z"),
        rec("c", "2026-10-05T10:00:00Z", model="mystery-1", customer_id="c2", feature="search"),
    ])  # fmt: skip
    (tmp_path / "rev.csv").write_text(
        "customer_id,month,revenue_usd\nc1,2026-09,10\nc2,2026-10,4\n"
    )
    code, _, err = run_cli("ingest", "-q", str(log), str(tmp_path / "rev.csv"))
    assert code == 0, err
    return run_cli


def report_json(run: Any, *args: str) -> dict[str, Any]:
    code, out, err = run("report", *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def one_line_error(code: int, out: str, err: str) -> str:
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("llmcost: error: "), err
    assert "Traceback" not in err
    return lines[0]


# ---------------------------------------------------------------- misleading numbers


def test_unpriced_group_has_no_margin(loaded: Any) -> None:
    # "search" has one request, unpriced: its cost is unknown, so its margin is too (never 100 %).
    doc = report_json(loaded, "--since", "2026-09-01", "--until", "2026-10-31", "--by", "feature")
    rows = {r["feature"]: r for r in doc["rows"]}
    assert rows["search"]["cost_usd"] is None
    assert rows["search"]["revenue_usd"] == pytest.approx(4.0)
    assert rows["search"]["margin_pct"] is None and rows["search"]["margin_usd"] is None
    # chat: revenue 10 (all of c1's September), cost 0.002 -> margin (10 - 0.002) / 10 = 99.98 %
    assert rows["chat"]["margin_pct"] == pytest.approx(99.98)
    _, out, _ = loaded(
        "report", "--since", "2026-09-01", "--until", "2026-10-31", "--by", "feature"
    )
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("search"))
    assert "100.0%" not in line and "—" in line


def test_unpriced_model_has_no_margin_by_model(loaded: Any) -> None:
    doc = report_json(loaded, "--since", "2026-10-01", "--until", "2026-10-31", "--by", "model")
    (row,) = doc["rows"]
    assert row["model"] == "mystery-1" and row["margin_pct"] is None
    assert doc["totals"]["margin_pct"] is None  # the window's only request is unpriced


def test_relative_window_is_anchored_at_now(loaded: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMCOST_NOW", "2026-12-03T08:00:00Z")
    doc = report_json(loaded, "--since", "30d")
    assert doc["window"] == {"since": "2026-11-03T08:00:00Z", "until": "2026-12-03T08:00:00Z"}
    assert doc["totals"]["requests"] == 0
    code, out, _ = loaded("report", "--since", "30d")
    assert code == 0
    assert "no requests in this window; the data ends 2026-10-05" in out
    assert "revenue: none in this window" in out and "none loaded" not in out


def test_months_are_calendar_months() -> None:
    now = datetime(2026, 11, 30, 10)
    assert query.parse_when("3m", now=now) == datetime(2026, 8, 30, 10)
    assert query.parse_when("1m", now=datetime(2026, 3, 31)) == datetime(2026, 2, 28)
    assert query.parse_when("12m", now=now) == datetime(2025, 11, 30, 10)
    assert query.parse_when("11m", now=now) == datetime(2025, 12, 30, 10)


def test_date_only_until_includes_its_day(loaded: Any) -> None:
    # b is at 2026-09-30T12:00Z: --until 2026-09-30 includes it, --until 2026-09-30T00:00:00Z does not
    assert (
        report_json(loaded, "--since", "2026-09-01", "--until", "2026-09-30")["totals"]["requests"]
        == 2
    )
    doc = report_json(loaded, "--since", "2026-09-01", "--until", "2026-09-30T00:00:00Z")
    assert doc["totals"]["requests"] == 1


def test_inverted_window_is_an_error(loaded: Any) -> None:
    line = one_line_error(*loaded("report", "--since", "2026-10-01", "--until", "2026-09-01"))
    assert "--since 2026-10-01 is not before --until 2026-09-01" in line
    with pytest.raises(LlmcostError):
        query.parse_window("2026-10-01", "2026-10-01T00:00:00Z")


def test_diff_says_when_periods_differ_in_length(loaded: Any) -> None:
    code, _, err = loaded("report", "--since", "2026-09-01", "--until", "2026-09-30", "--by", "feature",
                          "--format", "json", "-o", "base.json")  # fmt: skip
    assert code == 0, err
    code, out, _ = loaded("diff", "--compare-to", "base.json", "--since", "2026-09-01",
                          "--until", "2026-10-31", "--format", "json")  # fmt: skip
    assert code == 0
    assert json.loads(out)["window_days"] == {"base": 30.0, "current": 61.0}
    code, out, _ = loaded(
        "diff", "--compare-to", "base.json", "--since", "2026-09-01", "--until", "2026-10-31"
    )
    assert "the periods differ in length: base 30 days, current 61 days" in out
    code, out, _ = loaded(
        "diff", "--compare-to", "base.json", "--since", "2026-10-01", "--until", "2026-10-30"
    )
    assert "differ in length" not in out


def test_reconcile_headline_adds_up(run_cli: Any, jsonl: Any, tmp_path: Path) -> None:
    # A bill for 2025-08 only ($0.50, an OpenAI costs page) and one request log in 2025-08 (haiku
    # 1000 in = $0.001) and one in 2025-09 ($0.001, no bill): the gap is 0.50 - 0.001 = 0.499.
    costs = {"object": "page", "data": [{"object": "bucket", "start_time": 1754006400, "end_time": 1754092800,
             "results": [{"object": "organization.costs.result", "amount": {"value": 0.5, "currency": "usd"},
                          "line_item": None, "project_id": None}]}], "has_more": False}  # fmt: skip
    (tmp_path / "costs.json").write_text(json.dumps(costs))
    log = jsonl([rec("a", "2025-08-02T10:00:00Z", provider="openai", model="gpt-4o-mini"),
                 rec("b", "2025-09-02T10:00:00Z", provider="openai", model="gpt-4o-mini")])  # fmt: skip
    code, _, err = run_cli("ingest", "-q", str(log), str(tmp_path / "costs.json"))
    assert code == 0, err
    code, out, err = run_cli("reconcile", "--format", "json")
    assert code == 0, err
    t = json.loads(out)["totals"]
    # gpt-4o-mini: input $0.15 per 1M -> 1000 tokens = $0.00015 per request
    assert t["logged_cost_billed_usd"] == pytest.approx(0.00015)
    assert t["logged_cost_unbilled_usd"] == pytest.approx(0.00015)
    assert t["gap_usd"] == pytest.approx(t["billed_cost_usd"] - t["logged_cost_billed_usd"])
    code, out, _ = run_cli("reconcile")
    # 0.5 - 0.00015 = 0.49985, all three printed to the decimals of the smallest
    assert "periods with a bill: billed $0.500000 - request logs $0.000150 = gap $0.499850" in out
    assert "request logs in periods with no bill: $0.000150" in out


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("target", ["missing/dir/x.txt", "."])
def test_output_into_a_missing_folder_or_onto_a_folder(loaded: Any, target: str) -> None:
    line = one_line_error(*loaded("report", "-o", target))
    assert ("does not exist" in line) if "missing" in target else ("is a folder" in line)


@pytest.mark.parametrize(
    "args",
    [["report"], ["report", "--by", "feature"], ["reconcile"], ["check"],
     ["whatif", "--batch"], ["ingest", "--show-rejects"], ["diff", "--compare-to", "base.json"]],
)  # fmt: skip
def test_read_commands_never_create_a_database(
    run_cli: Any, tmp_path: Path, args: list[str]
) -> None:
    db = tmp_path / "nowhere" / "x.duckdb"
    (tmp_path / "base.json").write_text(json.dumps({"schema": "llmcost.report/1", "by": []}))
    line = one_line_error(*run_cli("--db", str(db), *args))
    assert (
        line == f"llmcost: error: no llmcost database at {db}; run `llmcost ingest PATH...` first"
    )
    assert not db.parent.exists()


def test_make_demo_uses_the_default_database() -> None:
    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    demo = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    main_job = [
        ln for ln in demo.splitlines() if "sample_logs/logs" in ln or "report --by feature" in ln
    ]
    assert main_job and all("--db" not in ln for ln in main_job)


def test_whatif_keeps_every_model_given(run_cli: Any, jsonl: Any) -> None:
    # a: haiku $0.001, b: sonnet 1000 in x $3 = $0.003, c: gpt-4o-mini 1000 x $0.15 = $0.00015
    log = jsonl([rec("a", "2026-09-10T10:00:00Z"), rec("b", "2026-09-11T10:00:00Z", model="claude-sonnet-4-5"),
                 rec("c", "2026-09-12T10:00:00Z", model="gpt-4o-mini")])  # fmt: skip
    assert run_cli("ingest", "-q", str(log))[0] == 0
    code, out, err = run_cli("whatif", "--model", "haiku", "--model", "claude-sonnet-4-5", "--batch",
                             "--format", "json")  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    # batch halves the scope (both models: batch_discount 0.5): savings (0.001 + 0.003) x 0.5 = 0.002
    assert doc["totals"]["savings_usd"] == pytest.approx(0.002)
    assert doc["scenario"]["scope"]["models"] == ["haiku", "claude-sonnet-4-5"]


def test_estimate_of_an_empty_prompt_is_an_error(run_cli: Any, tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("  \n")
    line = one_line_error(*run_cli("estimate", str(tmp_path / "empty.txt")))
    assert "is empty: nothing to price" in line


# ---------------------------------------------------------------- grouping


@pytest.fixture
def mixed(run_cli: Any, jsonl: Any) -> Any:
    """Cost order (d4, d2, d1, d3) is not time order. Input per 1M: gpt-4.1-mini $0.40, gemini-2.5-flash
    $0.30. d1 gpt-4.1-mini 1000 in = $0.0004; d2 its dated name, 10,000 in = $0.004; d3 gemini-2.5-flash
    1000 in = $0.0003, logged with provider "gemini"; d4 the same model, 100,000 in = $0.03, "google"."""
    log = jsonl([
        rec("d1", "2026-09-01T10:00:00Z", model="gpt-4.1-mini", provider="openai"),
        rec("d2", "2026-09-08T10:00:00Z", model="gpt-4.1-mini-2025-04-14", provider="openai", input_tokens=10_000),
        rec("d3", "2026-09-15T10:00:00Z", model="gemini-2.5-flash", provider="gemini"),
        rec("d4", "2026-10-15T10:00:00Z", model="gemini-2.5-flash", provider="google", input_tokens=100_000),
    ])  # fmt: skip
    assert run_cli("ingest", "-q", str(log))[0] == 0
    return run_cli


@pytest.mark.parametrize(
    ("by", "expected"),
    [("day", ["2026-09-01", "2026-09-08", "2026-09-15", "2026-10-15"]),
     ("week", ["2026-08-31", "2026-09-07", "2026-09-14", "2026-10-12"]),
     ("month", ["2026-09", "2026-10"])],
)  # fmt: skip
def test_periods_in_time_order(mixed: Any, by: str, expected: list[str]) -> None:
    doc = report_json(mixed, "--by", by)
    assert [r[by] for r in doc["rows"]] == expected


def test_by_model_groups_on_the_price_table_model(mixed: Any) -> None:
    rows = {r["model"]: r for r in report_json(mixed, "--by", "model")["rows"]}
    assert set(rows) == {"gpt-4.1-mini", "gemini-2.5-flash"}
    # 0.0004 + 0.004: both names are the same model
    assert rows["gpt-4.1-mini"]["requests"] == 2
    assert rows["gpt-4.1-mini"]["cost_usd"] == pytest.approx(0.0044)
    # --where still compares the name as logged
    doc = report_json(mixed, "--by", "model", "--where", "model=gpt-4.1-mini-2025-04-14")
    assert [(r["model"], r["requests"]) for r in doc["rows"]] == [("gpt-4.1-mini", 1)]


def test_by_provider_is_normalised(mixed: Any) -> None:
    rows = {r["provider"]: r["requests"] for r in report_json(mixed, "--by", "provider")["rows"]}
    assert rows == {"openai": 2, "google": 2}


def test_by_an_attribute_nobody_has_is_an_error(run_cli: Any, jsonl: Any) -> None:
    log = jsonl([rec("x", "2026-09-01T10:00:00Z", region="eu")])
    assert run_cli("ingest", "-q", str(log))[0] == 0
    line = one_line_error(*run_cli("report", "--by", "attrs.regoin"))
    assert "no request has a field 'regoin'" in line and "region" in line
    assert [r["attrs.region"] for r in report_json(run_cli, "--by", "attrs.region")["rows"]] == [
        "eu"
    ]
    line = one_line_error(*run_cli("whatif", "--batch", "--by", "attrs.regoin"))
    assert "no request has a field 'regoin'" in line


def test_exports_report_without_by_has_rows(run_cli: Any, tmp_path: Path) -> None:
    # one OpenAI usage bucket: gpt-4o-mini-2024-07-18 1,000,000 input tokens x $0.15 = $0.15
    page = {"object": "page", "data": [{"object": "bucket", "start_time": 1754006400, "end_time": 1754092800,
            "results": [{"object": "organization.usage.completions.result", "input_tokens": 1_000_000,
                         "output_tokens": 0, "input_cached_tokens": 0, "num_model_requests": 10,
                         "model": "gpt-4o-mini-2024-07-18", "project_id": None, "user_id": None,
                         "api_key_id": None, "batch": False}]}], "has_more": False}  # fmt: skip
    (tmp_path / "usage.json").write_text(json.dumps(page))
    code, _, err = run_cli("ingest", "-q", str(tmp_path / "usage.json"))
    assert code == 0, err
    code, out, err = run_cli("report", "--source", "exports", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["by"] == ["provider", "model"]
    (row,) = doc["rows"]
    assert (row["provider"], row["model"], row["requests"]) == ("openai", "gpt-4o-mini", 10)
    assert row["cost_usd"] == pytest.approx(0.15)


def test_prices_check_without_a_database_checks_the_table(run_cli: Any, tmp_path: Path) -> None:
    db = tmp_path / "nowhere" / "x.duckdb"
    code, out, _ = run_cli("--db", str(db), "prices", "check", "--format", "json")
    assert code == 0 and json.loads(out)["unpriced"] == []
    assert not db.parent.exists()


def test_summary_compares_the_last_full_month_with_the_one_before(
    loaded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMCOST_NOW", "2026-11-22T10:00:00Z")
    doc = report_json(loaded)
    assert doc["window"] == {"since": "2026-10-01T00:00:00Z", "until": "2026-11-01T00:00:00Z"}
    assert doc["previous_window"] == {
        "since": "2026-09-01T00:00:00Z",
        "until": "2026-10-01T00:00:00Z",
    }
    cost = next(m for m in doc["summary"]["metrics"] if m["name"] == "requests")
    assert (cost["value"], cost["previous"], cost["change"]) == (1, 2, -1)
    _, out, _ = loaded("report")
    assert out.startswith("window: the last full month, 2026-10-01 to 2026-10-31 (31 days)")
    # October is not over on 2026-10-20: then September against August
    monkeypatch.setenv("LLMCOST_NOW", "2026-10-20T10:00:00Z")
    assert report_json(loaded)["window"]["since"] == "2026-09-01T00:00:00Z"
    # --by and explicit windows are left as given
    assert report_json(loaded, "--by", "feature")["window"]["since"] == "2026-09-01T00:00:00Z"


def test_the_demo_sources_overlap_in_time(run_cli: Any) -> None:
    # make demo reconciles sample_logs/providers from 2026-10-01: request logs and bills of the same month
    providers = Path(__file__).parents[1] / "sample_logs" / "providers"
    assert run_cli("ingest", "-q", str(providers))[0] == 0
    code, out, err = run_cli("reconcile", "--since", "2026-10-01", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    both = [r for r in doc["rows"] if r["logged_cost_usd"] and r["billed_cost_usd"]]
    assert len(both) >= 4
    assert doc["unexplained_share"] is not None and doc["unexplained_share"] < 0.1
    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    assert "reconcile --since 2026-10-01" in makefile
