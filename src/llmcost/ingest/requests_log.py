"""Loader for the canonical request log: JSON lines straight into DuckDB, chunk by chunk."""

from __future__ import annotations

from typing import Any

from llmcost.ingest import canonical
from llmcost.ingest.formats import Format, Job, first_records, register
from llmcost.ingest.sources import Source
from llmcost.store import writes

STAGE = "lc_stage"
CHUNK_VIEW = "lc_chunk"
BATCH_ROWS = 4096


def chunk_table(data: bytes, first_line_no: int) -> tuple[Any, int]:
    """An Arrow table (line_no, line, raw, pre_reason) over the lines of a chunk; and the line count.

    A valid UTF-8 chunk is split by Arrow without a Python object per line. Lines that are not
    valid UTF-8 are rejected here, kept with their bytes shown escaped.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _chunk_table_slow(data, first_line_no)
    lines = pc.split_pattern(pa.array([text], pa.large_string()), pattern="\n").flatten()
    if text.endswith("\n"):
        lines = lines.slice(0, len(lines) - 1)
    n = len(lines)
    table = _batched(pa.table(
        {
            "line_no": pa.array(range(first_line_no, first_line_no + n), pa.int64()),
            "line": lines,
            "raw": pa.nulls(n, pa.large_string()),
            "pre_reason": pa.nulls(n, pa.string()),
        }
    ))
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
    nums, lines, raws, reasons = [], [], [], []
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
    table = _batched(pa.table(
        {
            "line_no": pa.array(nums, pa.int64()),
            "line": pa.array(lines, pa.large_string()),
            "raw": pa.array(raws, pa.large_string()),
            "pre_reason": pa.array(reasons, pa.string()),
        }
    ))
    return table, len(parts)


def load_table(job: Job, table: Any, kind: str) -> writes.Counts:
    """Parse one Arrow chunk with the canonical SQL and commit it (the shared path for every request source)."""
    con = job.con
    canonical.install_macros(con)
    con.register(CHUNK_VIEW, table)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {STAGE} AS {canonical.parse_sql(CHUNK_VIEW, job.keep_text)}")
    finally:
        con.unregister(CHUNK_VIEW)
    counts = writes.commit_staged_requests(con, STAGE, file_id=job.file_id, kind=kind)
    con.execute(f"DROP TABLE {STAGE}")
    return counts


def load(job: Job) -> writes.Counts:
    total = writes.Counts()
    next_line = 1
    for chunk in job.reader:
        table, n = chunk_table(chunk, next_line)
        next_line += n
        total.add(load_table(job, table, FORMAT.kind))
        job.on_bytes(len(chunk))
    return total


def sniff(head: bytes, source: Source) -> bool:
    records = first_records(head)
    return bool(records) and all(isinstance(r, dict) for r in records) and any(
        any(k in r for k in ("model", "model_id", "gen_ai.request.model", "gen_ai.response.model")) for r in records
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
