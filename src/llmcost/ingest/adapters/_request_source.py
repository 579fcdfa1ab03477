"""What every request-level adapter shares: reading records (JSON lines, a JSON document, CSV),
turning values into canonical ones, and handing batches to the canonical loader.

An adapter only maps one source record to canonical fields (SPEC §2); validation, dedupe by
(kind, request_id), rejects and counting happen in `requests_log.load_table`, like for the
canonical log.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from llmcost.errors import InputError
from llmcost.ingest import canonical, requests_log
from llmcost.ingest.formats import Job, first_line, first_records
from llmcost.store.writes import Counts

BATCH = 20_000

# A record's fate: a canonical dict, a rejection reason, or None (not a request: passed over).
Outcome = dict[str, Any] | str | None
# One source record: (line number, its text as the file has it, the parsed value or None, a parse error).
Record = tuple[int, str, Any, str | None]

# Keys the canonical SQL reads (aliases, nested usage objects, text): an unmapped field with one of
# these names would be taken for a canonical one, so extras that collide get the source's prefix.
_RESERVED = set(canonical.MAPPED_TOP) | set(canonical.NESTED) | {"response"}
_NAIVE_TS = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


# ---------------------------------------------------------------- values


def as_int(value: Any) -> Any:
    """An int from an int, an integral float or a numeric string (OTLP int64, CSV cells); anything
    else is returned as it is so that the canonical check rejects it with its value."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return None
        try:
            return int(text)
        except ValueError:
            try:
                f = float(text)
            except ValueError:
                return value
            return int(f) if f.is_integer() else value
    return value


def as_num(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return None
        try:
            return float(text)
        except ValueError:
            return value
    return value


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "t"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "f", ""):
        return False
    return None


def add_ints(*values: Any) -> Any:
    """The sum of token counts (missing ones are 0); the first non-integer is returned as it is."""
    total = 0
    for v in values:
        n = as_int(v)
        if n is None:
            continue
        if not isinstance(n, int) or isinstance(n, bool):
            return v
        total += n
    return total


def timestamp(value: Any) -> Any:
    """A timestamp the canonical SQL reads: epoch numbers pass through (s/ms/us/ns by magnitude);
    a string without a zone is UTC (exports such as OpenRouter's and Postgres CSVs omit it)."""
    if isinstance(value, str):
        text = value.strip()
        if _NAIVE_TS.match(text):
            return text.replace(" ", "T") + "Z"
        return text
    return value


def epoch_ms(value: Any) -> float | None:
    """Milliseconds since the epoch of a timestamp value, for latencies; None when unreadable."""
    v = timestamp(value)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        x = float(v)
        for scale in (1e3, 1.0, 1e-3, 1e-6):  # s, ms, us, ns
            if abs(x * scale) < 1e14:
                return x * scale
        return None
    if isinstance(v, str):
        if re.fullmatch(r"\d+(\.\d+)?", v):
            return epoch_ms(float(v))
        try:
            dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp() * 1000
    return None


def latency(start: Any, end: Any) -> float | None:
    a, b = epoch_ms(start), epoch_ms(end)
    return None if a is None or b is None or b < a else round(b - a, 3)


def maybe_json(value: Any) -> Any:
    """A JSON object or list that a CSV export wrote as text."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def obj(value: Any) -> dict[str, Any]:
    """The value when it is a JSON object, else an empty one (optional nested objects)."""
    return value if isinstance(value, dict) else {}


def pick(mapping: Any, *keys: str) -> Any:
    """The first non-empty value among `keys` (case-insensitive) of a mapping."""
    if not isinstance(mapping, dict):
        return None
    lower = {str(k).lower(): v for k, v in mapping.items()}
    for key in keys:
        v = lower.get(key.lower())
        if v is not None and v != "":
            return v
    return None


def canonical_record(fields: dict[str, Any], extras: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Canonical fields plus unmapped extras (kept as attrs); None values are left out."""
    out = {k: v for k, v in fields.items() if v is not None}
    for key, value in extras.items():
        if value is None or value == "" or value == {} or value == []:
            continue
        name = f"{prefix}_{key}" if key in _RESERVED or key in fields else key
        out[name] = value
    return out


# ---------------------------------------------------------------- reading


def _lines(
    job: Job, chunks: Iterable[bytes] | None = None
) -> Iterator[tuple[int, str | None, str]]:
    """(line number, text or None when not UTF-8, text for the reject) of every line of a file."""
    line_no = 0
    for chunk in job.reader if chunks is None else chunks:
        for part in chunk.split(b"\n"):
            line_no += 1
            if part.endswith(b"\r"):
                part = part[:-1]
            try:
                text = part.decode("utf-8")
                yield line_no, text, text
            except UnicodeDecodeError:
                yield line_no, None, part.decode("utf-8", errors="backslashreplace")
        if chunk.endswith(b"\n"):
            line_no -= 1  # the empty piece after the last newline is not a line
        job.on_bytes(len(chunk))


def _is_document(head: bytes) -> bool:
    """A whole JSON document (an array, or a pretty-printed object) rather than JSON lines."""
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if text.startswith("["):
        return True
    if not text.startswith("{"):
        return False
    line = text.split("\n", 1)[0]
    try:
        json.loads(line)
        return False
    except json.JSONDecodeError:
        return True


def json_records(
    job: Job, unwrap: Callable[[Any], list[Any]], chunks: Iterable[bytes] | None = None
) -> Iterator[Record]:
    """Records of a JSON-lines file (one per line), or of one JSON document (`unwrap` finds the
    records in it; their number stands in for the line number)."""
    lines = _lines(job, chunks)
    first: list[tuple[int, str | None, str]] = []
    for item in lines:
        first.append(item)
        if item[1] is None or item[1].strip():
            break
    head = (first[-1][1] or "").encode() if first else b""
    if first and first[-1][1] is not None and _is_document(head):
        whole = (
            "\n".join(t or "" for _, t, _ in first) + "\n" + "\n".join(t or r for _, t, r in lines)
        )
        try:
            doc = json.loads(whole)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{job.source.name}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
                hint="is the export complete?",
            ) from None
        for i, rec in enumerate(unwrap(doc), start=1):
            yield i, json.dumps(rec, ensure_ascii=False), rec, None
        return
    for line_no, text, raw in [*first, *lines]:
        if text is None:
            yield line_no, raw, None, "not valid UTF-8"
            continue
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            yield line_no, text, None, "invalid JSON"
            continue
        inner = unwrap(value)
        if len(inner) == 1 and inner[0] is value:
            yield line_no, text, value, None
        else:  # an API page on one line: {"data": [...]}
            for rec in inner:
                yield line_no, json.dumps(rec, ensure_ascii=False), rec, None


def csv_records(job: Job, chunks: Iterable[bytes] | None = None) -> Iterator[Record]:
    """Rows of a CSV file with a header, as dicts; the line number is where the row starts."""
    pending: list[tuple[int, str]] = []

    def text_lines() -> Iterator[str]:
        for line_no, text, raw in _lines(job, chunks):
            pending.append((line_no, raw))
            yield (text if text is not None else raw) + "\n"

    reader = csv.reader(text_lines())
    header: list[str] | None = None
    for row in reader:
        start = pending[0][0] if pending else 0
        raw = "\n".join(r for _, r in pending)
        pending.clear()
        if header is None:
            header = [h.lstrip("\ufeff").strip() for h in row]
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield start, raw, None, f"CSV row has {len(row)} cells, the header has {len(header)}"
            continue
        yield start, raw, dict(zip(header, row, strict=True)), None


def any_records(job: Job, unwrap: Callable[[Any], list[Any]]) -> Iterator[Record]:
    """CSV rows or JSON records, whichever the file holds (decided on its first bytes)."""
    it = iter(job.reader)
    first = next(it, b"")
    chunks = itertools.chain([first], it)
    if csv_header(first[:65536]):
        return csv_records(job, chunks)
    return json_records(job, unwrap, chunks)


def unwrap_common(doc: Any, *keys: str) -> list[Any]:
    """The records of a document: a list, an API envelope such as {"data": [...]}, or one record."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        for key in (*keys, "data", "items", "results", "logs"):
            inner = doc.get(key)
            if isinstance(inner, list):
                return inner
        return [doc]
    return [doc]


def csv_header(head: bytes) -> list[str]:
    line = first_line(head)
    if not line or line.lstrip().startswith(("{", "[")):
        return []
    try:
        return [h.strip() for h in next(csv.reader([line]))]
    except (csv.Error, StopIteration):
        return []


def dict_records(head: bytes, *envelope: str) -> list[dict[str, Any]]:
    """The first records of a head sample, looking inside an API envelope when there is one."""
    out: list[dict[str, Any]] = []
    for rec in first_records(head):
        for inner in unwrap_common(rec, *envelope) if isinstance(rec, (dict, list)) else []:
            if isinstance(inner, dict):
                out.append(inner)
    if not out and head.lstrip()[:1] in (b"[", b"{"):
        # a large document cut by the head sample: find the first complete object inside
        out.extend(_objects_in_prefix(head.decode("utf-8", errors="replace"), 3))
    return out


def _objects_in_prefix(text: str, limit: int) -> list[dict[str, Any]]:
    decoder = json.JSONDecoder()
    out: list[dict[str, Any]] = []
    i = 0
    while len(out) < limit:
        j = text.find("{", i + 1)
        if j < 0:
            break
        try:
            obj, end = decoder.raw_decode(text, j)
        except json.JSONDecodeError:
            i = j
            continue
        if isinstance(obj, dict):
            out.append(obj)
        i = end
    return out


# ---------------------------------------------------------------- loading


class Rows:
    """Staged records as the canonical loader takes them: (line_no, line, raw, pre_reason) columns."""

    def __init__(self) -> None:
        self.nums: list[int] = []
        self.lines: list[str] = []
        self.raws: list[str] = []
        self.reasons: list[str | None] = []
        self.keys: set[str] = set()  # top-level keys of the lines

    def add(self, line_no: int, raw: str, outcome: dict[str, Any] | str) -> None:
        self.nums.append(line_no)
        self.raws.append(raw)
        if isinstance(outcome, str):
            self.lines.append("{}")
            self.reasons.append(outcome)
        else:
            self.lines.append(json.dumps(outcome, ensure_ascii=False, default=str))
            self.reasons.append(None)
            self.keys.update(outcome)

    def table(self) -> Any:
        import pyarrow as pa

        table = pa.table(
            {
                "line_no": pa.array(self.nums, pa.int64()),
                "line": pa.array(self.lines, pa.large_string()),
                "raw": pa.array(self.raws, pa.large_string()),
                "pre_reason": pa.array(self.reasons, pa.string()),
            }
        )
        return requests_log._batched(table)


class Stager:
    """Collects canonical records and loads them in batches through the canonical path."""

    def __init__(self, job: Job, kind: str) -> None:
        self.job, self.kind = job, kind
        self.counts = Counts()
        self.rows = Rows()
        self.ids: set[str] = set()  # request ids given so far in this file

    def add(self, line_no: int, raw: str, outcome: dict[str, Any] | str) -> None:
        rid = outcome.get("request_id") if isinstance(outcome, dict) else None
        if isinstance(rid, str):
            # records of one line share its line number, which the loader's dedupe goes by: a
            # repeated id (two tracers' spans of one call) is counted here
            if rid in self.ids:
                self.counts.add(Counts(read=1, duplicates=1))
                return
            self.ids.add(rid)
        self.rows.add(line_no, raw, outcome)
        if len(self.rows.nums) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.rows.nums:
            return
        # the keys are known here: no need for DuckDB to look for them
        table, keys = self.rows.table(), frozenset(self.rows.keys)
        self.counts.add(requests_log.load_table(self.job, table, self.kind, keys))
        self.rows = Rows()

    def finish(self) -> Counts:
        self.flush()
        return self.counts


def load_records(
    job: Job,
    kind: str,
    records: Iterable[Record],
    convert: Callable[[Any], Iterable[tuple[str | None, Outcome]]],
) -> Counts:
    """Convert every record and load the results: `convert` gives (raw text or None for the
    record's own, outcome) per request found in a record; a record with none is passed over."""
    stager = Stager(job, kind)
    for line_no, raw, value, error in records:
        if error is not None:
            stager.add(line_no, raw, error)
            continue
        for own_raw, outcome in convert(value):
            if outcome is not None:
                stager.add(line_no, own_raw if own_raw is not None else raw, outcome)
    return stager.finish()


def one(outcome: Outcome) -> list[tuple[str | None, Outcome]]:
    return [(None, outcome)]
