"""A line is judged alone: sizes, depth, byte-order marks, line ends and made-up ids."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from llmcost.ingest import ingest_paths, sources
from llmcost.ingest.requests_log import MAX_DEPTH, json_depth, line_reason
from llmcost.ingest.sources import BOM, ChunkReader, oversize_line, read_oversize

TS = "2026-01-01T00:00:00Z"


def rec(i: int, **extra: Any) -> dict[str, Any]:
    return {"request_id": f"r{i}", "timestamp": TS, "model": "gpt-4o",
            "input_tokens": 10, "output_tokens": 5, **extra}  # fmt: skip


def test_chunk_reader_skips_an_over_long_line_without_holding_it() -> None:
    # chunks of 8 bytes, lines of at most 16: the 40-byte line is passed over as it is read
    data = b'{"a":1}\n' + b"x" * 40 + b'\n{"b":2}\n' + b"y" * 30
    reader = ChunkReader(io.BytesIO(data), "t", chunk_bytes=8, max_line=16)
    lines = b"".join(reader).split(b"\n")
    assert lines[0] == b'{"a":1}'
    # its size, and its first bytes as far as they were read when it passed the limit
    size, head = read_oversize(lines[1]) or (0, "")
    assert size == 40 and head == "x" * 24
    assert lines[2] == b'{"b":2}'
    size, head = read_oversize(lines[3]) or (0, "")
    assert size == 30 and head == "y" * 23  # the last line, without its newline
    assert reader.bytes_read == len(data)  # every byte is still hashed


def test_chunk_reader_drops_a_leading_bom_only() -> None:
    reader = ChunkReader(io.BytesIO(BOM + b'{"a":1}\n' + BOM + b"\n"), "t")
    assert b"".join(reader) == b'{"a":1}\n' + BOM + b"\n"


def test_depth_is_measured_outside_strings() -> None:
    assert json_depth(b'{"a":[{"b":"[[[[["}]}') == 3
    deep = b'{"a":' + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1) + b"}"
    assert line_reason(deep) == f"nested deeper than {MAX_DEPTH} levels"
    # as many brackets, side by side: not deep
    wide = b'{"a":[' + b"[]," * MAX_DEPTH + b"[]]}"
    assert line_reason(wide) is None
    assert line_reason(oversize_line(99, b"{")).startswith("line too long (99 bytes")  # type: ignore[union-attr]


def ids(con: Any) -> list[str]:
    return [
        r[0]
        for r in con.execute("SELECT request_id FROM requests ORDER BY file_id, line_no").fetchall()
    ]


def test_made_up_ids_are_the_same_for_a_crlf_copy(con: Any, tmp_path: Path) -> None:
    lines = [json.dumps({k: v for k, v in rec(i).items() if k != "request_id"}) for i in range(3)]
    (tmp_path / "lf.jsonl").write_bytes(("\n".join(lines) + "\n").encode())
    (tmp_path / "crlf.jsonl").write_bytes(BOM + ("\r\n".join(lines) + "\r\n").encode())
    # a third copy with other spacing and an escaped character: the same records
    spaced = [
        json.dumps(json.loads(line), indent=None, separators=(" , ", " : ")) for line in lines
    ]
    (tmp_path / "spaced.jsonl").write_bytes(("\n".join(spaced) + "\n").encode())
    summary = ingest_paths(
        con, [str(tmp_path / n) for n in ("lf.jsonl", "crlf.jsonl", "spaced.jsonl")]
    )
    got = [(f.read, f.loaded, f.rejected, f.duplicates) for f in summary.files]
    # 3 lines each: the first file loads 3; the copies are 3 duplicates each
    assert got == [(3, 3, 0, 0), (3, 0, 0, 3), (3, 0, 0, 3)]


def test_identical_lines_without_an_id_do_not_collapse(
    con: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = json.dumps({"timestamp": TS, "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1})
    path = tmp_path / "same.jsonl"
    path.write_text((line + "\n") * 3 + json.dumps(rec(1)) + "\n" + (line + "\n") * 2)
    # chunks of one line or so: the count goes on across chunks
    monkeypatch.setattr(sources, "CHUNK_BYTES", 64)
    summary = ingest_paths(con, [str(path)])
    assert (summary.files[0].loaded, summary.files[0].duplicates) == (6, 0)
    made = [i for i in ids(con) if i.startswith("md5:")]
    base = made[0]
    assert made == [base, f"{base}#2", f"{base}#3", f"{base}#4", f"{base}#5"]
    # the same content grown by a line: the five are known, the sixth is new
    path.write_text(path.read_text() + line + "\n")
    again = ingest_paths(con, [str(path)])
    assert (again.files[0].loaded, again.files[0].duplicates) == (1, 6)


def test_the_first_bad_lines_do_not_decide_the_format(con: Any, tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    no_model = [json.dumps({k: v for k, v in rec(i).items() if k != "model"}) for i in range(8)]
    path.write_text(
        "\n".join(no_model + ["[1, 2]", "nope"] + [json.dumps(rec(i)) for i in range(10, 110)])
        + "\n"
    )
    summary = ingest_paths(con, [str(path)])
    f = summary.files[0]
    # 110 lines: 100 loaded, 8 missing a model and 2 not objects rejected
    assert (f.format, f.read, f.loaded, f.rejected) == ("requests", 110, 100, 10)


@pytest.mark.parametrize("block", [3, 7, 64])
def test_the_direct_path_finds_a_long_line_in_any_block(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmcost.ingest.direct import _LongLines

    monkeypatch.setattr(sources, "MAX_LINE_BYTES", 10)
    for lines, long in (
        ([4, 4, 4], False),
        ([5, 10, 3], False),
        ([5, 11, 3], True),
        ([30], True),
        ([2, 2, 12], True),
        ([10] * 9, False),
    ):
        data = b"".join(b"x" * n + b"\n" for n in lines)
        if lines == [2, 2, 12]:
            data = data[:-1]  # the last line without its newline
        check = _LongLines()
        for at in range(0, len(data), block):
            check.feed(data[at : at + block], at)
        check.end(len(data))
        # a line of half the limit or more may be told long (the line path measures it); over it, always
        assert check.found or not long, (lines, block)
        if max(lines) < 5:
            assert not check.found
