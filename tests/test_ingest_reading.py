"""Reading a file's bytes for its hash and line count: into one buffer again and again (the
direct path), or whole into a buffer of its size (a small file of a grouped format)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from llmcost.ingest import _read_hashed, sources
from llmcost.ingest.direct import _LongLines
from llmcost.ingest.sources import ChunkReader

DATA = b'{"a":1}\n{"b":22}\n\n{"c":333}\nno end'  # 34 bytes, 4 newlines


def test_blocks_into_hashes_and_counts_what_blocks_does() -> None:
    buf = bytearray(8)
    reader = ChunkReader(io.BytesIO(DATA), "t")
    sizes = list(reader.blocks_into(buf))
    # 34 bytes in blocks of 8: four full ones and 2 bytes
    assert sizes == [8, 8, 8, 8, 2]
    assert reader.bytes_read == 34
    assert reader.hexdigest() == hashlib.sha256(DATA).hexdigest()


def test_blocks_into_a_stream_that_only_reads() -> None:
    class ReadOnly:  # like the zstd stream: read(), no readinto()
        def __init__(self, data: bytes) -> None:
            self._io = io.BytesIO(data)

        def read(self, size: int = -1) -> bytes:
            return self._io.read(size)

    buf = bytearray(16)
    reader = ChunkReader(ReadOnly(DATA), "t")  # type: ignore[arg-type]
    newlines = sum(buf.count(b"\n", 0, n) for n in reader.blocks_into(buf))
    assert newlines == 4
    assert reader.hexdigest() == hashlib.sha256(DATA).hexdigest()


def test_long_lines_reads_only_the_filled_part_of_a_reused_buffer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sources, "MAX_LINE_BYTES", 10)
    check = _LongLines()
    buf = bytearray(b"x" * 64)  # stale bytes of an earlier block: no newline in 64
    buf[:6] = b"ab\ncd\n"
    check.feed(buf, 0, 6)  # the block is 6 bytes: two short lines
    check.end(6)
    assert not check.found
    check.feed(buf, 6, 64)  # the same buffer filled whole: 64 bytes with no newline
    check.end(70)
    assert check.found


def test_read_hashed_reads_the_whole_file(tmp_path: Path) -> None:
    f = tmp_path / "s.jsonl"
    f.write_bytes(DATA * 100_000)  # 3.4 MB: four pieces of 1 MB
    data, digest = _read_hashed(f, f.stat().st_size)
    assert bytes(data) == DATA * 100_000
    assert digest == hashlib.sha256(DATA * 100_000).hexdigest()


def test_read_hashed_a_file_that_grew_or_shrank_since_its_stat(tmp_path: Path) -> None:
    f = tmp_path / "s.jsonl"
    f.write_bytes(DATA)
    grown, digest = _read_hashed(f, 10)  # the stat said 10 bytes: it has 34 now
    assert (bytes(grown), digest) == (DATA, hashlib.sha256(DATA).hexdigest())
    shrunk, digest = _read_hashed(f, 50)  # the stat said 50
    assert (bytes(shrunk), digest) == (DATA, hashlib.sha256(DATA).hexdigest())
    empty = tmp_path / "e.jsonl"
    empty.write_bytes(b"")
    assert _read_hashed(empty, 0) == (bytearray(), hashlib.sha256(b"").hexdigest())
