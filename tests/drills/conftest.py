"""What the drills share: logs made once a session, and llmcost run as a separate process."""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIG_LINES = 120_000  # about 45 MB: long enough to be killed in the middle, quick enough for CI


def llmcost(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    """`python -m llmcost ARGS` as a process of its own (stdout and stderr captured)."""
    env = {**os.environ, **kwargs.pop("env", {})}
    return subprocess.Popen(
        [sys.executable, "-m", "llmcost", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


def run(*args: str, timeout: float = 300, **kwargs: Any) -> tuple[int, str, str]:
    proc = llmcost(*args, **kwargs)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def one_line_error(err: str) -> bool:
    """stderr is a single `llmcost: error:` line (after any waiting notice), no traceback."""
    lines = [line for line in err.splitlines() if line.strip()]
    return (
        "Traceback" not in err
        and bool(lines)
        and lines[-1].startswith("llmcost: error:")
        and all(not line.startswith(" ") for line in lines)
    )


def state(db: Path) -> tuple[Any, ...]:
    """What a database holds, to compare two of them: rows, a hash of every request's key
    fields, rejects, and the files' counts."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        requests = con.execute(
            "SELECT count(*), sum(hash(request_id, ts, model, input_tokens, output_tokens, line_no))"
            " FROM requests"
        ).fetchone()
        rejects = con.execute("SELECT count(*) FROM rejects").fetchone()
        files = con.execute(
            "SELECT list((path, lines_read, loaded, rejected, duplicates) ORDER BY path) FROM files"
        ).fetchone()
        return (*requests, *rejects, *files)
    finally:
        con.close()


def part_folders(db: Path) -> list[Path]:
    """Part folders of the direct path beside DB (DuckDB's temp directory is `<db>.tmp`)."""
    tmp = Path(str(db) + ".tmp")
    return sorted(tmp.glob("llmcost-parts-*")) if tmp.exists() else []


def wait_for(predicate: Any, timeout: float = 60.0, step: float = 0.01) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return False


@pytest.fixture(scope="session")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """A big canonical log (duplicates, no reject: the direct path loads it; and a gzipped copy
    with three bad lines, read line by line), and two Claude Code trees of small files (the
    grouped path: one group, and several)."""
    base = tmp_path_factory.mktemp("drill-logs")
    big = base / "big.jsonl"
    with big.open("w") as fh:
        for i in range(BIG_LINES):
            rec: dict[str, Any] = {
                "request_id": f"r{i % (BIG_LINES - 50)}",  # the last 50 repeat earlier ids
                "timestamp": f"2026-0{1 + i % 9}-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
                "model": ("gpt-4o", "claude-sonnet-4-5", "gemini-2.5-flash")[i % 3],
                "user_id": f"u{i % 997}",
                "feature": f"f{i % 7}",
                "input_tokens": 1000 + i % 5000,
                "output_tokens": 10 + i % 700,
                "session_id": f"s{i // 5}",
                "tier": "pro",
            }
            fh.write(json.dumps(rec) + "\n")
    # the compressed copy (read line by line) has a few bad lines too
    lines = big.read_bytes().split(b"\n")
    for at in (17, 40_017, 80_017):
        lines[at] = b"not json"
    gz = base / "big-gz.jsonl.gz"
    gz.write_bytes(gzip.compress(b"\n".join(lines), compresslevel=1))
    spec = importlib.util.spec_from_file_location(
        "claude_code_tree", ROOT / "benchmarks" / "claude_code_tree.py"
    )
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    gen.generate(base / "tree", mb=6, seed=3)
    # several groups of files committed together (the first run is read alone, 8 MB)
    gen.generate(base / "groups", mb=24, seed=5)
    yield {
        "big": big,
        "gz": gz,
        "tree": base / "tree" / "projects",
        "groups": base / "groups" / "projects",
    }
