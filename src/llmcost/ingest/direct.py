"""The canonical log read by DuckDB's own JSON reader: the whole file at once, no line split.

The line-by-line path of `requests_log` splits a file into lines and judges each with
`json_extract`, keeping every line's text, which a reject needs. Most files have no reject; for
them DuckDB's `read_json` does the parse several times faster: it reads each top-level key into
a column, and `canonical.parse_sql(columns=...)` types and judges the rows with the same rules,
straight into `requests`.

Which keys the file has is read from a sample (its head, and slices spread over the whole file).
The file is copied into part files (one per DuckDB thread: `WITH ORDINALITY`, which numbers the
lines, reads one file on one thread), each starting with a header line that names the sampled
keys; DuckDB's reader takes its columns from that line and stops at any line with another key.
That stop costs one more pass: every key of the file is then listed (`json_keys`) and the parts
are read again with those columns. Either way no key is missed, and `attrs` keeps every unmapped
one.

The direct path is taken only when its result is the line path's, and gives way otherwise (the
file's transaction is rolled back and begun again, and the caller loads the file line by line,
as if this had not been tried):
- a plain file (not stdin, not compressed) with no glob character in its path;
- DuckDB reads every line as a JSON object (an invalid line, a non-object, a byte-order mark,
  bad UTF-8 or a key given twice stops it) and one row per line (a blank line would shift the
  line numbers);
- no two keys differ only in case (DuckDB's column names do not tell them apart);
- no row is rejected, and every row has a request_id (a reject keeps the line's text, and an id
  made from the text needs it: the line path has both);
- no line may be over the size limit (the hash thread looks for one) and no row's `attrs` may
  be nested too deep (its brackets are counted when it is long): the line path measures them;
- the disk has room for the part files (else the line path copies nothing);
- the file did not change while it was read (its size, mtime and hashed bytes agree).
Duplicates are then removed as the line path leaves them out: a request_id seen earlier in the
file, or loaded before from the same kind of source.
A JSON null under an unmapped key is left out of `attrs` here (the line path keeps `"key":null`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from llmcost.ingest import canonical, sources
from llmcost.ingest.formats import Job
from llmcost.store import writes
from llmcost.store.parts import part_dir
from llmcost.store.sql import ident, literal

ENABLED = True
MAX_KEYS = 200  # more distinct top-level keys than this: a map in disguise; read line by line
SOURCE = "lc_direct"
PART_MIN_BYTES = 32 << 20  # a smaller file is one part, read on one thread
RESERVED = {"line_no", "ordinality"}  # column names the direct query uses itself
HEAD_BYTES = 64 << 10  # the sample: the file's head and tail, and SLICES slices of SLICE_BYTES
SLICES = 128
SLICE_BYTES = 8 << 10
BLOCK = 8 << 20
READ_BYTES = 1 << 20  # the hash thread's and the line count's buffer, read into again and again
NEWLINE = b"\n"
# DuckDB's reader: columns from the two header lines only, each value of a string field's key as
# text (both lines say "") and of any other as JSON text (its two values disagree: [] and {}),
# and an error for a key the header does not name (only while every column is read: `_touch`)
DETECT = "format = 'newline_delimited', records = true, maximum_depth = 2, sample_size = 2"
HEADER_LINES = 2
UNKNOWN_KEY = "has unknown key"


class _Hasher(threading.Thread):
    """Reads the file through the job's reader (its sha256 and the progress bar) while DuckDB
    reads the part files, and counts the lines from byte FROM_BYTE on (those before it were
    counted when the parts were cut): `lines` is then the file's count."""

    def __init__(self, job: Job, from_byte: int, lines_before: int) -> None:
        super().__init__(daemon=True)
        self.job = job
        self.from_byte = from_byte
        self.lines = lines_before
        self.long_lines = _LongLines()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            _yield_to_duckdb()
            last = NEWLINE[0]  # the last byte read
            at = 0
            buf = bytearray(READ_BYTES)
            for n in self.job.reader.blocks_into(buf):
                end = at + n
                if end > self.from_byte:
                    skip = max(self.from_byte - at, 0)
                    self.lines += buf.count(NEWLINE, skip, n)
                self.long_lines.feed(buf, at, n)
                at = end
                last = buf[n - 1]
                self.job.on_bytes(n)
            self.long_lines.end(at)
            if last != NEWLINE[0]:
                self.lines += 1  # the last line has no newline
        except BaseException as exc:  # re-raised in the caller's thread
            self.error = exc


class _LongLines:
    """Whether a file read block by block has a line over `sources.MAX_LINE_BYTES`: exactly
    across blocks (where the last newline was), and within a block by windows of half the
    limit, each a `find` that stops at its first newline (a line over the limit covers one
    window whole). A line of half the limit or more may be told long: the line path then
    measures it."""

    def __init__(self) -> None:
        self.limit = sources.MAX_LINE_BYTES
        self.last_newline = -1  # offset in the file
        self.found = False

    def feed(self, block: bytes | bytearray, at: int, size: int | None = None) -> None:
        """The SIZE first bytes of BLOCK (all of it by default), at offset AT of the file."""
        size = len(block) if size is None else size
        first = block.find(b"\n", 0, size)
        if first < 0:
            self.found = self.found or at + size - self.last_newline - 1 > self.limit
            return
        last = block.rfind(b"\n", 0, size)
        half = max(self.limit // 2, 1)
        self.found = (
            self.found
            or at + first - self.last_newline - 1 > self.limit
            or any(
                block.find(b"\n", begin, begin + half) < 0
                for begin in range(first + 1, last - half + 1, half)
            )
        )
        self.last_newline = at + last

    def end(self, size: int) -> None:
        self.found = self.found or size - self.last_newline - 1 > self.limit


class _Remover(threading.Thread):
    """Deletes the part files (freeing their pages takes a while) while the load goes on, once
    they are read; `finish` waits for it, or deletes them itself if it never started."""

    def __init__(self, folder: Path) -> None:
        super().__init__(daemon=True)
        self.folder = folder

    def run(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def finish(self) -> None:
        if self.ident is None:
            self.run()
        else:
            self.join()


SPARE_BYTES = 256 << 20  # left free beside the part files (for DuckDB's own writes)


def _room_for_parts(folder: Path, size: int) -> bool:
    """Whether the part files (a copy of the file, SIZE bytes) fit in FOLDER's file system with
    room to spare; else the file is read line by line, which copies nothing."""
    try:
        return shutil.disk_usage(folder).free >= size + SPARE_BYTES
    except OSError:
        return False


def _yield_to_duckdb() -> None:
    """Lower this thread's priority (Linux): DuckDB's threads keep the cores while they work, and
    the hash takes what they leave (waits on the disk, the end of a part). It is done by the time
    the rows are in, or soon after: it is needed only then."""
    with contextlib.suppress(AttributeError, OSError):  # elsewhere: the process's priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


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
    sample = _sample(path, before.st_size)
    if sample is None or not _usable(sample.keys):
        return None
    con = job.con
    threads = int(con.execute("SELECT current_setting('threads')").fetchone()[0])
    order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    tmp = part_dir(con)
    if not _room_for_parts(tmp, before.st_size):
        tmp.rmdir()
        return None  # the line path needs no copy of the file
    remover = _Remover(tmp)
    try:
        nparts = max(1, min(threads, before.st_size // PART_MIN_BYTES))
        try:
            parts, last_start = _write_parts(path, before.st_size, nparts, sample, tmp)
        except OSError:
            return None  # the file shrank while it was copied, or the copy has no room
        hasher = _Hasher(job, last_start, parts[-1][1])
        hasher.start()
        try:
            counts = _load(
                con, job, kind, literal(text), parts, sample.keys, hasher, before, remover
            )
        except duckdb.Error:
            counts = None  # DuckDB refused a line, or a line is rejected: the line path says why
        finally:
            hasher.join()
    finally:
        remover.finish()
    if hasher.error is not None:
        raise hasher.error
    if counts is None:
        con.execute("ROLLBACK")
        con.execute("BEGIN TRANSACTION")
    con.execute(f"SET preserve_insertion_order = {'true' if order else 'false'}")
    return counts


def _load(
    con: Any,
    job: Job,
    kind: str,
    literal: str,
    parts: list[tuple[Path, int]],
    keys: list[str],
    hasher: _Hasher,
    before: Any,
    remover: _Remover,
) -> writes.Counts | None:
    import duckdb

    try:
        if not _reader_stops_at_unknown_keys(con, parts[0][0].parent):
            raise duckdb.InvalidInputException(
                UNKNOWN_KEY
            )  # as if a key were unknown: list them all
        inserted = _insert(con, job, kind, parts, keys, explicit=False)
    except duckdb.Error as exc:
        if UNKNOWN_KEY not in str(exc):
            raise
        # a key the sample missed: list every key of the file, and read the parts with them all
        con.execute("ROLLBACK")
        con.execute("BEGIN TRANSACTION")
        every = _all_keys(con, literal)
        if not _usable(every):
            return None
        ordered = [k for k in keys if k in set(every)] + sorted(set(every) - set(keys))
        inserted = _insert(con, job, kind, parts, ordered, explicit=True)
    remover.start()  # the parts are read
    hasher.join()  # the file's lines are counted, and its digest is complete
    after = job.source.path.stat() if job.source.path else None
    unchanged = (
        hasher.error is None
        and after is not None
        and (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
        and job.reader.bytes_read == before.st_size
    )
    if inserted != hasher.lines or not unchanged or hasher.long_lines.found:
        return None  # a blank line (the reader skips it: line numbers would shift), or a live file
    duplicates = _drop_duplicates(con, job.file_id, kind)
    return writes.Counts(read=inserted, loaded=inserted - duplicates, duplicates=duplicates)


def _insert(
    con: Any,
    job: Job,
    kind: str,
    parts: list[tuple[Path, int]],
    keys: list[str],
    *,
    explicit: bool,
) -> int:
    """Insert every line of the part files into `requests`; returns how many.

    EXPLICIT False: the reader takes its columns from each part's header line, and stops at a
    line with any other key; True: KEYS are every key of the file, given as the columns.
    """
    columns = tuple(keys)
    text_columns = frozenset(columns) & canonical.STRING_KEYS
    if explicit:
        options = (
            "format = 'newline_delimited', records = true, columns = {"
            + ", ".join(
                f"{literal(k)}: '{'VARCHAR' if k in text_columns else 'JSON'}'" for k in columns
            )
            + "}"
        )
    else:
        options = DETECT
    # a line over the limit stops the reader: the line path rejects it by its size
    options += f", maximum_object_size = {sources.MAX_LINE_BYTES}"
    canonical.install_macros(con)
    touch = _touch(columns, job.keep_text)
    # the parts' rows, given to the parse as a subquery (a view would be planned twice: when it
    # is made and where it is used, each time opening every part)
    source = (
        "("
        + " UNION ALL ".join(
            # the part's first lines are the header: its own lines come after
            f"""SELECT ordinality - {HEADER_LINES} + {offset} AS line_no, * EXCLUDE (ordinality)
                FROM read_json({literal(str(part))}, {options}) WITH ORDINALITY
                WHERE ordinality > {HEADER_LINES}{touch}"""
            for part, offset in parts
        )
        + f") AS {SOURCE}"
    )
    parse = canonical.parse_sql(
        source, job.keep_text, frozenset(columns) & canonical.TOP_KEYS, columns, text_columns
    )
    values = {"source_kind": "$kind", "rid_hash": "hash($kind, request_id)", "file_id": "$file"}
    # every row goes in; a rejected line or one without an id (both need the line's text, which
    # this path does not keep) stops the statement, and the line path takes the file. The rows
    # carry their line numbers: their order in the table does not matter, and not keeping it lets
    # every thread insert.
    con.execute("SET preserve_insertion_order = false")  # `load` restores it
    (inserted,) = con.execute(
        writes.insert_requests_sql(
            f"""({parse})
            WHERE CASE WHEN reason IS NOT NULL OR request_id IS NULL{_deep_attrs()}
                       THEN error('line ' || line_no || ' needs the line-by-line path') ELSE true END""",
            values,
        ),
        {"kind": kind, "file": job.file_id},
    ).fetchone()
    return int(inserted)


_CHECKED: dict[str, bool] = {}  # DuckDB version -> whether its reader stops at an unknown key


def _reader_stops_at_unknown_keys(con: Any, tmp: Path) -> bool:
    """Whether DuckDB's reader, with the header's columns, stops at a line with another key (as
    every DuckDB this runs on does; checked once a process, so that a reader that one day lets
    such a key pass unseen costs speed, never a key)."""
    import duckdb

    version = str(duckdb.__version__)
    if version not in _CHECKED:
        probe = tmp / "probe.jsonl"
        probe.write_bytes(_header(["a"]) + b'{"a":1,"b":2}\n')
        cur = con.cursor()  # an error would end the file's transaction: a cursor has its own
        try:
            cur.execute(f"SELECT * FROM read_json({literal(str(probe))}, {DETECT})").fetchall()
            _CHECKED[version] = False
        except duckdb.Error as exc:
            _CHECKED[version] = UNKNOWN_KEY in str(exc)
        finally:
            cur.close()
            probe.unlink(missing_ok=True)
    return _CHECKED[version]


def _touch(columns: tuple[str, ...], keep_text: bool) -> str:
    """A filter that reads the columns the parse leaves unread (the text fields, without
    --keep-text): DuckDB's reader checks for unknown keys only while it reads every column."""
    text_keys = canonical.TEXT_KEYS | canonical.OTHER_TEXT_KEYS
    unread = [] if keep_text else [c for c in columns if c in text_keys]
    return "".join(
        f" AND (strlen(CAST({ident(c)} AS VARCHAR)) >= 0 OR {ident(c)} IS NULL)" for c in unread
    )


def _deep_attrs() -> str:
    """A condition on a row's `attrs` (its unmapped values) that may be nested too deep: as many
    brackets as `canonical.MAX_DEPTH`. The line path then measures the line and rejects it,
    or loads it. A short `attrs` (most) costs one length, which costs nothing to read."""
    return (
        f" OR (strlen(attrs) >= {2 * canonical.MAX_DEPTH} AND strlen(attrs)"
        f" - strlen(replace(replace(attrs, '[', ''), '{{', '')) >= {canonical.MAX_DEPTH})"
    )


def _usable(keys: list[str]) -> bool:
    """Whether the reader can give KEYS their own columns."""
    if not keys or len(keys) > MAX_KEYS or RESERVED & set(keys):
        return False
    return len({k.lower() for k in keys}) == len(keys)  # keys differing only in case: one name


def _all_keys(con: Any, literal: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            f"""SELECT DISTINCT unnest(CASE WHEN starts_with(json, '{{') THEN json_keys(json)
                                            ELSE error('not a JSON object') END)
                FROM read_ndjson_objects({literal})"""
        ).fetchall()
    ]


class _Sample:
    """What a sample of the file's lines says: its top-level keys, in the order they first
    appear, and how long its lines are here and there (to cut the file into parts of as many
    lines, not bytes: the work is per line)."""

    def __init__(self, keys: list[str], widths: list[tuple[int, float]]) -> None:
        self.keys = keys
        self.widths = widths  # (offset, mean bytes a line there), by offset


def _sample(path: Path, size: int) -> _Sample | None:
    """The file's head, whole lines from slices spread over it, and its tail; None when a sampled
    line is not a JSON object (the reader would stop at it: the line path says why)."""
    order: dict[str, None] = {}
    widths: list[tuple[int, float]] = []
    slices = [(0, HEAD_BYTES)]
    slices += [(size * i // SLICES, SLICE_BYTES) for i in range(1, SLICES)]
    slices.append((size - HEAD_BYTES, HEAD_BYTES))
    if size <= sum(length for _, length in slices):
        slices = [(0, size)]  # a small file: all of it, once
    with path.open("rb") as fh:
        for start, length in slices:
            fh.seek(start)
            block = fh.read(length)
            lines = block.split(b"\n")
            if start > 0:
                lines = lines[1:]  # the slice begins inside a line
            if start + len(block) < size:
                lines = lines[:-1]  # and ends inside one
            for line in lines:
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except (ValueError, RecursionError):
                    return None
                if not isinstance(rec, dict):
                    return None
                for k in rec:
                    order.setdefault(k, None)
            if lines:
                widths.append((start, sum(len(line) + 1 for line in lines) / len(lines)))
    return _Sample(list(order), widths)


def _cuts(size: int, nparts: int, widths: list[tuple[int, float]]) -> list[int]:
    """Byte offsets that cut the file into NPARTS parts of about as many lines each, from the
    line widths sampled (each holds from its offset to the next)."""
    if nparts <= 1 or not widths:
        return [size * i // nparts for i in range(1, nparts)]
    spans = []  # (start, end, lines estimated in it)
    widths = sorted(widths)
    for i, (start, width) in enumerate(widths):
        end = widths[i + 1][0] if i + 1 < len(widths) else size
        begin = 0 if i == 0 else start
        if end > begin:
            spans.append((begin, end, (end - begin) / max(width, 1.0)))
    total = sum(n for _, _, n in spans)
    cuts = []
    for j in range(1, nparts):
        want = total * j / nparts
        seen = 0.0
        for begin, end, n in spans:
            if seen + n >= want:
                cuts.append(begin + int((want - seen) / n * (end - begin)))
                break
            seen += n
    return cuts


def _write_parts(
    path: Path, size: int, nparts: int, sample: _Sample, tmp: Path
) -> tuple[list[tuple[Path, int]], int]:
    """Copy the file into NPARTS part files of whole lines (about as many in each), each after a
    header line naming the sampled keys; returns each part with the number of lines before it
    in the file, and the byte the last part starts at."""
    header = _header(sample.keys)
    with path.open("rb") as fh:
        cuts = [0]
        for at in _cuts(size, nparts, sample.widths):
            fh.seek(max(at, cuts[-1]))
            while (line := fh.readline()) and not line.endswith(b"\n"):
                pass  # a line of no end: the rest is the last part
            at = fh.tell()
            if cuts[-1] < at < size:
                cuts.append(at)
        cuts.append(size)
    ranges = list(itertools.pairwise(cuts))
    parts = [tmp / f"part{i}.jsonl" for i in range(len(ranges))]
    errors: list[BaseException] = []
    copiers = [  # a thread a part: the copy is the kernel's work, on every core
        threading.Thread(target=_copy, args=(path, r, part, header, errors), daemon=True)
        for r, part in zip(ranges, parts, strict=True)
    ]
    for copier in copiers:
        copier.start()
    offsets = [0]
    buf = bytearray(READ_BYTES)
    # the lines before each part, counted while it is copied
    with path.open("rb", buffering=0) as fh:
        for start, end in ranges[:-1]:
            fh.seek(start)
            n = 0
            left = end - start
            while left > 0 and (got := fh.readinto(buf)):
                n += buf.count(NEWLINE, 0, min(got, left))
                left -= got
            offsets.append(offsets[-1] + n)
    for copier in copiers:
        copier.join()
    if errors:
        raise errors[0]
    return list(zip(parts, offsets, strict=True)), ranges[-1][0]


def _header(keys: list[str]) -> bytes:
    """The header lines that give DuckDB's reader its columns (see DETECT)."""
    lines = []
    others: tuple[list[Any], dict[str, Any]] = ([], {})
    for other in others:
        line: dict[str, Any] = {k: "" if k in canonical.STRING_KEYS else other for k in keys}
        lines.append(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    return "".join(lines).encode()


def _copy(
    path: Path, span: tuple[int, int], part: Path, header: bytes, errors: list[BaseException]
) -> None:
    try:
        with path.open("rb") as src, part.open("wb") as out:
            out.write(header)
            out.flush()
            _copy_range(src, out, *span)
    except BaseException as exc:  # re-raised in the caller's thread
        errors.append(exc)


def _copy_range(src: Any, out: Any, start: int, end: int) -> None:
    """Bytes START..END of SRC to the end of OUT: in the kernel where it can, else read and write."""
    at = start
    copy_range = getattr(os, "copy_file_range", None)
    if copy_range is not None:
        try:
            while at < end:
                n = copy_range(src.fileno(), out.fileno(), end - at, at)
                if n == 0:
                    break
                at += n
        except OSError:
            pass  # not between these two files: copy the rest by hand
    src.seek(at)
    out.seek(0, os.SEEK_END)
    while at < end and (block := src.read(min(BLOCK, end - at))):
        out.write(block)
        at += len(block)
    if at < end:
        raise OSError(f"{src.name} shrank while it was read")


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
