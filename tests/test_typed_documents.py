"""Typed documents of `diff`, `check` and `reconcile`: their tables are polars frames computed in
SQL, written as JSON, CSV and Parquet column by column. These tests hold each frame to the
row-by-row Python it replaced (the `reference_*` functions below, kept as they were), serialised
with json.dumps — bit for bit, on random fixtures — and state the schema of every frame."""

from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from llmcost import checks, documents, exports, pricing, query, render, safe_text, values
from llmcost.checks import RULES, CheckResult, RuleResult
from llmcost.diff import ROW_KEYS, DiffResult, _delta
from llmcost.documents import Column, Table


def text(value: Any) -> str:
    """JSON text as the writer of the plain rows made it (render.json_document before frames)."""
    return safe_text.json_text(json.dumps(values.jsonable(value), indent=2, ensure_ascii=False))


# ---------------------------------------------------------------- diff


def reference_diff_rows(
    by: list[str], base: dict[str, Any], current: dict[str, Any]
) -> list[dict[str, Any]]:
    """DiffResult._rows as it was: one dict per group, in Python."""

    def index(doc: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
        return {tuple(r.get(b) for b in by): r for r in doc.get("rows") or []}

    bi, ci = index(base), index(current)
    out = []
    for key in list(ci) + [k for k in bi if k not in ci]:
        b, c = bi.get(key), ci.get(key)
        row: dict[str, Any] = dict(zip(by, key, strict=True))
        row["status"] = "added" if b is None else "removed" if c is None else "changed"
        for k, kind in ROW_KEYS:
            d = _delta((b or {}).get(k), (c or {}).get(k), kind)
            if kind != "pct" and (b is None or c is None):
                d["delta"] = (
                    d["current"] if b is None else (-d["base"] if d["base"] is not None else None)
                )
            row[f"base_{k}"], row[f"current_{k}"] = d["base"], d["current"]
            row[f"delta_{k}"] = d["delta"]
            if k == "cost_usd":
                row["delta_cost_pct"] = d["delta_pct"]
        if row["status"] == "changed" and all(not row[f"delta_{k}"] for k, _ in ROW_KEYS):
            row["status"] = "unchanged"
        out.append(row)
    out.sort(key=lambda r: -abs(r["delta_cost_usd"] or 0.0))
    return out


DIFF_SCHEMA = {
    "status": pl.String,
    **{
        name: pl.Float64
        for k, _ in ROW_KEYS
        for name in (f"base_{k}", f"current_{k}", f"delta_{k}")
        + (("delta_cost_pct",) if k == "cost_usd" else ())
    },
}
DIFF_COLUMNS = [
    "status", "base_requests", "current_requests", "delta_requests", "base_cost_usd",
    "current_cost_usd", "delta_cost_usd", "delta_cost_pct", "base_revenue_usd",
    "current_revenue_usd", "delta_revenue_usd", "base_margin_pct", "current_margin_pct",
    "delta_margin_pct",
]  # fmt: skip


def _report(by: list[str], rows: list[dict[str, Any]], since: str) -> dict[str, Any]:
    return {
        "schema": "llmcost.report/1", "generated_at": "2026-11-22T10:00:00Z",
        "pricing": {"files": ["pricing/openai.toml"], "sha256": "a" * 64},
        "window": {"since": since, "until": "2026-11-01T00:00:00Z"},
        "totals": {"requests": 10, "cost_usd": 1.5}, "by": by, "rows": rows,
    }  # fmt: skip


def _value(rng: random.Random, odd: bool) -> Any:
    roll = rng.random()
    if roll < 0.08:
        return None
    if roll < 0.14:
        return 0 if rng.random() < 0.5 else 0.0
    if roll < 0.18 and odd:
        return rng.choice(
            ["1.5", True, [1], {"x": 1}, 2**70]
        )  # 2**70 past 64 bits; the rest not numbers
    if roll < 0.4:
        return rng.randint(-5, 10**6)
    return rng.uniform(-1, 1) * 10 ** rng.randint(-12, 8)


def random_rows(
    rng: random.Random, by: list[str], pool: list[tuple[Any, ...]], n: int, odd: bool
) -> list[dict[str, Any]]:
    rows = []
    for _ in range(n):
        key = rng.choice(pool)
        row: dict[str, Any] = dict(zip(by, key, strict=True))
        for k, _ in ROW_KEYS:
            if rng.random() < 0.85:  # a field left out of the row now and then
                row[k] = _value(rng, odd)
        rows.append(row)
    return rows


def _pool(rng: random.Random, by: list[str], n: int) -> list[tuple[Any, ...]]:
    words = ["chat", "search", "ünïcode", 'say "hi"', "a,b", "tab\tx", "", "<script>", "x\u2028y"]
    pool = set()
    while len(pool) < n:
        pool.add(
            tuple(
                None if rng.random() < 0.05 else f"{rng.choice(words)}-{rng.randint(0, n)}"
                for _ in by
            )
        )
    return sorted(pool, key=lambda k: [(v is None, v or "") for v in k])


@pytest.mark.parametrize("seed", range(8))
def test_diff_frame_is_the_row_formulas_bit_for_bit(seed: int) -> None:
    rng = random.Random(seed)
    by = [["feature"], ["customer", "month"], []][seed % 3]
    pool = _pool(rng, by, 40) if by else [()]
    odd = seed % 2 == 1
    base = _report(by, random_rows(rng, by, pool, rng.randint(0, 60), odd), "2026-10-01T00:00:00Z")
    cur_rows = random_rows(rng, by, pool, rng.randint(0, 60), odd)
    # some groups the same on both sides: unchanged
    cur_rows += [dict(r) for r in base["rows"][:5]]
    current = _report(by, cur_rows, "2026-10-02T00:00:00Z")
    result = DiffResult(base, current)
    expected = reference_diff_rows(by, base, current)
    assert text(result.to_json()["rows"]) == text(expected)
    # the document as written: the frame's JSON text is json.dumps' text of the plain rows
    plain = dict(result.to_json(), rows=expected)
    assert render.json_document(result) == text(plain) + "\n"
    frame = result.document()["rows"]
    assert documents.is_frame(frame)
    assert frame.columns == by + DIFF_COLUMNS
    assert {k: frame.schema[k] for k in DIFF_COLUMNS} == DIFF_SCHEMA
    assert all(frame.schema[b] in (pl.String, pl.Int64) for b in by)
    # CSV, Parquet and the terminal from the frame: what the old rows gave
    tables = result.tables()
    if by:
        new_t = tables[0]
        old_t = Table(new_t.title, new_t.columns, expected, new_t.note)
        assert new_t.frame is not None
        assert render.to_csv(new_t) == render.to_csv(old_t)
        shown = _Shown(result, old_t)  # type: ignore[arg-type]
        shown.tables = lambda: [old_t, *tables[1:]]  # type: ignore[method-assign]
        for limit, sort in ((None, None), (5, "delta_cost_pct"), (0, "status")):
            assert render.to_terminal(result, width=150, color=False, limit=limit, sort=sort) == (
                render.to_terminal(shown, width=150, color=False, limit=limit, sort=sort)
            )


def test_diff_of_a_live_report_frame_is_the_same_as_of_its_rows() -> None:
    """The current side as a report's frame (diff against the database now) or as its JSON rows."""
    rng = random.Random(7)
    by = ["user"]
    pool = _pool(rng, by, 30)
    base = _report(by, random_rows(rng, by, pool, 40, False), "2026-10-01T00:00:00Z")
    rows = [
        {"user": k[0], "requests": rng.randint(0, 50), "cost_usd": rng.uniform(0, 3),
         "revenue_usd": None if rng.random() < 0.3 else rng.uniform(0, 9), "margin_pct": rng.uniform(-50, 99)}
        for k in pool[:25]
    ]  # fmt: skip
    frame = pl.DataFrame(rows, schema={"user": pl.String, "requests": pl.Int64, "cost_usd": pl.Float64,
                                       "revenue_usd": pl.Float64, "margin_pct": pl.Float64})  # fmt: skip
    # a field left out of a row (a frame's hidden __omit__ column) counts as missing
    frame = frame.with_columns(
        pl.Series(documents.OMIT + "margin_pct", [i % 4 == 0 for i in range(25)])
    )
    as_rows = documents.frame_dicts(frame)
    cur_frame = _report(by, frame, "2026-10-02T00:00:00Z")  # type: ignore[arg-type]
    cur_rows = _report(by, as_rows, "2026-10-02T00:00:00Z")
    a, b = DiffResult(base, cur_frame), DiffResult(base, cur_rows)
    assert render.json_document(a) == render.json_document(b)
    assert text(a.to_json()["rows"]) == text(reference_diff_rows(by, base, cur_rows))


def test_diff_rejects_keys_that_are_not_text() -> None:
    from llmcost.errors import InputError

    base = _report(["feature"], [{"feature": 1.5, "cost_usd": 1.0}], "2026-10-01T00:00:00Z")
    with pytest.raises(InputError, match="'feature' values are not all text"):
        DiffResult(base, base)


def _no_row_dicts(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_: Any, **__: Any) -> Any:
        raise AssertionError("a Python dict per row")

    monkeypatch.setattr(documents, "frame_dicts", fail)
    monkeypatch.setattr(documents.Table, "rows", property(fail))


def test_a_large_diff_without_a_dict_per_row(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    n = 10_000
    users = pl.Series([f"user-{i:05d}" for i in range(n)])
    cost = pl.Series([(i % 977) * 0.013 for i in range(n)])
    base = _report(["user"], [], "2026-10-01T00:00:00Z")
    base["rows"] = pl.DataFrame({"user": users, "requests": pl.Series(range(n)), "cost_usd": cost})
    current = _report(["user"], [], "2026-10-02T00:00:00Z")
    current["rows"] = pl.DataFrame(
        {
            "user": users.slice(100),
            "requests": pl.Series(range(n - 100)),
            "cost_usd": cost.slice(100) * 1.5,
        }
    )
    _no_row_dicts(monkeypatch)
    result = DiffResult(base, current)
    table = result.tables()[0]
    assert table.frame is not None and len(table) == n
    doc = json.loads(render.json_document(result))
    assert len(doc["rows"]) == n
    assert render.to_csv(table).count("\n") == n + 1
    render.to_parquet(table, tmp_path / "d.parquet")
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "d.parquet").num_rows == n
    # user-00099 (cost 99 * 0.013) is removed; the largest change first
    by_user = {r["user"]: r for r in doc["rows"]}
    assert by_user["user-00099"]["status"] == "removed"
    assert by_user["user-00099"]["delta_cost_usd"] == -(99 * 0.013)
    top = doc["rows"][0]
    assert abs(top["delta_cost_usd"]) == max(abs(r["delta_cost_usd"]) for r in doc["rows"])


def test_diff_cli_files_and_json_bytes(tmp_path: Path, run_cli: Any) -> None:
    rng = random.Random(3)
    by = ["feature"]
    pool = _pool(rng, by, 20)
    base = _report(by, random_rows(rng, by, pool, 30, True), "2026-10-01T00:00:00Z")
    current = _report(by, random_rows(rng, by, pool, 30, True), "2026-10-02T00:00:00Z")
    (tmp_path / "b.json").write_text(json.dumps(base))
    (tmp_path / "c.json").write_text(json.dumps(current))
    code, out, err = run_cli("diff", "--compare-to", "b.json", "c.json", "-f", "json")
    assert code == 0, err
    plain = DiffResult(json.loads(json.dumps(base)), json.loads(json.dumps(current))).to_json()
    plain["rows"] = reference_diff_rows(by, base, current)
    assert out == text(plain) + "\n"


# ---------------------------------------------------------------- check

CHECK_SCHEMA = {
    "name": pl.String, "value": pl.Float64, "threshold": pl.Float64, "ok": pl.Boolean,
    "note": pl.String,
}  # fmt: skip


def reference_check_json(result: CheckResult) -> dict[str, Any]:
    """CheckResult.to_json as it was."""
    return {
        "schema": "llmcost.check/1",
        "ok": result.ok,
        "window": result.window,
        "rules": [
            {"name": r.name, "value": r.value, "threshold": r.threshold, "ok": r.ok, "note": r.note}
            for r in result.rules
        ],
    }


def reference_check_table(result: CheckResult) -> Table:
    """CheckResult.tables as it was: one dict per rule."""
    rows = []
    for r in result.rules:
        direction, unit, _ = RULES[r.name]
        rows.append({
            "rule": r.name,
            "value": values.fmt_value(r.value, unit) if r.value is not None else "—",
            "threshold": ("≥ " if direction == "min" else "≤ ") + values.fmt_value(r.threshold, unit),
            "verdict": r.verdict,
            "note": r.note,
        })  # fmt: skip
    cols = [Column(k) for k in ("rule", "value", "threshold", "verdict", "note")]
    return Table("check", cols, rows)


def random_check(rng: random.Random) -> CheckResult:
    notes = ["", "feature chat", 'a "quoted", note', "=cmd", "x\u2028y", "ünï\tcode", "no revenue"]
    rules = []
    for name in rng.sample(list(RULES), rng.randint(0, len(RULES))):
        value = None if rng.random() < 0.2 else rng.uniform(-1, 1) * 10 ** rng.randint(-9, 6)
        threshold = float(rng.choice([0, 1, 25, 0.01, rng.uniform(0, 100)]))
        ok = value is not None and value <= threshold
        rules.append(RuleResult(name, value, threshold, ok, rng.choice(notes)))
    return CheckResult(rules, {"since": "2026-10-01T00:00:00Z", "until": None})


@pytest.mark.parametrize("seed", range(12))
def test_check_frame_is_the_rule_formulas_bit_for_bit(seed: int, tmp_path: Path) -> None:
    result = random_check(random.Random(seed))
    assert render.json_document(result) == text(reference_check_json(result)) + "\n"
    assert result.to_json() == reference_check_json(result)
    frame = result.document()["rules"]
    assert documents.is_frame(frame) and dict(frame.schema) == CHECK_SCHEMA
    table, old = result.tables()[0], reference_check_table(result)
    assert table.frame is not None and dict(table.frame.schema) == dict.fromkeys(
        ["rule", "value", "threshold", "verdict", "note"], pl.String
    )
    assert render.to_csv(table) == render.to_csv(old)
    assert render.to_terminal(result, width=120, color=False) == render.to_terminal(
        _Shown(result, old), width=120, color=False
    )
    render.to_parquet(table, tmp_path / "new.parquet")
    render.to_parquet(old, tmp_path / "old.parquet")
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "new.parquet").equals(pq.read_table(tmp_path / "old.parquet"))


class _Shown:
    """A result showing the given table (the old row-backed one)."""

    def __init__(self, result: CheckResult, table: Table) -> None:
        self.result, self.table = result, table

    def headline(self) -> list[str]:
        return self.result.headline()

    def tables(self) -> list[Table]:
        return [self.table]


def reference_worst(rows: list[dict[str, Any]]) -> tuple[Any, float] | None:
    """The lowest feature margin as checks._value picked it from the report's rows."""
    rows = [r for r in rows if r.get("margin_pct") is not None and r.get("revenue_usd")]
    if not rows:
        return None
    worst = min(rows, key=lambda r: r["margin_pct"])
    return worst.get("feature"), float(worst["margin_pct"])


@pytest.mark.parametrize("seed", range(10))
def test_worst_feature_margin_in_sql_is_the_python_pick(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(0, 30)
    frame = pl.DataFrame(
        {
            "feature": [None if rng.random() < 0.1 else f"f{i}" for i in range(n)],
            "revenue_usd": [rng.choice([None, 0.0, rng.uniform(0, 50)]) for _ in range(n)],
            # ties: the first of them
            "margin_pct": [
                rng.choice([None, 12.5, -3.0, rng.uniform(-100, 100)]) for _ in range(n)
            ],
        },
        schema={"feature": pl.String, "revenue_usd": pl.Float64, "margin_pct": pl.Float64},
    )
    if seed % 2:  # a field left out of some rows
        frame = frame.with_columns(
            pl.Series(
                documents.OMIT + "margin_pct", [i % 3 == 0 for i in range(n)], dtype=pl.Boolean
            )
        )
    expected = reference_worst(documents.frame_dicts(frame))
    assert checks._worst_margin(frame, "feature") == expected
    assert checks._worst_margin(documents.frame_dicts(frame), "feature") == expected


# ---------------------------------------------------------------- reconcile

RECONCILE_SCHEMA = {
    "period": pl.String, "provider": pl.String, "model": pl.String, "requests": pl.Int64,
    "unpriced_requests": pl.Int64, "logged_cost_usd": pl.Float64, "usage_cost_usd": pl.Float64,
    "billed_cost_usd": pl.Float64, "gap_usd": pl.Float64, "gap_pct": pl.Float64,
    "usage_gap_usd": pl.Float64,
}  # fmt: skip


def reference_reconcile(
    con: Any, prices: Any, by: str, window: Any, generated_at: datetime
) -> dict[str, Any]:
    """exports.reconcile as it was: the rows of RECONCILE_SQL and their totals, in Python."""
    unit, fmt = exports.PERIODS[by]
    pricing.install(con, prices)
    exports.install_usage(con, prices)
    exports._model_keys(con, prices)
    w_req, p_req = exports._window_sql(window, "r.ts")
    w_use, p_use = exports._window_sql(window, "u.bucket_start")
    w_bill, p_bill = exports._window_sql(window, "b.period_start")
    sql = exports.RECONCILE_SQL.format(
        unit=unit,
        fmt=fmt,
        w_req=w_req,
        w_use=w_use,
        w_bill=w_bill,
        priced_usage=exports.PRICED_USAGE,
    )
    rows: list[dict[str, Any]] = []
    unpriced_requests = 0
    for period, provider, model, requests, unpriced, logged, usage, billed in con.execute(
        sql, [*p_req, *p_use, *p_bill]
    ).fetchall():
        unpriced_requests += unpriced or 0
        if not requests and not logged and not usage and not billed:
            continue
        gap = None if billed is None else billed - (logged or 0)
        usage_gap = None if billed is None or usage is None else billed - usage
        rows.append({
            "period": period, "provider": provider, "model": model, "requests": requests or 0,
            "unpriced_requests": unpriced or 0, "logged_cost_usd": logged, "usage_cost_usd": usage,
            "billed_cost_usd": billed, "gap_usd": gap,
            "gap_pct": (gap / billed * 100) if gap is not None and billed else None,
            "usage_gap_usd": usage_gap,
        })  # fmt: skip

    def total(key: str) -> Any:
        vals = [r[key] for r in rows if r[key] is not None]
        return sum(vals[1:], vals[0]) if vals else None

    totals = {
        k: total(k)
        for k in (
            "logged_cost_usd",
            "usage_cost_usd",
            "billed_cost_usd",
            "gap_usd",
            "usage_gap_usd",
        )
    }
    totals["requests"] = sum(r["requests"] for r in rows)
    billed_rows = [r for r in rows if r["billed_cost_usd"] is not None]
    totals["logged_cost_billed_usd"] = sum(r["logged_cost_usd"] or 0 for r in billed_rows)
    totals["logged_cost_unbilled_usd"] = sum(
        r["logged_cost_usd"] or 0 for r in rows if r["billed_cost_usd"] is None
    )
    billed_total = totals["billed_cost_usd"]
    share = (
        (totals["gap_usd"] / billed_total)
        if billed_total and totals["gap_usd"] is not None
        else None
    )
    return {
        "schema": exports.RECONCILE_SCHEMA,
        **exports._meta(prices, window, generated_at),
        "by": by,
        "rows": rows,
        "totals": totals,
        "unexplained_share": share,
        "unpriced_requests": unpriced_requests,
    }


MODELS = ["gpt-4o-mini", "gpt-4.1", "claude-haiku-4-5", "mystery-model"]


@pytest.fixture(params=[1, 2, 5])
def con_exports(request: Any, con: Any, tmp_path: Path) -> Any:
    """Random request logs, usage exports and bills (some with negative credits, some huge)."""
    from llmcost.ingest import ingest_paths

    rng = random.Random(request.param)
    log = []
    for i in range(300):
        ts = datetime(2025, 8, 1) + timedelta(
            days=rng.randrange(0, 70), minutes=rng.randrange(1440)
        )
        model = rng.choice(MODELS)
        log.append({
            "request_id": f"r{i}", "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "model": model,
            "provider": "anthropic" if "claude" in model else "openai",
            "input_tokens": rng.randrange(1, 300_000), "output_tokens": rng.randrange(0, 40_000),
            "cache_read_tokens": 0,
        })  # fmt: skip
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    ingest_paths(con, [str(tmp_path / "log.jsonl")])
    for i in range(120):
        day = datetime(2025, 8, 1) + timedelta(days=rng.randrange(0, 75))
        model = rng.choice([*MODELS, None])
        provider = (
            "anthropic" if model and "claude" in model else rng.choice(["openai", "anthropic"])
        )
        con.execute(
            "INSERT INTO usage (source_kind, record_id, content, file_id, line_no, bucket_start, provider,"
            " model, long_context, batch, requests, input_tokens, cache_read_tokens, cache_write_tokens,"
            " cache_write_1h_tokens, output_tokens) VALUES ('t', ?, 'x', 0, ?, ?, ?, ?, false, false, ?, ?, 0, 0, 0, ?)",
            [
                f"u{i}",
                i,
                day,
                provider,
                model,
                rng.randrange(0, 50),
                rng.randrange(0, 10**7),
                rng.randrange(0, 10**6),
            ],
        )
        amount = rng.choice([
            Decimal(rng.randrange(0, 10**12)) / Decimal(10**12),
            Decimal(rng.randrange(-10**8, 10**8)) / Decimal(10**6),  # credits, and amounts past $10,000
            Decimal(rng.randrange(1, 10**20)) / Decimal(10**18), Decimal(0),
            Decimal(rng.randrange(10**10, 10**11)),  # bills of $1e10 and more
        ])  # fmt: skip
        con.execute(
            "INSERT INTO billed (source_kind, record_id, content, file_id, line_no, period_start, provider,"
            " model, amount_usd, currency) VALUES ('t', ?, 'x', 0, ?, ?, ?, ?, ?, 'usd')",
            [f"b{i}", i, day + timedelta(hours=rng.randrange(0, 3)), provider, model, amount],
        )
    return con


@pytest.mark.parametrize("by", ["month", "day"])
def test_reconcile_frame_is_the_row_formulas_bit_for_bit(con_exports: Any, by: str) -> None:
    prices = pricing.load()
    at = datetime(2026, 11, 22, 10)
    window = query.Window(datetime(2025, 8, 3), datetime(2025, 10, 1)) if by == "day" else None
    expected = reference_reconcile(con_exports, prices, by, window, at)
    result = exports.reconcile(con_exports, prices, by=by, window=window, generated_at=at)
    frame = result.document()["rows"]
    assert documents.is_frame(frame) and dict(frame.schema) == RECONCILE_SCHEMA
    assert len(expected["rows"]) > 20
    assert any(r["gap_pct"] is not None for r in expected["rows"])
    # gap %: the correctly rounded quotient, as the Decimal one was, for credits and large bills too
    assert text(result.to_json()["rows"]) == text(expected["rows"])
    assert render.json_document(result) == text(expected) + "\n"
    table = result.tables()[0]
    old = Table(table.title, table.columns, expected["rows"], note=table.note)
    assert render.to_csv(table) == render.to_csv(old)
    assert render.to_terminal(result, width=160, color=False) == render.to_terminal(
        _Plain(result, old), width=160, color=False
    )


class _Plain:
    """A reconcile result showing the old row-backed table."""

    def __init__(self, result: Any, table: Table) -> None:
        self.result, self.table = result, table

    def headline(self) -> list[str]:
        return list(self.result.headline())

    def tables(self) -> list[Table]:
        return [self.table]


def test_gap_pct_is_the_decimal_quotient_bit_for_bit() -> None:
    """2,000 random bills and logged costs (credits, zeros, a millionth of a dollar to $1e13): gap %
    of bill from the long division in SQL is float() of the Decimal quotient, sign of a zero
    included. A bill of $1e13 or more takes the DOUBLE quotient: within 2 units in the last place."""
    import duckdb

    rng = random.Random(21)
    pairs = []
    for _ in range(2000):
        billed = Decimal(rng.randrange(-(10**19), 10**19)) / Decimal(10 ** rng.randrange(6, 19))
        kind = rng.random()
        if kind < 0.1:
            logged: Decimal | None = billed  # no gap
        elif kind < 0.2:
            logged = None
        else:
            logged = Decimal(rng.randrange(0, 10**30)) / Decimal(10 ** rng.randrange(18, 25))
        pairs.append((billed, logged))
    con = duckdb.connect()
    con.execute(
        "CREATE TEMP TABLE lc_reconcile (period VARCHAR, provider VARCHAR, model VARCHAR, requests BIGINT,"
        " unpriced BIGINT, cost DECIMAL(38,24), usage_cost DECIMAL(38,24), billed_cost DECIMAL(38,18),"
        " ord BIGINT, keep BOOLEAN)"
    )
    con.executemany(
        "INSERT INTO lc_reconcile VALUES ('p', 'x', 'm', 1, 0, ?, NULL, ?, ?, true)",
        [(logged, billed, i) for i, (billed, logged) in enumerate(pairs)],
    )
    got = documents.fetch_frame(con, exports.RECONCILE_ROWS.format(gap_pct=exports._gap_pct_sql()))
    expected = []
    for billed, logged in con.execute(
        "SELECT billed_cost, cost FROM lc_reconcile ORDER BY ord"
    ).fetchall():
        gap = billed - (logged or 0)
        expected.append(float(gap / billed * 100) if billed else None)
    assert [repr(v) for v in got.get_column("gap_pct").to_list()] == [repr(v) for v in expected]
    assert any(v == 0 and repr(v) == "-0.0" for v in expected)
    bills = [Decimal(rng.randrange(10**31, 9 * 10**31)) / Decimal(10**18) for _ in range(50)]
    con.executemany(
        "UPDATE lc_reconcile SET billed_cost = ? WHERE ord = ?",
        [(b, i) for i, b in enumerate(bills)],
    )
    big = documents.fetch_frame(con, exports.RECONCILE_ROWS.format(gap_pct=exports._gap_pct_sql()))
    for (_, logged), billed, value in zip(
        pairs, bills, big.get_column("gap_pct").to_list(), strict=False
    ):
        exact = float((billed - (logged or 0)) / billed * 100)
        assert abs(value - exact) <= 2 * math.ulp(exact)


def test_a_large_diff_of_saved_files_without_a_dict_per_row(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, run_cli: Any
) -> None:
    """10,000 groups from two saved reports, through the CLI: JSON and CSV from the frame."""
    n = 10_000
    base = _report(["user"], [{"user": f"u{i:05d}", "requests": i, "cost_usd": i * 0.001} for i in range(n)],
                   "2026-10-01T00:00:00Z")  # fmt: skip
    cur = _report(["user"], [{"user": f"u{i:05d}", "requests": i + 1, "cost_usd": i * 0.0015} for i in range(50, n + 50)],
                  "2026-10-02T00:00:00Z")  # fmt: skip
    (tmp_path / "b.json").write_text(json.dumps(base))
    (tmp_path / "c.json").write_text(json.dumps(cur))
    expected = reference_diff_rows(["user"], base, cur)
    _no_row_dicts(monkeypatch)
    code, out, err = run_cli("diff", "--compare-to", "b.json", "c.json", "-f", "json")
    assert code == 0, err
    assert text(json.loads(out)["rows"]) == text(expected)
    assert len(expected) == n + 50
    code, out, err = run_cli("diff", "--compare-to", "b.json", "c.json", "-f", "csv")
    assert code == 0 and len(out.splitlines()) == n + 51
