"""The synthetic data set: deterministic, well-formed, and telling the story it promises."""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from llmcost.synth import FEATURES, generate

N = 3_000
START = date(2026, 8, 1)
WINDOW = (datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))


def _tree_bytes(root: Path) -> dict[str, bytes]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def _lines(root: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted((root / "logs").rglob("*.jsonl*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            rows.extend(json.loads(line) for line in fh)
    return rows


def _when(row: dict[str, Any]) -> datetime:
    if "ts" in row:  # summarize logs epoch milliseconds
        return datetime.fromtimestamp(row["ts"] / 1000, tz=UTC)
    return datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00"))


def _tokens(row: dict[str, Any]) -> tuple[int, int]:
    """(all input tokens, output tokens) under each log shape's own convention."""
    if "usage" in row:
        u = row["usage"]
        total = u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"]
        return total, u["output_tokens"]
    if "prompt_tokens" in row:
        return row["prompt_tokens"], row["completion_tokens"]
    return row["input_tokens"], row["output_tokens"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    root = tmp_path_factory.mktemp("synth")
    summary = generate(root, requests=N, seed=7, start=START, months=3)
    assert summary.requests == N
    assert summary.customers == 60
    assert all(p.exists() for p in summary.files)
    return root, _lines(root)


def test_deterministic_bytes(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, requests=N, seed=11)
    generate(b, requests=N, seed=11)
    generate(c, requests=N, seed=12)
    assert _tree_bytes(a) == _tree_bytes(b)
    assert _tree_bytes(a) != _tree_bytes(c)


def test_deterministic_gzip(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    sa = generate(a, requests=500, compress=True)
    generate(b, requests=500, compress=True)
    assert _tree_bytes(a) == _tree_bytes(b)
    assert all(p.name.endswith(".jsonl.gz") for p in sa.files if p.parent.parent.name == "logs")
    assert len(_lines(a)) == 500


def test_file_layout(data: tuple[Path, list[dict[str, Any]]]) -> None:
    root, _ = data
    for feature in FEATURES:
        assert sorted(p.name for p in (root / "logs" / feature).iterdir()) == [
            "2026-08.jsonl",
            "2026-09.jsonl",
            "2026-10.jsonl",
        ]
    assert (root / "revenue.csv").exists()


def test_line_count_ids_and_window(data: tuple[Path, list[dict[str, Any]]]) -> None:
    _, rows = data
    assert len(rows) == N
    ids = [r["request_id"] for r in rows]
    assert len(set(ids)) == N
    assert all(i.startswith("req_") and len(i) == 20 for i in ids)
    for r in rows:
        assert WINDOW[0] <= _when(r) < WINDOW[1]
        if "timestamp" in r:
            assert r["timestamp"].endswith("Z") and len(r["timestamp"]) == 24


def test_file_month_matches_timestamps(data: tuple[Path, list[dict[str, Any]]]) -> None:
    root, _ = data
    for path in (root / "logs").rglob("*.jsonl"):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                assert _when(row).strftime("%Y-%m") == path.stem
                assert row["feature"] == path.parent.name


def test_anthropic_usage_excludes_cache(data: tuple[Path, list[dict[str, Any]]]) -> None:
    _, rows = data
    nested = [r for r in rows if "usage" in r]
    assert nested, "research-agent on Claude logs a nested usage object"
    cached = 0
    for r in nested:
        assert r["feature"] == "research-agent" and r["model"].startswith("claude-")
        assert "input_tokens" not in r and "output_tokens" not in r
        u = r["usage"]
        assert min(u.values()) >= 0
        total, _ = _tokens(r)
        assert (
            total
            == u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"]
        )
        # Uncached input is only the step's short tail, never the whole (cached) context.
        cached += u["input_tokens"] < total - u["input_tokens"]
    assert cached / len(nested) > 0.9


def test_canonical_token_parts(data: tuple[Path, list[dict[str, Any]]]) -> None:
    _, rows = data
    canonical = [r for r in rows if "input_tokens" in r]
    assert canonical
    for r in canonical:
        parts = (
            r.get("cache_read_tokens", 0)
            + r.get("cache_write_tokens", 0)
            + r.get("cache_write_1h_tokens", 0)
        )
        assert 0 <= parts <= r["input_tokens"]
        assert 0 <= r.get("reasoning_tokens", 0) <= r["output_tokens"]
    for r in rows:
        if "prompt_tokens" in r:
            assert r.get("cached_tokens", 0) <= r["prompt_tokens"]
    assert any(r.get("cache_write_1h_tokens") for r in rows)
    assert any(r.get("reasoning_tokens") for r in rows)


def test_features_plans_models(data: tuple[Path, list[dict[str, Any]]]) -> None:
    _, rows = data
    assert set(Counter(r["feature"] for r in rows)) == set(FEATURES)
    assert set(r["plan"] for r in rows) == {"free", "pro", "enterprise"}
    models = Counter(r["model"] for r in rows)
    assert 0 < models["acme-ft-llama-8b"] < 0.01 * N
    assert {r["feature"] for r in rows if r["model"] == "acme-ft-llama-8b"} == {"classify-ticket"}
    no_provider = sum("provider" not in r for r in rows) / N
    assert 0.05 < no_provider < 0.15


def test_log_shapes(data: tuple[Path, list[dict[str, Any]]]) -> None:
    _, rows = data
    for r in rows:
        if r["feature"] == "summarize":
            assert "workspace_id" in r and "prompt_tokens" in r and isinstance(r["ts"], int)
        else:
            assert "customer_id" in r and "timestamp" in r
        assert r["status"] in {"ok", "error", "retry"}
        assert "region" in r and "app_version" in r
    statuses = Counter(r["status"] for r in rows)
    assert statuses["error"] and statuses["retry"]
    hits = [r for r in rows if r["feature"] == "autocomplete"]
    assert 0.08 < sum(r["cache_hit"] for r in hits) / len(hits) < 0.22
    assert all(r["batch"] is True for r in rows if r["feature"] == "weekly-report")
    logged = sum("cost_usd" in r for r in rows) / N
    assert 0.2 < logged < 0.4
    steps = Counter(r["task_id"] for r in rows if r["feature"] == "research-agent")
    assert max(steps.values()) > 3
    assert any(r.get("conversation_id") for r in rows if r["feature"] == "support-chat")


def test_revenue_covers_every_customer_month(data: tuple[Path, list[dict[str, Any]]]) -> None:
    root, rows = data
    with (root / "revenue.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["customer_id", "month", "revenue_usd", "plan"]
        revenue = list(reader)
    customers = {r["customer_id"] for r in revenue}
    assert len(customers) == 60
    assert len(revenue) == 60 * 3
    assert {(r["customer_id"], r["month"]) for r in revenue} == {
        (c, m) for c in customers for m in ("2026-08", "2026-09", "2026-10")
    }
    assert any(float(r["revenue_usd"]) == 0 and r["plan"] == "free" for r in revenue)
    assert all(float(r["revenue_usd"]) > 0 for r in revenue if r["plan"] != "free")
    seen = {r.get("customer_id") or r.get("workspace_id") for r in rows}
    assert seen <= customers


def test_usage_is_concentrated(data: tuple[Path, list[dict[str, Any]]]) -> None:
    _, rows = data
    per_user: Counter[str] = Counter()
    for r in rows:
        per_user[r["user_id"]] += sum(_tokens(r))
    totals = sorted(per_user.values(), reverse=True)
    top = totals[: max(1, len(totals) // 10)]
    assert sum(top) / sum(totals) > 0.4


def test_long_context_requests_exist(tmp_path: Path) -> None:
    generate(tmp_path, requests=20_000)
    rows = _lines(tmp_path)
    big = [r for r in rows if _tokens(r)[0] > 200_000]
    assert 0 < len(big) < 0.01 * len(rows)
    assert all(r["feature"] == "research-agent" for r in big)


def test_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, requests=-1)
    with pytest.raises(ValueError):
        generate(tmp_path, months=0)
