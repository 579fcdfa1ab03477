"""The Python API: the same documents as the CLI's JSON, tables as DataFrames, requests as a LazyFrame."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import llmcost
from llmcost.errors import LlmcostError

pl = pytest.importorskip("polars")


def cli_json(run_cli: Any, *args: str) -> dict[str, Any]:
    code, out, err = run_cli(*args, "--format", "json")
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def same(doc: dict[str, Any], cli: dict[str, Any]) -> None:
    """Equal but for the time each was generated."""
    assert {k: v for k, v in doc.items() if k != "generated_at"} == {
        k: v for k, v in cli.items() if k != "generated_at"
    }


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from llmcost.synth import generate

    out = tmp_path_factory.mktemp("synth")
    generate(out, requests=3000, seed=11, months=2, compress=False)
    return out


@pytest.fixture
def db(run_cli: Any, synth_dir: Path, tmp_path: Path) -> Path:
    path = tmp_path / "db" / "llmcost.duckdb"
    code, _, err = run_cli("ingest", "-q", str(synth_dir))
    assert code == 0, err
    return path


@pytest.mark.parametrize(
    "args, call",
    [
        ((), {}),
        (("--by", "feature,model"), {"by": ["feature", "model"]}),
        (("--by", "customer", "--where", "feature=support-chat"), {"by": "customer", "where": "feature=support-chat"}),
        (("--by", "month", "--since", "2026-09-01"), {"by": "month", "since": "2026-09-01"}),
        (("--by", "feature", "--allocate", "cost"), {"by": "feature", "allocate": "cost"}),
    ],
)  # fmt: skip
def test_report_is_the_cli_json(run_cli: Any, db: Path, args: tuple[str, ...], call: Any) -> None:
    cli = cli_json(run_cli, "report", *args)
    with llmcost.open(db) as store:
        same(store.report(**call).doc, cli)


def test_whatif_and_reconcile_are_the_cli_json(run_cli: Any, db: Path) -> None:
    route = cli_json(
        run_cli,
        "whatif",
        "--route-to",
        "claude-haiku-4-5",
        "--feature",
        "support-chat",
        "--by",
        "feature",
    )
    batch = cli_json(run_cli, "whatif", "--batch", "--max-output-tokens", "300")
    suggest = cli_json(run_cli, "whatif", "--suggest")
    rec = cli_json(run_cli, "reconcile", "--by", "day")
    with llmcost.open(db) as store:
        same(
            store.whatif(route_to="claude-haiku-4-5", feature="support-chat", by="feature").doc,
            route,
        )
        same(store.whatif(batch=True, max_output_tokens=300).doc, batch)
        same(store.whatif(suggest=True).doc, suggest)
        same(store.reconcile("day").doc, rec)


def test_tables_are_dataframes(db: Path) -> None:
    with llmcost.open(db) as store:
        doc = store.report(by="feature")
        df = doc.df
        assert isinstance(df, pl.DataFrame)
        assert df.height == len(doc["rows"])
        assert df["feature"].to_list() == [r["feature"] for r in doc["rows"]]
        assert df["cost_usd"].sum() == pytest.approx(doc.totals["cost_usd"], abs=1e-9)
        assert "cost by feature" in doc.frames
        summary = store.report()
        assert "unit economics" in summary.frames and "per month" in summary.frames


def test_requests_lazyframe_sums_to_the_report(db: Path) -> None:
    with llmcost.open(db) as store:
        # as the CLI: the summary is the last full month of the data, beside the one before
        summary = store.report()
        window = summary["window"]
        assert summary["window_rule"] == "last full month"
        lf = store.requests(since=window["since"], until=window["until"])
        assert isinstance(lf, pl.LazyFrame)
        total = summary.totals
        got = lf.select(pl.col("cost_usd").sum(), pl.len()).collect()
        assert got["len"][0] == total["requests"]
        assert got["cost_usd"][0] == pytest.approx(total["cost_usd"], abs=1e-9)
        per_feature = (
            store.requests(since="2026-09-01", where=["feature=support-chat"])
            .select(pl.col("cost_usd").sum(), pl.len())
            .collect()
        )
        rep = store.report(by="feature", since="2026-09-01", where="feature=support-chat")
        assert per_feature["len"][0] == rep["rows"][0]["requests"]
        assert per_feature["cost_usd"][0] == pytest.approx(rep["rows"][0]["cost_usd"], abs=1e-9)


def test_requests_hand_priced(run_cli: Any, jsonl: Any, test_prices: Path, tmp_path: Path) -> None:
    # lc-test: $1 input, $0.10 cache read, $1.25 cache write, $2 output per 1M tokens.
    #   a: 700,000 uncached x 1 + 200,000 read x 0.10 + 100,000 written x 1.25 + 500,000 out x 2
    #      = 0.70 + 0.02 + 0.125 + 1.00 = $1.845
    #   b: a model with no price: cost NULL, not 0
    log = jsonl([
        {"request_id": "a", "timestamp": "2026-08-01T10:00:00Z", "model": "lc-test", "feature": "chat",
         "input_tokens": 1_000_000, "cache_read_tokens": 200_000, "cache_write_tokens": 100_000, "output_tokens": 500_000},
        {"request_id": "b", "timestamp": "2026-08-02T10:00:00Z", "model": "nobody-prices-me", "feature": "chat",
         "input_tokens": 10, "output_tokens": 10},
    ])  # fmt: skip
    code, _, err = run_cli("ingest", "-q", str(log))
    assert code == 0, err
    with llmcost.open(tmp_path / "db" / "llmcost.duckdb", pricing=[test_prices]) as store:
        lf = store.requests()
        rows = {r["request_id"]: r for r in lf.sort("request_id").collect().to_dicts()}
        assert rows["a"]["cost_usd"] == pytest.approx(1.845, abs=1e-12)
        assert rows["a"]["price_model"] == "lc-test"
        assert rows["b"]["cost_usd"] is None
        # projection, limit and a polars filter are pushed into the one DuckDB query
        assert lf.select("request_id").head(1).collect().columns == ["request_id"]
        assert lf.filter(pl.col("cost_usd") > 1).select("request_id").collect()[
            "request_id"
        ].to_list() == ["a"]
        assert lf.filter(pl.col("cost_usd").is_null()).head(5).collect().height == 1


def test_open_without_a_database_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(LlmcostError, match="no database at"):
        llmcost.open(tmp_path / "missing.duckdb")


def test_bad_arguments_are_llmcost_errors(db: Path) -> None:
    with llmcost.open(db) as store:
        with pytest.raises(LlmcostError, match="unknown --by"):
            store.report(by="colour")
        with pytest.raises(LlmcostError, match="--where"):
            store.requests(where="colour")
        with pytest.raises(LlmcostError, match="no lever"):
            store.whatif()


def test_import_llmcost_stays_light() -> None:
    code = (
        "import sys, llmcost; heavy = [m for m in ('duckdb', 'pyarrow', 'polars') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_configured_scenarios_are_the_cli_json(run_cli: Any, db: Path, tmp_path: Path) -> None:
    (tmp_path / "llmcost.toml").write_text(
        '[scenarios.cheap-chat]\nroute_to = "claude-haiku-4-5"\nfeature = "support-chat"\n\n'
        "[scenarios.batch-all]\nbatch = true\n"
    )
    every = cli_json(run_cli, "whatif", "--all")
    named = cli_json(run_cli, "whatif", "cheap-chat", "--by", "model")
    with llmcost.open(db) as store:
        same(store.whatif(compare_all=True).doc, every)
        same(store.whatif("cheap-chat", by="model").doc, named)
        assert {r["name"] for r in store.whatif(compare_all=True)["rows"]} >= {
            "cheap-chat",
            "batch-all",
        }


def test_report_on_usage_exports_is_the_cli_json(run_cli: Any, tmp_path: Path) -> None:
    usage = Path(__file__).resolve().parents[1] / "sample_logs" / "providers" / "openai_usage"
    code, _, err = run_cli("ingest", "-q", str(usage))
    assert code == 0, err
    cli = cli_json(run_cli, "report", "--by", "model,day")  # no request logs: the exports
    with llmcost.open(tmp_path / "db" / "llmcost.duckdb") as store:
        doc = store.report(by="model,day")
        same(doc.doc, cli)
        assert doc["source"] == "exports" and doc.df.height == len(cli["rows"])


def test_windows_take_datetimes(db: Path) -> None:
    from datetime import UTC, date, datetime, timedelta, timezone

    with llmcost.open(db) as store:
        as_text = store.requests(since="2026-09-01", until="2026-10-01").select(pl.len()).collect()
        # 02:00 at UTC+2 is midnight UTC
        aware = datetime(2026, 9, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
        as_dt = store.requests(since=aware, until=date(2026, 10, 1)).select(pl.len()).collect()
        assert as_text["len"][0] == as_dt["len"][0] > 0
        naive = datetime(2026, 9, 1, tzinfo=UTC).replace(tzinfo=None)
        assert store.report(since=naive, until="2026-10-01").totals["requests"] == as_text["len"][0]
