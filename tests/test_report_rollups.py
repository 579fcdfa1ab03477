"""The report's persisted rollups: a report over every request reads them instead of the requests,
and gives the same JSON as reading the requests; any change to the requests or the prices rebuilds
them; a report they cannot answer (a window that leaves requests out, a --where) reads the requests.

Prices (bundled, USD per 1M tokens): claude-haiku-4-5 input 1, output 5; claude-sonnet-4-5 input 3,
output 15; mystery-1 has no price. Costs of the fixture, by hand:
  q1 haiku  1000 in + 200 out = 0.001 + 0.001 = 0.002   chat    u1 c1 task t1 step 1
  q2 haiku  3000 in           = 0.003                   chat    u1 c1 task t1 step 2
  q3 sonnet 1000 in + 1000 out = 0.003 + 0.015 = 0.018  search  u2 c2
  q4 sonnet 2000 in           = 0.006                   chat    u2 c2 task t2
  q5 mystery-1 500 in         = unpriced                search  u3 c2
  q6 haiku  4000 in           = 0.004 (November)        chat    u3 c2
chat: 0.002 + 0.003 + 0.006 + 0.004 = 0.015 over 4 requests; search: 0.018 (one of its 2 unpriced).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pytest import approx

from llmcost import metrics, pricing, query

HAIKU, SONNET = "claude-haiku-4-5", "claude-sonnet-4-5"


def _r(
    rid: str,
    ts: str,
    model: str,
    n_in: int,
    n_out: int,
    user: str,
    cust: str,
    feature: str,
    **kw: Any,
) -> Any:
    return {"request_id": rid, "timestamp": ts, "model": model, "input_tokens": n_in, "output_tokens": n_out,
            "user_id": user, "customer_id": cust, "feature": feature, **kw}  # fmt: skip


LOG = [
    _r("q1", "2026-10-01T10:00:00Z", HAIKU, 1000, 200, "u1", "c1", "chat", task_id="t1", step=1, latency_ms=100),
    _r("q2", "2026-10-01T10:01:00Z", HAIKU, 3000, 0, "u1", "c1", "chat", task_id="t1", step=2, latency_ms=300),
    _r("q3", "2026-10-02T09:00:00Z", SONNET, 1000, 1000, "u2", "c2", "search", latency_ms=200),
    _r("q4", "2026-10-03T09:00:00Z", SONNET, 2000, 0, "u2", "c2", "chat", task_id="t2", step=1, latency_ms=400),
    _r("q5", "2026-10-04T09:00:00Z", "mystery-1", 500, 0, "u3", "c2", "search"),
    _r("q6", "2026-11-05T09:00:00Z", HAIKU, 4000, 0, "u3", "c2", "chat", latency_ms=50),
]  # fmt: skip
REVENUE = (
    "customer_id,month,revenue_usd,plan\nc1,2026-10,10,pro\nc2,2026-10,4,free\nc2,2026-11,4,free\n"
)
GENERATED = datetime(2026, 11, 22, 10)


@pytest.fixture(scope="module")
def prices() -> pricing.PriceTable:
    return pricing.load()


def ingest(
    con: Any, tmp_path: Path, records: list[dict[str, Any]], name: str, revenue: str | None = None
) -> None:
    from llmcost.ingest import ingest_paths

    folder = tmp_path / name
    folder.mkdir()
    (folder / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    paths = [str(folder / "log.jsonl")]
    if revenue is not None:
        (folder / "revenue.csv").write_text(revenue)
        paths.append(str(folder / "revenue.csv"))
    ingest_paths(con, paths)


def report(con: Any, prices: pricing.PriceTable, **kw: Any) -> dict[str, Any]:
    kw.setdefault("window", query.Window())
    kw.setdefault("by", [])
    doc = metrics.report(con, prices, generated_at=GENERATED, **kw).to_json()
    # Decimal and datetime as text: compared exactly
    return json.loads(json.dumps(doc, default=str))


def rows_by(doc: dict[str, Any], key: str) -> dict[str, Any]:
    return {r[key]: r for r in doc["rows"]}


def built(con: Any) -> set[str]:
    return {r[0] for r in con.execute("SELECT name FROM report_rollups").fetchall()}


def no_scans(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every query that reads the requests fails from now on: a report must come from the rollups."""
    broken = "SELECT error('the requests were read')"
    for name in ("MATERIALISE", "FINE", "TASKS", "GROUP_Q", "GROUP_T"):
        monkeypatch.setattr(metrics, name, broken)


@pytest.fixture
def con_log(con: Any, tmp_path: Path) -> Any:
    ingest(con, tmp_path, LOG, "first", REVENUE)
    return con


def test_second_report_reads_the_rollups_and_gives_the_same_json(
    con_log: Any, prices: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = report(con_log, prices, by=["feature"])
    assert {"fine", "tasks:all", "group:feature"} <= built(con_log)
    rows = rows_by(first, "feature")
    assert float(rows["chat"]["cost_usd"]) == approx(0.015) and rows["chat"]["requests"] == 4
    assert float(rows["search"]["cost_usd"]) == approx(0.018) and rows["search"]["unpriced"] == 1
    # chat request costs sorted .002 .003 .004 .006: p50 = .003 + (.004 - .003) x 0.5 (linear interpolation)
    assert rows["chat"]["p50_request_usd"] == approx(0.0035)
    # chat latencies 50 100 300 400: p50 = 100 + (300 - 100) x 0.5
    assert rows["chat"]["latency_p50_ms"] == approx(200)
    # tasks: chat t1, t2 and q6 alone = 3; search q3 and q5 alone = 2
    assert rows["chat"]["tasks"] == 3 and rows["search"]["tasks"] == 2
    no_scans(monkeypatch)
    second = report(con_log, prices, by=["feature"])
    assert second == first
    # a new connection (a new process) reads them too
    from llmcost.store import connect

    path = con_log.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()[0]
    con_log.close()
    other = connect(path)
    try:
        assert report(other, prices, by=["feature"]) == first
    finally:
        other.close()


def test_new_lines_change_the_report(con_log: Any, prices: Any, tmp_path: Path) -> None:
    before = report(con_log, prices, by=["feature"])
    assert before["totals"]["requests"] == 6
    assert float(before["totals"]["cost_usd"]) == approx(0.033)
    # q7 sonnet 1000 in = 0.003, chat: chat 0.015 + 0.003 = 0.018 over 5 requests; total 0.036
    ingest(
        con_log,
        tmp_path,
        [_r("q7", "2026-11-06T09:00:00Z", SONNET, 1000, 0, "u4", "c3", "chat")],
        "second",
    )
    after = report(con_log, prices, by=["feature"])
    chat = rows_by(after, "feature")["chat"]
    assert chat["requests"] == 5 and float(chat["cost_usd"]) == approx(0.018) and chat["tasks"] == 4
    assert after["totals"]["requests"] == 7 and float(after["totals"]["cost_usd"]) == approx(0.036)
    assert after["totals"]["users"] == 4  # u4 is new


def test_rows_written_without_a_files_row_are_seen(con_log: Any, prices: Any) -> None:
    report(con_log, prices, by=["feature"])
    # A copy of q1 (0.002, chat) under a new id, written straight into the table: the request count changes.
    con_log.execute(
        "INSERT INTO requests SELECT * REPLACE ('q1b' AS request_id) FROM requests WHERE request_id = 'q1'"
    )
    chat = rows_by(report(con_log, prices, by=["feature"]), "feature")["chat"]
    assert chat["requests"] == 5 and float(chat["cost_usd"]) == approx(0.017)  # 0.015 + 0.002


def test_another_price_set_reprices(run_cli: Any, jsonl: Any, tmp_path: Path) -> None:
    path = jsonl(LOG)
    assert run_cli("ingest", str(path), "--quiet")[0] == 0

    def chat_cost(*pricing_args: str) -> tuple[float, str]:
        code, out, err = run_cli(*pricing_args, "report", "--by", "feature", "-f", "json")
        assert code == 0, err
        doc = json.loads(out)
        return float(rows_by(doc, "feature")["chat"]["cost_usd"]), doc["pricing"]["sha256"]

    bundled, sha = chat_cost()
    assert bundled == approx(0.015)
    # Negotiated haiku at twice the list price from 2026-01-01: q1 0.004, q2 0.006, q6 0.008; q4 (sonnet) 0.006
    (tmp_path / "mine.toml").write_text(
        'provider = "anthropic"\n[[models]]\nid = "claude-haiku-4-5"\n'
        "[[models.prices]]\neffective_from = 2026-01-01\ninput = 2.00\noutput = 10.00\n"
    )
    overlay, sha2 = chat_cost("--pricing", "mine.toml")
    assert overlay == approx(0.004 + 0.006 + 0.006 + 0.008) and sha2 != sha
    # and back: the bundled prices again, not the overlay's rollups
    assert chat_cost() == (bundled, sha)
    # the overlay file edited in place: its content hash changes, so does the cost (haiku x3: 0.006 0.009 0.012)
    (tmp_path / "mine.toml").write_text(
        (tmp_path / "mine.toml").read_text().replace("2.00", "3.00").replace("10.00", "15.00")
    )
    assert chat_cost("--pricing", "mine.toml")[0] == approx(0.006 + 0.009 + 0.006 + 0.012)


CASES = [[], ["feature"], ["user"], ["customer"], ["customer_id"], ["model"], ["tier"], ["plan"], ["month"],
         ["feature", "model"], ["month", "user_id"]]  # fmt: skip


@pytest.mark.parametrize("allocate", ["requests", "cost", "equal"])
def test_fallback_equals_fast_path(
    con_log: Any, prices: Any, allocate: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast_cold = {i: report(con_log, prices, by=by, allocate=allocate) for i, by in enumerate(CASES)}
    assert {"fine", "tasks:all", "tasks:feature", "group:feature", "group:user", "group:customer",
            "group:feature,model", "group:month,user"} <= built(con_log)  # fmt: skip
    fast_warm = {i: report(con_log, prices, by=by, allocate=allocate) for i, by in enumerate(CASES)}
    monkeypatch.setattr(metrics, "_rollups_for", lambda *a: None)
    slow = {i: report(con_log, prices, by=by, allocate=allocate) for i, by in enumerate(CASES)}
    for i, by in enumerate(CASES):
        assert fast_cold[i] == slow[i], by
        assert fast_warm[i] == slow[i], by
    # the summary's hand-checked figures: 0.033 of cost, revenue 10 + 4 + 4 = 18
    totals = slow[0]["totals"]
    assert float(totals["cost_usd"]) == approx(0.033) and totals["revenue_usd"] == approx(18)


def test_reports_the_rollups_cannot_answer_read_the_requests(
    con_log: Any, prices: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    report(con_log, prices, by=["feature"])  # rollups over all six requests
    october = query.Window(datetime(2026, 10, 1), datetime(2026, 11, 1))
    cases: list[dict[str, Any]] = [
        {"by": ["feature"], "window": october},  # leaves q6 out
        {"by": ["feature"], "where": query.parse_where(["customer=c2"])},
        {"by": ["status"]},  # not a column of the rollups
        {"by": []},
    ]
    fast = [report(con_log, prices, **kw) for kw in cases]
    monkeypatch.setattr(metrics, "_rollups_for", lambda *a: None)
    assert [report(con_log, prices, **kw) for kw in cases] == fast
    # October without q6: chat 0.002 + 0.003 + 0.006 = 0.011
    assert float(rows_by(fast[0], "feature")["chat"]["cost_usd"]) == approx(0.011)
    # customer c2: q3 search 0.018; q4 0.006 + q6 0.004 chat
    where = rows_by(fast[1], "feature")
    assert float(where["chat"]["cost_usd"]) == approx(0.010)
    assert float(where["search"]["cost_usd"]) == approx(0.018)
    assert rows_by(fast[2], "status")["ok"]["requests"] == 6


def test_a_read_only_database_reports_without_writing(tmp_path: Path, prices: Any) -> None:
    import duckdb

    from llmcost.store import connect

    con = connect(tmp_path / "ro.duckdb")
    ingest(con, tmp_path, LOG, "first", REVENUE)
    con.close()
    ro = duckdb.connect(str(tmp_path / "ro.duckdb"), read_only=True)
    ro.execute("SET TimeZone = 'UTC'")
    doc = report(ro, prices, by=["user"])
    assert built(ro) == set()  # nothing could be kept
    ro.close()
    rw = connect(tmp_path / "ro.duckdb")
    assert report(rw, prices, by=["user"]) == doc
    # u1: q1 + q2 = 0.005; u2: q3 + q4 = 0.024; u3: q6 = 0.004 (q5 unpriced)
    users = rows_by(doc, "user")
    assert [float(users[u]["cost_usd"]) for u in ("u1", "u2", "u3")] == approx(
        [0.005, 0.024, 0.004]
    )
    rw.close()


def test_a_store_without_the_rollup_tables_reads_the_requests(con_log: Any, prices: Any) -> None:
    expected = report(con_log, prices, by=["feature"])
    for table in ("report_rollups", "rollup_fine", "rollup_groups", "rollup_tasks"):
        con_log.execute(
            f"DROP TABLE {table}"
        )  # as in a database opened without llmcost's migrations
    assert report(con_log, prices, by=["feature"]) == expected


def test_one_version_is_kept(con_log: Any, prices: Any, tmp_path: Path) -> None:
    report(con_log, prices, by=["user"])
    report(con_log, prices, by=["feature"])
    ingest(
        con_log,
        tmp_path,
        [_r("q7", "2026-11-06T09:00:00Z", SONNET, 1000, 0, "u4", "c3", "chat")],
        "second",
    )
    report(con_log, prices, by=["feature"])
    # the user rollup of the old data is gone with it; the feature one was rebuilt for the new data
    assert con_log.execute("SELECT DISTINCT dims FROM rollup_groups").fetchall() == [("feature",)]
    assert built(con_log) == {"fine", "tasks:all", "group:feature"}
    # 7 requests: every one is in the fine rollup
    assert con_log.execute("SELECT sum(n_requests) FROM rollup_fine").fetchone()[0] == 7


# Three months: September before the summary's default window, October its previous period,
# November its month (the clock is past November). Task t2 spans September and October.
LOG_MONTHS = [
    *LOG,
    _r("s1", "2026-09-20T09:00:00Z", HAIKU, 2000, 0, "u1", "c1", "chat", latency_ms=80),
    _r("s2", "2026-09-30T23:59:00Z", SONNET, 1000, 0, "u2", "c2", "chat", task_id="t2", step=0),
    _r("n1", "2026-11-06T09:00:00Z", SONNET, 1000, 200, "u1", "c1", "search", task_id="t3", step=1),
    _r("n2", "2026-11-06T09:05:00Z", SONNET, 3000, 0, "u1", "c1", "search", task_id="t3", step=2),
]  # fmt: skip
REVENUE_MONTHS = REVENUE + "c1,2026-11,6,pro\nc1,2026-09,3,pro\n"


def json_text(con: Any, prices: pricing.PriceTable, **kw: Any) -> str:
    from llmcost import render

    kw.setdefault("by", [])
    if "window" not in kw:  # as the command line: the summary's default window
        kw["window"] = query.report_window(con, kw["by"], query.Window())[0]
    return render.json_document(metrics.report(con, prices, generated_at=GENERATED, **kw))


def test_a_window_of_whole_months_reads_the_rollups_and_gives_the_same_json(
    con: Any, tmp_path: Path, prices: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest(con, tmp_path, LOG_MONTHS, "months", REVENUE_MONTHS)
    with monkeypatch.context() as m:  # the requests, no rollup: the reference
        m.setattr(metrics, "_rollups_for", lambda *a: None)
        summary = json_text(con, prices)
        by_user = json_text(
            con,
            prices,
            by=["user"],
            window=query.Window(datetime(2026, 10, 1), datetime(2026, 12, 1)),
        )
        assert built(con) == set()
    doc = json.loads(summary)
    assert doc["window"]["since"].startswith("2026-11-01") and doc["previous_window"][
        "since"
    ].startswith("2026-10-01")
    # November: q6 0.004, n1 0.003 + 0.003, n2 0.009 = 0.019 over 3 requests and 2 tasks (q6, t3)
    assert float(doc["totals"]["cost_usd"]) == approx(0.019) and doc["totals"]["requests"] == 3
    assert doc["totals"]["tasks"] == 2
    report(con, prices, by=["feature"])  # rollup_fine over every request
    assert json_text(con, prices) == summary  # keeps the window's task table and group statistics
    assert {"tasks:feature@2026-10/2026-11/2026-12", "tasks:prev@2026-10/2026-11/2026-12",
            "group:user@2026-10/2026-11/2026-12"} <= built(con)  # fmt: skip
    no_scans(monkeypatch)
    assert json_text(con, prices) == summary
    # a --by over whole months: from rollup_fine filtered by month, its statistics kept too (the
    # second time with no scan of the requests)
    monkeypatch.undo()
    months = query.Window(datetime(2026, 10, 1), datetime(2026, 12, 1))
    assert json_text(con, prices, by=["user"], window=months) == by_user
    no_scans(monkeypatch)
    assert json_text(con, prices, by=["user"], window=months) == by_user


def test_ingest_refresh_keeps_the_summary_window(
    con: Any, tmp_path: Path, prices: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest(con, tmp_path, LOG_MONTHS[:-1], "months", REVENUE_MONTHS)
    report(con, prices, by=["feature"])  # the store now holds rollups
    ingest(con, tmp_path, LOG_MONTHS[-1:], "last")
    built_now = metrics.refresh_rollups(con, prices)  # as `llmcost ingest` ends
    key = "@2026-10/2026-11/2026-12"
    assert built_now == [
        "fine", *(f"group:{d}" for d in metrics.INGEST_GROUPS), "tasks:feature", "tasks:all",
        f"group:feature{key}", f"group:user{key}", f"group:customer{key}", f"tasks:feature{key}", f"tasks:prev{key}",
    ]  # fmt: skip
    assert "tasks:feature@2026-10/2026-11/2026-12" in built(con)
    assert metrics.refresh_rollups(con, prices) == []  # all still valid
    with monkeypatch.context() as m:
        m.setattr(metrics, "_rollups_for", lambda *a: None)
        summary = json_text(con, prices)
    no_scans(monkeypatch)
    assert json_text(con, prices) == summary
