"""FOCUS in: a cloud's FOCUS cost file (CSV or Parquet) lands its AI rows in the billed table and
`reconcile` lines them up against the request logs.

The fixtures under sample_logs/providers/focus/ are made from the FOCUS column definitions and each
cloud's documented export columns (AWS Data Exports FOCUS 1.2 with x_UsageType; Microsoft Cost
Management FOCUS 1.0 with x_SkuMeterName; Google Cloud's FOCUS export); requests.jsonl holds the
request logs of the same days. Every amount below is worked out by hand.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

FOCUS = Path(__file__).resolve().parents[1] / "sample_logs" / "providers" / "focus"
REQUESTS = FOCUS / "requests.jsonl"
AWS = FOCUS / "aws_bedrock_focus_1.2.csv"
AZURE = FOCUS / "azure_openai_focus_1.0.csv"
GCP = FOCUS / "gcp_vertex_focus_1.0.csv"


def ingest(run_cli: Any, *paths: Path | str, ok: int = 0) -> dict[str, Any]:
    code, out, err = run_cli("ingest", "-q", "--format", "json", *map(str, paths))
    assert code == ok, err
    return json.loads(out)  # type: ignore[no-any-return]


def reconcile(run_cli: Any, *args: str) -> dict[str, Any]:
    code, out, err = run_cli("reconcile", "--by", "day", "--format", "json", *args)
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def only_row(doc: dict[str, Any], provider: str) -> dict[str, Any]:
    rows = [r for r in doc["rows"] if r["provider"] == provider]
    assert len(rows) == 1, doc["rows"]
    return rows[0]


def test_bedrock_focus_reconciles(run_cli: Any) -> None:
    summary = ingest(run_cli, REQUESTS, AWS)
    aws = next(f for f in summary["files"] if f["path"].endswith(AWS.name))
    # three Bedrock rows; the EC2 row is another service's, passed over (not read)
    assert (aws["format"], aws["read"], aws["loaded"]) == ("focus_csv", 3, 3)
    row = only_row(reconcile(run_cli), "bedrock")
    # Claude 3.5 Haiku on Bedrock: $0.80 in, $0.08 cache read, $4 out per 1M tokens
    #   logs: bed-1 1,000,000 x 0.80 + 200,000 x 0.08 + 100,000 x 4 = 0.80 + 0.016 + 0.40 = 1.216
    #         bed-2   300,000 x 0.80 + 50,000 x 4 = 0.24 + 0.20 = 0.44            -> 1.656
    #   bill: 1.04 input + 0.016 cache read + 0.65 output (162.5K tokens)       -> 1.706
    assert (
        row["model"] == "anthropic.claude-3-5-haiku-20241022-v1:0"
    )  # from the inference-profile ARN
    assert row["period"] == "2026-11-03"
    assert row["logged_cost_usd"] == pytest.approx(1.656, abs=1e-9)
    assert row["billed_cost_usd"] == pytest.approx(1.706, abs=1e-9)
    assert row["gap_usd"] == pytest.approx(0.05, abs=1e-9)


def test_azure_openai_focus_reconciles(run_cli: Any) -> None:
    ingest(run_cli, REQUESTS, AZURE)
    row = only_row(reconcile(run_cli), "azure")
    # gpt-4o-mini on azure, priced at Azure's rates (azure/gpt-4o-mini: $0.15 in, $0.075 cached, $0.60 out per 1M):
    #   az-1: 1,000,000 x 0.15 + 1,000,000 x 0.075 + 500,000 x 0.60 = 0.15 + 0.075 + 0.30 = 0.525
    #   bill: meters gpt-4o-mini-0718-{Inp,cchd-Inp,Outp}-glbl: 0.15 + 0.075 + 0.30 = 0.525
    assert row["model"] == "azure/gpt-4o-mini"  # logs and bill keyed by the model at their host
    assert row["logged_cost_usd"] == pytest.approx(0.525, abs=1e-9)
    assert row["billed_cost_usd"] == pytest.approx(0.525, abs=1e-9)
    assert row["gap_usd"] == pytest.approx(0.0, abs=1e-9)


def test_vertex_focus_reconciles_with_a_credit(run_cli: Any) -> None:
    ingest(run_cli, REQUESTS, GCP)
    row = only_row(reconcile(run_cli), "vertex_ai")
    # gemini-2.5-flash on Vertex (vertex_ai/gemini-2.5-flash): $0.30 in, $0.03 cache read, $2.50 out per 1M
    #   vx-1: 1,000,000 x 0.30 + 200,000 x 2.50 = 0.30 + 0.50 = 0.80
    #   vx-2: 100,000 x 0.30 + 400,000 x 0.03 + 20,000 x 2.50 = 0.03 + 0.012 + 0.05 = 0.092  -> 0.892
    #   bill: 0.33 + 0.012 + 0.55 - 0.10 (a credit row) = 0.792
    assert row["model"] == "vertex_ai/gemini-2.5-flash"
    assert row["logged_cost_usd"] == pytest.approx(0.892, abs=1e-9)
    assert row["billed_cost_usd"] == pytest.approx(0.792, abs=1e-9)
    assert row["gap_usd"] == pytest.approx(-0.10, abs=1e-9)


def test_token_kinds_and_fields(run_cli: Any, tmp_path: Path) -> None:
    ingest(run_cli, AWS, AZURE, GCP)
    from llmcost.store import connect

    con = connect(tmp_path / "db" / "llmcost.duckdb")
    rows = con.execute(
        "SELECT provider, model, token_kind, cost_type, amount_usd, project, quantity, quantity_unit "
        "FROM billed ORDER BY provider, amount_usd"
    ).fetchall()
    con.close()
    kinds = {(p, m, k, float(a)) for p, m, k, _, a, *_ in rows}
    assert ("azure", "gpt-4o-mini", "cache_read", 0.075) in kinds
    assert ("azure", "gpt-4o-mini", "output", 0.30) in kinds
    assert ("bedrock", "us.anthropic.claude-3-5-haiku-20241022-v1:0", "cache_read", 0.016) in kinds
    assert ("vertex_ai", "gemini-2.5-flash", "cache_read", 0.012) in kinds
    assert ("vertex_ai", "gemini-2.5-flash", "input", -0.10) in kinds
    assert {r[5] for r in rows if r[0] == "bedrock"} == {"123456789012"}  # SubAccountId
    assert {(r[6], r[7]) for r in rows if r[0] == "bedrock" and r[2] == "output"} == {
        (162.5, "1K tokens")
    }


def test_parquet_is_read_and_is_the_same_rows(run_cli: Any, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with AWS.open(newline="") as fh:
        records = list(csv.DictReader(fh))
    table = pa.Table.from_pylist([{k: (v or None) for k, v in r.items()} for r in records])
    path = tmp_path / "aws.parquet"
    pq.write_table(table, path)
    first = ingest(run_cli, REQUESTS, path)
    assert first["files"][1]["format"] == "focus_parquet" and first["files"][1]["loaded"] == 3
    again = ingest(run_cli, AWS)  # the same rows as CSV: duplicates
    assert (again["totals"]["loaded"], again["totals"]["duplicates"]) == (0, 3)
    assert only_row(reconcile(run_cli), "bedrock")["billed_cost_usd"] == pytest.approx(
        1.706, abs=1e-9
    )


def test_a_reissued_bill_replaces_the_rows(run_cli: Any, tmp_path: Path) -> None:
    ingest(run_cli, REQUESTS, AZURE)
    text = AZURE.read_text().replace(",0.30,", ",0.36,")  # the output meter re-billed at $0.36
    reissued = tmp_path / "azure_reissued.csv"
    reissued.write_text(text)
    summary = ingest(run_cli, reissued)
    assert (summary["totals"]["loaded"], summary["totals"]["duplicates"]) == (1, 2)
    assert only_row(reconcile(run_cli), "azure")["billed_cost_usd"] == pytest.approx(
        0.585, abs=1e-9
    )


def test_bad_rows_are_rejected_with_their_reason(run_cli: Any, tmp_path: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(AZURE.read_text())))
    rows[0]["BillingCurrency"] = "EUR"
    rows[0]["x_BilledCostInUsd"] = ""  # no USD amount beside it
    rows[1]["BilledCost"] = "twelve"
    rows[2]["ChargePeriodStart"] = ""
    path = tmp_path / "bad.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = ingest(run_cli, path)
    assert (summary["totals"]["read"], summary["totals"]["rejected"]) == (3, 3)
    code, out, _ = run_cli("ingest", "--show-rejects", "--format", "json")
    assert code == 0
    reasons = json.dumps(json.loads(out))
    assert "BillingCurrency EUR is not USD" in reasons
    assert "BilledCost must be a number" in reasons
    assert "missing ChargePeriodStart" in reasons
    code, _, _ = run_cli(
        "--db", str(tmp_path / "strict.duckdb"), "ingest", "-q", "--strict", str(path)
    )
    assert code == 1


def test_azure_rows_billed_in_another_currency_use_the_usd_column(
    run_cli: Any, tmp_path: Path
) -> None:
    rows = list(csv.DictReader(io.StringIO(AZURE.read_text())))
    for row in rows:  # the same bill in euros; Microsoft's export keeps the USD amount beside it
        row["BillingCurrency"] = "EUR"
        row["BilledCost"] = str(round(float(row["BilledCost"]) * 0.9, 6))
    path = tmp_path / "azure_eur.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    ingest(run_cli, REQUESTS, path)
    assert only_row(reconcile(run_cli), "azure")["billed_cost_usd"] == pytest.approx(
        0.525, abs=1e-9
    )


def test_a_parquet_file_that_is_not_focus_is_an_error(run_cli: Any, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), path)
    code, _, err = run_cli("ingest", "-q", str(path))
    assert code == 2
    assert "without the FOCUS columns" in err and "Traceback" not in err


def test_the_specs_ai_example_shape(run_cli: Any, tmp_path: Path) -> None:
    # The shape of the FOCUS AI billing examples: SkuPriceDetails names the model and the token
    # direction and cache action; ServiceProviderName / HostProviderName (1.3+) name the seller.
    head = ("BilledCost,BillingCurrency,ChargeCategory,ChargePeriodStart,ChargePeriodEnd,ConsumedQuantity,ConsumedUnit,"
            "HostProviderName,ServiceCategory,ServiceName,ServiceProviderName,ServiceSubcategory,SkuMeter,SkuPriceDetails,SkuPriceId")  # fmt: skip

    def line(cost: str, qty: str, meter: str, details: dict[str, str]) -> str:
        blob = json.dumps({"ModelId": "claude-sonnet-4-5", **details}).replace('"', '""')
        return (f"{cost},USD,Usage,2026-11-06T00:00:00Z,2026-11-07T00:00:00Z,{qty},Tokens,Anthropic,"
                f'AI and Machine Learning,Claude API,Anthropic,Generative AI,{meter},"{blob}",sp-{meter[:5]}')  # fmt: skip

    path = tmp_path / "anthropic_focus.csv"
    path.write_text("\n".join([
        head,
        line("0.15", "50000", "Input Tokens", {"TokenDirection": "Input", "TokenCacheAction": "Uncached"}),
        line("0.015", "50000", "Cache Read Input Tokens", {"TokenDirection": "Input", "TokenCacheAction": "Read"}),
        line("0.1875", "50000", "Cache Write Input Tokens", {"TokenType": "CacheWrite"}),
        line("0.75", "50000", "Output Tokens", {"TokenType": "Output"}),
    ]) + "\n")  # fmt: skip
    (tmp_path / "logs.jsonl").write_text(
        json.dumps(
            {
                "request_id": "s1",
                "timestamp": "2026-11-06T10:00:00Z",
                "model": "claude-sonnet-4-5",
                "input_tokens": 150_000,
                "cache_read_tokens": 50_000,
                "cache_write_tokens": 50_000,
                "output_tokens": 50_000,
            }
        )
        + "\n"
    )
    ingest(run_cli, tmp_path / "logs.jsonl", path)
    row = only_row(reconcile(run_cli), "anthropic")
    # claude-sonnet-4-5: $3 in, $0.30 cache read, $3.75 cache write, $15 out per 1M:
    #   50,000 x 3 + 50,000 x 0.30 + 50,000 x 3.75 + 50,000 x 15 = 0.15 + 0.015 + 0.1875 + 0.75 = 1.1025,
    #   billed the same: the token kind of each row comes from SkuPriceDetails
    assert row["logged_cost_usd"] == pytest.approx(1.1025, abs=1e-9)
    assert row["billed_cost_usd"] == pytest.approx(1.1025, abs=1e-9)
    from llmcost.store import connect

    con = connect(tmp_path / "db" / "llmcost.duckdb")
    kinds = dict(
        con.execute("SELECT token_kind, CAST(amount_usd AS DOUBLE) FROM billed").fetchall()
    )
    con.close()
    assert kinds == {"input": 0.15, "cache_read": 0.015, "cache_write": 0.1875, "output": 0.75}


def test_llmcost_focus_export_reads_back_with_no_gap(run_cli: Any, tmp_path: Path) -> None:
    ingest(run_cli, REQUESTS)
    out = tmp_path / "export.parquet"
    code, _, err = run_cli("export", "-o", str(out), "--grain", "day")
    assert code == 0, err
    code, _, err = run_cli(
        "--db", str(tmp_path / "other.duckdb"), "ingest", "-q", str(REQUESTS), str(out)
    )
    assert code == 0, err
    code, stdout, err = run_cli(
        "--db", str(tmp_path / "other.duckdb"), "reconcile", "--by", "day", "--format", "json"
    )
    assert code == 0, err
    rows = json.loads(stdout)["rows"]
    assert {r["provider"] for r in rows} == {"bedrock", "azure", "vertex_ai"}
    for row in rows:
        assert row["gap_usd"] == pytest.approx(0.0, abs=1e-9), row
