"""`llmcost report` in every output format against golden files (tests/golden/report/).

The fixture is the one of test_metrics.py (its numbers are computed by hand there). generated_at is
pinned with LLMCOST_NOW; the price-table hash and file count are masked so a price update does not
break the goldens. Regenerate after an intended change with LLMCOST_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import match_golden
from test_metrics import REVENUE_A, A

GOLDEN = Path(__file__).parent / "golden" / "report"
WINDOW = ["--since", "2026-09-01", "--until", "2026-10-31"]  # --until: a date includes its day


def mask(text: str) -> str:
    text = re.sub(r"sha256 [0-9a-f]{12}", "sha256 <hash>", text)
    return re.sub(r"prices: \d+ files", "prices: <n> files", text)


def check(name: str, text: str) -> None:
    match_golden(GOLDEN / name, text)


@pytest.fixture
def loaded(run_cli: Any, jsonl: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("LLMCOST_NOW", "2026-11-22T10:00:00Z")
    log = jsonl(A, "log.jsonl")
    (tmp_path / "revenue.csv").write_text(REVENUE_A)
    code, _, err = run_cli("ingest", str(log), str(tmp_path / "revenue.csv"), "-q")
    assert code == 0, err
    return run_cli


CASES = {
    "summary": [],
    "by_feature": ["--by", "feature"],
    "by_customer_month": ["--by", "customer,month", "--allocate", "cost"],
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("fmt", ["table", "csv", "markdown"])
def test_text_formats(loaded: Any, case: str, fmt: str) -> None:
    code, out, err = loaded("report", *WINDOW, *CASES[case], "--format", fmt)
    assert code == 0, err
    ext = {"table": "txt", "csv": "csv", "markdown": "md"}[fmt]
    check(f"{case}.{ext}", mask(out))


@pytest.mark.parametrize("case", list(CASES))
def test_json(loaded: Any, case: str) -> None:
    code, out, err = loaded("report", *WINDOW, *CASES[case], "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["generated_at"] == "2026-11-22T10:00:00Z"
    assert set(doc["pricing"]) == {"files", "sha256"} and len(doc["pricing"]["sha256"]) == 64
    doc["pricing"] = {"files": "<masked>", "sha256": "<masked>"}
    check(f"{case}.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def test_json_has_the_spec_keys(loaded: Any) -> None:
    _, out, _ = loaded("report", *WINDOW, "--by", "feature", "--format", "json")
    doc = json.loads(out)
    for key in (
        "schema",
        "generated_at",
        "pricing",
        "window",
        "coverage",
        "totals",
        "by",
        "rows",
        "distribution",
    ):
        assert key in doc
    assert {
        "requests",
        "tasks",
        "users",
        "customers",
        "cost_usd",
        "revenue_usd",
        "margin_usd",
        "margin_pct",
    } <= set(doc["totals"])
    assert {
        "feature",
        "requests",
        "cost_usd",
        "cost_per_request_usd",
        "revenue_usd",
        "margin_pct",
    } <= set(doc["rows"][0])
    dist = doc["distribution"]
    assert (
        set(dist["cost_per_user_month_usd"])
        == {"p50", "p90", "p99"}
        == set(dist["cost_per_task_usd"])
    )
    assert {"top_1pct", "top_10pct"} <= set(dist["top_share"])
    assert doc["window"] == {"since": "2026-09-01T00:00:00Z", "until": "2026-11-01T00:00:00Z"}


def test_parquet(loaded: Any, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    out_file = tmp_path / "r.parquet"
    code, out, err = loaded(
        "report", *WINDOW, "--by", "feature", "--format", "parquet", "-o", str(out_file)
    )
    assert code == 0 and out == "", err
    table = pq.read_table(out_file)
    lines = [str(table.schema)] + [json.dumps(row, sort_keys=True) for row in table.to_pylist()]
    check("by_feature.parquet.txt", "\n".join(lines) + "\n")


def test_parquet_needs_output(loaded: Any) -> None:
    code, out, err = loaded("report", "--format", "parquet")
    assert code == 2 and out == "" and "-o FILE" in err


def test_targets_from_config_flag_misses(loaded: Any, tmp_path: Path) -> None:
    (tmp_path / "llmcost.toml").write_text(
        "[targets]\nmax_cost_per_active_user_usd = 0.001\nmin_gross_margin_pct = 50\n"
    )
    code, out, err = loaded("report", *WINDOW, "--format", "json")
    assert code == 0, err
    m = {r["name"]: r for r in json.loads(out)["summary"]["metrics"]}
    # cost per active user .034 / 4 = .0085 > .001: miss; margin 99.9 % >= 50: ok
    assert (
        m["cost_per_active_user_usd"]["status"] == "miss"
        and m["gross_margin_pct"]["status"] == "ok"
    )
    (tmp_path / "llmcost.toml").write_text("[targets]\nmax_happiness = 1\n")
    code, out, err = loaded("report", *WINDOW)
    assert code == 2 and "unknown key 'max_happiness'" in err and err.count("\n") == 1
