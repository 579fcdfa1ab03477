"""The direct path of the canonical loader (`ingest.direct`): DuckDB's reader over the whole file.

It must give exactly what the line-by-line path gives, and give way to it whenever it could not:
each case below is loaded both ways and compared, and the test says which path loaded the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from llmcost.ingest import direct, ingest_paths, rejects
from llmcost.store import connect

REPO = Path(__file__).resolve().parents[1]
TS = "2025-10-01T00:00:00Z"
ROWS = (
    "SELECT request_id, source_kind, rid_hash, line_no, ts, provider, model, user_id, customer_id,"
    " feature, task_id, step, plan, status, input_tokens, cache_read_tokens, cache_write_tokens,"
    " cache_write_1h_tokens, output_tokens, reasoning_tokens, cache_hit, batch, latency_ms,"
    " logged_cost_usd, estimated, prompt_text, response_text, attrs"
    " FROM requests ORDER BY request_id, line_no"
)


def rec(rid: str, **extra: Any) -> dict[str, Any]:
    return {
        "request_id": rid,
        "timestamp": TS,
        "model": "gpt-4o",
        "input_tokens": 10,
        "output_tokens": 5,
        **extra,
    }


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each file the canonical loader sees: True when the direct path loaded it."""
    taken: list[bool] = []
    real = direct.load

    def load(job: Any, kind: str) -> Any:
        counts = real(job, kind)
        taken.append(counts is not None)
        return counts

    monkeypatch.setattr(direct, "load", load)
    return taken


def state(db: Path) -> dict[str, Any]:
    """The requests (attrs parsed), the per-file counts and the rejects of a database."""
    con = connect(db)
    try:
        cur = con.execute(ROWS)
        names = [d[0] for d in cur.description]
        rows = []
        for row in cur.fetchall():
            d = dict(zip(names, row, strict=True))
            d["attrs"] = json.loads(d["attrs"]) if d["attrs"] is not None else None
            rows.append(d)
        files = con.execute(
            "SELECT path, sha256, lines_read, loaded, rejected, duplicates FROM files ORDER BY file_id"
        ).fetchall()
        bad = con.execute(
            "SELECT line_no, reason, raw FROM rejects ORDER BY file_id, line_no"
        ).fetchall()
        return {"rows": rows, "files": files, "rejects": bad}
    finally:
        con.close()


def load_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, paths: list[str], **kw: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same files into two databases: (direct path allowed, line path only)."""
    out = []
    for name, enabled in (("direct", True), ("lines", False)):
        monkeypatch.setattr(direct, "ENABLED", enabled)
        db = tmp_path / f"{name}.duckdb"
        con = connect(db)
        try:
            ingest_paths(con, paths, **kw)
        finally:
            con.close()
        out.append(state(db))
    monkeypatch.setattr(direct, "ENABLED", True)
    return out[0], out[1]


def test_sample_logs_load_the_same_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spy: list[bool]
) -> None:
    logs = tmp_path / "logs"
    shutil.copytree(REPO / "sample_logs" / "logs", logs)
    fast, lines = load_both(tmp_path, monkeypatch, [str(logs)])
    # every sample file is clean: the direct path loaded each one (the first half of the calls)
    n = len(spy) // 2
    assert n > 0 and all(spy[:n])
    assert fast == lines
    assert len(fast["rows"]) == sum(f[3] for f in fast["files"]) > 10_000


def test_every_alias_and_usage_shape_the_same_both_ways(
    tmp_path: Path, jsonl: Any, monkeypatch: pytest.MonkeyPatch, spy: list[bool]
) -> None:
    records = [
        rec("a", customer_id="c1", user_id="u1", feature="chat", step=2, plan="pro", status="ERROR",
            cache_read_tokens=4, cache_write_tokens=1, cache_write_1h_tokens=2, reasoning_tokens=3,
            cache_hit="yes", batch=1, latency_ms="12.5", cost_usd=0.001, region="eu", extra={"k": [1, 2]}),
        {"id": "b", "ts": 1759276800123, "model_id": "claude-sonnet-4-5", "workspace_id": "w",
         "usage": {"input_tokens": 10, "cache_read_input_tokens": 20,
                   "cache_creation": {"ephemeral_5m_input_tokens": 3, "ephemeral_1h_input_tokens": 4},
                   "output_tokens": 7}},
        {"generation_id": "c", "created_at": "2025-10-01T02:00:00+02:00", "gen_ai.request.model": "gpt-4.1",
         "gen_ai.system": "openai", "prompt_tokens": "100", "completion_tokens": 1e1,
         "prompt_tokens_details": {"cached_tokens": 40}, "completion_tokens_details": {"reasoning_tokens": 2}},
        {"request_id": "d", "start_time": "1759276800", "model": "gemini-2.5-pro",
         "usageMetadata": {"promptTokenCount": 5, "cachedContentTokenCount": 1, "candidatesTokenCount": 2,
                           "thoughtsTokenCount": 3}},
        {"request_id": "e", "timestamp": TS, "model": "gpt-4o", "response": {"usage": {
            "input_tokens": 9, "output_tokens": 4, "input_tokens_details": {"cached_tokens": 2}}}},
        rec("f", model="m\u00e9t\u00e9o \"quoted\" \\ back", feature="caf\u00e9"),
    ]  # fmt: skip
    path = jsonl(records)
    fast, lines = load_both(tmp_path, monkeypatch, [str(path)])
    assert spy[0] is True  # the direct path took this file
    assert fast == lines and len(fast["rows"]) == 6
    by_id = {r["request_id"]: r for r in fast["rows"]}
    # Anthropic: input = 10 + 20 read + 3 + 4 written = 37; Gemini: output = 2 + 3 thoughts = 5
    assert by_id["b"]["input_tokens"] == 37 and by_id["b"]["cache_write_1h_tokens"] == 4
    assert by_id["d"]["output_tokens"] == 5 and by_id["c"]["cache_read_tokens"] == 40
    assert by_id["a"]["attrs"] == {"region": "eu", "extra": {"k": [1, 2]}}


def test_keep_text_the_same_both_ways(
    tmp_path: Path, jsonl: Any, monkeypatch: pytest.MonkeyPatch, spy: list[bool]
) -> None:
    path = jsonl(
        [rec("a", prompt='hi "there"', completion="yo"), rec("b", messages=[{"role": "user"}])]
    )
    fast, lines = load_both(tmp_path, monkeypatch, [str(path)], keep_text=True)
    assert spy[0] is True and fast == lines
    assert fast["rows"][0]["prompt_text"] == 'hi "there"'


@pytest.mark.parametrize(
    ("name", "lines_of_file", "reason"),
    [
        ("invalid JSON", [json.dumps(rec("a")), "{not json", json.dumps(rec("b"))], "invalid JSON"),
        ("not an object", [json.dumps(rec("a")), "[1, 2]", json.dumps(rec("b"))], "not a JSON object"),
        ("blank line", [json.dumps(rec("a")), "", "   ", json.dumps(rec("b"))], None),
        ("rejected value", [json.dumps(rec("a")), json.dumps(rec("x", model=None)), json.dumps(rec("b"))],
         "missing model"),
        ("no request_id", [json.dumps(rec("a")), json.dumps({k: v for k, v in rec("x").items() if k != "request_id"}),
                           json.dumps(rec("b"))], None),
        ("two objects on a line", [json.dumps(rec("x")), json.dumps(rec("a")) + " " + json.dumps(rec("b"))], "invalid JSON"),
        ("an object over two lines", ['{"request_id": "a",', json.dumps(rec("b"))], "invalid JSON"),
        ("keys differing in case", [json.dumps(rec("a")), json.dumps(rec("b", Region="x", region="y"))], None),
    ],
)  # fmt: skip
def test_the_line_path_takes_what_the_direct_path_cannot(
    tmp_path: Path,
    jsonl: Any,
    monkeypatch: pytest.MonkeyPatch,
    spy: list[bool],
    name: str,
    lines_of_file: list[str],
    reason: str | None,
) -> None:
    path = jsonl(lines_of_file)
    fast, lines = load_both(tmp_path, monkeypatch, [str(path)])
    assert spy[0] is False, name  # the direct path gave way...
    assert fast == lines  # ...and left nothing behind: the result is the line path's
    # the file's own sha256 was recorded although the attempt had read the file already
    assert fast["files"][0][1] == hashlib.sha256(path.read_bytes()).hexdigest()
    if reason is not None:
        assert any(reason in r[1] for r in fast["rejects"]), fast["rejects"]


def test_byte_order_mark_takes_the_line_path(tmp_path: Path, spy: list[bool], con: Any) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf"
        + json.dumps(rec("a")).encode()
        + b"\n"
        + json.dumps(rec("b")).encode()
        + b"\n"
    )
    summary = ingest_paths(con, [str(path)])
    assert spy == [False]
    f = summary.files[0]
    assert (f.read, f.loaded + f.rejected) == (2, 2)  # each line counted once, loaded or rejected


def test_duplicates_in_the_file_and_across_files(
    tmp_path: Path, jsonl: Any, con: Any, spy: list[bool]
) -> None:
    first = jsonl([rec("a"), rec("b"), rec("a", input_tokens=99), rec("c")], name="first.jsonl")
    second = jsonl([rec("c"), rec("d"), rec("d"), rec("b")], name="second.jsonl")
    summary = ingest_paths(con, [str(first), str(second)])
    assert spy == [True, True]
    # first: 4 read, "a" again on line 3 is a duplicate; second: "c" and "b" came before, "d" twice
    assert [(f.read, f.loaded, f.rejected, f.duplicates) for f in summary.files] == [
        (4, 3, 0, 1),
        (4, 1, 0, 3),
    ]
    rows = con.execute(
        "SELECT request_id, line_no, input_tokens FROM requests ORDER BY request_id"
    ).fetchall()
    assert rows == [
        ("a", 1, 10),
        ("b", 2, 10),
        ("c", 4, 10),
        ("d", 2, 10),
    ]  # the first line of each wins


def test_reingest_and_renamed_copy(tmp_path: Path, jsonl: Any, con: Any, spy: list[bool]) -> None:
    path = jsonl([rec("a"), rec("b")])
    assert ingest_paths(con, [str(path)]).totals["loaded"] == 2
    again = ingest_paths(con, [str(path)])
    assert again.files[0].skipped and again.totals["loaded"] == 0
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(path.read_bytes())
    renamed = ingest_paths(con, [str(copy)])
    assert renamed.files[0].skipped and con.execute("SELECT count(*) FROM requests").fetchone() == (
        2,
    )


def test_progress_counts_each_byte_once(tmp_path: Path, jsonl: Any, con: Any) -> None:
    for records in ([rec("a"), rec("b")], [rec("a"), "{broken"]):  # direct, then a fallback
        path = jsonl(records, name=f"p{len(os.listdir(tmp_path))}.jsonl")
        seen: list[int] = []
        ingest_paths(con, [str(path)], progress=seen.append)
        assert sum(seen) == path.stat().st_size


def test_interrupted_direct_load_leaves_the_database_as_before(
    run_cli: Any, jsonl: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Path(os.environ["LLMCOST_DB"])
    earlier = jsonl([rec("e1")], name="earlier.jsonl")
    assert run_cli("ingest", "-q", str(earlier))[0] == 0
    before = state(db)
    big = jsonl([rec(f"r{i:03d}") for i in range(50)], name="big.jsonl")

    def interrupted(*args: Any) -> int:
        raise KeyboardInterrupt  # as if Ctrl-C arrived once every row was written

    real = direct._drop_duplicates
    monkeypatch.setattr(direct, "_drop_duplicates", interrupted)
    code, _, err = run_cli("ingest", "-q", str(big))
    assert code == 130 and "interrupted" in err and "Traceback" not in err
    assert state(db) == before

    monkeypatch.setattr(direct, "_drop_duplicates", real)
    code, out, _ = run_cli("ingest", "--format", "json", str(big))
    assert code == 0 and json.loads(out)["totals"] == {
        "read": 50,
        "loaded": 50,
        "rejected": 0,
        "duplicates": 0,
    }


def test_unmapped_null_is_left_out_of_attrs(jsonl: Any, con: Any, spy: list[bool]) -> None:
    """The one documented difference: the direct path drops `"key": null` from attrs."""
    path = jsonl([rec("a", region=None, app="x")])
    ingest_paths(con, [str(path)])
    assert spy == [True]
    assert json.loads(con.execute("SELECT attrs FROM requests").fetchone()[0]) == {"app": "x"}
    assert rejects(con) == []


def test_a_file_read_in_parts_loads_the_same(
    tmp_path: Path, jsonl: Any, monkeypatch: pytest.MonkeyPatch, spy: list[bool]
) -> None:
    """A big file is copied into one part per DuckDB thread (read on every thread); the line
    numbers continue from part to part, and duplicates across parts are found."""
    monkeypatch.setattr(direct, "PART_MIN_BYTES", 1)  # every file is big enough
    records = [rec(f"r{i:03d}", feature=f"f{i % 3}") for i in range(60)] + [
        rec("r005"),
        rec("r059"),
    ]
    path = jsonl(records)
    split: list[list[tuple[Path, int]]] = []
    real_write = direct._write_parts

    def write_parts(*args: Any) -> Any:
        parts, last_start = real_write(*args)
        split.append(parts)
        return parts, last_start

    monkeypatch.setattr(direct, "_write_parts", write_parts)
    out = []
    for enabled in (True, False):
        monkeypatch.setattr(direct, "ENABLED", enabled)
        db = tmp_path / f"{enabled}.duckdb"
        con = connect(db)
        con.execute("SET threads = 3")
        try:
            summary = ingest_paths(con, [str(path)])
            parts = list((tmp_path).glob("**/llmcost-parts-*"))
        finally:
            con.close()
        assert parts == []  # the part files are gone
        # 62 lines: r005 and r059 again on lines 61 and 62 are duplicates
        assert summary.totals == {"read": 62, "loaded": 60, "rejected": 0, "duplicates": 2}
        out.append(state(db))
    assert spy[0] is True
    offsets = [offset for _, offset in split[0]]
    assert len(offsets) == 3 and offsets[0] == 0 and offsets[0] < offsets[1] < offsets[2] < 62
    text = path.read_bytes()
    cut = sum(len(line) for line in text.splitlines(keepends=True)[: offsets[1]])
    assert text[cut - 1 : cut] == b"\n"  # the parts are whole lines
    assert out[0] == out[1]
    assert [r["line_no"] for r in out[0]["rows"]][:3] == [1, 2, 3]


def load_in_three_parts(tmp_path: Path, path: Path) -> tuple[Any, list[int]]:
    """Ingest PATH on three threads (three parts, with PART_MIN_BYTES patched to 1): the summary,
    and the line numbers of the rows loaded."""
    con = connect(tmp_path / "db.duckdb")
    con.execute("SET threads = 3")
    try:
        summary = ingest_paths(con, [str(path)])
        line_nos = [
            r[0] for r in con.execute("SELECT line_no FROM requests ORDER BY line_no").fetchall()
        ]
    finally:
        con.close()
    return summary, line_nos


@pytest.mark.parametrize("where", ["first part", "middle part", "last part", "last line"])
def test_a_blank_line_in_any_part_takes_the_line_path(
    tmp_path: Path, jsonl: Any, monkeypatch: pytest.MonkeyPatch, spy: list[bool], where: str
) -> None:
    """The lines before the last part are counted when the parts are cut, those of the last part
    while the file is hashed: a blank line in either is seen, and the line path takes the file
    (DuckDB's reader skips it, and the line numbers after it would shift)."""
    monkeypatch.setattr(direct, "PART_MIN_BYTES", 1)
    lines = [json.dumps(rec(f"r{i:03d}")) for i in range(30)]
    at = {"first part": 2, "middle part": 15, "last part": 27, "last line": 30}[where]
    text = "\n".join([*lines[:at], "", *lines[at:]]) + "\n"
    path = tmp_path / "blank.jsonl"
    path.write_text(text)
    summary, line_nos = load_in_three_parts(tmp_path, path)
    assert spy == [False]
    assert summary.totals == {"read": 30, "loaded": 30, "rejected": 0, "duplicates": 0}
    assert line_nos == [n for n in range(1, 32) if n != at + 1]  # the blank line is not a row


def test_a_file_read_in_parts_without_a_last_newline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spy: list[bool]
) -> None:
    monkeypatch.setattr(direct, "PART_MIN_BYTES", 1)
    path = tmp_path / "open.jsonl"
    path.write_text("\n".join(json.dumps(rec(f"r{i:03d}")) for i in range(30)))  # no last newline
    summary, line_nos = load_in_three_parts(tmp_path, path)
    assert spy == [True]
    assert summary.totals == {"read": 30, "loaded": 30, "rejected": 0, "duplicates": 0}
    assert line_nos == list(range(1, 31))


def test_many_unmapped_keys_make_the_same_attrs_both_ways(
    tmp_path: Path, jsonl: Any, monkeypatch: pytest.MonkeyPatch, spy: list[bool]
) -> None:
    """attrs is built a group of keys at a time: keys in several groups, any of them absent from a
    line (the first, the last, all of a group, all of them), odd names, nested values."""
    names = [f"x{i}" for i in range(9)] + ["it's", "caf\u00e9", 'q"uote', "nest"]
    values: list[Any] = [1, "two", 3.5, True, [1, 2], {"a": {"b": None}}, "é", 0, "", "v", 7, -1]
    values.append({"deep": [1, {"x": "y"}]})
    lines = []
    for i in range(40):
        extra = {
            n: v for j, (n, v) in enumerate(zip(names, values, strict=True)) if (i >> (j % 6)) & 1
        }
        if i % 10 == 3:
            extra = {}
        elif i % 10 == 7:
            extra = {n: values[j] for j, n in enumerate(names) if j >= 8}
        lines.append(json.dumps(rec(f"r{i:02d}", **extra)))
    path = jsonl(lines)
    fast, slow = load_both(tmp_path, monkeypatch, [str(path)])
    assert spy[0] is True
    assert fast == slow
    attrs = [r["attrs"] for r in fast["rows"]]
    assert attrs[3] is None and attrs[7] == dict(zip(names[8:], values[8:], strict=True))
    assert sum(a is not None and len(a) > 8 for a in attrs) > 0  # some lines span both groups


@pytest.fixture
def small_sample(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A sample of the first line only; the list grows each time every key is listed instead."""
    monkeypatch.setattr(direct, "HEAD_BYTES", 150)
    monkeypatch.setattr(direct, "SLICES", 1)
    listed: list[int] = []
    real = direct._all_keys

    def all_keys(*args: Any) -> list[str]:
        keys = real(*args)
        listed.append(len(keys))
        return keys

    monkeypatch.setattr(direct, "_all_keys", all_keys)
    return listed


@pytest.mark.parametrize("keep_text", [False, True])
def test_a_key_the_sample_missed_is_kept(
    tmp_path: Path,
    jsonl: Any,
    monkeypatch: pytest.MonkeyPatch,
    spy: list[bool],
    small_sample: list[int],
    keep_text: bool,
) -> None:
    """The sample sees the first line; keys first met later (mapped ones, nested usage, text,
    unmapped ones) stop the reader, every key is listed, and the file loads directly all the
    same, with the line path's result. A text key the parse does not read (without --keep-text)
    must not hide the later keys from the reader."""
    first = rec("a", prompt="hello")
    assert len(json.dumps(first)) < 150 < len(json.dumps(first)) + len(json.dumps(rec("b"))) + 2
    records = (
        [first]
        + [rec(f"r{i}", prompt="p") for i in range(30)]
        + [
            rec("late1", region="eu", cost_usd=0.5),
            {k: v for k, v in rec("late2").items() if k not in ("input_tokens", "output_tokens")}
            | {"usage": {"input_tokens": 7, "output_tokens": 3}, "completion": "done"},
        ]
    )
    path = jsonl(records)
    fast, lines = load_both(tmp_path, monkeypatch, [str(path)], keep_text=keep_text)
    assert spy[0] is True and small_sample == [len({k for r in records for k in r})]
    assert fast == lines
    late = {r["request_id"]: r for r in fast["rows"]}
    assert late["late1"]["attrs"] == {"region": "eu"} and late["late1"]["logged_cost_usd"] == 0.5
    assert (late["late2"]["input_tokens"], late["late2"]["output_tokens"]) == (7, 3)
    assert late["late2"]["response_text"] == ("done" if keep_text else None)


def test_a_sample_with_every_key_lists_none(
    tmp_path: Path, jsonl: Any, monkeypatch: pytest.MonkeyPatch, spy: list[bool]
) -> None:
    listed: list[int] = []
    monkeypatch.setattr(direct, "_all_keys", lambda *a: listed.append(1) or [])
    path = jsonl([rec(f"r{i}", region="eu") for i in range(20)])
    fast, lines = load_both(tmp_path, monkeypatch, [str(path)])
    assert spy[0] is True and listed == [] and fast == lines


def test_a_reader_that_lets_unknown_keys_pass_is_not_trusted(
    tmp_path: Path,
    jsonl: Any,
    monkeypatch: pytest.MonkeyPatch,
    spy: list[bool],
    small_sample: list[int],
) -> None:
    """Were DuckDB's reader one day to skip a key its header does not name, every key would be
    listed first: slower, with nothing lost."""
    monkeypatch.setattr(direct, "_CHECKED", {})
    monkeypatch.setattr(direct, "DETECT", direct.DETECT + ", ignore_errors = true")
    path = jsonl([rec("a"), rec("b", region="eu")])
    fast, lines = load_both(tmp_path, monkeypatch, [str(path)])
    assert direct._CHECKED and not any(direct._CHECKED.values())
    assert spy[0] is True and small_sample == [6] and fast == lines
    assert fast["rows"][1]["attrs"] == {"region": "eu"}


def test_string_fields_read_as_text_the_same_both_ways(
    tmp_path: Path, jsonl: Any, monkeypatch: pytest.MonkeyPatch, spy: list[bool]
) -> None:
    """The direct path has DuckDB's reader give string fields' keys as text; whatever the value
    (escapes, non-ASCII, numbers, objects, the string "null", null), it is what the line path
    makes of the JSON."""
    odd: list[Any] = [
        'x\u00e9"q\\n',
        5,
        1e3,
        1.50,
        -0.0,
        12345678901234567890,
        {"k": [1, 2.50]},
        [1, "x"],
        True,
        "null",
        "",
        None,
    ]
    records = [
        rec(
            f"r{i}",
            user=value,  # an alias, after no user_id
            customer_id=value,
            feature=value,
            task_id=value,
            plan=value,
            status=value if isinstance(value, str) else None,
            provider=value if isinstance(value, str) and value else "openai",
        )
        for i, value in enumerate(odd)
    ] + [rec(7, model="gpt-4o-mini"), rec("epoch", ts=1.7e9) | {"timestamp": None}]
    path = jsonl(records)
    fast, lines = load_both(tmp_path, monkeypatch, [str(path)])
    assert spy[0] is True and fast == lines
    users = {r["request_id"]: r["user_id"] for r in fast["rows"]}
    assert users["r0"] == 'x\u00e9"q\\n' and users["r1"] == "5" and users["r6"] == '{"k":[1,2.5]}'
    assert users["r9"] == "null" and users["r11"] is None
    assert {r["request_id"] for r in fast["rows"]} >= {"7", "epoch"}


def test_parts_hold_about_as_many_lines() -> None:
    """The cut falls where half the lines are, not half the bytes: 1,000 bytes of 100-byte lines
    (10) then 1,000 of 10-byte lines (100); 55 lines each side puts it 450 bytes into the second."""
    assert direct._cuts(2000, 2, [(0, 100.0), (1000, 10.0)]) == [1450]
    assert direct._cuts(2000, 2, []) == [1000]  # nothing sampled: half the bytes
    assert direct._cuts(900, 3, [(0, 30.0)]) == [300, 600]
