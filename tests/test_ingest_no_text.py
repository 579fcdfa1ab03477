"""No prompt or response text is stored without --keep-text (SPEC §3), in any shape, rejects included.

Every string under a text key (messages, choices, content, candidates, instructions, tool
arguments, OTel gen_ai.input/output.messages...) of the bundled provider samples, and of a corpus
of raw SDK responses and rejected lines, is replaced by a unique marker; the database FILE's
bytes must then hold none of them. With --keep-text they are kept.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path
from typing import Any

from llmcost.ingest import ingest_paths, text
from llmcost.store import connect

PROVIDERS = Path(__file__).resolve().parents[1] / "sample_logs" / "providers"
REQUEST_SOURCES = (
    "bedrock",
    "claude_code",
    "helicone",
    "langfuse",
    "litellm",
    "openrouter",
    "otel",
)


class Markers:
    def __init__(self) -> None:
        self.n = itertools.count(1)
        self.planted: list[str] = []
        self.own = 0

    def new(self) -> str:
        m = f"MRK{next(self.n):05d}Z"
        self.planted.append(m)
        return m

    def plant(self, value: Any, under_text: bool = False) -> Any:
        """VALUE with every string under a text key replaced by a fresh marker."""
        if isinstance(value, str):
            if under_text:
                return self.new() + " " + value
            if value[:1] in "[{":  # JSON kept as a string (OTLP attributes, CSV cells)
                try:
                    inner = json.loads(value)
                except ValueError:
                    return value
                return json.dumps(self.plant(inner, under_text))
            return value
        if isinstance(value, list):
            return [self.plant(v, under_text) for v in value]
        if isinstance(value, dict):
            key = value.get("key")
            if isinstance(key, str) and "value" in value and text.is_text_key(key):
                return {**value, "value": self.plant(value["value"], True)}
            return {k: self.plant(v, under_text or text.is_text_key(k)) for k, v in value.items()}
        return value


def _plant_file(src: Path, dst: Path, m: Markers) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    raw = src.read_text()
    if src.suffix == ".csv":
        rows = list(csv.reader(io.StringIO(raw)))
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(rows[0])
        for row in rows[1:]:
            w.writerow(
                [m.plant(c, text.is_text_key(h)) for h, c in zip(rows[0], row, strict=False)]
            )
        dst.write_text(out.getvalue())
    elif raw.lstrip()[:1] == "[" or (
        raw.lstrip()[:1] == "{" and "\n" in raw.strip() and not _lines_parse(raw)
    ):
        dst.write_text(json.dumps(m.plant(json.loads(raw)), indent=2))
    else:
        lines = [json.dumps(m.plant(json.loads(line))) for line in raw.splitlines() if line.strip()]
        dst.write_text("\n".join(lines) + "\n")


def _lines_parse(raw: str) -> bool:
    try:
        json.loads(raw.splitlines()[0])
        return True
    except ValueError:
        return False


def _corpus(root: Path, m: Markers) -> None:
    """Raw SDK responses, a CSV request log and rejected lines of each kind, all with markers."""
    for source in REQUEST_SOURCES:
        for src in (PROVIDERS / source).rglob("*"):
            if src.is_file() and src.suffix in (".json", ".jsonl", ".csv"):
                _plant_file(src, root / source / src.relative_to(PROVIDERS / source), m)
    m.own = len(m.planted)  # the markers below are in shapes that keep text with --keep-text
    usage = {"prompt_tokens": 10, "completion_tokens": 5}
    sdk = [
        {"id": "c1", "object": "chat.completion", "created": 1790000000, "model": "gpt-4o-mini", "usage": usage,
         "choices": [{"message": {"content": m.new(), "tool_calls": [{"function": {"arguments": m.new()}}]}}]},
        {"id": "r1", "object": "response", "created_at": 1790000000, "status": "completed", "model": "gpt-4o-mini",
         "instructions": m.new(), "output": [{"type": "message", "content": [{"type": "output_text", "text": m.new()}]}],
         "usage": {"input_tokens": 10, "output_tokens": 5}},
        {"ts": "2026-10-01T00:00:00Z", "request": {"system": m.new(), "messages": [{"role": "user", "content": m.new()}]},
         "response": {"id": "a1", "type": "message", "model": "claude-3-5-haiku-20241022",
                      "content": [{"type": "tool_use", "input": {"q": m.new()}}],
                      "usage": {"input_tokens": 10, "output_tokens": 5}}},
        {"candidates": [{"content": {"parts": [{"text": m.new()}]}}], "modelVersion": "gemini-2.5-flash",
         "createTime": "2026-10-01T00:00:00Z", "responseId": "g1",
         "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5}},
        {"id": "b1", "custom_id": "x", "response": {"status_code": 200, "body": {
            "id": "c2", "object": "chat.completion", "created": 1790000000, "model": "gpt-4o-mini", "usage": usage,
            "choices": [{"message": {"content": m.new()}}]}}},
        # rejected: no model, then negative tokens, then a line cut short inside its text
        {"id": "c3", "object": "chat.completion", "created": 1790000000, "usage": usage,
         "choices": [{"message": {"content": m.new()}}]},
        {"id": "c4", "object": "chat.completion", "created": 1790000000, "model": "gpt-4o-mini",
         "usage": {"prompt_tokens": -1, "completion_tokens": 5}, "choices": [{"message": {"content": m.new()}}]},
    ]  # fmt: skip
    lines = [json.dumps(r) for r in sdk]
    lines.append(json.dumps(sdk[0]).replace('"c1"', '"c5"')[:-40])  # cut short: invalid JSON
    lines[-1] = lines[-1].replace(sdk[0]["choices"][0]["message"]["content"], m.new())
    (root / "sdk.jsonl").write_text("\n".join(lines) + "\n")
    canonical = [
        {"request_id": "k1", "timestamp": "2026-10-01T00:00:00Z", "model": "gpt-4o-mini", "input_tokens": 10,
         "output_tokens": 5, "prompt": m.new(), "completion": m.new(), "messages": [{"content": m.new()}],
         "choices": [{"message": {"content": m.new()}}], "response": {"output": [{"text": m.new()}], "id": "x"}},
        {"request_id": "k2", "timestamp": "2026-10-01T00:00:00Z", "input_tokens": 10, "output_tokens": 5,
         "messages": [{"content": m.new()}]},
    ]  # fmt: skip
    (root / "canonical.jsonl").write_text("\n".join(json.dumps(r) for r in canonical) + "\n")
    spans = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {"name": "t"}, "spans": [
        {"traceId": "ab" * 16, "spanId": "cd" * 8, "startTimeUnixNano": "1790000000000000000",
         "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
                        {"key": "gen_ai.usage.input_tokens", "value": {"stringValue": "ten"}},
                        {"key": "gen_ai.prompt.0.content", "value": {"stringValue": m.new()}},
                        {"key": "gen_ai.output.messages", "value": {"stringValue": m.new()}}]}]}]}]}  # fmt: skip
    (root / "otel_reject.jsonl").write_text(json.dumps(spans) + "\n")
    (root / "calls.csv").write_text(
        "timestamp,model,input_tokens,output_tokens,prompt,response\n"
        f"2026-10-01T00:00:00Z,gpt-4o-mini,10,5,{m.new()},{m.new()}\n"
        f"2026-10-01T00:00:00Z,gpt-4o-mini,-3,5,{m.new()},{m.new()}\n"
    )


def _stored(db: Path) -> bytes:
    data = db.read_bytes()
    wal = db.with_name(db.name + ".wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def _everything(con: Any) -> str:
    tables = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary"
        ).fetchall()
    ]
    return "\n".join(str(con.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables)


def test_no_marker_reaches_the_database_file(tmp_path: Path) -> None:
    m = Markers()
    corpus = tmp_path / "corpus"
    _corpus(corpus, m)
    assert len(m.planted) > 40
    db = tmp_path / "plain.duckdb"
    con = connect(db)
    summary = ingest_paths(con, [str(corpus)])
    assert not summary.failed
    assert summary.totals["loaded"] > 20 and summary.totals["rejected"] >= 6
    rejects = [r[0] for r in con.execute("SELECT raw FROM rejects").fetchall()]
    assert any("[text removed: " in r for r in rejects)  # the rest of the line is kept
    everything = _everything(con)
    con.close()
    assert "MRK" not in everything
    assert b"MRK" not in _stored(db)


def test_keep_text_keeps_them(tmp_path: Path) -> None:
    m = Markers()
    corpus = tmp_path / "corpus"
    _corpus(corpus, m)
    con = connect(tmp_path / "kept.duckdb")
    ingest_paths(con, [str(corpus)], keep_text=True)
    everything = _everything(con)
    con.close()
    own = m.planted[m.own :]
    kept = [mk for mk in own if mk in everything]
    # the gateway adapters never keep text; the SDK shapes, the canonical log and CSV do (the
    # answers of SDK responses and every rejected line whole)
    assert len(kept) > len(own) // 2, (kept, own)
    assert all(mk in everything for mk in m.planted[-4:])


def test_markers_for_text_in_a_broken_line() -> None:
    line = '{"id": "x", "messages": [{"role": "user", "content": "hello wor'
    # the cut value, from its "[" to the end of the line, is 39 characters
    assert text.scrub_line(line) == '{"id": "x", "messages": "[text removed: 39 characters]"'
    assert text.scrub_line('{"a": 1}') == '{"a": 1}'  # no text: byte for byte
