"""Typed documents for whatif/1: a what-if's group rows are computed in SQL into a polars frame and
written as JSON, CSV and Parquet column by column. These tests hold that frame to the row-by-row
Python formulas it replaced (`whatif._group_rows`: Decimal arithmetic on the exact DECIMAL sums,
what `run(..., exact_rows=True)` still gives), serialised with json.dumps, bit for bit, on random
fixtures; the SQL decimals to Python's own Decimal on random and tie values; and a 10,000-group
`whatif --by user -f json` to building no dict per row."""

from __future__ import annotations

import json
import random
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from llmcost import documents, pricing, query, render, safe_text, values
from llmcost import whatif as wi

HAIKU, SONNET = "claude-haiku-4-5", "claude-sonnet-4-5"
GENERATED = datetime(2026, 11, 22, 10)


def text(value: Any) -> str:
    """JSON text as the writer of the plain rows made it (floats by repr, Decimals as floats)."""
    return json.dumps(values.jsonable(value), indent=2, ensure_ascii=False)


# ---------------------------------------------------------------- a random fixture


def random_log(seed: int, n: int = 700) -> tuple[list[dict[str, Any]], str]:
    """Requests over three months, some of them huge (a group of more than $10,000: its savings
    have more than 28 digits at 1e-24 and are rounded), and revenue of nine customers."""
    rnd = random.Random(seed)
    users = [f"u{i}" for i in range(50)] + [None]
    customers = [f"c{i}" for i in range(9)] + [None]
    features = ["chat", "search", "agent", "=formula", 'quote"d, comma', None]
    models = [HAIKU, SONNET, "mystery-1"]
    out = []
    for i in range(n):
        ts = datetime(2026, 9, 1, rnd.randrange(24), rnd.randrange(60)).replace(
            day=rnd.randrange(1, 29), month=rnd.choice([9, 10, 11])
        )
        huge = rnd.random() < 0.02
        rec: dict[str, Any] = {
            "request_id": f"r{i}",
            "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "model": rnd.choices(models, [6, 3, 1])[0],
            "input_tokens": rnd.randrange(1, 3_000_000_000 if huge else 30_000),
            "output_tokens": rnd.randrange(0, 900_000_000 if huge else 4_000),
            "status": rnd.choice(["ok", "ok", "ok", "error"]),
        }
        for key, pool in (("user_id", users), ("customer_id", customers), ("feature", features)):
            value = rnd.choice(pool)
            if value is not None:
                rec[key] = value
        if rnd.random() < 0.4:
            rec["task_id"], rec["step"] = f"t{rnd.randrange(80)}", rnd.randrange(1, 6)
        if rnd.random() < 0.2:
            rec["cache_read_tokens"] = rnd.randrange(0, rec["input_tokens"])
        if rnd.random() < 0.1:
            rec["cache_hit"] = True
        if rnd.random() < 0.1:
            rec["batch"] = True
        out.append(rec)
    revenue = "customer_id,month,revenue_usd,plan\n" + "".join(
        f"c{c},2026-{m:02d},{rnd.randrange(1, 400000) / 100},{'pro' if c % 2 else 'team'}\n"
        for c in range(9)
        for m in (9, 10, 11)
    )
    return out, revenue + "c99,2026-10,12.5,pro\n"


@pytest.fixture(scope="module")
def prices() -> pricing.PriceTable:
    return pricing.load()


@pytest.fixture
def frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """A frame for any number of groups (the fixtures have tens, the frame starts at 10,000)."""
    monkeypatch.setattr(wi, "FRAME_MIN_GROUPS", 1)


@pytest.fixture(params=[5, 17])
def con_random(request: Any, con: Any, tmp_path: Path) -> Any:
    from llmcost.ingest import ingest_paths

    log, revenue = random_log(request.param)
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    (tmp_path / "revenue.csv").write_text(revenue)
    ingest_paths(con, [str(tmp_path / "log.jsonl"), str(tmp_path / "revenue.csv")])
    return con


CASES = [
    (["user"], {"route_to": "haiku"}, {}),
    (["feature"], {"route_to": "haiku", "share": 0.5}, {}),
    (["customer"], {"batch": True}, {}),
    (["customer"], {"max_output_tokens": 500}, {"since": datetime(2026, 10, 15)}),
    (["customer", "month"], {"compress_input": 0.3}, {}),
    (["model"], {"cache_hit_rate": 0.333}, {}),  # x (1 - R) rounded per request
    (["tier"], {"cache_hit_rate": 0.5, "cache_lookup_cost": 0.0001}, {}),
    (["feature"], {"max_steps": 2, "cap_user_cost": 1.5}, {"features": ["chat", "agent"]}),
    (["user", "feature"], {"prompt_cache": 800}, {"where": ["status=ok"]}),
    (["feature"], {"plan_price": {"pro": 49.0}}, {}),
]


@pytest.mark.parametrize(("by", "levers", "kw"), CASES)
def test_group_frame_equals_the_row_formulas(
    con_random: Any,
    prices: Any,
    by: list[str],
    levers: dict[str, Any],
    kw: dict[str, Any],
    frames: None,
) -> None:
    window = query.Window(kw.get("since"), kw.get("until"))
    scenario = wi.Scenario(
        scope=wi.Scope(features=kw.get("features", []), where=kw.get("where", [])),
        levers=wi.Levers(**levers),
    )
    fast = wi.run(con_random, prices, scenario, by=by, window=window, generated_at=GENERATED)
    plain = wi.run(
        con_random, prices, scenario, by=by, window=window, generated_at=GENERATED, exact_rows=True
    )
    assert documents.is_frame(fast.rows) and isinstance(plain.rows, list)
    assert len(plain.rows) >= 3
    doc = fast.to_json()
    assert text(doc["rows"]) == text(plain.rows)
    assert text(doc) == text(plain.to_json())
    # the whole document: the column writer gives json.dumps's text, byte for byte
    assert render.json_document(fast) == safe_text.json_text(text(plain.to_json())) + "\n"
    # CSV of the main table: the same text from the frame's columns as from the rows
    table, rows_table = fast.tables()[0], plain.tables()[0]
    assert table.frame is not None and rows_table.frame is None
    assert render.to_csv(table) == render.to_csv(rows_table)
    if by[0] in ("customer", "feature") and len(by) == 1 and not levers.get("plan_price"):
        assert "margin_before_pct" in table.frame.columns  # margins computed in SQL too
    big = con_random.execute(f"SELECT max(b) FROM {wi.GROUPS} WHERE gid = 0").fetchone()[0]
    if by == ["user"]:
        assert big > 10_000  # savings of more than 28 digits at 1e-24: rounded as Decimal does


def test_parquet_from_the_frame_holds_the_rows(
    con_random: Any, prices: Any, tmp_path: Path
) -> None:
    s = wi.Scenario(levers=wi.Levers(route_to="haiku"))
    fast = wi.run(con_random, prices, s, by=["customer"], generated_at=GENERATED)
    plain = wi.run(con_random, prices, s, by=["customer"], generated_at=GENERATED, exact_rows=True)
    render.to_parquet(fast.tables()[0], tmp_path / "f.parquet")
    render.to_parquet(plain.tables()[0], tmp_path / "p.parquet")
    a, b = pq.read_table(tmp_path / "f.parquet"), pq.read_table(tmp_path / "p.parquet")
    assert a.schema == b.schema and a.to_pylist() == b.to_pylist()


def test_amounts_over_the_sql_range_take_the_row_formulas(
    con: Any, prices: Any, jsonl: Any, frames: None
) -> None:
    from llmcost.ingest import ingest_paths

    # 9e14 output tokens of sonnet ($15 per 1M): $1.35e10 a request, $1.35e12 a user: 37 digits at
    # 1e-24, over the SQL decimals' range (a remainder x 10 of 38 digits and more)
    recs = [
        {"request_id": f"r{i}", "timestamp": "2026-10-01T10:00:00Z", "model": SONNET,
         "input_tokens": 10, "output_tokens": 9 * 10**14 + i, "user_id": f"u{i % 3}"}
        for i in range(300)
    ]  # fmt: skip
    ingest_paths(con, [str(jsonl(recs))])
    s = wi.Scenario(levers=wi.Levers(route_to="haiku"))
    res = wi.run(con, prices, s, by=["user"])
    assert isinstance(res.rows, list) and len(res.rows) == 3
    assert wi._group_chunk(con, False) is None
    plain = wi.run(con, prices, s, by=["user"], exact_rows=True)
    assert text(res.to_json()) == text(plain.to_json())


# ---------------------------------------------------------------- the SQL decimals


def _sql_pct(pairs: list[tuple[Decimal, Decimal]], chunk: int) -> list[tuple[Any, Any]]:
    """(n - d rounded, n / d x 100) by the SQL of _group_frame, for exact DECIMAL(38,24) pairs."""
    c = duckdb.connect()
    c.execute("CREATE TABLE t (i INTEGER, n DECIMAL(38,24), d DECIMAL(38,24))")
    c.executemany("INSERT INTO t VALUES (?, ?, ?)", [(i, str(n), str(d)) for i, (n, d) in enumerate(pairs)])  # fmt: skip
    src = f"SELECT i, {wi._units_sql('n')} AS nu, {wi._units_sql('d')} AS du FROM t"
    stages = [["nu - du AS x_raw"], *wi._round_stages("x", "x_raw", "-24")]
    div, value = wi._pct_stages("p", ("nu", "-24"), ("du", "-24"), chunk)
    sql = f"SELECT {wi._double('x_c', 'x_e')}, {value} FROM ({wi._nested(src, stages + div)}) ORDER BY i"
    return [tuple(r) for r in c.execute(sql).fetchall()]


@pytest.mark.parametrize(("longest", "count"), [(28, 20_000), (33, 20_000), (37, 3_000)])
def test_sql_decimals_are_pythons_decimal(longest: int, count: int) -> None:
    chunk = wi._chunk(longest)  # every coefficient below has fewer digits
    assert chunk is not None
    rnd = random.Random(longest)
    pairs = []
    for _ in range(count):
        n = Decimal(
            rnd.randrange(-(10 ** rnd.randrange(1, longest)), 10 ** rnd.randrange(1, longest))
        )
        d = Decimal(rnd.randrange(1, 10 ** rnd.randrange(1, longest)))
        pairs.append((n.scaleb(-24), d.scaleb(-24)))
    # ties: a difference of 29 digits ending in 5, a quotient k.5 of 28 digits + a half
    for _ in range(500):
        k = rnd.randrange(10**26, 10**27)
        pairs.append((Decimal(2 * k + 1).scaleb(-24), Decimal(2).scaleb(-24)))
        if longest >= 34:
            pairs.append((Decimal(10 * k + 5).scaleb(-24) + Decimal(10**33).scaleb(-24), Decimal(10**33).scaleb(-24)))  # fmt: skip
    pairs += [(Decimal(0), Decimal(5)), (Decimal("0.009"), Decimal("0.0135"))]
    pairs += [(Decimal(10**e + k).scaleb(-24), Decimal(10**e).scaleb(-24)) for e in range(longest) for k in (-1, 0, 1)]  # fmt: skip
    got = _sql_pct(pairs, chunk)
    want = [(float(n - d), float(n / d * 100)) for n, d in pairs]
    assert [repr(g) for g in got] == [repr(w) for w in want]


# ---------------------------------------------------------------- no dict per row


def test_10000_groups_as_json_build_no_dict_per_row(
    run_cli: Any, jsonl: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    recs = [
        {"request_id": f"r{i}", "timestamp": f"2026-10-{1 + i % 28:02d}T10:00:00Z",
         "model": SONNET if i % 3 else HAIKU, "input_tokens": 1000 + i, "output_tokens": 100 + i % 500,
         "user_id": f"u{i:05d}", "feature": "chat"}
        for i in range(10_000)
    ]  # fmt: skip
    assert run_cli("ingest", "-q", str(jsonl(recs)))[0] == 0

    def no_rows(*_: Any) -> Any:
        raise AssertionError("a dict per row")

    monkeypatch.setattr(documents, "frame_dicts", no_rows)
    monkeypatch.setattr(documents.Table, "rows", property(no_rows))
    monkeypatch.setattr(wi, "_group_rows", no_rows)
    args = ("whatif", "--route-to", HAIKU, "--by", "user")
    code, out, err = run_cli(*args, "-f", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert len(doc["rows"]) == 10_000 and doc["rows"][0]["user"] == "u09998"
    # u09998, the costliest: sonnet-4-5 ($3 / $15 per 1M) for 10,998 input and 598 output tokens
    # = $0.041964; at haiku-4-5 ($1 / $5) $0.013988: saves $0.027976, two thirds
    top = doc["rows"][0]
    assert top["baseline_cost_usd"] == pytest.approx(0.041964, abs=1e-15)
    assert top["scenario_cost_usd"] == pytest.approx(0.013988, abs=1e-15)
    assert top["savings_usd"] == pytest.approx(0.027976, abs=1e-15)
    assert top["savings_pct"] == pytest.approx(200 / 3, abs=1e-12)
    # u09999 is on haiku-4-5 already: nothing to save
    assert next(r for r in doc["rows"] if r["user"] == "u09999")["savings_usd"] == 0.0
    code, csv_text, err = run_cli(*args, "-f", "csv")
    assert code == 0 and len(csv_text.splitlines()) == 10_001


def test_whatif_limit_and_sort_on_the_command_line(run_cli: Any, jsonl: Any) -> None:
    log, _ = random_log(4, 400)
    path = jsonl(log)
    assert run_cli("ingest", "-q", str(path))[0] == 0
    args = ("whatif", "--route-to", "haiku", "--by", "user")
    rows = json.loads(run_cli(*args, "-f", "json")[1])["rows"]
    code, out, err = run_cli(*args, "--limit", "5", "--sort", "savings_pct")
    assert code == 0, err
    assert len(rows) > 30 and f"… {len(rows) - 5} more rows" in out
    best = max(rows, key=lambda r: r["savings_pct"] if r["savings_pct"] is not None else -1e9)
    first = next(line for line in out.splitlines() if re.match(r"u\d+ ", line))
    assert first.split()[0] == best["user"]
    code, out, err = run_cli(*args, "--sort", "nope")
    assert code == 2 and "--sort 'nope': no such column" in err and "Traceback" not in err


@pytest.mark.parametrize("by", [[], ["feature"]])
def test_another_engine_takes_the_row_formulas(
    con_random: Any, prices: Any, by: list[str], monkeypatch: pytest.MonkeyPatch, frames: None
) -> None:
    s = wi.Scenario(levers=wi.Levers(route_to="haiku", batch=True))
    fast = wi.run(con_random, prices, s, by=by, generated_at=GENERATED)
    monkeypatch.setattr(wi, "_is_duckdb", lambda con: False)  # Spark's SQL has no HUGEINT
    plain = wi.run(con_random, prices, s, by=by, generated_at=GENERATED)
    assert isinstance(plain.rows, list) and documents.is_frame(fast.rows) == bool(by)
    assert render.json_document(fast) == render.json_document(plain)


def test_a_few_groups_are_dicts_with_the_same_document(con_random: Any, prices: Any) -> None:
    s = wi.Scenario(levers=wi.Levers(route_to="haiku"))
    few = wi.run(con_random, prices, s, by=["customer"], generated_at=GENERATED)
    assert isinstance(few.rows, list) and len(few.rows) < wi.FRAME_MIN_GROUPS
    plain = wi.run(con_random, prices, s, by=["customer"], generated_at=GENERATED, exact_rows=True)
    assert render.json_document(few) == render.json_document(plain)
