"""Errors a person can act on, and the exit codes the CLI maps them to."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    GATE = 1  # a `check` rule was breached, or `ingest --strict` rejected lines
    USAGE = 2  # bad flag, unreadable file, unknown format, broken price file


class LlmcostError(Exception):
    """A user-facing error: one line saying what is wrong, and a hint saying what to do."""

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InputError(LlmcostError):
    """A file cannot be read or recognised."""


class PricingError(LlmcostError):
    """A price file is broken."""


class DatabaseBusyError(LlmcostError):
    """Another process holds the database."""


class ConfigError(LlmcostError):
    """llmcost.toml or [tool.llmcost] is broken."""


INTERRUPTED = 130  # the shell's code for a process ended by Ctrl-C (128 + SIGINT)
_DISK_FULL = ("no space left on device", "disk quota exceeded", "disk is full", "not enough space")
_DAMAGED = ("checksum", "corrupt", "could not read enough bytes", "not a valid duckdb database")


def describe(exc: BaseException) -> tuple[str, int] | None:
    """A one-line message and an exit code for an error that is the machine's or the database
    file's, not the program's: disk full, an interrupted query, a damaged database, a file that
    cannot be written. None for anything else (a bug, which keeps its traceback).

    The whole chain is looked at: a failed ROLLBACK after a full disk must not hide the cause.
    """
    import errno

    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    texts = [str(e).lower() for e in chain]
    from_duckdb = any(type(e).__module__.startswith(("duckdb", "_duckdb")) for e in chain)
    if any(isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT) for e in chain) or (
        any(any(s in t for s in _DISK_FULL) for t in texts)
    ):
        return (
            "no space left on the disk; the file being loaded was rolled back "
            "(free some space, or point --db or TMPDIR elsewhere, and run the same command again)",
            ExitCode.USAGE,
        )
    # DuckDB stops a query at Ctrl-C with InterruptException, or a RuntimeError saying so
    if any(type(e).__name__ == "InterruptException" for e in chain) or any(
        isinstance(e, RuntimeError) and "query interrupted" in t
        for e, t in zip(chain, texts, strict=True)
    ):
        return "interrupted", INTERRUPTED
    if from_duckdb and any(any(s in t for s in _DAMAGED) for t in texts):
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return (
            f"the database file is damaged ({first}); restore it from a copy, "
            "or move it away and ingest the logs again",
            ExitCode.USAGE,
        )
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror.lower()}{where}", ExitCode.USAGE
    if from_duckdb:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return (
            f"the database refused the query ({first}); set LLMCOST_DEBUG=1 for the details",
            ExitCode.USAGE,
        )
    return None
