"""The hostile-strings matrix: every payload in every user field, through every output format.

What must hold: the terminal and Markdown get no raw control or bidi character; Markdown has
no live link, image or HTML; no CSV text cell starts a formula; JSON and Parquet keep the data
exactly; the HTML report is written (the chart renderer never sees a character it cannot take),
and in a real browser no script runs and nothing is fetched.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

PAYLOADS = [
    "\x1b[31mred\x1b[0m",  # ANSI colour
    "\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07",  # OSC 8 hyperlink
    "\x1b]0;title\x07",  # OSC window title
    "\x9b31mC1 CSI",  # C1 control
    "nul\x00byte",
    "bell\x07\x08back",
    "line\nbreak\r\nand\rcr",
    "tab\tin",
    "abc\u202edcba.exe",  # right-to-left override
    "\u2066isolate\u2069\u200f",
    "zero\u200bwidth\ufeff",
    '=HYPERLINK("https://evil.example","x")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "![img](https://evil.example/p.png)",
    "[link](javascript:alert(1))",
    "<script>document.title='pwned'</script>",
    "<img src=http://127.0.0.1:9/x onerror=alert(1)>",
    "| a | b |",
    "&#x202e;&lt;b&gt;",
    "www.evil.example",
    "user@evil.example",
    "`code` **bold** _it_ ~~s~~",
]
FIELDS = ["feature", "user_id", "customer_id", "task_id", "plan", "model"]
BY = ["feature", "user", "customer", "task", "plan", "model", "attrs.note"]
RAW_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]"
)


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from llmcost.ingest import ingest_paths
    from llmcost.store import connect

    base = tmp_path_factory.mktemp("hostile")
    rows = []
    for i, payload in enumerate(PAYLOADS):
        for j, field in enumerate(FIELDS):
            rec: dict[str, Any] = {
                "request_id": f"h{i}-{j}",
                "timestamp": f"2026-03-{1 + (i + j) % 28:02d}T10:00:00Z",
                "model": "gpt-4o",
                "user_id": "u",
                "feature": "f",
                "input_tokens": 1000,
                "output_tokens": 100,
                "note": payload,
            }
            rec[field] = payload
            rows.append(json.dumps(rec))
    log = base / "hostile.jsonl"
    log.write_text("\n".join(rows) + "\n")
    db = base / "hostile.duckdb"
    con = connect(db)
    summary = ingest_paths(con, [str(log)])
    con.close()
    assert summary.totals["loaded"] == len(rows)
    return db


def report(run_cli: Any, db: Path, *args: str) -> str:
    code, out, err = run_cli("--db", str(db), "report", *args)
    assert code == 0, err
    assert "Traceback" not in err
    return out


def outside_code_spans(text: str) -> str:
    return re.sub(r"(`+)(?:(?!\1).)*?\1", "", text)


@pytest.mark.parametrize("by", BY)
def test_terminal_table(by: str, hostile_db: Path, run_cli: Any) -> None:
    out = report(run_cli, hostile_db, "--by", by)
    assert not RAW_UNSAFE.search(out), RAW_UNSAFE.findall(out)[:5]


@pytest.mark.parametrize("by", BY)
def test_markdown_is_inert(
    by: str, hostile_db: Path, run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = report(run_cli, hostile_db, "--by", by, "-f", "markdown")
    for text in (out, summary.read_text()):
        assert not RAW_UNSAFE.search(text)
        cells = None  # the cell count of the table being read
        for line in text.splitlines():
            if not line.startswith("|"):
                cells = None
                continue
            bare = outside_code_spans(line)
            assert "<" not in bare and not re.search(r"(?<!\\)\[", bare), line
            assert "://" not in bare and "www." not in bare and "@evil" not in bare, line
            # every row has as many cells as the table's header: no pipe broke out
            count = len(re.findall(r"(?<!\\)\|", line))
            cells = count if cells is None else cells
            assert count == cells, line


@pytest.mark.parametrize("by", BY)
def test_csv_has_no_formula(by: str, hostile_db: Path, run_cli: Any) -> None:
    out = report(run_cli, hostile_db, "--by", by, "-f", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    key = rows[0][0]
    assert key == by.split(".")[-1] or key == by
    values = [r[0] for r in rows[1:]]
    assert values and all(not v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in values)
    # the data is all there: each payload, behind its quote where it needed one
    if by != "model":
        shown = {v[1:] if v.startswith("'") and v[1:2] in "=+-@\t\r" else v for v in values}
        assert set(PAYLOADS) <= shown


@pytest.mark.parametrize("by", BY)
def test_json_keeps_the_data_and_escapes_the_rest(by: str, hostile_db: Path, run_cli: Any) -> None:
    out = report(run_cli, hostile_db, "--by", by, "-f", "json")
    assert not RAW_UNSAFE.search(out)
    doc = json.loads(out)
    got = {row[by] for row in doc["rows"]}
    if by != "model":
        assert set(PAYLOADS) <= got


def test_parquet_keeps_the_data(hostile_db: Path, run_cli: Any, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    target = tmp_path / "r.parquet"
    report(run_cli, hostile_db, "--by", "feature", "-f", "parquet", "-o", str(target))
    assert set(PAYLOADS) <= set(pq.read_table(target).column("feature").to_pylist())


@pytest.fixture(scope="module")
def html_report(hostile_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import subprocess
    import sys

    target = tmp_path_factory.mktemp("hostile-html") / "report.html"
    proc = subprocess.run(
        [sys.executable, "-m", "llmcost", "--db", str(hostile_db), "report", "--by", "feature",
         "-f", "html", "-o", str(target)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    # its own process: the chart renderer aborting would take pytest with it
    assert proc.returncode == 0, proc.stderr[-2000:]
    return target


def test_html_report_is_written_and_escaped(html_report: Path) -> None:
    text = html_report.read_text()
    assert "<script" not in text.lower()
    assert "onerror=" not in text.replace("onerror=alert(1)&gt;", "")
    assert "&lt;script&gt;" in text


def _browser() -> Any:
    path = Path(__file__).resolve().parents[1] / "test_html_report.py"
    spec = importlib.util.spec_from_file_location("html_report_browser", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_html_report_in_a_real_browser(html_report: Path) -> None:
    browser = _browser()
    if browser.CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    dom, _, starts = browser._browse(html_report, "--dump-dom")
    assert browser._from_page(starts) == []  # nothing fetched by the page
    assert "<script" not in dom.lower() and "<img" not in dom.lower()
    assert "<title>pwned" not in dom  # no script ran
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom
