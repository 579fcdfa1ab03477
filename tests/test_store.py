"""The database file: numbered migrations, re-opening, errors a person can act on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from llmcost.errors import InputError
from llmcost.store import connect, migrations


def test_migration_numbers_are_unique_and_consecutive() -> None:
    numbers = []
    for fn in migrations.MIGRATIONS:
        m = re.match(r"^m(\d{3})_[a-z0-9_]+$", fn.__name__)
        assert m, f"{fn.__name__} is not named mNNN_name"
        numbers.append(int(m.group(1)))
    # the position in the list is the number recorded: m001 first, no gaps, no repeats
    assert numbers == list(range(1, len(numbers) + 1))
    assert len({fn.__name__ for fn in migrations.MIGRATIONS}) == len(numbers)


def test_each_migration_is_recorded(con: Any) -> None:
    rows = con.execute("SELECT id, name FROM schema_migrations ORDER BY id").fetchall()
    assert rows == [(i, fn.__name__) for i, fn in enumerate(migrations.MIGRATIONS, start=1)]


def test_reopen_runs_nothing(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    first = connect(db)
    stamps = first.execute("SELECT id, applied_at FROM schema_migrations ORDER BY id").fetchall()
    first.close()
    again = connect(db)
    assert migrations.migrate(again) == 0
    assert (
        again.execute("SELECT id, applied_at FROM schema_migrations ORDER BY id").fetchall()
        == stamps
    )
    again.close()


def test_fresh_database_runs_every_migration() -> None:
    import duckdb

    raw = duckdb.connect(":memory:")
    assert migrations.migrate(raw) == len(migrations.MIGRATIONS)
    assert migrations.migrate(raw) == 0


def test_a_failing_migration_leaves_no_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "x.duckdb"
    connect(db).close()

    def m999_broken(con: Any) -> None:
        con.execute("CREATE TABLE half_done (x INTEGER)")
        raise RuntimeError("boom")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, m999_broken])
    with pytest.raises(RuntimeError, match="boom"):
        connect(db)
    monkeypatch.undo()
    con = connect(db)
    # neither the table it made nor a record of it: the migration and its record are one transaction
    assert con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'half_done'"
    ).fetchone() == (0,)
    assert con.execute("SELECT max(id) FROM schema_migrations").fetchone() == (
        len(migrations.MIGRATIONS),
    )
    con.close()


def test_schema_has_the_tables_ingest_needs(con: Any) -> None:
    tables = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    assert {"files", "requests", "rejects", "revenue", "schema_migrations"} <= tables


def test_session_timezone_is_utc(con: Any) -> None:
    assert con.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)


def test_parent_folder_is_created(tmp_path: Path) -> None:
    db = tmp_path / "a" / "b" / "x.duckdb"
    connect(db).close()
    assert db.is_file()


def test_db_that_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        connect(tmp_path)


def test_db_that_is_not_duckdb(run_cli: Any, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello, this is not a database\n" * 100)
    code, out, err = run_cli("--db", "notes.txt", "report")
    assert code == 2 and out == ""
    assert err.startswith("llmcost: error: cannot open database notes.txt")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_db_from_env_and_flag(run_cli: Any, jsonl: Any, tmp_path: Path) -> None:
    import os

    path = jsonl([{"timestamp": 1, "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1}])
    assert run_cli("ingest", "-q", str(path))[0] == 0
    assert Path(os.environ["LLMCOST_DB"]).is_file()  # the env var
    assert run_cli("--db", "other.duckdb", "ingest", "-q", str(path))[0] == 0
    assert (tmp_path / "other.duckdb").is_file()  # the flag beats the env var
