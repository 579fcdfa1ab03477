"""Open the database file: one writer at a time, UTC everywhere, migrations applied."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from llmcost.errors import DatabaseBusyError, InputError
from llmcost.store import migrations

# How long a read command waits for an ingest that holds the database (LLMCOST_WAIT seconds).
WAIT_SECONDS = 30.0
WAIT_STEP = 0.25


def connect(path: Path | str, *, memory_limit: str | None = None, read: bool = False) -> Any:
    """A DuckDB connection to PATH (':memory:' for tests), migrated to the current schema.

    READ (the read commands): while another llmcost process writes the file, wait for it (a
    message on stderr, up to LLMCOST_WAIT seconds; DuckDB lets no reader in meanwhile), then
    read what it committed; a file that cannot be written (read-only file or file system) is
    opened read-only, as long as its schema is current.
    """
    import duckdb

    target = str(path)
    if target != ":memory:":
        db_path = Path(target)
        if db_path.is_dir():
            raise InputError(
                f"--db {db_path} is a directory",
                hint="give a file path such as .llmcost/llmcost.duckdb",
            )
        try:
            db_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                f"cannot make the folder of --db {db_path}: {exc.strerror}",
                hint="is a part of the path a file?",
            ) from None
    config: dict[str, str | bool | int | float | list[str]] = {}
    if memory_limit:
        config["memory_limit"] = memory_limit
    deadline: float | None = None
    while True:
        try:
            con = duckdb.connect(target, config=config)
            break
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" in text.lower() and read:
                deadline = _wait(target, text, deadline)
                continue
            if "lock" in text.lower():
                raise DatabaseBusyError(
                    f"database is in use by another llmcost process{_pid(text)}: {target}",
                    hint="wait for it to finish, or use another --db",
                ) from None
            if read and _read_only_place(text):
                con = _connect_read_only(target, config)
                break
            raise InputError(f"cannot open database {target}: {text.splitlines()[0]}") from None
        except duckdb.Error as exc:
            raise InputError(
                f"cannot open database {target}: {str(exc).splitlines()[0]}",
                hint="is it a DuckDB file written by llmcost?",
            ) from None
    con.execute("SET TimeZone = 'UTC'")  # timestamps are stored and grouped in UTC
    con.execute("SET enable_progress_bar = false")  # stdout carries only data
    version = migrations.schema_version(con)
    if version > len(migrations.MIGRATIONS):
        con.close()
        raise InputError(
            f"database {target} was made by a newer llmcost (schema {version}; this one knows "
            f"{len(migrations.MIGRATIONS)})",
            hint="upgrade llmcost to use it",
        )
    read_only = _is_read_only(con)
    if version < len(migrations.MIGRATIONS) and read_only:
        con.close()
        raise InputError(
            f"database {target} is read-only and needs an upgrade (schema {version} to "
            f"{len(migrations.MIGRATIONS)})",
            hint="open it once where it can be written",
        )
    if not read_only:
        if version < len(
            migrations.MIGRATIONS
        ):  # a current schema: no statement of `migrate` is needed
            migrations.migrate(con)
        if target != ":memory:":
            from llmcost.store.parts import clean_stale_parts

            clean_stale_parts(con)
    return con


def _pid(text: str) -> str:
    pid = re.search(r"PID (\d+)", text)
    return f" (pid {pid.group(1)})" if pid else ""


def _wait(target: str, text: str, deadline: float | None) -> float:
    """Wait a step for the writer of TARGET; the deadline, or DatabaseBusyError once it passed."""
    now = time.monotonic()
    if deadline is None:
        try:
            seconds = float(os.environ.get("LLMCOST_WAIT", WAIT_SECONDS))
        except ValueError:
            seconds = WAIT_SECONDS
        deadline = now + max(seconds, 0.0)
        if seconds > 0:
            sys.stderr.write(
                f"llmcost: {target} is being written by another llmcost process{_pid(text)}; "
                f"waiting up to {seconds:g} s for it to finish (LLMCOST_WAIT)\n"
            )
    if now >= deadline:
        raise DatabaseBusyError(
            f"database is still in use by another llmcost process{_pid(text)}: {target}",
            hint="run this again when it has finished, or set LLMCOST_WAIT to wait longer",
        )
    time.sleep(WAIT_STEP)
    return deadline


def _read_only_place(text: str) -> bool:
    low = text.lower()
    return "read-only" in low or "permission denied" in low or "read only" in low


def _connect_read_only(target: str, config: dict[str, Any]) -> Any:
    import duckdb

    try:
        return duckdb.connect(target, read_only=True, config=config)
    except duckdb.Error as exc:
        raise InputError(
            f"cannot open database {target}: {str(exc).splitlines()[0]}",
            hint="check its permissions",
        ) from None


def _is_read_only(con: Any) -> bool:
    row = con.execute(
        "SELECT readonly FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return bool(row and row[0])
