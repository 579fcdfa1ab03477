"""SPEC §3: idempotence, nothing lost, atomic files, one writer, the summary shapes, inputs of every kind."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from llmcost.ingest import ingest_paths

TS = "2025-10-01T00:00:00Z"


def rec(rid: str, **extra: Any) -> dict[str, Any]:
    return {
        "request_id": rid,
        "timestamp": TS,
        "model": "gpt-4o",
        "input_tokens": 10,
        "output_tokens": 5,
        **extra,
    }


def db_state(db: Path) -> tuple[Any, ...]:
    """Everything ingest writes, as comparable tuples."""
    from llmcost.store import connect

    con = connect(db)
    try:
        return tuple(
            con.execute(sql).fetchall()
            for sql in (
                "SELECT file_id, path, sha256, lines_read, loaded, rejected, duplicates FROM files ORDER BY file_id",
                "SELECT request_id, file_id, line_no FROM requests ORDER BY request_id",
                "SELECT file_id, line_no, reason, raw FROM rejects ORDER BY file_id, line_no",
            )
        )
    finally:
        con.close()


def counts(f: Any) -> tuple[int, int, int, int]:
    return (f.read, f.loaded, f.rejected, f.duplicates)


def ingest_json(
    run_cli: Any, *args: str, stdin: str | None = None
) -> tuple[int, dict[str, Any], str]:
    code, out, err = run_cli("ingest", "--format", "json", *args, stdin=stdin)
    return code, json.loads(out) if out else {}, err


# ---------------------------------------------------------------- idempotence and duplicates


def test_duplicates_within_a_file(con: Any, jsonl: Any) -> None:
    path = jsonl([rec("a"), rec("b"), rec("a", output_tokens=99), rec("a"), "not json"])
    f = ingest_paths(con, [str(path)]).files[0]
    # 5 lines = 2 loaded (a, b) + 1 rejected + 2 duplicates (the later a's)
    assert counts(f) == (5, 2, 1, 2)
    # the first occurrence wins
    assert con.execute("SELECT output_tokens FROM requests WHERE request_id = 'a'").fetchall() == [
        (5,)
    ]


def test_same_file_twice_adds_nothing(con: Any, jsonl: Any) -> None:
    path = jsonl([rec("a"), rec("b")])
    first = ingest_paths(con, [str(path)]).files[0]
    second = ingest_paths(con, [str(path)]).files[0]
    assert counts(first) == (2, 2, 0, 0)
    assert second.skipped and counts(second) == (0, 0, 0, 0)
    assert con.execute("SELECT count(*) FROM requests").fetchone() == (2,)
    assert con.execute("SELECT count(*) FROM files").fetchone() == (1,)


def test_duplicates_across_files(con: Any, jsonl: Any) -> None:
    ingest_paths(con, [str(jsonl([rec("a"), rec("b")], name="one.jsonl"))])
    f = ingest_paths(con, [str(jsonl([rec("b"), rec("c")], name="two.jsonl"))]).files[0]
    assert counts(f) == (2, 1, 0, 1)  # b was loaded from one.jsonl
    assert con.execute("SELECT count(*) FROM requests").fetchone() == (3,)


def test_renamed_copy_is_skipped(con: Any, jsonl: Any, tmp_path: Path) -> None:
    path = jsonl([rec("a"), rec("b")])
    ingest_paths(con, [str(path)])
    copy = tmp_path / "sub" / "renamed.jsonl"
    copy.parent.mkdir()
    shutil.copy(path, copy)
    f = ingest_paths(con, [str(copy)]).files[0]
    assert f.skipped and f.loaded == 0
    assert con.execute("SELECT count(*) FROM requests").fetchone() == (2,)


def test_appended_file_loads_only_the_new_lines(con: Any, jsonl: Any) -> None:
    path = jsonl([rec("a"), rec("b")])
    ingest_paths(con, [str(path)])
    with path.open("a") as fh:
        fh.write(json.dumps(rec("c")) + "\n")
    f = ingest_paths(con, [str(path)]).files[0]
    assert counts(f) == (3, 1, 0, 2)


def test_regrown_file_lists_its_rejects_once(con: Any, jsonl: Any) -> None:
    from llmcost.ingest import rejects

    path = jsonl([rec("a"), "bad"])
    ingest_paths(con, [str(path)])
    with path.open("a") as fh:
        fh.write(json.dumps(rec("b")) + "\n")
    f = ingest_paths(con, [str(path)]).files[0]
    assert counts(f) == (3, 1, 1, 1)  # the whole file is judged again
    assert [(r["line"], r["raw"]) for r in rejects(con)] == [(2, "bad")]  # not twice


def test_dedupe_scope_is_the_source_kind(con: Any, jsonl: Any) -> None:
    from llmcost.store import writes

    ingest_paths(con, [str(jsonl([rec("a")]))])
    # the same request_id from another kind of source is another record
    con.execute("CREATE TEMP TABLE st AS SELECT * REPLACE (NULL::VARCHAR AS reason) FROM "
                "(SELECT 1 AS line_no, NULL AS line, NULL AS reason, * EXCLUDE (source_kind, rid_hash, file_id, line_no) "
                "FROM requests)")  # fmt: skip
    got = writes.commit_staged_requests(con, "st", file_id=99, kind="openai_usage")
    assert (got.loaded, got.duplicates) == (1, 0)
    again = writes.commit_staged_requests(con, "st", file_id=100, kind="requests")
    assert (again.loaded, again.duplicates) == (0, 1)


# ---------------------------------------------------------------- the summary and its JSON shape


def test_json_summary_shape_and_balance(run_cli: Any, jsonl: Any) -> None:
    one = jsonl([rec("a"), rec("b"), "{bad", rec("a")], name="one.jsonl")
    two = jsonl([rec("b"), rec("c")], name="two.jsonl")
    code, doc, err = ingest_json(run_cli, str(one), str(two))
    assert code == 0
    assert doc["files"] == [
        {"path": str(one), "format": "requests", "read": 4, "loaded": 2, "rejected": 1, "duplicates": 1, "skipped": False},
        {"path": str(two), "format": "requests", "read": 2, "loaded": 1, "rejected": 0, "duplicates": 1, "skipped": False},
    ]  # fmt: skip
    # totals: read 4 + 2 = 6 = loaded 3 + rejected 1 + duplicates 2
    assert doc["totals"] == {"read": 6, "loaded": 3, "rejected": 1, "duplicates": 2}
    assert "--show-rejects" in err
    code, doc, _ = ingest_json(run_cli, str(one))
    assert doc["files"][0]["skipped"] is True and doc["files"][0]["loaded"] == 0


def test_counts_are_stored_per_file(con: Any, jsonl: Any) -> None:
    path = jsonl([rec("a"), rec("a"), "[]", rec("b")])
    ingest_paths(con, [str(path)])
    row = con.execute(
        "SELECT path, format, kind, lines_read, loaded, rejected, duplicates FROM files"
    ).fetchone()
    assert row == (str(path.resolve()), "requests", "requests", 4, 2, 1, 1)


def test_table_summary_states_the_balance(run_cli: Any, jsonl: Any) -> None:
    code, out, _ = run_cli("ingest", str(jsonl([rec("a"), rec("a"), "x"])))
    assert code == 0
    assert "read 3 = loaded 1 + rejected 1 + duplicates 1" in out


def test_show_rejects_lists_them(run_cli: Any, jsonl: Any) -> None:
    path = jsonl([rec("a"), '{"model": "gpt-4o"}', "oops"])
    run_cli("ingest", "-q", str(path))
    code, out, _ = run_cli("ingest", "--show-rejects", "--format", "json")
    assert code == 0
    assert json.loads(out) == {"rejects": [
        {"path": str(path.resolve()), "line": 2, "reason": "missing timestamp", "raw": '{"model": "gpt-4o"}'},
        {"path": str(path.resolve()), "line": 3, "reason": "invalid JSON", "raw": "oops"},
    ]}  # fmt: skip
    code, out, _ = run_cli("ingest", "--show-rejects")
    assert code == 0 and "missing timestamp" in out and "2 rejected lines" in out


# ---------------------------------------------------------------- --strict


def test_strict_fails_the_file_and_exits_1(run_cli: Any, jsonl: Any) -> None:
    bad = jsonl([rec("a"), "nope"], name="bad.jsonl")
    good = jsonl([rec("b")], name="good.jsonl")
    code, doc, _ = ingest_json(run_cli, "--strict", str(bad), str(good))
    assert code == 1
    assert doc["files"][0] == {"path": str(bad), "format": "requests", "read": 2, "loaded": 0, "rejected": 1,
                               "duplicates": 0, "skipped": False, "strict_failed": True}  # fmt: skip
    assert doc["files"][1]["loaded"] == 1  # a clean file is still loaded
    state = db_state(Path(os.environ["LLMCOST_DB"]))
    assert [r[0] for r in state[1]] == [
        "b"
    ]  # nothing from bad.jsonl: no request, no reject, no file row
    assert state[2] == [] and len(state[0]) == 1
    # without --strict the same file loads
    code, doc, _ = ingest_json(run_cli, str(bad))
    assert code == 0 and doc["files"][0]["loaded"] == 1


# ---------------------------------------------------------------- inputs: compression, folders, globs, stdin


def test_gzip_and_zstd(run_cli: Any, tmp_path: Path) -> None:
    import zstandard

    body = "".join(json.dumps(rec(f"r{i}")) + "\n" for i in range(3)).encode()
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(body))
    body2 = "".join(json.dumps(rec(f"z{i}")) + "\n" for i in range(2)).encode()
    (tmp_path / "b.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(body2))
    code, doc, _ = ingest_json(run_cli, "a.jsonl.gz", "b.jsonl.zst")
    assert code == 0
    assert [(f["path"], f["loaded"]) for f in doc["files"]] == [
        ("a.jsonl.gz", 3),
        ("b.jsonl.zst", 2),
    ]


def test_directories_are_walked_recursively(run_cli: Any, jsonl: Any) -> None:
    jsonl([rec("a")], name="logs/2025/10/a.jsonl")
    jsonl([rec("b")], name="logs/2025/b.ndjson")
    jsonl([rec("c")], name="logs/.hidden/c.jsonl")  # hidden folders are not walked
    (Path("logs") / "notes.md").write_text("not a log")
    code, doc, err = ingest_json(run_cli, "logs")
    assert code == 0
    assert sorted(f["path"] for f in doc["files"]) == ["logs/2025/10/a.jsonl", "logs/2025/b.ndjson"]
    assert doc["totals"]["loaded"] == 2
    assert doc["passed_over"] == ["logs/notes.md"]
    assert "passed over" in err


def test_globs(run_cli: Any, jsonl: Any) -> None:
    jsonl([rec("a")], name="x/a.jsonl")
    jsonl([rec("b")], name="x/y/b.jsonl")
    jsonl([rec("c")], name="x/c.txt")
    code, doc, _ = ingest_json(run_cli, "x/**/*.jsonl")
    assert code == 0
    assert [f["path"] for f in doc["files"]] == ["x/a.jsonl", "x/y/b.jsonl"]
    code, _, err = run_cli("ingest", "x/*.parquet")
    assert (
        code == 2
        and err == "llmcost: error: no file matches x/*.parquet (check the glob pattern)\n"
    )


def test_stdin_needs_as_requests(run_cli: Any) -> None:
    text = json.dumps(rec("s1")) + "\n" + json.dumps(rec("s2")) + "\nbad\n"
    code, _, err = run_cli("ingest", "-", stdin=text)
    assert code == 2 and "--as" in err and err.count("\n") == 1
    code, doc, _ = ingest_json(run_cli, "--as", "requests", "-", stdin=text)
    assert code == 0
    assert doc["files"] == [{"path": "-", "format": "requests", "read": 3, "loaded": 2, "rejected": 1,
                             "duplicates": 0, "skipped": False}]  # fmt: skip


def test_as_requests_judges_each_line(run_cli: Any, jsonl: Any) -> None:
    # a file that auto-detection refuses is read line by line when forced
    path = jsonl(["[1]", "[2]", json.dumps(rec("a"))], name="odd.jsonl")  # mostly not objects
    code, _, err = run_cli("ingest", str(path))
    assert code == 2 and "cannot recognise the format" in err
    code, doc, _ = ingest_json(run_cli, "--as", "requests", str(path))
    assert code == 0 and doc["totals"] == {"read": 3, "loaded": 1, "rejected": 2, "duplicates": 0}


def test_unknown_format_names_the_formats_tried(run_cli: Any, tmp_path: Path) -> None:
    from llmcost.ingest import registry

    (tmp_path / "weird.txt").write_text("hello world\nsecond line\n")
    code, out, err = run_cli("ingest", "weird.txt")
    assert code == 2 and out == ""
    assert err.startswith("llmcost: error: cannot recognise the format of weird.txt (tried: ")
    for f in registry.ordered():
        assert f.name in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_unknown_as_name(run_cli: Any, jsonl: Any) -> None:
    code, _, err = run_cli("ingest", "--as", "nope", str(jsonl([rec("a")])))
    assert code == 2 and "unknown format 'nope'" in err and "requests" in err


def test_missing_file(run_cli: Any) -> None:
    assert run_cli("ingest", "nope.jsonl") == (
        2,
        "",
        "llmcost: error: file not found: nope.jsonl (check the path)\n",
    )


def test_empty_file_loads_nothing(run_cli: Any, tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("\n\n")
    code, doc, _ = ingest_json(run_cli, "empty.jsonl")
    assert code == 0 and doc["totals"] == {"read": 0, "loaded": 0, "rejected": 0, "duplicates": 0}


# ---------------------------------------------------------------- attrs reach reports


def test_by_attrs_groups_on_unmapped_fields(run_cli: Any, jsonl: Any) -> None:
    # gpt-4o on 2025-10-01 is 2.50 in / 10.00 out per 1M: 10 in + 5 out = (25 + 50) / 1e6 = 0.000075
    path = jsonl([rec("a", team="red"), rec("b", team="red"), rec("c", team="blue"), rec("d")])
    run_cli("ingest", "-q", str(path))
    code, out, _ = run_cli("report", "--by", "attrs.team", "--format", "json")
    assert code == 0
    rows = {r["attrs.team"]: (r["requests"], r["cost_usd"]) for r in json.loads(out)["rows"]}
    assert rows["red"] == (2, pytest.approx(0.00015, abs=1e-12))
    assert rows["blue"] == (1, pytest.approx(0.000075, abs=1e-12))
    assert rows[None] == (1, pytest.approx(0.000075, abs=1e-12))


# ---------------------------------------------------------------- atomic files: interruption


def test_interrupted_file_leaves_the_database_as_before(
    run_cli: Any, jsonl: Any, monkeypatch: Any
) -> None:
    from llmcost.ingest import requests_log, sources

    db = Path(os.environ["LLMCOST_DB"])
    earlier = jsonl([rec("e1"), "bad"], name="earlier.jsonl")
    assert run_cli("ingest", "-q", str(earlier))[0] == 0
    before = db_state(db)

    records = [json.dumps(rec(f"r{i:03d}")) for i in range(40)] + [
        "broken",
        json.dumps(rec("r000")),
    ]
    big = jsonl(records, name="big.jsonl")
    monkeypatch.setattr(sources, "CHUNK_BYTES", 400)  # about 4 lines per chunk: many chunks
    real = requests_log.load_table
    calls = {"n": 0}

    def flaky(job: Any, table: Any, kind: str) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # as if Ctrl-C arrived after the first chunk was written
        return real(job, table, kind)

    monkeypatch.setattr(requests_log, "load_table", flaky)
    code, _, err = run_cli("ingest", "-q", str(big))
    assert code == 130 and "interrupted" in err and "Traceback" not in err
    assert calls["n"] == 2
    assert db_state(db) == before

    monkeypatch.setattr(requests_log, "load_table", real)
    code, doc, _ = ingest_json(run_cli, str(big))
    # 42 lines = 40 loaded + 1 rejected ("broken") + 1 duplicate (r000 again)
    assert code == 0 and doc["files"][0]["skipped"] is False
    assert doc["totals"] == {"read": 42, "loaded": 40, "rejected": 1, "duplicates": 1}
    after = db_state(db)
    assert len(after[1]) == 41 and len(after[2]) == 2 and len(after[0]) == 2


# ---------------------------------------------------------------- one writer at a time


def test_second_writer_gets_a_clear_error(run_cli: Any, jsonl: Any, tmp_path: Path) -> None:
    db = Path(os.environ["LLMCOST_DB"])
    db.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, duckdb
            con = duckdb.connect({str(db)!r})
            print("ready", flush=True)
            sys.stdin.read()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        code, out, err = run_cli("ingest", str(jsonl([rec("a")])))
        assert code == 2 and out == ""
        assert err.startswith("llmcost: error: database is in use by another llmcost process")
        assert err.count("\n") == 1 and "Traceback" not in err
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    code, _, _ = run_cli("ingest", "-q", str(jsonl([rec("a")])))
    assert code == 0


# ---------------------------------------------------------------- revenue CSV


def test_revenue_csv_counts_and_rejects(con: Any, tmp_path: Path) -> None:
    path = tmp_path / "rev.csv"
    path.write_text(
        "customer_id,month,revenue_usd,plan\n"
        'acme,2025-10,"1,200.50",pro\n'
        "acme,2025-10,1200.50,pro\n"  # the same customer-month again: a duplicate
        "beta,2025-13,5,\n"
        ",2025-10,5,\n"
        "zed,2025-10,abc,\n"
        "\n"
    )
    f = ingest_paths(con, [str(path)]).files[0]
    # 5 rows = 1 loaded + 3 rejected + 1 duplicate; the blank line is not a record
    assert (f.format, *counts(f)) == ("revenue", 5, 1, 3, 1)
    rows = con.execute("SELECT customer_id, month, revenue_usd, plan FROM revenue").fetchall()
    assert [(c, str(m), str(a), p) for c, m, a, p in rows] == [
        ("acme", "2025-10-01", "1200.500000", "pro")
    ]


def test_forcing_revenue_on_the_wrong_columns(run_cli: Any, tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("a,b\n1,2\n")
    code, out, err = run_cli("ingest", "--as", "revenue", "r.csv")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("llmcost: error: r.csv: a revenue CSV needs a header with customer_id")
