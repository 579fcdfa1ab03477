"""`ingest --explain FILE`: why a line loaded the way it did.

The first lines of the file are ingested, exactly as `ingest` would (same detection, mapping and
readers), into a scratch database in memory; each resulting request is shown field by field with
the place in the line it came from, and what went to `attrs`. Nothing is written to the user's
database.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from llmcost.errors import InputError
from llmcost.ingest import registry
from llmcost.ingest.sources import Source, expand, open_binary

FIELDS = ["request_id", "ts", "provider", "model", "user_id", "customer_id", "feature", "task_id",
          "step", "plan", "status", "input_tokens", "cache_read_tokens", "cache_write_tokens",
          "cache_write_1h_tokens", "output_tokens", "reasoning_tokens", "cache_hit", "batch",
          "latency_ms", "logged_cost_usd"]  # fmt: skip
WHOLE_FILE_BYTES = 16 << 20  # a JSON document (not lines) this small is read whole


def explain(
    path: str,
    *,
    as_format: str | None = None,
    mapping: dict[str, str] | None = None,
    limit: int = 5,
) -> dict[str, Any]:
    """For the first LIMIT records of PATH: the format chosen, each canonical field with its
    value and origin, attrs, and any reject with its reason."""
    from llmcost import ingest
    from llmcost.store import connect

    sources, _ = expand([path])
    files = [s for s in sources if s.path is not None]
    if len(files) != 1:
        raise InputError(f"--explain takes one file, {path!r} gives {len(files)}")
    source = files[0]
    assert source.path is not None
    with tempfile.TemporaryDirectory(prefix="llmcost-explain-") as tmp:
        sample = _sample(source, Path(tmp), limit)
        con = connect(":memory:")
        try:
            summary = ingest.ingest_paths(
                con, [str(sample)], as_format=as_format, mapping=mapping or None
            )
            result = summary.files[0]
            if result.error:
                raise InputError(result.error.replace(str(sample), source.name))
            requests = _rows(con)
            rejects = [
                {"line": r[0], "reason": r[1], "raw": r[2]}
                for r in con.execute(
                    "SELECT line_no, reason, raw FROM rejects ORDER BY line_no"
                ).fetchall()
            ]
        finally:
            con.close()
        records = _records(sample)
    fmt = registry.get(result.format)
    origins = _origins(result.format, records, mapping or {})
    lines = []
    for row in requests:
        line_no = row.pop("line_no")
        attrs = row.pop("attrs")
        origin = origins.get(line_no, {})
        lines.append(
            {
                "line": line_no,
                "fields": [
                    {"field": f, "value": row[f], "from": _origin_of(f, origin, result.format)}
                    for f in FIELDS
                    if row.get(f) not in (None, "")
                ],
                "attrs": json.loads(attrs) if attrs else {},
            }
        )
    return {
        "schema": "llmcost.explain/1",
        "path": source.name,
        "format": result.format,
        "format_description": fmt.description if fmt else "",
        "mapping": mapping or {},
        "records": lines,
        "rejects": rejects,
    }


def _sample(source: Source, tmp: Path, limit: int) -> Path:
    """A copy of the file's first LIMIT lines (a header and LIMIT rows for CSV), or the whole file
    when it is one JSON document."""
    assert source.path is not None
    target = tmp / source.path.name.removesuffix(".gz").removesuffix(".zst")
    with open_binary(source) as stream:
        head = stream.read(WHOLE_FILE_BYTES)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    first = stripped.split(b"\n", 1)[0]
    document = stripped[:1] == b"[" or (stripped[:1] == b"{" and not _parses(first))
    if document:
        target.write_bytes(head)
        return target
    keep: list[bytes] = []
    header = 1 if _is_csv(head) else 0
    for line in head.split(b"\n"):
        if line.strip():
            keep.append(line)
        if len(keep) >= limit + header:
            break
    target.write_bytes(b"\n".join(keep) + b"\n")
    return target


def _parses(line: bytes) -> bool:
    try:
        json.loads(line)
        return True
    except ValueError:
        return False


def _is_csv(head: bytes) -> bool:
    from llmcost.ingest.adapters import _request_source as rs

    return bool(rs.csv_header(head))


def _rows(con: Any) -> list[dict[str, Any]]:
    cur = con.execute(
        f"SELECT line_no, {', '.join(FIELDS)}, CAST(attrs AS VARCHAR) AS attrs FROM requests"
        " ORDER BY line_no, request_id"
    )
    names = [d[0] for d in cur.description]
    out = []
    for r in cur.fetchall():
        row = dict(zip(names, r, strict=True))
        if row["ts"] is not None:
            row["ts"] = row["ts"].isoformat() + "Z"
        out.append(row)
    return out


def _records(sample: Path) -> list[tuple[int, Any]]:
    """(line number, parsed record) of the sample, for the origins."""
    data = sample.read_bytes()
    if _is_csv(data[:65536]):
        import csv
        import io

        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8", errors="replace"))))
        return [
            (i + 2, {k: v for k, v in r.items() if v not in (None, "")}) for i, r in enumerate(rows)
        ]
    out: list[tuple[int, Any]] = []
    for i, line in enumerate(data.decode("utf-8", errors="replace").split("\n"), start=1):
        if line.strip():
            try:
                out.append((i, json.loads(line)))
            except ValueError:
                continue
    return out


def _origins(
    fmt: str, records: list[tuple[int, Any]], mapping: dict[str, str]
) -> dict[int, dict[str, str]]:
    """Where each canonical field of a line came from, for the readers that take a line's own
    field names (the canonical log, SDK responses, CSV request logs)."""
    if fmt not in ("requests", "sdk", "requests_csv"):
        return {}
    from llmcost.ingest.adapters import sdk

    out: dict[int, dict[str, str]] = {}
    for line_no, rec in records:
        origin = sdk.Explained()
        sdk.convert_record(rec, mapping, origin=origin)
        out[line_no] = dict(origin)
    return out


TOKEN_FIELDS = {"input_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens",
                "output_tokens", "reasoning_tokens"}  # fmt: skip
OWN_FIELDS = {"ts": "timestamp", "logged_cost_usd": "cost_usd"}


def _origin_of(field: str, origin: dict[str, str], fmt: str) -> str:
    name = OWN_FIELDS.get(field, field)
    if name in origin:
        return origin[name]
    if field in TOKEN_FIELDS and "tokens" in origin:
        return f"{origin['tokens']} (read by its vendor's rules)"
    if fmt not in ("requests", "sdk", "requests_csv"):
        return f"the {fmt} reader"
    if field == "provider":
        return "inferred from the model"
    if field == "customer_id":
        return "user_id (no customer named)"
    if field == "request_id":
        return "a hash of the line (none named)"
    if field == "status":
        return "default"
    return "default"
