"""Tests are isolated from the machine: database in tmp_path, UTC, fixed terminal width, no CI env."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LLMCOST_DB", str(tmp_path / "db" / "llmcost.duckdb"))
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("LLMCOST_PRICING", raising=False)
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture
def con(tmp_path: Path) -> Iterator[Any]:
    from llmcost.store import connect

    c = connect(tmp_path / "test.duckdb")
    yield c
    c.close()


def write_jsonl(path: Path, records: list[Any]) -> Path:
    """Write records (dicts are dumped; strings are written as they are) one per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(rec if isinstance(rec, str) else json.dumps(rec))
            fh.write("\n")
    return path


@pytest.fixture
def jsonl(tmp_path: Path) -> Any:
    def make(records: list[Any], name: str = "log.jsonl") -> Path:
        return write_jsonl(tmp_path / name, records)

    return make


@pytest.fixture
def run_cli() -> Any:
    """Run the CLI in-process: returns (exit_code, stdout, stderr)."""
    import io
    import sys

    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        from llmcost import cli

        out, err = io.StringIO(), io.StringIO()
        old = sys.stdout, sys.stderr, sys.argv, sys.stdin
        sys.stdout, sys.stderr = out, err
        sys.argv = ["llmcost", *args]
        if stdin is not None:
            sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8")
        code = 0
        try:
            cli.main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        finally:
            sys.stdout, sys.stderr, sys.argv, sys.stdin = old
        return code, out.getvalue(), err.getvalue()

    return run


# One private model at easy rates: $1 per 1M input tokens, $2 per 1M output tokens; cache reads
# $0.10, 5-minute writes $1.25, 1-hour writes $2.00 (per 1M tokens).
TEST_PRICES = """
[[models]]
id = "lc-test"
provider = "test"
tier = "small"
[[models.prices]]
effective_from = 2026-01-01
input = 1.00
output = 2.00
cache_read = 0.10
cache_write = 1.25
cache_write_1h = 2.00
"""


@pytest.fixture
def test_prices(tmp_path: Path) -> Path:
    """`prices.toml` in the test's folder with the one model `lc-test` (TEST_PRICES)."""
    path = tmp_path / "prices.toml"
    path.write_text(TEST_PRICES)
    return path


def match_golden(path: Path, text: str) -> None:
    """TEXT equals the golden file PATH; LLMCOST_UPDATE_GOLDEN=1 rewrites it after an intended change."""
    if os.environ.get("LLMCOST_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"missing golden {path}; run with LLMCOST_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")
