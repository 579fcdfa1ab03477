"""Ingest: find files, recognise their format, load each whole (in its own transaction, or a run
of small files as one all-or-nothing group of whole files), count every line.

For every file, `read = loaded + rejected + duplicates`. A file already ingested whole (same
path, size and mtime; or the same content under another name) is skipped.
"""

from __future__ import annotations

import csv
import hashlib
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from llmcost.errors import InputError
from llmcost.ingest import formats, registry
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
    error: str | None = None  # the file could not be read or recognised: nothing loaded

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        if not self.strict_failed:
            out.pop("strict_failed")
        if self.error is None:
            out.pop("error")
        return out


@dataclass
class IngestSummary:
    files: list[FileResult] = field(default_factory=list)
    passed_over: list[str] = field(default_factory=list)
    # requests loaded by this run whose emitter records no cached-token counts
    no_cache_counts: int = 0
    warnings: list[str] = field(default_factory=list)  # what was skipped and why (a FIFO, a loop)

    @property
    def totals(self) -> dict[str, int]:
        keys = ("read", "loaded", "rejected", "duplicates")
        return {k: sum(getattr(f, k) for f in self.files) for k in keys}

    @property
    def strict_failed(self) -> bool:
        return any(f.strict_failed for f in self.files)

    @property
    def failed(self) -> list[FileResult]:
        """Files that could not be read or recognised (the others were loaded)."""
        return [f for f in self.files if f.error is not None]

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
    for fmt in registry.ordered():
        try:
            if fmt.sniff(head, source):
                return fmt
        except (ValueError, RecursionError, csv.Error):
            continue  # a head this format's test cannot even read is not of this format
    names = ", ".join(f.name for f in registry.ordered())
    raise InputError(
        f"cannot recognise the format of {source.name} (tried: {names})",
        hint="force one with --as NAME; `llmcost ingest --list-formats` describes them",
    )


def forced_format(name: str) -> formats.Format:
    fmt = registry.get(name)
    if fmt is None:
        names = ", ".join(f.name for f in registry.ordered())
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
    mapping: dict[str, str] | None = None,
    reload: bool = False,
    max_line_bytes: int | None = None,
    on_file: Callable[[FileResult], None] | None = None,
) -> IngestSummary:
    """Load PATHS. MAPPING: canonical field -> path for request logs (`--map`); RELOAD: each
    file's earlier load is forgotten first, in the file's own transaction (`--reload`);
    MAX_LINE_BYTES: lines longer than this are rejected by size, unread."""
    from llmcost.ingest import sources as sources_mod

    limit = sources_mod.MAX_LINE_BYTES
    if max_line_bytes is not None:
        sources_mod.MAX_LINE_BYTES = max_line_bytes  # read by every reader of this run
    try:
        return _ingest_paths(
            con, paths, as_format, strict, keep_text, progress, mapping, reload, on_file
        )
    finally:
        sources_mod.MAX_LINE_BYTES = limit


def _ingest_paths(
    con: Any,
    paths: list[str],
    as_format: str | None,
    strict: bool,
    keep_text: bool,
    progress: Progress | None,
    mapping: dict[str, str] | None,
    reload: bool,
    on_file: Callable[[FileResult], None] | None,
) -> IngestSummary:
    if mapping:
        from llmcost.ingest.adapters import sdk

        sdk.check_mapping(mapping)
    opts = _Options(mapping or {}, reload)
    warnings: list[str] = []
    sources, passed_over = expand(paths, warnings)
    forced = forced_format(as_format) if as_format else None
    summary = IngestSummary(passed_over=passed_over, warnings=warnings)
    unrecorded = no_cache_counts(con)
    if on_file is not None:  # told of each file as it is done (the progress lines of a folder)
        summary.files = _Announced(on_file)
    # The read-ahead thread runs Python while DuckDB commits: after each statement the main
    # thread waits for the GIL, up to the switch interval (5 ms), which hundreds of small
    # files' statements pay each. A shorter interval hands it back at once.
    switch = sys.getswitchinterval()
    sys.setswitchinterval(min(switch, 0.0002))
    try:
        _ingest_sources(con, sources, summary, forced, strict, keep_text, progress, opts)
    finally:
        sys.setswitchinterval(switch)
    summary.no_cache_counts = no_cache_counts(con) - unrecorded
    return summary


def no_cache_counts(con: Any) -> int:
    """Requests whose emitter does not record cached tokens (their cache reads are priced as input)."""
    row = con.execute(
        "SELECT count(*) FROM requests WHERE source_kind = 'otel'"
        " AND json_extract_string(attrs, '$.cache_tokens_recorded') = 'false'"
    ).fetchone()
    return int(row[0])


@dataclass(frozen=True)
class _Options:
    mapping: dict[str, str] = field(default_factory=dict)
    reload: bool = False


class _Announced(list[FileResult]):
    """The summary's file list, calling a hook on each file added."""

    def __init__(self, hook: Callable[[FileResult], None]) -> None:
        super().__init__()
        self._hook = hook

    def append(self, item: FileResult) -> None:
        super().append(item)
        self._hook(item)


def _ingest_sources(
    con: Any,
    sources: list[Source],
    summary: IngestSummary,
    forced: formats.Format | None,
    strict: bool,
    keep_text: bool,
    progress: Progress | None,
    opts: _Options = _Options(),
) -> IngestSummary:
    stdin_seen = False
    # files already ingested whole (same path, size and mtime), found for the whole list in one
    # query: a re-run over a loaded tree costs a stat per file
    loaded_whole = {} if opts.reload else _loaded_whole(con, sources)
    prefetch: _Prefetch | None = None
    cursor: Any = None  # the read-ahead thread's connection, made at its first use
    restore: dict[str, str] | None = None  # settings `_quick_commits` changed
    i = 0
    try:
        while i < len(sources):
            source = sources[i]
            if source.path is None:
                if stdin_seen:
                    raise InputError("'-' (stdin) given more than once")
                stdin_seen = True
            elif opts.reload:
                pass  # each file on its own: its old load is forgotten in its own transaction
            elif i in loaded_whole:
                size, fmt_name = loaded_whole[i]
                if progress:
                    progress(size)
                summary.files.append(FileResult(source.name, fmt_name, skipped=True))
                i += 1
                continue
            else:
                if prefetch is not None and prefetch.start == i:
                    ahead, parsed = prefetch.result()
                else:
                    if prefetch is not None:
                        prefetch.join()  # read ahead for nothing (a --strict stop): its cursor is free again
                    first = _first_run(sources, i)
                    ahead = _read_ahead(
                        sources, i, forced, progress, _known(con, sources, i), first
                    )
                    cursor = cursor or con.cursor()
                    parsed = _parse(cursor, ahead)
                prefetch = None
                if ahead:
                    after = i + len(ahead)
                    if after < len(sources) and sources[after].path is not None:
                        # the next run is read and parsed (Python, then DuckDB on a cursor of its
                        # own) while this one is committed
                        known = _known(con, sources, after)
                        cursor = cursor or con.cursor()
                        prefetch = _Prefetch(sources, after, forced, progress, known, cursor)
                    if restore is None:
                        restore = _quick_commits(con)
                    done = _commit_ahead(
                        con, ahead, parsed, strict, keep_text, progress, summary.files
                    )
                    i += done
                    if done < len(ahead):
                        # a --strict failure: its own path (re-read) rolls it back and reports it
                        summary.files.append(
                            _ingest_one(con, sources[i], forced, strict, keep_text, progress)
                        )
                        i += 1
                    continue
            summary.files.append(
                _ingest_or_report(con, source, forced, strict, keep_text, progress, opts)
            )
            i += 1
    finally:
        if prefetch is not None:
            prefetch.join()
        if cursor is not None:
            cursor.close()
        if restore is not None:
            for name, value in restore.items():  # fsync first: a checkpoint may follow
                con.execute(f"SET {name} = '{value}'")
    return summary


def _loaded_whole(con: Any, sources: list[Source]) -> dict[int, tuple[int, str]]:
    """The places in SOURCES of files already ingested whole (`writes.find_file`), with their
    size and recorded format."""
    stats: dict[int, tuple[str, int, int]] = {}
    for i, source in enumerate(sources):
        if source.path is None:
            continue
        try:
            stat = source.path.stat()
            stats[i] = (str(source.path.resolve()), stat.st_size, stat.st_mtime_ns)
        except OSError:
            continue  # reported by the file's own path
    if not stats:
        return {}
    found = writes.loaded_whole(con, list(stats.values()))
    return {
        i: (size, found[(key, size, mtime_ns)])
        for i, (key, size, mtime_ns) in stats.items()
        if (key, size, mtime_ns) in found
    }


def _quick_commits(con: Any) -> dict[str, str]:
    """Settings for many commits of groups in a row; returns the values to restore, in order.

    No checkpoint until the end (one, not one per 16 MB of log), and no fsync of the log at each
    commit: on a busy disk each fsync waited ~10 ms. A process that dies keeps every committed
    group (the log is in the OS cache); an OS crash or power loss can lose the groups committed
    since the ingest began, never part of a file or of a group (the log is
    replayed up to its last whole commit, and the database file is not written meanwhile), and
    the same ingest run again loads them. The checkpoint that follows (at the latest when the
    database is closed) writes everything with fsync again.
    """
    before = {
        name: str(con.execute(f"SELECT current_setting('{name}')").fetchone()[0])
        for name in ("fsync_mode", "checkpoint_threshold")
    }
    con.execute(f"SET checkpoint_threshold = '{GROUP_CHECKPOINT}'")
    con.execute("SET fsync_mode = 'NONE'")
    return before


# Small files of a grouped format (Claude Code sessions: hundreds of files of a few MB) are read
# ahead, parsed and committed together: a run is one transaction, all or nothing (SPEC §3).
GROUP_FILE_BYTES = 32 << 20  # a bigger file is loaded on its own
GROUP_BYTES = 64 << 20  # at most this much read ahead
FIRST_GROUP_BYTES = 8 << 20  # the first run, read before anything else can run
GROUP_FILES = 256
GROUP_CHECKPOINT = "1TB"  # DuckDB's checkpoint threshold while groups are committed (none)


@dataclass
class _Ahead:
    source: Source
    fmt: formats.Format
    key: str
    size: int
    mtime_ns: int
    collected: Any
    digest: str
    on_bytes: Progress
    seen_before: bool  # the path was ingested before (its old rejects are forgotten)


def _first_run(sources: list[Source], start: int) -> int:
    """How much the run read before anything else can run may hold: everything from START when
    it fits in one run (a small tree is one group, with no hand-over between threads), else
    FIRST_GROUP_BYTES, so that the next run is read while this one is committed."""
    rest = sources[start:]
    if len(rest) > GROUP_FILES:
        return FIRST_GROUP_BYTES
    total = 0
    for source in rest:
        if source.path is None:
            return FIRST_GROUP_BYTES
        try:
            total += source.path.stat().st_size
        except OSError:
            return FIRST_GROUP_BYTES
        if total > GROUP_BYTES:
            return FIRST_GROUP_BYTES
    return GROUP_BYTES


def _known(con: Any, sources: list[Source], start: int) -> dict[str, set[tuple[Any, Any]]]:
    """What `find_file` and `forget_rejects` would find for the next run's candidates, in one query.

    Exact when asked before the run before them is committed: `expand` gives each path once, and
    only a file's own ingest records its path.
    """
    candidates = sources[start : start + GROUP_FILES]
    return writes.known_files(
        con, [str(s.path.resolve()) for s in candidates if s.path is not None]
    )


def _read_ahead(
    sources: list[Source],
    start: int,
    forced: formats.Format | None,
    progress: Progress | None,
    known: dict[str, set[tuple[Any, Any]]],
    max_bytes: int = GROUP_BYTES,
) -> list[_Ahead]:
    """Read a run of small files of one grouped format from START, without the database.

    The run stops before anything the plain path must see on its own (a file already loaded, a
    big file, another format, a file that fails to read), so errors surface as they always did,
    after the files before them are committed.
    """
    from llmcost.ingest import requests_log

    ahead: list[_Ahead] = []
    seen: set[str] = set()
    total = 0
    for source in sources[start : start + GROUP_FILES]:
        if source.path is None or total > max_bytes:
            break
        stat = source.path.stat()
        key = str(source.path.resolve())
        if stat.st_size > GROUP_FILE_BYTES or key in seen:
            break
        if (stat.st_size, stat.st_mtime_ns) in known.get(key, ()):
            break  # already loaded whole: the plain path skips it
        try:
            fmt = forced or detect(source)
        except InputError:
            break
        if (
            fmt is None
            or fmt.name not in requests_log.GROUPED
            or (ahead and fmt.name != ahead[0].fmt.name)
        ):
            break
        on_bytes: Progress = (
            (lambda n: None) if progress is None or source.compression else progress
        )
        collect = requests_log.GROUPED[fmt.name].collect
        try:
            if source.compression is None:
                # a small plain file in one read: no chunking, hence no copy of its bytes
                data, digest = _read_hashed(source.path, stat.st_size)
                collected = collect(source.path, [data] if data else [], on_bytes)
            else:
                with open_binary(source) as stream:
                    reader = ChunkReader(stream, source.name)
                    collected = collect(source.path, reader, on_bytes)
                    digest = reader.hexdigest()
        except Exception:
            break  # read again on its own, which reports the error in its turn
        seen.add(key)
        total += stat.st_size
        ahead.append(
            _Ahead(source, fmt, key, stat.st_size, stat.st_mtime_ns, collected, digest, on_bytes,
                   seen_before=key in known)
        )  # fmt: skip
    return ahead


READ_PIECE = 1 << 20


def _read_hashed(path: Any, size: int) -> tuple[bytearray, str]:
    """A small file's bytes, read whole, and their sha256: read 1 MB at a time into one buffer
    of the file's size, each piece hashed while it is still in the CPU's cache (~15% less CPU
    than reading the file as bytes, then hashing it). A file that grew since SIZE was taken is
    read to its end, as a plain read would."""
    digest = hashlib.sha256()
    buf = bytearray(size)
    view = memoryview(buf)
    at = 0
    with open(path, "rb", buffering=0) as fh:
        while at < size:
            n = fh.readinto(view[at : at + READ_PIECE])
            if not n:
                break  # it shrank
            digest.update(view[at : at + n])
            at += n
        view.release()
        if at < size:
            del buf[at:]
        else:
            while rest := fh.read(READ_PIECE):
                digest.update(rest)
                buf += rest
    return buf, digest.hexdigest()


def _parse(con: Any, ahead: list[_Ahead]) -> Any:
    """The run's lines parsed by its format (needs no table of the database)."""
    if not ahead:
        return None
    from llmcost.ingest import canonical, requests_log

    canonical.install_macros(con, outside_transaction=True)
    return requests_log.GROUPED[ahead[0].fmt.name].parse(con, [a.collected for a in ahead])


class _Prefetch:
    """`_read_ahead` then `_parse` in a daemon thread, on CURSOR; `result()` waits for them and
    raises what they raised."""

    def __init__(
        self,
        sources: list[Source],
        start: int,
        forced: formats.Format | None,
        progress: Progress | None,
        known: dict[str, set[tuple[Any, Any]]],
        cursor: Any,
    ) -> None:
        import threading

        self.start = start
        self._ahead: list[_Ahead] = []
        self._parsed: Any = None
        self._error: BaseException | None = None

        def work() -> None:
            try:
                self._ahead = _read_ahead(sources, start, forced, progress, known)
                self._parsed = _parse(cursor, self._ahead)
            except BaseException as exc:  # handed to the main thread
                self._error = exc

        self._thread = threading.Thread(target=work, name="llmcost-read-ahead", daemon=True)
        self._thread.start()

    def join(self) -> None:
        self._thread.join()

    def result(self) -> tuple[list[_Ahead], Any]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._ahead, self._parsed


def _commit_ahead(
    con: Any,
    ahead: list[_Ahead],
    parsed: Any,
    strict: bool,
    keep_text: bool,
    progress: Progress | None,
    out: list[FileResult],
) -> int:
    """Decide what each file of a parsed read-ahead run loads, in a few statements for the whole
    run; then commit its files together, as one all-or-nothing group of whole files (SPEC §3).
    Returns how many files were done: with --strict, the group stops before the first file with
    a rejected line."""
    from llmcost.ingest import requests_log

    _install_macros(con)
    grouped = requests_log.GROUPED[ahead[0].fmt.name]
    # content already loaded (before the run, or by an earlier file of it): a copy, skipped
    loaded = writes.known_hashes(con, [a.digest for a in ahead], ahead[0].fmt.kind)
    include: list[int] = []
    for seq, a in enumerate(ahead):
        if a.digest not in loaded:
            loaded.add(a.digest)
            include.append(seq)
    staged = grouped.stage(con, parsed, keep_text)
    try:
        staged.decide(include)
        done = len(ahead)
        if strict:
            failing = [seq for seq in include if staged.counts[seq].rejected]
            if failing:
                done = failing[0]  # it and the files after it: read again on their own
        group = [seq for seq in include if seq < done]
        # file ids for the group at once (a sequence is not transactional anyway)
        ids = [
            int(r[0])
            for r in con.execute(
                "SELECT nextval('file_ids') FROM range(?)", [len(group)]
            ).fetchall()
        ]
        file_ids = dict(zip(group, ids, strict=True))
        if group:
            con.execute("BEGIN TRANSACTION")
            try:
                counts = staged.commit_group(con, file_ids, keep_text)
                # what `_conclude` does for a file that is no copy, for the group's files at once
                again = [ahead[seq].key for seq in group if ahead[seq].seen_before]
                if again:
                    writes.forget_rejects_of(con, again)  # this run re-judged their lines
                writes.record_files(
                    con,
                    [
                        (file_ids[seq], ahead[seq].key, ahead[seq].digest, ahead[seq].size,
                         ahead[seq].mtime_ns, ahead[seq].fmt.name, ahead[seq].fmt.kind,
                         counts[seq])
                        for seq in group
                    ],
                )  # fmt: skip
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        for seq, a in enumerate(ahead[:done]):
            if seq in file_ids:
                out.append(FileResult(a.source.name, a.fmt.name, **asdict(staged.counts[seq])))
            else:
                out.append(FileResult(a.source.name, a.fmt.name, skipped=True))
            if progress and a.source.compression and a.size:
                progress(a.size)
    finally:
        staged.drop()
    return done


def _ingest_or_report(
    con: Any,
    source: Source,
    forced: formats.Format | None,
    strict: bool,
    keep_text: bool,
    progress: Progress | None,
    opts: _Options,
) -> FileResult:
    """`_ingest_one`, with a file that cannot be read or recognised reported, not raised: the
    other files still load (SPEC §3), and the command exits 2 at the end."""
    try:
        return _ingest_one(con, source, forced, strict, keep_text, progress, opts)
    except InputError as exc:
        if source.path is None:
            raise  # stdin: nothing else to load
        return FileResult(source.name, "?", error=str(exc))
    except OSError as exc:
        return FileResult(
            source.name, "?", error=f"cannot read {source.name}: {exc.strerror or exc}"
        )


def _mapped_format(
    fmt: formats.Format | None, source: Source, mapping: dict[str, str]
) -> formats.Format | None:
    """The reader for a request log read through a mapping: JSON lines or CSV."""
    from llmcost.ingest.adapters import sdk

    if fmt is not None and fmt.kind != "requests":
        return fmt  # a known export or gateway log has its own fields
    if fmt is not None and fmt.name in (sdk.FORMAT.name, sdk.CSV_FORMAT.name):
        return fmt
    head = read_head(source)
    if not head.strip():
        return None
    from llmcost.ingest.adapters import _request_source as rs

    return sdk.CSV_FORMAT if rs.csv_header(head) else sdk.FORMAT


def _ingest_one(
    con: Any,
    source: Source,
    forced: formats.Format | None,
    strict: bool,
    keep_text: bool,
    progress: Progress | None,
    opts: _Options = _Options(),
) -> FileResult:
    size = mtime_ns = None
    key = source.name
    if source.path is not None:
        stat = source.path.stat()
        size, mtime_ns = stat.st_size, stat.st_mtime_ns
        key = str(source.path.resolve())
        if (
            not opts.reload
            and writes.find_file(con, path=key, size=size, mtime_ns=mtime_ns) is not None
        ):
            if progress:
                progress(size)
            return FileResult(source.name, _format_of(con, key), skipped=True)
    if source.path is None and forced is None:
        raise InputError(
            "cannot detect the format of stdin", hint="name it with --as, e.g. --as requests"
        )
    if opts.mapping:
        try:
            detected = forced or detect(source)
        except InputError:
            detected = None  # a log no reader knows: the mapping says where its fields are
        fmt = _mapped_format(detected, source, opts.mapping)
    else:
        fmt = forced or detect(source)
    if fmt is None:
        return FileResult(source.name, "empty")

    _install_macros(con)
    on_bytes: Progress = (lambda n: None) if progress is None or source.compression else progress
    with open_binary(source) as stream:
        reader = ChunkReader(stream, source.name)
        con.execute("BEGIN TRANSACTION")
        try:
            if opts.reload and source.path is not None:
                writes.forget_paths(con, [key])  # in this file's transaction: all or nothing
            file_id = writes.next_file_id(con)
            job = formats.Job(con, source, file_id, reader, keep_text=keep_text, on_bytes=on_bytes,
                              mapping=opts.mapping)  # fmt: skip
            counts = fmt.load(job)
            digest = reader.hexdigest()
            result = _conclude(
                con, source, fmt, key, size, mtime_ns, digest, file_id, counts, strict
            )
        except BaseException:
            con.execute("ROLLBACK")
            raise
    if progress and source.compression and size:
        progress(size)
    return result


def _install_macros(con: Any) -> None:
    """The parse macros, created once for the connection here, outside any file's transaction."""
    from llmcost.ingest import canonical

    canonical.install_macros(con, outside_transaction=True)


def _conclude(
    con: Any, source: Source, fmt: formats.Format, key: str, size: int | None, mtime_ns: int | None,
    digest: str, file_id: int, counts: writes.Counts, strict: bool,
    copy: bool | None = None, seen_before: bool = True,
) -> FileResult:  # fmt: skip
    """End a loaded file's transaction: roll back a copy or a --strict failure, else record and commit.

    COPY: whether the content is already loaded, when the caller knows (else it is looked up);
    SEEN_BEFORE False: the path was never ingested, so it has no old rejects to forget.
    """
    if copy is None:
        copy = writes.find_hash(con, digest, fmt.kind) is not None
    if copy:
        con.execute("ROLLBACK")  # the same content under another name: already loaded whole
        return FileResult(source.name, fmt.name, skipped=True)
    if strict and counts.rejected:
        con.execute("ROLLBACK")
        result = FileResult(source.name, fmt.name, **asdict(counts), strict_failed=True)
        result.loaded = 0
        return result
    # this run re-judged every line of the path: older rejects are stale
    if source.path is not None and seen_before:
        writes.forget_rejects(con, key)
    writes.record_file(
        con, file_id=file_id, path=key, sha256=digest, size=size, mtime_ns=mtime_ns,
        fmt=fmt.name, kind=fmt.kind, counts=counts,
    )  # fmt: skip
    con.execute("COMMIT")
    return FileResult(source.name, fmt.name, **asdict(counts))


def _format_of(con: Any, path: str) -> str:
    row = con.execute(
        "SELECT format FROM files WHERE path = ? ORDER BY file_id DESC LIMIT 1", [path]
    ).fetchone()
    return str(row[0]) if row else "?"


def forget(con: Any, paths: list[str]) -> dict[str, int]:
    """Remove what the files at PATHS loaded, in one transaction (`llmcost forget`).

    A path is matched as ingest recorded it (resolved); a folder or glob expands as for ingest,
    and a file no longer on disk is matched by the path given."""
    from pathlib import Path

    keys: list[str] = []
    for p in paths:
        if Path(p).exists() or any(c in p for c in "*?["):
            sources, _ = expand([p])
            keys.extend(str(s.path.resolve()) for s in sources if s.path is not None)
        else:
            keys.append(str(Path(p).resolve()))
    con.execute("BEGIN TRANSACTION")
    try:
        gone = writes.forget_paths(con, keys)
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return gone


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
