"""Run rate: month-to-date and projected month-end cost in the summary, and `check`'s gate on it.

Prices: conftest's lc-test, $1 per 1M input tokens. Ten requests of 1,000,000 input tokens on
2026-10-01 .. 2026-10-10 cost $1 each: $10 month-to-date.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

RECORDS = [
    {"request_id": f"r{d}", "timestamp": f"2026-10-{d:02d}T08:00:00Z", "model": "lc-test", "user_id": "u1",
     "input_tokens": 1_000_000, "output_tokens": 0}
    for d in range(1, 11)
]  # fmt: skip


@pytest.fixture
def loaded(jsonl: Any, run_cli: Any, test_prices: Path) -> Any:
    code, _, err = run_cli("--pricing", str(test_prices), "ingest", "-q", str(jsonl(RECORDS)))
    assert code == 0, err

    def report(*args: str) -> dict[str, Any]:
        code, out, err = run_cli("--pricing", str(test_prices), "report", *args, "--format", "json")
        assert code == 0, err
        return json.loads(out)["run_rate"]  # type: ignore[no-any-return]

    return report


def test_projection_mid_month(loaded: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # as of 2026-10-11 00:00: 10 of 31 days elapsed, $10 so far: 10 / 10 x 31 = $31
    monkeypatch.setenv("LLMCOST_NOW", "2026-10-11T00:00:00Z")
    rr = loaded()
    assert rr["month"] == "2026-10" and rr["complete"] is False
    assert rr["month_to_date_usd"] == pytest.approx(10.0, abs=1e-12)
    assert rr["elapsed_days"] == pytest.approx(10.0) and rr["month_days"] == pytest.approx(31.0)
    assert rr["projected_month_usd"] == pytest.approx(31.0)
    assert "linear" in rr["method"]


def test_window_end_is_the_as_of_time(loaded: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # --until 2026-10-05 (a date-only --until includes that day, so the window ends 2026-10-06 00:00):
    # five requests, $5 over 5 days: 5 / 5 x 31 = $31
    monkeypatch.setenv("LLMCOST_NOW", "2026-12-01T00:00:00Z")
    rr = loaded("--since", "2026-10-01", "--until", "2026-10-05")
    assert rr["month_to_date_usd"] == pytest.approx(5.0) and rr[
        "projected_month_usd"
    ] == pytest.approx(31.0)


def test_a_month_that_is_over_is_its_cost(loaded: Any, monkeypatch: pytest.MonkeyPatch, run_cli: Any,
                                          test_prices: Path) -> None:  # fmt: skip
    monkeypatch.setenv("LLMCOST_NOW", "2026-11-05T00:00:00Z")
    rr = loaded()
    assert rr["complete"] is True and rr["projected_month_usd"] == pytest.approx(10.0)
    code, out, _ = run_cli("--pricing", str(test_prices), "report")
    assert code == 0
    assert "run rate: month 2026-10 complete, cost $10.00" in out  # cents from $1 up


@pytest.mark.parametrize(("threshold", "code"), [(30, 1), (31.5, 0)])
def test_check_gates_on_the_projection(loaded: Any, monkeypatch: pytest.MonkeyPatch, run_cli: Any, tmp_path: Path,
                                       test_prices: Path, threshold: float, code: int) -> None:  # fmt: skip
    monkeypatch.setenv("LLMCOST_NOW", "2026-10-11T00:00:00Z")
    (tmp_path / "llmcost.toml").write_text(f"[check]\nmax_projected_month_cost_usd = {threshold}\n")
    got, out, err = run_cli("--pricing", str(test_prices), "check", "--format", "json")
    assert got == code, err
    rule = json.loads(out)["rules"][0]
    assert rule["name"] == "max_projected_month_cost_usd" and rule["value"] == pytest.approx(31.0)
    assert rule["ok"] is (code == 0)
