"""Writes ingest makes: files, staged request rows (deduplicated), rejects, revenue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REQUEST_COLUMNS = [
    "source_kind", "request_id", "rid_hash", "file_id", "line_no", "ts", "provider", "model",
    "user_id", "customer_id", "feature", "task_id", "step", "plan", "status",
    "input_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens",
    "output_tokens", "reasoning_tokens", "cache_hit", "batch", "latency_ms", "logged_cost_usd",
    "estimated", "prompt_text", "response_text", "attrs",
]  # fmt: skip


@dataclass
class Counts:
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    duplicates: int = 0

    def add(self, other: Counts) -> None:
        self.read += other.read
        self.loaded += other.loaded
        self.rejected += other.rejected
        self.duplicates += other.duplicates


def next_file_id(con: Any) -> int:
    return int(con.execute("SELECT nextval('file_ids')").fetchone()[0])


def find_file(con: Any, *, path: str, size: int, mtime_ns: int) -> int | None:
    """A file already ingested whole from this path with this size and mtime (the quick check)."""
    row = con.execute(
        "SELECT file_id FROM files WHERE path = ? AND size = ? AND mtime_ns = ? LIMIT 1",
        [path, size, mtime_ns],
    ).fetchone()
    return int(row[0]) if row else None


def loaded_whole(con: Any, files: list[tuple[str, int, int]]) -> dict[tuple[str, int, int], str]:
    """`find_file` for many (path, size, mtime_ns) at once: those already ingested whole, with
    the format of their latest ingest."""
    paths, sizes, mtimes = (list(c) for c in zip(*files, strict=True))
    # the candidates as three lists zipped by unnest (no Arrow table: a file of the canonical
    # log is then loaded without importing pyarrow, ~25 ms)
    rows = con.execute(
        "SELECT f.path, f.size, f.mtime_ns, arg_max(f.format, f.file_id) FROM files f"
        " JOIN (SELECT unnest(?::VARCHAR[]) AS path, unnest(?::BIGINT[]) AS size,"
        " unnest(?::BIGINT[]) AS mtime_ns) c USING (path, size, mtime_ns) GROUP BY ALL",
        [paths, sizes, mtimes],
    ).fetchall()
    return {(path, size, mtime_ns): fmt for path, size, mtime_ns, fmt in rows}


def known_files(con: Any, paths: list[str]) -> dict[str, set[tuple[int | None, int | None]]]:
    """(size, mtime_ns) of every ingest of each of PATHS: `find_file` and `forget_rejects` for many at once."""
    out: dict[str, set[tuple[int | None, int | None]]] = {}
    for path, size, mtime_ns in con.execute(
        "SELECT path, size, mtime_ns FROM files WHERE path IN (SELECT unnest(?::VARCHAR[]))",
        [paths],
    ).fetchall():
        out.setdefault(path, set()).add((size, mtime_ns))
    return out


def known_hashes(con: Any, digests: list[str], kind: str) -> set[str]:
    """The DIGESTS already loaded from KIND: `find_hash` for many at once."""
    return {
        r[0]
        for r in con.execute(
            "SELECT DISTINCT sha256 FROM files WHERE kind = ? AND sha256 IN (SELECT unnest(?::VARCHAR[]))",
            [kind, digests],
        ).fetchall()
    }


def find_hash(con: Any, sha256: str, kind: str) -> int | None:
    row = con.execute(
        "SELECT file_id FROM files WHERE sha256 = ? AND kind = ? LIMIT 1", [sha256, kind]
    ).fetchone()
    return int(row[0]) if row else None


def record_file(
    con: Any, *, file_id: int, path: str, sha256: str, size: int | None, mtime_ns: int | None,
    fmt: str, kind: str, counts: Counts,
) -> None:  # fmt: skip
    con.execute(
        "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?, ?, ?, ?)",
        [file_id, path, sha256, size, mtime_ns, fmt, kind,
         counts.read, counts.loaded, counts.rejected, counts.duplicates],
    )  # fmt: skip


def record_files(
    con: Any, rows: list[tuple[int, str, str, int | None, int | None, str, str, Counts]]
) -> None:
    """`record_file` for many files in one statement: (file_id, path, sha256, size, mtime_ns,
    format, kind, counts) each."""
    if not rows:
        return
    import pyarrow as pa

    cols = list(zip(*rows, strict=True))
    counts: list[Counts] = list(cols[7])
    lc_new_files = pa.table(  # noqa: F841  (read by the INSERT below)
        {
            "file_id": pa.array(cols[0], pa.int64()),
            "path": pa.array(cols[1], pa.string()),
            "sha256": pa.array(cols[2], pa.string()),
            "size": pa.array(cols[3], pa.int64()),
            "mtime_ns": pa.array(cols[4], pa.int64()),
            "format": pa.array(cols[5], pa.string()),
            "kind": pa.array(cols[6], pa.string()),
            "lines_read": pa.array([c.read for c in counts], pa.int64()),
            "loaded": pa.array([c.loaded for c in counts], pa.int64()),
            "rejected": pa.array([c.rejected for c in counts], pa.int64()),
            "duplicates": pa.array([c.duplicates for c in counts], pa.int64()),
        }
    )
    con.execute(
        "INSERT INTO files SELECT file_id, path, sha256, size, mtime_ns, format, kind,"
        " now()::TIMESTAMP, lines_read, loaded, rejected, duplicates FROM lc_new_files"
    )


def forget_rejects_of(con: Any, paths: list[str]) -> None:
    """`forget_rejects` for many paths in one statement."""
    con.execute(
        "DELETE FROM rejects WHERE file_id IN"
        " (SELECT file_id FROM files WHERE path IN (SELECT unnest(?::VARCHAR[])))",
        [paths],
    )


def forget_rejects(con: Any, path: str) -> None:
    """Drop the rejects of earlier ingests of PATH (a re-read of a grown file lists its bad lines again)."""
    con.execute(
        "DELETE FROM rejects WHERE file_id IN (SELECT file_id FROM files WHERE path = ?)", [path]
    )


def forget_paths(con: Any, paths: list[str]) -> dict[str, int]:
    """Remove what the files at PATHS loaded: requests, usage, billed and revenue rows, rejects
    and their manifest rows (in the caller's transaction). Returns how many of each went."""
    ids = [
        r[0]
        for r in con.execute(
            "SELECT file_id FROM files WHERE path IN (SELECT unnest(?::VARCHAR[]))", [paths]
        ).fetchall()
    ]
    gone = {"files": len(ids)}
    if not ids:
        return gone | {t: 0 for t in ("requests", "usage", "billed", "revenue", "rejects")}
    for table in ("requests", "usage", "billed", "revenue", "rejects"):
        (n,) = con.execute(
            f"DELETE FROM {table} WHERE file_id IN (SELECT unnest(?::BIGINT[]))", [ids]
        ).fetchone()
        gone[table] = int(n)
    con.execute("DELETE FROM files WHERE file_id IN (SELECT unnest(?::BIGINT[]))", [ids])
    return gone


def insert_requests_sql(source: str, values: dict[str, str], *, prefix: str = "") -> str:
    """The one INSERT INTO requests: each of REQUEST_COLUMNS as PREFIX+name from SOURCE (what
    follows FROM: a table or subquery, with any WHERE), or as the expression VALUES gives for it."""
    cols = ", ".join(REQUEST_COLUMNS)
    select = ", ".join(values.get(c, f"{prefix}{c}") for c in REQUEST_COLUMNS)
    return f"INSERT INTO requests ({cols}) SELECT {select} FROM {source}"


def commit_staged_requests(
    con: Any, stage: str, *, file_id: int, kind: str, read_rejected: tuple[int, int] | None = None
) -> Counts:
    """Move a staged chunk (`parse_sql` output) into requests and rejects; count what happened.

    A request is a duplicate when its request_id is already loaded from the same kind of source
    (this chunk, an earlier chunk of this file, or any earlier file). READ_REJECTED: the stage's
    row and reject counts when the caller has them already.
    """
    if read_rejected is None:
        read_rejected = con.execute(f"SELECT count(*), count(reason) FROM {stage}").fetchone()
    read, rejected = read_rejected
    if rejected:
        con.execute(
            f"INSERT INTO rejects SELECT ?, line_no, reason, line FROM {stage} WHERE reason IS NOT NULL",
            [file_id],
        )
    source = f"""(SELECT *, hash(?, request_id) AS rid_hash FROM {stage} WHERE reason IS NULL) s
        WHERE s.line_no IN (SELECT min(line_no) FROM {stage} WHERE reason IS NULL GROUP BY request_id)
          AND s.request_id NOT IN (
              SELECT r.request_id FROM requests r
              WHERE r.source_kind = ?
                AND r.rid_hash IN (SELECT hash(?, request_id) FROM {stage} WHERE reason IS NULL))"""
    # an INSERT answers with the number of rows it inserted: no count of requests before and after
    (loaded,) = con.execute(
        insert_requests_sql(source, {"source_kind": "?", "file_id": "?"}, prefix="s."),
        [kind, file_id, kind, kind, kind],
    ).fetchone()
    return Counts(read=read, loaded=loaded, rejected=rejected, duplicates=read - rejected - loaded)


def reject_lines(con: Any, file_id: int, rows: list[tuple[int, str, str]]) -> None:
    """Rejects found before SQL sees the line (undecodable bytes): (line_no, reason, raw)."""
    if rows:
        con.executemany(
            "INSERT INTO rejects VALUES (?, ?, ?, ?)", [(file_id, n, r, raw) for n, r, raw in rows]
        )


def upsert_revenue(
    con: Any, file_id: int, rows: list[tuple[int, str, str, Any, str | None]]
) -> tuple[int, int]:
    """Revenue rows (line_no, customer_id, month, revenue_usd, plan): a customer-month already
    loaded with the same amount and plan is a duplicate; with another amount, the newer file wins.
    Returns (loaded, duplicates)."""
    if not rows:
        return 0, 0
    # within one file, the last line for a customer-month wins; earlier ones count as duplicates
    latest: dict[tuple[str, str], tuple[int, str, str, Any, str | None]] = {}
    for row in rows:
        latest[(row[1], row[2])] = row
    duplicates = len(rows) - len(latest)
    loaded = 0
    for line_no, customer, month, amount, plan in latest.values():
        existing = con.execute(
            "SELECT revenue_usd, plan FROM revenue WHERE customer_id = ? AND month = ?",
            [customer, month],
        ).fetchone()
        if existing is not None and existing[0] == amount and existing[1] == plan:
            duplicates += 1
            continue
        if existing is not None:
            con.execute(
                "DELETE FROM revenue WHERE customer_id = ? AND month = ?", [customer, month]
            )
        con.execute(
            "INSERT INTO revenue VALUES (?, ?, ?, ?, ?, ?)",
            [customer, month, amount, plan, file_id, line_no],
        )
        loaded += 1
    return loaded, duplicates
