"""Drills with real processes: kill -9 at several moments, Ctrl-C, two writers, a reader during
an ingest. After each interruption the same command run again must give exactly the database
a single uninterrupted run gives, and leave no part file behind."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import llmcost, one_line_error, part_folders, run, state, wait_for

REFERENCE: dict[str, tuple[tuple[Any, ...], float]] = {}


def reference(
    name: str, source: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[tuple[Any, ...], float]:
    """The state one uninterrupted ingest of SOURCE gives, and how long it took."""
    if name not in REFERENCE:
        db = tmp_path_factory.mktemp(f"ref-{name}") / "ref.duckdb"
        start = time.monotonic()
        code, _, err = run("--db", str(db), "ingest", "-q", str(source))
        assert code == 0, err
        REFERENCE[name] = (state(db), time.monotonic() - start)
    return REFERENCE[name]


# (which input, when the kill comes): "parts" as soon as the direct path's part files exist,
# "parts+" a little later (DuckDB reading them), "wal" as soon as a group of files has written
# over 1 MB to the database's log (that group committing, or just committed), or a fraction of an uninterrupted run's time
KILLS = [
    ("big", "parts"),
    ("big", "parts+"),
    ("big", 0.7),
    ("gz", 0.3),
    ("gz", 0.8),
    ("tree", 0.2),
    ("tree", 0.5),
    ("tree", 0.9),
    ("groups", "wal"),
    ("groups", 0.3),
    ("groups", 0.6),
    ("groups", 0.85),
]


@pytest.mark.parametrize(("name", "moment"), KILLS)
def test_kill_9_then_the_same_command_completes_exactly(
    name: str,
    moment: Any,
    logs: dict[str, Path],
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    expected, took = reference(name, logs[name], tmp_path_factory)
    db = tmp_path / "db.duckdb"
    proc = llmcost("--db", str(db), "ingest", "-q", str(logs[name]))
    if isinstance(moment, float):
        time.sleep(took * moment)
    elif moment == "wal":
        wal = Path(str(db) + ".wal")

        def group_written() -> bool:
            try:
                return wal.stat().st_size > 1 << 20  # more than the schema's own log
            except FileNotFoundError:
                return False

        assert wait_for(lambda: group_written() or proc.poll() is not None, step=0.002)
        assert proc.poll() is None, "the ingest ended before a group was committed"
    else:
        assert wait_for(lambda: bool(part_folders(db)) or proc.poll() is not None)
        assert proc.poll() is None, "the direct path made no part files"
        if moment == "parts+":
            time.sleep(0.3)
    proc.kill()  # SIGKILL: no handler runs
    proc.communicate()
    # what is there is whole files: the database opens, and the same command finishes the job
    code, _, err = run("--db", str(db), "ingest", "-q", str(logs[name]))
    assert code == 0, err
    assert state(db) == expected
    assert part_folders(db) == []  # the killed run's parts were cleaned at the next start


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_exit_130_in_one_line(
    sig: signal.Signals,
    logs: dict[str, Path],
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    expected, _ = reference("big", logs["big"], tmp_path_factory)
    db = tmp_path / "db.duckdb"
    proc = llmcost("--db", str(db), "ingest", "-q", str(logs["big"]))
    assert wait_for(lambda: bool(part_folders(db)) or proc.poll() is not None)
    time.sleep(0.2)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    if proc.returncode != 0:  # (it may have finished first)
        assert proc.returncode == 130, err
        assert one_line_error(err) or err.strip().startswith("llmcost: interrupted"), err
        assert "rolled back" in err
    assert part_folders(db) == []  # removed on the way out
    code, _, err = run("--db", str(db), "ingest", "-q", str(logs["big"]))
    assert code == 0 and state(db) == expected, err


def test_a_second_writer_is_told_the_database_is_in_use(
    logs: dict[str, Path], tmp_path: Path
) -> None:
    db = tmp_path / "db.duckdb"
    first = llmcost("--db", str(db), "ingest", "-q", str(logs["big"]))
    try:
        assert wait_for(lambda: bool(part_folders(db)) or first.poll() is not None)
        if first.poll() is not None:
            pytest.skip("the first ingest ended before the second one started")
        code, _, err = run("--db", str(db), "ingest", "-q", str(logs["gz"]))
        assert code == 2 and one_line_error(err), err
        assert "database is in use by another llmcost process" in err
    finally:
        first.communicate(timeout=300)
    assert first.returncode == 0


def test_a_reader_during_an_ingest_waits_or_says_why(logs: dict[str, Path], tmp_path: Path) -> None:
    db = tmp_path / "db.duckdb"
    code, _, err = run("--db", str(db), "ingest", "-q", str(logs["tree"]))
    assert code == 0, err
    writer = llmcost("--db", str(db), "ingest", "-q", str(logs["big"]))
    try:
        assert wait_for(lambda: bool(part_folders(db)) or writer.poll() is not None)
        if writer.poll() is not None:
            pytest.skip("the ingest ended before the reader started")
        # not waiting: one clear line, exit 2
        code, out, err = run("--db", str(db), "report", "-f", "json", env={"LLMCOST_WAIT": "0"})
        assert code == 2 and one_line_error(err) and out == "", err
        assert "still in use by another llmcost process" in err
        # waiting: a notice, then the report of what the ingest committed
        code, out, err = run("--db", str(db), "report", "-f", "json", env={"LLMCOST_WAIT": "300"})
        assert code == 0, err
        if "waiting" not in err and writer.poll() is not None:
            pytest.skip("the ingest ended before the waiting reader connected")
        assert "waiting up to 300 s" in err and "Traceback" not in err
        assert '"schema": "llmcost.report/1"' in out
    finally:
        writer.communicate(timeout=300)
    assert writer.returncode == 0
