"""Drills on what surrounds the data: damaged databases, special files, damaged archives, a
full disk and a read-only file system. Each ends in one line with the right exit code, never a
traceback."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from .conftest import one_line_error, run

TS = "2026-03-01T12:00:00Z"


def good_log(path: Path, n: int = 20) -> Path:
    path.write_text(
        "".join(
            json.dumps({"request_id": f"r{i}", "timestamp": TS, "model": "gpt-4o",
                        "input_tokens": 100, "output_tokens": 10}) + "\n"
            for i in range(n)
        )
    )  # fmt: skip
    return path


@pytest.fixture
def loaded_db(tmp_path: Path) -> Path:
    db = tmp_path / "good.duckdb"
    code, _, err = run("--db", str(db), "ingest", "-q", str(good_log(tmp_path / "log.jsonl", 3000)))
    assert code == 0, err
    return db


def damaged(kind: str, good: Path, target: Path) -> Path:
    data = bytearray(good.read_bytes())
    if kind == "truncated":
        data = data[: len(data) // 3]
    elif kind == "checksum":
        for i in range(20000, 20400):  # inside the first data block
            data[i] ^= 0xFF
    elif kind == "garbage":
        data = bytearray(os.urandom(len(data)))
    elif kind == "empty":
        data = bytearray()
    elif kind == "text":
        data = bytearray(b"this is not a database\n")
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize("kind", ["truncated", "checksum", "garbage", "empty", "text"])
@pytest.mark.parametrize("command", [("report",), ("ingest", "-q")])
def test_a_damaged_database_is_refused_in_one_line(
    kind: str, command: tuple[str, ...], loaded_db: Path, tmp_path: Path
) -> None:
    db = damaged(kind, loaded_db, tmp_path / f"{kind}.duckdb")
    args = (
        [*command, str(good_log(tmp_path / "more.jsonl"))]
        if command[0] == "ingest"
        else list(command)
    )
    code, out, err = run("--db", str(db), *args)
    assert code == 2 and one_line_error(err), err
    assert out == ""


def test_a_newer_schema_is_refused(loaded_db: Path) -> None:
    con = duckdb.connect(str(loaded_db))
    con.execute("INSERT INTO schema_migrations VALUES (99, 'm099_later', now()::TIMESTAMP)")
    con.close()
    for args in (("report",), ("ingest", "-q", str(loaded_db.parent / "log.jsonl"))):
        code, _, err = run("--db", str(loaded_db), *args)
        assert code == 2 and one_line_error(err), err
        assert "made by a newer llmcost (schema 99" in err and "upgrade" in err


def test_db_under_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    code, _, err = run("--db", str(tmp_path / "afile" / "x.duckdb"), "report")
    assert code == 2 and one_line_error(err), err


@pytest.mark.parametrize("by", ["attrs.a..b", "attrs.", "attrs..x", "attrs.a.", "attrs.a'b"])
def test_bad_attrs_names(by: str, loaded_db: Path) -> None:
    code, _, err = run("--db", str(loaded_db), "report", "--by", by)
    assert code == 2 and one_line_error(err), err


@pytest.mark.parametrize("since", ["0001-01-01", "9999-12-31", "999999999d", "infinity"])
def test_windows_out_of_range(since: str, loaded_db: Path) -> None:
    code, _, err = run("--db", str(loaded_db), "report", "--since", since)
    assert code == 2 and one_line_error(err), err


def test_special_files_in_a_folder_are_skipped_with_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    good_log(folder / "ok.jsonl")
    (folder / "loop-a.jsonl").symlink_to("loop-b.jsonl")
    (folder / "loop-b.jsonl").symlink_to("loop-a.jsonl")
    (folder / "gone.jsonl").symlink_to("nothing.jsonl")
    (folder / "up").symlink_to("..")  # a directory loop: not followed
    os.mkfifo(folder / "pipe.jsonl")
    (folder / "null.jsonl").symlink_to("/dev/null")
    code, out, err = run(
        "--db", str(tmp_path / "db.duckdb"), "ingest", "-f", "json", str(folder), timeout=60
    )
    assert code == 0, err
    assert json.loads(out)["totals"]["loaded"] == 20
    assert "skipped" in err and "a symlink loop" in err and "a FIFO" in err
    assert "a broken symlink" in err and "a device" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("kind", ["not gzip", "truncated gzip", "bad zstd", "truncated zstd"])
def test_a_damaged_archive_is_one_line(kind: str, tmp_path: Path) -> None:
    import zstandard

    data = good_log(tmp_path / "plain.jsonl", 2000).read_bytes()
    if kind == "not gzip":
        path, blob = tmp_path / "a.jsonl.gz", b"this is not gzip"
    elif kind == "truncated gzip":
        packed = gzip.compress(data)
        path, blob = tmp_path / "a.jsonl.gz", packed[: len(packed) // 2]
    elif kind == "bad zstd":
        path, blob = tmp_path / "a.jsonl.zst", b"\x28\xb5\x2f\xfd" + os.urandom(200)
    else:
        packed = zstandard.ZstdCompressor().compress(data)
        path, blob = tmp_path / "a.jsonl.zst", packed[: len(packed) // 2]
    path.write_bytes(blob)
    code, _, err = run("--db", str(tmp_path / "db.duckdb"), "ingest", "-q", str(path))
    assert code == 2 and one_line_error(err), err


# ---------------------------------------------------------------- mounts (root, Linux)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A small tmpfs (30 MB) of its own; skipped where mounting is not allowed."""
    point = tmp_path / "mnt"
    point.mkdir()
    if not shutil.which("mount") or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (the disk-full and read-only drills)")
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=30m", "tmpfs", str(point)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def big_log(path: Path, lines: int) -> Path:
    with path.open("w") as fh:
        for i in range(lines):
            fh.write(json.dumps({"request_id": f"r{i:08d}", "timestamp": TS, "model": "gpt-4o",
                                 "user_id": f"user-{i:08d}", "feature": f"feature-{i % 50}",
                                 "input_tokens": 100 + i, "output_tokens": 10, "pad": os.urandom(100).hex()}) + "\n")  # fmt: skip
    return path


def test_disk_full_is_one_line_and_rolls_back(tmpfs: Path, tmp_path: Path) -> None:
    db = tmpfs / "full.duckdb"
    small = good_log(tmp_path / "small.jsonl")
    code, _, err = run("--db", str(db), "ingest", "-q", str(small))
    assert code == 0, err
    # ~80 MB of log into a database with 30 MB of room
    code, _, err = run(
        "--db",
        str(db),
        "ingest",
        "-q",
        str(big_log(tmp_path / "big.jsonl", 250_000)),
        env={"TMPDIR": str(tmpfs)},
    )
    assert code == 2 and one_line_error(err), err
    assert "no space left on the disk" in err
    # what was committed before is there, and nothing of the file that did not fit
    shutil.rmtree(str(db) + ".tmp", ignore_errors=True)
    code, out, err = run("--db", str(db), "report", "-f", "json")
    assert code == 0, err
    assert json.loads(out)["totals"]["requests"] == 20


def test_disk_full_on_the_claude_code_path(
    tmpfs: Path, logs: dict[str, Path], tmp_path: Path
) -> None:
    db = tmpfs / "cc.duckdb"
    code, _, err = run("--db", str(db), "ingest", "-q", str(good_log(tmp_path / "small.jsonl")))
    assert code == 0, err
    filler = tmpfs / "filler"
    free = shutil.disk_usage(tmpfs).free
    filler.write_bytes(b"\0" * max(free - (64 << 10), 0))  # 64 kB left
    code, _, err = run(
        "--db", str(db), "ingest", "-q", str(logs["tree"]), env={"TMPDIR": str(tmpfs)}
    )
    # the cause, not a "cannot rollback" after it
    assert code == 2 and one_line_error(err), err
    assert "no space left on the disk" in err


def test_a_read_only_database_can_be_reported(tmpfs: Path, loaded_db: Path, tmp_path: Path) -> None:
    shutil.copy(loaded_db, tmpfs / "ro.duckdb")
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    code, out, err = run("--db", str(tmpfs / "ro.duckdb"), "report", "-f", "json")
    assert code == 0, err
    assert json.loads(out)["totals"]["requests"] == 3000
    code, _, err = run(
        "--db", str(tmpfs / "ro.duckdb"), "ingest", "-q", str(good_log(tmp_path / "x.jsonl"))
    )
    assert code == 2 and one_line_error(err), err
