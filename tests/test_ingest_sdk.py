"""Raw SDK responses, wrappers, metadata.* names, CSV request logs, --map, --explain, forget and
--reload, and one bad file among good ones.

Expected costs are computed by hand from the bundled prices (USD per 1M tokens), beside each:
gpt-4o-mini input 0.15, cache read 0.075, output 0.60, batch discount 0.5; gpt-5-nano input
0.05, cache read 0.005, output 0.40; gpt-5 input 1.25, output 10; claude-3-5-sonnet input 3,
cache read 0.30, 5-minute write 3.75, 1-hour write 6, output 15; claude-sonnet-4-5 (below 200k
tokens) input 3, output 15; gemini-2.5-flash input 0.30, cache read 0.03, output 2.50;
gemini-2.5-pro input 1.25, output 10.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from llmcost import pricing
from llmcost.ingest import forget, ingest_paths

REALWORLD = Path(__file__).resolve().parents[1] / ".." / "shared" / "realworld"
T0 = 1790000000  # 2026-09-21T14:13:20Z


def realworld(*parts: str) -> Path:
    path = REALWORLD.joinpath(*parts)
    if not path.exists():
        pytest.skip("the real-world samples are not here")
    return path


def priced(con: Any, overlays: list[Path] | None = None) -> dict[str, dict[str, Any]]:
    pricing.install(con, pricing.load(overlays))
    cur = con.execute(
        "SELECT *, CAST(attrs AS VARCHAR) AS attrs_text FROM priced ORDER BY request_id"
    )
    names = [d[0] for d in cur.description]
    return {r[names.index("request_id")]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def tokens(row: dict[str, Any]) -> tuple[int, int, int, int, int, int]:
    return (
        row["input_tokens"], row["cache_read_tokens"], row["cache_write_tokens"],
        row["cache_write_1h_tokens"], row["output_tokens"], row["reasoning_tokens"],
    )  # fmt: skip


def near(value: Any, expected: str) -> bool:
    return value is not None and abs(Decimal(str(value)) - Decimal(expected)) < Decimal("1e-9")


def chat(rid: str = "chatcmpl-1", **extra: Any) -> dict[str, Any]:
    return {
        "id": rid, "object": "chat.completion", "created": T0, "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "an answer"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 2000, "completion_tokens": 100, "total_tokens": 2100,
                  "prompt_tokens_details": {"cached_tokens": 1500},
                  "completion_tokens_details": {"reasoning_tokens": 0}},
        "service_tier": "default", "system_fingerprint": "fp_1", **extra,
    }  # fmt: skip


def responses(rid: str = "resp_1", status: str = "completed") -> dict[str, Any]:
    return {
        "id": rid, "object": "response", "created_at": T0, "status": status,
        "model": "gpt-5-nano-2025-08-07", "instructions": "be brief",
        "output": [{"type": "message", "content": [{"type": "output_text", "text": "3"}]}],
        "usage": {"input_tokens": 1000, "input_tokens_details": {"cached_tokens": 200},
                  "output_tokens": 300, "output_tokens_details": {"reasoning_tokens": 256}},
        "user": "u-9", "metadata": {"customer_id": "acme", "feature": "math"},
    }  # fmt: skip


ANTHROPIC = {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-3-5-sonnet-20240620",
    "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
    "usage": {"input_tokens": 10, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 3000,
              "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
              "output_tokens": 50},
}  # fmt: skip
GEMINI = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "a poem"}]}}],
    "usageMetadata": {"promptTokenCount": 1000, "cachedContentTokenCount": 600,
                      "candidatesTokenCount": 100, "thoughtsTokenCount": 400, "totalTokenCount": 1500},
    "modelVersion": "gemini-2.5-flash", "createTime": "2026-09-21T14:13:20.5Z", "responseId": "g-1",
}  # fmt: skip


# ---------------------------------------------------------------- shapes


def test_openai_chat_completion(con: Any, jsonl: Any) -> None:
    line = chat(user="u-1", metadata={"customer_id": "acme", "feature": "support"})
    f = ingest_paths(con, [str(jsonl([line]))]).files[0]
    assert (f.format, f.loaded) == ("sdk", 1)
    row = priced(con)["chatcmpl-1"]
    assert str(row["ts"]) == "2026-09-21 14:13:20"
    assert tokens(row) == (2000, 1500, 0, 0, 100, 0)
    # the end user is `user`; the paying customer is metadata.customer_id, not the user
    assert (row["user_id"], row["customer_id"], row["feature"]) == ("u-1", "acme", "support")
    # 500 x 0.15 + 1500 x 0.075 + 100 x 0.60 = 75 + 112.5 + 60 = 247.5 per 1M
    assert near(row["cost_usd"], "0.0002475")
    attrs = json.loads(row["attrs_text"])
    assert attrs["service_tier"] == "default" and "choices" not in row["attrs_text"]


def test_openai_responses_status(con: Any, jsonl: Any) -> None:
    ingest_paths(con, [str(jsonl([responses(), responses("resp_2", "incomplete")]))])
    rows = priced(con)
    assert rows["resp_1"]["status"] == "ok" and rows["resp_2"]["status"] == "incomplete"
    row = rows["resp_1"]
    assert tokens(row) == (1000, 200, 0, 0, 300, 256)
    assert (row["user_id"], row["customer_id"], row["feature"]) == ("u-9", "acme", "math")
    # 800 x 0.05 + 200 x 0.005 + 300 x 0.40 = 40 + 1 + 120 = 161 per 1M
    assert near(row["cost_usd"], "0.000161")
    assert "be brief" not in row["attrs_text"]


def test_anthropic_message_in_a_wrapper(con: Any, jsonl: Any) -> None:
    line = {
        "ts": "2026-09-21T14:13:20Z", "feature": "draft", "tenant_id": "globex",
        "request": {"model": "claude-3-5-sonnet-20240620", "metadata": {"user_id": "u-7"},
                    "system": "you are terse", "messages": [{"role": "user", "content": "hello"}]},
        "response": ANTHROPIC,
    }  # fmt: skip
    ingest_paths(con, [str(jsonl([line]))])
    row = priced(con)["msg_1"]
    # Anthropic's input_tokens exclude the cache: 10 + 1000 + 3000 = 4010 in all
    assert tokens(row) == (4010, 1000, 1000, 2000, 50, 0)
    assert (row["user_id"], row["customer_id"], row["feature"]) == ("u-7", "globex", "draft")
    # 10 x 3 + 1000 x 0.30 + 1000 x 3.75 + 2000 x 6 + 50 x 15 = 30 + 300 + 3750 + 12000 + 750 = 16830
    assert near(row["cost_usd"], "0.01683")


def test_anthropic_message_alone_says_it_needs_a_time(con: Any, jsonl: Any) -> None:
    s = ingest_paths(con, [str(jsonl([ANTHROPIC]))])
    assert s.totals["rejected"] == 1
    (reason,) = con.execute("SELECT reason FROM rejects").fetchone()
    assert "Anthropic Message has none of its own" in reason and "--map timestamp" in reason


def test_gemini_generate_content(con: Any, jsonl: Any) -> None:
    ingest_paths(con, [str(jsonl([GEMINI]))])
    row = priced(con)["g-1"]
    assert row["model"] == "gemini-2.5-flash" and row["provider"] == "google"
    # promptTokenCount includes the cached 600; thoughts are billed as output: 100 + 400
    assert tokens(row) == (1000, 600, 0, 0, 500, 400)
    # 400 x 0.30 + 600 x 0.03 + 500 x 2.50 = 120 + 18 + 1250 = 1388 per 1M
    assert near(row["cost_usd"], "0.001388")


def test_openai_batch_output_priced_as_batch(con: Any, jsonl: Any) -> None:
    body = chat("chatcmpl-b1")
    body["usage"] = {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200}
    ok = {"id": "batch_req_1", "custom_id": "task-1", "error": None,
          "response": {"status_code": 200, "request_id": "r1", "body": body}}  # fmt: skip
    failed = {"id": "batch_req_2", "custom_id": "task-2", "response": None,
              "error": {"code": "server_error", "message": "boom"}}  # fmt: skip
    s = ingest_paths(con, [str(jsonl([ok, failed]))])
    assert s.files[0].format == "sdk"
    assert (s.totals["loaded"], s.totals["rejected"]) == (1, 1)  # the failed one has no usage
    row = priced(con)["chatcmpl-b1"]
    assert row["batch"] is True and json.loads(row["attrs_text"])["custom_id"] == "task-1"
    # (1000 x 0.15 + 200 x 0.60) x (1 - 0.5) = (150 + 120) x 0.5 = 135 per 1M
    assert near(row["cost_usd"], "0.000135")


def test_wrapper_fields_win_over_the_response(con: Any, jsonl: Any) -> None:
    line = {"request_id": "app-1", "timestamp": "2026-10-01T00:00:00Z", "customer_id": "initech",
            "request": {"model": "gpt-4o-mini", "user": "u-2", "messages": [{"role": "user", "content": "q"}]},
            "response": chat()}  # fmt: skip
    ingest_paths(con, [str(jsonl([line]))])
    row = priced(con)["app-1"]
    assert str(row["ts"]) == "2026-10-01 00:00:00"
    assert (row["user_id"], row["customer_id"]) == ("u-2", "initech")
    attrs = json.loads(row["attrs_text"])
    assert attrs["service_tier"] == "default"  # the response's own fields are kept
    # the request's parameters are kept, its messages (text) are not
    assert (
        attrs["request"] == {"model": "gpt-4o-mini", "user": "u-2"}
        and '"q"' not in row["attrs_text"]
    )


def test_metadata_names_in_a_plain_log(con: Any, jsonl: Any) -> None:
    line = {"request_id": "r-1", "timestamp": "2026-10-01T00:00:00Z", "model": "gpt-4o-mini",
            "input_tokens": 1000, "output_tokens": 10,
            "metadata": {"customer_id": "acme", "feature": "search", "region": "eu"}}  # fmt: skip
    ingest_paths(con, [str(jsonl([line]))])
    row = priced(con)["r-1"]
    assert (row["customer_id"], row["feature"]) == ("acme", "search")
    assert json.loads(row["attrs_text"]) == {"metadata": {"region": "eu"}}
    # 1000 x 0.15 + 10 x 0.60 = 156 per 1M
    assert near(row["cost_usd"], "0.000156")


# ---------------------------------------------------------------- the real samples


def test_realworld_raw_responses(con: Any, run_cli: Any, tmp_path: Path) -> None:
    folder = realworld("canonical")
    overlay = tmp_path / "gpt-5-4.toml"
    # test rates (not a sourced price) for a model the bundled table lacks
    overlay.write_text(
        'provider = "openai"\n[[models]]\nid = "gpt-5.4"\naliases = ["gpt-5.4-2026-03-05"]\n'
        'tier = "frontier"\n[[models.prices]]\neffective_from = 2026-03-05\ninput = 2.50\n'
        "output = 15.00\ncache_read = 0.25\n"
    )
    s = ingest_paths(
        con, [str(folder / n) for n in ("openai_chat_raw.jsonl", "openai_responses_raw.jsonl", "gemini_raw.jsonl")]
    )  # fmt: skip
    assert [(f.format, f.read, f.loaded) for f in s.files] == [
        ("sdk", 12, 12),
        ("sdk", 4, 4),
        ("sdk", 5, 5),
    ]
    rows = priced(con, [overlay])
    # 125 x 0.15 + 1024 x 0.075 + 353 x 0.60 = 18.75 + 76.8 + 211.8 = 307.35 per 1M
    assert near(rows["chatcmpl-BNi420iFNtIOHzy8Gq2fVS5utTus7"]["cost_usd"], "0.00030735")
    # gpt-5 (service_tier priority, priced at list): 8 x 1.25 + 82 x 10 = 830 per 1M
    assert near(rows["chatcmpl-Cf5wGPHPBqszCcDHyQPt9SNASzZKN"]["cost_usd"], "0.00083")
    # gpt-5-nano, 192 of 228 output tokens reasoning: 11 x 0.05 + 228 x 0.40 = 91.75 per 1M
    assert tokens(rows["chatcmpl-C6DUm0Lah8z5kRsRhhtk97oh5ey0B"]) == (11, 0, 0, 0, 228, 192)
    assert near(rows["chatcmpl-C6DUm0Lah8z5kRsRhhtk97oh5ey0B"]["cost_usd"], "0.00009175")
    # Responses, gpt-5-nano: 11 x 0.05 + 327 x 0.40 = 131.35 per 1M
    resp = rows["resp_68a4627a67d08197b48766a2208844fe0da1a7bf2012633f"]
    assert resp["status"] == "ok" and near(resp["cost_usd"], "0.00013135")
    # gpt-5.4 at the test rates: 44 x 2.50 + 288 x 15 = 110 + 4320 = 4430 per 1M
    assert near(
        rows["resp_05177a4994c7df3a0069e2f402f00881a1b9eda520cb779fef"]["cost_usd"], "0.00443"
    )
    # Gemini 2.5 Flash: 8 x 0.30 + (433 + 1477 thinking) x 2.50 = 2.4 + 4775 = 4777.4 per 1M
    assert near(rows["hizpaKmcH9qs698P85HHgAU"]["cost_usd"], "0.0047774")
    # Gemini 2.5 Pro: 5 x 1.25 + (5 + 294) x 10 = 6.25 + 2990 = 2996.25 per 1M
    assert near(rows["T5akaImrHM2Dm9IPlu_Z0QI"]["cost_usd"], "0.00299625")
    # no candidates at all, 4 thinking tokens: 5 x 1.25 + 4 x 10 = 46.25 per 1M
    assert near(rows["05WkaM3FEaGSmecPxYzosQM"]["cost_usd"], "0.00004625")

    # Anthropic Messages carry no time: given by the mapping
    code, out, err = run_cli(
        "ingest", "-f", "json", "--map", 'timestamp="2025-10-01T12:00:00Z"', str(folder / "anthropic_raw.jsonl")
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["totals"] == {"read": 5, "loaded": 5, "rejected": 0, "duplicates": 0}
    from llmcost.store import connect

    db = connect(tmp_path / "db" / "llmcost.duckdb")
    rows = priced(db)
    # written: 4 x 3 + 1163 x 3.75 + 187 x 15 = 7178.25; read: 4 x 3 + 1163 x 0.30 + 202 x 15 = 3390.9
    assert near(rows["msg_01EF3r8zYyZntM4Sg9a5kc6k"]["cost_usd"], "0.00717825")
    assert near(rows["msg_01YGB3PuEANUSkLuzemhtNVF"]["cost_usd"], "0.0033909")
    # Sonnet 4.5 with an empty cache_creation object: 222 x 3 + 39 x 15 = 666 + 585 = 1251 per 1M
    assert near(rows["msg_01RRuttC1Mzd1RUPyP68mcB5"]["cost_usd"], "0.001251")
    db.close()


# ---------------------------------------------------------------- mapping


INHOUSE = [
    {"when": "2026-10-01T09:00:00Z", "llm": "gpt-4o-mini", "ctx": {"account": "acme", "screen": "inbox"},
     "tokens": {"in": 2000, "cached": 1000, "out": 100}, "trace": "t-1", "prompt_chars": 5},
    {"when": "2026-10-01T09:01:00Z", "llm": "gpt-4o-mini", "ctx": {"account": "acme", "screen": "inbox"},
     "tokens": {"in": 1000, "cached": 0, "out": 50}, "trace": "t-1"},
]  # fmt: skip
INHOUSE_MAP = ["model=llm", "timestamp=when", "customer_id=ctx.account", "feature=ctx.screen",
               "input_tokens=tokens.in", "cache_read_tokens=tokens.cached", "output_tokens=tokens.out",
               "task_id=trace"]  # fmt: skip


def _args(mapping: list[str]) -> list[str]:
    return [a for m in mapping for a in ("--map", m)]


def test_inhouse_json_lines_through_map(run_cli: Any, jsonl: Any, tmp_path: Path) -> None:
    path = jsonl(INHOUSE, "app.jsonl")
    code, _, err = run_cli("ingest", str(path))
    assert code == 2 and "cannot recognise" in err  # no reader knows these names
    code, out, err = run_cli("ingest", "-f", "json", *_args(INHOUSE_MAP), str(path))
    assert code == 0, err
    assert json.loads(out)["totals"] == {"read": 2, "loaded": 2, "rejected": 0, "duplicates": 0}
    code, out, _ = run_cli("report", "--by", "feature", "-f", "json")
    doc = json.loads(out)
    # 1000 x 0.15 + 1000 x 0.075 + 100 x 0.60 = 285; 1000 x 0.15 + 50 x 0.60 = 180; 465 per 1M
    assert doc["rows"][0]["feature"] == "inbox" and near(doc["rows"][0]["cost_usd"], "0.000465")
    assert doc["totals"]["customers"] == 1 and doc["totals"]["tasks"] == 1


def test_inhouse_csv_through_config_map(run_cli: Any, tmp_path: Path) -> None:
    (tmp_path / "calls.csv").write_text(
        "started,engine,acct,in_tok,out_tok,prompt\n"
        "2026-10-01 09:00:00,gpt-4o-mini,acme,1000,100,SECRET-PROMPT-1\n"
        "2026-10-01 09:05:00,gpt-4o-mini,globex,,100,SECRET-PROMPT-2\n"
    )
    (tmp_path / "llmcost.toml").write_text(
        '[ingest.map]\nmodel = "engine"\ntimestamp = "started"\ncustomer_id = "acct"\n'
        'input_tokens = "in_tok"\noutput_tokens = "out_tok"\n'
    )
    code, out, err = run_cli("ingest", "-f", "json", "calls.csv")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["files"][0]["format"] == "requests_csv"
    assert doc["totals"] == {"read": 2, "loaded": 2, "rejected": 0, "duplicates": 0}
    code, out, _ = run_cli("report", "--by", "customer", "-f", "json")
    costs = {r["customer"]: r["cost_usd"] for r in json.loads(out)["rows"]}
    # acme: 1000 x 0.15 + 100 x 0.60 = 210 per 1M; globex: no input count, 100 x 0.60 = 60
    assert near(costs["acme"], "0.00021") and near(costs["globex"], "0.00006")
    code, out, _ = run_cli("ingest", "--show-rejects", "-f", "json")
    assert "SECRET-PROMPT" not in out


def test_explain_shows_each_field_and_its_origin(run_cli: Any, jsonl: Any, tmp_path: Path) -> None:
    path = jsonl(INHOUSE, "app.jsonl")
    code, out, err = run_cli("ingest", "--explain", str(path), "-f", "json", *_args(INHOUSE_MAP))
    assert code == 0, err
    doc = json.loads(out)
    assert doc["format"] == "sdk" and len(doc["records"]) == 2
    fields = {f["field"]: (f["value"], f["from"]) for f in doc["records"][0]["fields"]}
    assert fields["customer_id"] == ("acme", "ctx.account")
    assert fields["cache_read_tokens"] == (1000, "tokens.cached")
    assert fields["provider"] == ("openai", "inferred from the model")
    assert doc["records"][0]["attrs"] == {"ctx": {"account": "acme", "screen": "inbox"},
                                          "tokens": {"in": 2000, "cached": 1000, "out": 100},
                                          "prompt_chars": 5}  # fmt: skip
    assert not (tmp_path / "db").exists()  # nothing was written, not even a database
    code, out, _ = run_cli("ingest", "--explain", str(path), *_args(INHOUSE_MAP))
    assert code == 0 and "format sdk" in out and "ctx.account" in out
    code, _, err = run_cli("ingest", "--explain", str(path))  # without the mapping
    assert code == 2 and "cannot recognise the format" in err


def test_bad_map_field(run_cli: Any, jsonl: Any) -> None:
    code, _, err = run_cli("ingest", "--map", "colour=x", str(jsonl(INHOUSE)))
    assert code == 2 and "cannot map 'colour'" in err and "Traceback" not in err
    code, _, err = run_cli("ingest", "--map", "model", str(jsonl(INHOUSE)))
    assert code == 2 and "expected FIELD=PATH" in err


# ---------------------------------------------------------------- files as units


def _invariant(con: Any) -> None:
    for read, loaded, rejected, dups, fid in con.execute(
        "SELECT lines_read, loaded, rejected, duplicates, file_id FROM files"
    ).fetchall():
        assert read == loaded + rejected + dups
        (n,) = con.execute("SELECT count(*) FROM requests WHERE file_id = ?", [fid]).fetchone()
        (r,) = con.execute("SELECT count(*) FROM rejects WHERE file_id = ?", [fid]).fetchone()
        assert (n, r) == (loaded, rejected)


def test_forget_then_reload_with_a_corrected_map(con: Any, jsonl: Any) -> None:
    path = jsonl([*INHOUSE, "not json"], "app.jsonl")
    other = jsonl([chat("chatcmpl-9")], "other.jsonl")
    wrong = dict(m.split("=", 1) for m in INHOUSE_MAP) | {"customer_id": "trace"}
    ingest_paths(con, [str(path), str(other)], mapping=wrong)
    assert con.execute(
        "SELECT DISTINCT customer_id FROM requests WHERE model = 'gpt-4o-mini'"
    ).fetchall() == [("t-1",)]
    gone = forget(con, [str(path)])
    assert gone == {"files": 1, "requests": 2, "usage": 0, "billed": 0, "revenue": 0, "rejects": 1}
    assert con.execute("SELECT count(*) FROM requests").fetchone() == (1,)
    _invariant(con)

    right = dict(m.split("=", 1) for m in INHOUSE_MAP)
    ingest_paths(con, [str(path)], mapping=wrong)
    s = ingest_paths(con, [str(path)], mapping=right, reload=True)
    assert s.totals == {"read": 3, "loaded": 2, "rejected": 1, "duplicates": 0}
    assert con.execute(
        "SELECT DISTINCT customer_id FROM requests WHERE model = 'gpt-4o-mini'"
    ).fetchall() == [("acme",)]
    assert con.execute("SELECT count(*) FROM files").fetchone() == (2,)
    _invariant(con)


def test_forget_cli(run_cli: Any, jsonl: Any) -> None:
    path = jsonl([chat()])
    assert run_cli("ingest", str(path))[0] == 0
    code, out, _ = run_cli("forget", str(path))
    assert code == 0 and out.startswith("forgot 1 file(s): 1 requests")
    code, _, err = run_cli("forget", str(path))
    assert code == 2 and "no ingested file matches" in err
    path.unlink()  # a file gone from disk is still forgotten by its path
    code, out, _ = run_cli("ingest", "-f", "json", str(jsonl([chat()])))
    path.unlink()
    assert run_cli("forget", str(path))[0] == 0


def test_one_bad_file_does_not_stop_the_others(run_cli: Any, jsonl: Any, tmp_path: Path) -> None:
    first = jsonl([chat("chatcmpl-a")], "a.jsonl")
    bad = jsonl([{"hello": "world"}], "b.jsonl")
    last = jsonl([chat("chatcmpl-c")], "c.jsonl")
    code, out, err = run_cli("ingest", "-f", "json", str(first), str(bad), str(last))
    assert code == 2
    doc = json.loads(out)
    assert [f["loaded"] for f in doc["files"]] == [1, 0, 1]
    assert "cannot recognise the format of" in doc["files"][1]["error"]
    assert "llmcost: error: cannot recognise the format of" in err and "Traceback" not in err
    code, out, _ = run_cli("report", "-f", "json")
    assert json.loads(out)["totals"]["requests"] == 2


def test_reload_cli_with_a_flag_over_the_config(run_cli: Any, jsonl: Any, tmp_path: Path) -> None:
    path = jsonl(INHOUSE, "app.jsonl")
    wrong = dict(m.split("=", 1) for m in INHOUSE_MAP) | {"customer_id": "trace"}  # the mistake
    (tmp_path / "llmcost.toml").write_text(
        "[ingest.map]\n" + "".join(f'{k} = "{v}"\n' for k, v in wrong.items())
    )
    assert run_cli("ingest", str(path))[0] == 0
    code, out, _ = run_cli("report", "--by", "customer", "-f", "json")
    assert [r["customer"] for r in json.loads(out)["rows"]] == ["t-1"]
    # the same file again is skipped; --reload with the corrected field (the flag wins) replaces it
    code, out, _ = run_cli("ingest", "-f", "json", str(path))
    assert json.loads(out)["files"][0]["skipped"] is True
    code, out, err = run_cli(
        "ingest", "-f", "json", "--reload", "--map", "customer_id=ctx.account", str(path)
    )
    assert code == 0, err
    assert json.loads(out)["totals"] == {"read": 2, "loaded": 2, "rejected": 0, "duplicates": 0}
    code, out, _ = run_cli("report", "--by", "customer", "-f", "json")
    rows = json.loads(out)["rows"]
    # 1000 x 0.15 + 1000 x 0.075 + 100 x 0.60 = 285; 1000 x 0.15 + 50 x 0.60 = 180; 465 per 1M
    assert [r["customer"] for r in rows] == ["acme"] and near(rows[0]["cost_usd"], "0.000465")
