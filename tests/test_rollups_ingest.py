"""Rollups kept current at ingest (metrics.refresh_rollups): the new requests are added to them, and
every report read from them is byte for byte the report computed from the requests with no rollup.

Prices (bundled, USD per 1M tokens): claude-haiku-4-5 input 1, output 5; claude-sonnet-4-5 input 3,
output 15; mystery-1 has no price. The ingests, with each request's cost by hand:
  A  a1 2026-09-10 haiku  1000 in              0.001  chat       u1 c1  task t1 step 1
     a2 2026-09-11 haiku  2000 in              0.002  chat       u1 c1  task t1 step 2
     a3 2026-10-05 sonnet 1000 in              0.003  search     u2 c2  task t5 step 2
     a4 2026-10-06 haiku  1000 in + 200 out    0.002  search     u3 c2
     a5 2026-10-07 mystery-1 500 in            unpriced chat     u3 c2
  B  b1 2026-10-20 haiku  3000 in              0.003  chat       u1 c1  task t1 step 3 (t1 spans A and B)
     b2 2026-10-04 sonnet 2000 in              0.006  chat       u2 c2  task t5 step 1 (t5's first step, later)
     b3 2026-11-03 haiku  4000 in              0.004  summarize  u4 c3
     b4 2026-11-04 sonnet 1000 in + 1000 out   0.018  search     u1 c1
     b5 2026-10-08 haiku  1000 in              0.001  search     u3 c2  (a4's rollup row: added to it)
  C  c1 2026-11-20 haiku  1000 in              0.001  chat       u2 c2  task t6 step 1
     c2 2026-12-02 haiku  1000 in              0.001  chat       u2 c2  task t6 step 2 (December)
  D  d1 2027-01-03 sonnet 1000 in              0.003  chat       u5 c3  (January: December is over)
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pytest import approx

from llmcost import metrics, pricing, query, render

HAIKU, SONNET = "claude-haiku-4-5", "claude-sonnet-4-5"
GENERATED = datetime(2026, 12, 10, 10)


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


A = [
    _r("a1", "2026-09-10T09:00:00Z", HAIKU, 1000, 0, "u1", "c1", "chat", task_id="t1", step=1, latency_ms=100),
    _r("a2", "2026-09-11T09:00:00Z", HAIKU, 2000, 0, "u1", "c1", "chat", task_id="t1", step=2, latency_ms=300),
    _r("a3", "2026-10-05T09:00:00Z", SONNET, 1000, 0, "u2", "c2", "search", task_id="t5", step=2, latency_ms=200),
    _r("a4", "2026-10-06T09:00:00Z", HAIKU, 1000, 200, "u3", "c2", "search", latency_ms=50, cost_usd=0.0025),
    _r("a5", "2026-10-07T09:00:00Z", "mystery-1", 500, 0, "u3", "c2", "chat"),
]  # fmt: skip
B = [
    _r("b1", "2026-10-20T09:00:00Z", HAIKU, 3000, 0, "u1", "c1", "chat", task_id="t1", step=3, latency_ms=400),
    _r("b2", "2026-10-04T09:00:00Z", SONNET, 2000, 0, "u2", "c2", "chat", task_id="t5", step=1, latency_ms=250),
    _r("b3", "2026-11-03T09:00:00Z", HAIKU, 4000, 0, "u4", "c3", "summarize", latency_ms=120),
    _r("b4", "2026-11-04T09:00:00Z", SONNET, 1000, 1000, "u1", "c1", "search", latency_ms=900),
    _r("b5", "2026-10-08T09:00:00Z", HAIKU, 1000, 0, "u3", "c2", "search", latency_ms=60, cost_usd=0.0011),
]  # fmt: skip
C = [
    _r("c1", "2026-11-20T09:00:00Z", HAIKU, 1000, 0, "u2", "c2", "chat", task_id="t6", step=1),
    _r("c2", "2026-12-02T09:00:00Z", HAIKU, 1000, 0, "u2", "c2", "chat", task_id="t6", step=2),
]  # fmt: skip
D = [_r("d1", "2027-01-03T09:00:00Z", SONNET, 1000, 0, "u5", "c3", "chat")]
REVENUE = (
    "customer_id,month,revenue_usd,plan\nc1,2026-09,5,pro\nc1,2026-10,10,pro\nc2,2026-10,4,free\n"
)
REVENUE_LATER = (
    "customer_id,month,revenue_usd,plan\nc1,2026-11,6,pro\nc3,2026-11,2,team\nc2,2026-12,3,free\n"
)

SHAPES: list[dict[str, Any]] = [
    {"by": []}, {"by": ["feature"]}, {"by": ["user"]}, {"by": ["customer"]}, {"by": ["customer", "month"]},
    {"by": ["model"], "allocate": "cost"}, {"by": ["month", "user_id"]}, {"by": ["plan"]},
    {"by": ["feature"], "allocate": "equal"},
]  # fmt: skip
ALL_MONTHS = query.Window(datetime(2026, 9, 1), datetime(2027, 2, 1))


@pytest.fixture(scope="module")
def prices() -> pricing.PriceTable:
    return pricing.load()


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMCOST_NOW", "2026-12-10T10:00:00Z")  # November is the last full month


def ingest(
    con: Any, tmp_path: Path, records: list[dict[str, Any]], name: str, revenue: str | None = None
) -> None:
    from llmcost.ingest import ingest_paths

    folder = tmp_path / name
    folder.mkdir()
    paths = []
    if records:
        (folder / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        paths.append(str(folder / "log.jsonl"))
    if revenue is not None:
        (folder / "revenue.csv").write_text(revenue)
        paths.append(str(folder / "revenue.csv"))
    ingest_paths(con, paths)


def text(con: Any, prices: pricing.PriceTable, shape: dict[str, Any], **kw: Any) -> str:
    """The report's JSON as `llmcost report -f json` writes it (the summary in its default window)."""
    kw = {**shape, **kw}
    if "window" not in kw:
        kw["window"] = query.report_window(con, kw["by"], query.Window())[0]
    return render.json_document(metrics.report(con, prices, generated_at=GENERATED, **kw))


def scratch(
    con: Any, prices: pricing.PriceTable, monkeypatch: pytest.MonkeyPatch, **kw: Any
) -> list[str]:
    """Every shape computed from the requests, no rollup read or written."""
    with monkeypatch.context() as m:
        m.setattr(metrics, "_rollups_for", lambda *a: None)
        return [text(con, prices, shape, **kw) for shape in SHAPES]


def from_rollups(
    con: Any, prices: pricing.PriceTable, monkeypatch: pytest.MonkeyPatch, shapes: int = len(SHAPES)
) -> list[str]:
    """The shapes with each query that reads the requests replaced by an error: from the rollups only."""
    with monkeypatch.context() as m:
        for name in ("MATERIALISE", "FINE", "TASKS", "GROUP_Q", "GROUP_T"):
            m.setattr(metrics, name, "SELECT error('the requests were read')")
        return [text(con, prices, shape) for shape in SHAPES[:shapes]]


def names(con: Any) -> set[str]:
    return {r[0] for r in con.execute("SELECT name FROM report_rollups").fetchall()}


def new_rows_summed(con: Any) -> int:
    """How many requests the refresh's last FINE scan summed (its lc_fine is left in the session)."""
    return int(con.execute("SELECT sum(n_requests) FROM lc_fine").fetchone()[0])


def check(
    con: Any, prices: pricing.PriceTable, monkeypatch: pytest.MonkeyPatch, shapes: int = len(SHAPES)
) -> list[str]:
    """The first SHAPES shapes from the rollups alone equal to those from the requests; the rest too."""
    expected = scratch(con, prices, monkeypatch)
    assert from_rollups(con, prices, monkeypatch, shapes=shapes) == expected[:shapes]
    assert [text(con, prices, shape) for shape in SHAPES] == expected
    return expected


@pytest.fixture
def con_a(con: Any, tmp_path: Path, prices: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Ingest A, then every shape reported once: the store holds their rollups."""
    ingest(con, tmp_path, A, "a", REVENUE)
    for shape in SHAPES:
        text(con, prices, shape)
    # the task tables over every request, which no report asked for yet, and nothing else
    assert metrics.refresh_rollups(con, prices) == ["tasks:feature", "tasks:all"]
    return con


# 1: the touched groups alone are recomputed whenever they are not more than the stored ones; a
# billion: never (every group of a rollup a new row touches is recomputed)
@pytest.mark.parametrize("share", [1, 10**9])
def test_several_ingests_each_added_to_the_rollups(
    con_a: Any, tmp_path: Path, prices: Any, monkeypatch: pytest.MonkeyPatch, share: int
) -> None:
    con = con_a
    monkeypatch.setattr(metrics, "TOUCHED_SHARE", share)
    assert metrics.refresh_rollups(con, prices) == []  # every rollup valid
    ingest(con, tmp_path, B, "b")
    written = metrics.refresh_rollups(con, lambda: prices)  # as `llmcost ingest` passes them
    assert new_rows_summed(con) == 5  # B's rows only, added to A's sums
    # one row per key: 10 requests in 8 (a1 and a2 share one; b5 was added to a4's)
    keys = ", ".join(metrics.FINE_KEYS)
    assert con.execute(
        f"SELECT count(*), count(DISTINCT ({keys})) FROM rollup_fine"
    ).fetchone() == (8, 8)
    assert {
        "fine",
        "group:feature",
        "group:user",
        "group:month,user",
        "tasks:all",
        "tasks:feature",
    } <= set(written)
    docs = check(con, prices, monkeypatch)
    feature = {r["feature"]: r for r in json.loads(docs[1])["rows"]}
    # chat: a1 .001 + a2 .002 + b1 .003 + b2 .006 (a5 unpriced) over 5 requests; tasks t1, t5, a5 alone
    assert float(feature["chat"]["cost_usd"]) == approx(0.012) and feature["chat"]["requests"] == 5
    assert feature["chat"]["tasks"] == 3 and feature["chat"]["unpriced"] == 1
    # search: a3 .003 + a4 .002 + b4 .018 + b5 .001; tasks t5 (a3), a4, b4 and b5 alone
    assert float(feature["search"]["cost_usd"]) == approx(0.024) and feature["search"]["tasks"] == 4
    # a4 and b5 share a rollup row: its logged cost .0025 + .0011, computed .002 + .001
    drift = json.loads(docs[1])["coverage"]["logged_cost"]
    assert drift["requests"] == 2 and drift["logged_usd"] == approx(0.0036)
    assert float(drift["computed_usd"]) == approx(0.003)
    # chat latencies 100 250 300 400 (a5 has none): p50 = 250 + (300 - 250) x 0.5
    assert feature["chat"]["latency_p50_ms"] == approx(275)
    summary = json.loads(docs[0])  # November (October before it)
    assert summary["window"]["since"].startswith("2026-11-01")
    # November: b3 .004 + b4 .018; October: a3 .003 + a4 .002 + b1 .003 + b2 .006 + b5 .001 (a5 unpriced)
    assert float(summary["totals"]["cost_usd"]) == approx(0.022)
    october = {m["name"]: m for m in summary["summary"]["metrics"]}["total_cost_usd"]["previous"]
    assert float(october) == approx(0.015)

    # the task table over every month: t5's first step (b2, chat) came with B, so t5 is chat's now
    whole = text(con, prices, {"by": []}, window=ALL_MONTHS)
    with monkeypatch.context() as m:
        m.setattr(metrics, "_rollups_for", lambda *a: None)
        assert text(con, prices, {"by": []}, window=ALL_MONTHS) == whole
    tasks = {t["feature"]: t for t in json.loads(whole)["tasks"]}
    # chat: t1 (a1 a2 b1: .006, 3 steps), t5 (b2 a3: .009, 2 steps), a5 (1 step, unpriced)
    assert tasks["chat"]["tasks"] == 3 and float(tasks["chat"]["cost_usd"]) == approx(0.015)
    assert tasks["chat"]["mean_steps"] == approx(2.0)
    # search: a4, b4 and b5 alone: .002 + .018 + .001
    assert tasks["search"]["tasks"] == 3 and float(tasks["search"]["cost_usd"]) == approx(0.021)
    assert tasks["(all)"]["tasks"] == 7

    ingest(con, tmp_path, C, "c")  # a task across November and December, in December's first days
    metrics.refresh_rollups(con, prices)
    assert new_rows_summed(con) == 2
    docs = check(con, prices, monkeypatch)
    assert float(json.loads(docs[0])["totals"]["cost_usd"]) == approx(0.023)  # November + c1 .001


@pytest.mark.parametrize("share", [1, 10**9])
def test_a_new_month_moves_the_summary_window(
    con_a: Any, tmp_path: Path, prices: Any, monkeypatch: pytest.MonkeyPatch, share: int
) -> None:
    con = con_a
    monkeypatch.setattr(metrics, "TOUCHED_SHARE", share)
    for name, records in (("b", B), ("c", C)):
        ingest(con, tmp_path, records, name)
        metrics.refresh_rollups(con, prices)
    november = "@2026-10/2026-11/2026-12"
    assert f"tasks:feature{november}" in names(con)
    monkeypatch.setenv("LLMCOST_NOW", "2027-01-15T10:00:00Z")  # December is over
    ingest(con, tmp_path, D, "d", REVENUE_LATER)
    written = metrics.refresh_rollups(con, prices)
    december = "@2026-11/2026-12/2027-01"
    assert {f"tasks:feature{december}", f"tasks:prev{december}", f"group:user{december}"} <= set(
        written
    )
    assert f"tasks:feature{november}" in names(con)  # d1 is not in it: kept as it is
    docs = check(con, prices, monkeypatch)
    summary = json.loads(docs[0])
    assert summary["window"]["since"].startswith("2026-12-01")
    assert float(summary["totals"]["cost_usd"]) == approx(0.001)  # c2
    assert summary["totals"]["tasks"] == 1  # t6, of which December holds c2


def test_revenue_alone_keeps_every_rollup(
    con_a: Any, tmp_path: Path, prices: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    con = con_a
    before = con.execute("SELECT count(*) FROM rollup_fine").fetchone()[0]
    ingest(con, tmp_path, [], "rev", REVENUE_LATER)
    assert (
        metrics.refresh_rollups(con, prices) == []
    )  # no new request: every rollup kept, re-stamped
    assert con.execute("SELECT count(*) FROM rollup_fine").fetchone()[0] == before
    check(con, prices, monkeypatch)


def test_a_price_change_between_ingests_rebuilds_everything(
    con_a: Any, tmp_path: Path, prices: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    con = con_a
    ingest(con, tmp_path, B, "b")
    metrics.refresh_rollups(con, prices)
    # negotiated haiku at twice the list price
    (tmp_path / "mine.toml").write_text(
        'provider = "anthropic"\n[[models]]\nid = "claude-haiku-4-5"\n'
        "[[models.prices]]\neffective_from = 2026-01-01\ninput = 2.00\noutput = 10.00\n"
    )
    overlay = pricing.load([tmp_path / "mine.toml"])
    ingest(con, tmp_path, C, "c")
    written = metrics.refresh_rollups(con, overlay)
    assert new_rows_summed(con) == 12  # every request, repriced
    assert "fine" in written
    docs = check(con, overlay, monkeypatch)
    # November at the overlay: b3 .008 + b4 .018 + c1 .002
    assert float(json.loads(docs[0])["totals"]["cost_usd"]) == approx(0.028)
    # and back to the bundled prices: rebuilt again
    metrics.refresh_rollups(con, prices)
    assert new_rows_summed(con) == 12
    check(con, prices, monkeypatch)


def test_a_where_report_reads_the_requests(
    con_a: Any, tmp_path: Path, prices: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    con = con_a
    ingest(con, tmp_path, B, "b")
    metrics.refresh_rollups(con, prices)
    where = query.parse_where(["customer=c2"])
    expected = scratch(con, prices, monkeypatch, where=where, window=ALL_MONTHS)
    assert [
        text(con, prices, shape, where=where, window=ALL_MONTHS) for shape in SHAPES
    ] == expected
    feature = {r["feature"]: r for r in json.loads(expected[1])["rows"]}
    # c2: chat b2 .006 (a5 unpriced); search a3 .003 + a4 .002 + b5 .001
    assert float(feature["chat"]["cost_usd"]) == approx(0.006)
    assert float(feature["search"]["cost_usd"]) == approx(0.006)


def test_a_kill_between_the_data_and_the_rollups(
    con_a: Any, tmp_path: Path, prices: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmcost.store import connect

    con = con_a
    path = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()[0]
    valid = names(con)
    fine = con.execute("SELECT sum(n_requests), count(*) FROM rollup_fine").fetchone()
    # B committed, then the process dies in the refresh, before its commit
    ingest(con, tmp_path, B, "b")
    with monkeypatch.context() as m:

        def killed(self: Any, current: Any) -> None:
            raise KeyboardInterrupt

        m.setattr(metrics._Refresh, "stamp", killed)
        with pytest.raises(KeyboardInterrupt):
            metrics.refresh_rollups(con, prices)
    con.close()
    con = connect(path)  # the next process
    try:
        assert names(con) == valid  # the rollups of A, as they were
        assert con.execute("SELECT sum(n_requests), count(*) FROM rollup_fine").fetchone() == fine
        # C committed, its refresh never run (the process killed right after the data's commit)
        ingest(con, tmp_path, C, "c")
        metrics.refresh_rollups(con, prices)  # the next ingest's refresh adds B and C
        assert new_rows_summed(con) == 7
        check(con, prices, monkeypatch)
    finally:
        con.close()


def test_a_report_between_keeps_the_refresh_incremental(
    con: Any, tmp_path: Path, prices: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest(con, tmp_path, A, "a", REVENUE)
    ingest(con, tmp_path, B, "b")  # a refresh killed: the first report builds what it reads
    text(con, prices, {"by": ["feature"]})
    ingest(con, tmp_path, C, "c")
    metrics.refresh_rollups(con, prices)
    assert new_rows_summed(con) == 2  # fine from the report, C added to it
    check(
        con, prices, monkeypatch, shapes=5
    )  # the summary and INGEST_GROUPS: no report stored the others


def test_older_rows_changed_rebuild_everything(
    con_a: Any, tmp_path: Path, prices: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmcost.store.writes import forget_paths

    con = con_a
    ingest(con, tmp_path, B, "b")
    metrics.refresh_rollups(con, prices)
    forget_paths(con, [str(tmp_path / "a" / "log.jsonl")])  # A's requests gone
    ingest(con, tmp_path, C, "c")
    metrics.refresh_rollups(con, prices)
    assert new_rows_summed(con) == 7  # B and C: rebuilt from every request
    docs = check(con, prices, monkeypatch)
    feature = {r["feature"]: r for r in json.loads(docs[1])["rows"]}
    assert float(feature["chat"]["cost_usd"]) == approx(0.011)  # b1 .003 + b2 .006 + c1 + c2
    # a Claude Code file after the rollups' last one may complete older rows in place: rebuilt too
    ingest(con, tmp_path, D, "d")
    con.execute(
        "UPDATE files SET kind = 'claude_code' WHERE file_id = (SELECT max(file_id) FROM files)"
    )
    metrics.refresh_rollups(con, prices)
    assert new_rows_summed(con) == 8
    check(con, prices, monkeypatch)


def test_a_store_of_the_m003_schema_migrates(
    tmp_path: Path, prices: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmcost.store import connect

    path = tmp_path / "old.duckdb"
    con = connect(path)
    ingest(con, tmp_path, A, "a", REVENUE)
    expected = text(con, prices, {"by": ["feature"]})  # builds the rollups
    short = {"n_requests": "n", "cost_units": "u", "n_cost_units": "nu", "cost_exact": "cx",
             "n_cost_exact": "nx", "cost_units_logged": "lu", "n_cost_units_logged": "lnu",
             "cost_exact_logged": "lcx", "n_cost_exact_logged": "lnx"}  # fmt: skip
    # as m003 left it: rollup_fine under the short names, no rollup_versions, three migrations
    for long, old in short.items():
        con.execute(f"ALTER TABLE rollup_fine RENAME COLUMN {long} TO {old}")
    con.execute("DROP TABLE rollup_versions")
    con.execute("DELETE FROM schema_migrations WHERE id = 4")
    con.close()
    con = connect(path)  # migrates
    try:
        columns = [
            r[0]
            for r in con.execute("SELECT name FROM pragma_table_info('rollup_fine')").fetchall()
        ]
        assert columns == metrics.FINE_COLUMNS.split(", ")
        assert con.execute("SELECT max(id) FROM schema_migrations").fetchone()[0] == 4
        # the rollups built before stay valid, and are read under their new names
        assert {"fine", "tasks:all", "group:feature"} <= names(con)
        with monkeypatch.context() as m:
            for name in ("MATERIALISE", "FINE", "TASKS", "GROUP_Q", "GROUP_T"):
                m.setattr(metrics, name, "SELECT error('the requests were read')")
            assert text(con, prices, {"by": ["feature"]}) == expected
        # chat: a1 .001 + a2 .002 (a5 unpriced); search: a3 .003 + a4 .002 (as computed by hand above)
        rows = {r["feature"]: r for r in json.loads(expected)["rows"]}
        assert float(rows["chat"]["cost_usd"]) == approx(0.003)
        assert float(rows["search"]["cost_usd"]) == approx(0.005)
        # no record of the files they hold: the next ingest's refresh builds them from every request
        ingest(con, tmp_path, B, "b")
        metrics.refresh_rollups(con, prices)
        assert new_rows_summed(con) == 10
        check(con, prices, monkeypatch, shapes=5)
    finally:
        con.close()


def test_a_first_ingest_builds_none(
    con: Any, tmp_path: Path, prices: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest(con, tmp_path, A, "a", REVENUE)

    def no_prices() -> Any:
        raise AssertionError("a store without rollups needs no price table")

    assert metrics.refresh_rollups(con, no_prices) == []  # as `llmcost ingest` ends in a new store
    assert metrics.refresh_rollups(con, prices) == []
    assert names(con) == set()
    written = metrics.refresh_rollups(con, prices, build=True)  # what the benchmark times
    assert len(written) == 12 and new_rows_summed(con) == 5  # every rollup, from A's 5 requests
    check(con, prices, monkeypatch, shapes=5)
