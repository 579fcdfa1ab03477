"""--engine spark: the metric code's statements transpiled to Spark SQL (the rewrites one by one),
and report over a lake on Spark local[2] giving DuckDB's JSON (money to 1e-9 USD,
percentiles exactly). A handful of small cases sharing one session: Spark is slow to start."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.test_lake import _doc, _same


def _sqlglot() -> None:
    pytest.importorskip("sqlglot", reason="the Spark engine's extra is absent: pip install 'llmcost[spark]'")  # fmt: skip


def test_quantiles_are_spark_s_exact_percentile() -> None:
    _sqlglot()
    from llmcost.spark import to_spark

    out = to_spark("SELECT quantile_cont(x, [0.5, 0.9, 0.99]) AS q, quantile_cont(y, 0.5) FROM t")
    assert out == "SELECT PERCENTILE(x, ARRAY(0.5, 0.9, 0.99)) AS q, PERCENTILE(y, 0.5) FROM t"
    assert "APPROX" not in out.upper()


def test_epochs_limits_and_positions_keep_duckdb_s_meaning() -> None:
    _sqlglot()
    from llmcost.spark import bind, to_spark

    assert to_spark("SELECT epoch_ms(ts), epoch(d) FROM t") == (
        "SELECT UNIX_MILLIS(CAST(ts AS TIMESTAMP)), UNIX_MICROS(CAST(d AS TIMESTAMP)) / 1e6 FROM t"
    )
    assert to_spark("SELECT fsum(x) FROM t") == "SELECT SUM(x) FROM t"
    assert to_spark("SELECT x::HUGEINT, y::UBIGINT FROM t") == (
        "SELECT CAST(x AS DECIMAL(38, 0)), CAST(y AS DECIMAL(20, 0)) FROM t"
    )
    # DuckDB sums BIGINTs into a HUGEINT; Spark's BIGINT sum wraps past 2^63 (the cost units of
    # ~$4,600: 1M requests pass it), so computed integers are DECIMAL(38,0) there
    assert to_spark("SELECT sum(CAST(n * 2.0 AS BIGINT)) FROM t") == (
        "SELECT SUM(CAST(n * 2.0 AS DECIMAL(38, 0))) FROM t"
    )
    assert to_spark("SELECT list_position([5, 7], x) FROM t") == (
        "SELECT NULLIF(ARRAY_POSITION(ARRAY(5, 7), x), 0) FROM t"
    )
    top = to_spark("SELECT * FROM c ORDER BY cost DESC LIMIT (SELECT ceil(count(*) * 0.2) FROM c)")
    assert top == (
        "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (ORDER BY cost DESC) AS lc_rn FROM c) AS lc_top"
        " WHERE lc_rn <= (SELECT CEIL(COUNT(*) * 0.2) FROM c)"
    )
    # parameters become literals, a ? inside a string stays as it is
    assert bind("SELECT ? , '?', ?", ["it's", None]) == "SELECT 'it''s' , '?', NULL"


@pytest.fixture(scope="module")
def spark_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small synthetic company exported to a lake; the Spark session stopped at the end."""
    _sqlglot()
    pytest.importorskip("pyspark", reason="the Spark engine's extra is absent: pip install 'llmcost[spark]'")  # fmt: skip
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java 17 (Debian: openjdk-17-jre-headless)")
    from llmcost import lake, pricing
    from llmcost.ingest import ingest_paths
    from llmcost.store import connect
    from llmcost.synth import generate

    base = tmp_path_factory.mktemp("spark-lake")
    generate(base / "logs", requests=400, seed=13)
    con = connect(base / "db.duckdb")
    ingest_paths(con, [str(base / "logs")])
    lake.export(con, pricing.load([]), str(base / "lake"))
    con.close()
    yield base / "lake"
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


SPARK_CASES = [
    ["report"],
    ["report", "--by", "feature,customer,user,month", "--allocate", "cost"],
    ["report", "--by", "model,plan", "--where", "plan!=free", "--since", "2026-09-01"],
]


@pytest.mark.parametrize("args", SPARK_CASES, ids=[" ".join(a) for a in SPARK_CASES])
def test_spark_gives_duckdb_s_json(
    spark_lake: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("LLMCOST_NOW", "2026-11-22T10:00:00Z")
    code, duck, err = run_cli("--lake", str(spark_lake), *args, "-f", "json")
    assert code == 0, err
    spark = ["--lake", str(spark_lake), "--engine", "spark", "--spark-master", "local[2]"]
    code, out, err = run_cli(*spark, *args, "-f", "json")
    assert code == 0, err
    doc = _doc(out)
    _same(doc, _doc(duck))
    assert doc["totals"]["requests"] and doc["totals"]["cost_usd"]


def test_spark_sums_past_two_to_the_63_cost_units(
    spark_lake: Path, run_cli: Any, tmp_path: Path, test_prices: Path
) -> None:
    """DuckDB sums BIGINT cost units into a HUGEINT; Spark's BIGINT sum would wrap past 2^63."""
    from tests.conftest import write_jsonl

    # 1,100 requests of 2.2M output tokens at $2 per 1M: $4.40 each (4.4 x 2e15 = 8.8e15 units,
    # under 2^53), $4,840 in all: 9.68e18 units, past 2^63 = 9.22e18
    write_jsonl(tmp_path / "big.jsonl", [
        {"request_id": f"r{i}", "timestamp": "2026-03-02T10:00:00Z", "model": "lc-test",
         "feature": "bulk", "input_tokens": 0, "output_tokens": 2_200_000}
        for i in range(1100)
    ])  # fmt: skip
    prices = ["--pricing", str(test_prices)]
    assert run_cli(*prices, "ingest", "-q", str(tmp_path / "big.jsonl"))[0] == 0
    assert run_cli(*prices, "export", "--lake", str(tmp_path / "lake"))[0] == 0
    spark = ["--lake", str(tmp_path / "lake"), "--engine", "spark", "--spark-master", "local[2]"]
    code, out, err = run_cli(*prices, *spark, "report", "--by", "feature", "-f", "json")
    assert code == 0, err
    doc = _doc(out)
    assert doc["totals"]["cost_usd"] == pytest.approx(4840.0, abs=1e-9)
    assert doc["rows"][0]["cost_usd"] == pytest.approx(4840.0, abs=1e-9)
    duck = run_cli(
        *prices, "--lake", str(tmp_path / "lake"), "report", "--by", "feature", "-f", "json"
    )
    _same(doc, _doc(duck[1]))
