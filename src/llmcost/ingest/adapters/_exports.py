"""Shared by the aggregate-export adapters (usage and billed cost): reading JSON pages and CSVs,
lenient number and time parsing, and the writes to the `usage` and `billed` tables.

A JSON export is one document (a page), a JSON array of pages, or JSON lines of pages; it is
read whole (these files are small). Each result inside is one record: `line_no` is its ordinal
in the file. In a CSV, `line_no` is the physical row (the header is row 1).

Dedupe: a record's key (`record_id`) hashes its bucket and grouping fields within its source kind.
The same key with the same values is a duplicate; with other values (a day re-fetched after it
was complete) the newer file replaces the older row and counts as loaded.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from llmcost.errors import InputError
from llmcost.ingest.formats import Job, first_line
from llmcost.store import writes

USAGE_COLUMNS = [
    "source_kind", "record_id", "content", "file_id", "line_no", "bucket_start", "bucket_end", "provider",
    "model", "project", "workspace", "api_key", "user_id", "service_tier", "context_window", "long_context",
    "batch", "requests", "input_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens",
    "output_tokens", "web_search_requests", "attrs",
]  # fmt: skip
BILLED_COLUMNS = [
    "source_kind", "record_id", "content", "file_id", "line_no", "period_start", "period_end", "provider",
    "model", "token_kind", "cost_type", "service_tier", "context_window", "amount_usd", "currency", "project",
    "workspace", "api_key", "line_item", "quantity", "quantity_unit", "attrs",
]  # fmt: skip
_NOT_HASHED = {"source_kind", "record_id", "content", "file_id", "line_no", "attrs"}


class Reject(Exception):
    """A record that cannot be loaded; the message is the stored reason."""


# ---------------------------------------------------------------- values


def integer(value: Any, name: str, *, required: bool = False) -> int:
    """A token or request count: ints, integral floats/strings ('8.0' in dashboard CSVs); blank is 0."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Reject(f"missing {name}")
        return 0
    if isinstance(value, bool):
        raise Reject(f"{name} must be a number, got {value!r}")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        raise Reject(f"{name} must be a number, got {str(value)[:30]!r}") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise Reject(f"{name} must be a whole number, got {str(value)[:30]!r}")
    if number < 0:
        raise Reject(f"{name} must not be negative")
    return int(number)


def money(value: Any, name: str) -> Decimal:
    """An amount as an exact Decimal (JSON is parsed with parse_float=Decimal); blank is 0."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return Decimal(0)
    if isinstance(value, bool):
        raise Reject(f"{name} must be a number, got {value!r}")
    try:
        number = (
            Decimal(value.strip().replace(",", "").replace("$", ""))
            if isinstance(value, str)
            else Decimal(value)
        )
    except (InvalidOperation, ValueError, TypeError):
        raise Reject(f"{name} must be a number, got {str(value)[:30]!r}") from None
    if not number.is_finite():
        raise Reject(f"{name} must be a finite number")
    return number


def when(value: Any, name: str) -> datetime:
    """UTC naive datetime from epoch s/ms/ns (number or digit string), RFC 3339, or a YYYY-MM-DD day."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise Reject(f"missing {name}")
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, bool):
        raise Reject(f"{name} must be a time, got {value!r}")
    text = value.strip() if isinstance(value, str) else None
    number: Decimal | None = None
    if text is None:
        try:
            number = Decimal(value)
        except (InvalidOperation, ValueError, TypeError):
            raise Reject(f"{name} must be a time, got {str(value)[:30]!r}") from None
    elif re.fullmatch(r"\d+(?:\.\d+)?", text):
        number = Decimal(text)
    if number is not None:
        seconds = number
        if seconds > 10**14:
            seconds /= 10**9
        elif seconds > 10**11:
            seconds /= 10**3
        try:
            return datetime(1970, 1, 1) + timedelta(seconds=float(seconds))
        except OverflowError:
            raise Reject(f"{name} is out of range: {value}") from None
    assert text is not None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" UTC", "+00:00"))
    except ValueError:
        raise Reject(f"{name} must be epoch seconds or RFC 3339, got {text[:30]!r}") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def day_bucket(value: Any, name: str) -> tuple[datetime, datetime]:
    """A console CSV's UTC day: [00:00, next 00:00)."""
    start = when(value, name)
    day = date(start.year, start.month, start.day)
    begin = datetime.combine(day, datetime.min.time())
    return begin, begin + timedelta(days=1)


def flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "t")
    return bool(value)


def text(value: Any) -> str | None:
    if value is None:
        return None
    out = str(value).strip()
    return out or None


def display_model(name: str | None) -> str | None:
    """Anthropic display names to model ids: 'Claude Haiku 4.5' -> 'claude-haiku-4-5',
    'Claude 3.5 Sonnet 2024-10-22' -> 'claude-3-5-sonnet-2024-10-22' (the price table drops dates)."""
    if not name:
        return None
    return re.sub(r"[\s._]+", "-", name.strip().lower()).strip("-") or None


# ---------------------------------------------------------------- reading


def read_all(job: Job) -> bytes:
    data = b"".join(job.reader)
    job.on_bytes(len(data))
    return data


def json_pages(job: Job, what: str) -> tuple[list[Any], list[tuple[int, str, str]]]:
    """The pages of a JSON export: one document, an array of pages, or JSON lines of pages.
    A JSON-lines page that does not parse is a reject (line_no = its line)."""
    raw = read_all(job).decode("utf-8-sig", errors="replace")
    try:
        doc = json.loads(raw, parse_float=Decimal)
        return (doc if isinstance(doc, list) else [doc]), []
    except json.JSONDecodeError as exc:
        whole_error = exc
    pages: list[Any] = []
    rejects: list[tuple[int, str, str]] = []
    lines = raw.splitlines()
    if not _json_lines(lines):
        raise InputError(
            f"cannot read {what} from {job.source.name}: {whole_error.msg} "
            f"(line {whole_error.lineno}, column {whole_error.colno})",
            hint="is the file complete?",
        )
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            pages.append(json.loads(line, parse_float=Decimal))
        except json.JSONDecodeError as exc:
            rejects.append((n, f"line {n} is not valid JSON: {exc.msg}", line))
    return pages, rejects


def _json_lines(lines: list[str]) -> bool:
    """JSON lines of pages: at least two non-blank lines, the first a JSON value on its own."""
    filled = [line for line in lines if line.strip()]
    if len(filled) < 2:
        return False
    try:
        json.loads(filled[0])
    except json.JSONDecodeError:
        return False
    return True


def buckets(pages: list[Any], job: Job, what: str) -> Iterator[tuple[dict[str, Any], Any]]:
    """(bucket, result) for every result of every bucket; a page without `data` is an input error."""
    for page in pages:
        data = page.get("data") if isinstance(page, dict) else None
        if not isinstance(data, list):
            raise InputError(
                f"{job.source.name} does not look like {what}: expected a page with a 'data' list of buckets",
                hint="check the file, or let `llmcost ingest` detect the format without --as",
            )
        for bucket in data:
            results = bucket.get("results") if isinstance(bucket, dict) else None
            if not isinstance(results, list):
                yield (bucket if isinstance(bucket, dict) else {}), None
                continue
            for result in results:
                yield bucket, result


def csv_rows(job: Job) -> tuple[list[str], Iterator[tuple[int, dict[str, str], str]]]:
    """Header (lower-case names) and (line_no, row by name, raw line) for every non-blank row."""
    raw = read_all(job).decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(raw))
    try:
        header = [h.strip().lower().lstrip("\ufeff") for h in next(reader)]
    except StopIteration:
        return [], iter(())

    def rows() -> Iterator[tuple[int, dict[str, str], str]]:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            line_no = reader.line_num
            yield line_no, dict(zip(header, row, strict=False)), ",".join(row)

    return header, rows()


def csv_header(head: bytes) -> set[str]:
    line = first_line(head).lstrip("\ufeff")
    if "," not in line or line.lstrip().startswith(("{", "[")):
        return set()
    return {h.strip().lower() for h in next(csv.reader([line]))}


def json_head(head: bytes) -> str:
    """The head of a JSON export as text, or '' when it is not JSON-shaped."""
    textual = head.decode("utf-8", errors="replace").lstrip("\ufeff").lstrip()
    return textual if textual.startswith(("{", "[")) else ""


# ---------------------------------------------------------------- writing


def _digest(parts: Any) -> str:
    blob = json.dumps(parts, default=str, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def keyed(row: dict[str, Any], key_fields: list[str]) -> dict[str, Any]:
    """Fill record_id (bucket + grouping fields) and content (every value) of a row."""
    row["record_id"] = _digest([row.get(k) for k in key_fields])
    row["content"] = _digest({k: v for k, v in row.items() if k not in _NOT_HASHED})
    return row


def store(
    job: Job, table: str, kind: str, records: Sequence[tuple[int, str, Callable[[], dict[str, Any]]]],
    rejects: list[tuple[int, str, str]],
) -> writes.Counts:  # fmt: skip
    """Parse each (line_no, raw, parse) record, reject what fails, upsert the rest into `table`."""
    counts = writes.Counts(read=len(records) + len(rejects))
    rows: dict[str, dict[str, Any]] = {}
    for line_no, raw, parse in records:
        try:
            row = parse()
        except Reject as exc:
            rejects.append((line_no, str(exc), raw))
            continue
        row.update(source_kind=kind, file_id=job.file_id, line_no=line_no)
        rows.pop(row["record_id"], None)  # the same key twice in a file: the later one wins
        rows[row["record_id"]] = row
    writes.reject_lines(job.con, job.file_id, rejects)
    counts.rejected = len(rejects)
    counts.loaded = _upsert(job.con, table, kind, list(rows.values()))
    counts.duplicates = counts.read - counts.rejected - counts.loaded
    return counts


def _upsert(con: Any, table: str, kind: str, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    import pyarrow as pa

    columns = USAGE_COLUMNS if table == "usage" else BILLED_COLUMNS
    data = {c: [_cell(r.get(c)) for r in rows] for c in columns}
    arrow = pa.table({c: pa.array(v, type=_arrow_type(c, v)) for c, v in data.items()})
    con.execute(f"CREATE OR REPLACE TEMP TABLE lc_exp_stage AS SELECT * FROM {table} LIMIT 0")
    con.register("lc_exp_arrow", arrow)
    try:
        con.execute("INSERT INTO lc_exp_stage BY NAME SELECT * FROM lc_exp_arrow")
    finally:
        con.unregister("lc_exp_arrow")
    # the same key with the same values is already stored: a duplicate
    con.execute(
        f"""DELETE FROM lc_exp_stage s WHERE EXISTS (
              SELECT 1 FROM {table} t WHERE t.source_kind = ? AND t.record_id = s.record_id AND t.content = s.content)""",
        [kind],
    )
    # the same key with other values: the newer export replaces the older row
    con.execute(
        f"DELETE FROM {table} WHERE source_kind = ? AND record_id IN (SELECT record_id FROM lc_exp_stage)",
        [kind],
    )
    loaded = int(con.execute("SELECT count(*) FROM lc_exp_stage").fetchone()[0])
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM lc_exp_stage")
    con.execute("DROP TABLE lc_exp_stage")
    return loaded


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")  # exact: DuckDB casts the text to DECIMAL
    if isinstance(value, dict):
        return json.dumps(value, default=_json_default)
    return value


def dump(value: Any) -> str:
    """A record as stored whole in `rejects`."""
    return json.dumps(value, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


def _arrow_type(column: str, values: list[Any]) -> Any:
    import pyarrow as pa

    if column in ("bucket_start", "bucket_end", "period_start", "period_end"):
        return pa.timestamp("us")
    if column in ("long_context", "batch"):
        return pa.bool_()
    if column in ("file_id", "line_no", "requests", "web_search_requests") or column.endswith(
        "_tokens"
    ):
        return pa.int64()
    if column == "quantity":
        return pa.float64()
    return pa.string()


def extra_attrs(record: dict[str, Any], mapped: set[str]) -> dict[str, Any] | None:
    """Fields of a record that were not mapped to a column: nothing in a line is dropped."""
    rest = {k: v for k, v in record.items() if k not in mapped and v not in (None, "")}
    return rest or None
