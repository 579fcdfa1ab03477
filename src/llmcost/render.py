"""The one place that turns a result into table / json / csv / markdown / parquet text.

A result is anything with `to_json()` (the stable, schema-versioned document), `tables()` (the
tables a person reads, first one is the main table) and `headline()` (the lines printed above the
tables: coverage, totals, assumptions). HTML is built from `to_json()` by `llmcost.report.html`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from llmcost.errors import LlmcostError

FORMATS = ("table", "json", "csv", "markdown", "html", "parquet")


@dataclass
class Column:
    key: str
    title: str = ""
    kind: str = "text"  # text | int | usd | pct | num | ratio

    def __post_init__(self) -> None:
        if not self.title:
            self.title = self.key


@dataclass
class Table:
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Result(Protocol):
    def to_json(self) -> dict[str, Any]: ...
    def tables(self) -> list[Table]: ...
    def headline(self) -> list[str]: ...


def jsonable(value: Any) -> Any:
    """Decimals become JSON numbers (not rounded beyond 1e-9), datetimes RFC 3339 UTC strings."""
    if isinstance(value, Decimal):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def fmt_value(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "usd":
        v = float(value)
        if v == 0:
            return "$0"
        if abs(v) < 0.01:
            return f"${v:.6f}"
        if abs(v) < 100:
            return f"${v:,.4f}"
        return f"${v:,.2f}"
    if kind == "pct":
        return f"{float(value):.1f}%"
    if kind == "ratio":
        return f"{float(value):.3f}"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "num":
        v = float(value)
        return f"{v:,.1f}" if abs(v) >= 10 else f"{v:,.3f}"
    if isinstance(value, (datetime, date)):
        return jsonable(value)  # type: ignore[no-any-return]
    return str(value)


def cell_kind(column: Column, row: dict[str, Any]) -> str:
    """Kind "unit": a mixed table (metric per row) formats each cell by the row's own `unit`."""
    return str(row.get("unit", "text")) if column.kind == "unit" else column.kind


def _plain(value: Any) -> str:
    """CSV cells: full precision numbers, empty for missing."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return (
            format(value.normalize(), "f")
            if value == value.to_integral()
            else format(value, "f").rstrip("0")
        )
    if isinstance(value, float):
        return repr(value)
    return str(jsonable(value))


def to_csv(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([c.key for c in table.columns])
    for row in table.rows:
        writer.writerow([_plain(row.get(c.key)) for c in table.columns])
    return buf.getvalue()


def _md_escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\n", " ")
    )


def md_table(table: Table) -> str:
    head = "| " + " | ".join(_md_escape(c.title) for c in table.columns) + " |"
    align = "|" + "|".join("---:" if c.kind != "text" else "---" for c in table.columns) + "|"
    body = [
        "| "
        + " | ".join(
            _md_escape(fmt_value(row.get(c.key), cell_kind(c, row))) for c in table.columns
        )
        + " |"
        for row in table.rows
    ]
    return "\n".join([head, align, *body])


def to_markdown(result: Result, title: str = "llmcost report") -> str:
    parts = [f"## {title}", ""]
    parts += [f"- {_md_escape(line)}" for line in result.headline()]
    for table in result.tables():
        parts += ["", f"### {_md_escape(table.title)}", ""]
        if table.note:
            parts += [f"_{_md_escape(table.note)}_", ""]
        parts.append(md_table(table) if table.rows else "_no rows_")
    return "\n".join(parts) + "\n"


def to_terminal(result: Result, *, width: int | None = None) -> str:
    from rich import box
    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

    buf = io.StringIO()
    console = Console(
        file=buf, width=width or 120, force_terminal=False, no_color=True, highlight=False
    )
    for line in result.headline():
        console.print(Text(line))
    for table in result.tables():
        rt = RichTable(
            title=table.title, box=box.SIMPLE_HEAD, title_justify="left", caption=table.note or None
        )
        for c in table.columns:
            rt.add_column(c.title, justify="left" if c.kind == "text" else "right", overflow="fold")
        for row in table.rows:
            rt.add_row(*(Text(fmt_value(row.get(c.key), cell_kind(c, row))) for c in table.columns))
        console.print(rt)
    return buf.getvalue()


def to_parquet(table: Table, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

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


def render(
    result: Result, fmt: str, output: Path | None = None, *, title: str = "llmcost report"
) -> str | None:
    """Text for stdout (None when written to `output`)."""
    if fmt not in FORMATS:
        raise LlmcostError(f"unknown --format {fmt!r}", hint=f"choose one of: {', '.join(FORMATS)}")
    if output is not None:
        check_output(output)
    if fmt == "parquet":
        if output is None:
            raise LlmcostError("--format parquet needs -o FILE", hint="e.g. -o report.parquet")
        to_parquet(result.tables()[0], output)
        return None
    if fmt == "json":
        text = json.dumps(jsonable(result.to_json()), indent=2, ensure_ascii=False) + "\n"
    elif fmt == "csv":
        text = to_csv(result.tables()[0])
    elif fmt == "markdown":
        text = to_markdown(result, title)
    elif fmt == "html":
        from llmcost.report.html import render_html

        text = render_html(result, title=title)
    else:
        text = to_terminal(result)
    if output is not None:
        write_output(output, text)
        return None
    return text


def simple_table(
    title: str, rows: Sequence[dict[str, Any]], columns: list[Column], note: str = ""
) -> Table:
    return Table(title=title, columns=columns, rows=list(rows), note=note)
