"""What a person sees, at 80 and 120 columns, against golden files (tests/golden/terminal/).

The data are the hand-computed fixtures of test_metrics.py (report) and test_check.py (check); the
price list is a small price directory of its own, so a change to the bundled prices does not move
it. Regenerate after an intended change with LLMCOST_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from conftest import match_golden
from test_check import BREACHING, REQUESTS, REVENUE
from test_metrics import REVENUE_A, A

GOLDEN = Path(__file__).parent / "golden" / "terminal"
WIDTHS = [80, 120]

PRICES = """
provider = "acme"

[[models]]
id = "acme-large-reasoning-2026-preview"
aliases = ["acme-large", "acme-large-reasoning-2026-preview-20260115", "acme/large"]
tier = "frontier"

[[models.prices]]
effective_from = 2026-01-15
input = 12.50
output = 75.00
cache_read = 1.25
cache_write = 15.625
cache_write_1h = 25.00
batch_discount = 0.5

[[models]]
id = "acme-mini"
tier = "small"

[[models.prices]]
effective_from = 2025-06-01
input = 0.40
output = 1.60

[[models.prices]]
effective_from = 2026-02-01
input = 0.075
output = 0.30
cache_read = 0.0075
"""


def mask(text: str) -> str:
    text = re.sub(r"sha256 [0-9a-f]{12}", "sha256 <hash>", text)
    return re.sub(r"prices: \d+ files", "prices: <n> files", text)


def check(name: str, text: str, width: int) -> None:
    assert max(len(line) for line in text.splitlines()) <= width, "wider than the terminal"
    match_golden(GOLDEN / name, text)


@pytest.fixture
def report_data(run_cli: Any, jsonl: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("LLMCOST_NOW", "2026-11-22T10:00:00Z")
    jsonl(A, "log.jsonl")
    (tmp_path / "revenue.csv").write_text(REVENUE_A)
    code, _, err = run_cli("ingest", "log.jsonl", "revenue.csv")
    assert code == 0, err
    return run_cli


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(
    ("case", "args"), [("report", []), ("report_by_feature", ["--by", "feature"])]
)
def test_report(
    report_data: Any, monkeypatch: pytest.MonkeyPatch, width: int, case: str, args: list[str]
) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    code, out, err = report_data("report", "--since", "2026-10-01", "--until", "2026-10-31", *args)
    assert code == 0, err
    check(f"{case}.{width}.txt", mask(out), width)


@pytest.mark.parametrize("width", WIDTHS)
def test_ingest_summary(
    run_cli: Any, jsonl: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    jsonl([*A, "not json", A[0]], "logs/app-2026-10-requests.jsonl")  # 1 rejected, 1 duplicate
    (tmp_path / "revenue.csv").write_text(REVENUE_A)
    code, out, err = run_cli("ingest", "logs/app-2026-10-requests.jsonl", "revenue.csv")
    assert code == 0, err
    check(f"ingest.{width}.txt", out, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_check(
    run_cli: Any, jsonl: Any, tmp_path: Path, test_prices: Path, monkeypatch: pytest.MonkeyPatch,
    width: int,
) -> None:  # fmt: skip
    monkeypatch.setenv("COLUMNS", str(width))
    jsonl(REQUESTS, "log.jsonl")
    (tmp_path / "revenue.csv").write_text(REVENUE)
    (tmp_path / "llmcost.toml").write_text(BREACHING)
    assert (
        run_cli("--pricing", str(test_prices), "ingest", "-q", "log.jsonl", "revenue.csv")[0] == 0
    )
    code, out, err = run_cli("--pricing", str(test_prices), "check")
    assert code == 1, err
    check(f"check.{width}.txt", out, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_prices_list(tmp_path: Path, width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmcost import pricing, render, views

    monkeypatch.setenv("LLMCOST_NOW", "2026-11-22T10:00:00Z")
    folder = tmp_path / "prices"
    folder.mkdir()
    (folder / "acme.toml").write_text(PRICES)
    result = views.prices_list_table(pricing.load(bundled=folder))
    check(
        f"prices_list.{width}.txt",
        mask(render.to_terminal(result, width=width, color=False)),
        width,
    )
