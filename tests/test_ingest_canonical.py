"""The canonical request log (SPEC §2): aliases, nested vendor usage objects, timestamps, rejects."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from llmcost.ingest import ingest_paths, rejects

TS = "2025-10-01T00:00:00Z"


@pytest.fixture(autouse=True, params=["direct", "lines"])
def read_path(request: Any, monkeypatch: Any) -> str:
    """Every test here runs on both paths of the canonical loader: DuckDB's reader over the whole
    file (`ingest.direct`, taken when a file allows it) and the line-by-line parse."""
    from llmcost.ingest import direct

    monkeypatch.setattr(direct, "ENABLED", request.param == "direct")
    return str(request.param)


COLS = (
    "request_id, ts, provider, model, user_id, customer_id, feature, task_id, step, plan, status, "
    "input_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens, "
    "reasoning_tokens, cache_hit, batch, latency_ms, logged_cost_usd, prompt_text, response_text, attrs"
)


def load(
    con: Any, jsonl: Any, records: list[Any], *, keep_text: bool = False
) -> list[dict[str, Any]]:
    path = jsonl(records)
    ingest_paths(con, [str(path)], keep_text=keep_text)
    cur = con.execute(f"SELECT {COLS} FROM requests ORDER BY line_no")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def one(con: Any, jsonl: Any, record: dict[str, Any], **kw: Any) -> dict[str, Any]:
    rows = load(con, jsonl, [record], **kw)
    assert len(rows) == 1, rejects(con)
    return rows[0]


def tokens(row: dict[str, Any]) -> tuple[int, int, int, int, int, int]:
    keys = (
        "input_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cache_write_1h_tokens",
        "output_tokens",
    )
    return (*(row[k] for k in keys), row["reasoning_tokens"])  # type: ignore[return-value]


# ---------------------------------------------------------------- flat fields and aliases


def test_every_canonical_field(con: Any, jsonl: Any) -> None:
    row = one(con, jsonl, {
        "request_id": "r1", "timestamp": TS, "provider": "Anthropic", "model": "claude-sonnet-4-5",
        "user_id": "u1", "customer_id": "c1", "feature": "chat", "task_id": "t1", "step": 3, "plan": "pro",
        "input_tokens": 1000, "cache_read_tokens": 100, "cache_write_tokens": 200, "cache_write_1h_tokens": 300,
        "output_tokens": 50, "reasoning_tokens": 20, "cache_hit": False, "batch": True, "status": "ERROR",
        "latency_ms": 812.5, "cost_usd": 0.0123,
    })  # fmt: skip
    assert row["request_id"] == "r1"
    assert row["ts"] == datetime(2025, 10, 1)
    assert row["provider"] == "anthropic"  # lower-cased
    assert (row["user_id"], row["customer_id"], row["feature"], row["task_id"]) == (
        "u1",
        "c1",
        "chat",
        "t1",
    )
    assert (row["step"], row["plan"], row["status"]) == (3, "pro", "error")
    assert tokens(row) == (1000, 100, 200, 300, 50, 20)
    assert (row["cache_hit"], row["batch"]) == (False, True)
    assert row["latency_ms"] == 812.5
    assert row["logged_cost_usd"] == pytest.approx(0.0123)
    assert row["attrs"] is None  # everything was mapped


ALIAS_CASES: list[tuple[dict[str, Any], str, Any]] = [
    ({"id": "x1"}, "request_id", "x1"),
    ({"generation_id": "x2"}, "request_id", "x2"),
    ({"gen_ai.provider.name": "openai"}, "provider", "openai"),
    ({"gen_ai.system": "Mistral"}, "provider", "mistral"),
    ({"user": "u"}, "user_id", "u"),
    ({"end_user": "u"}, "user_id", "u"),
    ({"workspace_id": "w"}, "customer_id", "w"),
    ({"org_id": "o"}, "customer_id", "o"),
    ({"tenant_id": "t"}, "customer_id", "t"),
    ({"account_id": "a"}, "customer_id", "a"),
    ({"feature_id": "f"}, "feature", "f"),
    ({"tag": "f"}, "feature", "f"),
    ({"trace_id": "t"}, "task_id", "t"),
    ({"session_id": "t"}, "task_id", "t"),
    ({"conversation_id": "t"}, "task_id", "t"),
    ({"run_id": "t"}, "task_id", "t"),
    ({"user_tier": "free"}, "plan", "free"),
    ({"plan_tier": "free"}, "plan", "free"),
    ({"semantic_cache_hit": True}, "cache_hit", True),
    ({"cost": 0.5}, "logged_cost_usd", 0.5),
    ({"spend": 0.25}, "logged_cost_usd", 0.25),
]


def cases_in_one_file(
    con: Any, jsonl: Any, base: dict[str, Any], extras: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One line per case in one file (an ingest has a fixed cost); every line must load."""
    rows = load(con, jsonl, [{**base, **extra} for extra in extras])
    assert len(rows) == len(extras), rejects(con)
    return rows


def test_string_and_flag_aliases(con: Any, jsonl: Any) -> None:
    base = {"timestamp": TS, "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1}
    rows = cases_in_one_file(con, jsonl, base, [alias for alias, _, _ in ALIAS_CASES])
    got = [(alias, row[field]) for (alias, field, _), row in zip(ALIAS_CASES, rows, strict=True)]
    assert got == [(alias, expected) for alias, _, expected in ALIAS_CASES]


def test_model_and_timestamp_aliases(con: Any, jsonl: Any) -> None:
    rows = cases_in_one_file(con, jsonl, {"input_tokens": 1, "output_tokens": 1}, [
        {"timestamp": TS, "model_id": "gpt-4o"},
        {"timestamp": TS, "gen_ai.response.model": "gpt-4o"},
        {"timestamp": TS, "gen_ai.request.model": "gpt-4o"},
        {"ts": "2025-10-01T08:30:00Z", "model": "o3"},
        {"created_at": "2025-10-01T08:30:00Z", "model": "o3"},
        {"start_time": "2025-10-01T08:30:00Z", "model": "o3"},
    ])  # fmt: skip
    assert [(r["model"], r["ts"]) for r in rows] == [("gpt-4o", datetime(2025, 10, 1))] * 3 + [
        ("o3", datetime(2025, 10, 1, 8, 30))] * 3  # fmt: skip


def test_a_model_blank_only_at_its_start_is_a_model(con: Any, jsonl: Any) -> None:
    # the blank check trims only a name whose first character could be blank: it must still
    # tell " o3" (kept as written) from "   " (missing model, in REJECTS)
    row = one(con, jsonl, {"timestamp": TS, "model": " o3", "input_tokens": 1})
    assert row["model"] == " o3"


def test_token_aliases(con: Any, jsonl: Any) -> None:
    row = one(con, jsonl, {
        "timestamp": TS, "model": "gpt-4o", "prompt_tokens": 500, "cached_tokens": 200,
        "completion_tokens": 90, "completion_tokens_details": {"reasoning_tokens": 40},
    })  # fmt: skip
    assert tokens(row) == (500, 200, 0, 0, 90, 40)
    row2 = load(con, jsonl, [{
        "timestamp": TS, "model": "gpt-4o", "prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens": 1,
    }], )[-1]  # fmt: skip
    assert row2["cache_read_tokens"] == 4


def test_first_alias_wins(con: Any, jsonl: Any) -> None:
    # SPEC §2 lists request_id before id, user_id before user
    row = one(con, jsonl, {"request_id": "a", "id": "b", "user_id": "u1", "user": "u2",
                           "timestamp": TS, "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1})  # fmt: skip
    assert (row["request_id"], row["user_id"]) == ("a", "u1")
    assert json.loads(row["attrs"] or "{}") == {}  # the losing aliases are mapped keys, not extras


def test_customer_falls_back_to_user(con: Any, jsonl: Any) -> None:
    rows = load(con, jsonl, [
        {"request_id": "1", "timestamp": TS, "model": "gpt-4o", "user_id": "u1", "input_tokens": 1, "output_tokens": 1},
        {"request_id": "2", "timestamp": TS, "model": "gpt-4o", "user_id": "u1", "customer_id": "acme",
         "input_tokens": 1, "output_tokens": 1},
    ])  # fmt: skip
    assert [r["customer_id"] for r in rows] == ["u1", "acme"]


PROVIDER_CASES = [
    ("gpt-4o-mini", "openai"),
    ("o3", "openai"),
    ("claude-haiku-4-5", "anthropic"),
    ("gemini-2.5-pro", "google"),
    ("mistral-large-latest", "mistral"),
    ("anthropic.claude-3-5-sonnet-20240620-v1:0", "bedrock"),
    ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", "bedrock"),
    ("together/llama-3-70b", "together"),
    ("some-inhouse-model", None),
]


def test_provider_inferred_from_model(con: Any, jsonl: Any) -> None:
    base = {"timestamp": TS, "input_tokens": 1, "output_tokens": 1}
    rows = cases_in_one_file(con, jsonl, base, [{"model": m} for m, _ in PROVIDER_CASES])
    assert [(r["model"], r["provider"]) for r in rows] == PROVIDER_CASES


def test_given_provider_beats_inference(con: Any, jsonl: Any) -> None:
    row = one(
        con,
        jsonl,
        {
            "timestamp": TS,
            "model": "gpt-4o",
            "provider": "azure",
            "input_tokens": 1,
            "output_tokens": 1,
        },
    )
    assert row["provider"] == "azure"


def test_missing_request_id_is_a_stable_hash(con: Any, jsonl: Any) -> None:
    rec = {"timestamp": TS, "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1}
    row = one(con, jsonl, rec)
    assert row["request_id"].startswith("md5:")
    # the same line in another file hashes the same, so it is a duplicate
    path = jsonl([rec, {**rec, "output_tokens": 2}], name="other.jsonl")
    summary = ingest_paths(con, [str(path)])
    assert (summary.files[0].loaded, summary.files[0].duplicates) == (1, 1)


# ---------------------------------------------------------------- nested vendor usage objects


def test_openai_chat_usage(con: Any, jsonl: Any) -> None:
    row = one(con, jsonl, {"timestamp": TS, "model": "gpt-4o", "usage": {
        "prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 1024}, "completion_tokens_details": {"reasoning_tokens": 128},
    }})  # fmt: skip
    # OpenAI's prompt_tokens already includes the cached part
    assert tokens(row) == (1200, 1024, 0, 0, 300, 128)


def test_openai_responses_usage(con: Any, jsonl: Any) -> None:
    row = one(con, jsonl, {"timestamp": TS, "model": "o3", "usage": {
        "input_tokens": 800, "output_tokens": 400, "total_tokens": 1200,
        "input_tokens_details": {"cached_tokens": 512}, "output_tokens_details": {"reasoning_tokens": 256},
    }})  # fmt: skip
    assert tokens(row) == (800, 512, 0, 0, 400, 256)


def test_openai_usage_nested_in_response(con: Any, jsonl: Any) -> None:
    row = one(con, jsonl, {"timestamp": TS, "model": "gpt-4o",
                           "response": {"usage": {"prompt_tokens": 7, "completion_tokens": 3}}})  # fmt: skip
    assert tokens(row)[:5] == (7, 0, 0, 0, 3)


def test_anthropic_usage_input_excludes_cache(con: Any, jsonl: Any) -> None:
    row = one(con, jsonl, {"timestamp": TS, "model": "claude-sonnet-4-5", "usage": {
        "input_tokens": 50, "cache_read_input_tokens": 2000, "cache_creation_input_tokens": 300, "output_tokens": 400,
    }})  # fmt: skip
    # canonical input includes the cache: 50 + 2000 + 300 = 2350; no split given -> all writes are 5-minute
    assert tokens(row) == (2350, 2000, 300, 0, 400, 0)


def test_anthropic_usage_with_ttl_split(con: Any, jsonl: Any) -> None:
    row = one(con, jsonl, {"timestamp": TS, "model": "claude-sonnet-4-5", "usage": {
        "input_tokens": 10, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 1500, "output_tokens": 20,
        "cache_creation": {"ephemeral_5m_input_tokens": 500, "ephemeral_1h_input_tokens": 1000},
    }})  # fmt: skip
    # input 10 + 0 + 1500 = 1510; 5m writes 500, 1h writes 1000
    assert tokens(row) == (1510, 0, 500, 1000, 20, 0)


def test_anthropic_usage_split_only(con: Any, jsonl: Any) -> None:
    # `cache_creation` alone marks Anthropic; its sum stands in for cache_creation_input_tokens
    row = one(con, jsonl, {"timestamp": TS, "model": "claude-sonnet-4-5", "usage": {
        "input_tokens": 10, "output_tokens": 20,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 700},
    }})  # fmt: skip
    assert tokens(row) == (710, 0, 0, 700, 20, 0)


def test_gemini_usage_metadata(con: Any, jsonl: Any) -> None:
    row = one(con, jsonl, {"timestamp": TS, "model": "gemini-2.5-pro", "usageMetadata": {
        "promptTokenCount": 5000, "cachedContentTokenCount": 4000, "candidatesTokenCount": 300,
        "thoughtsTokenCount": 700, "totalTokenCount": 6000,
    }})  # fmt: skip
    # promptTokenCount already includes the cached 4000; thoughts are billed output: 300 + 700 = 1000
    assert tokens(row) == (5000, 4000, 0, 0, 1000, 700)


def test_usage_shape_is_chosen_by_keys_not_provider(con: Any, jsonl: Any) -> None:
    # provider says openai, but cache_read_input_tokens means Anthropic's rules: 100 + 900 = 1000
    row = one(con, jsonl, {"timestamp": TS, "model": "x", "provider": "openai", "usage": {
        "input_tokens": 100, "cache_read_input_tokens": 900, "output_tokens": 5}})  # fmt: skip
    assert tokens(row)[:2] == (1000, 900)


def test_usage_object_is_kept_in_attrs(con: Any, jsonl: Any) -> None:
    usage = {
        "prompt_tokens": 7,
        "completion_tokens": 3,
        "server_tool_use": {"web_search_requests": 2},
    }
    row = one(con, jsonl, {"timestamp": TS, "model": "gpt-4o", "usage": usage})
    assert json.loads(row["attrs"]) == {"usage": usage}


# ---------------------------------------------------------------- timestamps


TS_CASES: list[tuple[Any, datetime]] = [
    ("2025-07-01T12:00:00+02:00", datetime(2025, 7, 1, 10, 0)),
    ("2025-07-01T12:00:00-05:30", datetime(2025, 7, 1, 17, 30)),
    ("2025-07-01T12:00:00Z", datetime(2025, 7, 1, 12, 0)),
    # JavaScript's toISOString() form (read by strptime) and its near misses (read the long way)
    ("2025-07-01T12:00:00.250Z", datetime(2025, 7, 1, 12, 0, 0, 250000)),
    ("2025-07-01T12:00:00.5Z", datetime(2025, 7, 1, 12, 0, 0, 500000)),  # .5 s, not 5 ms
    ("2025-07-01T12:00:00.05Z", datetime(2025, 7, 1, 12, 0, 0, 50000)),
    ("2025-07-01T12:00:00.2500Z", datetime(2025, 7, 1, 12, 0, 0, 250000)),
    ("2025-07-01T24:00:00.000Z", datetime(2025, 7, 2, 0, 0)),
    ("2025-07-01T12:00:00.250+02:00", datetime(2025, 7, 1, 10, 0, 0, 250000)),
    ("2025-07-01T12:00:00", datetime(2025, 7, 1, 12, 0)),  # no offset: UTC
    ("2025-07-01 12:00:00.250", datetime(2025, 7, 1, 12, 0, 0, 250000)),
    ("2025-07-01", datetime(2025, 7, 1)),
    ("2025-07-01t12:00:00z", datetime(2025, 7, 1, 12, 0)),  # RFC 3339 allows lower case
    (
        "2025-07-01T12:00:00.123456789Z",
        datetime(2025, 7, 1, 12, 0, 0, 123456),
    ),  # ns fraction: to the µs
    ("2025-07-01T12:00:00+0200", datetime(2025, 7, 1, 10, 0)),
    ("2025-06-30T23:30:00-01:00", datetime(2025, 7, 1, 0, 30)),  # crosses the UTC day
    # 1751371200 s = 2025-07-01T12:00:00Z
    (1751371200, datetime(2025, 7, 1, 12, 0)),
    (1751371200123, datetime(2025, 7, 1, 12, 0, 0, 123000)),
    (1751371200123456789, datetime(2025, 7, 1, 12, 0, 0, 123456)),
    (1751371200.5, datetime(2025, 7, 1, 12, 0, 0, 500000)),
    ("1751371200", datetime(2025, 7, 1, 12, 0)),
    ("1751371200123", datetime(2025, 7, 1, 12, 0, 0, 123000)),
    ("1751371200123456789", datetime(2025, 7, 1, 12, 0, 0, 123456)),
    ("1751371200.5", datetime(2025, 7, 1, 12, 0, 0, 500000)),
]


def test_timestamps_stored_as_utc(con: Any, jsonl: Any) -> None:
    base = {"model": "gpt-4o", "input_tokens": 1, "output_tokens": 1}
    rows = cases_in_one_file(con, jsonl, base, [{"timestamp": v} for v, _ in TS_CASES])
    assert [(v, r["ts"]) for (v, _), r in zip(TS_CASES, rows, strict=True)] == TS_CASES


def test_timestamps_do_not_depend_on_process_timezone(
    tmp_path: Path, jsonl: Any, monkeypatch: Any
) -> None:
    import time

    from llmcost.store import connect

    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        c = connect(tmp_path / "tz.duckdb")
        row = one(
            c,
            jsonl,
            {
                "timestamp": "2025-07-01T12:00:00",
                "model": "gpt-4o",
                "input_tokens": 1,
                "output_tokens": 1,
            },
        )
        assert row["ts"] == datetime(2025, 7, 1, 12, 0)
        c.close()
    finally:
        monkeypatch.setenv("TZ", "UTC")
        time.tzset()


# ---------------------------------------------------------------- rejects


REJECTS = [
    ("not json at all", "invalid JSON"),
    ('{"model": "gpt-4o", "timestamp": 1, ', "invalid JSON"),
    ("[1, 2, 3]", "not a JSON object (got array)"),
    ('"a string"', "not a JSON object (got varchar)"),
    ('{"timestamp": "2025-10-01T00:00:00Z", "input_tokens": 1}', "missing model"),
    ('{"model": "", "timestamp": "2025-10-01T00:00:00Z", "input_tokens": 1}', "missing model"),
    ('{"model": "   ", "timestamp": "2025-10-01T00:00:00Z", "input_tokens": 1}', "missing model"),
    ('{"model": "gpt-4o", "input_tokens": 1}', "missing timestamp"),
    ('{"model": "gpt-4o", "timestamp": "yesterday", "input_tokens": 1}', "bad timestamp: yesterday"),
    ('{"model": "gpt-4o", "timestamp": "2025-13-45", "input_tokens": 1}', "bad timestamp: 2025-13-45"),
    ('{"model": "gpt-4o", "timestamp": 1, "input_tokens": 1.5}', "input_tokens must be an integer, got 1.5"),
    ('{"model": "gpt-4o", "timestamp": 1, "input_tokens": "many"}', 'input_tokens must be an integer, got "many"'),
    ('{"model": "gpt-4o", "timestamp": 1, "input_tokens": true}', "input_tokens must be an integer, got true"),
    ('{"model": "gpt-4o", "timestamp": 1, "input_tokens": 5, "output_tokens": [1]}', "output_tokens must be an integer, got [1]"),
    ('{"model": "gpt-4o", "timestamp": 1, "usage": {"prompt_tokens": 2.5, "completion_tokens": 1}}',
     "usage object has a token count that is not an integer"),
    ('{"model": "gpt-4o", "timestamp": 1, "input_tokens": -1}', "negative token count"),
    ('{"model": "gpt-4o", "timestamp": 1, "input_tokens": 5, "output_tokens": -3}', "negative token count"),
    ('{"model": "gpt-4o", "timestamp": 1, "input_tokens": 10, "cache_read_tokens": 6, "cache_write_tokens": 5}',
     "cache tokens exceed input_tokens (which must include them)"),
    ('{"model": "gpt-4o", "timestamp": 1, "input_tokens": 1, "output_tokens": 5, "reasoning_tokens": 6}',
     "reasoning_tokens exceed output_tokens"),
    ('{"model": "gpt-4o", "timestamp": 1, "input_tokens": 1, "batch": "maybe"}', 'batch must be true or false, got "maybe"'),
    ('{"model": "gpt-4o", "timestamp": 1, "input_tokens": 1, "cache_hit": 2}', "cache_hit must be true or false, got 2"),
    ('{"model": "gpt-4o", "timestamp": 1, "input_tokens": 1, "latency_ms": "slow"}', 'latency_ms must be a number, got "slow"'),
    ('{"model": "gpt-4o", "timestamp": 1}', "no token counts (input_tokens / output_tokens or a usage object)"),
]  # fmt: skip


def test_every_kind_of_reject_is_kept_whole(con: Any, tmp_path: Path) -> None:
    good = '{"request_id": "ok", "model": "gpt-4o", "timestamp": 1, "input_tokens": 1, "output_tokens": 1}'
    lines = [good.encode(), b"", b"   "]  # blank lines are not records
    lines += [text.encode() for text, _ in REJECTS]
    lines.append(b'{"model": "gpt-4o\xff", "timestamp": 1, "input_tokens": 1}')
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    summary = ingest_paths(con, [str(path)])
    f = summary.files[0]
    # 1 good + len(REJECTS) bad + 1 invalid UTF-8; the 2 blank lines are not counted
    assert (f.read, f.loaded, f.rejected, f.duplicates) == (
        len(REJECTS) + 2,
        1,
        len(REJECTS) + 1,
        0,
    )
    found = rejects(con, limit=None)
    got = [(r["line"], r["reason"], r["raw"]) for r in found]
    expected = [(i + 4, reason, text) for i, (text, reason) in enumerate(REJECTS)]
    assert got[:-1] == expected  # line numbers count the blank lines: the first reject is line 4
    line_no, reason, raw = got[-1]
    assert line_no == len(REJECTS) + 4
    assert reason.startswith("not valid UTF-8")
    assert (
        raw == '{"model": "gpt-4o\\xff", "timestamp": 1, "input_tokens": 1}'
    )  # the bad byte shown escaped
    assert all(r["path"] == str(path.resolve()) for r in found)


def test_integral_numbers_are_accepted_as_tokens(con: Any, jsonl: Any) -> None:
    cases: list[tuple[Any, int]] = [(100.0, 100), (1e3, 1000), ("42", 42), ("7.0", 7), (0, 0)]
    rows = cases_in_one_file(con, jsonl, {"timestamp": TS, "model": "gpt-4o", "output_tokens": 0},
                             [{"input_tokens": v} for v, _ in cases])  # fmt: skip
    assert [r["input_tokens"] for r in rows] == [e for _, e in cases]


def test_bool_spellings(con: Any, jsonl: Any) -> None:
    cases: list[tuple[Any, bool]] = [(True, True), (False, False), ("true", True), ("false", False), (1, True),
                                     (0, False), ("yes", True), ("no", False), (None, False)]  # fmt: skip
    rows = cases_in_one_file(con, jsonl, {"timestamp": TS, "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1},
                             [{"batch": v, "n": i} for i, (v, _) in enumerate(cases)])  # fmt: skip
    assert [(v, r["batch"]) for (v, _), r in zip(cases, rows, strict=True)] == cases


def test_crlf_lines(con: Any, tmp_path: Path) -> None:
    path = tmp_path / "crlf.jsonl"
    path.write_bytes(
        b'{"model":"gpt-4o","timestamp":1,"input_tokens":1,"output_tokens":1}\r\nnope\r\n'
    )
    summary = ingest_paths(con, [str(path)])
    assert (summary.files[0].loaded, summary.files[0].rejected) == (1, 1)
    assert rejects(con)[0]["raw"] == "nope"  # the CR is a line ending, not part of the record


# ---------------------------------------------------------------- attrs and text


def test_unmapped_fields_are_kept_in_attrs(con: Any, jsonl: Any) -> None:
    row = one(con, jsonl, {"timestamp": TS, "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1,
                           "team": "red", "experiment": {"arm": "b", "n": 2}, "flags": [1, 2]})  # fmt: skip
    assert json.loads(row["attrs"]) == {
        "team": "red",
        "experiment": {"arm": "b", "n": 2},
        "flags": [1, 2],
    }


def test_text_is_not_stored_by_default(con: Any, jsonl: Any) -> None:
    secret = "my password is hunter2"
    row = one(con, jsonl, {"timestamp": TS, "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1,
                           "prompt": secret, "completion": "ok", "messages": [{"role": "user", "content": secret}]})  # fmt: skip
    assert row["prompt_text"] is None and row["response_text"] is None
    assert row["attrs"] is None or secret not in row["attrs"]
    dump = con.execute(
        "SELECT count(*) FROM requests WHERE contains(CAST(attrs AS VARCHAR), 'hunter2')"
    ).fetchone()
    assert dump == (0,)


def test_keep_text_stores_it(con: Any, jsonl: Any) -> None:
    row = one(con, jsonl, {"timestamp": TS, "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1,
                           "prompt": "hello", "completion": "world"}, keep_text=True)  # fmt: skip
    assert (row["prompt_text"], row["response_text"]) == ("hello", "world")
