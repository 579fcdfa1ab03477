"""Open the database file: one writer at a time, UTC everywhere, migrations applied."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from llmcost.errors import DatabaseBusyError, InputError
from llmcost.store.migrations import migrate


def connect(path: Path | str, *, memory_limit: str | None = None) -> Any:
    """A DuckDB connection to PATH (':memory:' for tests), migrated to the current schema."""
    import duckdb

    target = str(path)
    if target != ":memory:":
        db_path = Path(target)
        if db_path.is_dir():
            raise InputError(
                f"--db {db_path} is a directory",
                hint="give a file path such as .llmcost/llmcost.duckdb",
            )
        db_path.parent.mkdir(parents=True, exist_ok=True)
    config: dict[str, str | bool | int | float | list[str]] = {}
    if memory_limit:
        config["memory_limit"] = memory_limit
    try:
        con = duckdb.connect(target, config=config)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            pid = re.search(r"PID (\d+)", text)
            who = f" (pid {pid.group(1)})" if pid else ""
            raise DatabaseBusyError(
                f"database is in use by another llmcost process{who}: {target}",
                hint="wait for it to finish, or use another --db",
            ) from None
        raise InputError(f"cannot open database {target}: {text.splitlines()[0]}") from None
    except duckdb.Error as exc:
        raise InputError(
            f"cannot open database {target}: {str(exc).splitlines()[0]}",
            hint="is it a DuckDB file written by llmcost?",
        ) from None
    con.execute("SET TimeZone = 'UTC'")  # timestamps are stored and grouped in UTC
    con.execute("SET enable_progress_bar = false")  # stdout carries only data
    migrate(con)
    return con
