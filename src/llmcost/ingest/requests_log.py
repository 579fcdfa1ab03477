"""Loader for the canonical request log: JSON lines straight into DuckDB, chunk by chunk."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmcost.ingest import canonical
from llmcost.ingest.formats import Format, Job, first_records, register
from llmcost.ingest.sources import Source
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
    counts = writes.commit_staged_requests(con, STAGE, file_id=job.file_id, kind=kind)
    con.execute(f"DROP TABLE {STAGE}")
    return counts


@dataclass(frozen=True)
class Grouped:
    """A format whose small files are read first and parsed together (`ingest` batches them):
    collect(path, chunks, on_bytes) reads a file without the database; stage(con, collected list,
    keep_text) parses a group into GROUP_STAGE; finish(job, collected, seq) loads one file in its
    transaction (seq None: on its own, without a group stage)."""

    collect: Callable[[Path | None, Iterable[bytes], Callable[[int], None]], Any]
    stage: Callable[[Any, list[Any], bool], None]
    finish: Callable[[Job, Any, int | None], writes.Counts]


GROUPED: dict[str, Grouped] = {}  # format name -> how to batch it


def register_grouped(
    name: str,
    collect: Callable[[Path | None, Iterable[bytes], Callable[[int], None]], Any],
    finish: Callable[[Job, Any, int | None], writes.Counts],
    stage: Callable[[Any, list[Any], bool], None],
) -> Grouped:
    GROUPED[name] = Grouped(collect, stage, finish)
    return GROUPED[name]


GROUP_STAGE = "lc_stage_group"
# line_no in a group stage = the file's place in the group * GROUP_SHIFT + its line_no
GROUP_SHIFT = 1 << 40


def stage_group(con: Any, table: Any, keep_text: bool, present: frozenset[str]) -> None:
    """Parse the records of several small files at once (outside any transaction) into GROUP_STAGE.

    Parsing depends on the lines only, not on the database; what does (dedupe, rejects, counts)
    is left to `commit_group_file`, one file at a time in its own transaction. DuckDB spends
    ~60 ms planning the parse SQL whatever the number of rows, which small files paid each.
    """
    canonical.install_macros(con)
    lc_chunk = table  # noqa: F841  (read by the query below)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {GROUP_STAGE} AS "
        f"{canonical.parse_sql(CHUNK_VIEW, keep_text, present & canonical.TOP_KEYS)}"
    )
    from llmcost.tokens import fill_missing_counts

    fill_missing_counts(con, GROUP_STAGE, keep_text)
    _GROUP_COUNTS.clear()
    for seq, read, rejected in con.execute(
        f"SELECT line_no // {GROUP_SHIFT}, count(*), count(reason) FROM {GROUP_STAGE} GROUP BY ALL"
    ).fetchall():
        _GROUP_COUNTS[int(seq)] = (int(read), int(rejected))


_GROUP_COUNTS: dict[int, tuple[int, int]] = {}  # place in the group -> (rows, rejects) staged


def commit_group_file(job: Job, seq: int, kind: str, dropped: list[int]) -> writes.Counts:
    """Commit the staged rows of the file at place SEQ of the group, less the line numbers DROPPED."""
    base = seq * GROUP_SHIFT
    skip = f" AND line_no NOT IN ({', '.join(str(base + n) for n in dropped)})" if dropped else ""
    stage = (
        f"(SELECT * REPLACE (line_no - {base} AS line_no) FROM {GROUP_STAGE}"
        f" WHERE line_no >= {base} AND line_no < {base + GROUP_SHIFT}{skip})"
    )
    counts = None if dropped else _GROUP_COUNTS.get(seq, (0, 0))
    return writes.commit_staged_requests(
        job.con, stage, file_id=job.file_id, kind=kind, read_rejected=counts
    )


def drop_group(con: Any) -> None:
    con.execute(f"DROP TABLE IF EXISTS {GROUP_STAGE}")


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
    total = writes.Counts()
    next_line = 1
    with memory_cap(job.con):
        for chunk in job.reader:
            table, n = chunk_table(chunk, next_line)
            next_line += n
            total.add(load_table(job, table, FORMAT.kind))
            job.on_bytes(len(chunk))
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
