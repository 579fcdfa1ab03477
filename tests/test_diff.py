"""`llmcost diff`: totals and per-group deltas of two saved reports, in every format."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

GOLDEN = Path(__file__).parent / "golden" / "markdown"
UPDATE = bool(os.environ.get("LLMCOST_UPDATE_GOLDEN"))


def _report(
    window: tuple[str, str], sha: str, totals: dict[str, Any], rows: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "schema": "llmcost.report/1", "generated_at": "2026-11-22T10:00:00Z",
        "pricing": {"files": ["pricing/openai.toml"], "sha256": sha},
        "window": {"since": window[0], "until": window[1]},
        "coverage": {"requests": totals["requests"], "priced": totals["requests"], "unpriced": 0, "unpriced_models": []},
        "totals": totals, "by": ["feature"], "rows": rows,
    }  # fmt: skip


BASE = _report(
    ("2026-10-05T00:00:00Z", "2026-10-12T00:00:00Z"), "a" * 64,
    {"requests": 100, "tasks": 40, "users": 10, "customers": 3, "cost_usd": 4.0, "revenue_usd": 20.0, "margin_pct": 80.0},
    [
        {"feature": "chat", "requests": 60, "cost_usd": 3.0, "revenue_usd": 12.0, "margin_pct": 75.0},
        {"feature": "search", "requests": 40, "cost_usd": 1.0},
    ],
)  # fmt: skip
CURRENT = _report(
    ("2026-10-12T00:00:00Z", "2026-10-19T00:00:00Z"), "b" * 64,
    {"requests": 150, "tasks": 50, "users": 12, "customers": 3, "cost_usd": 5.0, "revenue_usd": 20.0, "margin_pct": 75.0},
    [
        {"feature": "chat", "requests": 90, "cost_usd": 4.5, "revenue_usd": 12.0, "margin_pct": 62.5},
        {"feature": "<script>alert(1)</script>", "requests": 60, "cost_usd": 0.5},
    ],
)  # fmt: skip


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, Path]:
    base, cur = tmp_path / "base.json", tmp_path / "current.json"
    base.write_text(json.dumps(BASE))
    cur.write_text(json.dumps(CURRENT))
    return base, cur


def test_json_totals_and_rows(saved: tuple[Path, Path], run_cli: Any) -> None:
    code, out, err = run_cli(
        "diff", "--compare-to", "base.json", "current.json", "--format", "json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["schema"] == "llmcost.diff/1"
    assert doc["by"] == ["feature"]
    # cost 4.0 -> 5.0: +1.0, +25 %; requests 100 -> 150: +50 %; margin 80 -> 75: -5 points (no relative change)
    assert doc["totals"]["cost_usd"] == {
        "base": 4.0,
        "current": 5.0,
        "delta": 1.0,
        "delta_pct": 25.0,
    }
    assert doc["totals"]["requests"] == {
        "base": 100,
        "current": 150,
        "delta": 50,
        "delta_pct": 50.0,
    }
    assert doc["totals"]["margin_pct"] == {
        "base": 80.0,
        "current": 75.0,
        "delta": -5.0,
        "delta_pct": None,
    }
    assert doc["totals"]["margin_usd"] == {
        "base": None,
        "current": None,
        "delta": None,
        "delta_pct": None,
    }
    rows = {r["feature"]: r for r in doc["rows"]}
    # chat: 3.0 -> 4.5 = +1.5 (+50 %); search removed (-1.0); the new feature added (+0.5)
    assert rows["chat"]["status"] == "changed"
    assert rows["chat"]["delta_cost_usd"] == 1.5 and rows["chat"]["delta_cost_pct"] == 50.0
    assert rows["chat"]["delta_margin_pct"] == -12.5
    assert rows["search"]["status"] == "removed"
    assert rows["search"]["current_cost_usd"] is None and rows["search"]["base_cost_usd"] == 1.0
    assert rows["<script>alert(1)</script>"]["status"] == "added"
    # largest absolute change first: chat (1.5), search (1.0 gone), the new one (0.5)
    assert [r["feature"] for r in doc["rows"]] == ["chat", "search", "<script>alert(1)</script>"]
    assert doc["base"]["pricing_sha256"] == "a" * 64


def test_markdown_golden(saved: tuple[Path, Path], run_cli: Any) -> None:
    code, out, _ = run_cli(
        "diff", "--compare-to", "base.json", "current.json", "--format", "markdown"
    )
    assert code == 0
    path = GOLDEN / "diff.md"
    if UPDATE:
        path.write_text(out, encoding="utf-8")
    assert out == path.read_text(encoding="utf-8")
    assert "&lt;script&gt;" in out and "<script>" not in out


def test_csv_table_and_html(saved: tuple[Path, Path], run_cli: Any) -> None:
    code, out, _ = run_cli("diff", "--compare-to", "base.json", "current.json", "--format", "csv")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(
        "feature,status,base_cost_usd,current_cost_usd,delta_cost_usd,delta_cost_pct"
    )
    assert lines[1].startswith("chat,changed,3.0,4.5,1.5,50.0")
    code, out, _ = run_cli("diff", "--compare-to", "base.json", "current.json")
    assert code == 0 and "cost $4.00 → $5.00 (+$1.00, +25.0%)" in out
    assert "price table changed: sha256 aaaaaaaaaaaa → bbbbbbbbbbbb" in out
    code, out, _ = run_cli("diff", "--compare-to", "base.json", "current.json", "--format", "html")
    assert code == 0
    assert "<script>alert" not in out and "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    code, _, _ = run_cli(
        "diff",
        "--compare-to",
        "base.json",
        "current.json",
        "--format",
        "parquet",
        "-o",
        "d.parquet",
    )
    assert code == 0
    import pyarrow.parquet as pq

    assert pq.read_table("d.parquet").column("delta_cost_usd").to_pylist() == [1.5, -1.0, 0.5]


def test_against_the_database_now(tmp_path: Path, jsonl: Any, run_cli: Any) -> None:
    # no current file: the database is reported now, grouped like the base
    rec = {
        "timestamp": "2026-10-06T10:00:00Z",
        "model": "gpt-4o-mini",
        "feature": "chat",
        "input_tokens": 10,
        "output_tokens": 0,
    }
    jsonl(
        [
            {**rec, "request_id": "a"},
            {**rec, "request_id": "b", "timestamp": "2026-10-13T10:00:00Z"},
        ]
    )
    assert run_cli("ingest", "-q", "log.jsonl")[0] == 0
    code, out, _ = run_cli(
        "report", "--by", "feature", "--until", "2026-10-12", "--format", "json", "-o", "base.json"
    )
    assert code == 0
    code, out, err = run_cli("diff", "--compare-to", "base.json", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    # one request before 2026-10-12, two in the whole database: +1 request, cost doubles (same tokens each)
    assert doc["totals"]["requests"]["delta"] == 1
    assert doc["totals"]["cost_usd"]["delta_pct"] == pytest.approx(100.0, abs=1e-9)
    assert doc["rows"][0]["feature"] == "chat"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read missing.json"),
        ("{not json", "is not JSON"),
        ('{"schema": "llmcost.check/1"}', "is not an llmcost report"),
        ("[1, 2]", "is not an llmcost report"),
    ],
)
def test_bad_inputs_exit_2(tmp_path: Path, run_cli: Any, content: str | None, message: str) -> None:
    (tmp_path / "current.json").write_text(json.dumps(CURRENT))
    name = "missing.json"
    if content is not None:
        name = "bad.json"
        (tmp_path / name).write_text(content)
    code, out, err = run_cli("diff", "--compare-to", name, "current.json")
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_different_grouping_exits_2(saved: tuple[Path, Path], tmp_path: Path, run_cli: Any) -> None:
    (tmp_path / "other.json").write_text(json.dumps({**CURRENT, "by": ["model"], "rows": []}))
    code, _, err = run_cli("diff", "--compare-to", "base.json", "other.json")
    assert code == 2 and "grouped differently" in err
    code, _, err = run_cli("diff", "current.json")
    assert code == 2 and "--compare-to" in err
