"""The command line's contract: help, exit codes, one-line errors on stderr, data on stdout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REC = {"request_id": "a", "timestamp": "2025-10-01T00:00:00Z", "model": "claude-sonnet-4-5",
       "input_tokens": 1000, "output_tokens": 100}  # fmt: skip


def one_line_error(code: int, out: str, err: str) -> None:
    assert code == 2
    assert out == ""
    assert err.startswith("llmcost: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


def test_help(run_cli: Any) -> None:
    code, out, err = run_cli("--help")
    assert code == 0 and err == ""
    for command in ("ingest", "report", "prices"):
        assert command in out


@pytest.mark.parametrize("args", [("ingest", "--help"), ("report", "--help"), ("prices", "--help"),
                                  ("prices", "check", "--help")])  # fmt: skip
def test_subcommand_help(run_cli: Any, args: tuple[str, ...]) -> None:
    code, out, err = run_cli(*args)
    assert code == 0 and err == "" and "Usage" in out


@pytest.mark.parametrize(
    "args",
    [
        ("--bogus",),
        ("ingest", "--bogus"),
        ("no-such-command",),
        ("report", "--since"),  # missing value
    ],
)
def test_bad_usage_is_one_line_exit_2(run_cli: Any, args: tuple[str, ...]) -> None:
    code, out, err = run_cli(*args)
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.startswith("llmcost: error: ")


def test_bad_flag_message(run_cli: Any) -> None:
    assert run_cli("--bogus") == (2, "", "llmcost: error: No such option: --bogus (see --help)\n")


def test_ingest_without_paths(run_cli: Any) -> None:
    code, out, err = run_cli("ingest")
    one_line_error(code, out, err)
    assert "nothing to ingest" in err


def test_unknown_by_dimension(run_cli: Any) -> None:
    code, out, err = run_cli("report", "--by", "colour")
    one_line_error(code, out, err)
    assert "unknown --by dimension 'colour'" in err


def test_bad_date(run_cli: Any) -> None:
    code, out, err = run_cli("report", "--since", "last tuesday")
    one_line_error(code, out, err)
    assert "cannot read the date 'last tuesday'" in err


def test_unknown_format(run_cli: Any) -> None:
    code, out, err = run_cli("report", "--format", "xml")
    one_line_error(code, out, err)


def test_list_formats(run_cli: Any) -> None:
    code, out, err = run_cli("ingest", "--list-formats")
    assert code == 0 and err == ""
    names = [line.split()[0] for line in out.splitlines()]
    assert "requests" in names and "revenue" in names


def test_report_on_an_empty_database(run_cli: Any, tmp_path: Path) -> None:
    from llmcost.store import connect

    connect(tmp_path / "db" / "llmcost.duckdb").close()  # a database with nothing loaded yet
    code, out, _ = run_cli("report", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == "llmcost.report/1"
    assert doc["coverage"]["requests"] == 0


def test_data_on_stdout_progress_on_stderr(run_cli: Any, jsonl: Any) -> None:
    path = jsonl([REC, "garbage"])
    code, out, err = run_cli("ingest", "--format", "json", str(path))
    assert code == 0
    json.loads(out)  # stdout is only the data
    assert "rejected" in err and "{" not in err


def test_quiet_ingest_says_nothing_on_stderr(run_cli: Any, jsonl: Any) -> None:
    code, _, err = run_cli("ingest", "-q", str(jsonl([REC, "garbage"])))
    assert code == 0 and err == ""


def test_report_json_totals(run_cli: Any, jsonl: Any) -> None:
    run_cli("ingest", "-q", str(jsonl([REC, {**REC, "request_id": "b", "feature": "chat"}])))
    code, out, _ = run_cli("report", "--by", "feature", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    # sonnet 4.5 at 3 / 15: 1000*3 + 100*15 = 4500 -> 0.0045 per request, 0.009 in all
    assert doc["totals"]["requests"] == 2
    assert doc["totals"]["cost_usd"] == pytest.approx(0.009, abs=1e-12)
    assert {r["feature"]: r["cost_usd"] for r in doc["rows"]} == {
        "chat": pytest.approx(0.0045, abs=1e-12),
        None: pytest.approx(0.0045, abs=1e-12),
    }


def test_prices_list_and_show(run_cli: Any) -> None:
    code, out, _ = run_cli("prices", "list", "--format", "json")
    assert code == 0
    models = {m["model"]: m for m in json.loads(out)["models"]}
    assert float(models["claude-sonnet-4-5"]["input"]) == 3.0
    code, out, _ = run_cli("prices", "show", "o3", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    # the two o3 versions: 10 / 40 from the release, 2 / 8 from 2025-06-10
    assert [
        (v["effective_from"], float(v["input"]), float(v["output"])) for v in doc["versions"]
    ] == [("2025-04-16", 10.0, 40.0), ("2025-06-10", 2.0, 8.0)]


def test_prices_show_unknown_model(run_cli: Any) -> None:
    code, out, err = run_cli("prices", "show", "gpt-99")
    one_line_error(code, out, err)
    assert "no price for 'gpt-99'" in err


def test_step_summary_is_appended(
    run_cli: Any, jsonl: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("before\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run_cli("ingest", "-q", str(jsonl([REC])))
    code, _, _ = run_cli("report")
    assert code == 0
    text = summary.read_text()
    assert text.startswith("before\n") and len(text) > len("before\n")


def test_no_step_summary_is_written_when_none_is_asked_for(
    run_cli: Any, jsonl: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without $GITHUB_STEP_SUMMARY the Markdown summary is never built (its rows cost time)."""
    from llmcost.report import markdown

    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    run_cli("ingest", "-q", str(jsonl([REC])))

    def fail(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("a step summary was built")

    monkeypatch.setattr(markdown, "summary_markdown", fail)
    monkeypatch.setattr(markdown, "to_markdown", fail)
    for args in (("report",), ("report", "--by", "feature", "-f", "json")):
        code, out, err = run_cli(*args)
        assert code == 0, err
        assert out


def test_config_file_sets_the_database(
    run_cli: Any, jsonl: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLMCOST_DB")
    (tmp_path / "llmcost.toml").write_text('db = "from-config.duckdb"\n')
    assert run_cli("ingest", "-q", str(jsonl([REC])))[0] == 0
    assert (tmp_path / "from-config.duckdb").is_file()


def test_broken_config_file(run_cli: Any, tmp_path: Path) -> None:
    (tmp_path / "llmcost.toml").write_text("db = \n")
    code, out, err = run_cli("report")
    one_line_error(code, out, err)
    assert "llmcost.toml" in err
