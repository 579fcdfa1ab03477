"""Find the files an ingest names and read them as decompressed, newline-aligned chunks."""

from __future__ import annotations

import errno
import glob
import gzip
import hashlib
import os
import stat
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
# A line longer than this is rejected by its size, never held whole (`ingest --max-line-mb`).
MAX_LINE_BYTES = 16 * 1024 * 1024
BOM = b"\xef\xbb\xbf"
# What stands for an over-long line in the chunks: its size and first bytes, for the reject.
OVERSIZE = b"\x00llmcost-oversize:"
OVERSIZE_PREVIEW = 200


def oversize_line(size: int, head: bytes) -> bytes:
    """The placeholder of an over-long line (SIZE bytes, starting with HEAD): no newline in it."""
    return OVERSIZE + str(size).encode() + b":" + head[:OVERSIZE_PREVIEW]


def read_oversize(line: bytes) -> tuple[int, str] | None:
    """(size, first bytes as text) when LINE is the placeholder of an over-long line."""
    if not line.startswith(OVERSIZE):
        return None
    size, sep, head = line[len(OVERSIZE) :].partition(b":")
    if not sep or not size.isdigit():  # a line of the log that starts so: not JSON, judged as such
        return None
    return int(size), head.decode("utf-8", errors="backslashreplace")


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


def expand(paths: list[str], warnings: list[str] | None = None) -> tuple[list[Source], list[str]]:
    """Files, directories (recursive), globs and '-' to sources; also the names passed over.

    In a directory, what is not a regular file (a symlink loop or a broken link, a FIFO, a
    device, a socket) is skipped, and said so in WARNINGS: reading it could hang or fail.
    """
    sources: list[Source] = []
    passed_over: list[str] = []
    seen: set[Path] = set()
    warned = warnings if warnings is not None else []

    def add(path: Path) -> None:
        try:
            key = path.resolve(strict=True)
        except (OSError, RuntimeError):  # a loop, or a link to nothing
            warned.append(f"skipped {path}: {_special(path)}")
            return
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
                        if _is_log_file(child) and not _regular(child):
                            warned.append(f"skipped {child}: {_special(child)}")
                        elif _is_log_file(child):
                            add(child)
                        elif not fname.startswith("."):
                            passed_over.append(str(child))
            elif path.is_file():
                add(path)
            elif path.is_symlink() and not path.exists():
                raise InputError(f"cannot read {arg}: {_special(path)}", hint="check the link")
            elif not path.exists():
                raise InputError(f"file not found: {arg}", hint="check the path")
            else:
                raise InputError(f"not a regular file: {arg}")
    return sources, passed_over


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except (OSError, RuntimeError):
        return False


def _special(path: Path) -> str:
    """What a path that is not a regular file is, in a few words."""
    try:
        mode = path.stat().st_mode
    except RuntimeError:
        return "a symlink loop"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symlink loop"
        if path.is_symlink():
            return "a broken symlink"
        return exc.strerror or "cannot be read"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe), not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a file"
    return "not a regular file"


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
        return _Zstd(raw)  # type: ignore[return-value]
    return raw


class _Zstd:
    """A zstd file's decompressed bytes, frame after frame; a file that ends inside a frame is
    an error (zstandard's own stream reader returns what it has, so a truncated archive would
    load in part)."""

    def __init__(self, raw: IO[bytes]) -> None:
        import zstandard

        self._raw = raw
        self._new = zstandard.ZstdDecompressor().decompressobj
        self._obj = self._new()
        self._started = False  # bytes of the current frame were fed
        self._buf = b""

    def read(self, size: int = -1) -> bytes:
        """Up to SIZE bytes (all that is left when SIZE < 0); b"" at the end."""
        while size < 0 or len(self._buf) < size:
            block = self._raw.read(1 << 20)
            if not block:
                if self._started and not self._obj.eof:
                    raise EOFError("the zstd file ends inside a frame (is it complete?)")
                break
            out = [self._buf]
            while block:
                if self._obj.eof:  # the next frame
                    self._obj, self._started = self._new(), False
                out.append(self._obj.decompress(block))
                self._started = True
                block = self._obj.unused_data if self._obj.eof else b""
            self._buf = b"".join(out)
        if size < 0:
            data, self._buf = self._buf, b""
        else:
            data, self._buf = self._buf[:size], self._buf[size:]
        return data

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> _Zstd:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_head(source: Source, size: int = 64 * 1024) -> bytes:
    """The first bytes of a file (decompressed), for format detection."""
    with open_binary(source) as fh:
        try:
            head = fh.read(size)
        except Exception as exc:  # a damaged archive (see ChunkReader.blocks)
            raise InputError(
                f"cannot read {source.name}: {_why(exc)}", hint="is the file complete?"
            ) from None
    return head[len(BOM) :] if head.startswith(BOM) else head


def _why(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


class ChunkReader:
    """Newline-aligned chunks of a stream, with a running sha256 of everything read."""

    def __init__(
        self,
        stream: IO[bytes],
        name: str,
        chunk_bytes: int | None = None,
        max_line: int | None = None,
    ) -> None:
        self.stream = stream
        self.name = name
        self.chunk_bytes = chunk_bytes or CHUNK_BYTES  # read at call time, so tests can shrink it
        self.max_line = max_line or MAX_LINE_BYTES
        self.digest = hashlib.sha256()
        self.bytes_read = 0

    def __iter__(self) -> Iterator[bytes]:
        """Chunks of whole lines; a UTF-8 byte-order mark at the start is left out, and a line
        longer than `max_line` is skipped as it is read, its placeholder (`oversize_line`) in
        its place: memory stays within a chunk and a line."""
        carry = b""
        skipped = 0  # bytes of an over-long line passed over so far
        head = b""
        first = True
        for block in self.blocks():
            if first:
                first = False
                if block.startswith(BOM):
                    block = block[len(BOM) :]
            if skipped:
                end = block.find(b"\n")
                if end < 0:
                    skipped += len(block)
                    continue
                yield oversize_line(skipped + end, head) + b"\n"
                skipped, block = 0, block[end + 1 :]
            data = carry + block if carry else block
            cut = data.rfind(b"\n")
            carry = data if cut < 0 else data[cut + 1 :]
            if len(carry) > self.max_line:
                skipped, head, carry = len(carry), carry[:OVERSIZE_PREVIEW], b""
            if cut >= 0:
                yield data[: cut + 1]
        if skipped:
            yield oversize_line(skipped, head)
        elif carry:
            yield carry

    def blocks(self) -> Iterator[bytes]:
        """The rest of the stream in blocks as read, hashed and counted: what iterating cuts at
        newlines, and what a reader that needs the bytes, not the lines, takes as it is."""
        while True:
            try:
                block = self.stream.read(self.chunk_bytes)
            # a damaged archive: gzip's OSError, EOFError or zlib.error, zstandard's ZstdError
            except Exception as exc:
                raise InputError(
                    f"cannot read {self.name}: {_why(exc)}", hint="is the file complete?"
                ) from None
            if not block:
                return
            self.digest.update(block)
            self.bytes_read += len(block)
            yield block

    def blocks_into(self, buf: bytearray) -> Iterator[int]:
        """`blocks`, read into BUF again and again: yields how many bytes of BUF each block
        filled (hashed and counted, like `blocks`). A reader that only looks at the bytes
        (the direct path's hash and line count) makes no new object per block, and a block of
        BUF's size (1 MB) is still in the CPU's cache when the next pass over it reads it:
        about half the CPU of 32 MB blocks read as new bytes."""
        view = memoryview(buf)
        readinto = getattr(self.stream, "readinto", None)
        while True:
            try:
                if readinto is not None:
                    n = readinto(buf)
                else:  # a stream that only reads (zstd): copied into BUF
                    block = self.stream.read(len(buf))
                    n = len(block)
                    buf[:n] = block
            except Exception as exc:  # a damaged archive, as in `blocks`
                raise InputError(
                    f"cannot read {self.name}: {_why(exc)}", hint="is the file complete?"
                ) from None
            if not n:
                return
            self.digest.update(view[:n])
            self.bytes_read += n
            yield n

    def hexdigest(self) -> str:
        return self.digest.hexdigest()
