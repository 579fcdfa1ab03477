"""The canonical log read by DuckDB's own JSON reader: the whole file in two passes, no line split.

The line-by-line path of `requests_log` splits a file into lines and judges each with
`json_extract`, keeping every line's text, which a reject needs. Most files have no reject; for
them DuckDB's `read_json` does the parse several times faster: one pass finds the top-level keys
of the file, a second reads each key into a column, and `canonical.parse_sql(columns=...)` types
and judges the rows with the same rules, straight into `requests`.

The direct path is taken only when its result is the line path's, and gives way otherwise (the
file's transaction is rolled back and begun again, and the caller loads the file line by line,
as if this had not been tried):
- a plain file (not stdin, not compressed) with no glob character in its path;
- DuckDB reads every line as a JSON object (an invalid line, a non-object, a byte-order mark or
  bad UTF-8 stops it) and one row per line (a blank line would shift the line numbers);
- no row is rejected, and every row has a request_id (a reject keeps the line's text, and an id
  made from the text needs it: the line path has both);
- the file did not change while it was read (its size, mtime and hashed bytes agree).
Duplicates are then removed as the line path leaves them out: a request_id seen earlier in the
file, or loaded before from the same kind of source.
A JSON null under an unmapped key is left out of `attrs` here (the line path keeps `"key":null`).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from llmcost.ingest import canonical
from llmcost.ingest.formats import Job
from llmcost.store import writes

ENABLED = True
MAX_KEYS = 200  # more distinct top-level keys than this: a map in disguise; read line by line
VIEW = "lc_direct"
PART_MIN_BYTES = 32 << 20  # a smaller file is read as it is, on one thread
RESERVED = {"line_no", "ordinality"}  # column names the direct query uses itself


class _Hasher(threading.Thread):
    """Reads the file through the job's reader (its sha256 and the progress bar), counts the lines,
    and (with PARTS) copies it into that many part files of whole lines, while DuckDB reads the
    file for its keys.

    DuckDB numbers the rows of one `read_json ... WITH ORDINALITY` on one thread; a UNION ALL of
    several parts, each numbered from its first line, is read on every thread.
    """

    def __init__(self, job: Job, parts: list[Path], size: int) -> None:
        super().__init__(daemon=True)
        self.job = job
        self.parts = parts
        self.target = size // max(len(parts), 1) + 1
        self.lines = 0
        self.part_lines: list[int] = []  # lines in each part file written
        self.error: BaseException | None = None

    def run(self) -> None:
        out = None
        try:
            last = b"\n"
            written = 0
            for chunk in self.job.reader:
                n = chunk.count(b"\n")
                if self.parts:
                    if out is None or (
                        written >= self.target and len(self.part_lines) < len(self.parts)
                    ):
                        if out is not None:
                            out.close()
                        out = self.parts[len(self.part_lines)].open("wb")
                        self.part_lines.append(0)
                        written = 0
                    out.write(chunk)
                    written += len(chunk)
                    self.part_lines[-1] += n
                self.lines += n
                last = chunk[-1:] or last
                self.job.on_bytes(len(chunk))
            if last != b"\n":
                self.lines += 1  # the last line has no newline
                if self.part_lines:
                    self.part_lines[-1] += 1
        except BaseException as exc:  # re-raised in the caller's thread
            self.error = exc
        finally:
            if out is not None:
                out.close()


def load(job: Job, kind: str) -> writes.Counts | None:
    """Load JOB's file directly, or None when it must be read line by line (see the module doc).

    The attempt runs in the file's transaction; when it gives way after touching the database,
    that transaction is rolled back and begun again, so the line-by-line load starts from the
    state before the file. On None the job's reader may have been read to its end (its digest is
    then complete): the caller reads the file again without it.
    """
    import duckdb

    source = job.source
    path = source.path
    if not ENABLED or path is None or source.compression is not None:
        return None
    text = str(path)
    if any(c in text for c in "*?[{"):
        return None  # DuckDB would read the path as a glob
    before = path.stat()
    if before.st_size == 0:
        return None
    con = job.con
    threads = int(con.execute("SELECT current_setting('threads')").fetchone()[0])
    nparts = min(threads, before.st_size // PART_MIN_BYTES)
    tmp = _part_dir(con) if nparts > 1 else None
    parts = [tmp / f"part{i}.jsonl" for i in range(nparts)] if tmp is not None else []
    order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    hasher = _Hasher(job, parts, before.st_size)
    hasher.start()
    try:
        counts = _load(con, job, kind, _literal(text), hasher, before)
    except duckdb.Error:
        counts = None  # DuckDB refused a line, or a line is rejected: the line path says why
    finally:
        hasher.join()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    if hasher.error is not None:
        raise hasher.error
    if counts is None:
        con.execute("ROLLBACK")
        con.execute("BEGIN TRANSACTION")
    con.execute(f"SET preserve_insertion_order = {'true' if order else 'false'}")
    return counts


def _load(
    con: Any, job: Job, kind: str, literal: str, hasher: _Hasher, before: Any
) -> writes.Counts | None:
    keys = [
        r[0]
        for r in con.execute(
            f"""SELECT DISTINCT unnest(CASE WHEN starts_with(json, '{{') THEN json_keys(json)
                                            ELSE error('not a JSON object') END)
                FROM read_ndjson_objects({literal})"""
        ).fetchall()
    ]
    if not keys or len(keys) > MAX_KEYS or RESERVED & set(keys):
        return None
    if len({k.lower() for k in keys}) < len(keys):
        return None  # keys differing only in case are one column name to DuckDB
    columns = tuple(_in_file_order(keys, job))
    spec = "{" + ", ".join(f"{_quote(k)}: 'JSON'" for k in columns) + "}"
    canonical.install_macros(con)
    hasher.join()  # the part files must be complete
    if hasher.error is not None:
        return None
    sources = [literal]
    offsets = [0]
    if hasher.parts:
        sources = [_literal(str(p)) for p in hasher.parts[: len(hasher.part_lines)]]
        offsets = [sum(hasher.part_lines[:i]) for i in range(len(sources))]
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {VIEW} AS "
        + " UNION ALL ".join(
            f"""SELECT ordinality + {offset} AS line_no, * EXCLUDE (ordinality)
                FROM read_json({src}, format = 'newline_delimited', records = true, columns = {spec})
                WITH ORDINALITY"""
            for src, offset in zip(sources, offsets, strict=True)
        )
    )
    parse = canonical.parse_sql(
        VIEW, job.keep_text, frozenset(columns) & canonical.TOP_KEYS, columns
    )
    names = ", ".join(writes.REQUEST_COLUMNS)
    values = ", ".join(
        {"source_kind": "$kind", "rid_hash": "hash($kind, request_id)", "file_id": "$file"}.get(
            c, c
        )
        for c in writes.REQUEST_COLUMNS
    )
    # every row goes in; a rejected line or one without an id (both need the line's text, which
    # this path does not keep) stops the statement, and the line path takes the file. The rows
    # carry their line numbers: their order in the table does not matter, and not keeping it lets
    # every thread insert.
    con.execute("SET preserve_insertion_order = false")  # `load` restores it
    (inserted,) = con.execute(
        f"""INSERT INTO requests ({names})
            SELECT {values} FROM ({parse})
            WHERE CASE WHEN reason IS NOT NULL OR request_id IS NULL
                       THEN error('line ' || line_no || ' needs the line-by-line path') ELSE true END""",
        {"kind": kind, "file": job.file_id},
    ).fetchone()
    after = job.source.path.stat() if job.source.path else None
    unchanged = (
        hasher.error is None
        and after is not None
        and (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
        and job.reader.bytes_read == before.st_size
    )
    if inserted != hasher.lines or not unchanged:
        return None  # a blank line (the reader skips it: line numbers would shift), or a live file
    duplicates = _drop_duplicates(con, job.file_id, kind)
    return writes.Counts(read=inserted, loaded=inserted - duplicates, duplicates=duplicates)


def _drop_duplicates(con: Any, file_id: int, kind: str) -> int:
    """Delete the file's rows whose request_id came earlier (in the file, or from an earlier file
    of the same kind), which the line path leaves out. Returns how many."""
    # distinct hashes are distinct ids; only equal hashes need the ids compared
    rows, distinct = con.execute(
        "SELECT count(*), count(DISTINCT rid_hash) FROM requests WHERE file_id = ?", [file_id]
    ).fetchone()
    (earlier,) = con.execute(
        """SELECT count(*) FROM requests n
           WHERE n.file_id = ? AND n.rid_hash IN (
               SELECT rid_hash FROM requests WHERE source_kind = ? AND file_id <> ?)""",
        [file_id, kind, file_id],
    ).fetchone()
    if rows == distinct and not earlier:
        return 0
    (deleted,) = con.execute(
        """DELETE FROM requests WHERE file_id = $file AND rowid IN (
               SELECT rowid FROM requests n WHERE n.file_id = $file
               QUALIFY row_number() OVER (PARTITION BY request_id ORDER BY line_no) > 1
                    OR EXISTS (SELECT 1 FROM requests o
                               WHERE o.source_kind = $kind AND o.file_id <> $file
                                 AND o.rid_hash = n.rid_hash AND o.request_id = n.request_id))""",
        {"file": file_id, "kind": kind},
    ).fetchone()
    return int(deleted)


def _part_dir(con: Any) -> Path:
    """A fresh folder for the part files, where DuckDB spills its own temporary data (beside the
    database by default), else the system's temporary folder."""
    root = con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    if root:
        try:
            Path(root).mkdir(parents=True, exist_ok=True)
            return Path(tempfile.mkdtemp(prefix="llmcost-parts-", dir=root))
        except OSError:
            pass
    return Path(tempfile.mkdtemp(prefix="llmcost-parts-"))


def _literal(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def _quote(key: str) -> str:
    return "'" + key.replace("'", "''") + "'"


def _in_file_order(keys: list[str], job: Job) -> list[str]:
    """KEYS in the order the first lines of the file write them (the order of `attrs`, as on the
    line path); keys those lines lack come after, sorted."""
    order: dict[str, int] = {}
    path = job.source.path
    if path is not None:
        with path.open("rb") as fh:
            head = fh.read(64 * 1024)
        for line in head.split(b"\n")[:-1]:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                for k in rec:
                    order.setdefault(k, len(order))
    known = set(keys)
    first = sorted((k for k in order if k in known), key=order.__getitem__)
    return first + sorted(known - set(first))
