"""The part folders a direct ingest writes its Parquet parts into: made beside the database (where
DuckDB spills), named by the process, and cleaned up when the process that made one was killed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

PARTS_PREFIX = "llmcost-parts-"


def part_dir(con: Any) -> Path:
    """A fresh folder for the part files, where DuckDB spills its own temporary data (beside the
    database by default), else the system's temporary folder. Its name carries this process's
    id, so that a later run can tell a killed run's folder (`clean_stale_parts`)."""
    prefix = f"{PARTS_PREFIX}{os.getpid()}-"
    root = con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    if root:
        try:
            Path(root).mkdir(parents=True, exist_ok=True)
            return Path(tempfile.mkdtemp(prefix=prefix, dir=root))
        except OSError:
            pass
    return Path(tempfile.mkdtemp(prefix=prefix))


def clean_stale_parts(con: Any) -> int:
    """Remove the part folders of runs that were killed (their process is gone), beside the
    database and in the system's temporary folder; returns how many. A run that ends in any
    other way removes its own."""
    root = con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    removed = 0
    for folder in {Path(root) if root else None, Path(tempfile.gettempdir())} - {None}:
        try:
            found = list(folder.glob(PARTS_PREFIX + "*"))  # type: ignore[union-attr]
        except OSError:
            continue
        for stale in found:
            pid = stale.name[len(PARTS_PREFIX) :].split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                shutil.rmtree(stale, ignore_errors=True)
                removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process
    return True
