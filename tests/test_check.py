"""`llmcost check`: every rule computed by hand on a four-request fixture; exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

GOLDEN = Path(__file__).parent / "golden" / "check"
UPDATE = bool(os.environ.get("LLMCOST_UPDATE_GOLDEN"))


def _req(
    rid: str,
    ts: str,
    feature: str,
    customer: str,
    user: str,
    inp: int,
    out: int,
    model: str = "lc-test",
) -> dict[str, Any]:
    return {"request_id": rid, "timestamp": ts, "model": model, "feature": feature, "customer_id": customer,
            "user_id": user, "input_tokens": inp, "output_tokens": out}  # fmt: skip


# Weeks start on Monday: W0 = 2026-10-05, W1 = 2026-10-12; the last request (2026-10-19) ends the data,
# so the last full week is W1 and the week before it W0.
REQUESTS = [
    _req("r1", "2026-10-05T10:00:00Z", "chat", "c1", "u1", 1_000_000, 0),  # 1e6 * $1/1e6 = $1.00
    _req(
        "r2", "2026-10-13T10:00:00Z", "chat", "c1", "u1", 1_000_000, 500_000
    ),  # $1.00 + 0.5e6 * $2/1e6 = $2.00
    _req("r3", "2026-10-14T10:00:00Z", "search", "c2", "u2", 500_000, 0),  # $0.50
    _req(
        "r4", "2026-10-19T10:00:00Z", "search", "c2", "u3", 100, 0, model="mystery-model"
    ),  # unpriced: NULL
]
REVENUE = "customer_id,month,revenue_usd\nc1,2026-10,10.00\nc2,2026-10,1.00\n"

# By hand:
#   unpriced share = 1 / 4 = 0.25
#   growth = (W1 - W0) / W0 = ((2.00 + 0.50) - 1.00) / 1.00 = +150 %
#   user-months (October): u1 = 1.00 + 2.00 = 3.00, u2 = 0.50 (u3 has no priced request: left out)
#   P90 = 0.50 + 0.9 * (3.00 - 0.50) = 2.75
#   chat: revenue 10.00 (all of c1's requests), cost 3.00 -> margin 70 %
#   search: revenue 1.00 (all of c2's requests), cost 0.50 -> margin 50 %
#   overall: (11.00 - 3.50) / 11.00 = 68.1818... %
BREACHING = """
[check]
min_margin_pct = 60
min_feature_margin_pct = 40
max_p90_user_cost_usd = 2.5
max_unpriced_share = 0.01
max_cost_growth_pct = 200
"""


@pytest.fixture
def loaded(tmp_path: Path, jsonl: Any, run_cli: Any, test_prices: Path) -> Path:
    jsonl(REQUESTS, "logs/requests.jsonl")
    (tmp_path / "revenue.csv").write_text(REVENUE)
    code, _, err = run_cli("ingest", "-q", "logs", "revenue.csv")
    assert code == 0, err
    return tmp_path


def _check(run_cli: Any, *args: str) -> tuple[int, str, str]:
    return run_cli("--pricing", "prices.toml", "check", *args)


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_breach_exits_1_and_reports_every_rule(loaded: Path, run_cli: Any) -> None:
    (loaded / "llmcost.toml").write_text(BREACHING)
    code, out, err = _check(run_cli, "--format", "json")
    assert code == 1, err
    doc = json.loads(out)
    assert doc["schema"] == "llmcost.check/1"
    assert doc["ok"] is False
    rules = {r["name"]: r for r in doc["rules"]}
    assert list(rules) == ["min_margin_pct", "min_feature_margin_pct", "max_p90_user_cost_usd",
                           "max_unpriced_share", "max_cost_growth_pct"]  # fmt: skip
    assert rules["min_margin_pct"]["value"] == pytest.approx(7.5 / 11 * 100, abs=1e-9)
    assert rules["min_margin_pct"]["ok"] is True
    assert rules["min_feature_margin_pct"]["value"] == pytest.approx(50.0, abs=1e-9)
    assert "search" in rules["min_feature_margin_pct"]["note"]
    assert rules["max_p90_user_cost_usd"]["value"] == pytest.approx(2.75, abs=1e-9)
    assert rules["max_p90_user_cost_usd"]["ok"] is False
    assert rules["max_unpriced_share"]["value"] == pytest.approx(0.25, abs=1e-12)
    assert rules["max_unpriced_share"]["ok"] is False
    assert rules["max_cost_growth_pct"]["value"] == pytest.approx(150.0, abs=1e-9)
    assert rules["max_cost_growth_pct"]["threshold"] == 200
    assert rules["max_cost_growth_pct"]["ok"] is True
    assert "2026-10-12 vs 2026-10-05" in rules["max_cost_growth_pct"]["note"]


def test_breach_table_golden(loaded: Path, run_cli: Any) -> None:
    (loaded / "llmcost.toml").write_text(BREACHING)
    code, out, _ = _check(run_cli)
    assert code == 1
    _golden("breach.txt", out)


def test_breach_markdown_golden_and_step_summary(
    loaded: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (loaded / "llmcost.toml").write_text(BREACHING)
    summary = loaded / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, _ = _check(run_cli, "--format", "markdown")
    assert code == 1
    _golden("breach.md", out)
    # appended, not overwritten; the summary is the same Markdown
    assert summary.read_text() == "earlier step\n" + out + "\n"


def test_pass_exits_0(loaded: Path, run_cli: Any) -> None:
    (loaded / "llmcost.toml").write_text(
        "[check]\nmax_p90_user_cost_usd = 2.75\nmax_unpriced_share = 0.25\nmax_cost_growth_pct = 150\n"
    )
    code, out, err = _check(run_cli, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["ok"] is True
    assert [r["ok"] for r in doc["rules"]] == [True, True, True]  # thresholds are inclusive
    _golden("pass.json", out)


def test_rule_that_cannot_be_computed_fails(
    tmp_path: Path, jsonl: Any, run_cli: Any, test_prices: Path
) -> None:
    # no revenue loaded: the margin rule has no value, and that is a failure, not a silent pass
    jsonl(REQUESTS, "logs/requests.jsonl")
    assert run_cli("ingest", "-q", "logs")[0] == 0
    (tmp_path / "llmcost.toml").write_text(
        "[check]\nmin_margin_pct = 10\nmax_unpriced_share = 0.5\n"
    )
    code, out, _ = _check(run_cli, "--format", "json")
    assert code == 1
    rules = {r["name"]: r for r in json.loads(out)["rules"]}
    assert rules["min_margin_pct"] == {
        "name": "min_margin_pct", "value": None, "threshold": 10, "ok": False, "note": "no revenue loaded for the window",
    }  # fmt: skip
    assert rules["max_unpriced_share"]["ok"] is True
    code, out, _ = _check(run_cli)
    assert "FAIL (cannot compute)" in out


def test_growth_needs_a_full_earlier_week(loaded: Path, run_cli: Any) -> None:
    # --until 2026-10-12: the last full week is W0 (2026-10-05) and the week before it has no data
    (loaded / "llmcost.toml").write_text("[check]\nmax_cost_growth_pct = 30\n")
    code, out, _ = _check(run_cli, "--until", "2026-10-12", "--format", "json")
    assert code == 1
    rule = json.loads(out)["rules"][0]
    assert rule["value"] is None and rule["ok"] is False
    assert "no cost in the earlier week" in rule["note"]


def test_growth_needs_data_from_the_earlier_weeks_monday(
    tmp_path: Path, jsonl: Any, run_cli: Any, test_prices: Path
) -> None:
    late = [{**REQUESTS[0], "timestamp": "2026-10-06T10:00:00Z"}, *REQUESTS[1:]]
    jsonl(late, "logs/requests.jsonl")
    assert run_cli("ingest", "-q", "logs")[0] == 0
    (tmp_path / "llmcost.toml").write_text("[check]\nmax_cost_growth_pct = 500\n")
    code, out, _ = _check(run_cli, "--format", "json")
    assert code == 1
    assert "the data starts on 2026-10-06" in json.loads(out)["rules"][0]["note"]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("", "no [check] rules"),
        ("[check]\nmax_unpriced_shares = 0.1\n", "unknown [check] rule 'max_unpriced_shares'"),
        ('[check]\nmax_unpriced_share = "1%"\n', "max_unpriced_share must be a number"),
        ("[check]\nmax_unpriced_share = true\n", "max_unpriced_share must be a number"),
    ],
)
def test_config_errors_exit_2(loaded: Path, run_cli: Any, toml: str, message: str) -> None:
    (loaded / "llmcost.toml").write_text(toml)
    code, out, err = _check(run_cli)
    assert code == 2
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
