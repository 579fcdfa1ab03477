"""The Parquet lake: export (priced, by month, incremental, idempotent, atomic) and --lake reads
that give the same JSON as the database the lake came from."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.conftest import TEST_PRICES, write_jsonl

REPO = Path(__file__).resolve().parents[1]


def _req(rid: str, ts: str, **kw: Any) -> dict[str, Any]:
    return {"request_id": rid, "timestamp": ts, "model": "lc-test", "user_id": "u1",
            "customer_id": "c1", "feature": "chat", "input_tokens": 1000, "output_tokens": 500, **kw}  # fmt: skip


def _parts(lake: Path) -> dict[str, float]:
    """Every Parquet file of the lake (relative path) with its mtime."""
    return {str(p.relative_to(lake)): p.stat().st_mtime_ns for p in lake.rglob("*.parquet")}


def _q(sql: str) -> list[tuple[Any, ...]]:
    return duckdb.connect().execute(sql).fetchall()  # type: ignore[no-any-return]


def _same(a: Any, b: Any, path: str = "") -> None:
    """A == B, but two floats may differ in their last bits (1e-9 USD, 1e-12 relative): a sum of
    DOUBLEs in SQL is not in a fixed order, on one database file or another."""
    if isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9), (path, a, b)
    elif isinstance(a, dict) and isinstance(b, dict):
        assert list(a) == list(b), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    else:
        assert a == b, (path, a, b)


def _doc(out: str) -> dict[str, Any]:
    doc = json.loads(out)
    doc.pop("generated_at", None)  # whatif and reconcile stamp the clock
    return doc  # type: ignore[no-any-return]


@pytest.fixture
def small(tmp_path: Path, run_cli: Any, test_prices: Path) -> dict[str, Any]:
    """Two months of lc-test requests in a database, and where its lake goes."""
    write_jsonl(tmp_path / "jan.jsonl", [
        _req("a", "2026-01-10T10:00:00Z"),  # 1000 x $1 + 500 x $2 per 1M = $0.002
        _req("b", "2026-01-20T10:00:00Z", cache_read_tokens=400, batch=True),
        _req("c", "2026-01-31T23:59:59Z", cache_hit=True),
    ])  # fmt: skip
    write_jsonl(tmp_path / "feb.jsonl", [_req("d", "2026-02-01T00:00:00Z", model="nope")])
    args = ["--pricing", str(test_prices)]
    assert run_cli(*args, "ingest", "-q", str(tmp_path / "jan.jsonl"), str(tmp_path / "feb.jsonl"))[0] == 0  # fmt: skip
    return {"args": args, "lake": tmp_path / "lake"}


def test_export_prices_each_request_and_partitions_by_month(small: dict[str, Any], run_cli: Any) -> None:  # fmt: skip
    lake: Path = small["lake"]
    code, out, err = run_cli(*small["args"], "export", "--lake", str(lake), "-f", "json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["changed"] is True
    assert {t["table"]: t["partitions"] for t in summary["tables"]}["requests"] == 2
    assert sorted(_parts(lake)) == sorted([
        *(f"requests/month=2026-0{m}/part-{_token(lake, 'requests', f'2026-0{m}')}-0.parquet" for m in (1, 2)),
        f"files/part-{_token(lake, 'files', 'all')}-0.parquet",
        f"prices/part-{_token(lake, 'prices', 'all')}-0.parquet",
    ])  # fmt: skip
    rows = _q(
        f"SELECT request_id, cost_usd, list_cost_usd, price_model, price_valid_from::DATE::VARCHAR "
        f"FROM read_parquet('{lake}/requests/*/*.parquet') ORDER BY request_id"
    )
    # a: 1000 uncached x $1/1M + 500 x $2/1M = 0.001 + 0.001 = 0.002
    # b: (600 uncached x 1 + 400 cache reads x 0.10 + 500 x 2) / 1M = 0.00164; batch, but lc-test
    #    has no batch discount (x (1 - 0))
    # c: a semantic-cache hit costs 0; its list cost is a's 0.002
    # d: a model with no price: NULL, never 0
    assert rows == [
        ("a", Decimal("0.002"), Decimal("0.002"), "lc-test", "2026-01-01"),
        ("b", Decimal("0.00164"), Decimal("0.00164"), "lc-test", "2026-01-01"),
        ("c", Decimal("0"), Decimal("0.002"), "lc-test", "2026-01-01"),
        ("d", None, None, None, None),
    ]
    manifest = json.loads((lake / "_manifest.json").read_text())
    assert manifest["format"] == "llmcost.lake/1"
    assert manifest["tables"]["requests"]["partitions"]["2026-01"]["rows"] == 3
    prices = _q(f"SELECT model, r_input, r_output FROM read_parquet('{lake}/prices/*.parquet')")  # fmt: skip
    assert prices == [("lc-test", Decimal("1.000000000"), Decimal("2.000000000"))]


def _token(lake: Path, table: str, part: str) -> str:
    manifest = json.loads((lake / "_manifest.json").read_text())
    name = manifest["tables"][table]["partitions"][part]["files"][0]
    return str(name.rsplit("/", 1)[-1][len("part-") : -len("-0.parquet")])


def test_second_export_of_unchanged_data_writes_nothing(small: dict[str, Any], run_cli: Any) -> None:  # fmt: skip
    lake: Path = small["lake"]
    assert run_cli(*small["args"], "export", "--lake", str(lake))[0] == 0
    before, manifest = _parts(lake), (lake / "_manifest.json").stat().st_mtime_ns
    code, out, _ = run_cli(*small["args"], "export", "--lake", str(lake), "-f", "json")
    assert code == 0
    summary = json.loads(out)
    assert summary["changed"] is False and summary["files_written"] == summary["files_deleted"] == 0
    assert all(t["written"] == 0 for t in summary["tables"])
    assert _parts(lake) == before
    assert (lake / "_manifest.json").stat().st_mtime_ns == manifest
    assert not list(lake.glob("_staging-*"))


def test_only_changed_months_are_rewritten(small: dict[str, Any], run_cli: Any, tmp_path: Path) -> None:  # fmt: skip
    lake: Path = small["lake"]
    assert run_cli(*small["args"], "export", "--lake", str(lake))[0] == 0
    before = _parts(lake)
    write_jsonl(tmp_path / "feb2.jsonl", [_req("e", "2026-02-14T09:00:00Z")])
    assert run_cli(*small["args"], "ingest", "-q", str(tmp_path / "feb2.jsonl"))[0] == 0
    code, out, _ = run_cli(*small["args"], "export", "--lake", str(lake), "-f", "json")
    assert code == 0
    written = {t["table"]: t["written"] for t in json.loads(out)["tables"]}
    assert written == {
        "requests": 1,
        "usage": 0,
        "billed": 0,
        "revenue": 0,
        "files": 1,
        "prices": 0,
    }
    after = _parts(lake)
    jan = [p for p in before if p.startswith("requests/month=2026-01/")]
    assert [p for p in after if p.startswith("requests/month=2026-01/")] == jan
    assert after[jan[0]] == before[jan[0]]  # not touched
    old_feb = [p for p in before if p.startswith("requests/month=2026-02/")]
    assert old_feb and not set(old_feb) & set(after)  # replaced, and the old part deleted
    n = _q(f"SELECT count(*) FROM read_parquet('{lake}/requests/month=2026-02/*.parquet')")
    assert n == [(2,)]


def test_a_new_price_set_rewrites_the_priced_months(small: dict[str, Any], run_cli: Any, tmp_path: Path) -> None:  # fmt: skip
    lake: Path = small["lake"]
    assert run_cli(*small["args"], "export", "--lake", str(lake))[0] == 0
    cheaper = tmp_path / "cheaper.toml"
    cheaper.write_text(TEST_PRICES.replace("input = 1.00", "input = 0.50"))
    code, out, _ = run_cli("--pricing", str(cheaper), "export", "--lake", str(lake), "-f", "json")
    assert code == 0
    written = {t["table"]: t["written"] for t in json.loads(out)["tables"]}
    assert written["requests"] == 2 and written["prices"] == 1 and written["files"] == 0
    # a: 1000 x $0.50/1M + 500 x $2/1M = 0.0005 + 0.001 = 0.0015
    cost = _q(f"SELECT cost_usd FROM read_parquet('{lake}/requests/*/*.parquet') WHERE request_id = 'a'")  # fmt: skip
    assert cost == [(Decimal("0.0015"),)]
    manifest = json.loads((lake / "_manifest.json").read_text())
    assert str(cheaper) in manifest["pricing"]["files"]


def test_a_month_gone_from_the_store_is_gone_from_the_lake(small: dict[str, Any], run_cli: Any, tmp_path: Path) -> None:  # fmt: skip
    lake: Path = small["lake"]
    assert run_cli(*small["args"], "export", "--lake", str(lake))[0] == 0
    db = duckdb.connect(str(tmp_path / "db" / "llmcost.duckdb"))
    db.execute("DELETE FROM requests WHERE ts >= '2026-02-01'")
    db.close()
    code, out, _ = run_cli(*small["args"], "export", "--lake", str(lake), "-f", "json")
    assert code == 0
    removed = {t["table"]: t["removed"] for t in json.loads(out)["tables"]}
    assert removed["requests"] == 1
    assert not (lake / "requests" / "month=2026-02").exists()
    manifest = json.loads((lake / "_manifest.json").read_text())
    assert list(manifest["tables"]["requests"]["partitions"]) == ["2026-01"]


def test_an_interrupted_export_leaves_the_lake_as_it_was(
    small: dict[str, Any], run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmcost import lake as lake_mod

    lake: Path = small["lake"]
    assert run_cli(*small["args"], "export", "--lake", str(lake))[0] == 0
    report = _doc(run_cli(*small["args"], "--lake", str(lake), "report", "-f", "json")[1])
    write_jsonl(tmp_path / "feb2.jsonl", [_req("e", "2026-02-14T09:00:00Z")])
    assert run_cli(*small["args"], "ingest", "-q", str(tmp_path / "feb2.jsonl"))[0] == 0

    def crash(self: Any, doc: Any) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(lake_mod.Target, "write_manifest", crash)
        assert run_cli(*small["args"], "export", "--lake", str(lake))[0] == 130
    # the new parts were written beside the old ones, but the manifest still lists the old lake
    _same(_doc(run_cli(*small["args"], "--lake", str(lake), "report", "-f", "json")[1]), report)
    code, out, _ = run_cli(*small["args"], "export", "--lake", str(lake), "-f", "json")
    # deleted: February's and the file table's parts, old and those the interrupted export left
    assert code == 0 and json.loads(out)["files_deleted"] == 4
    assert len(list((lake / "requests" / "month=2026-02").glob("*.parquet"))) == 1
    assert not list(lake.glob("_staging-*"))


# ---------------------------------------------------------------- the same JSON


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """A synthetic three-month company (every feature, customer, plan, revenue) and the provider
    exports, each in a database and exported to a lake."""
    from llmcost import lake, pricing
    from llmcost.ingest import ingest_paths
    from llmcost.store import connect
    from llmcost.synth import generate

    base = tmp_path_factory.mktemp("lake-sample")
    generate(base / "logs", requests=2500, seed=11)
    out = {}
    for name, paths in (
        ("app", [str(base / "logs")]),
        ("providers", [str(REPO / "sample_logs" / "providers")]),
    ):
        db = base / f"{name}.duckdb"
        con = connect(db)
        ingest_paths(con, paths)
        lake.export(con, pricing.load([]), str(base / f"{name}-lake"))
        con.close()
        out[name], out[f"{name}-lake"] = db, base / f"{name}-lake"
    yield out


SAME_JSON = [
    ["report"],
    ["report", "--by", "feature"],
    ["report", "--by", "feature,customer,user,month"],
    ["report", "--by", "customer", "--allocate", "cost"],
    ["report", "--by", "feature", "--allocate", "equal"],
    ["report", "--by", "model,tier,plan,status"],
    ["report", "--by", "day,week,task"],
    ["report", "--by", "request", "--since", "2026-09-01", "--until", "2026-09-08"],
    ["report", "--by", "user", "--where", "feature=support-chat", "--where", "plan!=free"],
    ["report", "--since", "2026-09-01", "--until", "2026-10-01"],
    ["whatif", "--route-to", "haiku", "--feature", "support-chat", "--share", "0.5"],
    ["whatif", "--batch", "--max-output-tokens", "300", "--by", "feature"],
    ["whatif", "--cache-hit-rate", "0.3", "--compress-input", "0.2", "--by", "customer"],
    ["whatif", "--max-steps", "2", "--prompt-cache", "800", "--by", "feature"],
    ["whatif", "--suggest"],
    ["prices", "check"],
]


@pytest.mark.parametrize("args", SAME_JSON, ids=[" ".join(a) for a in SAME_JSON])
def test_the_lake_gives_the_same_json_as_its_database(
    sample: dict[str, Path], run_cli: Any, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("LLMCOST_NOW", "2026-11-22T10:00:00Z")
    # prices check is a CI gate: it exits 1, from both, as the sample has unpriced requests
    # (its self-hosted acme-ft-llama-8b)
    want = 1 if args == ["prices", "check"] else 0
    code, db_out, err = run_cli("--db", str(sample["app"]), *args, "-f", "json")
    assert code == want, err
    code, lake_out, err = run_cli("--lake", str(sample["app-lake"]), *args, "-f", "json")
    assert code == want, err
    _same(_doc(lake_out), _doc(db_out))
    if want:
        assert _doc(lake_out)["unpriced_requests"] > 0


@pytest.mark.parametrize(
    "args",
    [["reconcile"], ["reconcile", "--by", "day"], ["report", "--source", "exports", "--by", "provider,model"]],
)  # fmt: skip
def test_usage_and_billed_read_from_the_lake(
    sample: dict[str, Path], run_cli: Any, args: list[str]
) -> None:
    code, db_out, err = run_cli("--db", str(sample["providers"]), *args, "-f", "json")
    assert code == 0, err
    code, lake_out, err = run_cli("--lake", str(sample["providers-lake"]), *args, "-f", "json")
    assert code == 0, err
    _same(_doc(lake_out), _doc(db_out))
    assert _doc(lake_out)["totals"]  # not two empty documents


def test_the_summary_is_not_empty(sample: dict[str, Path], run_cli: Any) -> None:
    """The comparisons above hold real numbers: every metric of the summary is there."""
    # the whole sample (August to October; a date-only --until includes its day): with no window
    # the summary would show only the last full month
    whole = ["--since", "2026-08-01", "--until", "2026-10-31"]
    doc = json.loads(run_cli("--lake", str(sample["app-lake"]), "report", *whole, "-f", "json")[1])
    assert doc["totals"]["requests"] > 2000 and doc["totals"]["cost_usd"] > 0
    assert doc["totals"]["revenue_usd"] > 0
    dist = doc["distribution"]
    assert dist["cost_per_user_month_usd"]["p90"] > dist["cost_per_user_month_usd"]["p50"] > 0
    assert dist["cost_per_task_usd"]["p99"] > 0


# ---------------------------------------------------------------- errors


def test_lake_errors_are_one_line_and_exit_2(small: dict[str, Any], run_cli: Any, tmp_path: Path) -> None:  # fmt: skip
    lake: Path = small["lake"]
    code, _, err = run_cli("--lake", str(lake), "report")
    assert code == 2 and "no lake at" in err and "llmcost export --lake" in err
    assert run_cli(*small["args"], "export", "--lake", str(lake))[0] == 0
    for args, words in [
        (["--lake", str(lake), "ingest", "x.jsonl"], "ingest works on the database"),
        (["--lake", str(lake), "export", "--lake", str(tmp_path / "l2")], "export --lake works on the database"),
        (["--db", "x.duckdb", "--lake", str(lake), "report"], "not both"),
        (["export"], "give --lake DIR"),
    ]:  # fmt: skip
        code, _, err = run_cli(*args)
        assert code == 2 and words in err and err.count("\n") == 1, (args, err)
    (tmp_path / "afile").write_text("x")
    code, _, err = run_cli("export", "--lake", str(tmp_path / "afile"))
    assert code == 2 and "is a file" in err
    manifest = lake / "_manifest.json"
    manifest.write_text(json.dumps({"format": "llmcost.lake/9"}))
    code, _, err = run_cli("--lake", str(lake), "report")
    assert code == 2 and "llmcost.lake/9" in err and "Traceback" not in err
    manifest.write_text("{not json")
    code, _, err = run_cli("--lake", str(lake), "report")
    assert code == 2 and "cannot read the lake manifest" in err


def test_what_spark_cannot_run_is_refused_before_a_session(
    small: dict[str, Any], run_cli: Any
) -> None:
    lake: Path = small["lake"]
    assert run_cli(*small["args"], "export", "--lake", str(lake))[0] == 0
    spark = ["--lake", str(lake), "--engine", "spark"]
    for args, words in [
        (["--engine", "spark", "report"], "--engine spark reads a lake"),
        ([*spark, "reconcile"], "reconcile does not run on Spark"),
        ([*spark, "report", "--format", "html"], "report --format html does not run on Spark"),
        ([*spark, "report", "--source", "exports"], "--source exports does not run on Spark"),
        ([*spark, "whatif", "--max-steps", "3"], "whatif --max-steps does not run on Spark"),
        ([*spark, "whatif", "--suggest"], "whatif --suggest does not run on Spark"),
        (["--lake", str(lake), "--engine", "presto", "report"], "unknown --engine 'presto'"),
    ]:
        code, _, err = run_cli(*small["args"], *args)
        assert code == 2 and words in err and err.count("\n") == 1, (args, err)
