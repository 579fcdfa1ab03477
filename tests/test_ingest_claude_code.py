"""Claude Code session logs: streaming-copy dedupe, sidechain replays, project/session mapping,
Anthropic token semantics, default discovery (`ingest --claude-code`).

The fixture tree is sample_logs/providers/claude_code/projects (the synthetic case set of
reference/ccusage.md, moved to 2026-10). Prices are the bundled ones, USD per 1M tokens.
"""

from __future__ import annotations

import json
import os
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from llmcost import pricing
from llmcost.errors import InputError
from llmcost.ingest import ingest_paths
from llmcost.ingest.adapters import claude_code

TREE = Path(__file__).resolve().parents[1] / "sample_logs" / "providers" / "claude_code"
WEBAPP = "-home-alice-repo-webapp"
API = "-home-alice-repo-api"
S1 = "11111111-aaaa-4aaa-8aaa-000000000001"
S2 = "22222222-bbbb-4bbb-8bbb-000000000002"


def priced(con: Any) -> dict[str, dict[str, Any]]:
    pricing.install(con, pricing.load())
    cur = con.execute(
        "SELECT *, CAST(attrs AS VARCHAR) AS attrs_text FROM priced ORDER BY request_id"
    )
    names = [d[0] for d in cur.description]
    return {r[names.index("request_id")]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def near(value: Any, expected: str) -> bool:
    return value is not None and abs(Decimal(str(value)) - Decimal(expected)) < Decimal("1e-9")


def line(mid: str | None, rid: str | None, out: int, *, ts: str = "2026-10-09T10:00:00.000Z", side: bool = False,
         model: str = "claude-sonnet-4-20250514", inp: int = 10, cr: int = 0, cc: int = 0) -> str:  # fmt: skip
    rec: dict[str, Any] = {
        "parentUuid": None, "isSidechain": side, "sessionId": "s", "type": "assistant", "uuid": "u", "timestamp": ts,
        "message": {"model": model, "usage": {"input_tokens": inp, "output_tokens": out,
                                              "cache_read_input_tokens": cr, "cache_creation_input_tokens": cc}},
    }  # fmt: skip
    if mid:
        rec["message"]["id"] = mid
    if rid:
        rec["requestId"] = rid
    return json.dumps(rec, separators=(",", ":"))


def write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------- the fixture tree


@pytest.fixture
def tree_loaded(con: Any) -> tuple[Any, Any]:
    summary = ingest_paths(con, [str(TREE)])
    return summary, priced(con)


def test_counts_and_formats(tree_loaded: tuple[Any, Any]) -> None:
    summary, _ = tree_loaded
    assert {f.format for f in summary.files} == {"claude_code"}
    # 10 assistant entries with usage (the <synthetic> one is not an API call):
    # 7 loaded; duplicates = A1's first streaming copy + B1's copy in the resumed session + B1's replay
    assert summary.totals == {"read": 10, "loaded": 7, "rejected": 0, "duplicates": 3}


def test_streaming_copies_keep_the_most_complete(tree_loaded: tuple[Any, Any]) -> None:
    _, rows = tree_loaded
    a1 = rows["msg_A1:req_A1"]
    assert a1["output_tokens"] == 480  # not the first snapshot's 5
    # Anthropic usage: all input = 12 + 10000 read + 2000 written
    assert (a1["input_tokens"], a1["cache_read_tokens"], a1["cache_write_tokens"]) == (
        12012,
        10000,
        2000,
    )
    # Sonnet 4: 12*3 + 2000*3.75 + 10000*0.3 + 480*15 = 36 + 7500 + 3000 + 7200 = 17736 -> 0.017736
    assert near(a1["cost_usd"], "0.017736")


def test_one_hour_cache_writes(tree_loaded: tuple[Any, Any]) -> None:
    _, rows = tree_loaded
    a2 = rows["msg_A2:req_A2"]
    assert (a2["cache_write_tokens"], a2["cache_write_1h_tokens"], a2["input_tokens"]) == (
        0,
        1500,
        13508,
    )
    # 8*3 + 1500*6 (1h rate) + 12000*0.3 + 900*15 = 24 + 9000 + 3600 + 13500 = 26124 -> 0.026124
    assert near(a2["cost_usd"], "0.026124")


def test_long_context_uses_the_whole_request_rule(tree_loaded: tuple[Any, Any]) -> None:
    _, rows = tree_loaded
    # 300k input > 200k: every token at the long rates (6 / 22.50): 300000*6 + 1000*22.5 -> 1.8225
    # (ccusage tiers each bucket at the margin and gets 1.215; see docs/sources-gateways.md)
    assert near(rows["msg_A3:req_A3"]["cost_usd"], "1.8225")


def test_sidechain_replay_dropped_genuine_sidechain_kept(tree_loaded: tuple[Any, Any]) -> None:
    _, rows = tree_loaded
    assert "msg_B1:req_B1_replay" not in rows
    b1 = rows["msg_B1:req_B1"]
    assert b1["cache_read_tokens"] == 30000  # the parent copy, not the replay's 50000
    # no cache_creation breakdown: all 5000 writes are 5-minute ones.
    # Opus 4.1: 20*15 + 5000*18.75 + 30000*1.5 + 1500*75 = 300 + 93750 + 45000 + 112500 -> 0.25155
    assert near(b1["cost_usd"], "0.25155")
    s1 = rows["msg_S1:req_S1"]
    assert json.loads(s1["attrs_text"])["is_sidechain"] is True
    # Haiku 4.5: 50*1 + 1000*1.25 + 4000*0.1 + 300*5 = 50 + 1250 + 400 + 1500 = 3200 -> 0.0032
    assert near(s1["cost_usd"], "0.0032")


def test_project_is_feature_session_is_task(tree_loaded: tuple[Any, Any]) -> None:
    _, rows = tree_loaded
    assert (rows["msg_A1:req_A1"]["feature"], rows["msg_A1:req_A1"]["task_id"]) == (WEBAPP, S1)
    # a subagent file belongs to its parent session's folder
    assert (rows["msg_S1:req_S1"]["feature"], rows["msg_S1:req_S1"]["task_id"]) == (API, S2)
    attrs = json.loads(rows["msg_A1:req_A1"]["attrs_text"])
    assert attrs["git_branch"] == "main" and attrs["cwd"] == "/home/alice/repo/webapp"


def test_logged_cost_kept_unknown_model_unpriced(tree_loaded: tuple[Any, Any]) -> None:
    _, rows = tree_loaded
    b2 = rows["msg_B2:req_B2"]
    assert b2["logged_cost_usd"] == 0.5
    assert near(b2["cost_usd"], "0.0011")  # 100*1 + 200*5 = 1100 -> 0.0011, not the logged 0.5
    assert rows["msg_B3:req_B3"]["cost_usd"] is None  # my-private-model: unpriced, not 0


def test_report_by_day(run_cli: Any) -> None:
    assert run_cli("ingest", str(TREE), "-q")[0] == 0
    code, out, _ = run_cli("report", "--by", "day", "--format", "json")
    assert code == 0
    data = json.loads(out)
    days = {r["day"]: r["cost_usd"] for r in data["rows"]}
    # 10-09: A1 0.017736 + A2 0.026124 + A3 1.8225 = 1.86636
    # 10-10: B1 0.25155 + B2 0.0011 + S1 0.0032 = 0.25585 (B3 unpriced)
    assert days == pytest.approx({"2026-10-09": 1.86636, "2026-10-10": 0.25585}, abs=1e-9)
    assert data["coverage"]["unpriced_models"] == ["my-private-model"]


# ---------------------------------------------------------------- dedupe rules on small files


def test_more_complete_copy_first_is_kept(con: Any, tmp_path: Path) -> None:
    path = write(
        tmp_path / "projects" / "p" / "s.jsonl", [line("m1", "r1", 300), line("m1", "r1", 20)]
    )
    f = ingest_paths(con, [str(path)]).files[0]
    assert (f.read, f.loaded, f.duplicates) == (2, 1, 1)
    assert con.execute("SELECT output_tokens, line_no FROM requests").fetchone() == (300, 1)


def test_replay_before_parent_in_one_file(con: Any, tmp_path: Path) -> None:
    path = write(
        tmp_path / "projects" / "p" / "s.jsonl",
        [
            line("m1", "r-replay", 99, side=True, cr=5000),
            line("m1", "r1", 40),
            line("m2", "r2", 7, side=True),
        ],
    )
    f = ingest_paths(con, [str(path)]).files[0]
    assert (f.read, f.loaded, f.duplicates) == (3, 2, 1)
    assert sorted(r[0] for r in con.execute("SELECT request_id FROM requests").fetchall()) == [
        "m1:r1",
        "m2:r2",
    ]


def test_missing_ids(con: Any, tmp_path: Path) -> None:
    # no requestId: the key is message.id alone; no message.id: the line's own hash
    path = write(
        tmp_path / "projects" / "p" / "s.jsonl",
        [line("m1", None, 5), line("m1", None, 9), line(None, None, 3), line(None, None, 4)],
    )
    f = ingest_paths(con, [str(path)]).files[0]
    assert (f.read, f.loaded, f.duplicates) == (4, 3, 1)
    assert con.execute("SELECT output_tokens FROM requests WHERE request_id = 'm1'").fetchone() == (
        9,
    )


def test_broken_line_rejected_other_lines_passed_over(con: Any, tmp_path: Path) -> None:
    path = write(
        tmp_path / "projects" / "p" / "s.jsonl",
        ['{"type":"user","sessionId":"s","parentUuid":null,"message":{"role":"user","content":"hi"}}',
         line("m1", "r1", 5),
         '{"type":"assistant","message":{"usage":{"input_tokens":1,',
         line("m2", "r2", 5, model="<synthetic>")],
    )  # fmt: skip
    f = ingest_paths(con, [str(path)]).files[0]
    assert (f.read, f.loaded, f.rejected) == (2, 1, 1)
    assert con.execute("SELECT line_no, reason FROM rejects").fetchall() == [(3, "invalid JSON")]


def test_project_session_paths() -> None:
    base = Path("/x/.claude/projects")
    assert claude_code.project_session(base / "-p" / "s1.jsonl") == ("-p", "s1")
    assert claude_code.project_session(base / "-p" / "s1" / "chat.jsonl") == ("-p", "s1")
    assert claude_code.project_session(base / "-p" / "s1" / "subagents" / "agent-1.jsonl") == (
        "-p",
        "s1",
    )
    assert claude_code.project_session(Path("/tmp/loose.jsonl")) == (None, None)


def test_outside_a_projects_folder_uses_cwd_and_session_id(con: Any, tmp_path: Path) -> None:
    rec = json.loads(line("m1", "r1", 5))
    rec.update(cwd="/home/bob/app", sessionId="sess-9")
    path = write(tmp_path / "loose.jsonl", [json.dumps(rec)])
    ingest_paths(con, [str(path)])
    assert con.execute("SELECT feature, task_id FROM requests").fetchone() == (
        "-home-bob-app",
        "sess-9",
    )


# ---------------------------------------------------------------- default discovery (--claude-code)


def test_config_dir_discovery(
    run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "claude-config"
    shutil.copytree(TREE, cfg)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", f"{tmp_path / 'nothing-here'},{cfg}")
    code, out, err = run_cli("ingest", "--claude-code", "--format", "json")
    assert code == 0, err
    totals = json.loads(out)["totals"]
    assert totals == {"read": 10, "loaded": 7, "rejected": 0, "duplicates": 3}
    # a second run loads nothing new
    code, out, _ = run_cli("ingest", "--claude-code", "--format", "json")
    assert json.loads(out)["totals"]["loaded"] == 0


def test_config_dir_may_be_the_projects_folder(tmp_path: Path) -> None:
    shutil.copytree(TREE, tmp_path / "c")
    files = claude_code.default_files({"CLAUDE_CONFIG_DIR": str(tmp_path / "c" / "projects")})
    assert len(files) == 4
    # sorted: a parent session's log comes before its subagents' logs
    assert files.index(str(tmp_path / "c/projects" / API / f"{S2}.jsonl")) < files.index(
        str(tmp_path / "c/projects" / API / S2 / "subagents" / "agent-a1b2c3.jsonl")
    )


def test_home_and_xdg_defaults(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write(home / ".claude" / "projects" / "-a" / "s.jsonl", [line("m1", "r1", 1)])
    write(tmp_path / "xdg" / "claude" / "projects" / "-b" / "s.jsonl", [line("m2", "r2", 1)])
    files = claude_code.default_files({"HOME": str(home), "XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert [Path(f).parts[-2] for f in files] == ["-b", "-a"]
    assert len(claude_code.default_files({"HOME": str(home)})) == 1  # ~/.config/claude absent


def test_nothing_found_is_a_one_line_error(
    run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "missing"))
    code, out, err = run_cli("ingest", "--claude-code")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "no projects/ folder" in err
    with pytest.raises(InputError, match="no Claude Code logs found"):
        claude_code.default_roots({"HOME": str(tmp_path / "empty-home")})


def test_subagent_progress_event_counted_once(con: Any, tmp_path: Path) -> None:
    # the parent transcript carries the subagent's message in a progress event; the subagent's
    # own log has the same message: one request (message.id:requestId is the same)
    inner = json.loads(line("m-sub", "r-sub", 70, side=True, model="claude-haiku-4-5-20251001"))
    progress = {
        "type": "progress",
        "sessionId": "s",
        "parentUuid": "p",
        "uuid": "u2",
        "data": {"message": inner},
    }
    parent = write(
        tmp_path / "projects" / "p" / "s.jsonl", [line("m1", "r1", 5), json.dumps(progress)]
    )
    sub = write(
        tmp_path / "projects" / "p" / "s" / "subagents" / "agent-1.jsonl", [json.dumps(inner)]
    )
    summary = ingest_paths(con, [str(parent), str(sub)])
    assert [(f.read, f.loaded, f.duplicates) for f in summary.files] == [(2, 2, 0), (1, 0, 1)]
    rows = priced(con)
    # Haiku 4.5: 10*1 + 70*5 = 10 + 350 = 360 -> 0.00036
    assert near(rows["m-sub:r-sub"]["cost_usd"], "0.00036")


def test_live_session_read_mid_stream_is_completed_later(con: Any, tmp_path: Path) -> None:
    path = write(tmp_path / "projects" / "p" / "s.jsonl", [line("m1", "r1", 5)])
    ingest_paths(con, [str(path)])
    # the response goes on streaming: the file grows with the complete copy and a new message
    write(path, [line("m1", "r1", 5), line("m1", "r1", 480), line("m2", "r2", 7)])
    f = ingest_paths(con, [str(path)]).files[0]
    # 3 copies read: m2 is new; m1's copies are duplicates, the stored m1 takes the 480
    assert (f.read, f.loaded, f.duplicates) == (3, 1, 2)
    rows = priced(con)
    assert rows["m1:r1"]["output_tokens"] == 480
    # Sonnet 4: 10*3 + 480*15 = 30 + 7200 = 7230 -> 0.00723
    assert near(rows["m1:r1"]["cost_usd"], "0.00723")


def test_generated_tree_matches_its_independent_totals(con: Any, tmp_path: Path) -> None:
    # benchmarks/claude_code_tree.py prices the unique messages itself (Decimal, its own rate
    # table); the tree has streaming copies, resumed sessions, replays and <synthetic> lines
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "claude_code_tree",
        Path(__file__).resolve().parents[1] / "benchmarks" / "claude_code_tree.py",
    )
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    # seed 5 at 0.5 MiB: 4 files, one of them a subagent transcript with replays
    expected = gen.generate(tmp_path / "tree", mb=0.5, seed=5)
    assert expected["files"] == 4
    ingest_paths(con, [str(tmp_path / "tree" / "projects")])
    pricing.install(con, pricing.load())
    got = con.execute(
        """SELECT count(*), sum(input_tokens - cache_read_tokens - cache_write_tokens - cache_write_1h_tokens),
                  sum(output_tokens), sum(cache_write_tokens + cache_write_1h_tokens), sum(cache_read_tokens),
                  sum(cost_usd) FROM priced"""
    ).fetchone()
    assert got[:5] == (
        expected["requests"],
        expected["input_tokens"],
        expected["output_tokens"],
        expected["cache_creation_tokens"],
        expected["cache_read_tokens"],
    )
    assert near(got[5], expected["cost_usd"])


# ---------------------------------------------------------------- a group of files decided at once


def table(con: Any) -> list[tuple[Any, ...]]:
    return con.execute(
        """SELECT request_id, ts, model, feature, task_id, status, input_tokens, cache_read_tokens,
                  cache_write_tokens, cache_write_1h_tokens, output_tokens, logged_cost_usd,
                  CAST(attrs AS VARCHAR) FROM requests ORDER BY request_id"""
    ).fetchall()


def test_group_and_file_by_file_agree(
    con: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the fixture tree plus the generated one, loaded as one group, then each file on its own
    import llmcost.ingest as ingest
    from llmcost.store import connect

    shutil.copytree(TREE, tmp_path / "t")
    grouped = ingest_paths(con, [str(tmp_path / "t")])
    alone_con = connect(tmp_path / "alone.duckdb")
    monkeypatch.setattr(ingest, "GROUP_FILE_BYTES", -1)  # no file is small enough for a group
    alone = ingest_paths(alone_con, [str(tmp_path / "t")])
    assert [f.as_json() for f in alone.files] == [f.as_json() for f in grouped.files]
    assert table(alone_con) == table(con)
    alone_con.close()


def test_copy_completed_by_a_later_file_of_the_group(con: Any, tmp_path: Path) -> None:
    # a.jsonl has the first streaming copy of m1 only; b.jsonl (a resumed session) the complete one
    a = write(tmp_path / "projects" / "p" / "a.jsonl", [line("m1", "r1", 5)])
    write(tmp_path / "projects" / "p" / "b.jsonl", [line("m1", "r1", 480), line("m1", "r1", 20)])
    summary = ingest_paths(con, [str(a.parent)])
    # b: 2 copies read, both duplicates (the larger one completes the row a loaded)
    assert [(f.read, f.loaded, f.duplicates) for f in summary.files] == [(1, 1, 0), (2, 0, 2)]
    assert con.execute("SELECT output_tokens, file_id FROM requests").fetchall() == [
        (480, con.execute("SELECT min(file_id) FROM files").fetchone()[0])
    ]


def test_replay_of_a_message_from_an_earlier_file(con: Any, tmp_path: Path) -> None:
    parent = write(tmp_path / "projects" / "p" / "s.jsonl", [line("m1", "r1", 40)])
    write(
        tmp_path / "projects" / "p" / "s" / "subagents" / "agent-1.jsonl",
        [line("m1", "r-replay", 40, side=True, cr=1000), line("m9", "r9", 3, side=True)],
    )
    summary = ingest_paths(con, [str(parent.parent)])
    assert [(f.read, f.loaded, f.duplicates) for f in summary.files] == [(1, 1, 0), (2, 1, 1)]
    assert [r[0] for r in table(con)] == ["m1:r1", "m9:r9"]


def test_strict_stops_the_group_at_the_failing_file(con: Any, tmp_path: Path) -> None:
    folder = tmp_path / "projects" / "p"
    write(folder / "a.jsonl", [line("m1", "r1", 5)])
    write(folder / "b.jsonl", [line("m2", "r2", 5), '{"message":{"usage":{"output_tokens":1}}}'])
    write(folder / "c.jsonl", [line("m3", "r3", 5)])
    summary = ingest_paths(con, [str(folder)], strict=True)
    assert [(f.loaded, f.rejected, f.strict_failed) for f in summary.files] == [
        (1, 0, False),
        (0, 1, True),
        (1, 0, False),
    ]
    assert [r[0] for r in table(con)] == ["m1:r1", "m3:r3"]
    assert con.execute("SELECT count(*) FROM rejects").fetchone() == (0,)


def test_same_content_twice_in_a_group_is_skipped(con: Any, tmp_path: Path) -> None:
    folder = tmp_path / "projects" / "p"
    write(folder / "a.jsonl", [line("m1", "r1", 5)])
    write(folder / "b.jsonl", [line("m1", "r1", 5)])
    summary = ingest_paths(con, [str(folder)])
    assert [(f.loaded, f.skipped) for f in summary.files] == [(1, False), (0, True)]
    assert con.execute("SELECT count(*) FROM files").fetchone() == (1,)


def test_what_a_line_may_hold(con: Any, tmp_path: Path) -> None:
    ok = json.loads(line("m1", "r1", 7, cr=100, cc=50))
    ok["message"]["usage"]["cache_read_input_tokens"] = (
        "100"  # a numeric string is read as a number
    )
    ok["costUSD"] = 0.25
    ok["isApiErrorMessage"] = True
    no_input = json.loads(line("m2", "r2", 7))
    del no_input["message"]["usage"]["input_tokens"]
    not_int = json.loads(line("m3", "r3", 7))
    not_int["message"]["usage"]["cache_read_input_tokens"] = "lots"
    no_ts = json.loads(line("m4", "r4", 7))
    del no_ts["timestamp"]
    bad_out = json.loads(line("m5", "r5", 7))
    bad_out["message"]["usage"]["output_tokens"] = 1.5
    path = tmp_path / "projects" / "p" / "s.jsonl"
    path.parent.mkdir(parents=True)
    # Windows line ends: the \r is not part of the line
    path.write_bytes(
        b"\r\n".join(json.dumps(r).encode() for r in (ok, no_input, not_int, no_ts, bad_out))
        + b"\r\n"
    )
    f = ingest_paths(con, [str(path)]).files[0]
    assert (f.read, f.loaded, f.rejected) == (5, 1, 4)
    assert con.execute("SELECT line_no, reason FROM rejects ORDER BY line_no").fetchall() == [
        (2, "message.usage has no input_tokens"),
        (3, "message.usage has a token count that is not an integer: lots"),
        (4, "missing timestamp"),
        (5, "output_tokens must be an integer, got 1.5"),
    ]
    assert not con.execute("SELECT raw FROM rejects").fetchone()[0].endswith("\r")
    row = table(con)[0]
    # all input = 10 + 100 read + 50 written; the logged cost is kept; an API error is status error
    assert row[5:12] == ("error", 160, 100, 50, 0, 7, 0.25)
    assert json.loads(row[12]) == {
        "message_id": "m1", "claude_request_id": "r1", "claude_session_id": "s",
    }  # fmt: skip


def test_a_group_commits_all_or_nothing(
    con: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the group dies after its rows are written, before its commit: nothing of it stays, and
    # the same ingest again loads exactly what an uninterrupted one does
    from llmcost.store import connect, writes

    folder = tmp_path / "projects" / "p"
    write(folder / "a.jsonl", [line("m1", "r1", 5), line("m1", "r1", 50)])
    write(folder / "b.jsonl", [line("m2", "r2", 7), '{"message": {"usage": broken'])
    write(folder / "c.jsonl", [line("m3", "r3", 9)])
    record = writes.record_files

    def dies(con_: Any, rows: list[Any]) -> None:
        record(con_, rows)
        raise KeyboardInterrupt

    monkeypatch.setattr(writes, "record_files", dies)
    with pytest.raises(KeyboardInterrupt):
        ingest_paths(con, [str(folder)])
    for name in ("requests", "rejects", "files"):
        assert con.execute(f"SELECT count(*) FROM {name}").fetchone() == (0,), name
    monkeypatch.setattr(writes, "record_files", record)
    again = ingest_paths(con, [str(folder)])
    clean_con = connect(tmp_path / "clean.duckdb")
    clean = ingest_paths(clean_con, [str(folder)])
    assert [f.as_json() for f in again.files] == [f.as_json() for f in clean.files]
    assert [(f.read, f.loaded, f.rejected, f.duplicates) for f in again.files] == [
        (2, 1, 0, 1),
        (2, 1, 1, 0),
        (1, 1, 0, 0),
    ]
    assert table(con) == table(clean_con)
    # each reject belongs to its own file, in the group's one transaction
    assert con.execute(
        "SELECT f.path, r.line_no FROM rejects r JOIN files f USING (file_id)"
    ).fetchall() == [(str((folder / "b.jsonl").resolve()), 2)]
    clean_con.close()


def test_completions_by_several_files_of_a_group(con: Any, tmp_path: Path) -> None:
    # one message in three files of one group: loaded from a, completed by b, then by c (the
    # last completion stands); d's smaller copy completes nothing
    folder = tmp_path / "projects" / "p"
    write(folder / "a.jsonl", [line("m1", "r1", 5)])
    write(folder / "b.jsonl", [line("m1", "r1", 100)])
    write(folder / "c.jsonl", [line("m1", "r1", 480), line("m2", "r2", 1)])
    write(folder / "d.jsonl", [line("m1", "r1", 200)])
    summary = ingest_paths(con, [str(folder)])
    assert [(f.read, f.loaded, f.duplicates) for f in summary.files] == [
        (1, 1, 0),
        (1, 0, 1),
        (2, 1, 1),
        (1, 0, 1),
    ]
    assert con.execute("SELECT request_id, output_tokens FROM requests ORDER BY 1").fetchall() == [
        ("m1:r1", 480),
        ("m2:r2", 1),
    ]
    assert con.execute("SELECT count(DISTINCT file_id) FROM requests").fetchone() == (2,)


def test_a_file_that_is_not_utf8_in_a_group(con: Any, tmp_path: Path) -> None:
    # b.jsonl has a byte that is not UTF-8 in a usage line: it is read line by line (shown
    # escaped, rejected as invalid JSON), beside files split whole
    folder = tmp_path / "projects" / "p"
    write(folder / "a.jsonl", [line("m1", "r1", 5)])
    b = folder / "b.jsonl"
    b.write_bytes(
        (line("m2", "r2", 7) + "\n").encode() + b'{"message": {"usage": "\xff"}}\n'
        + (line("m3", "r3", 9) + "\n").encode()
    )  # fmt: skip
    write(folder / "c.jsonl", ["{}", line("m4", "r4", 11)])
    summary = ingest_paths(con, [str(folder)])
    assert [(f.read, f.loaded, f.rejected) for f in summary.files] == [
        (1, 1, 0),
        (3, 2, 1),
        (1, 1, 0),
    ]
    assert con.execute("SELECT line_no, reason, raw FROM rejects").fetchall() == [
        (2, "invalid JSON", '{"message": {"usage": "\\xff"}}')
    ]
    assert con.execute("SELECT request_id, line_no FROM requests ORDER BY 1").fetchall() == [
        ("m1:r1", 1),
        ("m2:r2", 1),
        ("m3:r3", 3),
        ("m4:r4", 2),
    ]


def test_a_loaded_tree_is_skipped_without_reading_a_file(
    con: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llmcost.ingest as ingest

    shutil.copytree(TREE, tmp_path / "t")
    first = ingest_paths(con, [str(tmp_path / "t")])
    loaded = [f for f in first.files if not f.skipped]

    def no_reading(*args: Any) -> None:
        raise AssertionError("a loaded file was read again")

    monkeypatch.setattr(ingest, "detect", no_reading)
    monkeypatch.setattr(ingest, "read_head", no_reading)
    again = ingest_paths(con, [str(tmp_path / "t")])
    assert [(f.path, f.format, f.skipped, f.read) for f in again.files] == [
        (f.path, f.format, True, 0) for f in first.files
    ]
    assert loaded and con.execute("SELECT count(*) FROM files").fetchone() == (len(loaded),)


def test_a_small_tree_is_read_as_one_run(tmp_path: Path) -> None:
    import llmcost.ingest as ingest
    from llmcost.ingest.sources import Source

    def made(name: str, size: int) -> Source:
        path = tmp_path / name
        path.write_bytes(b"x" * size)
        return Source(name, path, None)

    small = [made(f"s{i}.jsonl", 1000) for i in range(3)]
    # 3 x 1,000 bytes fit in one run: the first run may hold everything
    assert ingest._first_run(small, 0) == ingest.GROUP_BYTES
    # more than one run holds: the first run stays short, so the next one is read beside it
    big = [*small, made("big.jsonl", 0)]
    os.truncate(tmp_path / "big.jsonl", ingest.GROUP_BYTES)  # sparse: 3,000 + 64 MB > 64 MB
    assert ingest._first_run(big, 0) == ingest.FIRST_GROUP_BYTES
    assert ingest._first_run(big, 3) == ingest.GROUP_BYTES  # exactly 64 MB from there
    assert ingest._first_run([*small, Source("-", None, None)], 0) == ingest.FIRST_GROUP_BYTES
    many = small * (ingest.GROUP_FILES // 3 + 1)  # 258 sources: more than one run's files
    assert ingest._first_run(many, 0) == ingest.FIRST_GROUP_BYTES
    assert ingest._first_run(many, len(many) - 3) == ingest.GROUP_BYTES
