"""Loader for the canonical request log: JSON lines straight into DuckDB, chunk by chunk."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from llmcost import tokens
from llmcost.ingest import canonical, sources
from llmcost.ingest.formats import Format, Job, first_records, register
from llmcost.ingest.sources import (
    OVERSIZE,
    OVERSIZE_PREVIEW,
    ChunkReader,
    Source,
    open_binary,
    read_oversize,
)
from llmcost.store import writes

STAGE = "lc_stage"
CHUNK_VIEW = "lc_chunk"
BATCH_ROWS = 4096
MEMORY_LIMIT = "512MB"  # DuckDB buffer pool during a load; chunks and Arrow buffers come on top


def chunk_table(data: bytes, first_line_no: int) -> tuple[Any, int]:
    """An Arrow table (line_no, line, raw, pre_reason) over the lines of a chunk; and the line count.

    A valid UTF-8 chunk is split by Arrow without a Python object per line. Lines that are not
    valid UTF-8 are rejected here, kept with their bytes shown escaped.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    # split as bytes, then one UTF-8 check in the cast: no Python str of the chunk
    lines = pc.split_pattern(pa.array([data], pa.large_binary()), pattern=b"\n").flatten()
    if data.endswith(b"\n"):
        lines = lines.slice(0, len(lines) - 1)
    if _suspect(data, lines):
        return _chunk_table_slow(data, first_line_no)
    try:
        lines = lines.cast(pa.large_string())
    except pa.ArrowInvalid:
        return _chunk_table_slow(data, first_line_no)
    n = len(lines)
    table = _batched(
        pa.table(
            {
                "line_no": pa.array(range(first_line_no, first_line_no + n), pa.int64()),
                "line": lines,
                "raw": pa.nulls(n, pa.large_string()),
                "pre_reason": pa.nulls(n, pa.string()),
            }
        )
    )
    return table, n


MAX_DEPTH = canonical.MAX_DEPTH


def _suspect(data: bytes, lines: Any) -> bool:
    """Whether a chunk may hold a line to reject before parsing: a placeholder of an over-long
    line, a line over the limit, or one with MAX_DEPTH brackets (deep nesting needs them)."""
    import pyarrow.compute as pc

    if OVERSIZE in data:
        return True
    if len(lines) and pc.max(pc.binary_length(lines)).as_py() > sources.MAX_LINE_BYTES:
        return True
    if data.count(b"[") + data.count(b"{") < MAX_DEPTH:
        return False
    openers = pc.add(pc.count_substring(lines, "["), pc.count_substring(lines, "{"))
    return bool(len(lines)) and pc.max(openers).as_py() >= MAX_DEPTH


def line_reason(line: bytes) -> str | None:
    """Why a line is rejected before it is parsed (its size or its depth), if it is."""
    oversize = read_oversize(line)
    if oversize is not None:
        return f"line too long ({oversize[0]:,} bytes; the limit is {sources.MAX_LINE_BYTES:,}: ingest --max-line-mb)"
    if len(line) > sources.MAX_LINE_BYTES:
        return f"line too long ({len(line):,} bytes; the limit is {sources.MAX_LINE_BYTES:,}: ingest --max-line-mb)"
    if line.count(b"[") + line.count(b"{") >= MAX_DEPTH and json_depth(line) > MAX_DEPTH:
        return f"nested deeper than {MAX_DEPTH} levels"
    return None


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(line: bytes) -> int:
    """The deepest nesting of brackets in LINE, outside strings."""
    depth = deepest = 0
    for m in _BRACKET.finditer(_STRING.sub(b"", line)):
        if m.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _preview(line: bytes) -> str:
    """What a reject keeps of a line rejected for its size or depth: its first bytes."""
    oversize = read_oversize(line)
    head = oversize[1] if oversize else line[:OVERSIZE_PREVIEW].decode("utf-8", "backslashreplace")
    return head + "…"


def _batched(table: Any) -> Any:
    """Small record batches, so that DuckDB scans the chunk on every thread."""
    import pyarrow as pa

    return pa.Table.from_batches(table.to_batches(max_chunksize=BATCH_ROWS))


def _chunk_table_slow(data: bytes, first_line_no: int) -> tuple[Any, int]:
    import pyarrow as pa

    parts = data.split(b"\n")
    if data.endswith(b"\n"):
        parts.pop()
    nums: list[int] = []
    lines: list[str | None] = []
    raws: list[str | None] = []
    reasons: list[str | None] = []
    for i, part in enumerate(parts):
        nums.append(first_line_no + i)
        reason = line_reason(part)
        if reason is not None:
            lines.append(None)
            raws.append(_preview(part))
            reasons.append(reason)
            continue
        try:
            lines.append(part.decode("utf-8"))
            raws.append(None)
            reasons.append(None)
        except UnicodeDecodeError as exc:
            lines.append(None)
            raws.append(part.decode("utf-8", errors="backslashreplace"))
            reasons.append(f"not valid UTF-8 (byte {exc.start})")
    table = _batched(
        pa.table(
            {
                "line_no": pa.array(nums, pa.int64()),
                "line": pa.array(lines, pa.large_string()),
                "raw": pa.array(raws, pa.large_string()),
                "pre_reason": pa.array(reasons, pa.string()),
            }
        )
    )
    return table, len(parts)


def load_table(
    job: Job, table: Any, kind: str, present: frozenset[str] | None = None
) -> writes.Counts:
    """Parse one Arrow chunk with the canonical SQL and commit it (the shared path for every request source).

    `present`: the top-level keys of the lines when the caller knows them (an adapter that wrote
    the lines itself); otherwise DuckDB is asked.
    """
    con = job.con
    canonical.install_macros(con)
    # DuckDB finds the Arrow table through this local name (a replacement scan). Not con.register():
    # a view dropped inside the file's transaction lives on until COMMIT, and with it every chunk.
    lc_chunk = table  # noqa: F841
    present = present_keys(con, table) if present is None else present & canonical.TOP_KEYS
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {STAGE} AS {canonical.parse_sql(CHUNK_VIEW, job.keep_text, present)}"
    )
    fill_missing_counts(con, STAGE, job.keep_text)  # lines with text but no token counts (SPEC §2)
    number_made_ids(con, STAGE, job.file_id)
    if not job.keep_text:
        from llmcost.ingest import text  # a reject keeps no prompt or answer (SPEC §3)

        text.scrub_rejects(con, STAGE)
    counts = writes.commit_staged_requests(con, STAGE, file_id=job.file_id, kind=kind)
    con.execute(f"DROP TABLE {STAGE}")
    return counts


MADE = "lc_made_ids"  # per file: how many times each made-up id occurred in its earlier chunks


def number_made_ids(con: Any, stage: str, file_id: int) -> None:
    """Tell repeated records without a request_id apart: the k-th occurrence of the same record
    in a file gets `#k` after its made-up id (the first keeps it bare), so that two identical
    lines are two requests, while the same file read again, or a copy with other line ends,
    makes the same ids. Counted across the file's chunks in a temporary table, which rolls back
    with the file."""
    (made,) = con.execute(
        f"SELECT count(*) FROM {stage} WHERE made_id AND reason IS NULL"
    ).fetchone()
    if not made:
        return
    con.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {MADE} (file_id BIGINT, request_id VARCHAR, n BIGINT)"
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE lc_made_now AS
            SELECT s.line_no, s.request_id,
                   row_number() OVER (PARTITION BY s.request_id ORDER BY s.line_no) + coalesce(m.n, 0) AS k
            FROM {stage} s LEFT JOIN {MADE} m ON m.file_id = $file AND m.request_id = s.request_id
            WHERE s.made_id AND s.reason IS NULL""",
        {"file": file_id},
    )
    con.execute(
        f"""UPDATE {stage} SET request_id = {stage}.request_id || '#' || n.k
            FROM lc_made_now n WHERE {stage}.line_no = n.line_no AND n.k > 1"""
    )
    con.execute(
        f"DELETE FROM {MADE} WHERE file_id = $file AND request_id IN (SELECT request_id FROM lc_made_now)",
        {"file": file_id},
    )
    con.execute(
        f"INSERT INTO {MADE} SELECT $file, request_id, max(k) FROM lc_made_now GROUP BY request_id",
        {"file": file_id},
    )
    con.execute("DROP TABLE lc_made_now")


class Staged(Protocol):
    """A group of files parsed together, then loaded as one group of whole files (or one by one)."""

    def decide(self, include: list[int]) -> None:
        """Decide what the files at the places INCLUDE load (in that order; the others are left out)."""

    counts: dict[int, writes.Counts]  # after `decide`: what each included file loads

    def commit(self, job: Job, seq: int) -> writes.Counts:
        """Load the file at place SEQ in the caller's transaction."""

    def commit_group(
        self, con: Any, file_ids: dict[int, int], keep_text: bool
    ) -> dict[int, writes.Counts]:
        """Load the files at the places FILE_IDS maps (to their file ids), in the caller's
        transaction: the same rows as committing them one by one, in order."""

    def drop(self) -> None:
        """Drop what the group staged."""


@dataclass(frozen=True)
class Grouped:
    """A format whose small files are read first and loaded together (`ingest` batches them):
    collect(path, chunks, on_bytes) reads a file without the database; parse(cursor, collected
    list) parses a group without its tables (both may run in a thread, on a cursor of its own);
    stage(con, parsed, keep_text) makes the group ready for `Staged.decide`."""

    collect: Callable[[Path | None, Iterable[bytes | bytearray], Callable[[int], None]], Any]
    parse: Callable[[Any, list[Any]], Any]
    stage: Callable[[Any, Any, bool], Staged]


GROUPED: dict[str, Grouped] = {}  # format name -> how to batch it


def register_grouped(
    name: str,
    collect: Callable[[Path | None, Iterable[bytes | bytearray], Callable[[int], None]], Any],
    parse: Callable[[Any, list[Any]], Any],
    stage: Callable[[Any, Any, bool], Staged],
) -> Grouped:
    GROUPED[name] = Grouped(collect, parse, stage)
    return GROUPED[name]


def present_keys(con: Any, table: Any) -> frozenset[str]:
    """The alias keys that occur at the top level of any line of TABLE: the parse SQL is specialised to them.

    One cheap pass (json_keys) saves extracting and judging the ~60 aliases a log does not use.
    """
    lc_chunk = table  # noqa: F841  (read by the query below)
    row = con.execute(
        f"SELECT list(DISTINCT k) FROM (SELECT unnest(json_keys(line)) AS k FROM {CHUNK_VIEW}"
        " WHERE json_valid(line) AND json_type(line) = 'OBJECT')"
    ).fetchone()
    return frozenset(row[0] or ()) & canonical.TOP_KEYS


def load(job: Job) -> writes.Counts:
    from llmcost.ingest import direct

    with memory_cap(job.con):
        counts = direct.load(job, FORMAT.kind)
        if counts is not None:
            return counts
        if job.reader.bytes_read == 0:
            return _load_lines(job, job.reader, job.on_bytes)
        # the direct attempt read the file once (its digest is complete): read it again, line by line
        with open_binary(job.source) as stream:
            return _load_lines(job, ChunkReader(stream, job.source.name), lambda n: None)


def _load_lines(
    job: Job, chunks: Iterable[bytes], on_bytes: Callable[[int], None]
) -> writes.Counts:
    """The line-by-line path: each chunk split into lines, every line judged with its text at hand."""
    total = writes.Counts()
    next_line = 1
    for chunk in chunks:
        table, n = chunk_table(chunk, next_line)
        next_line += n
        total.add(load_table(job, table, FORMAT.kind))
        on_bytes(len(chunk))
    return total


@contextmanager
def memory_cap(con: Any, limit: str = MEMORY_LIMIT) -> Iterator[None]:
    """Cap DuckDB's buffer pool while a file loads (it spills to disk beyond), then restore the setting.

    Without it DuckDB may keep most of a big file's uncommitted rows in memory (its default limit
    is 80% of RAM); with it, peak memory stays flat however long the file is.
    """
    before = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    con.execute(f"SET memory_limit = '{limit}'")
    try:
        yield
    except BaseException:
        # a failed load leaves the transaction aborted until the caller rolls back
        _restore(con, before)
        raise
    con.execute(f"SET memory_limit = '{before}'")


def _restore(con: Any, limit: str) -> None:
    import duckdb

    # the connection may be in an aborted transaction; the error being raised is the one to report
    with suppress(duckdb.Error):
        con.execute(f"SET memory_limit = '{limit}'")


SNIFF_RECORDS = 1000


def sniff(head: bytes, source: Source) -> bool:
    # a few bad lines at the top (an array, a stray string) must not hide a log: most must be objects
    # every record of the head, not the first few: a log's first lines may all be bad ones
    records = first_records(head, limit=SNIFF_RECORDS)
    objects = sum(isinstance(r, dict) for r in records)
    return (
        bool(records)
        and 2 * objects > len(records)
        and any(
            isinstance(r, dict)
            and any(
                k in r
                for k in ("model", "model_id", "gen_ai.request.model", "gen_ai.response.model")
            )
            for r in records
        )
    )


FORMAT = register(
    Format(
        name="requests",
        kind="requests",
        description="canonical request log (JSON lines; SPEC §2 fields and aliases)",
        sniff=sniff,
        load=load,
        priority=900,
    )
)


def fill_missing_counts(con: Any, stage: str, keep_text: bool) -> int:
    """Re-parse staged rejects 'no token counts' that carry prompt/completion text, with counted tokens.

    Runs between `canonical.parse_sql` and the commit: the re-parsed rows replace the rejects in
    `stage`, marked estimated. Returns how many lines were filled in.
    """
    rows = con.execute(
        f"SELECT line_no, line FROM {stage} WHERE reason LIKE ?", [tokens.NO_COUNTS]
    ).fetchall()
    if not rows:
        return 0
    try:
        import tiktoken  # noqa: F401  (ingest works without it: such lines then stay rejected)
    except ImportError:
        return 0
    filled = [(n, new) for n, line in rows if (new := tokens.with_counts(line)) is not None]
    if not filled:
        return 0
    import pyarrow as pa

    originals = dict(rows)  # a reject still shows the line as the file had it

    chunk = pa.table(
        {
            "line_no": pa.array([n for n, _ in filled], pa.int64()),
            "line": pa.array([t for _, t in filled], pa.large_string()),
            "raw": pa.array([originals[n] for n, _ in filled], pa.large_string()),
            "pre_reason": pa.nulls(len(filled), pa.string()),
        }
    )
    con.register("lc_estimate_chunk", chunk)
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE lc_estimated AS {canonical.parse_sql('lc_estimate_chunk', keep_text)}"
        )
    finally:
        con.unregister("lc_estimate_chunk")
    con.execute("UPDATE lc_estimated SET estimated = reason IS NULL")
    # the counted fields are ours, not the user's: keep attrs as the line had it
    con.execute(f"DELETE FROM {stage} WHERE line_no IN (SELECT line_no FROM lc_estimated)")
    con.execute(f"INSERT INTO {stage} BY NAME SELECT * FROM lc_estimated")
    con.execute("DROP TABLE lc_estimated")
    return len(filled)
