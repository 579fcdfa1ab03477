"""Loader for the canonical request log: JSON lines straight into DuckDB, chunk by chunk."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from llmcost.ingest import canonical
from llmcost.ingest.formats import Format, Job, first_records, register
from llmcost.ingest.sources import ChunkReader, Source, open_binary
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
    from llmcost.tokens import fill_missing_counts  # lines with text but no token counts (SPEC §2)

    fill_missing_counts(con, STAGE, job.keep_text)
    if not job.keep_text:
        from llmcost.ingest import text  # a reject keeps no prompt or answer (SPEC §3)

        text.scrub_rejects(con, STAGE)
    counts = writes.commit_staged_requests(con, STAGE, file_id=job.file_id, kind=kind)
    con.execute(f"DROP TABLE {STAGE}")
    return counts


class Staged(Protocol):
    """A group of files parsed together; each file is then loaded in its own transaction."""

    def decide(self, include: list[int]) -> None:
        """Decide what the files at the places INCLUDE load (in that order; the others are left out)."""

    def commit(self, job: Job, seq: int) -> writes.Counts:
        """Load the file at place SEQ in the caller's transaction."""

    def drop(self) -> None:
        """Drop what the group staged."""


@dataclass(frozen=True)
class Grouped:
    """A format whose small files are read first and loaded together (`ingest` batches them):
    collect(path, chunks, on_bytes) reads a file without the database; parse(cursor, collected
    list) parses a group without its tables (both may run in a thread, on a cursor of its own);
    stage(con, parsed, keep_text) makes the group ready for `Staged.decide`."""

    collect: Callable[[Path | None, Iterable[bytes], Callable[[int], None]], Any]
    parse: Callable[[Any, list[Any]], Any]
    stage: Callable[[Any, Any, bool], Staged]


GROUPED: dict[str, Grouped] = {}  # format name -> how to batch it


def register_grouped(
    name: str,
    collect: Callable[[Path | None, Iterable[bytes], Callable[[int], None]], Any],
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


def sniff(head: bytes, source: Source) -> bool:
    # a few bad lines at the top (an array, a stray string) must not hide a log: most must be objects
    records = first_records(head)
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
