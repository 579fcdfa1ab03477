"""Typed documents: a report's group rows are computed in SQL into polars frames and written as JSON
and CSV column by column. These tests hold that fast path to the plain computation it replaced —
the row-by-row Python formulas over the same SQL aggregates (`reference_rows` below), serialised
with json.dumps — bit for bit, on a random fixture; and the column writers to Python's own text."""

from __future__ import annotations

import json
import os
import random
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from llmcost import metrics, pricing, query, render, values
from llmcost.documents import OMIT, Column, Table, frame_dicts
from llmcost.metrics import _div, _margin, _num

HAIKU, SONNET = "claude-haiku-4-5", "claude-sonnet-4-5"
GENERATED = datetime(2026, 11, 22, 10)


# ---------------------------------------------------------------- the plain computation


def reference_rows(
    con: Any, names: list[str], keys: list[str], allocate: str | None, total_cost: Any,
    full_revenue: bool = False,
) -> list[dict[str, Any]]:  # fmt: skip
    """One dict per group from the aggregates of metrics._group_sql (over lc_rep), in Python."""
    cur = con.execute(
        metrics._group_sql(keys, allocate) + " ORDER BY " + metrics.group_order(names, keys)
    )
    cols = [c[0] for c in cur.description]
    rows = []
    for rec in cur.fetchall():
        r = dict(zip(cols, rec, strict=True))
        row: dict[str, Any] = {name: r[k] for name, k in zip(names, keys, strict=True)}
        q = r["q"] or [None, None, None]
        lat = r["lat_q"] or [None, None]
        row.update(
            requests=r["requests"], cost_usd=r["cost"],
            cost_per_request_usd=_div(r["cost"], r["priced_n"]),
            p50_request_usd=q[0], p90_request_usd=q[1], p99_request_usd=q[2],
            share_pct=_div(r["cost"], total_cost, 100) if r["cost"] is not None else None,
            output_input_ratio=_div(r["out_t"], r["in_t"]), latency_p50_ms=lat[0], latency_p90_ms=lat[1],
            users=r["users"], tasks=r["tasks"], cache_hit_pct=_div(r["hits"], r["requests"], 100),
            unpriced=r["requests"] - r["priced_n"],
        )  # fmt: skip
        _margin(row, r["revenue"] if allocate else None, r["cost"])
        rows.append(row)
    if full_revenue:  # a customer's whole revenue, and customers with revenue but no request
        full = dict(
            con.execute(
                "SELECT customer_id, sum(revenue) FROM lc_rev WHERE NOT prev GROUP BY ALL"
            ).fetchall()
        )
        seen = set()
        for row in rows:
            seen.add(row[names[0]])
            _margin(row, full.get(row[names[0]], 0.0), row["cost_usd"])
        for cust in sorted(k for k in full if k not in seen):
            extra: dict[str, Any] = {names[0]: cust, "requests": 0, "cost_usd": None, "unpriced": 0}
            _margin(extra, full[cust], None)
            rows.append(extra)
    return rows


def text(value: Any) -> str:
    """JSON text as the writer of the plain rows made it (floats by repr, Decimals as floats)."""
    return json.dumps(values.jsonable(value), indent=2, ensure_ascii=False)


# ---------------------------------------------------------------- a random fixture


def random_log(seed: int, n: int = 600) -> tuple[list[dict[str, Any]], str]:
    rnd = random.Random(seed)
    users = [f"u{i}" for i in range(40)] + [None]
    customers = [f"c{i}" for i in range(9)] + [None]
    features = ["chat", "search", "agent", "=formula", 'quote"d, comma', None]
    models = [HAIKU, SONNET, "mystery-1"]
    out = []
    for i in range(n):
        day = rnd.randrange(0, 75)
        ts = datetime(2026, 9, 1) + (datetime(2026, 9, 2) - datetime(2026, 9, 1)) * day
        rec: dict[str, Any] = {
            "request_id": f"r{i}",
            "timestamp": ts.replace(hour=rnd.randrange(24), minute=rnd.randrange(60)).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "model": rnd.choices(models, [6, 3, 1])[0],
            "input_tokens": rnd.randrange(1, 30_000),
            "output_tokens": rnd.randrange(0, 4_000),
            "latency_ms": rnd.randrange(20, 9_000),
            "status": rnd.choice(["ok", "ok", "ok", "error"]),
        }
        for key, pool in (("user_id", users), ("customer_id", customers), ("feature", features)):
            value = rnd.choice(pool)
            if value is not None:
                rec[key] = value
        if rnd.random() < 0.4:
            rec["task_id"], rec["step"] = f"t{rnd.randrange(80)}", rnd.randrange(1, 6)
        if rnd.random() < 0.1:
            rec["cache_hit"] = True
        out.append(rec)
    # c8 has revenue in a month it made no request; c99 has revenue and never made one
    revenue = "customer_id,month,revenue_usd,plan\n" + "".join(
        f"c{c},2026-{m:02d},{rnd.randrange(1, 4000) / 100},{'pro' if c % 2 else 'team'}\n"
        for c in range(9)
        for m in (9, 10, 11)
    )
    revenue += "c99,2026-10,12.5,pro\n"
    return out, revenue


@pytest.fixture(scope="module")
def prices() -> pricing.PriceTable:
    return pricing.load()


@pytest.fixture(params=[3, 11])
def con_random(request: Any, con: Any, tmp_path: Path) -> Any:
    from llmcost.ingest import ingest_paths

    log, revenue = random_log(request.param)
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    (tmp_path / "revenue.csv").write_text(revenue)
    ingest_paths(con, [str(tmp_path / "log.jsonl"), str(tmp_path / "revenue.csv")])
    return con


CASES = [
    (["feature"], "requests", {}),
    (["user"], "cost", {}),
    (["customer"], "requests", {}),
    (["customer"], "equal", {"since": datetime(2026, 10, 1), "until": datetime(2026, 11, 1)}),
    (["customer", "month"], "cost", {}),
    (["model"], "requests", {}),
    (["user"], "requests", {"where": ["feature=chat"]}),
    (["month", "user"], "equal", {}),
]


@pytest.mark.parametrize(("by", "allocate", "kw"), CASES)
def test_group_frame_equals_the_plain_rows(
    con_random: Any, prices: Any, by: list[str], allocate: str, kw: dict[str, Any]
) -> None:
    con = con_random
    window = query.Window(kw.get("since"), kw.get("until"))
    where = query.parse_where(kw.get("where"))
    result = metrics.report(
        con, prices, by=by, window=window, where=where, allocate=allocate, generated_at=GENERATED
    )
    if result.rows_sql is not None:
        result.rows_sql()  # lc_rep, which the plain rows read
    doc = result.to_json()
    keys = [f"d{i}" for i in range(len(by))]
    full = by == ["customer"] and not where
    alloc = allocate if doc["totals"]["revenue_usd"] is not None else None
    expected = reference_rows(con, by, keys, alloc, doc["totals"]["cost_usd"], full)
    assert len(expected) >= 3
    assert text(doc["rows"]) == text(expected)
    # the whole document: the column writer gives json.dumps's text, byte for byte
    assert render.json_document(result) == render.safe_text.json_text(text(doc)) + "\n"
    if full:  # c99: revenue, no request, only the fields such a row has
        c99 = next(r for r in doc["rows"] if r["customer"] == "c99")
        assert c99 == {
            "customer": "c99", "requests": 0, "cost_usd": None, "unpriced": 0,
            "revenue_usd": 12.5, "margin_usd": 12.5,
            "margin_pct": 100.0, "cost_pct_of_revenue": 0.0,
        }  # fmt: skip


def test_summary_lists_equal_the_plain_rows(con_random: Any, prices: Any) -> None:
    con = con_random
    result = metrics.report(con, prices, by=[], window=query.Window(), generated_at=GENERATED)
    if result.rows_sql is not None:
        result.rows_sql()
    doc = result.to_json()
    alloc = "requests"
    features = reference_rows(con, ["feature"], ["feature"], alloc, doc["totals"]["cost_usd"])
    assert text(doc["features"]) == text(features)
    users = reference_rows(con, ["user"], ["user_id"], alloc, None)
    threshold = doc["p90_users"]["threshold_usd"]
    owners = dict(
        con.execute("SELECT user_id, min(customer_id) FROM lc_um GROUP BY ALL").fetchall()
    )
    keep = ("revenue_usd", "margin_usd", "margin_pct", "cost_pct_of_revenue")
    top = [
        {"user": r["user"], "customer": owners.get(r["user"]), "requests": r["requests"],
         "cost_usd": r["cost_usd"], **{k: r[k] for k in keep}}
        for r in users
        if r["user"] is not None and r["cost_usd"] is not None and float(r["cost_usd"]) >= threshold - 1e-12
    ]  # fmt: skip
    assert top and text(doc["p90_users"]["users"]) == text(top)
    custs = reference_rows(con, ["customer"], ["customer_id"], alloc, None, full_revenue=True)
    plans = dict(
        con.execute(
            "SELECT customer_id, min(plan) FROM lc_fine WHERE plan IS NOT NULL GROUP BY ALL"
        ).fetchall()
    )
    plans.update(
        con.execute(
            "SELECT customer_id, min(plan) FROM lc_rev WHERE plan IS NOT NULL GROUP BY ALL"
        ).fetchall()
    )
    expected = []
    for r in custs:
        if r["customer"] is None:
            continue
        c = {k: r.get(k) for k in ("customer", "requests", "users", "cost_usd")}
        c["plan"], c["users"] = plans.get(r["customer"]), c["users"] or 0
        c.update({k: r[k] for k in keep})
        c["under_water"] = float(r["cost_usd"] or 0) > float(c["revenue_usd"] or 0)
        expected.append(c)
    expected.sort(
        key=lambda c: (c["margin_usd"] if c["margin_usd"] is not None else 0, c["customer"])
    )
    assert text(doc["customers"]) == text(expected)
    assert render.json_document(result) == render.safe_text.json_text(text(doc)) + "\n"


# ---------------------------------------------------------------- the column writers


def test_duckdb_formats_floats_and_strings_as_python_does() -> None:
    rnd = random.Random(5)
    floats = [rnd.random() * 10 ** rnd.uniform(-12, 19) * rnd.choice([1, -1]) for _ in range(5000)]
    floats += [0.0, -0.0, 1.0, 100.0, 1e16, 1e15, 1e-5, 0.0001, 5e-324, 2.0**60, 0.1 + 0.2]
    strings = [
        "plain",
        'a"b',
        "back\\slash",
        "new\nline",
        "\t\x01\x1f\x7f",
        "é 中",
        "/",
        "\u2028",
        "",
    ]
    frame = pl.DataFrame({"x": floats})
    got = json.loads(render.frame_json(frame, 0))
    assert [repr(r["x"]) for r in got] == [repr(x) for x in floats]
    # the text itself, not only its value: repr's digits and exponent form
    assert render.frame_json(frame, 0) == json.dumps([{"x": x} for x in floats], indent=2)
    sframe = pl.DataFrame({"s": strings, "n": [None, 1, 2, 3, 4, 5, 6, 7, 8]})
    expected = json.dumps(sframe.to_dicts(), indent=2, ensure_ascii=False)
    assert render.frame_json(sframe, 2) == render.safe_text.json_text(expected).replace(
        "\n", "\n    "
    )


def test_round_at_1e9_in_sql_is_pythons_round() -> None:
    import duckdb

    con = duckdb.connect()
    rnd = random.Random(9)
    xs = [rnd.uniform(-5000, 5000) for _ in range(20000)] + [0.5e-9, -1e-12, 2.0000000005]
    frame = pl.DataFrame({"x": xs})
    con.register("lc_xs", frame)
    got = con.execute(f"SELECT {metrics.ROUND9.format(x='x')} FROM lc_xs").fetchall()
    assert [repr(g[0]) for g in got] == [repr(round(x, 9)) for x in xs]
    assert repr(_num(-1e-12)) == "-0.0" == repr(got[-2][0])


def test_omitted_fields_and_nesting() -> None:
    frame = pl.DataFrame(
        {"k": ["a", "b"], "v": [1.5, None], f"{OMIT}v": [False, True], "w": [True, None]}
    )
    assert frame_dicts(frame) == [{"k": "a", "v": 1.5, "w": True}, {"k": "b", "w": None}]

    class Doc:
        def document(self) -> dict[str, Any]:
            return {"a": 1, "inner": {"rows": frame, "empty": frame.head(0)}, "z": [1]}

        def to_json(self) -> dict[str, Any]:
            return {"a": 1, "inner": {"rows": frame_dicts(frame), "empty": []}, "z": [1]}

    out = render.json_document(Doc())  # type: ignore[arg-type]
    assert out == json.dumps(Doc().to_json(), indent=2) + "\n"


def test_csv_from_a_frame_equals_the_row_writer() -> None:
    frame = pl.DataFrame(
        {
            "name": ["=sum(a)", 'say "hi", ok', "line\nbreak", None, "+1", "plain"],
            "n": [1, None, 3, 4, 5, 6],
            "x": [0.1 + 0.2, 1e-7, None, 1e22, 2.0, -0.0],
            "ok": [True, False, None, True, True, False],
        }
    )
    cols = [Column("name"), Column("n", kind="int"), Column("x", kind="num"), Column("ok")]
    fast = render.to_csv(Table("t", cols, frame))
    slow = render.to_csv(Table("t", cols, frame.to_dicts()))
    assert fast == slow
    assert fast.splitlines()[1] == "'=sum(a),1,0.30000000000000004,true"
    nan = render.to_csv(Table("t", [Column("x")], pl.DataFrame({"x": [float("nan")]})))
    assert nan == "x\n\n"  # not a number: an empty cell, as a missing value


def test_terminal_shows_the_top_rows_and_how_many_more() -> None:
    frame = pl.DataFrame(
        {"user": [f"u{i:03d}" for i in range(120)], "cost_usd": [float(i) for i in range(120)]}
    )
    cols = [Column("user"), Column("cost_usd", "cost", "usd")]

    class Doc:
        def to_json(self) -> dict[str, Any]:
            return {}

        def tables(self) -> list[Table]:
            return [Table("by user", cols, frame)]

        def headline(self) -> list[str]:
            return []

    out = render.to_terminal(Doc(), width=80, color=False)  # type: ignore[arg-type]
    assert "u049" in out and "u050" not in out
    assert "… 70 more rows" in out
    top = render.to_terminal(Doc(), width=80, color=False, limit=3, sort="cost_usd")  # type: ignore[arg-type]
    lines = [
        line.split()[0]
        for line in top.splitlines()
        if line.startswith("u1") or line.startswith("u0")
    ]
    assert lines == ["u119", "u118", "u117"] and "… 117 more rows" in top
    every = render.to_terminal(Doc(), width=80, color=False, limit=0)  # type: ignore[arg-type]
    assert "u119" in every and "more rows" not in every


def test_report_limit_and_sort_on_the_command_line(run_cli: Any, jsonl: Any) -> None:
    log, revenue = random_log(4, 300)
    path = jsonl(log)
    (path.parent / "revenue.csv").write_text(revenue)
    assert run_cli("ingest", "-q", str(path), str(path.parent / "revenue.csv"))[0] == 0
    code, out, err = run_cli("report", "--by", "user", "--limit", "5", "--sort", "requests")
    assert code == 0, err
    rows = json.loads(run_cli("report", "--by", "user", "-f", "json")[1])["rows"]
    assert len(rows) > 30 and f"… {len(rows) - 5} more rows" in out
    code, out, err = run_cli("report", "--by", "user", "--sort", "nope")
    assert code == 2 and "--sort 'nope': no such column" in err and "Traceback" not in err


# ---------------------------------------------------------------- rollups kept current at ingest


def test_an_ingest_rebuilds_the_rollups_a_store_holds(
    run_cli: Any, jsonl: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, revenue = random_log(8, 400)
    first = jsonl(log[:300], "first.jsonl")
    (tmp_path / "revenue.csv").write_text(revenue)
    assert run_cli("ingest", "-q", str(first), str(tmp_path / "revenue.csv"))[0] == 0
    from llmcost.store import connect

    def names() -> set[str]:
        con = connect(os.environ["LLMCOST_DB"])
        try:
            return {r[0] for r in con.execute("SELECT name FROM report_rollups").fetchall()}
        finally:
            con.close()

    assert names() == set()  # a first ingest builds nothing: no report has read this store
    assert run_cli("report", "--by", "plan", "-f", "json")[0] == 0  # a report stores its rollups
    assert "group:plan" in names()
    assert run_cli("ingest", "-q", str(jsonl(log[300:], "second.jsonl")))[0] == 0
    assert {"fine", "tasks:all", "group:feature", "group:user", "group:customer"} <= names()
    assert {"group:customer,month", "group:plan"} <= names()
    con = connect(os.environ["LLMCOST_DB"])
    try:  # as after a re-ingest of a loaded file: every rollup is valid, nothing is rebuilt
        assert metrics.refresh_rollups(con, pricing.load()) == []
    finally:
        con.close()
    # the first report after the ingest reads no request: every scan of them fails
    broken = "SELECT error('the requests were read')"
    with monkeypatch.context() as patch:
        for name in ("MATERIALISE", "FINE", "TASKS", "GROUP_Q", "GROUP_T"):
            patch.setattr(metrics, name, broken)
        fast = {}
        for by in ("user", "plan", "customer,month"):
            code, out, err = run_cli("report", "--by", by, "-f", "json")
            assert code == 0, err
            fast[by] = json.loads(out)
    con = connect(os.environ["LLMCOST_DB"])
    con.execute("DELETE FROM report_rollups")  # the same reports, from the requests
    con.close()
    for by, doc in fast.items():
        code, out, err = run_cli("report", "--by", by, "-f", "json")
        plain = json.loads(out)
        assert doc["rows"] == plain["rows"] and doc["totals"] == plain["totals"]
        assert doc["totals"]["requests"] == 400
