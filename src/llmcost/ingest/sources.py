"""Find the files an ingest names and read them as decompressed, newline-aligned chunks."""

from __future__ import annotations

import glob
import gzip
import hashlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from llmcost.errors import InputError

# Files a directory walk picks up; anything else in a directory is passed over (and said so).
LOG_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".log", ".txt", ".parquet")
COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}
CHUNK_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Source:
    name: str  # as shown to the user: the path as found, or "-" for stdin
    path: Path | None  # None for stdin
    compression: str | None

    @property
    def inner_suffix(self) -> str:
        """The suffix under any compression: `a.jsonl.gz` -> `.jsonl`."""
        if self.path is None:
            return ""
        suffixes = [s.lower() for s in self.path.suffixes]
        if suffixes and suffixes[-1] in COMPRESSIONS:
            suffixes = suffixes[:-1]
        return suffixes[-1] if suffixes else ""


def _compression(path: Path) -> str | None:
    return COMPRESSIONS.get(path.suffix.lower())


def _is_log_file(path: Path) -> bool:
    name = path.name.lower()
    for comp in COMPRESSIONS:
        if name.endswith(comp):
            name = name[: -len(comp)]
    return name.endswith(LOG_SUFFIXES) and not path.name.startswith(".")


def expand(paths: list[str]) -> tuple[list[Source], list[str]]:
    """Files, directories (recursive), globs and '-' to sources; also the names passed over."""
    sources: list[Source] = []
    passed_over: list[str] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            sources.append(Source(str(path), path, _compression(path)))

    for arg in paths:
        if arg == "-":
            sources.append(Source("-", None, None))
            continue
        matches = sorted(glob.glob(arg, recursive=True)) if glob.has_magic(arg) else [arg]
        if not matches:
            raise InputError(f"no file matches {arg}", hint="check the glob pattern")
        for match in matches:
            path = Path(match)
            if path.is_dir():
                for root, dirs, files in os.walk(path):
                    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                    for fname in sorted(files):
                        child = Path(root) / fname
                        if _is_log_file(child):
                            add(child)
                        elif not fname.startswith("."):
                            passed_over.append(str(child))
            elif path.is_file():
                add(path)
            elif not path.exists():
                raise InputError(f"file not found: {arg}", hint="check the path")
            else:
                raise InputError(f"not a regular file: {arg}")
    return sources, passed_over


def open_binary(source: Source) -> IO[bytes]:
    """The decompressed byte stream of a source."""
    if source.path is None:
        return sys.stdin.buffer
    try:
        raw = source.path.open("rb")
    except OSError as exc:
        raise InputError(
            f"cannot read {source.name}: {exc.strerror}", hint="check the permissions"
        ) from None
    if source.compression == "gzip":
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if source.compression == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)  # type: ignore[no-any-return,unused-ignore]
    return raw


def read_head(source: Source, size: int = 64 * 1024) -> bytes:
    """The first bytes of a file (decompressed), for format detection."""
    with open_binary(source) as fh:
        try:
            return fh.read(size)
        except (OSError, EOFError) as exc:
            raise InputError(
                f"cannot read {source.name}: {exc}", hint="is the file complete?"
            ) from None


class ChunkReader:
    """Newline-aligned chunks of a stream, with a running sha256 of everything read."""

    def __init__(self, stream: IO[bytes], name: str, chunk_bytes: int | None = None) -> None:
        self.stream = stream
        self.name = name
        self.chunk_bytes = chunk_bytes or CHUNK_BYTES  # read at call time, so tests can shrink it
        self.digest = hashlib.sha256()
        self.bytes_read = 0

    def __iter__(self) -> Iterator[bytes]:
        carry = b""
        for block in self.blocks():
            data = carry + block if carry else block
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            carry = data[cut + 1 :]
            yield data[: cut + 1]
        if carry:
            yield carry

    def blocks(self) -> Iterator[bytes]:
        """The rest of the stream in blocks as read, hashed and counted: what iterating cuts at
        newlines, and what a reader that needs the bytes, not the lines, takes as it is."""
        while True:
            try:
                block = self.stream.read(self.chunk_bytes)
            except (OSError, EOFError) as exc:
                raise InputError(
                    f"cannot read {self.name}: {exc}", hint="is the file complete?"
                ) from None
            if not block:
                return
            self.digest.update(block)
            self.bytes_read += len(block)
            yield block

    def hexdigest(self) -> str:
        return self.digest.hexdigest()
