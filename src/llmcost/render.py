"""The one place that turns a result into table / json / csv / markdown / parquet text.

Results, tables and columns are defined in `llmcost.documents`. A table backed by a polars
DataFrame is written as JSON, CSV and Parquet from its columns (DuckDB formats every value of a
column in one query: no Python loop over rows); the terminal and Markdown show its first rows
(`--limit`, `--sort`) with "… N more"; Markdown holds every row. HTML is built from `to_json()` by `llmcost.report.html`.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
from collections import deque
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from llmcost import safe_text
from llmcost.documents import Column, Result, Table, is_frame
from llmcost.errors import LlmcostError
from llmcost.report.markdown import to_markdown
from llmcost.values import fmt_cell, jsonable

FORMATS = ("table", "json", "csv", "markdown", "html", "parquet")


# ---------------------------------------------------------------- frames as JSON and CSV text
#
# DuckDB formats a whole column at once, exactly as Python would: CAST(DOUBLE AS VARCHAR) is the
# shortest round-trip text, the same as repr(float), and to_json(VARCHAR) escapes a string as
# json.dumps(ensure_ascii=False) does (tests/test_documents.py holds both to Python's output).


_FRAME_CON: list[Any] = []


def _frame_con() -> Any:
    """The in-memory DuckDB that formats frames, opened once per process (~15 ms each time)."""
    import duckdb

    if not _FRAME_CON:
        _FRAME_CON.append(duckdb.connect())
    return _FRAME_CON[0]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _json_literal(name: str, dtype: Any) -> str | None:
    """SQL for the JSON text of column `name` (as jsonable + json.dumps would write it), or None."""
    import polars as pl

    c = _quote(name)
    if dtype == pl.String or dtype == pl.Categorical:
        return f"coalesce(CAST(to_json({c}) AS VARCHAR), 'null')"
    plain = _plain_literal(c, dtype, "'null'")
    if plain is not None:
        return plain
    if dtype == pl.Date:
        return f"coalesce('\"' || strftime({c}, '%Y-%m-%d') || '\"', 'null')"
    if isinstance(dtype, pl.Datetime):
        return f"coalesce('\"' || strftime({c}, '%Y-%m-%dT%H:%M:%SZ') || '\"', 'null')"
    return None  # another type (a list, a struct): written value by value


def _plain_literal(c: str, dtype: Any, missing: str) -> str | None:
    """SQL for the text of a boolean, integer, float or all-null column C, JSON and CSV alike (the
    shortest round-trip text of a float; MISSING for a missing or non-finite value), or None."""
    import polars as pl

    if dtype == pl.Boolean:
        return f"CASE WHEN {c} IS NULL THEN {missing} WHEN {c} THEN 'true' ELSE 'false' END"
    if dtype.is_integer():
        return f"coalesce(CAST({c} AS VARCHAR), {missing})"
    if dtype.is_float():
        return f"CASE WHEN isfinite({c}) THEN CAST({c} AS VARCHAR) ELSE {missing} END"
    if dtype == pl.Null:
        return missing
    return None


# Text DuckDB would not write as json.dumps + safe_text.json_text do: a C0 control without a short
# escape (DuckDB writes \u001F, Python \u001f), and what json_text escapes (C1 controls, bidi).
_SLOW_TEXT = "[\x00-\x07\x0b\x0e-\x1f" + safe_text._UNSAFE_JSON.pattern[1:]


def _has_controls(frame: Any, name: str) -> bool:
    """A value of the text column needs Python's escaping (_SLOW_TEXT)."""
    return bool(frame.get_column(name).str.contains(_SLOW_TEXT).any())


# Rows of a frame formatted per query: the text of a large frame is written in parts of this
# many rows, never held whole (500,000 rows of a --by user report are ~330 MB of JSON).
JSON_BATCH = 32_768
JSON_WORKERS = max(1, min(4, os.cpu_count() or 1))  # batches formatted at once


def _joined(con: Any, text: str, sep: str) -> str:
    """The SQL `text` of every row of lc_frame, in its order, joined by `sep`: one text per row
    (in parallel), joined by polars (string_agg is one thread). A relation read straight into
    Arrow: execute() would first materialise the rows, then copy them."""
    import polars as pl

    arrow = con.sql(f"SELECT {text} AS t FROM lc_frame ORDER BY __llmcost_i").to_arrow_table()
    rows = pl.from_arrow(arrow)
    assert isinstance(rows, pl.DataFrame)
    return str(rows.get_column("t").str.join(sep).item())


def frame_json_parts(frame: Any, depth: int) -> Iterator[str]:
    """The JSON array of objects that json.dumps(rows, indent=2) writes at `depth`, in parts (one
    per JSON_BATCH rows): their concatenation is that text."""
    import polars as pl

    from llmcost.documents import OMIT

    if frame.height == 0:
        yield "[]"
        return
    inner, field_pad = "  " * (depth + 1), "  " * (depth + 2)
    omit = {c[len(OMIT) :]: c for c in frame.columns if c.startswith(OMIT)}
    data = frame.with_row_index("__llmcost_i")
    fields: list[str] = []
    for name in frame.columns:
        if name.startswith(OMIT):
            continue
        lit = _json_literal(name, frame.schema[name])
        if lit is not None and frame.schema[name] == pl.String and _has_controls(frame, name):
            lit = None  # DuckDB writes \u001F where json.dumps writes \u001f: Python's text
        if lit is None:  # a rare type or text: its values through jsonable, one by one
            text = [
                safe_text.json_text(json.dumps(jsonable(v), ensure_ascii=False))
                for v in frame.get_column(name)
            ]
            tmp = f"__llmcost_text_{len(fields)}"
            data = data.with_columns(pl.Series(tmp, text, dtype=pl.String))
            lit = _quote(tmp)
        key = safe_text.json_text(json.dumps(name, ensure_ascii=False)).replace("'", "''")
        part = f"'{field_pad}{key}: ' || {lit}"
        if name in omit:
            part = f"CASE WHEN {_quote(omit[name])} THEN NULL ELSE {part} END"
        fields.append(part)
    row = f"'{inner}{{' || chr(10) || concat_ws(',' || chr(10), {', '.join(fields)}) || chr(10) || '{inner}}}'"
    base = _frame_con()

    def batch(start: int) -> str:
        con = base.cursor()  # a cursor per batch: its own registered frame, its own thread
        try:
            con.register("lc_frame", data.slice(start, JSON_BATCH))
            return _joined(con, row, ",\n")
        finally:
            con.close()

    starts = iter(range(0, data.height, JSON_BATCH))
    yield "[\n"
    if data.height <= JSON_BATCH:
        yield batch(0)
    else:  # a batch is one Arrow chunk, which DuckDB formats on one thread: batches in parallel,
        # written in order, JSON_WORKERS at most in flight (the text is never held whole)
        from concurrent.futures import Future, ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=JSON_WORKERS) as pool:
            pending: deque[Future[str]] = deque(
                pool.submit(batch, s) for s in itertools.islice(starts, JSON_WORKERS)
            )
            sep = ""
            while pending:
                written = pending.popleft().result()
                following = next(starts, None)
                if following is not None:
                    pending.append(pool.submit(batch, following))
                yield sep + written
                sep = ",\n"
    yield "\n" + "  " * depth + "]"


def frame_json(frame: Any, depth: int) -> str:
    """A frame as the JSON array of objects that json.dumps(rows, indent=2) writes at `depth`."""
    return "".join(frame_json_parts(frame, depth))


def json_parts(result: Result) -> Iterator[str]:
    """The result's JSON document, indented by 2, in parts: the small skeleton written by json.dumps,
    each frame in it column by column (frame_json_parts). Their concatenation is json_document."""
    import uuid

    doc = result.document() if hasattr(result, "document") else result.to_json()
    frames: list[Any] = []
    token = f"llmcost-frame-{uuid.uuid4().hex}-"

    def swap(value: Any) -> Any:
        if is_frame(value):
            frames.append(value)
            return f"{token}{len(frames) - 1}"
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [swap(v) for v in value]
        return value

    # the frames' text is escaped as json_text would, column by column (frame_json_parts)
    text = safe_text.json_text(json.dumps(jsonable(swap(doc)), indent=2, ensure_ascii=False))
    done = 0
    for i, frame in enumerate(frames):
        mark = f'"{token}{i}"'
        pos = text.index(mark, done)
        start = text.rfind("\n", 0, pos) + 1
        line = text[start:pos]
        yield text[done:pos]
        yield from frame_json_parts(frame, (len(line) - len(line.lstrip(" "))) // 2)
        done = pos + len(mark)
    yield text[done:] + "\n"


def json_document(result: Result) -> str:
    """The result's JSON document, indented by 2, with its frames written column by column."""
    return "".join(json_parts(result))


def _csv_literal(name: str, dtype: Any) -> str | None:
    """SQL for a CSV cell of column `name` as to_csv writes it (quoted only when it must be)."""
    import polars as pl

    c = _quote(name)
    if dtype == pl.String or dtype == pl.Categorical:
        starts = " OR ".join(f"starts_with({c}, chr({ord(ch)}))" for ch in safe_text._FORMULA_START)
        guarded = f"CASE WHEN {starts} THEN chr(39) || {c} ELSE {c} END"
        return (
            f"CASE WHEN {c} IS NULL THEN '' WHEN regexp_matches({c}, '[,\"\\r\\n]') "
            f"THEN chr(34) || replace({guarded}, chr(34), chr(34) || chr(34)) || chr(34) ELSE {guarded} END"
        )
    return _plain_literal(c, dtype, "''")


def frame_csv(table: Table) -> str | None:
    """CSV of a frame-backed table from its columns, or None when a column needs the row path."""
    frame = table.frame
    if frame is None:
        return None
    cells = []
    for c in table.columns:
        if c.key not in frame.columns:
            cells.append("''")
            continue
        lit = _csv_literal(c.key, frame.schema[c.key])
        if lit is None:
            return None
        cells.append(lit)
    head = _csv_row([safe_text.csv_cell(c.key) for c in table.columns])
    if frame.height == 0:
        return head
    con = _frame_con().cursor()
    con.register("lc_frame", frame.with_row_index("__llmcost_i"))
    lines = _joined(con, f"concat_ws(',', {', '.join(cells)})", "\n")
    con.close()
    return head + lines + "\n"


def _csv_row(cells: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()


def _plain(value: Any) -> str:
    """CSV cells: the numbers JSON has (money not rounded beyond 1e-9, no units), empty for missing."""
    if value is None:
        return ""
    value = jsonable(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _csv_text(value: Any) -> str:
    """A CSV cell; a text value is kept from being read as a formula (numbers are numbers)."""
    return safe_text.csv_cell(value) if isinstance(value, str) else _plain(value)


def to_csv(table: Table) -> str:
    fast = frame_csv(table)
    if fast is not None:
        return fast
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([safe_text.csv_cell(c.key) for c in table.columns])
    for row in table.rows:
        writer.writerow([_csv_text(row.get(c.key)) for c in table.columns])
    return buf.getvalue()


def terminal_width() -> int:
    """COLUMNS, else the terminal's width, else 120 (output to a file or a pipe)."""
    import shutil

    return max(40, shutil.get_terminal_size((120, 24)).columns)


def use_color(stream: Any = None) -> bool:
    """Colour on a terminal only: NO_COLOR (any value) or TERM=dumb turn it off, FORCE_COLOR on."""
    import os
    import sys

    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    stream = stream or sys.stdout
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


GOOD = {"pass", "ok", "yes"}
BAD = {"fail", "miss", "breach", "no"}
# a negative value of these is bad news: red
SIGNED = ("margin", "savings", "gap", "delta", "change", "drift")


def cell_style(column: Column, row: dict[str, Any]) -> str:
    value = row.get(column.key)
    if value is None:
        return "dim"
    if column.kind == "text" and isinstance(value, str):
        word = value.strip().lower()
        return "bold green" if word in GOOD else "bold red" if word in BAD else ""
    if (
        isinstance(value, (int, float, Decimal))
        and not isinstance(value, bool)
        and any(k in column.key for k in SIGNED)
    ):
        good_when_up = "gap" not in column.key and "drift" not in column.key
        if float(value) < 0:
            return "red" if good_when_up else ""
    return ""


def line_style(line: str) -> str:
    low = line.lower()
    if low.startswith(("check failed", "warning", "no requests", "no llmcost")) or " fail" in low:
        return "bold red" if "fail" in low else "yellow"
    if low.startswith("check passed"):
        return "bold green"
    return ""


GAP = 2  # spaces between two columns (no edge padding)


def _natural(table: Table) -> dict[str, int]:
    from rich.cells import cell_len

    return {
        c.key: max(
            [
                cell_len(safe_text.terminal(c.title)),
                *(cell_len(safe_text.terminal(fmt_cell(c, r))) for r in table.rows),
            ]
        )
        for c in table.columns
    }


def _layout(table: Table, width: int) -> list[tuple[Table, dict[str, int]]]:
    """The table in parts that fit `width`, each with maximum widths for its text columns. Numbers
    are never cut: the widest text columns give way first, down to 12 characters (ids are then cut
    with an ellipsis); when the numbers still do not fit, the columns that do not go to a second
    part under the same leading text columns ("… (continued)")."""
    natural = _natural(table)

    def total(cols: list[Column], caps: dict[str, int]) -> int:
        return sum(caps.get(c.key, natural[c.key]) for c in cols) + GAP * (len(cols) - 1)

    def shrink(cols: list[Column]) -> dict[str, int]:
        caps: dict[str, int] = {}
        over = total(cols, caps) - width
        for c in sorted((c for c in cols if c.kind == "text"), key=lambda c: -natural[c.key]):
            if over <= 0:
                break
            cut = min(natural[c.key] - min(natural[c.key], 12), over)
            if cut > 0:
                caps[c.key] = natural[c.key] - cut
                over -= cut
        return caps

    cols = list(table.columns)
    caps = shrink(cols)
    if total(cols, caps) <= width:
        return [(table, caps)]
    lead = []  # the leading text columns (the dimensions) repeat in every part
    for c in cols:
        if c.kind != "text":
            break
        lead.append(c)
    rest = cols[len(lead) :]
    if not rest or not lead:
        return [(table, caps)]
    parts: list[list[Column]] = [[]]
    for c in rest:
        trial = lead + parts[-1] + [c]
        if parts[-1] and total(trial, shrink(trial)) > width:
            parts.append([])
        parts[-1].append(c)
    # as many parts as needed, with the columns spread evenly over them (no part of one column)
    k = len(parts)
    even = [rest[i * len(rest) // k : (i + 1) * len(rest) // k] for i in range(k)]
    if all(total(lead + p, shrink(lead + p)) <= width for p in even):
        parts = even
    out = []
    for i, part in enumerate(parts):
        pcols = lead + part
        title = table.title if i == 0 else f"{table.title} (continued)"
        out.append((Table(title, pcols, table.rows), shrink(pcols)))
    return out


TERMINAL_ROWS = 50  # rows of a table the terminal shows unless --limit says otherwise


def top_rows(table: Table, limit: int | None, sort: str | None) -> tuple[Table, int]:
    """The rows a person reads: ordered by `sort` when the table has that column (numbers largest
    first, text A to Z), then the first `limit` (TERMINAL_ROWS by default, 0 for all); and how
    many more there are."""
    if sort and any(c.key == sort for c in table.columns):
        kind = next(c.kind for c in table.columns if c.key == sort)
        table = table.sorted_by(sort, descending=kind != "text")
    n = TERMINAL_ROWS if limit is None else limit
    total = len(table)
    if n <= 0 or total <= n:
        return table, 0
    return table.head(n), total - n


def check_sort(result: Result, sort: str | None) -> None:
    """--sort names a column of one of the result's tables."""
    if sort is None:
        return
    keys = [c.key for t in result.tables() for c in t.columns]
    if sort not in keys:
        raise LlmcostError(
            f"--sort {sort!r}: no such column",
            hint=f"choose from: {', '.join(dict.fromkeys(keys))}",
        )


def to_terminal(
    result: Result, *, width: int | None = None, color: bool | None = None,
    limit: int | None = None, sort: str | None = None,
) -> str:  # fmt: skip
    """Headline and tables at the terminal's width; colour only on a terminal (see use_color).
    Each table shows its first rows (top_rows) and says how many more there are."""
    from rich import box
    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

    width = width or terminal_width()
    color = use_color() if color is None else color
    buf = io.StringIO()
    console = Console(
        file=buf, width=width, force_terminal=color, no_color=not color, highlight=False,
        color_system="standard" if color else None, emoji=False, markup=False,
    )  # fmt: skip
    for line in result.headline():
        console.print(Text(safe_text.terminal(line), style=line_style(line) if color else ""))
    for full in result.tables():
        table, more = top_rows(full, limit, sort)
        console.print()
        for part, caps in _layout(table, width):
            # the title on its own line: rich would wrap it to the table's width
            console.print(
                Text(safe_text.terminal(part.title), style="bold" if color else ""),
                no_wrap=True,
                overflow="ellipsis",
            )
            rt = RichTable(
                box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0),
                header_style="bold" if color else "",
            )  # fmt: skip
            for c in part.columns:
                numeric = c.kind != "text"
                rt.add_column(
                    safe_text.terminal(c.title), justify="right" if numeric else "left", no_wrap=True,
                    overflow="ellipsis", max_width=caps.get(c.key),
                )  # fmt: skip
            for row in part.rows:
                cells = [
                    Text(
                        safe_text.terminal(fmt_cell(c, row)),
                        style=cell_style(c, row) if color else "",
                    )
                    for c in part.columns
                ]
                rt.add_row(*cells)
            console.print(rt)
        if more:
            console.print(
                Text(
                    f"… {more:,} more rows (--limit N shows N, 0 all; -f json or csv holds every row)",
                    style="dim" if color else "",
                )
            )
        if table.note:
            console.print(Text(safe_text.terminal(table.note), style="dim" if color else ""))
    # rich pads every cell to its column: no trailing blanks at the end of a line
    return "".join(_rstrip(line) + "\n" for line in buf.getvalue().splitlines())


_ESC = re.compile(r"\x1b\[[0-9;]*m")
_TAIL = re.compile(r"(?:\x1b\[[0-9;]*m| )+$")


def _rstrip(line: str) -> str:
    """A line without its trailing blanks, keeping the colour codes among them."""
    m = _TAIL.search(line)
    return line if m is None else line[: m.start()] + "".join(_ESC.findall(m.group()))


def to_parquet(table: Table, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if table.frame is not None and all(c.key in table.frame.columns for c in table.columns):
        arrow = table.frame.select([c.key for c in table.columns]).to_arrow()
        # the types a list of values gives: string, not polars' large_string or string_view
        schema = pa.schema(
            [
                f.with_type(pa.string())
                if pa.types.is_large_string(f.type) or pa.types.is_string_view(f.type)
                else f
                for f in arrow.schema
            ]
        )
        pq.write_table(arrow.cast(schema), path)
        return
    data = {c.key: [jsonable(r.get(c.key)) for r in table.rows] for c in table.columns}
    pq.write_table(pa.table(data), path)


def check_output(output: Path) -> None:
    """-o onto a folder, or into a folder that does not exist, is a usage error, not a traceback."""
    if output.is_dir():
        raise LlmcostError(f"-o {output} is a folder", hint="give a file name, e.g. -o report.txt")
    parent = output.parent
    if not parent.is_dir():
        raise LlmcostError(
            f"-o {output}: the folder {parent} does not exist",
            hint=f"create it first: mkdir -p {parent}",
        )


def write_output(output: Path, text: str) -> None:
    check_output(output)
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise LlmcostError(f"cannot write -o {output}: {exc.strerror}") from None


EXTENSIONS = {
    ".json": "json", ".csv": "csv", ".md": "markdown", ".markdown": "markdown", ".html": "html",
    ".htm": "html", ".parquet": "parquet", ".pq": "parquet", ".txt": "table",
}  # fmt: skip


def infer_format(fmt: str, output: Path | None) -> str:
    """`-o r.json` writes JSON: the default format (table) follows the output file's extension."""
    if fmt == "table" and output is not None:
        return EXTENSIONS.get(output.suffix.lower(), "table")
    return fmt


def table_name(table: Table) -> str:
    """The --table name of a table: its title up to any parenthesis, as a snake_case word."""
    return re.sub(r"[^a-z0-9]+", "_", table.title.split(" (")[0].lower()).strip("_")


def pick_table(result: Result, fmt: str, name: str | None) -> Table:
    """The table CSV or Parquet holds: the one named, else the first (saying so when there are more)."""
    import sys

    tables = result.tables()
    names = [table_name(t) for t in tables]
    if name is not None:
        if name not in names:
            raise LlmcostError(
                f"no table {name!r} in this result", hint=f"choose from: {', '.join(names)}"
            )
        return tables[names.index(name)]
    if not tables:
        raise LlmcostError(f"nothing to write as {fmt}: this result has no table")
    if len(tables) > 1:
        sys.stderr.write(
            f"{fmt}: table {names[0]!r} (1 of {len(tables)}); --table NAME for another: {', '.join(names[1:])}\n"
        )
    return tables[0]


def write_parts(parts: Iterator[str], output: Path | None, stream: Any) -> None:
    """Text made in parts written as it is made, to `output` (a file) or else `stream`."""
    if output is None:
        for part in parts:
            stream.write(part)
        stream.flush()
        return
    check_output(output)
    # beside it first, then renamed: an error half-way leaves no half document at `output`
    part_file = output.with_name(f".{output.name}.part")
    try:
        with part_file.open("w", encoding="utf-8") as fh:
            for part in parts:
                fh.write(part)
        part_file.replace(output)
    except OSError as exc:
        part_file.unlink(missing_ok=True)
        raise LlmcostError(f"cannot write -o {output}: {exc.strerror}") from None
    except BaseException:
        part_file.unlink(missing_ok=True)
        raise


def render(
    result: Result, fmt: str, output: Path | None = None, *, title: str = "llmcost report",
    table: str | None = None, limit: int | None = None, sort: str | None = None,
    stream: Any = None,
) -> str | None:  # fmt: skip
    """Text for stdout (None when written to `output`). JSON is written in parts as it is made,
    never held whole, to `output` or to `stream` when one is given (then None is returned).
    `limit` and `sort` shape the terminal's tables (top_rows); every other format holds every
    row in the document's order."""
    fmt = infer_format(fmt, output)
    if fmt not in FORMATS:
        raise LlmcostError(f"unknown --format {fmt!r}", hint=f"choose one of: {', '.join(FORMATS)}")
    if table is not None and fmt not in ("csv", "parquet"):
        raise LlmcostError(
            "--table is for csv and parquet", hint="json and markdown hold every table"
        )
    if output is not None:
        check_output(output)
    if fmt == "parquet":
        if output is None:
            raise LlmcostError("--format parquet needs -o FILE", hint="e.g. -o report.parquet")
        to_parquet(pick_table(result, fmt, table), output)
        return None
    if fmt == "json" and (output is not None or stream is not None):
        write_parts(json_parts(result), output, stream)
        return None
    if fmt == "json":
        text = json_document(result)
    elif fmt == "csv":
        text = to_csv(pick_table(result, fmt, table))
    elif fmt == "markdown":
        text = to_markdown(result, title)
    elif fmt == "html":
        from llmcost.report.html import render_html

        text = render_html(result, title=title)
    else:
        check_sort(result, sort)
        text = to_terminal(result, limit=limit, sort=sort)
    if output is not None:
        write_output(output, text)
        return None
    return text


def simple_table(
    title: str, rows: Sequence[dict[str, Any]], columns: list[Column], note: str = ""
) -> Table:
    return Table(title=title, columns=columns, rows=list(rows), note=note)
