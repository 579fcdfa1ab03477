"""Ingest: find files, recognise their format, load each in one transaction, count every line.

For every file, `read = loaded + rejected + duplicates`. A file already ingested whole (same
path, size and mtime; or the same content under another name) is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from llmcost.errors import InputError
from llmcost.ingest import formats
from llmcost.ingest.sources import ChunkReader, Source, expand, open_binary, read_head
from llmcost.store import writes


@dataclass
class FileResult:
    path: str
    format: str
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    duplicates: int = 0
    skipped: bool = False
    strict_failed: bool = (
        False  # --strict and lines were rejected: nothing from this file was loaded
    )

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        if not self.strict_failed:
            out.pop("strict_failed")
        return out


@dataclass
class IngestSummary:
    files: list[FileResult] = field(default_factory=list)
    passed_over: list[str] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        keys = ("read", "loaded", "rejected", "duplicates")
        return {k: sum(getattr(f, k) for f in self.files) for k in keys}

    @property
    def strict_failed(self) -> bool:
        return any(f.strict_failed for f in self.files)

    def as_json(self) -> dict[str, Any]:
        return {
            "files": [f.as_json() for f in self.files],
            "totals": self.totals,
            "passed_over": self.passed_over,
        }


Progress = Callable[[int], None]


def detect(source: Source) -> formats.Format | None:
    head = read_head(source)
    if not head.strip():
        return None
    for fmt in formats.ordered():
        if fmt.sniff(head, source):
            return fmt
    names = ", ".join(f.name for f in formats.ordered())
    raise InputError(
        f"cannot recognise the format of {source.name} (tried: {names})",
        hint="force one with --as NAME; `llmcost ingest --list-formats` describes them",
    )


def forced_format(name: str) -> formats.Format:
    fmt = formats.get(name)
    if fmt is None:
        names = ", ".join(f.name for f in formats.ordered())
        raise InputError(f"unknown format {name!r} for --as", hint=f"choose one of: {names}")
    return fmt


def ingest_paths(
    con: Any,
    paths: list[str],
    *,
    as_format: str | None = None,
    strict: bool = False,
    keep_text: bool = False,
    progress: Progress | None = None,
) -> IngestSummary:
    sources, passed_over = expand(paths)
    forced = forced_format(as_format) if as_format else None
    summary = IngestSummary(passed_over=passed_over)
    stdin_seen = False
    for source in sources:
        if source.path is None:
            if stdin_seen:
                raise InputError("'-' (stdin) given more than once")
            stdin_seen = True
        summary.files.append(_ingest_one(con, source, forced, strict, keep_text, progress))
    return summary


def _ingest_one(
    con: Any,
    source: Source,
    forced: formats.Format | None,
    strict: bool,
    keep_text: bool,
    progress: Progress | None,
) -> FileResult:
    size = mtime_ns = None
    key = source.name
    if source.path is not None:
        stat = source.path.stat()
        size, mtime_ns = stat.st_size, stat.st_mtime_ns
        key = str(source.path.resolve())
        if writes.find_file(con, path=key, size=size, mtime_ns=mtime_ns) is not None:
            if progress:
                progress(size)
            return FileResult(source.name, _format_of(con, key), skipped=True)
    if source.path is None and forced is None:
        raise InputError(
            "cannot detect the format of stdin", hint="name it with --as, e.g. --as requests"
        )
    fmt = forced or detect(source)
    if fmt is None:
        return FileResult(source.name, "empty")

    on_bytes: Progress = (lambda n: None) if progress is None or source.compression else progress
    with open_binary(source) as stream:
        reader = ChunkReader(stream, source.name)
        con.execute("BEGIN TRANSACTION")
        try:
            file_id = writes.next_file_id(con)
            job = formats.Job(con, source, file_id, reader, keep_text=keep_text, on_bytes=on_bytes)
            counts = fmt.load(job)
            digest = reader.hexdigest()
            if writes.find_hash(con, digest, fmt.kind) is not None:
                con.execute("ROLLBACK")  # the same content under another name: already loaded whole
                result = FileResult(source.name, fmt.name, skipped=True)
            elif strict and counts.rejected:
                con.execute("ROLLBACK")
                result = FileResult(source.name, fmt.name, **asdict(counts), strict_failed=True)
                result.loaded = 0
            else:
                if (
                    source.path is not None
                ):  # this run re-judged every line of the path: older rejects are stale
                    writes.forget_rejects(con, key)
                writes.record_file(
                    con, file_id=file_id, path=key, sha256=digest, size=size, mtime_ns=mtime_ns,
                    fmt=fmt.name, kind=fmt.kind, counts=counts,
                )  # fmt: skip
                con.execute("COMMIT")
                result = FileResult(source.name, fmt.name, **asdict(counts))
        except BaseException:
            con.execute("ROLLBACK")
            raise
    if progress and source.compression and size:
        progress(size)
    return result


def _format_of(con: Any, path: str) -> str:
    row = con.execute(
        "SELECT format FROM files WHERE path = ? ORDER BY file_id DESC LIMIT 1", [path]
    ).fetchone()
    return str(row[0]) if row else "?"


def rejects(con: Any, limit: int | None = 50) -> list[dict[str, Any]]:
    sql = """
        SELECT f.path, r.line_no, r.reason, r.raw FROM rejects r JOIN files f USING (file_id)
        ORDER BY r.file_id, r.line_no
    """
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [
        dict(zip(("path", "line", "reason", "raw"), row, strict=True))
        for row in con.execute(sql).fetchall()
    ]
