"""The bad-input corpus: every kind of bad line, between two good ones, through the CLI.

For each kind: the exit code, the reason stored with the rejected line, and that both good
neighbours loaded. Plain files go through the direct path first (which gives way to the line
path at a bad line); the `.gz` copies of some kinds go through the line path alone.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

TS = "2026-03-01T12:00:00Z"


def rec(**over: Any) -> dict[str, Any]:
    base = {"request_id": "bad", "timestamp": TS, "model": "gpt-4o", "input_tokens": 100,
            "output_tokens": 20}  # fmt: skip
    base.update(over)
    return {k: v for k, v in base.items() if v is not DROP}


DROP = object()  # a key left out of the record


def line(**over: Any) -> bytes:
    return json.dumps(rec(**over)).encode()


def without(*keys: str, **over: Any) -> bytes:
    return line(**{k: DROP for k in keys}, **over)


def raw(text: str) -> bytes:
    return text.encode()


# name -> (the bad line's bytes, the reason it must get; None: it loads)
CORPUS: dict[str, tuple[bytes, str | None]] = {
    # not JSON, not an object
    "truncated object": (raw('{"request_id": "bad", "model": "gpt-4o"'), "invalid JSON"),
    "trailing garbage": (line() + b" xyz", "invalid JSON"),
    "single quotes": (raw("{'model': 'gpt-4o'}"), "invalid JSON"),
    "bare word": (raw("hello"), "invalid JSON"),
    "unquoted key": (raw('{model: "gpt-4o"}'), "invalid JSON"),
    # DuckDB's reader takes a trailing comma and a NaN literal; the line is judged on its values
    "trailing comma": (raw('{"model": "gpt-4o",}'), "missing timestamp"),
    "NaN literal": (
        raw(
            '{"request_id":"bad","timestamp":"'
            + TS
            + '","model":"m","input_tokens":1,"cost_usd":NaN}'
        ),
        "cost_usd must be a finite number",
    ),
    "two objects on a line": (line() + line(), "invalid JSON"),
    "JSON array": (raw("[1, 2, 3]"), "not a JSON object (got array)"),
    "JSON string": (raw('"a string"'), "not a JSON object (got varchar)"),
    "JSON number": (raw("42"), "not a JSON object"),
    "JSON null": (raw("null"), "not a JSON object"),
    "JSON true": (raw("true"), "not a JSON object"),
    "empty object": (raw("{}"), "missing model"),
    "bad UTF-8": (b'{"request_id":"bad","model":"gpt-\xff\xfe"}', "not valid UTF-8"),
    "lone surrogate escape": (
        raw(
            '{"request_id":"bad","timestamp":"'
            + TS
            + '","model":"\\ud800","input_tokens":1,"output_tokens":1}'
        ),
        "invalid JSON",
    ),
    "NUL byte in the line": (b'{"model":"gpt-4o"\x00}', "invalid JSON"),
    # the model
    "no model": (without("model"), "missing model"),
    "null model": (line(model=None), "missing model"),
    "empty model": (line(model=""), "missing model"),
    "blank model": (line(model="   "), "missing model"),
    "tab model": (line(model="\t"), "missing model"),
    # the timestamp
    "no timestamp": (without("timestamp"), "missing timestamp"),
    "null timestamp": (line(timestamp=None), "missing timestamp"),
    "word timestamp": (line(timestamp="yesterday"), "bad timestamp"),
    "empty timestamp": (line(timestamp=""), "bad timestamp"),
    "month 13": (line(timestamp="2026-13-01T00:00:00Z"), "bad timestamp"),
    "day 32": (line(timestamp="2026-01-32T00:00:00Z"), "bad timestamp"),
    "hour 25": (line(timestamp="2026-01-01T25:00:00Z"), "bad timestamp"),
    "epoch 1e19 (over int64)": (line(timestamp=10000000000000000000), "bad timestamp"),
    "epoch 1e25": (
        raw('{"request_id":"bad","ts":1e25,"model":"gpt-4o","input_tokens":1,"output_tokens":1}'),
        "bad timestamp",
    ),
    "epoch -1e25": (
        raw('{"request_id":"bad","ts":-1e25,"model":"gpt-4o","input_tokens":1,"output_tokens":1}'),
        "bad timestamp",
    ),
    "epoch huge string": (line(timestamp="99999999999999999999999"), "bad timestamp"),
    "epoch NaN string": (line(timestamp="NaN"), "bad timestamp"),
    "timestamp infinity": (line(timestamp="infinity"), "timestamp out of range"),
    "timestamp -infinity": (line(timestamp="-infinity"), "timestamp out of range"),
    "year 1": (line(timestamp="0001-01-01T00:00:00Z"), "timestamp out of range"),
    "year 1969": (line(timestamp="1969-12-31T23:59:59Z"), "timestamp out of range"),
    "year 2200": (line(timestamp="2200-01-01T00:00:00Z"), "timestamp out of range"),
    "year 9999": (line(timestamp="9999-12-31T00:00:00Z"), "timestamp out of range"),
    "year 10000": (line(timestamp="10000-01-01T00:00:00Z"), "timestamp out of range"),
    "negative epoch": (line(timestamp=-86400), "timestamp out of range"),
    "timestamp object": (line(timestamp={"s": 1}), "bad timestamp"),
    "timestamp array": (line(timestamp=[2026]), "bad timestamp"),
    "timestamp true": (line(timestamp=True), "bad timestamp"),
    # token counts
    "no token counts": (without("input_tokens", "output_tokens"), "no token counts"),
    "tokens as word": (line(input_tokens="many"), "input_tokens must be an integer"),
    "tokens fractional": (line(input_tokens=1.5), "input_tokens must be an integer"),
    "tokens 1e25": (line(input_tokens=1e25), "input_tokens is out of range"),
    "tokens 1e19": (line(output_tokens=10000000000000000000), "output_tokens is out of range"),
    "tokens 10^15": (line(input_tokens=10**15), "input_tokens is out of range"),
    "tokens Infinity string": (line(input_tokens="Infinity"), "input_tokens must be an integer"),
    "tokens object": (line(input_tokens={"n": 1}), "input_tokens must be an integer"),
    "tokens array": (line(output_tokens=[1]), "output_tokens must be an integer"),
    "tokens true": (line(output_tokens=True), "output_tokens must be an integer"),
    "negative input": (line(input_tokens=-1), "negative token count"),
    "negative output": (line(output_tokens=-5), "negative token count"),
    "cache over input": (
        line(input_tokens=10, cache_read_tokens=11),
        "cache tokens exceed input_tokens",
    ),
    "cache writes over input": (
        line(input_tokens=10, cache_write_tokens=6, cache_write_1h_tokens=6),
        "cache tokens exceed input_tokens",
    ),
    "reasoning over output": (
        line(output_tokens=10, reasoning_tokens=11),
        "reasoning_tokens exceed output_tokens",
    ),
    "huge cache sum": (
        line(
            input_tokens=999999999999999,
            cache_read_tokens=999999999999999,
            cache_write_tokens=999999999999999,
        ),
        "cache tokens exceed input_tokens",
    ),
    "usage with a word": (
        without(
            "input_tokens", "output_tokens", usage={"prompt_tokens": "x", "completion_tokens": 1}
        ),
        "usage object has a token count that is not an integer",
    ),
    "usage 1e30": (
        without(
            "input_tokens",
            "output_tokens",
            usage={"input_tokens": 1e30, "output_tokens": 1, "cache_read_input_tokens": 0},
        ),
        "usage object has a token count that is not an integer",
    ),
    "usage 2^63": (
        without(
            "input_tokens",
            "output_tokens",
            usage={"promptTokenCount": 2**63, "candidatesTokenCount": 1},
        ),
        "usage object has a token count that is not an integer",
    ),
    "usage negative": (
        without(
            "input_tokens", "output_tokens", usage={"prompt_tokens": -3, "completion_tokens": 1}
        ),
        "negative token count",
    ),
    "usage not an object": (
        without("input_tokens", "output_tokens", usage="lots"),
        "no token counts",
    ),
    # other typed fields
    "cost Infinity": (line(cost_usd="Infinity"), "cost_usd must be a finite number"),
    "cost -Infinity": (line(cost_usd="-Infinity"), "cost_usd must be a finite number"),
    "cost NaN string": (line(cost_usd="NaN"), "cost_usd must be a finite number"),
    "cost 1e400": (
        raw(
            '{"request_id":"bad","timestamp":"'
            + TS
            + '","model":"gpt-4o","input_tokens":1,"output_tokens":1,"cost_usd":1e400}'
        ),
        "cost_usd must be a finite number",
    ),
    "cost word": (line(cost_usd="cheap"), "cost_usd must be a number"),
    "latency Infinity": (line(latency_ms="inf"), "latency_ms must be a finite number"),
    "latency negative": (line(latency_ms=-1), "latency_ms must not be negative"),
    "latency object": (line(latency_ms={}), "latency_ms must be a number"),
    "step negative": (line(step=-1), "step must not be negative"),
    "step 2^31": (line(step=2**31), "step is out of range"),
    "step 1e12": (line(step=10**12), "step is out of range"),
    "step fractional": (line(step=0.5), "step must be an integer"),
    "cache_hit word": (line(cache_hit="maybe"), "cache_hit must be true or false"),
    "batch number": (line(batch=2), "batch must be true or false"),
    # size and depth
    "nested 100k deep": (
        raw(
            '{"request_id":"bad","timestamp":"'
            + TS
            + '","model":"gpt-4o","input_tokens":1,"output_tokens":1,"x":'
            + "[" * 100_000
            + "]" * 100_000
            + "}"
        ),
        "nested deeper than",
    ),
    "objects nested 300 deep": (
        raw(
            '{"request_id":"bad","timestamp":"'
            + TS
            + '","model":"gpt-4o","input_tokens":1,"output_tokens":1,"x":'
            + '{"a":' * 300
            + "1"
            + "}" * 300
            + "}"
        ),
        "nested deeper than",
    ),
    "line over the limit": (line(note="x" * (2 << 20)), "line too long"),
    # accepted as they are: odd but readable
    "brackets inside a string": (line(note="[" * 1000), None),
    "wide, not deep": (line(x=[[1]] * 400), None),
    "bare CR inside the line": (line().replace(b', "model"', b',\r"model"'), None),
    "ANSI escape in feature": (line(feature="\x1b[31mred\x1b[0m"), None),
    "NUL escape in user": (line(user_id="a\u0000b"), None),
    "RTL override in customer": (line(customer_id="abc\u202edcb"), None),
    "formula in feature": (line(feature='=HYPERLINK("http://x")'), None),
    "epoch seconds": (line(timestamp=1772366400), None),
    "epoch milliseconds": (line(timestamp=1772366400000), None),
    "timestamp 1970-01-01": (line(timestamp="1970-01-01T00:00:00Z"), None),
    "timestamp 2199-12-31": (line(timestamp="2199-12-31T23:59:59Z"), None),
    "tokens as strings": (line(input_tokens="100", output_tokens="20"), None),
    "tokens 1e3": (line(input_tokens=1e3), None),
    "unicode model": (line(model="gpt-4o-東京"), None),
}

# kinds also read through the line path alone (a compressed file is never read directly)
GZ = ["epoch 1e25", "nested 100k deep", "line over the limit", "cost Infinity", "bad UTF-8",
      "bare CR inside the line", "year 9999", "usage 2^63"]  # fmt: skip


def test_the_corpus_has_eighty_kinds_of_bad_line() -> None:
    assert sum(reason is not None for _, reason in CORPUS.values()) >= 80


def good(name: str) -> bytes:
    return json.dumps({"request_id": name, "timestamp": TS, "model": "gpt-4o",
                       "input_tokens": 1000, "output_tokens": 100}).encode()  # fmt: skip


def run_case(tmp_path: Path, run_cli: Any, bad: bytes, reason: str | None, *, gz: bool) -> None:
    data = good("before") + b"\n" + bad + b"\n" + good("after") + b"\n"
    path = tmp_path / ("case.jsonl.gz" if gz else "case.jsonl")
    path.write_bytes(gzip.compress(data) if gz else data)
    db = tmp_path / "case.duckdb"
    code, out, err = run_cli(
        "--db", str(db), "ingest", "-q", "--max-line-mb", "1", "-f", "json", str(path)
    )
    assert code == 0, err
    assert "Traceback" not in err
    totals = json.loads(out)["totals"]
    con = duckdb.connect(str(db), read_only=True)
    try:
        ids = {r[0] for r in con.execute("SELECT request_id FROM requests").fetchall()}
        rejects = con.execute("SELECT line_no, reason FROM rejects").fetchall()
    finally:
        con.close()
    assert {"before", "after"} <= ids  # both good neighbours loaded
    if reason is None:
        assert totals == {"read": 3, "loaded": 3, "rejected": 0, "duplicates": 0}, rejects
    else:
        assert totals == {"read": 3, "loaded": 2, "rejected": 1, "duplicates": 0}
        assert len(rejects) == 1 and rejects[0][0] == 2
        assert reason in rejects[0][1], rejects[0][1]


@pytest.mark.parametrize("name", list(CORPUS))
def test_bad_line(name: str, tmp_path: Path, run_cli: Any) -> None:
    bad, reason = CORPUS[name]
    run_case(tmp_path, run_cli, bad, reason, gz=False)


@pytest.mark.parametrize("name", GZ)
def test_bad_line_compressed(name: str, tmp_path: Path, run_cli: Any) -> None:
    bad, reason = CORPUS[name]
    run_case(tmp_path, run_cli, bad, reason, gz=True)


def test_a_bom_and_crlf_file_loads_whole(tmp_path: Path, run_cli: Any) -> None:
    path = tmp_path / "win.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + good("a") + b"\r\n" + good("b") + b"\r\n")
    code, out, err = run_cli("ingest", "-q", "-f", "json", str(path))
    assert code == 0 and json.loads(out)["totals"]["loaded"] == 2, err


def test_first_bad_lines_do_not_decide_the_format(tmp_path: Path, run_cli: Any) -> None:
    path = tmp_path / "log.jsonl"
    bad = [without("model") for _ in range(20)] + [raw("oops"), raw("[]")]
    path.write_bytes(b"\n".join(bad + [good(f"g{i}") for i in range(100)]) + b"\n")
    code, out, err = run_cli("ingest", "-q", "-f", "json", str(path))
    # 122 lines: 100 loaded, 20 without a model and 2 that are no objects rejected
    assert code == 0, err
    assert json.loads(out)["totals"] == {
        "read": 122,
        "loaded": 100,
        "rejected": 22,
        "duplicates": 0,
    }


def test_revenue_out_of_range_is_a_reject(tmp_path: Path, run_cli: Any) -> None:
    path = tmp_path / "revenue.csv"
    path.write_text(
        "customer_id,month,revenue_usd\nc1,2026-01,1e30\nc2,2026-01,10\nc3,2026-01,Infinity\n"
    )
    code, out, err = run_cli("ingest", "-q", "-f", "json", str(path))
    assert code == 0, err
    assert json.loads(out)["totals"] == {"read": 3, "loaded": 1, "rejected": 2, "duplicates": 0}
