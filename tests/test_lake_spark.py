"""--engine spark: the metric code's statements transpiled to Spark SQL (the rewrites one by one),
and report and whatif over a lake on Spark local[2] giving DuckDB's JSON (money to 1e-9 USD,
percentiles exactly). A handful of small cases sharing one session: Spark is slow to start.

Without the extra (`pip install 'llmcost[spark]'`) or Java these tests skip and say why; with
LLMCOST_REQUIRE_SPARK=1 (set by .ci/run) a skip is a failure, so CI cannot pass without them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.test_lake import _doc, _same

EXTRA = "the Spark engine's extra is absent: pip install 'llmcost[spark]'"


def _absent(reason: str) -> None:
    if os.environ.get("LLMCOST_REQUIRE_SPARK") == "1":
        pytest.fail(f"LLMCOST_REQUIRE_SPARK=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _sqlglot() -> None:
    try:
        import sqlglot  # noqa: F401
    except ImportError:
        _absent(EXTRA)


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """The one SparkSession (local[2]) of the test run; each CLI call below finds it."""
    _sqlglot()
    try:
        import pyspark  # noqa: F401
    except ImportError:
        _absent(EXTRA)
    if shutil.which("java") is None:
        _absent("Spark needs Java 17 (Debian: openjdk-17-jre-headless)")
    from llmcost.spark import session

    spark = session("local[2]", [])
    yield spark
    spark.stop()


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
def spark_lake(spark_session: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic company exported to a lake."""
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
    return base / "lake"


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
    spark_session: Any, run_cli: Any, tmp_path: Path, test_prices: Path
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


def test_whatif_s_rewrites_are_spark_s() -> None:
    """Hex digits, sorted distinct lists, and `* REPLACE` as the columns Spark says the FROM has."""
    _sqlglot()
    from llmcost.spark import to_spark

    assert to_spark("SELECT CAST(('0x' || left(md5(r), 8)) AS UBIGINT) < 7 FROM t") == (
        "SELECT CAST(CONV(LEFT(MD5(r), 8), 16, 10) AS DECIMAL(20, 0)) < 7 FROM t"
    )
    listed = "ARRAY_SORT(COLLECT_SET(m) FILTER(WHERE NOT p))"
    assert to_spark("SELECT list(DISTINCT m ORDER BY m) FILTER (WHERE NOT p) FROM t") == (
        f"SELECT CASE WHEN SIZE({listed}) > 0 THEN {listed} END FROM t"
    )
    probes: list[str] = []

    def columns(sql: str) -> list[str]:
        probes.append(sql)
        return ["rid", "Model", "batch", "routed"]

    sql = (
        "WITH g AS (SELECT 1 AS rid), t AS (SELECT * REPLACE (upper(model) AS model, batch OR routed"
        " AS batch) FROM (SELECT *, true AS routed FROM g)) SELECT * FROM t"
    )
    assert to_spark(sql, columns) == (
        "WITH g AS (SELECT 1 AS rid), t AS (SELECT `rid`, UPPER(model) AS model, batch OR routed"
        " AS batch, `routed` FROM (SELECT *, TRUE AS routed FROM g)) SELECT * FROM t"
    )
    # the probe: the CTEs before, the same FROM, no rows
    assert probes == ["WITH g AS (SELECT 1 AS rid) SELECT * FROM (SELECT *, TRUE AS routed FROM g) LIMIT 0"]  # fmt: skip


WHATIF_CASES = [
    ["--route-to", "haiku", "--feature", "support-chat"],
    ["--route-to", "gpt-4.1-mini", "--share", "0.5", "--by", "feature,model"],
    ["--batch", "--by", "customer"],
    ["--max-output-tokens", "300", "--by", "feature"],
    ["--compress-input", "0.3", "--by", "model,tier", "--since", "2026-09-01"],
    ["--cache-hit-rate", "0.123456789", "--batch", "--feature", "summarize", "--by", "month"],
    # every supported lever at once, on a --where scope
    ["--route-to", "haiku", "--share", "0.3", "--batch", "--max-output-tokens", "500",
     "--compress-input", "0.15", "--cache-hit-rate", "0.2", "--cache-lookup-cost", "0.0001",
     "--where", "plan!=free", "--by", "feature,month"],
]  # fmt: skip


@pytest.mark.parametrize("args", WHATIF_CASES, ids=[" ".join(a) for a in WHATIF_CASES])
def test_spark_whatif_gives_duckdb_s_json(
    spark_lake: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("LLMCOST_NOW", "2026-11-22T10:00:00Z")
    code, duck, err = run_cli("--lake", str(spark_lake), "whatif", *args, "-f", "json")
    assert code == 0, err
    spark = ["--lake", str(spark_lake), "--engine", "spark", "--spark-master", "local[2]"]
    code, out, err = run_cli(*spark, "whatif", *args, "-f", "json")
    assert code == 0, err
    doc, want = _doc(out), _doc(duck)
    _same(doc, want)
    t = doc["totals"]
    assert t["scope_requests"] and t["savings_usd"] and t["scope_scenario_cost_usd"] is not None


TWO_MODELS = """
[[models]]
id = "lc-test"
provider = "test"
tier = "frontier"
[[models.prices]]
effective_from = 2026-01-01
input = 1.00
output = 2.00
batch_discount = 0.5
[[models]]
id = "lc-small"
provider = "test"
tier = "small"
[[models.prices]]
effective_from = 2026-01-01
input = 0.25
output = 0.50
batch_discount = 0.5
"""


def test_spark_whatif_levers_by_hand(spark_session: Any, run_cli: Any, tmp_path: Path) -> None:
    """Route, compress, output cap, batch and a semantic cache on Spark, against hand arithmetic."""
    from tests.conftest import write_jsonl

    (tmp_path / "prices.toml").write_text(TWO_MODELS)
    write_jsonl(tmp_path / "r.jsonl", [
        {"request_id": "r1", "timestamp": "2026-03-02T10:00:00Z", "model": "lc-test",
         "feature": "chat", "input_tokens": 1000, "output_tokens": 500},  # $0.002
        {"request_id": "r2", "timestamp": "2026-03-02T11:00:00Z", "model": "lc-test",
         "feature": "chat", "input_tokens": 2000, "output_tokens": 100},  # $0.0022
        {"request_id": "r3", "timestamp": "2026-03-03T10:00:00Z", "model": "lc-test",
         "feature": "other", "input_tokens": 4000, "output_tokens": 1000},  # $0.006
        *({"request_id": f"x{i}", "timestamp": "2026-03-03T12:00:00Z", "model": m,
           "feature": "other", "input_tokens": 10, "output_tokens": 10}
          for i, m in enumerate(["zz-unpriced", "aa-unpriced", "zz-unpriced"])),
    ])  # fmt: skip
    prices = ["--pricing", str(tmp_path / "prices.toml")]
    assert run_cli(*prices, "ingest", "-q", str(tmp_path / "r.jsonl"))[0] == 0
    assert run_cli(*prices, "export", "--lake", str(tmp_path / "lake"))[0] == 0
    spark = ["--lake", str(tmp_path / "lake"), "--engine", "spark", "--spark-master", "local[2]"]
    levers = ["--feature", "chat", "--route-to", "lc-small", "--compress-input", "0.5",
              "--max-output-tokens", "200", "--batch", "--cache-hit-rate", "0.25"]  # fmt: skip
    code, out, err = run_cli(*prices, *spark, "whatif", *levers, "-f", "json")
    assert code == 0, err
    doc = _doc(out)
    t = doc["totals"]
    # r1: 500 in x $0.25 + 200 out x $0.50 per 1M = $0.000225, batch x 0.5, cache x 0.75 = $0.000084375
    # r2: 1000 x 0.25 + 100 x 0.50 = $0.0003 x 0.5 x 0.75 = $0.0001125; r3 out of scope: $0.006
    assert t["requests"] == 6 and t["scope_requests"] == 2
    assert doc["coverage"]["unpriced_models"] == ["aa-unpriced", "zz-unpriced"]
    assert t["baseline_cost_usd"] == pytest.approx(0.0102, abs=1e-12)
    assert t["scope_baseline_cost_usd"] == pytest.approx(0.0042, abs=1e-12)
    assert t["scope_scenario_cost_usd"] == pytest.approx(0.000196875, abs=1e-12)
    assert t["scenario_cost_usd"] == pytest.approx(0.006196875, abs=1e-12)
    assert t["savings_usd"] == pytest.approx(0.004003125, abs=1e-12)
    duck = run_cli(*prices, "--lake", str(tmp_path / "lake"), "whatif", *levers, "-f", "json")
    _same(doc, _doc(duck[1]))


def test_spark_gives_a_task_the_feature_of_its_first_step_naming_one(
    spark_session: Any, run_cli: Any, tmp_path: Path
) -> None:
    """Task t's first step logs no feature: DuckDB's arg_min skips it, Spark's min_by would not."""
    from tests.conftest import write_jsonl

    (tmp_path / "prices.toml").write_text(TWO_MODELS)
    write_jsonl(tmp_path / "r.jsonl", [
        {"request_id": f"s{i}", "timestamp": f"2026-03-02T10:0{i}:00Z", "model": "lc-test",
         "task_id": "t", "step": i, "input_tokens": 1000, "output_tokens": 0,
         **({"feature": "chat"} if i == 2 else {})}
        for i in (1, 2)
    ])  # fmt: skip
    prices = ["--pricing", str(tmp_path / "prices.toml")]
    assert run_cli(*prices, "ingest", "-q", str(tmp_path / "r.jsonl"))[0] == 0
    assert run_cli(*prices, "export", "--lake", str(tmp_path / "lake"))[0] == 0
    window = ["--since", "2026-03-01", "--until", "2026-04-01"]
    spark = ["--lake", str(tmp_path / "lake"), "--engine", "spark", "--spark-master", "local[2]"]
    for engine in ([], spark):
        code, out, err = run_cli(*prices, *engine, "report", *window, "-f", "json")
        assert code == 0, err
        tasks = {r["feature"]: r["tasks"] for r in _doc(out)["tasks"]}
        assert tasks == {"(all)": 1, "chat": 1}, engine


@pytest.mark.parametrize(
    "lever",
    [["--max-steps", "3"], ["--cap-user-cost", "5"], ["--prompt-cache", "800"],
     ["--plan-price", "pro=99"], ["--suggest"], ["--all"]],
    ids=lambda a: a[0],
)  # fmt: skip
def test_whatif_levers_not_on_spark_say_so(run_cli: Any, tmp_path: Path, lever: list[str]) -> None:
    """Levers that are not a per-request re-pricing: one line, exit 2, before any session."""
    code, out, err = run_cli("--lake", str(tmp_path), "--engine", "spark", "whatif", *lever)
    assert code == 2 and out == ""
    assert err.startswith(f"llmcost: error: whatif {lever[0]} does not run on Spark")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_configured_scenario_with_a_lever_not_on_spark(run_cli: Any, tmp_path: Path) -> None:
    (tmp_path / "llmcost.toml").write_text("[scenarios.steps]\nmax_steps = 4\n")
    cfg = ["--config", str(tmp_path / "llmcost.toml")]
    code, _, err = run_cli(*cfg, "--lake", str(tmp_path), "--engine", "spark", "whatif", "steps")
    assert code == 2 and "whatif --max-steps does not run on Spark" in err
