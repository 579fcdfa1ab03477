"""`llmcost export --format focus`: FOCUS rows checked column by column against the specification's
rules (written out below from the FinOps Foundation's column definitions), money by hand, totals
against `report`."""

from __future__ import annotations

import csv
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conftest import TEST_PRICES

# Column -> (data type, nulls allowed, allowed values or None). Mandatory columns of the FOCUS
# cost and usage dataset, and the conditional ones a priced token charge has (SKU, unit prices,
# quantities, tags). Types and nullability as each column's "Content Constraints" table says.
SPEC: dict[str, tuple[str, bool, set[Any] | None]] = {
    "BilledCost": ("Decimal", False, None),
    "BillingAccountId": ("String", False, None),
    "BillingAccountName": ("String", True, None),
    "BillingCurrency": ("Currency", False, None),
    "BillingPeriodEnd": ("DateTime", False, None),
    "BillingPeriodStart": ("DateTime", False, None),
    "ChargeCategory": ("String", False, {"Usage", "Purchase", "Tax", "Credit", "Adjustment"}),
    "ChargeClass": ("String", True, {None, "Correction"}),
    "ChargeDescription": ("String", True, None),
    "ChargeFrequency": ("String", False, {"One-Time", "Recurring", "Usage-Based"}),
    "ChargePeriodEnd": ("DateTime", False, None),
    "ChargePeriodStart": ("DateTime", False, None),
    "ConsumedQuantity": ("Decimal", True, None),
    "ConsumedUnit": ("String", True, None),
    "ContractedCost": ("Decimal", False, None),
    "ContractedUnitPrice": ("Decimal", True, None),
    "EffectiveCost": ("Decimal", False, None),
    "HostProviderName": ("String", False, None),
    "InvoiceIssuerName": ("String", False, None),
    "ListCost": ("Decimal", False, None),
    "ListUnitPrice": ("Decimal", True, None),
    "PricingCategory": ("String", True, {"Standard", "Dynamic", "Committed", "Other"}),
    "PricingQuantity": ("Decimal", True, None),
    "PricingUnit": ("String", True, None),
    "ProviderName": ("String", False, None),
    "PublisherName": ("String", False, None),
    "ServiceCategory": ("String", False, {
        "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases",
        "Developer Tools", "Multicloud", "Identity", "Integration", "Internet of Things",
        "Management and Governance", "Media", "Migration", "Mobile", "Networking", "Security",
        "Storage", "Web", "Other"}),
    "ServiceName": ("String", False, None),
    "ServiceProviderName": ("String", False, None),
    "ServiceSubcategory": ("String", True, None),
    "SkuId": ("String", True, None),
    "SkuMeter": ("String", True, None),
    "SkuPriceDetails": ("KeyValue", True, None),
    "SkuPriceId": ("String", True, None),
    "Tags": ("KeyValue", True, None),
}  # fmt: skip
# The columns the specification's requirements model (specification/requirements_model,
# datasets/cost_and_usage/costandusage.json: the CAU-<Column>-C-000-M rules) makes Mandatory in a
# Cost and Usage dataset; ChargeFrequency, InvoiceId and ServiceSubcategory are its -O (optional)
# ones, the rest conditional.
MANDATORY = {
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargePeriodEnd",
    "ChargePeriodStart", "ContractedCost", "EffectiveCost", "HostProviderName", "InvoiceIssuerName",
    "ListCost", "PricingCategory", "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName",
    "ServiceProviderName", "ServiceCategory", "ServiceName",
}  # fmt: skip
DATETIME = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"
)  # FOCUS DateTimeFormat: ISO 8601, UTC, Z

# Overlay: lc-test (only the overlay prices it: list = contracted) and negotiated gpt-4o-mini rates
# on the bundled version's date (bundled: $0.15 in, $0.60 out, batch 50% off).
OVERLAY = (
    TEST_PRICES
    + """
[[models]]
id = "gpt-4o-mini"
[[models.prices]]
effective_from = 2024-07-18
input = 0.10
output = 0.40
cache_read = 0.05
batch_discount = 0.5
"""
)
LOGS = [
    # a: lc-test, 650,000 uncached x $1 = 0.65; 200,000 read x 0.10 = 0.02; 100,000 5m writes x 1.25 = 0.125;
    #    50,000 1h writes x 2 = 0.10; 500,000 out x 2 = 1.00 -> $1.895 (list the same: no bundled price)
    {"request_id": "a", "timestamp": "2026-08-01T10:00:00.250Z", "model": "lc-test", "provider": "test",
     "feature": "chat", "customer_id": "acme", "user_id": "u1", "task_id": "t1",
     "input_tokens": 1_000_000, "cache_read_tokens": 200_000, "cache_write_tokens": 100_000,
     "cache_write_1h_tokens": 50_000, "output_tokens": 500_000},
    # b: gpt-4o-mini batch, 1,000,000 in x 0.10 + 100,000 out x 0.40 = 0.14 contracted, x 0.5 = $0.07 billed;
    #    list (bundled) 1,000,000 x 0.15 + 100,000 x 0.60 = $0.21
    {"request_id": "b", "timestamp": "2026-08-01T11:00:00Z", "model": "gpt-4o-mini", "batch": True,
     "feature": "digest", "customer_id": "acme", "input_tokens": 1_000_000, "output_tokens": 100_000},
    # c: gpt-4o-mini, same tokens, not batch: $0.14 billed, $0.21 list
    {"request_id": "c", "timestamp": "2026-08-02T09:00:00Z", "model": "gpt-4o-mini",
     "feature": "digest", "customer_id": "beta", "input_tokens": 1_000_000, "output_tokens": 100_000},
    # d: a semantic-cache hit (no provider call) and e: a model nobody prices: both left out
    {"request_id": "d", "timestamp": "2026-08-02T10:00:00Z", "model": "gpt-4o-mini", "cache_hit": True,
     "input_tokens": 500, "output_tokens": 50},
    {"request_id": "e", "timestamp": "2026-08-02T11:00:00Z", "model": "mystery-1", "input_tokens": 5, "output_tokens": 5},
]  # fmt: skip
BILLED = Decimal("1.895") + Decimal("0.07") + Decimal("0.14")
LIST = Decimal("1.895") + Decimal("0.21") + Decimal("0.21")


@pytest.fixture
def loaded(run_cli: Any, jsonl: Any, tmp_path: Path) -> Path:
    overlay = tmp_path / "overlay.toml"
    overlay.write_text(OVERLAY)
    code, _, err = run_cli("ingest", "-q", str(jsonl(LOGS)))
    assert code == 0, err
    return overlay


def read_csv(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = [{k: (v if v != "" else None) for k, v in row.items()} for row in reader]
        return list(reader.fieldnames or []), rows


def check_value(column: str, kind: str, value: Any) -> None:
    if kind == "Decimal":
        Decimal(value)
    elif kind == "DateTime":
        assert DATETIME.match(value), (column, value)
    elif kind == "Currency":
        assert re.fullmatch(r"[A-Z]{3}", value), (column, value)
    elif kind == "KeyValue":
        obj = json.loads(value)
        assert isinstance(obj, dict) and obj, (column, value)
        assert all(isinstance(v, (str, int, float, bool)) for v in obj.values()), (column, value)
    else:
        assert isinstance(value, str) and value.strip() == value and value, (column, value)


def validate(header: list[str], rows: list[dict[str, Any]]) -> None:
    assert set(SPEC) >= MANDATORY
    missing = [c for c in SPEC if c not in header]
    assert not missing, f"FOCUS columns missing: {missing}"
    extra = [c for c in header if c not in SPEC]
    assert all(c.startswith("x_") for c in extra), f"custom columns must start with x_: {extra}"
    assert rows
    for row in rows:
        for column, (kind, nullable, allowed) in SPEC.items():
            value = row[column]
            if allowed is not None:
                assert value in allowed, (column, value)
            if value is None:
                assert nullable, f"{column} must not be null"
                continue
            check_value(column, kind, value)
        # the spec's consistency rules for a usage charge
        qty = Decimal(row["PricingQuantity"])
        assert Decimal(row["ListCost"]) == Decimal(row["ListUnitPrice"]) * qty
        assert Decimal(row["ContractedCost"]) == Decimal(row["ContractedUnitPrice"]) * qty
        assert row["BilledCost"] == row["EffectiveCost"]  # nothing amortized
        assert row["ChargeCategory"] == "Usage" and row["ConsumedUnit"] == "Tokens"
        assert row["ConsumedQuantity"] is not None and row["SkuPriceId"] is not None
        assert row["BillingPeriodStart"] <= row["ChargePeriodStart"] < row["ChargePeriodEnd"]
        assert row["ChargePeriodEnd"] <= row["BillingPeriodEnd"]
        assert row["ServiceSubcategory"] == "Generative AI"


def export(run_cli: Any, overlay: Path, out: Path, *args: str) -> str:
    code, stdout, err = run_cli(
        "--pricing", str(overlay), "export", "--format", "focus", "-o", str(out), *args
    )
    assert code == 0, err
    assert stdout == ""
    return err


@pytest.mark.parametrize("grain", ["request", "day"])
def test_csv_follows_the_focus_column_rules(
    run_cli: Any, loaded: Path, tmp_path: Path, grain: str
) -> None:
    out = tmp_path / "focus.csv"
    err = export(run_cli, loaded, out, "--grain", grain)
    header, rows = read_csv(out)
    validate(header, rows)
    assert sum(Decimal(r["BilledCost"]) for r in rows) == BILLED
    assert sum(Decimal(r["ListCost"]) for r in rows) == LIST
    assert (
        "1 semantic-cache hits left out" in err
        and "1 unpriced requests left out (mystery-1)" in err
    )


def test_parquet_has_the_focus_types(run_cli: Any, loaded: Path, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = tmp_path / "focus.parquet"
    export(run_cli, loaded, out)
    table = pq.read_table(out)
    for column, (kind, _, _) in SPEC.items():
        t = table.schema.field(column).type
        if kind == "Decimal":
            assert pa.types.is_decimal(t), (column, t)
        elif kind == "DateTime":
            assert pa.types.is_timestamp(t) and t.tz == "UTC", (column, t)
        else:
            assert pa.types.is_string(t) or pa.types.is_large_string(t), (column, t)
    rows = table.to_pylist()
    assert sum(r["BilledCost"] for r in rows) == BILLED
    # the same rows as the CSV, as text
    as_text = [
        {k: (v.strftime("%Y-%m-%dT%H:%M:%SZ") if hasattr(v, "strftime") else (None if v is None else str(v)))
         for k, v in r.items()} for r in rows
    ]  # fmt: skip
    validate(table.column_names, as_text)


def test_rows_per_token_type_by_hand(run_cli: Any, loaded: Path, tmp_path: Path) -> None:
    out = tmp_path / "focus.csv"
    export(run_cli, loaded, out)
    _, rows = read_csv(out)
    a = {r["x_TokenType"]: r for r in rows if r["x_RequestId"] == "a"}
    assert set(a) == {"input", "cache_read", "cache_write", "cache_write_1h", "output"}
    expect = {"input": ("650000", "0.65"), "cache_read": ("200000", "0.02"), "cache_write": ("100000", "0.125"),
              "cache_write_1h": ("50000", "0.1"), "output": ("500000", "1")}  # fmt: skip
    for kind, (tokens, usd) in expect.items():
        assert Decimal(a[kind]["ConsumedQuantity"]) == Decimal(tokens)
        assert Decimal(a[kind]["BilledCost"]) == Decimal(usd)
        assert Decimal(a[kind]["ListCost"]) == Decimal(usd)
    details = json.loads(a["cache_read"]["SkuPriceDetails"])
    assert details["ModelId"] == "lc-test" and details["TokenType"] == "CacheRead"
    assert details["TokenDirection"] == "Input" and details["TokenCacheAction"] == "Read"
    assert json.loads(a["cache_write_1h"]["SkuPriceDetails"])["CacheTtl"] == "1h"
    assert json.loads(a["input"]["Tags"]) == {
        "feature": "chat",
        "customer": "acme",
        "user": "u1",
        "task": "t1",
    }
    assert a["input"]["ChargePeriodStart"] == "2026-08-01T10:00:00Z"
    assert a["input"]["ChargePeriodEnd"] == "2026-08-01T10:00:01Z"
    assert a["input"]["BillingPeriodStart"] == "2026-08-01T00:00:00Z"
    assert a["input"]["BillingPeriodEnd"] == "2026-09-01T00:00:00Z"
    assert a["input"]["SkuId"] == "test/lc-test/input"
    assert a["input"]["SkuPriceId"] == "test/lc-test/input@2026-01-01"
    assert a["input"]["PricingUnit"] == "1000000 Tokens"
    assert Decimal(a["input"]["PricingQuantity"]) == Decimal("0.65")
    b = {r["x_TokenType"]: r for r in rows if r["x_RequestId"] == "b"}
    # batch: contracted at the negotiated rate, billed x 0.5, list at the bundled rate
    assert Decimal(b["input"]["ContractedCost"]) == Decimal("0.10")
    assert Decimal(b["input"]["BilledCost"]) == Decimal("0.05")
    assert Decimal(b["input"]["ListCost"]) == Decimal("0.15")
    assert Decimal(b["output"]["BilledCost"]) == Decimal("0.02")
    assert Decimal(b["output"]["ListUnitPrice"]) == Decimal("0.60")
    assert b["input"]["SkuPriceId"] == "openai/gpt-4o-mini/input@2024-07-18/batch"
    assert b["input"]["ServiceName"] == "OpenAI API" and b["input"]["PublisherName"] == "OpenAI"
    assert json.loads(b["input"]["SkuPriceDetails"])["ServiceTier"] == "Batch"
    assert not [r for r in rows if r["x_RequestId"] in ("d", "e")]


def test_day_grain_sums_the_day(run_cli: Any, loaded: Path, tmp_path: Path) -> None:
    out = tmp_path / "focus.csv"
    export(run_cli, loaded, out, "--grain", "day")
    _, rows = read_csv(out)
    digest = [r for r in rows if r["x_Model"] == "gpt-4o-mini" and r["x_TokenType"] == "output"]
    # b (batch) and c (not) are two SKU prices on two days: one row each
    assert sorted(
        (r["ChargePeriodStart"], r["ChargePeriodEnd"], r["BilledCost"]) for r in digest
    ) == [
        ("2026-08-01T00:00:00Z", "2026-08-02T00:00:00Z", "0.020000000000000000"),
        ("2026-08-02T00:00:00Z", "2026-08-03T00:00:00Z", "0.040000000000000000"),
    ]
    assert all(r["x_RequestId"] is None for r in rows)
    assert json.loads(digest[0]["Tags"]) == {"feature": "digest", "customer": "acme"}


def test_totals_equal_the_report(run_cli: Any, tmp_path: Path) -> None:
    from llmcost.synth import generate

    generate(tmp_path / "synth", requests=2500, seed=5, months=2, compress=False)
    code, _, err = run_cli("ingest", "-q", str(tmp_path / "synth"))
    assert code == 0, err
    code, out, err = run_cli(
        "report", "--by", "feature", "--format", "json", "--since", "2026-09-01"
    )
    assert code == 0, err
    report = json.loads(out)
    import pyarrow.parquet as pq

    for grain in ("request", "day"):
        path = tmp_path / f"{grain}.parquet"
        code, _, err = run_cli("export", "-o", str(path), "--grain", grain, "--since", "2026-09-01")
        assert code == 0, err
        rows = pq.read_table(path).to_pylist()
        assert float(sum(r["BilledCost"] for r in rows)) == pytest.approx(
            report["totals"]["cost_usd"], abs=1e-9
        )
        by_feature: dict[str, Decimal] = {}
        for r in rows:
            feature = json.loads(r["Tags"] or "{}").get("feature")
            by_feature[feature] = by_feature.get(feature, Decimal(0)) + r["BilledCost"]
        for row in report["rows"]:
            if row["cost_usd"] is not None:
                assert float(by_feature.get(row["feature"], 0)) == pytest.approx(
                    row["cost_usd"], abs=1e-9
                )


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "export needs -o FILE"),
        (("-o", "focus.xlsx"), "FILE.csv or FILE.parquet"),
        (("-o", "focus.csv", "--grain", "hour"), "unknown --grain"),
        (("-o", "focus.csv", "--format", "cur"), "unknown export --format"),
        (("-o", "focus.csv", "--where", "colour=red"), "unknown --where field"),
        (("-o", "no/such/folder/focus.csv"), "no folder no/such/folder"),
    ],
)
def test_bad_export_options_exit_2(
    run_cli: Any, loaded: Path, args: tuple[str, ...], message: str
) -> None:
    code, out, err = run_cli("export", *args)
    assert out == ""
    assert code == 2
    assert message in err and "Traceback" not in err
    assert not Path("focus.csv").exists()
